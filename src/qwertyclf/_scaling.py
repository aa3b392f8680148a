"""Robust scaling with smooth clipping: inputs an MLP trains well on."""

from __future__ import annotations

import numpy as np

#: Scaled values are smoothly bounded to about this many robust deviations.
CLIP = 3.0


def robust_scaling(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column centre (median) and scale (interquartile range / 1.349).

    A column whose quartiles agree is scaled by its standard deviation
    instead, and a constant column by 1, so no column is divided by zero.

    Examples
    --------
    >>> centre, scale = robust_scaling(np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0]]))
    >>> centre.tolist(), scale.round(3).tolist()
    ([1.0, 5.0], [0.741, 1.0])
    """
    centre = np.median(X, axis=0)
    q25, q75 = np.percentile(X, [25, 75], axis=0)
    scale = (q75 - q25) / 1.349
    std = X.std(axis=0)
    scale = np.where(scale > 0, scale, std)
    scale = np.where(scale > 0, scale, 1.0)
    return centre, scale


def smooth_clip(X: np.ndarray, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Scale `X` and bound it smoothly: z / sqrt(1 + (z / CLIP)^2).

    Values within a robust deviation or two are nearly unchanged; outliers
    approach +-`CLIP` instead of dominating a layer's inputs. A new array is
    returned; `X` is not modified.

    Examples
    --------
    >>> out = smooth_clip(np.array([[0.0], [1.0], [1000.0]]), np.zeros(1), np.ones(1))
    >>> out.round(3).ravel().tolist()
    [0.0, 0.949, 3.0]
    """
    z = (X - centre) / scale
    return z / np.sqrt(1.0 + (z / CLIP) ** 2)
