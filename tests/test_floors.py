"""The lowest-versions test pins exactly pyproject's runtime dependencies."""

import importlib.util
import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "lowest_requirements.py"

if not SCRIPT.exists():  # an installed copy of the tests, without the checkout
    pytest.skip("needs the source checkout", allow_module_level=True)


@pytest.fixture(scope="module")
def lowest():
    spec = importlib.util.spec_from_file_location("lowest_requirements", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pyproject():
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _declared(pyproject):
    out = {}
    for requirement in pyproject["project"]["dependencies"]:
        name, floor = re.fullmatch(r"([\w.-]+)>=([\w.]+)", requirement).groups()
        out[name.lower()] = floor
    return out


def test_every_runtime_dependency_is_pinned_at_its_floor_or_installed_apart(
    lowest, pyproject, capsys
):
    assert lowest.main([]) == 0
    printed = capsys.readouterr().out.split()
    pinned = dict(line.split("==") for line in printed)
    declared = _declared(pyproject)
    assert set(pinned) | set(lowest.INSTALLED_SEPARATELY) == set(declared)
    assert not set(pinned) & set(lowest.INSTALLED_SEPARATELY)
    assert pinned == {n: v for n, v in declared.items() if n in pinned}


def test_only_torch_is_installed_apart(lowest):
    # torch is the CPU build CI installs first; every other floor is tested.
    assert set(lowest.INSTALLED_SEPARATELY) == {"torch"}


def test_a_dependency_without_a_floor_is_refused(lowest, pyproject):
    project = {"project": dict(pyproject["project"])}
    for bad in (
        "numpy",
        "numpy==1.26",
        "numpy>1.24",
        "numpy>=1.24; python_version<'4'",
    ):
        project["project"]["dependencies"] = [bad]
        with pytest.raises(SystemExit, match="name>=version"):
            lowest.pins(project)


def test_an_upper_bound_keeps_the_floor(lowest):
    project = {"project": {"dependencies": ["scipy>=1.10, <2", "torch>=2.4"]}}
    assert lowest.pins(project) == ["scipy==1.10"]


def test_test_tools_are_the_test_extras_less_the_linter(lowest, pyproject):
    tools = lowest.test_tools(pyproject)
    extras = pyproject["project"]["optional-dependencies"]
    assert "pytest>=8" in tools and not any(t.startswith("ruff") for t in tools)
    assert set(tools) == {
        r
        for extra in lowest.TEST_EXTRAS
        for r in extras[extra]
        if not r.startswith("ruff")
    }


@pytest.mark.parametrize(
    ("installed", "floor", "same"),
    [
        ("1.10.0", "1.10", True),
        ("1.24.1", "1.24.1", True),
        ("2.0", "2.0.0", True),
        ("1.24.4", "1.24.1", False),
        ("1.10.1", "1.10", False),
        ("not installed", "1.0", False),
    ],
)
def test_installed_version_is_compared_to_the_floor(lowest, installed, floor, same):
    assert lowest._same_version(installed, floor) is same


def test_check_compares_the_installed_and_imported_versions(
    lowest, monkeypatch, capsys
):
    version = pytest.__version__
    monkeypatch.setattr(lowest, "pins", lambda: [f"pytest=={version}"])
    assert lowest.check() == 0
    monkeypatch.setattr(lowest, "pins", lambda: ["pytest==1.0", "no-such-dist==1.0"])
    assert lowest.check() == 1
    out = capsys.readouterr().out
    assert "NOT THE FLOOR: pytest" in out
    assert "NOT THE FLOOR: no-such-dist not installed" in out
