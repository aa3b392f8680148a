"""Noisy rings ("doughnuts"): their exact density, sampler and Bayes reference.

Ring `k` is the circle of radius `R_k` around the origin blurred by isotropic
Gaussian noise of standard deviation `s_k`: draw an angle `θ` uniformly, then add
`N(0, s_k² I)` to `R_k (cos θ, sin θ)`. Averaging the Gaussian over the circle
gives the exact, normalised density in the plane, with `r = |x|`:

    p_k(x) = exp(-(r² + R_k²) / (2 s_k²)) I0(r R_k / s_k²) / (2π s_k²)
           = exp(-(r - R_k)² / (2 s_k²)) i0e(r R_k / s_k²) / (2π s_k²),

where `I0` is the modified Bessel function of order 0 and `i0e(z) = exp(-z) I0(z)`
its scaled form (the second line is the overflow-free one we evaluate). It
integrates to 1 because it is a convolution of two probability laws; its radial
law `2π r p_k(r)` is the Rice distribution. For `R_k ≫ s_k`, `i0e(z) ≈
1/sqrt(2π z)`, so the density is the Gaussian radial profile
`exp(-(r - R_k)²/(2 s_k²))` up to a slowly varying `1/sqrt(r)`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq
from scipy.special import i0e
from scipy.stats import rice
from sklearn.utils import Bunch

from ._bayes import BayesAccuracy, _BayesClassifier
from ._validation import check_priors

_LOG_2PI = float(np.log(2 * np.pi))


def _check_rings(
    radii: ArrayLike, noise: ArrayLike, priors: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        radii_ = np.asarray(radii, dtype=np.float64)
        noise_ = np.asarray(noise, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"radii and noise must be numeric; {exc}") from None
    if radii_.ndim != 1 or radii_.size == 0:
        raise ValueError(f"radii must be a non-empty 1-D sequence, got {radii!r}.")
    if not np.all(np.isfinite(radii_)) or np.any(radii_ < 0):
        raise ValueError(f"radii must be finite and >= 0, got {radii_.tolist()}.")
    n_rings = radii_.size
    if noise_.ndim == 0:
        noise_ = np.full(n_rings, float(noise_))
    elif noise_.shape != (n_rings,):
        raise ValueError(
            f"noise must be a scalar or have one value per ring ({n_rings},), got "
            f"shape {noise_.shape}."
        )
    if not np.all(np.isfinite(noise_)) or np.any(noise_ <= 0):
        raise ValueError(f"noise must be positive and finite, got {noise_.tolist()}.")
    return radii_, noise_, check_priors(priors, n_classes=n_rings)


def _ring_log_density(
    r: np.ndarray, radii: np.ndarray, noise: np.ndarray
) -> np.ndarray:
    """Log-density of each ring at distance `r` from the origin, shape (len(r), K)."""
    var = noise**2
    r = np.asarray(r, dtype=np.float64)[:, None]
    return (
        -_LOG_2PI
        - np.log(var)
        - (r - radii) ** 2 / (2 * var)
        + np.log(i0e(r * radii / var))
    )


def _sample_rings(
    random_state: np.random.RandomState,
    counts: np.ndarray,
    radii: np.ndarray,
    noise: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw `counts[k]` points of ring k, classes in order (not shuffled)."""
    X = np.empty((int(counts.sum()), 2))
    y = np.repeat(np.arange(len(counts)), counts)
    start = 0
    for k, n in enumerate(counts):
        block = X[start : start + n]
        angle = random_state.uniform(0.0, 2 * np.pi, n)
        block[:] = random_state.standard_normal((n, 2))
        block *= noise[k]
        block[:, 0] += radii[k] * np.cos(angle)
        block[:, 1] += radii[k] * np.sin(angle)
        start += n
    return X, y


