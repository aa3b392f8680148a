"""qwertyclf: neural-network classification for tabular data, the scikit-learn way.

The main entry point is `QwertyClassifier`, a scikit-learn estimator that trains
a `QwertyNet` (a PyTorch multi-layer perceptron) through skorch.
"""

from importlib.metadata import PackageNotFoundError, version

from ._classifier import QwertyClassifier
from ._module import QwertyNet
from ._persistence import load_model, save_model

try:
    __version__ = version("qwertyclf")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["QwertyClassifier", "QwertyNet", "__version__", "load_model", "save_model"]
