"""What the classifiers share: `predict`, `predict_log_proba` from `predict_proba`."""

from __future__ import annotations

import numpy as np


def log_proba(proba: np.ndarray) -> np.ndarray:
    """Natural logarithm of class probabilities, `-inf` where one is 0.

    As scikit-learn's `MLPClassifier.predict_log_proba` (`np.log` of
    `predict_proba`), but without its "divide by zero" warning: `-inf` is the
    exact logarithm of a probability of 0, not a failure. The dtype of
    `proba` is kept; `proba` itself is not changed.

    Examples
    --------
    >>> import numpy as np
    >>> log_proba(np.array([[1.0, 0.0], [0.5, 0.5]]))
    array([[ 0.        ,        -inf],
           [-0.69314718, -0.69314718]])
    """
    with np.errstate(divide="ignore"):
        return np.log(proba)


def mean_proba(estimators, classes: np.ndarray, X, weights=None) -> np.ndarray:
    """The mean of `estimators`' class probabilities on the rows of `X`.

    Each estimator's columns go to its own classes' places; a class an
    estimator never saw gets probability 0 from it. `weights` (one per
    estimator, summing to 1) make it a weighted mean; None weighs them
    equally.

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:
    ...     def __init__(self, classes, proba):
    ...         self.classes_, self.proba = np.array(classes), np.array(proba)
    ...     def predict_proba(self, X):
    ...         return self.proba
    >>> members = [Fixed(["a", "b"], [[0.5, 0.5]]), Fixed(["b", "c"], [[1.0, 0.0]])]
    >>> mean_proba(members, np.array(["a", "b", "c"]), np.zeros((1, 2)))
    array([[0.25, 0.75, 0.  ]])
    >>> mean_proba(members, np.array(["a", "b", "c"]), np.zeros((1, 2)), [0.8, 0.2])
    array([[0.4, 0.6, 0. ]])
    """
    proba = np.zeros((X.shape[0], len(classes)))
    for k, estimator in enumerate(estimators):
        columns = np.searchsorted(classes, estimator.classes_)
        member = estimator.predict_proba(X)
        proba[:, columns] += member if weights is None else weights[k] * member
    return proba / len(estimators) if weights is None else proba


class ProbaPredictMixin:
    """`predict` and `predict_log_proba` from `predict_proba`, and its tags.

    For classifiers whose probabilities come from other fitted models
    (`QwertyClassifierCV`, `QwertyEnsembleClassifier`); put it left of
    `ClassifierMixin`. The class needs `predict_proba` and `classes_`.

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed(ProbaPredictMixin):
    ...     classes_ = np.array(["a", "b"])
    ...     def predict_proba(self, X):
    ...         return np.array([[0.2, 0.8], [1.0, 0.0]])
    >>> Fixed().predict(None)
    array(['b', 'a'], dtype='<U1')
    >>> Fixed().predict_log_proba(None)[1]
    array([  0., -inf])
    """

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from `classes_`.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_log_proba(self, X):
        """Natural logarithm of the class probabilities of each row.

        `np.log(self.predict_proba(X))`, as scikit-learn's `MLPClassifier`
        computes it: a class of probability 0 (one that no fitted model
        gives any weight) gets `-inf`, without a warning.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns in the order of `classes_`.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import make_blobs
        >>> from qwertyclf import QwertyClassifier, QwertyEnsembleClassifier
        >>> X, y = make_blobs(60, random_state=0)
        >>> member = QwertyClassifier(max_epochs=3)
        >>> ensemble = QwertyEnsembleClassifier(member, n_estimators=2, random_state=0)
        >>> ensemble = ensemble.fit(X, y)
        >>> log_proba = ensemble.predict_log_proba(X[:2])
        >>> np.allclose(np.exp(log_proba), ensemble.predict_proba(X[:2]))
        True
        """
        return log_proba(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Sparse X stays sparse through the encoding; the members make each
        # batch and chunk dense on its own.
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = True
        # As HistGradientBoostingClassifier: categories are read from the
        # columns' dtypes; scikit-learn's "categorical" tag is for estimators
        # whose every input is an integer-coded category (encoders).
        tags.input_tags.categorical = False
        tags.input_tags.string = True
        tags.classifier_tags.multi_class = True
        return tags
