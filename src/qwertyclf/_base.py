"""What the classifiers built on several `QwertyClassifier` fits share."""

from __future__ import annotations

import numpy as np


class ProbaPredictMixin:
    """`predict` as the most probable class of `predict_proba`, and its tags.

    For classifiers whose probabilities come from other fitted models
    (`QwertyClassifierCV`, `QwertyEnsembleClassifier`); put it left of
    `ClassifierMixin`. The class needs `predict_proba` and `classes_`.

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed(ProbaPredictMixin):
    ...     classes_ = np.array(["a", "b"])
    ...     def predict_proba(self, X):
    ...         return np.array([[0.2, 0.8], [0.9, 0.1]])
    >>> Fixed().predict(None)
    array(['b', 'a'], dtype='<U1')
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        # As HistGradientBoostingClassifier: categories are read from the
        # columns' dtypes; scikit-learn's "categorical" tag is for estimators
        # whose every input is an integer-coded category (encoders).
        tags.input_tags.categorical = False
        tags.input_tags.string = True
        tags.classifier_tags.multi_class = True
        return tags
