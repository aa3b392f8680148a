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
  click shows it at full size;
- turns a page's links to an example script (`../examples/plot_quickstart.py`)
  or to `examples/README.md` into links to its gallery page (or the gallery's
  index). The pages link to the scripts, so that the links also work where the
  pages are read in the repository, where the gallery is not built.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePath

from mkdocs.plugins import event_priority

GALLERY_TITLE = "Examples"
GALLERY_DIR = "generated/gallery/"
EXAMPLES_DIR = "examples"  # the gallery plugin's `examples_dirs`
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

# The target of an inline Markdown link, up to an anchor or a title.
_LINK = re.compile(r"(?P<open>\]\()(?P<target>[^()\s#]+)(?P<rest>[^()]*\))")
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


def gallery_page(script: Path, examples: Path) -> str | None:
    """The gallery page built from a file of the examples folder, if any."""
    if script.parent != examples:
        return None
    if script.name == "README.md":
        return GALLERY_DIR + "index.md"
    if script.suffix == ".py" and script.stem.startswith("plot_"):
        return GALLERY_DIR + script.stem + ".md"
    return None


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri.startswith(GALLERY_DIR):
        return markdown
    docs = Path(config["docs_dir"])
    examples = (Path(config["config_file_path"]).parent / EXAMPLES_DIR).resolve()
    here = (docs / page.file.src_uri).parent

    def to_gallery(match):
        target = match["target"]
        if "://" in target or target.startswith("/"):
            return match[0]
        built = gallery_page((here / target).resolve(), examples)
        if built is None:
            return match[0]
        link = PurePath(os.path.relpath(docs / built, here)).as_posix()
        return f"{match['open']}{link}{match['rest']}"

    return _LINK.sub(to_gallery, markdown)


def on_page_content(html, page, config, files):
    if not page.file.src_uri.startswith(GALLERY_DIR):
        return html
    return _FIGURE.sub(_link_figure, html)
