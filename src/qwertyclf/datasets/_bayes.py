"""The Bayes-optimal classifier of a Gaussian mixture and its accuracy.

A generator that knows its class-conditional densities also knows the best any
classifier can do on its data: predict the class with the largest posterior. This
module holds that classifier as a scikit-learn estimator and computes its accuracy
(exactly, by quadrature or by Monte Carlo), the ceiling to compare trained models
against.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import trapezoid
from scipy.special import logsumexp, ndtr
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import (
    check_covariances,
    check_means,
    check_n_features,
    check_positive,
    check_priors,
    check_random_state,
)

_LOG_2PI = float(np.log(2 * np.pi))
_METHODS = ("auto", "exact", "quadrature", "monte_carlo")


class BayesAccuracy(float):
    """Accuracy of a Bayes-optimal classifier, with its numerical error.

    A `float` (use it wherever a number is expected: comparisons, formatting,
    arithmetic) that also carries how it was obtained. Returned by
    [`bayes_accuracy`][qwertyclf.datasets.bayes_accuracy] and
    [`ring_bayes_accuracy`][qwertyclf.datasets.ring_bayes_accuracy], and stored as
    `bayes_accuracy` in the generators' bunches.

    Parameters
    ----------
    value : float
        The accuracy, in [0, 1].
    std_error : float, default=0.0
        Standard error of a Monte Carlo estimate; for deterministic methods a
        (conservative) estimate of the numerical error, `0.0` for closed forms.
    per_class : array-like of shape (n_classes,), default=None
        Accuracy of the Bayes classifier on each class, i.e. the probability that a
        sample of class `k` is classified as `k`; `value` is their prior-weighted
        mean (for Monte Carlo only up to sampling error, as `value` then uses a
        lower-variance estimator). Aligned with the labels `0..n_classes - 1`.
    method : str, default="exact"
        `"exact"`, `"quadrature"` or `"monte_carlo"`.

    Attributes
    ----------
    std_error : float
        See above.
    per_class : ndarray of shape (n_classes,)
        See above (read-only).
    method : str
        See above.

    Examples
    --------
    >>> from qwertyclf.datasets import BayesAccuracy
    >>> acc = BayesAccuracy(0.97, std_error=0.001, per_class=[0.96, 0.98])
    >>> acc > 0.9, f"{acc:.1%}", acc.std_error, acc.per_class.tolist()
    (True, '97.0%', 0.001, [0.96, 0.98])
    """

    __slots__ = ("method", "per_class", "std_error")

    def __new__(
        cls,
        value: float,
        *,
        std_error: float = 0.0,
        per_class: ArrayLike | None = None,
        method: str = "exact",
    ) -> BayesAccuracy:
        self = super().__new__(cls, value)
        per = np.array([] if per_class is None else per_class, dtype=np.float64)
        per.flags.writeable = False
        object.__setattr__(self, "std_error", float(std_error))
        object.__setattr__(self, "per_class", per)
        object.__setattr__(self, "method", str(method))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("BayesAccuracy is read-only.")

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_bayes_accuracy,
            (float(self), self.std_error, self.per_class, self.method),
        )

    def __repr__(self) -> str:
        return (
            f"BayesAccuracy({float(self)!r}, std_error={self.std_error:.2g}, "
            f"method={self.method!r})"
        )

    # f"{acc}" and print(acc) show the number, like any float.
    __str__ = float.__repr__

    @property
    def overall(self) -> float:
        """The accuracy as a plain `float` (the same value as `float(self)`)."""
        return float(self)


def _rebuild_bayes_accuracy(
    value: float, std_error: float, per_class: np.ndarray, method: str
) -> BayesAccuracy:
    return BayesAccuracy(value, std_error=std_error, per_class=per_class, method=method)


class _BayesClassifier(ClassifierMixin, BaseEstimator):
    """Shared machinery; subclasses provide `_log_joint(X)`, i.e. log(π_k p_k(x))."""

    def _fit_data(
        self,
        X: ArrayLike,
        y: ArrayLike | None,
        n_classes: int,
        n_features: int,
        what: str,
    ) -> np.ndarray:
        """Validate X (and y), check n_features, return `classes_` (not yet set)."""
        if y is None:
            X = validate_data(self, X)
        else:
            X, y = validate_data(self, X, y)
            check_classification_targets(y)
        check_n_features(X, n_features, what=what)
        return _resolve_classes(y, n_classes)

    def _validated_X(self, X: ArrayLike) -> np.ndarray:
        check_is_fitted(self, "classes_")
        return validate_data(self, X, reset=False)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Log of the true posterior probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to classify.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            `log P(class | x)`, columns in the order of `classes_`.
        """
        log_joint = self._log_joint(self._validated_X(X))
        return log_joint - logsumexp(log_joint, axis=1, keepdims=True)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """True posterior probabilities of the generating distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to classify.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            `P(class | x)`, rows summing to 1, columns in the order of `classes_`.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Bayes-optimal prediction: the class with the largest posterior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to classify.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels taken from `classes_` (ties go to the first class).
        """
        log_joint = self._log_joint(self._validated_X(X))
        return self.classes_[np.argmax(log_joint, axis=1)]


