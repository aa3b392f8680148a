"""Render the table of docs/errors.md from the bad-input cases the tests run.

`tests/test_bad_input.py` holds `BAD_INPUT_CASES`, a list of
`(description, call, expected_exception, match)` tuples. At build time this
hook imports that module, calls every case and writes the exception a user
actually gets (type and full message) in place of the marker below, one table
per `# --- section ---` comment of the list. A case that does not raise, or
raises something other than what the tests expect, is a warning, so
`mkdocs build --strict` fails instead of publishing a wrong table.
"""

from __future__ import annotations

import ast
import html
import importlib.util
import logging
import re
import sys
import warnings
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.bad_input_table")

MARKER = "<!-- bad-input-table -->"
CASES_FILE = Path("tests") / "test_bad_input.py"
_MODULE_NAME = "_qwertyclf_docs_bad_input_cases"


def on_page_markdown(markdown, page, config, files):
    if MARKER not in markdown:
        return markdown
    root = Path(config["config_file_path"]).parent
    try:
        module = _load_module(root / CASES_FILE)
    except Exception as exc:  # any import problem must show in the build log
        log.warning("Cannot build the bad-input table from %s: %r", CASES_FILE, exc)
        return markdown.replace(MARKER, "*The table could not be generated.*")
    return markdown.replace(MARKER, render_table(module))


def _load_module(path):
    # Loaded afresh on every build, so `mkdocs serve` picks up edited cases.
    if not path.is_file():
        raise FileNotFoundError(path)
    # Test modules may import helpers that sit next to them.
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(_MODULE_NAME, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[_MODULE_NAME] = module
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(_MODULE_NAME, None)
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


def sections(module, n_cases):
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
        named = any(getattr(t, "id", None) == "BAD_INPUT_CASES" for t in targets)
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
    # "X" and "y" are variable names; keep their case.
    return title if len(title.split()[0]) == 1 else title[0].upper() + title[1:]


def render_table(module):
    cases = list(module.BAD_INPUT_CASES)
    titles = sections(module, len(cases)) or [""] * len(cases)
    out, rows, current = [], [], None

    def flush():
        if rows:
            out.append(
                # The class goes on a wrapper: the theme styles only tables
                # without one.
                '<div class="bad-input">\n<table>\n<thead><tr><th>Bad input</th>'
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
                out.append(f"## {_heading(title)}\n")
        exc = run_case(call)
        if exc is None:
            log.warning("Bad-input case %r raised nothing.", description)
            kind, message = "(nothing raised)", ""
        else:
            if not isinstance(exc, expected):
                log.warning(
                    "Bad-input case %r raised %s: %s; the tests expect %s.",
                    description,
                    type(exc).__name__,
                    exc,
                    getattr(expected, "__name__", expected),
                )
            elif match and not re.search(match, str(exc)):
                log.warning(
                    "Bad-input case %r: message %r does not match %r.",
                    description,
                    str(exc),
                    match,
                )
            kind, message = _exception_name(type(exc)), str(exc)
        rows.append(
            "<tr>"
            f"<td>{_inline(description)}</td>"
            f"<td><code>{html.escape(kind)}</code></td>"
            f"<td>{_message(message)}</td>"
            "</tr>"
        )
    flush()
    log.info("Rendered %d bad-input cases.", len(cases))
    return "\n".join(out)
