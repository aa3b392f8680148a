"""The qwerty datasets: the original three blobs, the qwerties and the doughnuts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import Bunch

from ._gaussian import _gaussian_bunch
from ._rings import _check_rings, _ring_bunch, _sample_rings
from ._validation import (
    check_count,
    check_covariances,
    check_means,
    check_positive,
    check_random_state,
)

# Class means of the notebook the qwerty data come from, one row per class.
_SEED_MEANS = ((2.0, 1.0), (-2.0, 1.0), (0.0, -3.0))

# Centres of the qwerties: A and B, and C completing an equilateral triangle
# above them, so all three pairs are 4 apart.
_QWERTIES_CENTERS = ((1.0, 1.0), (5.0, 1.0), (3.0, 1.0 + 2.0 * np.sqrt(3.0)))


def _permute(
    random_state: np.random.RandomState, X: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    order = random_state.permutation(len(y))
    return X[order], y[order]


def make_qwerty(
    n_per_class: int = 300,
    *,
    means: ArrayLike | None = None,
    cov: ArrayLike | None = None,
    shuffle: bool = False,
    random_state: int | np.random.RandomState | None = None,
    return_X_y: bool = True,
) -> tuple[np.ndarray, np.ndarray] | Bunch:
    """The "qwerty" dataset: Gaussian blobs in the plane with one shared covariance.

    The data of the PyTorch teaching notebook qwertyclf grew from (the
    documentation's page "Where qwerty comes from" describes it): three classes around
    `(2, 1)`, `(-2, 1)` and `(0, -3)` with unit covariance. Class `i` is
    `N(means[i], cov)`, drawn with `RandomState.multivariate_normal` one class
    after the other, exactly as that notebook does. With `random_state=42` (and
    the defaults) `X` is bit-identical to the notebook's `np.random.seed(42)`
    code, but drawn from a private `RandomState`, so the global NumPy RNG is left
    untouched.

    Parameters
    ----------
    n_per_class : int, default=300
        Samples per class.
    means : array-like of shape (n_classes, n_features), default=None
        Class means; `None` gives the notebook's `(2, 1)`, `(-2, 1)`, `(0, -3)`.
    cov : float or array-like of shape (n_features, n_features), default=None
        Covariance shared by all classes: a matrix, or a scalar variance (`c * I`).
        `None` gives the identity. For per-class covariances use
        [`make_gaussian_classes`][qwertyclf.datasets.make_gaussian_classes].
    shuffle : bool, default=False
        Shuffle the samples (after drawing them, with the same generator). The
        notebook does not.
    random_state : int, RandomState instance or None, default=None
        Seed; `42` reproduces the notebook. `None` seeds a fresh generator.
    return_X_y : bool, default=True
        Return `(X, y)`; if `False`, a `Bunch` that also describes the true
        distribution.

    Returns
    -------
    (X, y) : tuple of ndarray
        `X` of shape (n_classes * n_per_class, n_features), float64; `y` the int64
        labels `0..n_classes - 1` (the notebook stores the same values as floats;
        int64 is what classifiers and `torch.long` targets expect).
    data : sklearn.utils.Bunch
        When `return_X_y=False`: `data`, `target`, `means`, `covariances`
        (n_classes, n_features, n_features), `priors` (equal), `bayes_estimator`
        (a fitted
        [`GaussianBayesClassifier`][qwertyclf.datasets.GaussianBayesClassifier]),
        `bayes_accuracy` (a [`BayesAccuracy`][qwertyclf.datasets.BayesAccuracy])
        and `DESCR`.

    Examples
    --------
    >>> from qwertyclf.datasets import make_qwerty
    >>> X, y = make_qwerty(random_state=42)
    >>> X.shape, y.shape, X[0]
    ((900, 2), (900,), array([2.49671415, 0.8617357 ]))
    >>> data = make_qwerty(random_state=42, return_X_y=False)
    >>> print(f"{data.bayes_accuracy:.3f}")
    0.970
    """
    n_per_class = check_count(n_per_class, "n_per_class")
    rs = check_random_state(random_state)
    means_ = check_means(_SEED_MEANS if means is None else means)
    n_classes, n_features = means_.shape
    if cov is None:
        cov = np.eye(n_features)
    elif np.ndim(cov) not in (0, 2):
        raise ValueError(
            f"cov must be a scalar variance or one (n_features, n_features) matrix "
            f"shared by all classes, got shape {np.shape(cov)}; use "
            "make_gaussian_classes for per-class covariances."
        )
    covariances = check_covariances(
        cov, n_classes=n_classes, n_features=n_features, name="cov"
    )
    shared = covariances[0]
    X = np.empty((n_classes * n_per_class, n_features))
    for i in range(n_classes):
        X[i * n_per_class : (i + 1) * n_per_class] = rs.multivariate_normal(
            means_[i], shared, n_per_class
        )
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    if shuffle:
        X, y = _permute(rs, X, y)
    if return_X_y:
        return X, y
    priors = np.full(n_classes, 1.0 / n_classes)
    return _gaussian_bunch(X, y, means_, covariances, priors, "Qwerty blobs")


def make_qwerties(
    n_per_class: int = 100,
    *,
    n_classes: int = 2,
    blur: float = 1.0,
    shuffle: bool = False,
    random_state: int | np.random.RandomState | None = None,
    return_X_y: bool = True,
) -> tuple[np.ndarray, np.ndarray] | Bunch:
    """The "qwerties": 2 or 3 round Gaussian blobs.

    Centres A = (1, 1) and B = (5, 1), plus C = (3, 1 + 2√3) ≈ (3, 4.46) for
    three classes: C completes the equilateral triangle on A and B, so every pair
    of classes is equally hard to tell apart (centres 4 apart). Each coordinate
    gets independent noise of standard deviation `blur`; per class, all
    x-coordinates are drawn before all y-coordinates.

    Parameters
    ----------
    n_per_class : int, default=100
        Samples per class.
    n_classes : {2, 3}, default=2
        Number of blobs (A, B or A, B, C).
    blur : float, default=1.0
        Standard deviation of the noise around each centre (covariance
        `blur² I`).
    shuffle : bool, default=False
        Shuffle the samples (after drawing them).
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output; `None` seeds a fresh generator.
    return_X_y : bool, default=True
        Return `(X, y)`; if `False`, a `Bunch` that also describes the true
        distribution.

    Returns
    -------
    (X, y) : tuple of ndarray
        `X` of shape (n_classes * n_per_class, 2), float64; `y` int64 labels
        (A = 0, B = 1, C = 2).
    data : sklearn.utils.Bunch
        When `return_X_y=False`: the same fields as
        [`make_qwerty`][qwertyclf.datasets.make_qwerty].

    Examples
    --------
    >>> from qwertyclf.datasets import make_qwerties
    >>> X, y = make_qwerties(random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((200, 2), [0, 1])
    >>> data = make_qwerties(n_classes=3, blur=1.0, random_state=0, return_X_y=False)
    >>> data.means.round(2).tolist()
    [[1.0, 1.0], [5.0, 1.0], [3.0, 4.46]]
    >>> round(data.bayes_accuracy, 3)
    0.959
    """
    n_per_class = check_count(n_per_class, "n_per_class")
    n_classes = check_count(n_classes, "n_classes")
    if n_classes not in (2, 3):
        raise ValueError(f"n_classes must be 2 or 3, got {n_classes}.")
    blur = check_positive(blur, "blur")
    rs = check_random_state(random_state)
    centers = np.array(_QWERTIES_CENTERS[:n_classes])
    X = np.empty((n_classes * n_per_class, 2))
    for k in range(n_classes):
        noise = rs.standard_normal((2, n_per_class)).T
        X[k * n_per_class : (k + 1) * n_per_class] = centers[k] + noise * blur
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    if shuffle:
        X, y = _permute(rs, X, y)
    if return_X_y:
        return X, y
    covariances = check_covariances(blur**2, n_classes=n_classes, n_features=2)
    priors = np.full(n_classes, 1.0 / n_classes)
    return _gaussian_bunch(X, y, centers, covariances, priors, "Qwerties")


def make_qwerty_doughnuts(
    n_per_class: int = 300,
    *,
    radii: Sequence[float] | ArrayLike = (1.0, 3.0),
    noise: float | ArrayLike = 0.5,
    shuffle: bool = False,
    random_state: int | np.random.RandomState | None = None,
    return_X_y: bool = True,
) -> tuple[np.ndarray, np.ndarray] | Bunch:
    """Two (or more) noisy concentric rings around the origin.

    Ring `k`: an angle uniform in `[0, 2π)`, the point at radius `radii[k]`, plus
    isotropic Gaussian noise of standard deviation `noise` (so the noise is
    roughly radial for thin rings). Its exact density is given in
    [`RingBayesClassifier`][qwertyclf.datasets.RingBayesClassifier].

    Parameters
    ----------
    n_per_class : int, default=300
        Samples per ring.
    radii : sequence of float, default=(1.0, 3.0)
        Inner and outer radius (any number of rings works; label k = ring k).
    noise : float or sequence of float, default=0.5
        Standard deviation of the noise, shared or one per ring.
    shuffle : bool, default=False
        Shuffle the samples (after drawing them).
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output; `None` seeds a fresh generator.
    return_X_y : bool, default=True
        Return `(X, y)`; if `False`, a `Bunch` that also describes the true
        distribution.

    Returns
    -------
    (X, y) : tuple of ndarray
        `X` of shape (n_rings * n_per_class, 2), float64; `y` int64 labels.
    data : sklearn.utils.Bunch
        When `return_X_y=False`: `data`, `target`, `radii`, `noise` (one per
        ring), `priors` (equal), `bayes_estimator` (a fitted
        [`RingBayesClassifier`][qwertyclf.datasets.RingBayesClassifier]),
        `bayes_accuracy` (a [`BayesAccuracy`][qwertyclf.datasets.BayesAccuracy])
        and `DESCR`.

    Examples
    --------
    >>> import numpy as np
    >>> from qwertyclf.datasets import make_qwerty_doughnuts
    >>> data = make_qwerty_doughnuts(random_state=0, return_X_y=False)
    >>> data.data.shape, round(data.bayes_accuracy, 3)
    ((600, 2), 0.975)
    >>> radius = np.hypot(*data.data.T)
    >>> [round(float(radius[data.target == k].mean()), 1) for k in (0, 1)]
    [1.1, 3.0]
    """
    n_per_class = check_count(n_per_class, "n_per_class")
    radii_, noise_, priors = _check_rings(radii, noise, None)
    rs = check_random_state(random_state)
    counts = np.full(len(radii_), n_per_class)
    X, y = _sample_rings(rs, counts, radii_, noise_)
    if shuffle:
        X, y = _permute(rs, X, y)
    if return_X_y:
        return X, y
    return _ring_bunch(X, y, radii_, noise_, priors, "Qwerty doughnuts")