def _resolve_classes(y: np.ndarray | None, n_classes: int) -> np.ndarray:
    """Labels of the model's components: 0..K-1 unless y names K other labels."""
    if y is None:
        return np.arange(n_classes)
    labels = np.unique(y)
    if labels.dtype.kind in "iuf":
        integral = np.all(labels == np.round(labels))
        if integral and labels.min() >= 0 and labels.max() < n_classes:
            return np.arange(n_classes)
    if len(labels) == n_classes:
        return labels
    raise ValueError(
        f"y has {len(labels)} distinct labels {labels[:10].tolist()}, but the model "
        f"has n_classes={n_classes}: give labels in 0..{n_classes - 1} (component k "
        f"is label k) or exactly {n_classes} distinct labels (matched in sorted "
        "order)."
    )


def _precisions_cholesky(covariances: np.ndarray) -> np.ndarray:
    """Upper-triangular P with P @ P.T = inv(cov), per class (as in GaussianMixture)."""
    chol = np.linalg.cholesky(covariances)
    # One identity per class: NumPy < 2 does not broadcast a single matrix as b.
    eye = np.broadcast_to(np.eye(covariances.shape[-1]), chol.shape)
    return np.linalg.solve(chol, eye).transpose(0, 2, 1)


def _gaussian_log_joint(
    X: np.ndarray, means: np.ndarray, prec_chol: np.ndarray, log_priors: np.ndarray
) -> np.ndarray:
    """log(π_k N(x; μ_k, Σ_k)) for every row of X and class k, shape (n, K)."""
    n_classes, n_features = means.shape
    out = np.empty((X.shape[0], n_classes))
    for k in range(n_classes):
        # ||(x - μ) P||² is the Mahalanobis distance; P's diagonal gives log|Σ|^-1/2.
        z = X @ prec_chol[k]
        z -= means[k] @ prec_chol[k]
        log_det_half = np.sum(np.log(np.diagonal(prec_chol[k])))
        out[:, k] = np.einsum("ij,ij->i", z, z)
        out[:, k] *= -0.5
        out[:, k] += log_priors[k] + log_det_half - 0.5 * n_features * _LOG_2PI
    return out


