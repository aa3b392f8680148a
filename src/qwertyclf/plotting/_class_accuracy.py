"""Accuracy of each class as bars."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_consistent_length

from qwertyclf._reference import reference_per_class
from qwertyclf.metrics import per_class_accuracy
from qwertyclf.plotting import _style


class ClassAccuracyDisplay:
    """Accuracy per class as bars, with the overall accuracy as a line.

    The accuracy of each class as a picture: one bar per class in the class
    colour, labelled with its percentage, a dashed line at the overall accuracy,
    and optionally a black tick per bar at a reference accuracy (such as the Bayes
    classifier's). Build it with
    [`from_estimator`][qwertyclf.plotting.ClassAccuracyDisplay.from_estimator] or
    [`from_predictions`][qwertyclf.plotting.ClassAccuracyDisplay.from_predictions].

    Parameters
    ----------
    accuracy : ndarray of shape (n_classes,)
        Accuracy of each class (`nan` for a class without samples).
    classes : ndarray of shape (n_classes,)
        Classes in display order.
    overall_accuracy : float
        Accuracy over all samples.
    reference : ndarray of shape (n_classes,), default=None
        Reference accuracy per class, e.g. the Bayes-optimal one.
    reference_name : str, default="Bayes"
        Legend label of the reference.

    Attributes
    ----------
    bars_ : matplotlib BarContainer
        The bars, in `classes` order.
    bar_labels_ : list of matplotlib Text
        Percentages above the bars.
    overall_line_ : matplotlib Line2D
        The overall accuracy.
    reference_lines_ : matplotlib LineCollection or None
        One tick per class at the reference accuracy.
    ax_ : matplotlib Axes
        Axes with the bars.
    figure_ : matplotlib Figure
        Figure containing the bars.

    Examples
    --------
    >>> from qwertyclf.plotting import ClassAccuracyDisplay
    >>> disp = ClassAccuracyDisplay.from_predictions(
    ...     ["a", "a", "b", "b"], ["a", "b", "b", "b"], reference={"a": 0.9, "b": 0.9}
    ... )
    >>> [float(bar.get_height()) for bar in disp.bars_], disp.overall_accuracy
    ([0.5, 1.0], 0.75)
    """

    def __init__(
        self,
        accuracy: np.ndarray,
        *,
        classes: np.ndarray,
        overall_accuracy: float,
        reference: np.ndarray | None = None,
        reference_name: str = "Bayes",
    ) -> None:
        self.accuracy = accuracy
        self.classes = classes
        self.overall_accuracy = overall_accuracy
        self.reference = reference
        self.reference_name = reference_name

    def plot(
        self,
        *,
        ax: Any = None,
        title: str | None = "Accuracy per class",
        bar_kw: dict[str, Any] | None = None,
    ) -> ClassAccuracyDisplay:
        """Draw the bars.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        title : str or None, default="Accuracy per class"
            Axes title.
        bar_kw : dict, default=None
            Keyword arguments for `Axes.bar`.

        Returns
        -------
        ClassAccuracyDisplay
            `self`, with the artists stored.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from qwertyclf.plotting import ClassAccuracyDisplay
        >>> disp = ClassAccuracyDisplay(
        ...     [1.0, 0.8], classes=[0, 1], overall_accuracy=0.9
        ... )
        >>> fig, ax = plt.subplots()
        >>> disp.plot(ax=ax).overall_line_.get_ydata()
        [0.9, 0.9]
        """
        ax = _style.get_axes(ax, figsize=(6, 4))
        classes = np.asarray(self.classes)
        accuracy = np.asarray(self.accuracy, dtype=float)
        x = np.arange(len(classes))
        names = _style.class_names(classes)

        style = {"color": _style.class_colors(len(classes)), "edgecolor": "black"}
        style.update(bar_kw or {})
        self.bars_ = ax.bar(x, np.nan_to_num(accuracy), **style)
        self.bar_labels_ = ax.bar_label(
            self.bars_,
            labels=["n/a" if np.isnan(a) else f"{a:.1%}" for a in accuracy],
            # Inside the bars, clear of the reference ticks near their tops.
            label_type="center",
        )
        overall = float(self.overall_accuracy)
        self.overall_line_ = ax.axhline(
            overall, color="tab:gray", linestyle="--", label=f"Overall ({overall:.1%})"
        )
        self.reference_lines_ = None
        if self.reference is not None:
            self.reference_lines_ = ax.hlines(
                np.asarray(self.reference, dtype=float),
                x - 0.4,
                x + 0.4,
                colors="black",
                linewidth=2.5,
                label=self.reference_name,
            )
        ax.set_xticks(x, names)
        # Room above 100% for the legend.
        ax.set(ylim=(0, 1.2), ylabel="Accuracy", xlabel="Class", title=title)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.legend(loc="upper right", ncols=2, fontsize="small")
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
        reference: Any = None,
        reference_name: str = "Bayes",
        ax: Any = None,
        **plot_kw: Any,
    ) -> ClassAccuracyDisplay:
        """Plot per-class accuracy of given predictions.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_pred : array-like of shape (n_samples,)
            Predicted labels.
        labels : array-like of shape (n_classes,), default=None
            Classes in display order; by default the sorted union of both.
        reference : mapping, array-like or PerClassAccuracy, default=None
            Reference accuracy per class: a mapping label → accuracy, an array
            aligned with the classes, or an object with a `per_class` attribute
            holding either (such as a Bayes-accuracy result).
        reference_name : str, default="Bayes"
            Legend label of the reference.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        **plot_kw
            Passed to [`plot`][qwertyclf.plotting.ClassAccuracyDisplay.plot].

        Returns
        -------
        ClassAccuracyDisplay
            The drawn display.

        Raises
        ------
        ValueError
            If `y_true` and `y_pred` differ in length, or the reference has no
            value for some class.

        Examples
        --------
        >>> from qwertyclf.plotting import ClassAccuracyDisplay
        >>> disp = ClassAccuracyDisplay.from_predictions([3, 5, 7, 7], [3, 5, 7, 3])
        >>> disp.accuracy.tolist(), [t.get_text() for t in disp.ax_.get_xticklabels()]
        ([1.0, 1.0, 0.5], ['3', '5', '7'])
        """
        result = per_class_accuracy(y_true, y_pred, labels=labels)
        disp = cls(
            result.accuracy,
            classes=result.classes,
            overall_accuracy=result.overall,
            reference=reference_per_class(reference, result.classes),
            reference_name=reference_name,
        )
        return disp.plot(ax=ax, **plot_kw)

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: ArrayLike,
        y: ArrayLike,
        *,
        reference: Any = None,
        reference_name: str = "Bayes",
        ax: Any = None,
        **plot_kw: Any,
    ) -> ClassAccuracyDisplay:
        """Plot per-class accuracy of a fitted classifier on `X`, `y`.

        Parameters
        ----------
        estimator : fitted classifier
            Its `classes_` give the class order.
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            True labels.
        reference : mapping, array-like or PerClassAccuracy, default=None
            Reference accuracy per class; see
            [`from_predictions`][qwertyclf.plotting.ClassAccuracyDisplay.from_predictions].
        reference_name : str, default="Bayes"
            Legend label of the reference.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        **plot_kw
            Passed to [`plot`][qwertyclf.plotting.ClassAccuracyDisplay.plot].

        Returns
        -------
        ClassAccuracyDisplay
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
        >>> from qwertyclf.plotting import ClassAccuracyDisplay
        >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
        >>> y = np.array(["a", "a", "b", "b"])
        >>> clf = LogisticRegression().fit(X, y)
        >>> len(ClassAccuracyDisplay.from_estimator(clf, X, y).bars_)
        2
        """
        classes = _style.check_fitted_classifier(estimator)
        check_consistent_length(X, y)
        return cls.from_predictions(
            y,
            estimator.predict(X),
            labels=classes,
            reference=reference,
            reference_name=reference_name,
            ax=ax,
            **plot_kw,
        )
