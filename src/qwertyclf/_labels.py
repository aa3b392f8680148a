"""Class labels to indices: the one encoder the estimator and the plots share."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def encode_labels(
    y: ArrayLike,
    classes: np.ndarray,
    *,
    name: str = "y",
    what: str = "classes",
    hint: str = "",
) -> np.ndarray:
    """Position of each label of `y` in `classes`.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels to encode.
    classes : ndarray of shape (n_classes,)
        The known labels, in any order.
    name : str, default="y"
        How error messages call `y`.
    what : str, default="classes"
        How error messages call `classes`.
    hint : str, default=""
        A sentence appended to the error message (what to do about it).

    Returns
    -------
    indices : ndarray of shape (n_samples,)
        `classes[indices]` equals `y`.

    Raises
    ------
    ValueError
        If `y` holds a label that is not in `classes` (or of another type).

    Examples
    --------
    >>> import numpy as np
    >>> encode_labels(["b", "a", "b"], np.array(["b", "a"]))
    array([0, 1, 0])
    """
    y = np.asarray(y)
    classes = np.asarray(classes)
    order = np.argsort(classes, kind="stable")
    sorted_classes = classes[order]
    try:
        pos = np.searchsorted(sorted_classes, y)
    except TypeError as exc:  # e.g. int labels checked against str classes
        raise ValueError(
            f"{name} holds labels of another type than the {what} "
            f"{classes.tolist()}.{hint}"
        ) from exc
    pos = np.clip(pos, 0, len(classes) - 1)
    unknown = sorted_classes[pos] != y
    if np.any(unknown):
        raise ValueError(
            f"{name} contains labels that are not among the {what}: "
            f"{np.unique(y[unknown]).tolist()}; the {what} are "
            f"{classes.tolist()}.{hint}"
        )
    return order[pos]
