"""Tidy the examples gallery: one reading order, and figures that open full size.

The gallery plugin lists every example under "Examples", alphabetically, both
in the navigation and on its index page. This hook

- puts the examples in reading order, `ORDER` first and any others
  alphabetically after them, on the index page (by giving the plugin that
  order as its sort key) and in the navigation;
- drops from the "Examples" section the pages the rest of the navigation
  already shows (the notebook walkthrough lives under "Tutorial"), so a page has
  one place in the sidebar;
- makes every gallery figure a link to its image file: a figure wider than the
  page, such as the many-panel diagnostics figure, is scaled down to fit, and a
  click shows it at full size.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from mkdocs.plugins import event_priority

GALLERY_TITLE = "Examples"
GALLERY_DIR = "generated/gallery/"
ORDER = (
    "plot_quickstart",
    "plot_notebook_walkthrough",
    "plot_pipeline_string_labels",
    "plot_grid_search",
    "plot_early_stopping",
    "plot_class_weight_imbalanced",
    "plot_diagnostics_report",
    "plot_bayes_datasets",
)

_FIGURE = re.compile(r'<img\b[^>]*\bclass="mkd-glr-(?:single|multi)-img"[^>]*>')
_SRC = re.compile(r'\bsrc="([^"]+)"')


def _rank_stem(stem):
    return (ORDER.index(stem), "") if stem in ORDER else (len(ORDER), stem)


class ReadingOrder:
    """Sort key of the gallery plugin: example scripts in `ORDER`."""

    def __call__(self, path):
        return _rank_stem(PurePath(path).stem)


def _paths(item):
    """Every page path in a nav item."""
    if isinstance(item, str):
        yield item
    elif isinstance(item, dict):
        for value in item.values():
            yield from _paths(value)
    elif isinstance(item, list):
        for value in item:
            yield from _paths(value)


def _rank(entry):
    (path,) = _paths(entry)
    return _rank_stem(path.rsplit("/", 1)[-1].removesuffix(".md"))


# After the gallery plugin's own `on_config`, which reads its settings.
@event_priority(-100)
def on_config(config):
    gallery = config["plugins"].get("gallery")
    if gallery is not None:
        gallery.config["within_subsection_order"] = ReadingOrder
    return config


def on_pre_build(config):
    nav = config["nav"]
    sections = [isinstance(item, dict) and GALLERY_TITLE in item for item in nav]
    if not any(sections):
        return
    gallery = sections.index(True)
    entries = nav[gallery][GALLERY_TITLE]
    if not isinstance(entries, list) or not entries:
        return
    others = nav[:gallery] + nav[gallery + 1 :]
    elsewhere = set(_paths(others))
    index, examples = entries[0], entries[1:]
    examples = [e for e in examples if not set(_paths(e)) & elsewhere]
    nav[gallery][GALLERY_TITLE] = [index, *sorted(examples, key=_rank)]


def _link_figure(match):
    img = match[0]
    src = _SRC.search(img)
    if src is None:
        return img
    return (
        f'<a class="gallery-figure" href="{src[1]}" '
        f'title="Open the figure at full size">{img}</a>'
    )


def on_page_content(html, page, config, files):
    if not page.file.src_uri.startswith(GALLERY_DIR):
        return html
    return _FIGURE.sub(_link_figure, html)
