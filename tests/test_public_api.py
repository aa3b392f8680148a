"""Every public name of every public module is exported and in the API reference."""

import importlib
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
