"""Predicted class regions in the plane, samples on top, Bayes boundary overlaid."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from qwertyclf.plotting import _style

_PLOT_METHODS = ("contourf", "pcolormesh")


def _grid_values(
    X: np.ndarray,
    idx: list[int],
    feature_values: Mapping[int | str, float] | ArrayLike | None,
    columns: list[Any] | None,
) -> np.ndarray:
    """Values of every feature for the grid rows; the two plotted ones are ignored.

    Features not plotted are held at `feature_values` (a full row, or a mapping
    index/column name → value for some of them) and at their median otherwise.
    """
    n_features = X.shape[1]
    values = np.median(X, axis=0)
    if feature_values is None:
        return values
    if isinstance(feature_values, Mapping):
        for key, value in feature_values.items():
            if isinstance(key, str) and columns is not None and key in columns:
                key = columns.index(key)
            if not isinstance(key, int | np.integer) or not (
                -n_features <= key < n_features
            ):
                raise ValueError(
                    f"feature_values has the key {key!r}, which is not a feature of "
                    f"X; use feature indices 0..{n_features - 1} or column names."
                )
            values[key] = value
        return values
    given = np.asarray(feature_values, dtype=float)
    if given.shape != (n_features,):
        raise ValueError(
            f"feature_values has shape {given.shape}; pass one value per feature, "
            f"shape ({n_features},), or a dict {{feature index: value}}."
        )
    return given.copy()


def _meshgrid(
    X2: np.ndarray, eps: float | None, grid_resolution: int
) -> tuple[np.ndarray, np.ndarray]:
    """Grid over the samples' range, padded by `eps` (5% of each range if `None`)."""
    lo, hi = X2.min(axis=0), X2.max(axis=0)
    if eps is None:
        pad = 0.05 * np.where(hi > lo, hi - lo, 1.0)
    else:
        pad = np.full(2, float(eps))
    return np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid_resolution),
        np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid_resolution),
    )


def _predict_grid(
    estimator: Any,
    rows: np.ndarray,
    classes: np.ndarray,
    batch_size: int,
    columns: list[Any] | None,
) -> np.ndarray:
    """Class position predicted for every grid row, predicting `batch_size` at once."""
    frame = None
    if columns is not None:
        import pandas as pd

        # Keep the feature names the estimator was fitted with.
        frame = pd.DataFrame(rows, columns=columns)
    out = np.empty(len(rows), dtype=int)
    for start in range(0, len(rows), batch_size):
        stop = start + batch_size
        chunk = rows[start:stop] if frame is None else frame.iloc[start:stop]
        out[start:stop] = _style.encode(
            estimator.predict(chunk), classes, name="the predictions"
        )
    return out


