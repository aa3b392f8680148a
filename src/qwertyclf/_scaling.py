"""Robust scaling with smooth clipping: inputs an MLP trains well on."""

from __future__ import annotations

import numpy as np

#: Scaled values are smoothly bounded to about this many robust deviations.
CLIP = 3.0


def robust_scaling(
    X: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-column centre (median) and scale (interquartile range / 1.349).

    A column whose quartiles agree is scaled by its standard deviation
    instead, and a constant column by 1, so no column is divided by zero.
    With `sample_weight`, each statistic is that of the rows repeated as
    often as their (integer) weights say (`weighted_percentile`).

    Examples
    --------
    >>> centre, scale = robust_scaling(np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0]]))
    >>> centre.tolist(), scale.round(3).tolist()
    ([1.0, 5.0], [0.741, 1.0])
    """
    if sample_weight is None:
        centre = np.median(X, axis=0)
        q25, q75 = np.percentile(X, [25, 75], axis=0)
        std = X.std(axis=0)
    else:
        stats = np.array(
            [weighted_percentile(column, sample_weight, (50, 25, 75)) for column in X.T]
        ).reshape(-1, 3)
        centre, q25, q75 = stats.T
        mean = np.average(X, axis=0, weights=sample_weight)
        std = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=sample_weight))
    scale = (q75 - q25) / 1.349
    scale = np.where(scale > 0, scale, std)
    scale = np.where(scale > 0, scale, 1.0)
    return centre, scale


def weighted_percentile(
    values: np.ndarray, weights: np.ndarray, q: tuple[float, ...]
) -> np.ndarray:
    """Percentiles `q` of `values`, each counted `weights` times.

    For integer weights this is `np.percentile(np.repeat(values, weights), q)`
    (linear interpolation); other positive weights follow the same rule, so
    a weight of 0 is a row left out.

    Examples
    --------
    >>> weighted_percentile(np.array([1.0, 2.0, 10.0]), np.array([2, 1, 1]), (50,))
    array([1.5])
    >>> float(np.percentile([1.0, 1.0, 2.0, 10.0], 50))
    1.5
    """
    order = np.argsort(values, kind="stable")
    values, cumulative = values[order], np.cumsum(weights[order])
    last = len(values) - 1
    out = np.empty(len(q))
    for i, p in enumerate(q):
        position = max(p / 100 * (cumulative[-1] - 1), 0.0)
        below = np.floor(position)
        low = min(int(np.searchsorted(cumulative, below, side="right")), last)
        high = min(int(np.searchsorted(cumulative, below + 1, side="right")), last)
        out[i] = values[low] + (position - below) * (values[high] - values[low])
    return out


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
