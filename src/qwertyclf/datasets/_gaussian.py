"""Gaussian classes in any number of classes and features, vectorised."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import Bunch

from ._bayes import GaussianBayesClassifier, bayes_accuracy
from ._validation import (
    check_class_counts,
    check_count,
    check_covariances,
    check_means,
    check_priors,
    check_random_state,
)

# Rows drawn per call to the RNG: bounds the scratch memory to a few MB whatever
# the number of samples.
_CHUNK_ROWS = 2**16
# Seed of the Monte Carlo Bayes accuracy in the bunches (only for > 2 features),
# fixed so that a bunch's DESCR and accuracy are reproducible.
_BUNCH_MC_SEED = 0


def _split_counts(n_samples: int, priors: np.ndarray) -> np.ndarray:
    """Split a total into per-class counts proportional to `priors`.

    Largest-remainder rounding: every count is within 1 of `n_samples * prior`
    and they sum to `n_samples` (leftover samples go to the largest remainders,
    ties to the first classes).
    """
    exact = n_samples * priors
    counts = np.floor(exact).astype(np.int64)
    leftover = n_samples - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:leftover]] += 1
    return counts


def _sample_gaussian_classes(
    random_state: np.random.RandomState,
    counts: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    *,
    shuffle: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw `counts[k]` rows of `N(means[k], covariances[k])` per class.

    The labels are laid out (and shuffled) first; then the rows are filled chunk
    by chunk in order, each row `z @ L.T + mean` with `L` the Cholesky factor of
    its class. Memory stays at the size of the output plus one chunk: shuffling
    never copies X.
    """
    n_classes, n_features = means.shape
    n_samples = int(counts.sum())
    X = np.empty((n_samples, n_features))
    y = np.repeat(np.arange(n_classes, dtype=np.int64), counts)
    if shuffle:
        random_state.shuffle(y)
    chol_t = np.linalg.cholesky(covariances).transpose(0, 2, 1)
    for start in range(0, n_samples, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n_samples)
        z = random_state.standard_normal((stop - start, n_features))
        labels = y[start:stop]
        out = X[start:stop]
        present = np.flatnonzero(np.bincount(labels, minlength=n_classes))
        if len(present) == 1:
            # Unshuffled data: whole chunks of one class, no masking needed.
            k = present[0]
            np.matmul(z, chol_t[k], out=out)
            out += means[k]
            continue
        for k in present:
            mask = labels == k
            out[mask] = z[mask] @ chol_t[k] + means[k]
    return X, y


def _gaussian_bunch(
    X: np.ndarray,
    y: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    priors: np.ndarray,
    title: str,
) -> Bunch:
    estimator = GaussianBayesClassifier(
        means=means, covariances=covariances, priors=priors
    )
    accuracy = bayes_accuracy(means, covariances, priors, random_state=_BUNCH_MC_SEED)
    n_classes, n_features = means.shape
    with np.printoptions(precision=4, suppress=True):
        classes = "\n".join(
            f"  class {k}: prior {priors[k]:.4g}, mean {means[k]}, covariance "
            f"{covariances[k].tolist()}"
            for k in range(n_classes)
        )
    error = f" ± {accuracy.std_error:.1g}" if accuracy.std_error else ""
    descr = (
        f"{title}\n{'=' * len(title)}\n\n"
        f"{len(y)} samples in {n_features} features, {n_classes} classes; class k "
        "is drawn from N(mean_k, covariance_k).\n"
        f"{classes}\n"
        f"Bayes-optimal accuracy: {float(accuracy):.4f}{error} ({accuracy.method}).\n"
    )
    return Bunch(
        data=X,
        target=y,
        means=means,
        covariances=covariances,
        priors=priors,
        # Nothing is learnt; one row records n_features_in_ and classes 0..K-1.
        bayes_estimator=estimator.fit(X[:1]),
        bayes_accuracy=accuracy,
        DESCR=descr,
    )


