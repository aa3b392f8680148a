"""Generated parts of the pages, written into the markdown files themselves.

A generated part sits between an opening marker and its end marker, each on a
line of its own, so that a page reads the same in the repository (on a forge,
in an editor) as on the site:

    <!-- cli-help: demo -->

    ```console
    $ qwertyclf demo --help
    ...
    ```

    <!-- end cli-help -->

The opening marker says what goes there (`cli-help`, `cli-run` in
`cli_help.py`; `bad-input-table`, `model-file-table` in `bad_input_table.py`),
and the text between the markers is what its hook renders. The build renders
every part afresh, so the site shows what this code does; this script writes
the same text into the files:

    python docs/hooks/page_regions.py          # rewrite the pages
    python docs/hooks/page_regions.py --check  # only list the stale ones

A page whose text differs from what rendering gives now only in durations
(which differ on every run) is left as it is. `tests/test_docs_pages.py`
fails when a page's written text is not what rendering gives now.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# An opening marker `<!-- kind -->` or `<!-- kind: argument -->`, the text up to
# the matching `<!-- end kind -->`, which holds no other marker.
REGION = re.compile(
    r"^<!-- (?P<kind>[a-z][a-z-]*)(?::[ \t]*(?P<argument>[^\n]*?))?[ \t]*-->[ \t]*\n"
    r"(?P<body>(?:(?!<!-- ).)*?)"
    r"^<!-- end (?P=kind) -->[ \t]*$",
    re.M | re.S,
)
OPENING = re.compile(r"^<!-- (?P<kind>[a-z][a-z-]*)(?::[^\n]*?)?[ \t]*-->[ \t]*$", re.M)


def regions(markdown: str, kinds: Iterable[str]) -> list[re.Match]:
    """The generated parts of `markdown` whose marker is one of `kinds`."""
    kinds = set(kinds)
    return [m for m in REGION.finditer(markdown) if m["kind"] in kinds]


def unclosed(markdown: str, kinds: Iterable[str]) -> list[str]:
    """Opening markers of `kinds` that no end marker closes."""
    kinds = set(kinds)
    closed = {m.start() for m in REGION.finditer(markdown)}
    return [
        m[0]
        for m in OPENING.finditer(markdown)
        if m["kind"] in kinds and m.start() not in closed
    ]


def fill(
    markdown: str, kinds: Iterable[str], render: Callable[[str, str | None], str]
) -> str:
    """`markdown` with each part of `kinds` replaced by `render(kind, argument)`."""
    kinds = set(kinds)

    def replace(match: re.Match) -> str:
        if match["kind"] not in kinds:
            return match[0]
        body = render(match["kind"], match["argument"]).strip("\n")
        opening = match[0].split("\n", 1)[0]
        # Blank lines around the text, so Markdown reads it as blocks of its own.
        return f"{opening}\n\n{body}\n\n<!-- end {match['kind']} -->"

    return REGION.sub(replace, markdown)


# A duration as the command prints it ("in 3.5 s", "(8.8 s since ..."): it
# differs on every run, so it alone does not make a page stale.
DURATION = re.compile(r"\b\d+(?:\.\d+)? s\b")


def without_durations(text: str) -> str:
    """`text` with every duration replaced by the same placeholder.

    Examples
    --------
    >>> without_durations("Trained in 3.5 s (8.8 s since the start).")
    'Trained in … s (… s since the start).'
    """
    return DURATION.sub("… s", text)


def pages(root: Path = ROOT) -> list[Path]:
    """README.md and the documentation's Markdown pages (not the generated gallery)."""
    docs = root / "docs"
    found = [root / "README.md", *docs.rglob("*.md")]
    return sorted(p for p in found if (docs / "generated") not in p.parents)


def _renderers():
    # The hooks sit next to this file; importing them here keeps one copy of
    # each renderer for the build and for this script.
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        import bad_input_table
        import cli_help
    finally:
        sys.path.pop(0)
    return (
        lambda text: bad_input_table.render_page(text, ROOT),
        cli_help.render_page,
    )


def render_page(markdown: str) -> str:
    """The page with every generated part rendered now."""
    for render in _renderers():
        markdown = render(markdown)
    return markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="list stale pages, write nothing"
    )
    parser.add_argument("files", nargs="*", type=Path, help="default: every page")
    args = parser.parse_args(argv)
    stale = []
    for page in args.files or pages():
        text = page.read_text(encoding="utf-8")
        if not REGION.search(text):
            continue
        new = render_page(text)
        if without_durations(new) != without_durations(text):
            stale.append(page)
            if not args.check:
                page.write_text(new, encoding="utf-8")
    verb = "Stale" if args.check else "Rewrote"
    for page in stale:
        print(f"{verb}: {page}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
