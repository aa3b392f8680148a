"""Hyperparameter searches whose candidate fits train as batched runs.

`BatchedGridSearchCV` and `BatchedRandomizedSearchCV` are drop-ins for
scikit-learn's `GridSearchCV` and `RandomizedSearchCV`: same arguments, same
fitted attributes, same `cv_results_`, with the (candidate, fold) fits of a
`QwertyClassifier` (or of a `Pipeline` ending in one) trained together as
stacked networks. Candidates that cannot be batched are fitted one by one,
with a `NotBatchedWarning` saying why.
"""

from ._candidates import NotBatchedWarning
from ._search import BatchedGridSearchCV, BatchedRandomizedSearchCV

__all__ = ["BatchedGridSearchCV", "BatchedRandomizedSearchCV", "NotBatchedWarning"]


def __dir__() -> list[str]:
    """The public names, not the private modules and helpers behind them."""
    return sorted(__all__)
