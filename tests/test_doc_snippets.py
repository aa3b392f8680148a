"""The Python blocks of the documentation run as a reader would paste them.

Each page's ```` ```python ```` blocks are executed top to bottom in one fresh
namespace, as if pasted into a new interpreter, in an empty working directory.
A page must therefore make or load its own data; a block that only works after
another page's code fails here. Pages covered: the README, the home page, the
page on where "qwerty" comes from, the tutorial and every how-to guide, including
guides added later.

What a page says its code prints is checked too. Pages show output in two
ways, and both are compared with what the code printed:

* a `print(...)` whose comment starts with a value (a number, `True`,
  `False` or `None`) claims that value: `print(clf.n_iter_)  # 30 epochs in
  all` must print `30`. A comment that starts with words describes the output
  (`# labels, e.g. [...]`) and is not checked;
* a ```` ```text ```` block right after a Python block is that block's whole
  printed output.

Numbers match when the printed one rounds to the documented one at the
documented number of decimals (`0.93` stands for anything printed from 0.925
to 0.935); integers and everything else must match exactly.
"""

from __future__ import annotations

import ast
import builtins
import io
import itertools
import os
import re
import sys
import textwrap
import tokenize
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


# --- documented output --------------------------------------------------

#: A value at the start of a comment: what the print on that line shows.
CLAIM = re.compile(
    r"^(?P<value>True|False|None|[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?=$|[\s:;,])"
)
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def output_blocks(page: Path) -> dict[int, str]:
    """The ```text blocks that directly follow a Python block, by its body line."""
    text = page.read_text(encoding="utf-8")
    matches = list(FENCE.finditer(text))
    outputs = {}
    for code, after in itertools.pairwise(matches):
        if code["lang"] not in {"python", "py"} or after["lang"] != "text":
            continue
        if text[code.end() : after.start()].strip():
            continue  # prose in between: not this block's output
        first_line = text.count("\n", 0, code.start("body")) + 1
        outputs[first_line] = textwrap.dedent(after["body"])
    return outputs