class GaussianBayesClassifier(_BayesClassifier):
    """Bayes-optimal classifier of a known Gaussian mixture.

    Class `k` has density `N(means[k], covariances[k])` and prior `priors[k]`;
    `predict_proba` returns the exact posterior `P(k | x)` and `predict` its
    argmax, which no classifier can beat on data drawn from that mixture. Nothing
    is learnt: `fit` only validates the parameters and records `classes_` and
    `n_features_in_`, so the estimator can be scored, plotted, cloned and compared
    in a grid search like any other.

    Parameters
    ----------
    means : array-like of shape (n_classes, n_features)
        Class means.
    covariances : float or array-like, default=1.0
        Class covariances (variances, not standard deviations): a scalar shared by
        all classes, `(n_classes,)` one variance per class, `(n_classes,
        n_features)` one diagonal per class, `(n_features, n_features)` one matrix
        shared by all classes or `(n_classes, n_features, n_features)` one matrix
        per class. A square 2-D array is always read as a shared matrix.
    priors : array-like of shape (n_classes,), default=None
        Class probabilities, positive and summing to 1; equal when `None`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels of the components: `0..n_classes - 1`, unless `fit` got a `y`
        with exactly `n_classes` other labels, which are matched to the components
        in sorted order.
    n_features_in_ : int
        Number of features (the number of columns of `means`).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when `fit` got a DataFrame with string column names.
    means_ : ndarray of shape (n_classes, n_features)
        Validated means.
    covariances_ : ndarray of shape (n_classes, n_features, n_features)
        Full covariance matrices.
    priors_ : ndarray of shape (n_classes,)
        Class priors.
    precisions_cholesky_ : ndarray of shape (n_classes, n_features, n_features)
        Upper-triangular `P_k` with `P_k @ P_k.T` the inverse of `covariances_[k]`.

    See Also
    --------
    bayes_accuracy : The accuracy of this classifier on its own mixture.
    make_gaussian_classes : Draws data from the mixture.

    Examples
    --------
    >>> import numpy as np
    >>> from qwertyclf.datasets import GaussianBayesClassifier
    >>> clf = GaussianBayesClassifier(means=[[0, 0], [2, 0]]).fit(np.zeros((1, 2)))
    >>> clf.classes_
    array([0, 1])
    >>> clf.predict([[-1.0, 0.0], [3.0, 0.5]])
    array([0, 1])
    >>> clf.predict_proba([[1.0, 0.0]])
    array([[0.5, 0.5]])
    """

    def __init__(
        self,
        means: ArrayLike,
        covariances: ArrayLike = 1.0,
        priors: ArrayLike | None = None,
    ) -> None:
        self.means = means
        self.covariances = covariances
        self.priors = priors

    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> GaussianBayesClassifier:
        """Validate the parameters and record `classes_` and `n_features_in_`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data; only its number of columns is used (it must match `means`).
        y : array-like of shape (n_samples,), default=None
            Labels. Integer labels within `0..n_classes - 1` (what the generators
            produce, also when a class is missing from `y`) keep `classes_ =
            arange(n_classes)`; exactly `n_classes` other labels are matched to the
            components in sorted order. `None` also gives `arange(n_classes)`.

        Returns
        -------
        GaussianBayesClassifier
            The fitted estimator.
        """
        means = check_means(self.means)
        n_classes, n_features = means.shape
        covariances = check_covariances(
            self.covariances, n_classes=n_classes, n_features=n_features
        )
        priors = check_priors(self.priors, n_classes=n_classes)
        classes = self._fit_data(X, y, n_classes, n_features, "means")
        self.means_ = means
        self.covariances_ = covariances
        self.priors_ = priors
        self.precisions_cholesky_ = _precisions_cholesky(covariances)
        self.classes_ = classes
        return self

    def _log_joint(self, X: np.ndarray) -> np.ndarray:
        return _gaussian_log_joint(
            X, self.means_, self.precisions_cholesky_, np.log(self.priors_)
        )