class RingBayesClassifier(_BayesClassifier):
    """Bayes-optimal classifier of noisy rings centred on the origin.

    Ring `k` is the circle of radius `radii[k]` blurred by isotropic Gaussian
    noise of standard deviation `noise[k]`, the distribution
    [`make_qwerty_doughnuts`][qwertyclf.datasets.make_qwerty_doughnuts] draws
    from. Its density in the plane is exact and normalised,
    `p_k(x) = exp(-(r - R_k)²/(2 s_k²)) i0e(r R_k/s_k²) / (2π s_k²)` with
    `r = |x|` (see the notes), so `predict_proba` is the true posterior. As with
    [`GaussianBayesClassifier`][qwertyclf.datasets.GaussianBayesClassifier],
    `fit` learns nothing: it validates and records `classes_` and
    `n_features_in_` (always 2).

    Parameters
    ----------
    radii : sequence of float, default=(1.0, 3.0)
        Radius of each ring (>= 0; 0 gives a blob at the origin).
    noise : float or sequence of float, default=0.5
        Standard deviation of the Gaussian noise, shared or one per ring.
    priors : array-like of shape (n_rings,), default=None
        Ring probabilities, positive and summing to 1; equal when `None`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_rings,)
        `0..n_rings - 1`, or the `n_rings` distinct labels of `fit`'s `y` matched
        in sorted order (see `GaussianBayesClassifier.fit`).
    n_features_in_ : int
        Always 2.
    feature_names_in_ : ndarray of shape (2,)
        Column names, when `fit` got a DataFrame with string column names.
    radii_ : ndarray of shape (n_rings,)
        Validated radii.
    noise_ : ndarray of shape (n_rings,)
        Noise standard deviation of each ring.
    priors_ : ndarray of shape (n_rings,)
        Ring priors.

    See Also
    --------
    ring_bayes_accuracy : The accuracy of this classifier on its own rings.

    Notes
    -----
    Averaging the Gaussian `N(x; R u(φ), s² I)` over the angle `φ` of the circle
    point `R u(φ)` gives, with `r = |x|` and `I0` the modified Bessel function of
    order 0,

    ```
    p(x) = exp(-(r² + R²) / (2 s²)) I0(r R / s²) / (2π s²)
         = exp(-(r - R)² / (2 s²)) i0e(r R / s²) / (2π s²),
    ```

    where `i0e(z) = exp(-z) I0(z)` (the overflow-free form that is evaluated). It
    integrates to 1 over the plane with no further constant, being the law of a
    circle point plus independent noise; the radius `r` then follows the Rice
    law. For `R ≫ s`, `i0e(z) ≈ 1/sqrt(2π z)`: the density is the Gaussian radial
    profile `exp(-(r - R)²/(2 s²))`, normalised, up to a slowly varying
    `1/sqrt(r)`.

    Examples
    --------
    >>> import numpy as np
    >>> from qwertyclf.datasets import RingBayesClassifier
    >>> clf = RingBayesClassifier(radii=(1.0, 3.0), noise=0.5).fit(np.zeros((1, 2)))
    >>> clf.predict([[0.0, 1.0], [-2.9, 0.3], [0.0, 0.0]])
    array([0, 1, 0])
    >>> clf.predict_proba([[2.0, 0.0]]).round(2)
    array([[0.64, 0.36]])
    """

    def __init__(
        self,
        radii: ArrayLike = (1.0, 3.0),
        noise: ArrayLike = 0.5,
        priors: ArrayLike | None = None,
    ) -> None:
        self.radii = radii
        self.noise = noise
        self.priors = priors

    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> RingBayesClassifier:
        """Validate the parameters and record `classes_` and `n_features_in_`.

        Parameters
        ----------
        X : array-like of shape (n_samples, 2)
            Data; only its number of columns (2) is checked.
        y : array-like of shape (n_samples,), default=None
            Labels, resolved to `classes_` as in `GaussianBayesClassifier.fit`.

        Returns
        -------
        RingBayesClassifier
            The fitted estimator.
        """
        radii, noise, priors = _check_rings(self.radii, self.noise, self.priors)
        classes = self._fit_data(X, y, len(radii), 2, "the rings, which are 2-D")
        self.radii_ = radii
        self.noise_ = noise
        self.priors_ = priors
        self.classes_ = classes
        return self

    def _log_joint(self, X: np.ndarray) -> np.ndarray:
        r = np.hypot(X[:, 0], X[:, 1])
        return np.log(self.priors_) + _ring_log_density(r, self.radii_, self.noise_)


