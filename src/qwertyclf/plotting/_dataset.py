"""Scatter plot of a labelled dataset in the plane."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from qwertyclf.plotting import _columns, _style


class DatasetDisplay:
    """Scatter of two features of a dataset, one colour per class.

    The first look at a dataset: every sample in the plane of two features,
    coloured by class with the Set2 palette, and a legend naming the classes.
    Use [`from_data`][qwertyclf.plotting.DatasetDisplay.from_data] or
    [`from_estimator`][qwertyclf.plotting.DatasetDisplay.from_estimator] to build
    one; all parameters are stored as attributes.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 2)
        The two plotted features.
    y : ndarray of shape (n_samples,)
        Class label of each sample, of any type.
    classes : ndarray of shape (n_classes,)
        Classes in display order; a class's colour is given by its position.
    xlabel, ylabel : str, default=None
        Axis labels.

    Attributes
    ----------
    scatters_ : list of matplotlib PathCollection
        One scatter per class, in `classes` order.
    legend_ : matplotlib Legend
        Legend naming the classes.
    ax_ : matplotlib Axes
        Axes with the scatter.
    figure_ : matplotlib Figure
        Figure containing the scatter.

    Examples
    --------
    >>> import numpy as np
    >>> from qwertyclf.plotting import DatasetDisplay
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5], [3.0, 1.5]])
    >>> y = np.array(["ant", "bee", "bee", "cat"])
    >>> disp = DatasetDisplay.from_data(X, y)
    >>> [s.get_label() for s in disp.scatters_]
    ['ant', 'bee', 'cat']
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        classes: np.ndarray,
        xlabel: str | None = None,
        ylabel: str | None = None,
    ) -> None:
        self.X = X
        self.y = y
        self.classes = classes
        self.xlabel = xlabel
        self.ylabel = ylabel

    def plot(
        self,
        *,
        ax: Any = None,
        title: str | None = None,
        scatter_kw: dict[str, Any] | None = None,
    ) -> DatasetDisplay:
        """Draw the scatter.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        title : str, default=None
            Axes title; by default "Dataset (n classes)".
        scatter_kw : dict, default=None
            Keyword arguments for `Axes.scatter`, e.g. `{"alpha": 0.4, "s": 10}`.

        Returns
        -------
        DatasetDisplay
            `self`, with the artists stored.

        Examples
        --------
        >>> import numpy as np
        >>> import matplotlib.pyplot as plt
        >>> from qwertyclf.plotting import DatasetDisplay
        >>> disp = DatasetDisplay(
        ...     np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1]), classes=[0, 1]
        ... )
        >>> fig, ax = plt.subplots()
        >>> disp.plot(ax=ax).ax_ is ax
        True
        """
        ax = _style.get_axes(ax, figsize=(6, 6))
        classes = np.asarray(self.classes)
        y_idx = _style.encode(self.y, classes)
        kwargs = {"alpha": 0.7, "edgecolors": "none"}
        kwargs.update(scatter_kw or {})
        self.scatters_ = _style.scatter_by_class(
            ax, np.asarray(self.X), y_idx, classes, **kwargs
        )
        self.legend_ = ax.legend(title="Class")
        if title is None:
            title = f"Dataset ({len(classes)} classes)"
        ax.set(title=title, xlabel=self.xlabel or "", ylabel=self.ylabel or "")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_data(
        cls,
        X: ArrayLike,
        y: ArrayLike,
        *,
        features: Sequence[int | str] | None = None,
        labels: ArrayLike | None = None,
        ax: Any = None,
        **plot_kw: Any,
    ) -> DatasetDisplay:
        """Scatter a labelled dataset.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples; a DataFrame's column names label the axes.
        y : array-like of shape (n_samples,)
            Class labels.
        features : pair of int or str, default=None
            The two numeric features to plot: column positions, or column names
            of a DataFrame. `None` takes the first two numeric columns.
        labels : array-like of shape (n_classes,), default=None
            Classes in display order; by default the sorted labels of `y`.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        **plot_kw
            Passed to [`plot`][qwertyclf.plotting.DatasetDisplay.plot].

        Returns
        -------
        DatasetDisplay
            The drawn display.

        Raises
        ------
        ValueError
            If `X` and `y` differ in length, or `features` are not two valid
            features of `X`.

        Examples
        --------
        >>> import numpy as np
        >>> from qwertyclf.plotting import DatasetDisplay
        >>> X = np.random.default_rng(0).normal(size=(30, 3))
        >>> disp = DatasetDisplay.from_data(X, np.arange(30) % 3, features=(0, 2))
        >>> disp.ax_.get_xlabel(), len(disp.scatters_)
        ('Feature 0', 3)
        """
        (y,) = _style.check_labels(y, names=["y"])
        X2, (xlabel, ylabel) = _columns.plane(X, features, y=y)
        classes = _style.resolve_classes(y, classes=labels)
        disp = cls(X2, y, classes=classes, xlabel=xlabel, ylabel=ylabel)
        return disp.plot(ax=ax, **plot_kw)

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: ArrayLike,
        y: ArrayLike | None = None,
        *,
        features: Sequence[int | str] | None = None,
        ax: Any = None,
        **plot_kw: Any,
    ) -> DatasetDisplay:
        """Scatter a dataset with the classes (order, colours) of a fitted classifier.

        Parameters
        ----------
        estimator : fitted classifier
            Supplies `classes_`, so colours match the estimator's other displays;
            and the labels when `y` is `None`.
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,), default=None
            True labels; by default the estimator's predictions on `X`.
        features : pair of int or str, default=None
            The two numeric features to plot: column positions, or column names
            (of a DataFrame, or the estimator's `feature_names_in_`). `None`
            takes the first two numeric columns.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        **plot_kw
            Passed to [`plot`][qwertyclf.plotting.DatasetDisplay.plot].

        Returns
        -------
        DatasetDisplay
            The drawn display.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If `estimator` is not fitted.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from qwertyclf.plotting import DatasetDisplay
        >>> X = np.array([[0.0, 0.0], [0.2, 0.1], [2.0, 2.0], [2.1, 1.8]])
        >>> y = np.array(["no", "no", "yes", "yes"])
        >>> clf = LogisticRegression().fit(X, y)
        >>> DatasetDisplay.from_estimator(clf, X, y).classes.tolist()
        ['no', 'yes']
        """
        classes = _style.check_fitted_classifier(estimator)
        if y is None:
            y = estimator.predict(X)
        (y,) = _style.check_labels(y, names=["y"])
        X2, (xlabel, ylabel) = _columns.plane(X, features, estimator=estimator, y=y)
        disp = cls(X2, y, classes=classes, xlabel=xlabel, ylabel=ylabel)
        return disp.plot(ax=ax, **plot_kw)