def bayes_accuracy(
    means: ArrayLike,
    covariances: ArrayLike = 1.0,
    priors: ArrayLike | None = None,
    *,
    method: str = "auto",
    random_state: int | np.random.RandomState | None = None,
    tol: float = 2.5e-4,
) -> BayesAccuracy:
    """Accuracy of the Bayes-optimal classifier of a Gaussian mixture.

    The probability that
    [`GaussianBayesClassifier`][qwertyclf.datasets.GaussianBayesClassifier]
    classifies a sample of the mixture correctly, `∫ max_k π_k p_k(x) dx`: the best
    accuracy any classifier can reach on data from it.

    The `method`s:

    - `"exact"`: closed forms. One class: 1. Two classes sharing a covariance,
      with Mahalanobis distance `Δ` between the means and `λ = log(π_0 / π_1)`:
      class 0 is right with probability `Φ(Δ/2 + λ/Δ)`, class 1 with
      `Φ(Δ/2 - λ/Δ)` (`Φ(-Δ/2)` errors with equal priors). One feature, any
      classes: the decision regions are intervals bounded by roots of quadratics,
      integrated with the normal CDF.
    - `"quadrature"` (2 features): on each line of a grid of parallel lines the
      regions are again intervals, integrated exactly with the normal CDF; the
      integral across lines uses the trapezoid rule, refined until two successive
      grids agree to 1e-6 (or 16385 lines per class). `std_error` is that
      difference, an overestimate of the error. The lines' direction is
      chosen away from the decision boundaries so the integrand has no jumps.
    - `"monte_carlo"` (any dimension): samples each class, averages the largest
      posterior (lower variance than counting hits, same expectation) until the
      standard error is at most `tol`.
    - `"auto"`: `"exact"` where it applies, else `"quadrature"` for 2 features,
      else `"monte_carlo"`.

    Parameters
    ----------
    means : array-like of shape (n_classes, n_features)
        Class means.
    covariances : float or array-like, default=1.0
        Class covariances, in any form
        [`GaussianBayesClassifier`][qwertyclf.datasets.GaussianBayesClassifier]
        accepts.
    priors : array-like of shape (n_classes,), default=None
        Class probabilities; equal when `None`.
    method : {"auto", "exact", "quadrature", "monte_carlo"}, default="auto"
        How to compute it, see above.
    random_state : int, RandomState instance or None, default=None
        Seeds the Monte Carlo method (unused by the others).
    tol : float, default=2.5e-4
        Target standard error of the Monte Carlo method; it stops at 2**24
        samples per class regardless, and reports the error reached.

    Returns
    -------
    BayesAccuracy
        The accuracy (a float) with `std_error`, `per_class` and `method`.

    Raises
    ------
    ValueError
        If a parameter is invalid, or `method` does not apply ("exact" needs one
        class, two classes with a shared covariance or one feature; "quadrature"
        needs at most two features).

    Examples
    --------
    The qwerty data of `make_qwerty`: three unit-variance classes.

    >>> from qwertyclf.datasets import bayes_accuracy
    >>> acc = bayes_accuracy([[2, 1], [-2, 1], [0, -3]])
    >>> round(acc, 3), acc.method, acc.std_error < 1e-6
    (0.97, 'quadrature', True)
    >>> acc.per_class.round(3)
    array([0.967, 0.967, 0.977])

    Two classes at Mahalanobis distance 2 are told apart with probability Φ(1):

    >>> bayes_accuracy([[0, 0], [2, 0]])
    BayesAccuracy(0.8413447460685429, std_error=0, method='exact')
    """
    means_ = check_means(means)
    n_classes, n_features = means_.shape
    covs = check_covariances(covariances, n_classes=n_classes, n_features=n_features)
    priors_ = check_priors(priors, n_classes=n_classes)
    tol = check_positive(tol, "tol")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")
    shared = n_classes == 2 and np.array_equal(covs[0], covs[1])
    exact_applies = n_classes == 1 or shared or n_features == 1
    if method == "auto":
        if exact_applies:
            method = "exact"
        elif n_features == 2:
            method = "quadrature"
        else:
            method = "monte_carlo"
    if method == "exact":
        if n_classes == 1:
            return BayesAccuracy(1.0, per_class=[1.0], method="exact")
        if shared:
            return _exact_two_class(means_, covs[0], priors_)
        if n_features == 1:
            return _exact_one_feature(means_, covs, priors_)
        raise ValueError(
            "method='exact' needs one class, two classes sharing a covariance or one "
            f"feature; got n_classes={n_classes}, n_features={n_features}. Use "
            "method='auto'."
        )
    if method == "quadrature":
        if n_features == 1:
            return _exact_one_feature(means_, covs, priors_)
        if n_features != 2:
            raise ValueError(
                f"method='quadrature' needs at most 2 features, got n_features="
                f"{n_features}; use method='monte_carlo'."
            )
        return _quadrature_two_features(means_, covs, priors_)
    return _monte_carlo(means_, covs, priors_, check_random_state(random_state), tol)


def _accuracy(
    per_class: np.ndarray, priors: np.ndarray, **kwargs: Any
) -> BayesAccuracy:
    per_class = np.clip(per_class, 0.0, 1.0)
    value = min(1.0, float(np.dot(priors, per_class)))
    return BayesAccuracy(value, per_class=per_class, **kwargs)


def _exact_two_class(
    means: np.ndarray, cov: np.ndarray, priors: np.ndarray
) -> BayesAccuracy:
    diff = means[0] - means[1]
    delta = float(np.sqrt(diff @ np.linalg.solve(cov, diff)))
    log_ratio = float(np.log(priors[0] / priors[1]))
    if delta == 0:
        # Identical classes: the larger prior always wins (ties go to class 0).
        per_class = np.array([1.0, 0.0] if log_ratio >= 0 else [0.0, 1.0])
    else:
        per_class = ndtr([delta / 2 + log_ratio / delta, delta / 2 - log_ratio / delta])
    return _accuracy(per_class, priors, method="exact")


