"""Predicted class regions in the plane, samples on top, Bayes boundary overlaid."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from qwertyclf.plotting import _columns, _style

_PLOT_METHODS = ("contourf", "pcolormesh")


def _meshgrid(
    X2: np.ndarray, eps: float | None, grid_resolution: int
) -> tuple[np.ndarray, np.ndarray]:
    """Grid over the samples' range, padded by `eps` (5% of each range if `None`)."""
    seen = ~np.isnan(X2)
    if not seen.any(axis=0).all():
        raise ValueError(
            "A plotted feature has no values in X (every one is missing); pick "
            "features with values."
        )
    lo, hi = np.nanmin(X2, axis=0), np.nanmax(X2, axis=0)
    if eps is None:
        pad = 0.05 * np.where(hi > lo, hi - lo, 1.0)
    else:
        pad = np.full(2, float(eps))
    return np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid_resolution),
        np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid_resolution),
    )


def _predict_grid(
    estimator: Any, rows: Any, classes: np.ndarray, batch_size: int
) -> np.ndarray:
    """Class position predicted for every grid row, predicting `batch_size` at once."""
    n_rows = len(rows)
    out = np.empty(n_rows, dtype=int)
    for start in range(0, n_rows, batch_size):
        stop = min(start + batch_size, n_rows)
        out[start:stop] = _style.encode(
            estimator.predict(_columns.take_rows(rows, start, stop)),
            classes,
            name="the predictions",
        )
    return out


def _alphas(distance: np.ndarray) -> np.ndarray:
    """Opacity of each point from its distance to the slice: 1 on it, 0.15 far."""
    return 0.15 + 0.85 * np.exp(-0.5 * np.asarray(distance, dtype=float) ** 2)