def print_claims(first_line: int, body: str) -> dict[tuple[int, int], str]:
    """The `print(...)` calls whose comment claims a value, and the value.

    Keys are the page's first and last line of each call.
    """
    comments = {}
    for token in tokenize.generate_tokens(io.StringIO(body).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    claims = {}
    for node in ast.walk(ast.parse(body)):
        if not (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "print"
        ):
            continue
        for line in (node.end_lineno, node.lineno):
            match = CLAIM.match(comments.get(line, ""))
            if match:
                lines = (node.lineno, node.end_lineno)
                claims[tuple(first_line - 1 + n for n in lines)] = match["value"]
                break
    return claims


def same_output(printed: str, documented: str) -> bool:
    """Whether `printed` shows what `documented` says, numbers rounded as shown."""
    printed, documented = " ".join(printed.split()), " ".join(documented.split())
    if NUMBER.sub("#", printed) != NUMBER.sub("#", documented):
        return False
    for got, shown in zip(
        NUMBER.findall(printed), NUMBER.findall(documented), strict=True
    ):
        if got == shown:
            continue
        decimals = len(shown.partition(".")[2]) if "." in shown else 0
        if decimals == 0 and not re.search("[.eE]", shown + got):
            return False  # integers: exactly
        if "e" in shown.lower():
            if abs(float(got) - float(shown)) > 1e-9 * abs(float(shown)):
                return False
        elif abs(float(got) - float(shown)) > 0.5 * 10.0**-decimals * (1 + 1e-9):
            return False
    return True


class _RecordingPrint:
    """`print` for a page's namespace: prints, and keeps what each line printed."""

    def __init__(self, filename: str):
        self.filename = filename
        self.by_line: dict[int, list[str]] = {}
        self.texts: list[str] = []

    def __call__(self, *args, sep=" ", end="\n", file=None, flush=False):
        builtins.print(*args, sep=sep, end=end, file=file, flush=flush)
        if file not in (None, sys.stdout):
            return
        text = (" " if sep is None else sep).join(map(str, args))
        text += "\n" if end is None else end
        self.texts.append(text)
        frame = sys._getframe(1)
        if frame.f_code.co_filename == self.filename:
            self.by_line.setdefault(frame.f_lineno, []).append(text)


def run_page(page: Path) -> list[str]:
    """Run a page's Python blocks in one namespace; return its wrong outputs."""
    recorder = _RecordingPrint(str(page))
    namespace = {"__name__": "__main__", "print": recorder}
    outputs = output_blocks(page)
    claims, problems = {}, []
    for first_line, body in python_blocks(page):
        # Padding keeps the line numbers of a traceback those of the page.
        code = compile("\n" * (first_line - 1) + body, str(page), "exec")
        claims.update(print_claims(first_line, body))
        start = len(recorder.texts)
        exec(code, namespace)
        printed = "".join(recorder.texts[start:])
        if first_line in outputs and not same_output(printed, outputs[first_line]):
            problems.append(
                f"{page.name}, block at line {first_line}: printed {printed!r}, "
                f"the page shows {outputs[first_line]!r}"
            )
    for (first, last), value in sorted(claims.items()):
        texts = [
            text
            for line, printed in recorder.by_line.items()
            if first <= line <= last
            for text in printed
        ]
        if not texts:
            problems.append(f"{page.name}:{first}: the print never ran")
        for text in texts:
            if not same_output(text, value):
                problems.append(
                    f"{page.name}:{first}: printed {text.strip()!r}, the page says "
                    f"{value!r}"
                )
    return problems


@pytest.mark.parametrize(
    "page",
    pages_with_python(),
    ids=lambda page: page.relative_to(ROOT).as_posix(),
)
def test_page_runs_as_pasted_and_prints_what_it_shows(page, clean_globals):
    assert run_page(page) == []


def test_documented_outputs_are_found():
    # The pages' claims that the test above checks: if a page is reworded,
    # this says so instead of the check quietly checking less.
    page = DOCS / "how-to" / "continued-training.md"
    claims = {}
    for first_line, body in python_blocks(page):
        claims.update(print_claims(first_line, body))
    assert sorted(claims.values()) == ["0.001", "30", "True"]
    # Comments that describe rather than state a value claim nothing.
    assert print_claims(1, "print(x)  # labels, e.g. ['apple' ...]\n") == {}


def test_wrong_documented_output_is_reported(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nprint(6 * 7)  # 42\nprint(1 / 3)  # 0.3333\n```\n\n"
        "```python\nfor i in range(2):\n    print(i, 2 / 3)\n```\n"
        "```text\n0 0.67\n1 0.667\n```\n",
        encoding="utf-8",
    )
    assert run_page(page) == []
    page.write_text(
        "```python\nprint(6 * 7)  # 41\nprint(\n    1 / 3\n)  # 0.34\n```\n\n"
        "```python\nprint('a', 2 / 3)\n```\n```text\nb 0.67\n```\n",
        encoding="utf-8",
    )
    problems = run_page(page)
    assert len(problems) == 3, problems
    assert "41" in problems[1] and "0.34" in problems[2]


@pytest.mark.parametrize(
    ("printed", "documented", "same"),
    [
        ("30", "30", True),
        ("31", "30", False),
        ("0.001", "0.001", True),
        ("0.0010000000000000002", "0.001", True),
        ("0.0", "0.001", False),
        ("0.9333", "0.933", True),
        ("0.9343", "0.933", False),
        ("True", "True", True),
        ("False", "True", False),
        ("[0 1 2]", "[0 1 2]", True),
        ("{'lr': 0.01} 0.9512", "{'lr': 0.01} 0.951", True),
        ("{'lr': 0.01} 0.95", "{'lr': 0.01} 0.951", False),
        ("1e-07", "1e-07", True),
    ],
)
def test_numbers_match_at_the_documented_precision(printed, documented, same):
    assert same_output(printed, documented) is same
