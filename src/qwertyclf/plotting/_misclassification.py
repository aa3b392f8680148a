"""Samples in the plane by true class, mistakes circled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from qwertyclf.plotting import _columns, _style


class MisclassificationDisplay:
    """Samples coloured by true class, with the misclassified ones circled.

    Where in feature space the model errs. Build
    it with
    [`from_estimator`][qwertyclf.plotting.MisclassificationDisplay.from_estimator]
    or
    [`from_predictions`][qwertyclf.plotting.MisclassificationDisplay.from_predictions].

    Parameters
    ----------
    X : ndarray of shape (n_samples, 2)
        The two plotted features.
    y_true : ndarray of shape (n_samples,)
        True labels (the colours).
    y_pred : ndarray of shape (n_samples,)
        Predicted labels.
    classes : ndarray of shape (n_classes,)
        Classes in display order; a class's colour is given by its position.
    xlabel, ylabel : str, default=None
        Axis labels.

    Attributes
    ----------
    misclassified : ndarray of bool of shape (n_samples,)
        Whether each sample is misclassified (read-only, from `y_true`/`y_pred`).
    scatters_ : list of matplotlib PathCollection
        One scatter per true class, in `classes` order.
    circles_ : matplotlib PathCollection
        Open circles around the misclassified samples.
    ax_ : matplotlib Axes
        Axes with the scatter.
    figure_ : matplotlib Figure
        Figure containing the scatter.

    Examples
    --------
    >>> import numpy as np
    >>> from qwertyclf.plotting import MisclassificationDisplay
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 1.0]])
    >>> disp = MisclassificationDisplay.from_predictions(X, [0, 1, 1], [0, 0, 1])
    >>> disp.misclassified.tolist(), disp.circles_.get_offsets().tolist()
    ([False, True, False], [[1.0, 0.0]])
    """

    def __init__(
        self,
        X: np.ndarray,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        *,
        classes: np.ndarray,
        xlabel: str | None = None,
        ylabel: str | None = None,
    ) -> None:
        self.X = X
        self.y_true = y_true
        self.y_pred = y_pred
        self.classes = classes
        self.xlabel = xlabel
        self.ylabel = ylabel

    @property
    def misclassified(self) -> np.ndarray:
        """Boolean mask of the misclassified samples."""
        return np.asarray(self.y_true) != np.asarray(self.y_pred)

    def plot(
        self,
        *,
        ax: Any = None,
        title: str | None = "Misclassified samples",
        scatter_kw: dict[str, Any] | None = None,
    ) -> MisclassificationDisplay:
        """Draw the samples and circle the mistakes.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        title : str or None, default="Misclassified samples"
            Axes title.
        scatter_kw : dict, default=None
            Keyword arguments for the class scatters, e.g. `{"s": 10}`.

        Returns
        -------
        MisclassificationDisplay
            `self`, with the artists stored.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from qwertyclf.plotting import MisclassificationDisplay
        >>> disp = MisclassificationDisplay(
        ...     np.array([[0.0, 0.0], [1.0, 1.0]]), np.array(["x", "y"]),
        ...     np.array(["x", "x"]), classes=np.array(["x", "y"]),
        ... )
        >>> fig, ax = plt.subplots()
        >>> len(disp.plot(ax=ax).circles_.get_offsets())
        1
        """
        ax = _style.get_axes(ax, figsize=(6, 6))
        classes = np.asarray(self.classes)
        X = np.asarray(self.X, dtype=float)
        true_idx = _style.encode(self.y_true, classes, name="y_true")
        # Validates y_pred's labels too; the mask itself compares raw labels.
        _style.encode(self.y_pred, classes, name="y_pred")
        kwargs = {"alpha": 0.6, "edgecolors": "none"}
        kwargs.update(scatter_kw or {})
        self.scatters_ = _style.scatter_by_class(ax, X, true_idx, classes, **kwargs)
        self.circles_ = _style.circle(ax, X, self.misclassified)
        ax.legend(title="True class", fontsize="small")
        ax.set(title=title, xlabel=self.xlabel or "", ylabel=self.ylabel or "")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(
        cls,
        X: ArrayLike,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        features: Sequence[int | str] | None = None,
        labels: ArrayLike | None = None,
        ax: Any = None,
        **plot_kw: Any,
    ) -> MisclassificationDisplay:
        """Plot samples with given predictions, circling the mistakes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples; a DataFrame's column names label the axes.
        y_true : array-like of shape (n_samples,)
            True labels.
        y_pred : array-like of shape (n_samples,)
            Predicted labels.
        features : pair of int or str, default=None
            The two numeric features to plot: column positions, or column names
            of a DataFrame. `None` takes the first two numeric columns.
        labels : array-like of shape (n_classes,), default=None
            Classes in display order; by default the sorted union of both.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        **plot_kw
            Passed to [`plot`][qwertyclf.plotting.MisclassificationDisplay.plot].

        Returns
        -------
        MisclassificationDisplay
            The drawn display.

        Raises
        ------
        ValueError
            If `X`, `y_true` and `y_pred` differ in length, or `features` are not
            two valid features of `X`.

        Examples
        --------
        >>> import numpy as np
        >>> from qwertyclf.plotting import MisclassificationDisplay
        >>> X = np.array([[0.0, 0.0, 5.0], [1.0, 0.0, 6.0], [2.0, 1.0, 7.0]])
        >>> disp = MisclassificationDisplay.from_predictions(
        ...     X, ["a", "b", "b"], ["a", "b", "a"], features=(0, 2)
        ... )
        >>> disp.X[disp.misclassified].tolist()
        [[2.0, 7.0]]
        """
        y_true, y_pred = _style.check_labels(y_true, y_pred, names=["y_true", "y_pred"])
        X2, (xlabel, ylabel) = _columns.plane(X, features, y_true=y_true)
        classes = _style.resolve_classes(y_true, y_pred, classes=labels)
        disp = cls(
            X2,
            y_true,
            y_pred,
            classes=classes,
            xlabel=xlabel,
            ylabel=ylabel,
        )
        return disp.plot(ax=ax, **plot_kw)

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: ArrayLike,
        y: ArrayLike,
        *,
        features: Sequence[int | str] | None = None,
        ax: Any = None,
        **plot_kw: Any,
    ) -> MisclassificationDisplay:
        """Plot samples with a fitted classifier's predictions, circling mistakes.

        Parameters
        ----------
        estimator : fitted classifier
            Its `classes_` give the class order and colours.
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            True labels.
        features : pair of int or str, default=None
            The two numeric features to plot: column positions, or column names
            (of a DataFrame, or the estimator's `feature_names_in_`). `None`
            takes the first two numeric columns.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        **plot_kw
            Passed to [`plot`][qwertyclf.plotting.MisclassificationDisplay.plot].

        Returns
        -------
        MisclassificationDisplay
            The drawn display.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If `estimator` is not fitted.
        ValueError
            If `X` and `y` differ in length, or `features` are invalid.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from qwertyclf.plotting import MisclassificationDisplay
        >>> X = np.array([[0.0, 0.0], [0.5, 0.2], [2.0, 2.0], [0.1, 0.3]])
        >>> y = np.array([0, 0, 1, 1])
        >>> clf = LogisticRegression().fit(X, y)
        >>> MisclassificationDisplay.from_estimator(clf, X, y).misclassified.tolist()
        [False, False, False, True]
        """
        classes = _style.check_fitted_classifier(estimator)
        (y,) = _style.check_labels(y, names=["y"])
        X2, (xlabel, ylabel) = _columns.plane(X, features, estimator=estimator, y=y)
        disp = cls(
            X2,
            y,
            estimator.predict(X),
            classes=classes,
            xlabel=xlabel,
            ylabel=ylabel,
        )
        return disp.plot(ax=ax, **plot_kw)