class DecisionRegionDisplay:
    """Predicted class over a grid in the plane, with the samples on top.

    Each class's region is filled in its class colour, the samples are drawn in
    the colour of their true class (or predicted class, without labels) with the
    misclassified ones circled, and, given a reference classifier such as the
    Bayes-optimal `GaussianBayesClassifier`, its decision boundary is drawn as
    black lines. The filled regions are drawn by scikit-learn's
    `DecisionBoundaryDisplay`. With more than two features the plane is a slice:
    the two chosen features vary, the others are held fixed (at their median by
    default). Build it with
    [`from_estimator`][qwertyclf.plotting.DecisionRegionDisplay.from_estimator].

    Parameters
    ----------
    xx0, xx1 : ndarray of shape (grid_resolution, grid_resolution)
        Grid coordinates, as from `numpy.meshgrid`.
    response : ndarray of int of shape (grid_resolution, grid_resolution)
        Predicted class position (index into `classes`) at each grid point.
    classes : ndarray of shape (n_classes,)
        Classes in display order; a class's colour is given by its position.
    X : ndarray of shape (n_samples, 2), default=None
        Samples to draw on top, in the plotted features.
    y_true : ndarray of shape (n_samples,), default=None
        True labels of `X`; when given, the points take their true colour and
        mistakes are circled.
    y_pred : ndarray of shape (n_samples,), default=None
        Predicted labels of `X`.
    bayes_response : ndarray of int of shape (grid_resolution, grid_resolution), \
default=None
        Class position predicted by the reference classifier at each grid point.
    xlabel, ylabel : str, default=None
        Axis labels.

    Attributes
    ----------
    misclassified : ndarray of bool of shape (n_samples,) or None
        Whether each sample is misclassified; `None` without `y_true`.
    boundary_display_ : sklearn.inspection.DecisionBoundaryDisplay
        The display that drew the regions.
    surface_ : matplotlib QuadContourSet or QuadMesh
        The filled regions.
    scatters_ : list of matplotlib PathCollection
        One scatter per class, in `classes` order (empty without `X`).
    circles_ : matplotlib PathCollection or None
        Circles around the misclassified samples.
    bayes_contours_ : list of matplotlib QuadContourSet or None
        The reference boundary: the outline of each reference class region.
    ax_ : matplotlib Axes
        Axes with the regions.
    figure_ : matplotlib Figure
        Figure containing the regions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from qwertyclf.plotting import DecisionRegionDisplay
    >>> X = np.array([[0.0, 0.0], [1.0, 0.2], [3.0, 3.0], [4.0, 3.5]])
    >>> y = np.array(["low", "low", "high", "high"])
    >>> clf = LogisticRegression().fit(X, y)
    >>> disp = DecisionRegionDisplay.from_estimator(clf, X, y, grid_resolution=50)
    >>> disp.response.shape, disp.misclassified.tolist()
    ((50, 50), [False, False, False, False])
    """

    def __init__(
        self,
        *,
        xx0: np.ndarray,
        xx1: np.ndarray,
        response: np.ndarray,
        classes: np.ndarray,
        X: np.ndarray | None = None,
        y_true: np.ndarray | None = None,
        y_pred: np.ndarray | None = None,
        bayes_response: np.ndarray | None = None,
        xlabel: str | None = None,
        ylabel: str | None = None,
    ) -> None:
        self.xx0 = xx0
        self.xx1 = xx1
        self.response = response
        self.classes = classes
        self.X = X
        self.y_true = y_true
        self.y_pred = y_pred
        self.bayes_response = bayes_response
        self.xlabel = xlabel
        self.ylabel = ylabel

    @property
    def misclassified(self) -> np.ndarray | None:
        """Boolean mask of the misclassified samples; `None` without labels."""
        if self.y_true is None or self.y_pred is None:
            return None
        return np.asarray(self.y_true) != np.asarray(self.y_pred)

    def plot(
        self,
        *,
        ax: Any = None,
        plot_method: str = "contourf",
        alpha: float = 0.35,
        title: str | None = "Decision regions",
        scatter_kw: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> DecisionRegionDisplay:
        """Draw the regions, the samples and the reference boundary.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        plot_method : {"contourf", "pcolormesh"}, default="contourf"
            How `DecisionBoundaryDisplay` fills the regions.
        alpha : float, default=0.35
            Opacity of the regions.
        title : str or None, default="Decision regions"
            Axes title.
        scatter_kw : dict, default=None
            Keyword arguments for the sample scatters, e.g. `{"s": 10}`.
        **kwargs
            Passed to `DecisionBoundaryDisplay.plot` (and on to `plot_method`).

        Returns
        -------
        DecisionRegionDisplay
            `self`, with the artists stored.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from qwertyclf.plotting import DecisionRegionDisplay
        >>> xx0, xx1 = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
        >>> disp = DecisionRegionDisplay(
        ...     xx0=xx0, xx1=xx1, response=(xx0 > 0.5).astype(int),
        ...     bayes_response=(xx0 > 0.4).astype(int), classes=np.array(["a", "b"]),
        ... )
        >>> fig, ax = plt.subplots()
        >>> disp.plot(ax=ax, plot_method="pcolormesh").surface_.get_array().size
        25
        """
        if plot_method not in _PLOT_METHODS:
            raise ValueError(
                f"plot_method must be one of {_PLOT_METHODS}; got {plot_method!r}."
            )
        ax = _style.get_axes(ax, figsize=(6, 6))
        classes = np.asarray(self.classes)

        self._plot_regions(ax, classes, plot_method, alpha, kwargs)
        handles = self._plot_samples(ax, classes, scatter_kw)
        handles += self._plot_bayes_boundary(ax)

        if handles:
            ax.legend(handles=handles, fontsize="small", loc="best")
        if title is not None:
            ax.set_title(title)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _plot_regions(
        self,
        ax: Any,
        classes: np.ndarray,
        plot_method: str,
        alpha: float,
        kwargs: dict[str, Any],
    ) -> None:
        """Fill each class's region in its colour with `DecisionBoundaryDisplay`."""
        import matplotlib as mpl
        from sklearn.inspection import DecisionBoundaryDisplay

        n_classes = len(classes)
        colors = _style.class_colors(n_classes)
        kwargs.setdefault("alpha", alpha)
        # Pin the colour scale to class positions so a class absent from the grid
        # does not shift the others' colours.
        if plot_method == "contourf":
            kwargs.setdefault("levels", np.arange(n_classes + 1) - 0.5)
        else:
            kwargs.setdefault("vmin", -0.5)
            kwargs.setdefault("vmax", n_classes - 0.5)
            kwargs.setdefault("shading", "auto")
        # scikit-learn >= 1.7 colours multiclass regions from `multiclass_colors`
        # (and ignores it for two classes); older versions take only a colormap.
        class_kw: dict[str, Any] = {}
        if "n_classes" in inspect.signature(DecisionBoundaryDisplay).parameters:
            class_kw = {
                "n_classes": n_classes,
                "multiclass_colors": [tuple(c) for c in colors],
            }
        if n_classes == 2 or not class_kw:
            kwargs.setdefault("cmap", mpl.colors.ListedColormap(colors))
        self.boundary_display_ = DecisionBoundaryDisplay(
            xx0=self.xx0,
            xx1=self.xx1,
            response=np.asarray(self.response),
            xlabel=self.xlabel or "",
            ylabel=self.ylabel or "",
            **class_kw,
        ).plot(plot_method=plot_method, ax=ax, **kwargs)
        self.surface_ = self.boundary_display_.surface_

    def _plot_samples(
        self, ax: Any, classes: np.ndarray, scatter_kw: dict[str, Any] | None
    ) -> list[Any]:
        """Scatter the samples by class, circle the mistakes; return legend handles."""
        self.scatters_ = []
        self.circles_ = None
        handles = []
        if self.X is not None:
            X = np.asarray(self.X, dtype=float)
            shown = self.y_true if self.y_true is not None else self.y_pred
            shown_idx = _style.encode(shown, classes)
            style = {"edgecolors": "black", "linewidths": 0.4, "s": 20}
            style.update(scatter_kw or {})
            self.scatters_ = _style.scatter_by_class(ax, X, shown_idx, classes, **style)
            handles += self.scatters_
            if self.misclassified is not None:
                self.circles_ = _style.circle(ax, X, self.misclassified)
                handles.append(self.circles_)
        return handles

    def _plot_bayes_boundary(self, ax: Any) -> list[Any]:
        """Outline each reference class region in black; return its legend handles."""
        from matplotlib.lines import Line2D

        self.bayes_contours_ = None
        if self.bayes_response is None:
            return []
        bayes = np.asarray(self.bayes_response)
        self.bayes_contours_ = []
        for k in np.unique(bayes):
            inside = (bayes == k).astype(float)
            # Outlines coincide along shared edges, so draw them solid: dashes
            # drawn twice out of phase would look like a solid line anyway.
            if 0 < inside.mean() < 1:
                self.bayes_contours_.append(
                    ax.contour(
                        self.xx0,
                        self.xx1,
                        inside,
                        levels=[0.5],
                        colors="black",
                        linewidths=1.5,
                    )
                )
        return [Line2D([], [], color="black", label="Bayes boundary")]

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: ArrayLike,
        y: ArrayLike | None = None,
        *,
        features: Sequence[int | str] = (0, 1),
        feature_values: Mapping[int | str, float] | ArrayLike | None = None,
        bayes_estimator: Any = None,
        grid_resolution: int = 200,
        eps: float | None = None,
        batch_size: int = 65_536,
        ax: Any = None,
        **plot_kw: Any,
    ) -> DecisionRegionDisplay:
        """Plot a fitted classifier's decision regions over the range of `X`.

        Parameters
        ----------
        estimator : fitted classifier
            Its predictions colour the grid; its `classes_` give the colours.
        X : array-like of shape (n_samples, n_features)
            Samples, drawn on top; they also set the grid's extent. At least two
            features.
        y : array-like of shape (n_samples,), default=None
            True labels; when given, samples take their true colour and mistakes
            are circled.
        features : pair of int or str, default=(0, 1)
            The two features spanning the plane (indices, or DataFrame column
            names).
        feature_values : array-like of shape (n_features,) or dict, default=None
            Where the other features are held: one value per feature (the plotted
            ones are ignored), or a dict {index or column name: value} for some;
            every feature not given is held at its median in `X`.
        bayes_estimator : fitted classifier, default=None
            Reference classifier (e.g. a `GaussianBayesClassifier`) whose boundary
            is drawn over the regions, evaluated on the same grid.
        grid_resolution : int, default=200
            Grid points along each axis.
        eps : float, default=None
            How far the grid extends beyond the samples on each side; by default
            5% of each feature's range.
        batch_size : int, default=65536
            Grid points predicted per call, which bounds memory on large grids.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when `None`.
        **plot_kw
            Passed to [`plot`][qwertyclf.plotting.DecisionRegionDisplay.plot].

        Returns
        -------
        DecisionRegionDisplay
            The drawn display.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If `estimator` (or `bayes_estimator`) is not fitted.
        ValueError
            If `X` has fewer than two features, `features` are out of range,
            `X` and `y` differ in length, or `grid_resolution` < 2.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from qwertyclf.plotting import DecisionRegionDisplay
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(60, 3))
        >>> y = np.where(X[:, 0] + X[:, 2] > 0, "right", "left")
        >>> clf = LogisticRegression().fit(X, y)
        >>> disp = DecisionRegionDisplay.from_estimator(
        ...     clf, X, y, features=(0, 2), feature_values={1: 0.0}, grid_resolution=30
        ... )
        >>> disp.ax_.get_xlabel(), disp.ax_.get_ylabel()
        ('Feature 0', 'Feature 2')
        """
        classes = _style.check_fitted_classifier(estimator)
        if bayes_estimator is not None:
            bayes_classes = _style.check_fitted_classifier(bayes_estimator)
        if not grid_resolution >= 2:
            raise ValueError(
                f"grid_resolution must be at least 2; got {grid_resolution}."
            )
        if y is not None:
            (y,) = _style.check_labels(y, names=["y"])
        idx, (xlabel, ylabel) = _style.check_features(X, features)
        X_arr = _style.check_X(X, y)
        columns = list(X.columns) if hasattr(X, "columns") else None

        X2 = X_arr[:, idx]
        xx0, xx1 = _meshgrid(X2, eps, grid_resolution)
        rows = np.tile(_grid_values(X_arr, idx, feature_values, columns), (xx0.size, 1))
        rows[:, idx[0]] = xx0.ravel()
        rows[:, idx[1]] = xx1.ravel()

        response = _predict_grid(estimator, rows, classes, batch_size, columns)
        bayes_response = None
        if bayes_estimator is not None:
            bayes_response = _predict_grid(
                bayes_estimator, rows, bayes_classes, batch_size, columns
            ).reshape(xx0.shape)
        disp = cls(
            xx0=xx0,
            xx1=xx1,
            response=response.reshape(xx0.shape),
            classes=classes,
            X=X2,
            y_true=y,
            y_pred=estimator.predict(X),
            bayes_response=bayes_response,
            xlabel=xlabel,
            ylabel=ylabel,
        )
        return disp.plot(ax=ax, **plot_kw)
