"""The Python blocks of the documentation run as a reader would paste them.

Each page's ```` ```python ```` blocks are executed top to bottom in one fresh
namespace, as if pasted into a new interpreter, in an empty working directory.
A page must therefore make or load its own data; a block that only works after
another page's code fails here. Pages covered: the README, the home page, the
page on where "qwerty" comes from, the tutorial and every how-to guide, including
guides added later.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import matplotlib
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGE_GLOBS = ("index.md", "about-qwerty.md", "tutorial/*.md", "how-to/*.md")

# An opening fence, possibly indented (inside an admonition or a tab), its body,
# and the closing fence at the same indentation.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[^\s`]*)[^\n]*\n"
    r"(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """The ```python blocks of a page, with the line each body starts on."""
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        if match["lang"] not in {"python", "py"}:
            continue
        first_line = text.count("\n", 0, match.start("body")) + 1
        blocks.append((first_line, textwrap.dedent(match["body"])))
    return blocks


def pages_with_python() -> list[Path]:
    pages = {page for pattern in PAGE_GLOBS for page in DOCS.glob(pattern)}
    pages.add(ROOT / "README.md")
    return sorted(page for page in pages if python_blocks(page))


def test_snippet_extraction_finds_the_pages_and_blocks():
    names = {page.relative_to(ROOT).as_posix() for page in pages_with_python()}
    assert {"README.md", "docs/index.md", "docs/how-to/own-data.md"} <= names
    blocks = python_blocks(DOCS / "index.md")
    assert any("make_qwerty" in body for _, body in blocks)


@pytest.fixture
def clean_globals(tmp_path, monkeypatch):
    """A scratch working directory, and the process state a page may change."""
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    environ = dict(os.environ)
    os.environ["MPLBACKEND"] = "Agg"
    backend = matplotlib.get_backend()
    plt.switch_backend("Agg")
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    threads = torch.get_num_threads()
    try:
        yield tmp_path
    finally:
        plt.close("all")
        plt.switch_backend(backend)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.set_num_threads(threads)
        os.environ.clear()
        os.environ.update(environ)


@pytest.mark.parametrize(
    "page",
    pages_with_python(),
    ids=lambda page: page.relative_to(ROOT).as_posix(),
)
def test_page_runs_as_pasted(page, clean_globals):
    namespace = {"__name__": "__main__"}
    for first_line, body in python_blocks(page):
        # Padding keeps the line numbers of a traceback those of the page.
        code = compile("\n" * (first_line - 1) + body, str(page), "exec")
        exec(code, namespace)
