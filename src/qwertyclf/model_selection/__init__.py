"""Hyperparameter searches whose candidate fits train as batched runs.

`BatchedGridSearchCV` and `BatchedRandomizedSearchCV` are drop-ins for
scikit-learn's `GridSearchCV` and `RandomizedSearchCV`: same arguments, same
fitted attributes, same `cv_results_`, with the (candidate, fold) fits of a
`QwertyClassifier` trained together as stacked networks.
"""

from ._search import BatchedGridSearchCV, BatchedRandomizedSearchCV

__all__ = ["BatchedGridSearchCV", "BatchedRandomizedSearchCV"]


def __dir__() -> list[str]:
    """The public names, not the private modules and helpers behind them."""
    return sorted(__all__)
