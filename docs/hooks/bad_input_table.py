"""Render the tables of docs/errors.md from the cases the tests run.

Two test modules hold a list of `(description, call, expected_exception,
match)` tuples: `tests/test_bad_input.py` (`BAD_INPUT_CASES`, bad data and
settings) and `tests/test_model_files.py` (`MODEL_FILE_CASES`, damaged and
hostile model files). This hook imports each module, calls every case and
writes the exception a user actually gets (type and full message) between the
table's markers (`<!-- bad-input-table -->` ... `<!-- end bad-input-table -->`,
see `page_regions.py`), one table per `# --- section ---` comment of the list.
It does so at build time, and `python docs/hooks/page_regions.py` writes the
same tables into the page. A case that does not raise, or raises something
other than what the tests expect, is a warning, so `mkdocs build --strict`
fails instead of publishing a wrong table.
"""

from __future__ import annotations

import ast
import html
import importlib.util
import logging
import os
import re
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import page_regions

log = logging.getLogger("mkdocs.hooks.bad_input_table")


class Table(NamedTuple):
    """One generated table: the kind of its markers and where its cases live."""

    kind: str
    cases_file: Path
    cases: str
    first_column: str
    heading_level: int = 3


TABLES = (
    Table(
        "bad-input-table",
        Path("tests") / "test_bad_input.py",
        "BAD_INPUT_CASES",
        "Bad input",
    ),
    Table(
        "model-file-table",
        Path("tests") / "test_model_files.py",
        "MODEL_FILE_CASES",
        "Model file",
    ),
)


def on_page_markdown(markdown, page, config, files):
    root = Path(config["config_file_path"]).parent
    kinds = [table.kind for table in TABLES]
    for marker in page_regions.unclosed(markdown, kinds):
        log.warning("%s: %s has no end marker.", page.file.src_uri, marker)
    return render_page(markdown, root)


def render_page(markdown, root):
    """`markdown` with every table between its markers rendered now."""
    tables = {table.kind: table for table in TABLES}

    def render(kind, argument):
        table = tables[kind]
        try:
            module = _load_module(root / table.cases_file)
        except Exception as exc:  # any import problem must show in the build log
            log.warning("Cannot build the table from %s: %r", table.cases_file, exc)
            return "*The table could not be generated.*"
        return render_table(module, table)

    return page_regions.fill(markdown, tables, render)


def _load_module(path):
    # Loaded afresh on every build, so `mkdocs serve` picks up edited cases.
    if not path.is_file():
        raise FileNotFoundError(path)
    name = f"_qwertyclf_docs_{path.stem}"
    # Test modules may import helpers that sit next to them.
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(str(path.parent))
    return module


def run_case(call):
    """Call one case the way the tests do; return the exception it raised."""
    try:
        with warnings.catch_warnings():
            # The test suite turns warnings into errors; do the same here.
            warnings.simplefilter("error")
            call()
    except Exception as exc:
        return exc
    return None


def _exception_name(exc_type):
    module = exc_type.__module__
    if module == "builtins":
        return exc_type.__qualname__
    # Show the public module of scikit-learn's exceptions, not the private one.
    module = re.sub(r"\._[^.]+$", "", module)
    return f"{module}.{exc_type.__qualname__}"


_PARAMETER = re.compile(r"\b\w+=\S+")


def _inline(text):
    """Escape a description for HTML, showing `name=value` as code."""
    text = html.escape(str(text))
    return _PARAMETER.sub(lambda m: f"<code>{m.group(0)}</code>", text)


LONG_MESSAGE_LINES = 6


def _message(message):
    """The message as code; long ones (data dumps) fold after the first line."""
    lines = message.splitlines() or [""]
    if len(lines) <= LONG_MESSAGE_LINES:
        return f"<code>{html.escape(message)}</code>"
    rest = "\n".join(lines[1:])
    return (
        f"<details><summary><code>{html.escape(lines[0])}</code> "
        f"({len(lines) - 1} more lines)</summary>"
        f"<code>{html.escape(rest)}</code></details>"
    )


_SECTION = re.compile(r"^\s*# -+ (?P<title>.+?) -+\s*$")


def sections(module, n_cases, cases="BAD_INPUT_CASES"):
    """Titles of the `# --- title ---` comments above each case, in order.

    Returns None when the source cannot be mapped to the cases (the table is
    then rendered without sections).
    """
    try:
        source = Path(module.__file__).read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, SyntaxError):
        return None
    elements = None
    for node in tree.body:
        targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
        named = any(getattr(t, "id", None) == cases for t in targets)
        if named and isinstance(node.value, ast.List):
            elements = node.value.elts
    if elements is None:
        return None
    starred = [e for e in elements if isinstance(e, ast.Starred)]
    if len(starred) > 1:
        return None
    n_star = n_cases - (len(elements) - len(starred))
    comments = [
        (number, match.group("title"))
        for number, line in enumerate(source.splitlines(), start=1)
        if (match := _SECTION.match(line))
    ]
    titles = []
    for element in elements:
        above = [title for number, title in comments if number < element.lineno]
        title = above[-1] if above else ""
        titles.extend([title] * (n_star if isinstance(element, ast.Starred) else 1))
    return titles if len(titles) == n_cases else None


def _heading(title):
    # "X" and "y" are variable names, "JSON" an acronym; keep their case.
    first = title.split()[0]
    if len(first) == 1 or first.isupper():
        return title
    return title[0].upper() + title[1:]


def _without_case_dir(module, message):
    """Show a case's file as its own name, not the temporary folder it is in."""
    folder = getattr(module, "CASE_DIR", None)
    return message if folder is None else message.replace(f"{folder}{os.sep}", "")


def render_table(module, table=TABLES[0]):
    cases = list(getattr(module, table.cases))
    titles = sections(module, len(cases), table.cases) or [""] * len(cases)
    out, rows, current = [], [], None

    def flush():
        if rows:
            out.append(
                # The class goes on a wrapper: the theme styles only tables
                # without one.
                f'<div class="bad-input">\n<table>\n<thead><tr>'
                f"<th>{html.escape(table.first_column)}</th>"
                "<th>Exception</th><th>Message</th></tr></thead>\n<tbody>\n"
                + "\n".join(rows)
                + "\n</tbody>\n</table>\n</div>\n"
            )
            rows.clear()

    for title, case in zip(titles, cases, strict=True):
        description, call, expected, match = case[:4]
        if title != current:
            flush()
            current = title
            if title:
                out.append(f"{'#' * table.heading_level} {_heading(title)}\n")
        exc = run_case(call)
        if exc is None:
            log.warning("Case %r raised nothing.", description)
            kind, message = "(nothing raised)", ""
        else:
            if not isinstance(exc, expected):
                log.warning(
                    "Case %r raised %s: %s; the tests expect %s.",
                    description,
                    type(exc).__name__,
                    exc,
                    getattr(expected, "__name__", expected),
                )
            elif match and not re.search(match, str(exc)):
                log.warning(
                    "Case %r: message %r does not match %r.",
                    description,
                    str(exc),
                    match,
                )
            kind = _exception_name(type(exc))
            message = _without_case_dir(module, str(exc))
        rows.append(
            "<tr>"
            f"<td>{_inline(description)}</td>"
            f"<td><code>{html.escape(kind)}</code></td>"
            f"<td>{_message(message)}</td>"
            "</tr>"
        )
    flush()
    log.info("Rendered %d cases from %s.", len(cases), table.cases)
    return "\n".join(out)
