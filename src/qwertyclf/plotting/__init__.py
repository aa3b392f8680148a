"""Diagnostic plots in scikit-learn's Display style.

Each display computes its data in `from_estimator` / `from_predictions` (or
`from_history`, `from_data`), draws it in `plot(ax=None, ...)`, and keeps the drawn
artists as attributes ending in `_`, like `sklearn.metrics.ConfusionMatrixDisplay`.
[`plot_diagnostics`][qwertyclf.plotting.plot_diagnostics] puts every panel in one
figure. matplotlib is imported only when something is drawn.

Examples
--------
>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> from qwertyclf.plotting import ClassAccuracyDisplay
>>> X, y = np.array([[0.0], [1.0], [3.0], [4.0]]), np.array([3, 3, 7, 7])
>>> clf = LogisticRegression().fit(X, y)
>>> ClassAccuracyDisplay.from_estimator(clf, X, y).accuracy.tolist()
[1.0, 1.0]
"""

from qwertyclf.plotting._class_accuracy import ClassAccuracyDisplay
from qwertyclf.plotting._dataset import DatasetDisplay
from qwertyclf.plotting._decision_regions import DecisionRegionDisplay
from qwertyclf.plotting._diagnostics import plot_diagnostics
from qwertyclf.plotting._misclassification import MisclassificationDisplay
from qwertyclf.plotting._predictions import PredictionDisplay
from qwertyclf.plotting._training_curves import TrainingCurvesDisplay

__all__ = [
    "ClassAccuracyDisplay",
    "DatasetDisplay",
    "DecisionRegionDisplay",
    "MisclassificationDisplay",
    "PredictionDisplay",
    "TrainingCurvesDisplay",
    "plot_diagnostics",
]


def __dir__() -> list[str]:
    """The public names, not the private modules and helpers behind them."""
    return sorted(__all__)
