"""Which of `QwertyClassifierCV`'s candidates predict, and with what weight.

`selection="best"` keeps the top-ranked candidate; `"greedy"` blends
candidates by greedy ensemble selection on the probabilities their fold
networks give the rows they were held out from, which cost no training.
The estimator's `fit` and its model files check `selection` here.
"""

from __future__ import annotations

import numpy as np

from ._base import mean_proba

#: What `selection` takes.
SELECTIONS = ("auto", "greedy", "best")

#: Steps of greedy selection (`selection="greedy"`): each candidate's
#: weight is a multiple of 1 / GREEDY_STEPS.
GREEDY_STEPS = 10


def check_selection(selection) -> None:
    """Raise ValueError unless `selection` is one of `SELECTIONS`.

    Examples
    --------
    >>> check_selection("greedy")
    >>> check_selection("all")
    Traceback (most recent call last):
    ...
    ValueError: selection must be one of ['auto', 'greedy', 'best'], got 'all'.
    """
    if not isinstance(selection, str) or selection not in SELECTIONS:
        raise ValueError(
            f"selection must be one of {list(SELECTIONS)}, got {selection!r}."
        )


def greedy_weights(proba, y, sample_weight=None, steps=GREEDY_STEPS) -> np.ndarray:
    """Candidate weights from greedy ensemble selection with replacement.

    Each of `steps` steps adds the candidate whose held-out probabilities,
    averaged with those chosen so far (repeats included), give the lowest
    log-loss; ties go to the earlier candidate. A weight is the share of
    the steps that chose its candidate.

    Parameters
    ----------
    proba : list of (list of ndarray) or None
        Per candidate, the held-out probabilities of each fold's rows (None
        for a candidate to leave out).
    y : list of ndarray
        Per fold, the held-out rows' class indices.
    sample_weight : list of ndarray, default=None
        Per fold, the held-out rows' weights.
    steps : int, default=GREEDY_STEPS
        Steps of the selection.

    Returns
    -------
    weights : ndarray of shape (len(proba),)
        Non-negative, summing to 1.

    Examples
    --------
    >>> import numpy as np
    >>> sure = [np.array([[0.9, 0.1], [0.2, 0.8]])]
    >>> unsure = [np.array([[0.6, 0.4], [0.4, 0.6]])]
    >>> greedy_weights([unsure, sure], [np.array([0, 1])]).tolist()
    [0.0, 1.0]
    """
    n_candidates = len(proba)
    y = np.concatenate(y)
    w = None if sample_weight is None else np.concatenate(sample_weight)
    # Only each row's probability of its own class enters the log-loss.
    rows = np.arange(len(y))
    right = [None if p is None else np.concatenate(p)[rows, y] for p in proba]
    counts = np.zeros(n_candidates)
    blend = 0.0
    for step in range(steps):
        losses = np.full(n_candidates, np.inf)
        for c, p in enumerate(right):
            if p is not None:
                mixed = (blend * step + p) / (step + 1)
                losses[c] = -np.average(np.log(np.clip(mixed, 1e-15, None)), weights=w)
        chosen = int(np.argmin(losses))
        counts[chosen] += 1
        blend = (blend * step + right[chosen]) / (step + 1)
    return counts / steps


def held_out_proba(fitted, X, folds, classes) -> list:
    """Each candidate's fold networks' probabilities on their held-out rows.

    Parameters
    ----------
    fitted : list of QwertyClassifier or Exception
        The fold networks, candidate by candidate, each candidate's in fold
        order; an exception for a fit that failed.
    X : ndarray of shape (n_samples, n_features)
        The encoded training rows.
    folds : list of (ndarray, ndarray)
        Training and held-out row indices of each fold.
    classes : ndarray
        The classes, in `predict_proba`'s column order.

    Returns
    -------
    proba : list of (list of ndarray) or None
        Per candidate, the probabilities of each fold's held-out rows; None
        for a candidate with a failed fold, or whose probabilities are not
        all finite (a network that diverged), so that the blend passes it
        over.

    Examples
    --------
    >>> import numpy as np
    >>> from qwertyclf import QwertyClassifier
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]], dtype=np.float32)
    >>> y = np.array([0, 0, 1, 1])
    >>> folds = [(np.array([0, 2]), np.array([1, 3]))]
    >>> net = QwertyClassifier(max_epochs=1).fit(X[[0, 2]], y[[0, 2]])
    >>> proba = held_out_proba([net, ValueError()], X, folds, np.array([0, 1]))
    >>> [None if p is None else p[0].shape for p in proba]
    [(2, 2), None]
    """
    n_folds = len(folds)
    proba = []
    for c in range(len(fitted) // n_folds):
        networks = fitted[c * n_folds : (c + 1) * n_folds]
        if any(isinstance(network, Exception) for network in networks):
            proba.append(None)
            continue
        held_out = [
            mean_proba([network], classes, X[test])
            for network, (_, test) in zip(networks, folds, strict=True)
        ]
        finite = all(np.isfinite(p).all() for p in held_out)
        proba.append(held_out if finite else None)
    return proba
