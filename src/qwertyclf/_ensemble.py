"""`QwertyEnsembleClassifier`: many seeds of one network, trained as one run."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._base import ProbaPredictMixin, mean_proba
from ._batched import batch_key, fit_batched
from ._classifier import QwertyClassifier
from ._composite_io import load_composite, save_composite
from ._interrupts import all_or_nothing
from ._progress import check_verbose
from ._table import RARE_CATEGORY_ROWS, encode, fit_encoding
from .training import can_hold_out, check_n_classes

#: The member configuration of `QwertyEnsembleClassifier(estimator=None)`.
DEFAULT_MEMBER = QwertyClassifier(
    hidden_layer_sizes=(64, 64),
    optimizer="adamw",
    lr=0.003,
    weight_decay=0.01,
    batch_size=32,
    early_stopping=True,
    numeric_embedding="pbld",
)


class QwertyEnsembleClassifier(ProbaPredictMixin, ClassifierMixin, BaseEstimator):
    """Average of `n_estimators` QwertyClassifiers that differ only in their seed.

    The members share one configuration (`estimator`) and get their own
    seeds (weight initialisation and batch order), drawn from
    `random_state`, and optionally their own bootstrap sample of the rows.
    They are trained together as one batched run when the configuration
    allows it (see `qwertyclf.model_selection.BatchedGridSearchCV` for what
    does), one after the other otherwise; each member ends exactly where
    its own `fit` would. Probabilities are averaged. The table is encoded
    once, by the ensemble (`encoder_`, as `QwertyClassifier` encodes it), and
    the members train on its encoding.

    Parameters
    ----------
    estimator : QwertyClassifier, default=None
        The configuration of every member. None is a regularised,
        early-stopped member (`DEFAULT_MEMBER`): RealMLP's periodic
        embedding of every input column (`numeric_embedding="pbld"`) in
        front of two hidden layers of 64 units, AdamW with learning rate
        0.003 and weight decay 0.01, early
        stopping on 10% of its rows (each member holds out its own rows,
        drawn from its own seed, stratified by class where a class has
        enough rows, and never a class's only row), keeping its best epoch;
        a member whose rows (its bootstrap sample, with `bootstrap=True`)
        hold every class once trains its 100 epochs instead.
    n_estimators : int, default=10
        Number of members.
    bootstrap : bool, default=False
        Train each member on a bootstrap sample of the rows (with
        replacement, as many as there are rows).
    random_state : int, RandomState instance or None, default=None
        Seeds the members' seeds and bootstrap samples.
    preprocessing : {"robust", None}, default="robust"
        "robust": numeric columns are robustly scaled and smoothly clipped
        (as in `QwertyClassifierCV`), so raw scales need no scaler in
        front; None: the numbers as they are.
        A sparse `X` (taken as it is) is not centred, which would fill in
        its zeros: columns of median 0, such as one-hot columns, are scaled
        as in a dense array (see the guide "Your own table").
    categorical_features : "from_dtype", None or array-like, default="from_dtype"
        Which columns are categorical, as in `QwertyClassifier`.
    min_frequency : int, float or None, default=2
        Rare categories share one input, as in `QwertyClassifierCV`: by
        default those seen in a single training row (weighted counts with
        sample weights). None gives every category its own input.
    verbose : int, default=0
        0 is silent. 1 or more shows a progress bar on stderr for each
        batched run (a plain line every tenth of the epochs when stderr is
        not a terminal): the epochs done, the members still training (early
        stopping ends them at different epochs) and the time elapsed. A
        member whose own `verbose` is set trains on its own, with its own
        output.

    Attributes
    ----------
    estimators_ : list of QwertyClassifier
        The fitted members.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    encoder_ : TableEncoder
        How the columns of `X` become the members' inputs, described as in
        `QwertyClassifier.encoder_`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when `X` had string column names.

    Examples
    --------
    >>> from qwertyclf import QwertyClassifier, QwertyEnsembleClassifier
    >>> from qwertyclf.datasets import make_qwerty
    >>> X, y = make_qwerty(40, random_state=0)
    >>> ensemble = QwertyEnsembleClassifier(
    ...     QwertyClassifier(max_epochs=5), n_estimators=4, random_state=0
    ... ).fit(X, y)
    >>> len(ensemble.estimators_), ensemble.predict_proba(X[:2]).shape
    (4, (2, 3))
    """

    def __init__(
        self,
        estimator: QwertyClassifier | None = None,
        n_estimators: int = 10,
        bootstrap: bool = False,
        random_state: int | np.random.RandomState | None = None,
        preprocessing: str | None = "robust",
        categorical_features="from_dtype",
        min_frequency: int | float | None = RARE_CATEGORY_ROWS,
        verbose: int = 0,
    ) -> None:
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.bootstrap = bootstrap
        self.random_state = random_state
        self.preprocessing = preprocessing
        self.categorical_features = categorical_features
        self.min_frequency = min_frequency
        self.verbose = verbose

    @all_or_nothing
    def fit(self, X, y, *, sample_weight=None):
        """Train every member on `X`, `y` (or its bootstrap sample).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        self : QwertyEnsembleClassifier
            The fitted ensemble.
        """
        n = self.n_estimators
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n_estimators must be an int >= 1, got {n!r}.")
        verbose = check_verbose(self.verbose)
        encoder, X, y = fit_encoding(self, X, y, sample_weight=sample_weight)
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        self.classes_ = np.unique(y)
        check_n_classes(self.classes_, type(self).__name__)
        template = self.estimator
        if template is None:
            template = DEFAULT_MEMBER
        rng = check_random_state(self.random_state)
        seeds = rng.randint(2**31 - 1, size=n)
        members = [clone(template).set_params(random_state=int(s)) for s in seeds]
        rows = [
            rng.randint(len(y), size=len(y)) if self.bootstrap else np.arange(len(y))
            for _ in range(n)
        ]
        if self.estimator is None:
            for member, r in zip(members, rows, strict=True):
                # Each member holds out a tenth of its own rows; only where
                # every class has a single row is there nothing to hold out,
                # and it trains all its epochs.
                if not can_hold_out(y[r]):
                    member.set_params(early_stopping=False)
        keys = [batch_key(member) for member in members]
        batched = [k for k, key in enumerate(keys) if key is not None]
        fitted: list = [None] * n
        results = fit_batched(
            [members[k] for k in batched],
            X,
            y,
            [rows[k] for k in batched],
            sample_weight=sample_weight,
            verbose=verbose,
        )
        for k, result in zip(batched, results, strict=True):
            fitted[k] = result
        for k, key in enumerate(keys):
            if key is None:
                fitted[k] = members[k].fit(
                    X[rows[k]],
                    y[rows[k]],
                    sample_weight=None
                    if sample_weight is None
                    else np.asarray(sample_weight)[rows[k]],
                )
        for result in fitted:
            if isinstance(result, Exception):
                raise result
        self.estimators_ = fitted
        self.encoder_ = encoder
        return self

    def predict_proba(self, X):
        """Mean of the members' class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of `classes_`; a member that
            never saw a class (bootstrap) gives it probability 0.
        """
        check_is_fitted(self)
        return mean_proba(
            self.estimators_, self.classes_, encode(self, X, self.encoder_)
        )

    def save(self, path):
        """Write the fitted model to a safetensors file that runs no code on load.

        One file holds the parameters, the fitted attributes and the input
        encoding, and every member network (see the guide on saving
        models). Read it with `load` or `qwertyclf.load_model`.

        Parameters
        ----------
        path : str or path-like
            Destination, conventionally ending in `.safetensors`.

        Returns
        -------
        path : pathlib.Path
            The path written.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from qwertyclf.datasets import make_qwerty
        >>> X, y = make_qwerty(40, random_state=0)
        >>> clf = QwertyEnsembleClassifier(
        ...     QwertyClassifier(max_epochs=3), n_estimators=2, random_state=0
        ... ).fit(X, y)
        >>> path = clf.save(pathlib.Path(tempfile.mkdtemp()) / "clf.safetensors")
        >>> same = QwertyEnsembleClassifier.load(path)
        >>> bool((same.predict_proba(X) == clf.predict_proba(X)).all())
        True
        """
        return save_composite(self, path, kind="QwertyEnsembleClassifier")

    @classmethod
    def load(cls, path, *, device=None):
        """Read a model written by `save`; see `qwertyclf.load_model`.

        Every value in the file is checked before anything is built, the
        members' as `QwertyClassifier.load` checks them.

        Parameters
        ----------
        path : str or path-like
            A file written by `save`.
        device : str, default=None
            Device for the members' networks; None keeps the saved one when
            available.

        Returns
        -------
        estimator : QwertyEnsembleClassifier
            The fitted model.

        Raises
        ------
        ValueError
            If the file is not a qwertyclf model file of a QwertyEnsembleClassifier, is
            damaged, holds values no fit produces, or was written by a newer
            format.
        """
        return load_composite(cls, path, kind="QwertyEnsembleClassifier", device=device)
