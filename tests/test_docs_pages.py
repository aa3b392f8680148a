"""The Markdown pages read well in the repository, not only on the built site.

README.md and docs/**/*.md are read on a forge and in editors too, where no
mkdocs hook runs: their relative links must point at files that exist, their
cross-references must be plain Markdown links, and the parts the build
generates (command output, the error tables) must be written into the pages
and be what the code gives now.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HOOKS = DOCS / "hooks"

sys.path.insert(0, str(HOOKS))
try:
    import page_regions  # the standard library only, unlike the other hooks
finally:
    sys.path.remove(str(HOOKS))

PAGES = page_regions.pages(ROOT)

FENCE = re.compile(r"^([ \t]*)(```|~~~).*?^\1\2[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target "title"), ![alt](target), and reference definitions [id]: target
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?(?P<target>[^)\s>]+)>?[^)]*\)")
REFERENCE = re.compile(
    r"^[ \t]*\[[^\]]+\]:[ \t]*<?(?P<target>\S+?)>?(?:[ \t].*)?$", re.M
)
HTML_LINK = re.compile(r"""\b(?:href|src)=["'](?P<target>[^"']+)["']""")
# mkdocstrings' cross-reference [text][qwertyclf.name]: plain text on a forge.
AUTOREF = re.compile(r"\]\[qwertyclf(?:\.\w+)*\]")


def prose(text: str) -> str:
    """The page without its code blocks and inline code."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def relative_links(page: Path) -> list[str]:
    text = prose(page.read_text(encoding="utf-8"))
    targets = [
        m["target"]
        for pattern in (INLINE_LINK, REFERENCE, HTML_LINK)
        for m in pattern.finditer(text)
    ]
    return [
        t
        for t in targets
        if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)  # https:, mailto:
        and not t.startswith(("#", "/"))
    ]


def test_the_pages_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"README.md", "docs/index.md", "docs/errors.md"} <= names
    assert "docs/how-to/pipeline-validation.md" in names
    assert not any(name.startswith("docs/generated/") for name in names)


def test_link_extraction():
    page = "See [a](x.md), ![b](img/y.png 'title'), `[c](code.md)`,\n[d]: z.md\n"
    page += '<a href="w.md">w</a> [e](https://example.org) [f](#anchor)\n'
    page += "```python\n[g](in_a_block.md)\n```\n"
    text = prose(page)
    found = [
        m["target"]
        for p in (INLINE_LINK, REFERENCE, HTML_LINK)
        for m in p.finditer(text)
    ]
    assert sorted(found) == sorted(
        ["x.md", "img/y.png", "z.md", "w.md", "https://example.org", "#anchor"]
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    missing = [
        target
        for target in relative_links(page)
        if not (page.parent / target.split("#")[0]).exists()
    ]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_cross_references_are_markdown_links(page):
    found = AUTOREF.findall(page.read_text(encoding="utf-8"))
    assert not found, (
        f"{page.relative_to(ROOT)}: {found} read as plain text in the repository; "
        "write [`name`](../reference/page.md#qwertyclf.name) instead"
    )


#: A heading that does not start its line: it was glued onto the line before
#: (a table row, a paragraph) and Markdown prints it as text.
GLUED_HEADING = re.compile(r"^(?!#).*\S[ \t]*(#{2,6} [A-Z(])", re.M)


def test_glued_heading_is_found():
    assert GLUED_HEADING.search("| `a` | 0.1 |## Next section\n")
    assert not GLUED_HEADING.search("## Next section\n| a | b |\n")
    assert not GLUED_HEADING.search("see issue #12 and C# code\n")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_headings_start_their_lines(page):
    glued = [m.group(0) for m in GLUED_HEADING.finditer(prose(page.read_text()))]
    assert not glued, f"{page.relative_to(ROOT)}: a heading inside a line: {glued}"


def test_example_links_become_gallery_pages():
    # The pages link to the scripts; the build turns the links into the
    # gallery pages made from them (docs/hooks/gallery_nav.py).
    pytest.importorskip("mkdocs")
    sys.path.insert(0, str(HOOKS))
    try:
        import gallery_nav
    finally:
        sys.path.remove(str(HOOKS))
    examples = (ROOT / "examples").resolve()
    linked = {
        (page.parent / target.split("#")[0]).resolve()
        for page in PAGES
        for target in relative_links(page)
        if (page.parent / target).resolve().parent == examples
    }
    assert ROOT / "examples" / "plot_quickstart.py" in linked
    for script in linked:
        assert gallery_nav.gallery_page(script, examples) is not None, script
    assert gallery_nav.gallery_page(examples / "README.md", examples) == (
        "generated/gallery/index.md"
    )
    assert gallery_nav.gallery_page(ROOT / "README.md", examples) is None


def test_every_generated_part_has_an_end_marker():
    kinds = ("cli-help", "cli-run", "bad-input-table", "model-file-table")
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert not page_regions.unclosed(text, kinds), page


def test_fill_replaces_only_the_text_between_the_markers():
    page = "a\n<!-- x: one -->\nold\n<!-- end x -->\nb\n<!-- y -->\n<!-- end y -->\n"
    filled = page_regions.fill(page, ["x"], lambda kind, arg: f"new {arg}")
    assert filled == (
        "a\n<!-- x: one -->\n\nnew one\n\n<!-- end x -->\n"
        "b\n<!-- y -->\n<!-- end y -->\n"
    )
    assert page_regions.fill(filled, ["x"], lambda kind, arg: f"new {arg}") == filled
    assert page_regions.unclosed("<!-- x -->\ntext\n", ["x"]) == ["<!-- x -->"]


def _generated_pages():
    return [
        p for p in PAGES if page_regions.REGION.search(p.read_text(encoding="utf-8"))
    ]


def test_the_generated_parts_are_where_expected():
    names = {p.relative_to(ROOT).as_posix() for p in _generated_pages()}
    assert names >= {
        "docs/errors.md",
        "docs/how-to/command-line.md",
        "docs/reference/cli.md",
    }
    errors = (DOCS / "errors.md").read_text(encoding="utf-8")
    # Written into the page, not left for the build to fill in.
    assert "<code>ValueError</code>" in errors
    assert "$ qwertyclf demo --help" in (DOCS / "reference" / "cli.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    "page", _generated_pages(), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_generated_parts_are_current(page):
    written = page.read_text(encoding="utf-8")
    fresh = page_regions.render_page(written)
    assert page_regions.without_durations(fresh) == page_regions.without_durations(
        written
    ), (
        f"{page.relative_to(ROOT)} is out of date: run "
        "`python docs/hooks/page_regions.py` and commit the result"
    )