class DecisionRegionDisplay:
    """Predicted class over a grid in the plane, with the samples on top.

    Each class's region is filled in its class colour, the samples are drawn in
    the colour of their true class (or predicted class, without labels) with the
    misclassified ones circled, and, given a reference classifier such as the
    Bayes-optimal `GaussianBayesClassifier`, its decision boundary is drawn as
    black lines. The filled regions are drawn by scikit-learn's
    `DecisionBoundaryDisplay`. Build it with
    [`from_estimator`][qwertyclf.plotting.DecisionRegionDisplay.from_estimator],
    which takes any fitted classifier or pipeline and the rows it was fitted on
    (an array, or a raw DataFrame with categorical columns and missing values).

    With more than two features the plane is a slice: the two plotted
    (numeric) features vary and every other feature is held at one value, its
    median for a numeric column and its most frequent value for a categorical
    one unless `feature_values` says otherwise. The figure says so in a note,
    the values are kept in `fixed_values`, and the samples, drawn at their two
    plotted values, are projected onto the slice: a sample whose other
    features are far from the fixed values can sit in a region of another
    class and still be classified correctly. Such samples are drawn fainter.

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
    fixed_values : dict, default=None
        Where the features not plotted are held on the slice: {column name
        (or index, for an array without names): value}. `None` (or empty)
        when `X` has only the two plotted features.
    fixed_by : dict, default=None
        How each fixed value was chosen, with the keys of `fixed_values`:
        "median", "most frequent" or "given". Shown in the note.
    slice_distance : ndarray of shape (n_samples,), default=None
        How far each sample lies from the slice (root mean square over the
        fixed features of the distance in robust standard deviations, 1 for
        another category); points are drawn fainter the farther they are.

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
    slice_note_ : matplotlib Text or None
        The note naming the fixed values of a slice; `None` without one.
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
    >>> disp.response.shape, disp.misclassified.tolist(), disp.fixed_values
    ((50, 50), [False, False, False, False], None)
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
        fixed_values: dict[Any, Any] | None = None,
        fixed_by: dict[Any, str] | None = None,
        slice_distance: np.ndarray | None = None,
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
        self.fixed_values = fixed_values
        self.fixed_by = fixed_by
        self.slice_distance = slice_distance

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
            Keyword arguments for the sample scatters, e.g. `{"s": 10}`. An
            `"alpha"` here replaces the fading of samples far from a slice.
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

        A slice through a third feature: the note says where it is, and the
        sample one robust standard deviation away from it is fainter.

        >>> disp = DecisionRegionDisplay(
        ...     xx0=xx0, xx1=xx1, response=(xx0 > 0.5).astype(int),
        ...     classes=np.array(["a", "b"]), X=np.array([[0.2, 0.3], [0.8, 0.9]]),
        ...     y_true=np.array(["a", "b"]), y_pred=np.array(["a", "b"]),
        ...     fixed_values={"depth": 1.0}, fixed_by={"depth": "given"},
        ...     slice_distance=np.array([0.0, 1.0]),
        ... )
        >>> print(disp.plot().slice_note_.get_text())
        Slice: other features fixed at
          depth = 1 (given)
        Points are projected onto it, fainter the farther away.
        >>> [round(float(s.get_facecolor()[0, 3]), 2) for s in disp.scatters_]
        [1.0, 0.67]
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
        self._plot_slice_note(ax)

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
            alphas = None
            if self.slice_distance is not None and "alpha" not in style:
                alphas = _alphas(self.slice_distance)
            self.scatters_ = _style.scatter_by_class(
                ax, X, shown_idx, classes, alphas=alphas, **style
            )
            handles += self.scatters_
            if self.misclassified is not None:
                self.circles_ = _style.circle(ax, X, self.misclassified)
                if alphas is not None:
                    _style.fade(self.circles_, alphas[self.misclassified])
                handles.append(self.circles_)
        return handles

    def _plot_slice_note(self, ax: Any) -> None:
        """Say, inside the axes, where the other features are held."""
        self.slice_note_ = None
        if not self.fixed_values:
            return
        self.slice_note_ = ax.text(
            0.01,
            0.01,
            _columns.slice_note(self.fixed_values, self.fixed_by or {}),
            transform=ax.transAxes,
            ha="left",
            va="bottom",
            fontsize="x-small",
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85},
            zorder=5,
        )

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
        features: Sequence[int | str] | None = None,
        feature_values: Mapping[int | str, Any] | ArrayLike | None = None,
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
        estimator : fitted classifier or pipeline
            Anything fitted with `predict` and `classes_`: a `QwertyClassifier`,
            `QwertyClassifierCV`, `QwertyEnsembleClassifier`, a scikit-learn
            classifier, or a `Pipeline` ending in one. Its predictions colour
            the grid; its `classes_` give the colours.
        X : array-like or DataFrame of shape (n_samples, n_features)
            Samples as the estimator takes them (a raw DataFrame for a
            pipeline that encodes its columns), drawn on top; they also set
            the grid's extent. At least two numeric features.
        y : array-like of shape (n_samples,), default=None
            True labels; when given, samples take their true colour and mistakes
            are circled.
        features : pair of int or str, default=None
            The two numeric features spanning the plane: column positions, or
            column names (of a DataFrame, or the estimator's
            `feature_names_in_`). `None` takes the first two numeric columns.
            A categorical feature cannot be an axis.
        feature_values : array-like of shape (n_features,) or dict, default=None
            Where the other features are held on the slice: one value per
            feature (the plotted ones are ignored), or a dict {index or column
            name: value} for some. Every feature not given is held at its
            median in `X` (numeric) or its most frequent value (categorical).
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
            If `X` has fewer than two numeric features, `features` are out of
            range or categorical, `X` and `y` differ in length, or
            `grid_resolution` < 2.

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
        >>> disp.ax_.get_xlabel(), disp.ax_.get_ylabel(), disp.fixed_values
        ('Feature 0', 'Feature 2', {1: 0.0})

        On a DataFrame, the axes take the column names, and the features not
        plotted are held at their median (numbers) or most frequent value
        (categories):

        >>> import pandas as pd
        >>> frame = pd.DataFrame(
        ...     {"width": X[:, 0], "depth": X[:, 1], "height": X[:, 2],
        ...      "colour": np.where(X[:, 1] > 0.5, "red", "blue")}
        ... )
        >>> from sklearn.compose import make_column_transformer
        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.preprocessing import OneHotEncoder
        >>> pipe = make_pipeline(
        ...     make_column_transformer(
        ...         (OneHotEncoder(), ["colour"]), remainder="passthrough"
        ...     ),
        ...     LogisticRegression(),
        ... ).fit(frame, y)
        >>> disp = DecisionRegionDisplay.from_estimator(
        ...     pipe, frame, y, features=("width", "height"), grid_resolution=30
        ... )
        >>> disp.ax_.get_xlabel(), disp.fixed_by, disp.fixed_values["colour"]
        ('width', {'depth': 'median', 'colour': 'most frequent'}, 'blue')
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
        columns = _columns.read_columns(X, estimator=estimator)
        idx, (xlabel, ylabel) = _columns.plane_features(columns, features)
        _columns.check_rows(columns, y=y)
        at = _columns.slice_at(columns, idx, feature_values)

        X2 = _columns.points(columns, idx)
        xx0, xx1 = _meshgrid(X2, eps, grid_resolution)
        rows = _columns.grid_rows(columns, idx, at, xx0, xx1)

        response = _predict_grid(estimator, rows, classes, batch_size)
        bayes_response = None
        if bayes_estimator is not None:
            bayes_response = _predict_grid(
                bayes_estimator, rows, bayes_classes, batch_size
            ).reshape(xx0.shape)
        fixed_values = fixed_by = None
        if at.values:
            fixed_values = {columns.key(j): v for j, v in at.values.items()}
            fixed_by = {columns.key(j): by for j, by in at.by.items()}
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
            fixed_values=fixed_values,
            fixed_by=fixed_by,
            slice_distance=_columns.slice_distance(columns, at),
        )
        return disp.plot(ax=ax, **plot_kw)
