"""Every diagnostic panel of a fitted classifier in one figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_consistent_length

from qwertyclf._reference import reference_per_class
from qwertyclf.metrics import per_class_accuracy
from qwertyclf.plotting import _columns, _style
from qwertyclf.plotting._class_accuracy import ClassAccuracyDisplay
from qwertyclf.plotting._dataset import DatasetDisplay
from qwertyclf.plotting._decision_regions import DecisionRegionDisplay
from qwertyclf.plotting._misclassification import MisclassificationDisplay
from qwertyclf.plotting._predictions import PredictionDisplay
from qwertyclf.plotting._training_curves import (
    TrainingCurvesDisplay,
    trained_networks,
)


def _evaluation_data(
    X_train: ArrayLike,
    y_train: ArrayLike,
    X_test: ArrayLike | None,
    y_test: ArrayLike | None,
) -> tuple[ArrayLike, np.ndarray, str]:
    """Check the data; return the set the panels show (test, else train), named."""
    if (X_test is None) != (y_test is None):
        raise ValueError("Pass both X_test and y_test, or neither.")
    check_consistent_length(X_train, y_train)
    if X_test is not None:
        check_consistent_length(X_test, y_test)
        return X_test, np.asarray(y_test), "test"
    return X_train, np.asarray(y_train), "train"


def _bayes_reference(
    bayes_estimator: Any,
    bayes_accuracy: float | None,
    X_eval: ArrayLike,
    y_eval: np.ndarray,
    classes: np.ndarray,
) -> tuple[np.ndarray | None, float | None]:
    """Reference accuracy per class and overall; `bayes_accuracy` wins if given."""
    bayes_per_class = bayes_overall = None
    if bayes_estimator is not None:
        bayes = per_class_accuracy(
            y_eval, _bayes_predictions(bayes_estimator, X_eval, classes), labels=classes
        )
        bayes_per_class, bayes_overall = bayes.accuracy, bayes.overall
    if bayes_accuracy is not None:
        bayes_overall = float(bayes_accuracy)
        bayes_per_class = reference_per_class(bayes_accuracy, classes)
    return bayes_per_class, bayes_overall


def _bayes_predictions(
    bayes_estimator: Any, X_eval: ArrayLike, classes: np.ndarray
) -> np.ndarray:
    """The reference's predictions, as labels of the estimator's `classes`.

    The Bayes classifier of a generated data set predicts the generator's
    classes 0..n-1; component `k` is the estimator's `k`-th (sorted) label,
    as `GaussianBayesClassifier.fit` matches them.
    """
    bayes_classes = _style.check_fitted_classifier(bayes_estimator)
    predicted = np.asarray(bayes_estimator.predict(X_eval))
    known = set(classes.tolist())
    if all(label in known for label in bayes_classes.tolist()):
        return predicted
    n = len(classes)
    if (
        bayes_classes.dtype.kind in "iu"
        and len(bayes_classes) == n
        and np.array_equal(bayes_classes, np.arange(n))
    ):
        return classes[predicted.astype(np.intp)]
    raise ValueError(
        f"bayes_estimator predicts the classes {bayes_classes[:10].tolist()}, "
        f"which are not the estimator's classes {classes[:10].tolist()}, nor "
        f"0..{n - 1} (one per class, in the classes' sorted order). Fit the "
        "Bayes classifier with the same labels, e.g. "
        "GaussianBayesClassifier(means).fit(X, y), or pass bayes_accuracy "
        "instead of bayes_estimator."
    )


def _training_panels(
    fig: Any,
    grid: Any,
    estimator: Any,
    X_train: ArrayLike,
    y_train: ArrayLike,
    *,
    bayes_accuracy: float | None,
    features: Sequence[int | str] | None,
) -> dict[str, Any]:
    """Draw the first row: the training curves, else the training data.

    A model of several networks (`QwertyClassifierCV`, the ensemble) shows
    the curves of its first network, and the titles say so.
    """
    networks = trained_networks(estimator)
    if networks:
        curves = TrainingCurvesDisplay.from_estimator(
            networks[0],
            bayes_accuracy=bayes_accuracy,
            ax=[fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])],
        )
        if networks[0] is not _style.final_step(estimator):
            for axis in curves.axes_:
                axis.set_title(f"{axis.get_title()} (network 1 of {len(networks)})")
        return {"training_curves": curves}
    columns = _columns.read_columns(X_train, estimator=estimator)
    if features is not None or _columns.has_plane(columns):
        dataset = DatasetDisplay.from_estimator(
            estimator,
            X_train,
            y_train,
            features=features,
            ax=fig.add_subplot(grid[0, 0]),
            title="Training data",
        )
        return {"dataset": dataset}
    return {}


def _confusion_matrix(
    y_eval: np.ndarray, y_pred: ArrayLike, classes: np.ndarray, *, ax: Any, title: str
) -> Any:
    """Draw the confusion matrix, rows and columns in the classes' order."""
    from sklearn.metrics import ConfusionMatrixDisplay

    display = ConfusionMatrixDisplay.from_predictions(
        y_eval,
        y_pred,
        labels=classes,
        display_labels=_style.class_names(classes),
        cmap="Blues",
        colorbar=False,
        ax=ax,
    )
    ax.set_title(title)
    return display


