"""Every public name of every public module is exported and in the API reference."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference"
MODULES = [
    "qwertyclf",
    "qwertyclf.datasets",
    "qwertyclf.metrics",
    "qwertyclf.model_selection",
    "qwertyclf.onnx",
    "qwertyclf.plotting",
]


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_resolve_and_are_documented(module_name):
    if module_name == "qwertyclf.onnx":
        pytest.importorskip("skl2onnx")
    module = importlib.import_module(module_name)
    text = "\n".join(p.read_text() for p in REFERENCE.glob("*.md"))
    for name in module.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(module, name)
        assert obj.__doc__, f"{module_name}.{name} has no docstring"
        assert "Examples" in obj.__doc__ or not callable(obj), (
            f"{module_name}.{name} has no example"
        )
        assert f"::: {module_name}.{name}" in text or (
            f"::: {module_name}\n" in text and f"`{name}`" in text
        ), f"{module_name}.{name} is not in the API reference"


# The public subpackages and modules `dir(qwertyclf)` lists beside `__all__`.
SUBMODULES = {"cli", "datasets", "metrics", "model_selection", "onnx", "plotting"}


@pytest.mark.parametrize(
    "module_name", [*MODULES, "qwertyclf.cli", "qwertyclf.training"]
)
def test_dir_shows_only_public_names(module_name):
    if module_name == "qwertyclf.onnx":
        pytest.importorskip("skl2onnx")
    module = importlib.import_module(module_name)
    names = dir(module)
    extra = SUBMODULES if module_name == "qwertyclf" else set()
    # No helper imports (`Any`, `annotations`, `np`) and no private modules.
    assert set(names) == set(module.__all__) | extra
    assert names == sorted(names)


def test_public_submodules_resolve_after_a_plain_import():
    # In a fresh interpreter: `import qwertyclf` alone, then attribute access.
    code = (
        "import sys, qwertyclf\n"
        "names = dir(qwertyclf)\n"
        "assert 'torch' not in sys.modules, 'dir() imported torch'\n"
        "assert qwertyclf.datasets.make_qwerty.__module__.startswith('qwertyclf.')\n"
        "assert qwertyclf.metrics.per_class_accuracy is not None\n"
        "print(' '.join(names))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    names = result.stdout.split()
    for helper in ("Any", "TYPE_CHECKING", "annotations", "importlib", "_LAZY"):
        assert helper not in names
    assert {"QwertyClassifier", "datasets", "plotting", "__version__"} <= set(names)
