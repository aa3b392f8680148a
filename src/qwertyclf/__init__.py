"""qwertyclf: neural-network classification for tabular data, the scikit-learn way.

The main entry point is `QwertyClassifier`, a scikit-learn estimator that trains
a `QwertyNet` (a PyTorch multi-layer perceptron) through skorch.

Importing the package is cheap: PyTorch, skorch and scikit-learn are imported the
first time one of the names below is used, so that `qwertyclf --help` answers at
once. `from qwertyclf import QwertyClassifier` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> (module that defines it, attribute); attribute None means the
# name is the module itself. A new export is one line here.
_LAZY: dict[str, tuple[str, str | None]] = {
    "QwertyClassifier": ("._classifier", "QwertyClassifier"),
    "QwertyClassifierCV": ("._cv", "QwertyClassifierCV"),
    "QwertyEnsembleClassifier": ("._ensemble", "QwertyEnsembleClassifier"),
    "QwertyNet": ("._module", "QwertyNet"),
    "load_model": ("._model_io", "load_model"),
    "save_model": ("._model_io", "save_model"),
}

# Static analysers (type checkers, the documentation generator) read these.
if TYPE_CHECKING:
    from ._classifier import QwertyClassifier as QwertyClassifier
    from ._cv import QwertyClassifierCV as QwertyClassifierCV
    from ._ensemble import QwertyEnsembleClassifier as QwertyEnsembleClassifier
    from ._model_io import load_model as load_model
    from ._model_io import save_model as save_model
    from ._module import QwertyNet as QwertyNet

# The public subpackages and modules; `qwertyclf.datasets` works after a plain
# `import qwertyclf`, importing the subpackage on first use.
_SUBMODULES = ("cli", "datasets", "metrics", "model_selection", "onnx", "plotting")

__version__: str

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    if name == "__version__":
        # importlib.metadata alone takes longer to import than the whole CLI parser.
        globals()[name] = _version()
        return globals()[name]
    if name in _SUBMODULES:
        # Importing a submodule also sets it as an attribute of the package.
        return importlib.import_module(f".{name}", __name__)
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module = importlib.import_module(module_name, __name__)
    value = module if attribute is None else getattr(module, attribute)
    # Later look-ups find it in the module's namespace and skip this function.
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names and subpackages, not the helpers this module uses."""
    return sorted({*__all__, *_SUBMODULES})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qwertyclf")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"