def plot_diagnostics(
    estimator: Any,
    X_train: ArrayLike,
    y_train: ArrayLike,
    X_test: ArrayLike | None = None,
    y_test: ArrayLike | None = None,
    *,
    bayes_estimator: Any = None,
    bayes_accuracy: float | None = None,
    features: Sequence[int | str] | None = None,
    feature_values: Mapping[int | str, Any] | ArrayLike | None = None,
    grid_resolution: int = 200,
    figsize: tuple[float, float] = (12, 16),
) -> tuple[Any, dict[str, Any]]:
    """Draw every diagnostic of a fitted classifier in one figure.

    Panels, two to a row so that each stays legible when the figure is scaled to
    a page or a screen: loss and accuracy per epoch (from the `history_` of the
    estimator, or of a pipeline's last step; the training data's scatter
    instead when there is none), decision regions and misclassified samples,
    accuracy per class and the confusion matrix, then predicted vs true class
    across the full width. A `QwertyClassifierCV` or
    `QwertyEnsembleClassifier` predicts with several networks: the curves are
    those of its first network, and their titles say "network 1 of n".
    All but the training curves are computed on the test set when given, else on
    the training set; every panel uses the estimator's `classes_`, so a class has
    the same colour and name throughout. Save the figure with
    `figure.savefig("diagnostics.png")` (or `.svg`, `.pdf`).

    Parameters
    ----------
    estimator : fitted classifier or pipeline
        The model to diagnose: a fitted `QwertyClassifier`, `QwertyClassifierCV`
        or `QwertyEnsembleClassifier`, any fitted classifier with `predict`, or
        a `Pipeline` ending in one.
    X_train : array-like or DataFrame of shape (n_samples, n_features)
        Training samples, as the estimator takes them: a raw DataFrame with
        categorical columns and missing values works wherever the estimator
        accepts one.
    y_train : array-like of shape (n_samples,)
        Training labels.
    X_test : array-like of shape (n_test, n_features), default=None
        Held-out samples to evaluate on.
    y_test : array-like of shape (n_test,), default=None
        Held-out labels; required with `X_test`.
    bayes_estimator : fitted classifier, default=None
        Reference classifier, such as a `GaussianBayesClassifier`: its boundary is
        drawn over the decision regions, and its accuracy on the evaluated data
        (overall and per class) is shown next to the model's. Its classes are
        the estimator's, or 0..n-1 for n classes (what the Bayes classifier of
        a generated data set predicts): class `k` is then the estimator's
        `k`-th label in sorted order.
    bayes_accuracy : float, default=None
        Known Bayes-optimal accuracy, e.g. from `qwertyclf.datasets.bayes_accuracy`;
        shown instead of the `bayes_estimator`'s accuracy on the data. Its
        `per_class` values, if any, are the per-class reference (aligned with the
        estimator's `classes_`).
    features : pair of int or str, default=None
        The two numeric features of the spatial panels, by position or column
        name; `None` takes the first two numeric columns, and leaves the
        spatial panels out when there are fewer than two. With more features,
        the decision regions are a slice through the others (see
        [`DecisionRegionDisplay`][qwertyclf.plotting.DecisionRegionDisplay]),
        and the panel's note says where it is.
    feature_values : array-like of shape (n_features,) or dict, default=None
        Where the slice of the decision regions holds the features not
        plotted: one value per feature, or a dict {index or column name:
        value} for some; the others stay at their median (numeric) or most
        frequent value (categorical) in the evaluated data.
    grid_resolution : int, default=200
        Grid points per axis of the decision regions.
    figsize : tuple of float, default=(12, 16)
        Figure size in inches.

    Returns
    -------
    figure : matplotlib Figure
        The figure with all panels.
    displays : dict of str to display
        The displays drawn, keyed "training_curves" (or "dataset"),
        "class_accuracy", "decision_regions", "misclassification",
        "confusion_matrix" (a `sklearn.metrics.ConfusionMatrixDisplay`) and
        "predictions". The spatial panels are left out when `X` has fewer
        than two numeric features and `features` is `None`.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If `estimator` is not fitted.
    ValueError
        If samples and labels differ in length, only one of `X_test` and
        `y_test` is given, or the `bayes_estimator`'s classes are neither the
        estimator's nor 0..n-1.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from qwertyclf.plotting import plot_diagnostics
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2))
    >>> y = np.where(X[:, 0] > 0, "pos", "neg")
    >>> clf = LogisticRegression().fit(X, y)
    >>> fig, displays = plot_diagnostics(clf, X, y, grid_resolution=20)
    >>> sorted(displays)  # no history_, so the dataset replaces the curves
    ['class_accuracy', 'confusion_matrix', 'dataset', 'decision_regions',
     'misclassification', 'predictions']

    A pipeline and a raw table, its third column held at a chosen value:

    >>> import pandas as pd
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import OneHotEncoder, StandardScaler
    >>> frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 0] ** 2,
    ...                       "kind": np.where(X[:, 1] > 0, "up", "down")})
    >>> pipe = make_pipeline(
    ...     make_column_transformer(
    ...         (StandardScaler(), ["a", "b", "c"]), (OneHotEncoder(), ["kind"])
    ...     ),
    ...     LogisticRegression(),
    ... ).fit(frame, y)
    >>> fig, displays = plot_diagnostics(
    ...     pipe, frame, y, feature_values={"c": 0.5}, grid_resolution=20
    ... )
    >>> regions = displays["decision_regions"]
    >>> regions.ax_.get_xlabel(), regions.fixed_values["c"], regions.fixed_by
    ('a', 0.5, {'c': 'given', 'kind': 'most frequent'})
    """
    import matplotlib.pyplot as plt

    classes = _style.check_fitted_classifier(estimator)
    X_eval, y_eval, split = _evaluation_data(X_train, y_train, X_test, y_test)
    y_pred = estimator.predict(X_eval)
    bayes_per_class, bayes_overall = _bayes_reference(
        bayes_estimator, bayes_accuracy, X_eval, y_eval, classes
    )

    fig = plt.figure(figsize=figsize, layout="constrained")
    grid = fig.add_gridspec(4, 2, height_ratios=[1, 1.3, 1, 0.8])
    displays = _training_panels(
        fig,
        grid,
        estimator,
        X_train,
        y_train,
        bayes_accuracy=bayes_overall,
        features=features,
    )

    displays["class_accuracy"] = ClassAccuracyDisplay.from_predictions(
        y_eval,
        y_pred,
        labels=classes,
        reference=bayes_per_class,
        ax=fig.add_subplot(grid[2, 0]),
        title=f"Accuracy per class ({split})",
    )

    columns = _columns.read_columns(X_eval, estimator=estimator)
    if features is not None or _columns.has_plane(columns):
        displays["decision_regions"] = DecisionRegionDisplay.from_estimator(
            estimator,
            X_eval,
            y_eval,
            features=features,
            feature_values=feature_values,
            bayes_estimator=bayes_estimator,
            grid_resolution=grid_resolution,
            ax=fig.add_subplot(grid[1, 0]),
            title=f"Decision regions ({split})",
        )
        X2, (xlabel, ylabel) = _columns.plane(
            X_eval, features, estimator=estimator, y=y_eval
        )
        displays["misclassification"] = MisclassificationDisplay(
            X2, y_eval, y_pred, classes=classes, xlabel=xlabel, ylabel=ylabel
        ).plot(
            ax=fig.add_subplot(grid[1, 1]),
            title=f"Misclassified samples ({split})",
        )

    displays["confusion_matrix"] = _confusion_matrix(
        y_eval,
        y_pred,
        classes,
        ax=fig.add_subplot(grid[2, 1]),
        title=f"Confusion matrix ({split})",
    )

    displays["predictions"] = PredictionDisplay.from_predictions(
        y_eval,
        y_pred,
        labels=classes,
        ax=fig.add_subplot(grid[3, :]),
        title=f"Predicted vs. true class ({split})",
    )
    return fig, displays
