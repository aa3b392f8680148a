"""Parameter checks shared by the generators and the Bayes-optimal references.

Every check raises a `ValueError` (or a `TypeError` for a wrong type) whose message
starts with the name of the offending parameter, so the caller's signature can be
read straight from the error.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

# Relative tolerance of the symmetry check: loose enough for matrices typed in by
# hand or built as `A @ A.T`, tight enough to reject a real asymmetry.
_SYMMETRY_RTOL = 1e-8
# Priors are normalised exactly after this check, so it only catches mistakes.
_PRIORS_ATOL = 1e-8


def check_random_state(random_state: object) -> np.random.RandomState:
    """Resolve `random_state` to a private `RandomState`.

    An int seeds a new `RandomState` (the same stream as `np.random.seed(int)`), an
    instance is used as is, and `None` gives a freshly seeded one. Unlike
    `sklearn.utils.check_random_state`, `None` does not hand out NumPy's global
    singleton: no generator in `qwertyclf.datasets` draws from or advances the
    global RNG.
    """
    if random_state is None:
        return np.random.RandomState()
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        if not 0 <= random_state < 2**32:
            raise ValueError(
                f"random_state must be between 0 and 2**32 - 1, got {random_state}."
            )
        return np.random.RandomState(int(random_state))
    raise ValueError(
        "random_state must be None, an int or a numpy.random.RandomState, "
        f"got {random_state!r}."
    )


def check_count(value: object, name: str, *, minimum: int = 1) -> int:
    """Check an integer count such as `n_per_class` or `n_classes`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def check_positive(value: object, name: str) -> float:
    """Check a strictly positive, finite real scalar such as `blur` or `tol`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value}.")
    return float(value)


def _as_float_array(value: ArrayLike, name: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric array-like; {exc}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must contain only finite values.")
    return array


def check_class_counts(
    n_samples: int | Sequence[int] | ArrayLike, name: str = "n_samples"
) -> int | np.ndarray:
    """Check a total count (int) or one count per class (1-D, all >= 1)."""
    if isinstance(n_samples, numbers.Integral) and not isinstance(n_samples, bool):
        return check_count(n_samples, name)
    if isinstance(n_samples, (str, bytes, bool)) or np.ndim(n_samples) != 1:
        raise TypeError(
            f"{name} must be an int or a 1-D sequence of ints (one per class), "
            f"got {n_samples!r}."
        )
    counts = np.asarray(n_samples)
    if counts.size == 0:
        raise ValueError(f"{name} must have at least one class.")
    if counts.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold ints, got dtype {counts.dtype}.")
    if np.any(counts < 1):
        raise ValueError(f"{name} must be >= 1 for every class, got {counts.tolist()}.")
    return counts.astype(np.int64)


def check_means(
    means: ArrayLike,
    *,
    n_classes: int | None = None,
    n_features: int | None = None,
    name: str = "means",
) -> np.ndarray:
    """Check class means: a finite 2-D array of shape (n_classes, n_features)."""
    array = _as_float_array(means, name)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(
            f"{name} must be 2-D of shape (n_classes, n_features), got shape "
            f"{array.shape}; for 1-D data give one row per class, e.g. [[0], [2]]."
        )
    if n_classes is not None and array.shape[0] != n_classes:
        raise ValueError(
            f"{name} has {array.shape[0]} rows but n_classes={n_classes}; give one "
            "mean per class."
        )
    if n_features is not None and array.shape[1] != n_features:
        raise ValueError(
            f"{name} has {array.shape[1]} columns but n_features={n_features}."
        )
    return array


def check_covariances(
    covariances: ArrayLike,
    *,
    n_classes: int,
    n_features: int,
    name: str = "covariances",
) -> np.ndarray:
    """Expand `covariances` to full matrices of shape (n_classes, d, d).

    Accepted shapes, with `K = n_classes` and `d = n_features`:

    - scalar: one variance shared by all classes (`c * I`);
    - `(K,)`: one variance per class (spherical);
    - `(K, d)`: one diagonal per class (unless `K == d`, see below);
    - `(d, d)`: one full matrix shared by all classes;
    - `(K, d, d)`: one full matrix per class.

    A square 2-D array is always read as a shared matrix, also when `K == d`; give
    per-class diagonals as a `(K, d, d)` stack of diagonal matrices then.
    Diagonal entries and scalars are variances, not standard deviations.
    """
    array = _as_float_array(covariances, name)
    k, d = n_classes, n_features
    if array.ndim == 0:
        variances = np.full((k, d), float(array))
    elif array.ndim == 1:
        if array.shape != (k,):
            raise ValueError(
                f"{name} of shape {array.shape}: a 1-D {name} gives one variance "
                f"per class and needs shape (n_classes,) = ({k},); for a diagonal "
                "shared by all classes pass np.diag(diagonal)."
            )
        variances = np.repeat(array[:, None], d, axis=1)
    elif array.ndim == 2 and array.shape == (d, d):
        full = np.broadcast_to(array, (k, d, d)).copy()
        return _check_full(full, name)
    elif array.ndim == 2 and array.shape == (k, d):
        variances = array
    elif array.ndim == 3 and array.shape == (k, d, d):
        return _check_full(array.copy(), name)
    else:
        raise ValueError(
            f"{name} of shape {array.shape} does not fit n_classes={k} and "
            f"n_features={d}; expected a scalar, ({k},), ({k}, {d}), ({d}, {d}) or "
            f"({k}, {d}, {d})."
        )
    if np.any(variances <= 0):
        raise ValueError(f"{name} must be positive (they are variances).")
    full = np.zeros((k, d, d))
    diagonal = np.arange(d)
    full[:, diagonal, diagonal] = variances
    return full


def _check_full(full: np.ndarray, name: str) -> np.ndarray:
    for i, matrix in enumerate(full):
        scale = np.max(np.abs(matrix))
        if not np.allclose(matrix, matrix.T, rtol=0, atol=_SYMMETRY_RTOL * scale):
            raise ValueError(f"{name}: the matrix of class {i} is not symmetric.")
        try:
            np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"{name}: the matrix of class {i} is not positive definite."
            ) from None
    # Exact for symmetric input ((a + a) / 2 == a), and removes rounding-level
    # asymmetry that would make multivariate_normal warn.
    return 0.5 * (full + full.transpose(0, 2, 1))


def check_priors(
    priors: ArrayLike | None, *, n_classes: int, name: str = "priors"
) -> np.ndarray:
    """Check class priors: positive, one per class, summing to 1 (then normalised).

    `None` gives equal priors.
    """
    if priors is None:
        return np.full(n_classes, 1.0 / n_classes)
    array = _as_float_array(priors, name)
    if array.shape != (n_classes,):
        raise ValueError(
            f"{name} must have shape (n_classes,) = ({n_classes},), got {array.shape}."
        )
    if np.any(array <= 0):
        raise ValueError(f"{name} must be positive, got {array.tolist()}.")
    total = array.sum()
    if not np.isclose(total, 1.0, rtol=0, atol=_PRIORS_ATOL):
        raise ValueError(f"{name} must sum to 1, got a sum of {total!r}.")
    return array / total


def check_n_features(X: np.ndarray, n_features: int, *, what: str = "means") -> None:
    """Check that validated data `X` has the model's number of features."""
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but the model has n_features={n_features} "
            f"(from {what})."
        )
