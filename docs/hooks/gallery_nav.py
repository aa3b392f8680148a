"""Tidy the navigation the examples gallery generates.

The gallery plugin lists every example under "Examples", alphabetically. This
hook runs after it and

- drops from that section the pages the rest of the navigation already shows
  (the notebook walkthrough lives under "Tutorial"), so a page has one place;
- puts the examples in reading order: those named in `ORDER` first, then any
  others alphabetically.
"""

from __future__ import annotations

GALLERY_TITLE = "Examples"
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
    stem = path.rsplit("/", 1)[-1].removesuffix(".md")
    return (ORDER.index(stem), "") if stem in ORDER else (len(ORDER), stem)


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