def ring_bayes_accuracy(
    radii: ArrayLike,
    noise: ArrayLike = 0.5,
    priors: ArrayLike | None = None,
) -> BayesAccuracy:
    """Accuracy of the Bayes-optimal classifier of noisy rings.

    The decision depends on the radius `r` only, so the decision regions are
    annuli: their bounds are found on a grid of 16385 radii and refined by root
    finding (to 1e-14), and each ring's probability of its own annuli comes from
    the Rice CDF. This is exact up to rounding, except that a ring winning only
    on an annulus thinner than the grid step (`max(R + 15 s) / 16384`) would be
    missed, which needs three rings to tie there.

    Parameters
    ----------
    radii : sequence of float
        Radius of each ring.
    noise : float or sequence of float, default=0.5
        Standard deviation of the noise, shared or one per ring.
    priors : array-like of shape (n_rings,), default=None
        Ring probabilities; equal when `None`.

    Returns
    -------
    BayesAccuracy
        The accuracy (a float) with `per_class`, `std_error=0` and
        `method="exact"`.

    Examples
    --------
    >>> from qwertyclf.datasets import ring_bayes_accuracy
    >>> acc = ring_bayes_accuracy([1.0, 3.0], noise=0.5)
    >>> round(acc, 3), acc.per_class.round(3)
    (0.975, array([0.975, 0.975]))
    """
    radii_, noise_, priors_ = _check_rings(radii, noise, priors)
    log_priors = np.log(priors_)

    def log_joint(r: np.ndarray) -> np.ndarray:
        return log_priors + _ring_log_density(r, radii_, noise_)

    grid = np.linspace(0.0, float(np.max(radii_ + 15 * noise_)), 2**14 + 1)
    winner = np.argmax(log_joint(grid), axis=1)
    cuts, owners = [0.0], [int(winner[0])]
    for i in np.flatnonzero(winner[1:] != winner[:-1]):
        a, b = int(winner[i]), int(winner[i + 1])

        def gap(r: float, a: int = a, b: int = b) -> float:
            values = log_joint(np.array([r]))[0]
            return float(values[a] - values[b])

        cuts.append(brentq(gap, grid[i], grid[i + 1], xtol=1e-14))
        owners.append(b)
    cuts.append(np.inf)
    per_class = np.zeros(len(radii_))
    for lo, hi, k in zip(cuts[:-1], cuts[1:], owners, strict=True):
        law = rice(radii_[k] / noise_[k], scale=noise_[k])
        per_class[k] += law.cdf(hi) - law.cdf(lo)
    per_class = np.clip(per_class, 0.0, 1.0)
    value = min(1.0, float(np.dot(priors_, per_class)))
    return BayesAccuracy(value, per_class=per_class, method="exact")


def _ring_bunch(
    X: np.ndarray,
    y: np.ndarray,
    radii: np.ndarray,
    noise: np.ndarray,
    priors: np.ndarray,
    title: str,
) -> Bunch:
    estimator = RingBayesClassifier(radii=radii, noise=noise, priors=priors)
    accuracy = ring_bayes_accuracy(radii, noise, priors)
    rings = ", ".join(
        f"{k}: R={r:g}, s={s:g}, prior={p:.3g}"
        for k, (r, s, p) in enumerate(zip(radii, noise, priors, strict=True))
    )
    descr = (
        f"{title}\n{'=' * len(title)}\n\n"
        f"{len(y)} samples in 2 features, {len(radii)} classes (label k = ring k).\n"
        "Ring k: a point drawn uniformly on the circle of radius R_k around the "
        "origin plus isotropic Gaussian noise N(0, s_k^2 I); exact density "
        "exp(-(r-R_k)^2/(2 s_k^2)) i0e(r R_k/s_k^2) / (2 pi s_k^2).\n"
        f"Rings: {rings}.\n"
        f"Bayes-optimal accuracy: {float(accuracy):.4f} ({accuracy.method}).\n"
    )
    return Bunch(
        data=X,
        target=y,
        radii=radii,
        noise=noise,
        priors=priors,
        bayes_estimator=estimator.fit(X[:1]),
        bayes_accuracy=accuracy,
        DESCR=descr,
    )
