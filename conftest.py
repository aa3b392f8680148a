"""Test and doctest setup: the Agg backend, and figures closed after each test."""

import importlib.util

import matplotlib
import pytest

matplotlib.use("Agg")

# qwertyclf.onnx needs the onnx extra; where it is not installed, the module's
# doctests are not collected (tests/test_onnx.py skips on its own).
collect_ignore = []
if importlib.util.find_spec("skl2onnx") is None:
    collect_ignore.append("src/qwertyclf/onnx.py")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