def _interval_masses(
    alpha: np.ndarray,
    beta: np.ndarray,
    gamma: np.ndarray,
    cond_mean: np.ndarray,
    cond_sd: np.ndarray,
) -> np.ndarray:
    """Per line, the probability of each class's own decision region on that line.

    Along a line the log-joint of class k is the quadratic `alpha[k] s² +
    beta[:, k] s + gamma[:, k]` and the class's conditional law is
    `N(cond_mean[:, k], cond_sd[k]²)`. Pairwise crossings of the quadratics cut
    the line into intervals with a constant argmax; summing normal-CDF differences
    over the intervals a class wins gives, per line, `P(s in R_k | line, k)`.
    Shapes: alpha, cond_sd (K,); beta, gamma, cond_mean (L, K). Returns (L, K).
    """
    n_classes = beta.shape[1]
    # Beyond 40 conditional sds no class has any mass left to miss.
    lo = np.min(cond_mean - 40 * cond_sd, axis=1)
    hi = np.max(cond_mean + 40 * cond_sd, axis=1)
    points = [lo, hi]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for j in range(n_classes):
            for k in range(j + 1, n_classes):
                qa = alpha[j] - alpha[k]
                qb = beta[:, j] - beta[:, k]
                qc = gamma[:, j] - gamma[:, k]
                # Cancellation-free roots; a missing or infinite root becomes NaN/inf
                # and is parked at `lo` below, giving an empty interval.
                root = np.sqrt(qb * qb - 4 * qa * qc)
                q = -0.5 * (qb + np.copysign(root, qb))
                points += [q / qa, qc / q]
    cuts = np.stack(points, axis=1)
    cuts = np.where(np.isfinite(cuts), cuts, lo[:, None])
    cuts = np.clip(cuts, lo[:, None], hi[:, None])
    cuts.sort(axis=1)
    mid = 0.5 * (cuts[:, :-1] + cuts[:, 1:])[:, :, None]
    winner = np.argmax(
        alpha * mid**2 + beta[:, None, :] * mid + gamma[:, None, :], axis=2
    )
    cdf = ndtr((cuts[:, :, None] - cond_mean[:, None, :]) / cond_sd)
    pieces = np.diff(cdf, axis=1)
    own = winner[:, :, None] == np.arange(n_classes)
    return np.sum(pieces * own, axis=1)


def _exact_one_feature(
    means: np.ndarray, covs: np.ndarray, priors: np.ndarray
) -> BayesAccuracy:
    mu = means[:, 0]
    var = covs[:, 0, 0]
    alpha = -0.5 / var
    beta = (mu / var)[None, :]
    gamma = (np.log(priors) - 0.5 * np.log(2 * np.pi * var) - 0.5 * mu**2 / var)[
        None, :
    ]
    per_class = _interval_masses(alpha, beta, gamma, mu[None, :], np.sqrt(var))[0]
    return _accuracy(per_class, priors, method="exact")


def _line_direction(means: np.ndarray, precisions: np.ndarray) -> float:
    """Angle of the integration lines, as far as possible from every boundary.

    A boundary parallel to the lines would make the per-line mass jump, which the
    trapezoid rule integrates poorly. For a pair sharing a covariance the boundary
    is a line with normal `P (μ_j - μ_k)`: score the angle by how far the lines are
    from running along it. Otherwise the boundary is a conic: stay away from the
    directions `v` with `vᵀ(P_j - P_k)v = 0`, along which it degenerates.
    """
    angles = np.pi * (np.arange(90) + 0.5) / 90
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    score = np.ones(len(angles))
    n_classes = len(means)
    for j in range(n_classes):
        for k in range(j + 1, n_classes):
            dp = precisions[j] - precisions[k]
            scale = np.linalg.norm(dp, 2)
            if scale <= 1e-12 * np.linalg.norm(precisions[j], 2):
                normal = precisions[j] @ (means[j] - means[k])
                norm = np.linalg.norm(normal)
                if norm == 0:
                    continue  # identical classes: no boundary at all
                pair = np.abs(directions @ normal) / norm
            else:
                pair = np.abs(np.einsum("ai,ij,aj->a", directions, dp, directions))
                pair /= scale
            score = np.minimum(score, pair)
    return float(angles[np.argmax(score)])


