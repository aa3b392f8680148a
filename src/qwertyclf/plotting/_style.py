"""Class colours, class names and label handling shared by every display.

Every display maps a label to its position in `classes` and takes its colour from
that position, so a class has the same colour and name on every panel of
[`plot_diagnostics`][qwertyclf.plotting.plot_diagnostics] whatever the label type.
matplotlib is only imported inside the functions that draw, so importing
`qwertyclf.plotting` stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import column_or_1d
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted

from qwertyclf._labels import encode_labels

# The palette of the notebook the qwerty data come from.
CMAP = "Set2"
PREDICTED_COLOR = "tab:blue"
TRUE_COLOR = "tab:red"
ERROR_EDGE_COLOR = "black"


def class_colors(n_classes: int) -> np.ndarray:
    """RGBA colour of each class position: Set2, then tab20 beyond 8 classes."""
    import matplotlib as mpl

    for name in (CMAP, "tab20"):
        cmap = mpl.colormaps[name]
        if n_classes <= cmap.N:
            return mpl.colors.to_rgba_array(cmap.colors[:n_classes])
    return mpl.colormaps["gist_rainbow"](np.linspace(0, 1, n_classes))


def class_names(classes: ArrayLike) -> list[str]:
    """Text shown for each class in legends and tick labels."""
    return [str(c) for c in np.asarray(classes).tolist()]


def resolve_classes(
    *ys: ArrayLike | None, classes: ArrayLike | None = None
) -> np.ndarray:
    """The given `classes`, else the sorted union of the labels in `ys`."""
    if classes is not None:
        classes = np.asarray(classes)
        if classes.ndim != 1 or len(classes) == 0:
            raise ValueError("labels must be a non-empty 1d array of class labels.")
        return classes
    return unique_labels(*[y for y in ys if y is not None])


def encode(y: ArrayLike, classes: np.ndarray, *, name: str = "y") -> np.ndarray:
    """Position of each label of `y` in `classes`; ValueError for unknown labels."""
    return encode_labels(y, classes, name=name, hint=" Pass labels= with every class.")


def check_labels(*ys: ArrayLike, names: Sequence[str]) -> list[np.ndarray]:
    """1d arrays of equal length (ValueError otherwise)."""
    arrays = [column_or_1d(y, dtype=None) for y in ys]
    lengths = {name: len(a) for name, a in zip(names, arrays, strict=True)}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"Inconsistent numbers of samples: {lengths}.")
    return arrays


def check_fitted_classifier(estimator: Any) -> np.ndarray:
    """`estimator.classes_` of a fitted classifier (NotFittedError otherwise)."""
    check_is_fitted(estimator)
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        raise ValueError(
            f"{type(estimator).__name__} has no classes_; these displays need a "
            "fitted classifier."
        )
    return np.asarray(classes)


def final_step(estimator: Any) -> Any:
    """The last step of a (nested) `Pipeline`, else `estimator` itself."""
    while hasattr(estimator, "steps") and estimator.steps:
        estimator = estimator.steps[-1][1]
    return estimator


def get_axes(ax: Any = None, **subplots_kw: Any) -> Any:
    """`ax`, or the axes of a new figure."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(**subplots_kw)
    return ax


def scatter_by_class(
    ax: Any,
    X2: np.ndarray,
    y_idx: np.ndarray,
    classes: np.ndarray,
    *,
    alphas: np.ndarray | None = None,
    **kwargs: Any,
) -> list[Any]:
    """One scatter per class (so legends name them), colour from class position.

    `alphas`, one opacity per point, fades points one by one.
    """
    colors = class_colors(len(classes))
    scatters = []
    for i, name in enumerate(class_names(classes)):
        mask = y_idx == i
        scatter = ax.scatter(
            X2[mask, 0], X2[mask, 1], color=colors[i], label=name, **kwargs
        )
        if alphas is not None:
            fade(scatter, alphas[mask])
        scatters.append(scatter)
    return scatters


def fade(collection: Any, alphas: np.ndarray) -> None:
    """Give each point of a scatter its own opacity, face and edge alike."""
    for get, set_ in (
        (collection.get_facecolor, collection.set_facecolor),
        (collection.get_edgecolor, collection.set_edgecolor),
    ):
        colours = np.asarray(get(), dtype=float)
        if len(colours) == 0:  # "none": nothing to fade
            continue
        colours = np.broadcast_to(colours, (len(alphas), 4)).copy()
        colours[:, 3] *= alphas
        set_(colours)


def circle(ax: Any, X2: np.ndarray, mask: np.ndarray, **kwargs: Any) -> Any:
    """Circle the points of `mask`, the way mistakes are marked in the plane."""
    style = dict(
        s=80,
        facecolors="none",
        edgecolors=ERROR_EDGE_COLOR,
        linewidths=1.5,
        label=f"Misclassified ({int(mask.sum())})",
    )
    style.update(kwargs)
    return ax.scatter(X2[mask, 0], X2[mask, 1], **style)