def make_gaussian_classes(
    n_samples: int | Sequence[int] = 300,
    *,
    n_classes: int | None = None,
    n_features: int | None = None,
    means: ArrayLike | None = None,
    covariances: ArrayLike = 1.0,
    priors: ArrayLike | None = None,
    shuffle: bool = True,
    random_state: int | np.random.RandomState | None = None,
    return_X_y: bool = True,
) -> tuple[np.ndarray, np.ndarray] | Bunch:
    """Draw classes from Gaussian distributions with known parameters.

    Class `k` is `N(means[k], covariances[k])`. Generation is vectorised (a
    Cholesky factor per class, chunked draws written into one preallocated array):
    ten million 2-D samples take one to two seconds and the memory of the output.

    Parameters
    ----------
    n_samples : int or sequence of int, default=300
        Total number of samples, split across classes in proportion to `priors`
        (largest-remainder rounding, so counts are exact, not random), or one
        count per class (for class imbalance).
    n_classes : int, default=None
        Number of classes. When `None`: the number of rows of `means`, else the
        length of a per-class `n_samples`, else of `priors`, else 3.
    n_features : int, default=None
        Number of features. When `None`: the number of columns of `means`, else 2.
    means : array-like of shape (n_classes, n_features), default=None
        Class means; when `None` they are drawn uniformly in `[-5, 5]` per
        feature from `random_state` (before the samples).
    covariances : float or array-like, default=1.0
        Class covariances (variances, not standard deviations): a scalar shared by
        all classes, `(n_classes,)` one variance per class, `(n_classes,
        n_features)` one diagonal per class, `(n_features, n_features)` one matrix
        shared by all classes or `(n_classes, n_features, n_features)` one matrix
        per class. A square 2-D array is always read as a shared matrix.
    priors : array-like of shape (n_classes,), default=None
        Class probabilities, positive and summing to 1. When `None`: equal, or the
        class proportions of a per-class `n_samples`. With a total `n_samples`
        they set the class counts; with per-class counts they are only passed to
        the Bayes-optimal reference.
    shuffle : bool, default=True
        Shuffle the samples; otherwise classes come in order 0, 1, ...
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output. `None` seeds a fresh generator: the global
        NumPy RNG is never used nor advanced.
    return_X_y : bool, default=True
        Return `(X, y)`; if `False`, a `Bunch` that also describes the true
        distribution.

    Returns
    -------
    (X, y) : tuple of ndarray
        `X` of shape (n_samples, n_features), float64; `y` of shape (n_samples,),
        int64 labels in `0..n_classes - 1`. Returned when `return_X_y=True`.
    data : sklearn.utils.Bunch
        When `return_X_y=False`: `data`, `target`, `means` (n_classes,
        n_features), `covariances` (n_classes, n_features, n_features), `priors`,
        `bayes_estimator` (a fitted
        [`GaussianBayesClassifier`][qwertyclf.datasets.GaussianBayesClassifier]),
        `bayes_accuracy` (a
        [`BayesAccuracy`][qwertyclf.datasets.BayesAccuracy]; its Monte Carlo seed,
        used only beyond 2 features, is fixed) and `DESCR`.

    Raises
    ------
    ValueError
        If a parameter is invalid or inconsistent with the others; the message
        names it.
    TypeError
        If a count is not an int.

    Examples
    --------
    >>> import numpy as np
    >>> from qwertyclf.datasets import make_gaussian_classes
    >>> X, y = make_gaussian_classes([100, 50], means=[[0, 0], [3, 3]], random_state=0)
    >>> X.shape, X.dtype, y.dtype, np.bincount(y).tolist()
    ((150, 2), dtype('float64'), dtype('int64'), [100, 50])
    >>> data = make_gaussian_classes(
    ...     1000, means=[[0, 0], [2, 0]], covariances=[1.0, 2.0], random_state=0,
    ...     return_X_y=False)
    >>> data.covariances[1]
    array([[2., 0.],
           [0., 2.]])
    >>> round(data.bayes_accuracy, 3), data.bayes_accuracy.method
    (0.811, 'quadrature')
    """
    rs = check_random_state(random_state)
    if n_classes is not None:
        n_classes = check_count(n_classes, "n_classes")
    if n_features is not None:
        n_features = check_count(n_features, "n_features")
    counts = check_class_counts(n_samples, "n_samples")
    if means is not None:
        means_ = check_means(means, n_classes=n_classes, n_features=n_features)
        n_classes, n_features = means_.shape
    if n_classes is None:
        if not isinstance(counts, int):
            n_classes = len(counts)
        elif priors is not None and np.ndim(priors) == 1:
            n_classes = len(priors)
        else:
            n_classes = 3
    n_features = 2 if n_features is None else n_features
    if not isinstance(counts, int) and len(counts) != n_classes:
        raise ValueError(
            f"n_samples has {len(counts)} per-class counts but n_classes={n_classes}."
        )
    covariances_ = check_covariances(
        covariances, n_classes=n_classes, n_features=n_features
    )
    if priors is None and not isinstance(counts, int):
        priors_ = counts / counts.sum()
    else:
        priors_ = check_priors(priors, n_classes=n_classes)
    if isinstance(counts, int):
        counts = _split_counts(counts, priors_)
    if means is None:
        means_ = rs.uniform(-5.0, 5.0, size=(n_classes, n_features))
    X, y = _sample_gaussian_classes(rs, counts, means_, covariances_, shuffle=shuffle)
    if return_X_y:
        return X, y
    return _gaussian_bunch(X, y, means_, covariances_, priors_, "Gaussian classes")