def _quadrature_two_features(
    means: np.ndarray, covs: np.ndarray, priors: np.ndarray
) -> BayesAccuracy:
    precisions = np.linalg.inv(covs)
    theta = _line_direction(means, precisions)
    c, s = np.cos(theta), np.sin(theta)
    rotation = np.array([[c, -s], [s, c]])
    # Rotated coordinates: first along the lines (s), then across them (t).
    mu = means @ rotation
    cov = np.einsum("ji,kjl,lm->kim", rotation, covs, rotation)
    prec = np.linalg.inv(cov)
    var_s, cov_st, var_t = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]
    p11, p12, p22 = prec[:, 0, 0], prec[:, 0, 1], prec[:, 1, 1]
    log_det = np.log(np.linalg.det(cov))
    cond_sd = np.sqrt(var_s - cov_st**2 / var_t)
    alpha = -0.5 * p11
    const = np.log(priors) - _LOG_2PI - 0.5 * log_det

    def masses(t: np.ndarray) -> np.ndarray:
        dt = t[:, None] - mu[:, 1]
        beta = p11 * mu[:, 0] - p12 * dt
        gamma = const - 0.5 * (
            p11 * mu[:, 0] ** 2 - 2 * p12 * mu[:, 0] * dt + p22 * dt**2
        )
        cond_mean = mu[:, 0] + cov_st / var_t * dt
        out = np.empty((len(t), len(priors)))
        chunk = max(1, 2**21 // (len(priors) ** 3 + 2 * len(priors)))
        for start in range(0, len(t), chunk):
            part = slice(start, start + chunk)
            out[part] = _interval_masses(
                alpha, beta[part], gamma[part], cond_mean[part], cond_sd
            )
        return out

    n_classes = len(priors)
    # Class k's own mass is integrated over its own marginal across the lines,
    # t = μ_t + sd_t u with u in [-9, 9] (beyond: 2e-19 of the mass).
    n_points = 2**10 + 1
    while True:
        u = np.linspace(-9.0, 9.0, n_points)
        weight = np.exp(-0.5 * u**2) / np.sqrt(2 * np.pi)
        per_class = np.empty(n_classes)
        coarse = np.empty(n_classes)
        for k in range(n_classes):
            f = weight * masses(mu[k, 1] + np.sqrt(var_t[k]) * u)[:, k]
            per_class[k] = trapezoid(f, u)
            coarse[k] = trapezoid(f[::2], u[::2])
        error = float(np.dot(priors, np.abs(per_class - coarse)))
        if error <= 1e-6 or n_points > 2**14:
            break
        n_points = 2 * n_points - 1
    return _accuracy(per_class, priors, std_error=error, method="quadrature")


def _monte_carlo(
    means: np.ndarray,
    covs: np.ndarray,
    priors: np.ndarray,
    random_state: np.random.RandomState,
    tol: float,
) -> BayesAccuracy:
    n_classes, n_features = means.shape
    chol = np.linalg.cholesky(covs)
    prec_chol = _precisions_cholesky(covs)
    log_priors = np.log(priors)
    batch, max_per_class = 2**15, 2**24
    total = np.zeros(n_classes)
    total_sq = np.zeros(n_classes)
    hits = np.zeros(n_classes)
    n = 0
    while True:
        for k in range(n_classes):
            X = random_state.standard_normal((batch, n_features)) @ chol[k].T
            X += means[k]
            log_joint = _gaussian_log_joint(X, means, prec_chol, log_priors)
            # E[max posterior] is the accuracy, with less variance than 0/1 hits.
            best = np.exp(log_joint.max(axis=1) - logsumexp(log_joint, axis=1))
            total[k] += best.sum()
            total_sq[k] += np.dot(best, best)
            hits[k] += np.count_nonzero(np.argmax(log_joint, axis=1) == k)
        n += batch
        variance = np.maximum(total_sq / n - (total / n) ** 2, 0.0) * n / (n - 1)
        std_error = float(np.sqrt(np.sum(priors**2 * variance) / n))
        if std_error <= tol or n >= max_per_class:
            break
    value = min(1.0, float(np.dot(priors, total / n)))
    return BayesAccuracy(
        value, std_error=std_error, per_class=hits / n, method="monte_carlo"
    )
