"""Accuracy references (such as the Bayes-optimal accuracy) aligned with classes.

Shared by `qwertyclf.metrics`, whose accuracy table shows a reference column, and
`qwertyclf.plotting`, whose displays mark a reference per class; neither owns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def as_key(label: Any) -> Any:
    """`label` as a Python scalar, so that numpy and Python labels match as keys."""
    return label.item() if isinstance(label, np.generic) else label


def reference_per_class(reference: Any, classes: np.ndarray) -> np.ndarray | None:
    """Align a per-class reference with `classes`; `None` if it has none.

    Accepts a mapping label → accuracy (a `PerClassAccuracy` included), an object
    with a `per_class` attribute holding either (such as the `BayesAccuracy` of
    `qwertyclf.datasets`, a float with per-class values), or an array aligned with
    `classes`. A bare number, or an empty `per_class`, carries no per-class values.
    """
    if reference is None:
        return None
    if hasattr(reference, "per_class") and not isinstance(reference, Mapping):
        reference = reference.per_class
        if reference is None or len(reference) == 0:
            return None
    if isinstance(reference, Mapping):
        keys = {as_key(k): v for k, v in reference.items()}
        missing = [c for c in classes.tolist() if c not in keys]
        if missing:
            raise ValueError(
                f"The per-class reference has no value for the classes {missing}; "
                "give one value per class."
            )
        return np.array([float(keys[c]) for c in classes.tolist()])
    values = np.asarray(reference, dtype=float)
    if values.ndim == 0:
        return None
    if values.shape != (len(classes),):
        raise ValueError(
            f"The per-class reference has shape {values.shape}; expected one value "
            f"per class, i.e. shape ({len(classes)},)."
        )
    return values


def reference_overall(reference: Any) -> float | None:
    """The overall value of a reference, if it has one (a number, `.overall`)."""
    if reference is None:
        return None
    overall = getattr(reference, "overall", None)
    if overall is not None and not callable(overall):
        return float(overall)
    if isinstance(reference, Mapping):
        return None
    values = np.asarray(reference)
    if values.ndim == 0 and values.dtype.kind in "biuf":
        return float(values)
    return None
