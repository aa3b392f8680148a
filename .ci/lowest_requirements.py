"""Pin every runtime dependency of pyproject.toml at the floor it declares.

    python .ci/lowest_requirements.py            # requirements: name==floor
    python .ci/lowest_requirements.py --check    # installed versions are the floors
    python .ci/lowest_requirements.py --tools    # the test tools, unpinned

Every entry of ``[project] dependencies`` must read ``name>=version`` (an upper
bound after a comma is allowed); anything else is an error, so a new dependency
cannot be left out of the lowest-versions test by accident. The packages in
``INSTALLED_SEPARATELY`` are not pinned at their floor: the test installs them
itself, first, and ``pip check`` then confirms they satisfy the declared range.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from importlib import metadata
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

#: Dependencies the test installs itself rather than at their floor, and why.
INSTALLED_SEPARATELY = {
    "torch": "the CPU build that CI installs first, so nothing pulls a CUDA build",
}

#: Import names that differ from the distribution's name.
IMPORT_NAMES = {"scikit-learn": "sklearn"}

#: The extras whose packages the test suite needs, and the packages of those
#: extras it does not (tools that lint rather than test).
TEST_EXTRAS = ("test", "distributed", "onnx")
NOT_TEST_TOOLS = {"ruff"}

_FLOOR = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*>=\s*(?P<version>[0-9][0-9A-Za-z.]*)"
    r"(\s*,\s*<\s*[0-9][0-9A-Za-z.]*)?$"
)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)


def floors(project: dict | None = None) -> dict[str, str]:
    """Map each runtime dependency's normalized name to its declared floor."""
    project = (project or _pyproject())["project"]
    result = {}
    for requirement in project["dependencies"]:
        match = _FLOOR.match(requirement.strip())
        if match is None:
            raise SystemExit(
                f"pyproject.toml: the dependency {requirement!r} does not read "
                "'name>=version'; every runtime dependency needs a floor that the "
                "lowest-versions test can install."
            )
        result[_normalize(match["name"])] = match["version"]
    return result


def pins(project: dict | None = None) -> list[str]:
    """Requirement lines ``name==floor``, one per dependency not installed apart."""
    return [
        f"{name}=={version}"
        for name, version in floors(project).items()
        if name not in INSTALLED_SEPARATELY
    ]


def test_tools(project: dict | None = None) -> list[str]:
    """The test extras' requirements, as declared, less the linters."""
    extras = (project or _pyproject())["project"]["optional-dependencies"]
    tools = []
    for extra in TEST_EXTRAS:
        for requirement in extras[extra]:
            name = re.match(r"[A-Za-z0-9._-]+", requirement)[0]
            if _normalize(name) not in NOT_TEST_TOOLS and requirement not in tools:
                tools.append(requirement)
    return tools


def _same_version(installed: str, floor: str) -> bool:
    """Whether `installed` is `floor`, with missing trailing components as zero."""

    def parts(version: str) -> list[str]:
        items = version.split(".")
        while len(items) > 1 and items[-1] == "0":
            items.pop()
        return items

    return parts(installed) == parts(floor)


def check() -> int:
    """Report each pinned dependency's installed version; 1 if one is not its floor."""
    wrong = 0
    for line in pins():
        name, floor = line.split("==")
        try:
            installed = metadata.version(name)
            # The copy that an import finds, not only the one pip recorded.
            module = importlib.import_module(IMPORT_NAMES.get(name, name))
            imported = getattr(module, "__version__", installed)
        except (metadata.PackageNotFoundError, ImportError):
            installed = imported = "not installed"
        ok = _same_version(installed, floor) and _same_version(imported, floor)
        wrong += not ok
        print(
            f"{'ok' if ok else 'NOT THE FLOOR'}: {name} {installed}, imported "
            f"{imported} (floor {floor})"
        )
    for name, why in INSTALLED_SEPARATELY.items():
        print(f"apart: {name} {metadata.version(name)} ({why})")
    return 1 if wrong else 0


def main(argv: list[str] | None = None) -> int:
    """Print the pins (or the test tools), or check the installed versions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--tools", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    print("\n".join(test_tools() if args.tools else pins()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
