"""Datasets with a known distribution, and the Bayes-optimal reference for them.

The generators draw from distributions they know exactly, so besides `(X, y)` they
can return (with `return_X_y=False`) the true parameters, the Bayes-optimal
classifier of that distribution and its accuracy: the ceiling any model can reach.
"""

from ._bayes import BayesAccuracy, GaussianBayesClassifier, bayes_accuracy
from ._gaussian import make_gaussian_classes
from ._qwerty import make_qwerties, make_qwerty, make_qwerty_doughnuts
from ._rings import RingBayesClassifier, ring_bayes_accuracy

__all__ = [
    "BayesAccuracy",
    "GaussianBayesClassifier",
    "RingBayesClassifier",
    "bayes_accuracy",
    "make_gaussian_classes",
    "make_qwerties",
    "make_qwerty",
    "make_qwerty_doughnuts",
    "ring_bayes_accuracy",
]


def __dir__() -> list[str]:
    """The public names, not the private modules and helpers behind them."""
    return sorted(__all__)
