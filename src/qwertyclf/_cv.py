"""`QwertyClassifierCV`: a classifier that picks its own size and learning rate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._base import ProbaPredictMixin
from ._classifier import _FLOAT_DTYPES, QwertyClassifier

#: Learning rates tried when `lrs="auto"`.
AUTO_LRS = (0.001, 0.003, 0.01, 0.03)


def default_search_space(
    n_samples: int, n_features: int, n_classes: int
) -> dict[str, list]:
    """The architectures, learning rates and batch size tried by default.

    Widths grow with the number of features and classes: a narrow, a medium
    and a wide single hidden layer, and two medium layers. The batch size
    grows with the data (16 for the 720 training rows of the qwerty data, up
    to 256), so that an epoch takes about the same number of steps on larger
    tables.

    Parameters
    ----------
    n_samples, n_features, n_classes : int
        Shape of the training data.

    Returns
    -------
    space : dict
        `hidden_layer_sizes` and `lr` candidate lists, and `batch_size`.

    Examples
    --------
    >>> space = default_search_space(720, 2, 3)
    >>> space["hidden_layer_sizes"]
    [(8,), (16,), (32,), (16, 16)]
    >>> space["batch_size"]
    16
    """
    medium = int(2 ** np.ceil(np.log2(max(16, n_features + n_classes))))
    medium = min(medium, 256)
    narrow = max(8, medium // 2)
    wide = min(2 * medium, 512)
    batch = int(2 ** np.round(np.log2(max(n_samples, 1) / 64)))
    return {
        "hidden_layer_sizes": [(narrow,), (medium,), (wide,), (medium, medium)],
        "lr": list(AUTO_LRS),
        "batch_size": int(np.clip(batch, 16, 256)),
    }


class QwertyClassifierCV(ProbaPredictMixin, ClassifierMixin, BaseEstimator):
    """`QwertyClassifier` that chooses its architecture and learning rate by CV.

    In the style of scikit-learn's `LogisticRegressionCV`: `fit` cross-
    validates a small grid of hidden layer sizes and learning rates (by
    default derived from the data's shape, see `default_search_space`),
    trains all (candidate, fold) networks as batched runs
    (`qwertyclf.model_selection.BatchedGridSearchCV`), then refits the best
    candidate on all the data. The default search trains 16 candidates x 5
    folds = 80 networks; on a 2,100-row, 20-feature table it took 12 to 17
    times one default `QwertyClassifier` fit (benchmark g), where 80
    ordinary fits would take about 80 times.

    Parameters
    ----------
    hidden_layer_sizes : "auto" or list of tuples, default="auto"
        Candidate architectures.
    lrs : "auto" or list of float, default="auto"
        Candidate learning rates (`AUTO_LRS` for "auto").
    batch_size : "auto" or int, default="auto"
        Rows per mini-batch; "auto" grows with the number of rows.
    max_epochs : int, default=100
        Epochs of every fit.
    activation : str, default="relu"
        Hidden activation of every candidate.
    cv : int or cross-validation generator, default=5
        Folds (stratified for an int).
    scoring : str or callable, default=None
        Model-selection score; None is accuracy.
    n_jobs : int, default=None
        Parallel workers for the batched runs.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the networks.
    device : str, default="cpu"
        Device to train on, as in `QwertyClassifier`.
    random_state : int, RandomState instance or None, default=None
        Seeds every candidate's network (all candidates use the same seed).
    verbose : int, default=0
        Passed to the search.

    Attributes
    ----------
    best_estimator_ : QwertyClassifier
        The best candidate, refitted on all the data; predictions use it.
    best_params_ : dict
        Its `hidden_layer_sizes` and `lr`.
    best_score_ : float
        Its mean cross-validated score.
    cv_results_ : dict
        The search's results, as in `GridSearchCV`.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when `X` had string column names.

    Examples
    --------
    >>> from qwertyclf import QwertyClassifierCV
    >>> from qwertyclf.datasets import make_qwerty
    >>> X, y = make_qwerty(40, random_state=0)
    >>> clf = QwertyClassifierCV(
    ...     hidden_layer_sizes=[(4,), (8,)], lrs=[0.01, 0.03], max_epochs=5,
    ...     cv=3, random_state=0,
    ... ).fit(X, y)
    >>> sorted(clf.best_params_)
    ['hidden_layer_sizes', 'lr']
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    def __init__(
        self,
        hidden_layer_sizes: str | Sequence[Sequence[int]] = "auto",
        lrs: str | Sequence[float] = "auto",
        batch_size: str | int = "auto",
        max_epochs: int = 100,
        activation: str = "relu",
        cv=5,
        scoring=None,
        n_jobs: int | None = None,
        dtype: str = "float32",
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.lrs = lrs
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.activation = activation
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.dtype = dtype
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, *, sample_weight=None):
        """Cross-validate the candidates and refit the best on all of `X`, `y`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, split with the folds.

        Returns
        -------
        self : QwertyClassifierCV
            The fitted estimator.
        """
        from .model_selection import BatchedGridSearchCV

        X, y = validate_data(self, X, y, dtype=_FLOAT_DTYPES)
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        classes = np.unique(y)
        space = default_search_space(X.shape[0], X.shape[1], len(classes))
        grid = {
            "hidden_layer_sizes": space["hidden_layer_sizes"]
            if _is_auto(self.hidden_layer_sizes)
            else [tuple(h) for h in self.hidden_layer_sizes],
            "lr": space["lr"] if _is_auto(self.lrs) else list(self.lrs),
        }
        batch_size = (
            space["batch_size"] if _is_auto(self.batch_size) else self.batch_size
        )
        base = QwertyClassifier(
            activation=self.activation,
            batch_size=batch_size,
            max_epochs=self.max_epochs,
            dtype=self.dtype,
            device=self.device,
            random_state=self.random_state,
        )
        search = BatchedGridSearchCV(
            base,
            grid,
            scoring=self.scoring,
            cv=self.cv,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            error_score=np.nan,
        )
        params = {} if sample_weight is None else {"sample_weight": sample_weight}
        search.fit(X, y, **params)
        self.best_estimator_ = search.best_estimator_
        self.best_params_ = search.best_params_
        self.best_score_ = float(search.best_score_)
        self.cv_results_ = search.cv_results_
        self.classes_ = self.best_estimator_.classes_
        return self

    def predict_proba(self, X):
        """Class probabilities from the refitted best candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of `classes_`.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        return self.best_estimator_.predict_proba(X)


def _is_auto(value) -> bool:
    return isinstance(value, str) and value == "auto"
