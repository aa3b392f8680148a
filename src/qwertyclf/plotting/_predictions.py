"""Predicted vs true class of every sample."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_consistent_length

from qwertyclf.plotting import _style


class PredictionDisplay:
    """Predicted and true class of each sample, by sample index.

    Every sample by its index: predicted classes as circles, true classes as
    squares shifted up by `offset`, so a correct prediction sits just below its
    square and a mistake is off by at least one class level. Mistakes are also
    marked with a cross. Classes are drawn at their positions 0, 1, ... in
    `classes`, with the class names as tick labels, so any label type works.
    Build it with
    [`from_estimator`][qwertyclf.plotting.PredictionDisplay.from_estimator] or
    [`from_predictions`][qwertyclf.plotting.PredictionDisplay.from_predictions].

    Parameters
    ----------
    y_true : ndarray of shape (n_samples,)
        True labels.
    y_pred : ndarray of shape (n_samples,)
        Predicted labels.
    classes : ndarray of shape (n_classes,)
        Classes in display order (bottom to top).

    Attributes
    ----------
    misclassified : ndarray of bool of shape (n_samples,)
        Whether each sample is misclassified (read-only, from `y_true`/`y_pred`).
    pred_line_ : matplotlib Line2D
        Predicted classes.
    true_line_ : matplotlib Line2D
        True classes, offset.
    errors_line_ : matplotlib Line2D
        Crosses on the predictions that are wrong.
    ax_ : matplotlib Axes
        Axes with the plot.
    figure_ : matplotlib Figure
        Figure containing the plot.

    Examples
    --------
    >>> from qwertyclf.plotting import PredictionDisplay
    >>> disp = PredictionDisplay.from_predictions(["a", "b", "b"], ["a", "a", "b"])
    >>> disp.misclassified.tolist()
    [False, True, False]
    >>> disp.true_line_.get_ydata().tolist()
    [0.2, 1.2, 1.2]
    """

    def __init__(
        self, y_true: np.ndarray, y_pred: np.ndarray, *, classes: np.ndarray
    ) -> None:
        self.y_true = y_true
        self.y_pred = y_pred
        self.classes = classes

    @property
    def misclassified(self) -> np.ndarray:
        """Boolean mask of the misclassified samples."""
        return np.asarray(self.y_true) != np.asarray(self.y_pred)

    def plot(
        self,
        *,
        ax: Any = None,
        offset: float = 0.2,
        title: str | None = "Predicted vs. true class",
        pred_kw: dict[str, Any] | None = None,
        true_kw: dict[str, Any] | None = None,
    ) -> PredictionDisplay:
        """Draw predictions and true labels per sample.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        offset : float, default=0.2
            Vertical shift of the true labels, so they do not hide the predictions.
        title : str or None, default="Predicted vs. true class"
            Axes title.
        pred_kw, true_kw : dict, default=None
            Keyword arguments for the `Axes.plot` calls of the predictions and of
            the true labels.

        Returns
        -------
        PredictionDisplay
            `self`, with the artists stored.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from qwertyclf.plotting import PredictionDisplay
        >>> disp = PredictionDisplay(np.array([3, 5]), np.array([3, 3]), classes=[3, 5])
        >>> fig, ax = plt.subplots()
        >>> [t.get_text() for t in disp.plot(ax=ax, offset=0.1).ax_.get_yticklabels()]
        ['3', '5']
        """
        ax = _style.get_axes(ax, figsize=(10, 4))
        classes = np.asarray(self.classes)
        true_idx = _style.encode(self.y_true, classes, name="y_true")
        pred_idx = _style.encode(self.y_pred, classes, name="y_pred")
        index = np.arange(len(true_idx))
        wrong = true_idx != pred_idx

        style = {"color": _style.PREDICTED_COLOR, "label": "Predicted"}
        style.update(pred_kw or {})
        (self.pred_line_,) = ax.plot(index, pred_idx, "o", **style)
        style = {"color": _style.TRUE_COLOR, "label": f"True (+{offset:g})"}
        style.update(true_kw or {})
        (self.true_line_,) = ax.plot(index, true_idx + offset, "s", **style)
        (self.errors_line_,) = ax.plot(
            index[wrong],
            pred_idx[wrong],
            "x",
            color=_style.ERROR_EDGE_COLOR,
            markersize=9,
            label=f"Misclassified ({int(wrong.sum())})",
        )
        ax.set_yticks(np.arange(len(classes)), _style.class_names(classes))
        ax.set(xlabel="Sample index", ylabel="Class", title=title)
        ax.legend(loc="best")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(
        cls,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        labels: ArrayLike | None = None,
        ax: Any = None,
        **plot_kw: Any,
    ) -> PredictionDisplay:
        """Plot given predictions against the true labels.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_pred : array-like of shape (n_samples,)
            Predicted labels.
        labels : array-like of shape (n_classes,), default=None
            Classes in display order; by default the sorted union of both.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        **plot_kw
            Passed to [`plot`][qwertyclf.plotting.PredictionDisplay.plot].

        Returns
        -------
        PredictionDisplay
            The drawn display.

        Raises
        ------
        ValueError
            If `y_true` and `y_pred` differ in length or hold labels not in
            `labels`.

        Examples
        --------
        >>> from qwertyclf.plotting import PredictionDisplay
        >>> disp = PredictionDisplay.from_predictions([3, 5, 7], [3, 7, 7])
        >>> disp.pred_line_.get_ydata().tolist()
        [0, 2, 2]
        """
        y_true, y_pred = _style.check_labels(y_true, y_pred, names=["y_true", "y_pred"])
        classes = _style.resolve_classes(y_true, y_pred, classes=labels)
        return cls(y_true, y_pred, classes=classes).plot(ax=ax, **plot_kw)

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: ArrayLike,
        y: ArrayLike,
        *,
        ax: Any = None,
        **plot_kw: Any,
    ) -> PredictionDisplay:
        """Plot a fitted classifier's predictions on `X` against `y`.

        Parameters
        ----------
        estimator : fitted classifier
            Its `classes_` give the class order.
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            True labels.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        **plot_kw
            Passed to [`plot`][qwertyclf.plotting.PredictionDisplay.plot].

        Returns
        -------
        PredictionDisplay
            The drawn display.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If `estimator` is not fitted.
        ValueError
            If `X` and `y` differ in length.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from qwertyclf.plotting import PredictionDisplay
        >>> X, y = np.array([[0.0], [1.0], [3.0], [4.0]]), np.array([0, 0, 1, 1])
        >>> clf = LogisticRegression().fit(X, y)
        >>> int(PredictionDisplay.from_estimator(clf, X, y).misclassified.sum())
        0
        """
        classes = _style.check_fitted_classifier(estimator)
        (y,) = _style.check_labels(y, names=["y"])
        check_consistent_length(X, y)
        y_pred = estimator.predict(X)
        return cls(y, y_pred, classes=classes).plot(ax=ax, **plot_kw)
