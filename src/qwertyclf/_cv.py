"""`QwertyClassifierCV`: a classifier that tunes itself by cross-fitting."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, StratifiedKFold, check_cv
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._base import ProbaPredictMixin, mean_proba
from ._batched import batch_key, fit_batched, run_data
from ._classifier import (
    QwertyClassifier,
    check_params,
    fit_spec,
    restore,
)
from ._composite_io import load_composite, save_composite
from ._interrupts import all_or_nothing
from ._labels import encode_labels
from ._progress import check_verbose
from ._selection import check_selection, greedy_weights, held_out_proba
from ._table import RARE_CATEGORY_ROWS, encode, fit_encoding
from .training import as_dataset, check_n_classes, train_serial

#: Learning rates tried when `lrs="auto"` (Adam's default is 0.001).
AUTO_LRS = (0.001, 0.003, 0.01)

#: Decoupled (AdamW) weight decays tried when `weight_decays="auto"`.
AUTO_WEIGHT_DECAYS = (0.0, 0.01, 0.1)

#: The embedding of every candidate but one when `numeric_embedding="auto"`.
AUTO_EMBEDDING = "pbld"


def default_search_space(
    n_samples: int, n_features: int, n_classes: int
) -> dict[str, list]:
    """The architectures, learning rates, weight decays and batch size tried.

    Widths grow with the number of the table's columns and classes (at least
    64, at most 512), in one, two and three hidden layers; learning rates
    around Adam's default; decoupled weight decay from none to strong. The
    batch size grows with the data (16 for the 720 training rows of the
    qwerty data, up to 256), so that an epoch takes about the same number of
    steps on larger tables.

    Parameters
    ----------
    n_samples, n_features, n_classes : int
        Shape of the training data. `QwertyClassifierCV` passes the table's
        columns as `n_features`: a categorical column counts once, however
        many one-hot inputs it is encoded into.

    Returns
    -------
    space : dict
        `hidden_layer_sizes`, `lr` and `weight_decay` candidate lists, and
        `batch_size`.

    Examples
    --------
    >>> space = default_search_space(720, 2, 3)
    >>> space["hidden_layer_sizes"]
    [(64,), (128,), (64, 64), (128, 128), (64, 64, 64)]
    >>> space["batch_size"]
    16
    """
    width = int(2 ** np.ceil(np.log2(max(64, 2 * (n_features + n_classes)))))
    width = min(width, 256)
    wide = min(2 * width, 512)
    batch = int(2 ** np.round(np.log2(max(n_samples, 1) / 64)))
    return {
        "hidden_layer_sizes": [
            (width,),
            (wide,),
            (width, width),
            (wide, wide),
            (width, width, width),
        ],
        "lr": list(AUTO_LRS),
        "weight_decay": list(AUTO_WEIGHT_DECAYS),
        "batch_size": int(np.clip(batch, 16, 256)),
    }


class QwertyClassifierCV(ProbaPredictMixin, ClassifierMixin, BaseEstimator):
    """A `QwertyClassifier` that tunes itself: cross-fitted, early-stopped, bagged.

    In the style of scikit-learn's `LogisticRegressionCV`. `fit` draws
    `n_candidates` configurations (width, depth, learning rate, weight decay)
    from a space derived from the data's shape (`default_search_space`),
    every candidate but one behind RealMLP's periodic embedding of every
    input column (`numeric_embedding="auto"`), and trains every (candidate, fold)
    network as batched runs (one by one,
    to the same result, for settings the batched trainer cannot take, such
    as an activation without a hand-written gradient). Each network
    trains on its fold's training rows with AdamW and stops early on the
    fold's held-out rows, keeping its best epoch. The candidate with the
    lowest mean held-out log-loss (or best `scoring`) ranks first. By
    default prediction is a weighted mean of the fold networks of a few
    candidates, picked by greedy ensemble selection on the held-out
    rows (`selection`): nothing is refitted, and the held-out probabilities
    that weigh them come from the networks early stopping already kept.
    It takes a raw table, as `QwertyClassifier` does (categorical columns
    one-hot encoded, missing values imputed and flagged), encoded once for
    all candidates; numeric inputs are robustly scaled and smoothly clipped
    (`preprocessing="robust"`), so no scaler is needed in front; a scaled
    pipeline works too.

    Parameters
    ----------
    hidden_layer_sizes : "auto" or list of tuples, default="auto"
        Candidate architectures.
    lrs : "auto" or list of float, default="auto"
        Candidate learning rates (`AUTO_LRS` for "auto").
    weight_decays : "auto" or list of float, default="auto"
        Candidate AdamW weight decays (`AUTO_WEIGHT_DECAYS` for "auto").
    n_candidates : int, default=6
        Configurations tried: the budget. The first is always the space's
        middle (widest one-layer net, lr 0.003, weight decay 0.01), and with
        `numeric_embedding="auto"` the second is the middle without the
        embedding; the rest are drawn at random from the whole space (every
        architecture, learning rate and weight decay), without replacement,
        seeded from `random_state`; at most the space's size (plus one with
        "auto").
    batch_size : "auto" or int, default="auto"
        Rows per mini-batch; "auto" grows with the number of rows.
    max_epochs : int, default=100
        Most epochs of every network.
    n_iter_no_change : int, default=10
        Patience of early stopping on the held-out fold, in epochs.
    activation : str, default="relu"
        Hidden activation of every candidate.
    numeric_embedding : {"auto", "pbld", "plr", None}, default="auto"
        Embedding of the input columns, as in `QwertyClassifier`. "auto":
        RealMLP's periodic embedding of every input column ("pbld", trained
        batched) in every candidate but the second, which is the first (the
        space's middle) on plain inputs, so that the blend can weigh in a
        network that does not overfit smooth structure in a few columns.
        "pbld", "plr" (trained one network at a time) or None (the plain
        network): that embedding in every candidate.
    batch_ensemble : int, default=1
        BatchEnsemble members inside every candidate network, as in
        `QwertyClassifier`; 1 is the plain network.
    preprocessing : {"robust", None}, default="robust"
        "robust": centre each numeric column on its median, divide by its
        robust deviation and bound it smoothly to about +-3; None: use the
        numbers as they are.
        A sparse `X` (taken as it is) is not centred, which would fill in
        its zeros: columns of median 0, such as one-hot columns, are scaled
        as in a dense array (see the guide "Your own table").
    categorical_features : "from_dtype", None or array-like, default="from_dtype"
        Which columns are categorical, as in `QwertyClassifier`.
    min_frequency : int, float or None, default=2
        Categories seen in a single training row share one input, as
        `min_frequency` of `QwertyClassifier` (which pools none by
        default): an identifier column would otherwise get an input per
        row, which teaches nothing about new rows and slows training many
        times over. With sample weights, a category's count is its total
        weight, as for every statistic of the encoding. None gives every
        category its own input.
    selection : {"auto", "greedy", "best"}, default="auto"
        Which candidates predict. "greedy": greedy ensemble selection with
        replacement, in `GREEDY_STEPS` (10) steps, each adding the candidate
        whose fold networks, joined to those chosen so far, give the
        lowest log-loss on the held-out rows (every network predicting the
        rows its early stopping watched); a candidate's weight is the share
        of steps that chose it. "best": the top-ranked candidate alone.
        "auto": "greedy" when `scoring` is None, "best" with a `scoring`
        (the blend's weights are fitted on the log-loss).
    refit : bool, default=False
        False: predict with the chosen candidates' fold networks. True:
        refit each chosen candidate on all the data for its mean best epoch
        count and predict with those networks, weighted as the candidates.
    cv : int, cross-validation generator or iterable, default=5
        Folds. An int is that many stratified folds of shuffled rows
        (`StratifiedKFold(cv, shuffle=True)`, seeded from `random_state`),
        so the order in which the rows are stored (sorted by class, grouped
        by source or date) does not decide which are held out together. A
        splitter, or an iterable of (train, test) index arrays, is used as
        given.
    scoring : str or callable, default=None
        Model-selection score on the held-out folds; None is the log-loss
        that early stopping monitors (lower is better). With a scoring,
        `selection="auto"` predicts with the top-ranked candidate alone.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the networks.
    device : str, default="cpu"
        Device to train on, as in `QwertyClassifier`.
    random_state : int, RandomState instance or None, default=None
        Seeds the candidates drawn, the folds of an int `cv` and every
        network.
    verbose : int, default=0
        0 is silent. 1 or more shows a progress bar on stderr for each
        batched run (a plain line every tenth of the epochs when stderr is
        not a terminal): the epochs done, the networks still training
        (early stopping ends them at different epochs) and the time
        elapsed.

    Attributes
    ----------
    estimators_ : list of QwertyClassifier
        The networks predictions average: the chosen candidates' fold
        networks, or one refitted network per chosen candidate with
        `refit=True`.
    weights_ : ndarray of shape (len(estimators_),)
        Each network's weight in that mean (summing to 1): its candidate's
        weight shared equally among the candidate's networks.
    best_params_ : dict
        The winning `hidden_layer_sizes`, `lr` and `weight_decay` (and
        `numeric_embedding` with `numeric_embedding="auto"`).
    best_score_ : float
        Its mean held-out score (the negated log-loss by default).
    cv_results_ : dict
        Per candidate: `params`, `mean_test_score`, `std_test_score`,
        `split{k}_test_score`, `mean_best_epoch` and `rank_test_score`.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    encoder_ : TableEncoder
        How the columns of `X` become the networks' inputs, described as in
        `QwertyClassifier.encoder_`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when `X` had string column names.

    Examples
    --------
    >>> from qwertyclf import QwertyClassifierCV
    >>> from qwertyclf.datasets import make_qwerty
    >>> X, y = make_qwerty(40, random_state=0)
    >>> clf = QwertyClassifierCV(n_candidates=2, max_epochs=5, cv=3,
    ...                          random_state=0).fit(X, y)
    >>> sorted(clf.best_params_)
    ['hidden_layer_sizes', 'lr', 'numeric_embedding', 'weight_decay']
    >>> len(clf.estimators_) % 3, round(float(clf.weights_.sum()), 6)
    (0, 1.0)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    def __init__(
        self,
        hidden_layer_sizes: str | Sequence[Sequence[int]] = "auto",
        lrs: str | Sequence[float] = "auto",
        weight_decays: str | Sequence[float] = "auto",
        n_candidates: int = 6,
        batch_size: str | int = "auto",
        max_epochs: int = 100,
        n_iter_no_change: int = 10,
        activation: str = "relu",
        numeric_embedding: str | None = "auto",
        batch_ensemble: int = 1,
        preprocessing: str | None = "robust",
        selection: str = "auto",
        refit: bool = False,
        cv=5,
        scoring=None,
        dtype: str = "float32",
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
        categorical_features="from_dtype",
        min_frequency: int | float | None = RARE_CATEGORY_ROWS,
        verbose: int = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.lrs = lrs
        self.weight_decays = weight_decays
        self.n_candidates = n_candidates
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.n_iter_no_change = n_iter_no_change
        self.activation = activation
        self.numeric_embedding = numeric_embedding
        self.batch_ensemble = batch_ensemble
        self.preprocessing = preprocessing
        self.selection = selection
        self.refit = refit
        self.cv = cv
        self.scoring = scoring
        self.dtype = dtype
        self.device = device
        self.random_state = random_state
        self.categorical_features = categorical_features
        self.min_frequency = min_frequency
        self.verbose = verbose

    @all_or_nothing
    def fit(self, X, y, *, sample_weight=None):
        """Cross-fit the candidates, keep the chosen ones' fold networks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, split with the folds (training and held-out rows).

        Returns
        -------
        self : QwertyClassifierCV
            The fitted estimator.
        """
        n = self.n_candidates
        if not isinstance(n, Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n_candidates must be an int >= 1, got {n!r}.")
        check_selection(self.selection)
        verbose = check_verbose(self.verbose)
        encoder, X, y = fit_encoding(self, X, y, sample_weight=sample_weight)
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        self.classes_ = np.unique(y)
        check_n_classes(self.classes_, type(self).__name__)
        rng = check_random_state(self.random_state)
        candidates, batch_size = self._candidates(X, rng)
        seed = int(rng.randint(2**31 - 1))
        base = QwertyClassifier(
            activation=self.activation,
            numeric_embedding=AUTO_EMBEDDING
            if _is_auto(self.numeric_embedding)
            else self.numeric_embedding,
            batch_ensemble=self.batch_ensemble,
            optimizer="adamw",
            batch_size=batch_size,
            max_epochs=self.max_epochs,
            early_stopping=True,
            n_iter_no_change=self.n_iter_no_change,
            dtype=self.dtype,
            device=self.device,
            random_state=seed,
        )
        check_params(base)
        per_candidate = [clone(base).set_params(**c) for c in candidates]
        for model in per_candidate:
            # A bad value gets its own error, naming the parameter.
            check_params(model)
        folds = self._folds(X, y, int(rng.randint(2**31 - 1)))
        models = [model for model in per_candidate for _ in folds]
        fitted = _fit_models(
            models,
            X,
            y,
            [train for _ in candidates for train, _ in folds],
            [test for _ in candidates for _, test in folds],
            sample_weight,
            verbose=verbose,
        )
        scores, epochs = self._scores(fitted, X, y, folds, sample_weight)
        self.cv_results_ = _results(candidates, scores, epochs)
        best = int(np.argmin(self.cv_results_["rank_test_score"]))
        self.best_params_ = candidates[best]
        self.best_score_ = float(self.cv_results_["mean_test_score"][best])
        n_folds = len(folds)
        for model in fitted[best * n_folds : (best + 1) * n_folds]:
            if isinstance(model, Exception):
                raise model
        weights = np.eye(len(candidates))[best]
        selection = self.selection
        if selection == "auto":
            selection = "greedy" if self.scoring is None else "best"
        proba = (
            held_out_proba(fitted, X, folds, self.classes_)
            if selection == "greedy"
            else []
        )
        if any(p is not None for p in proba):
            # Without a usable candidate the best one predicts alone.
            weights = greedy_weights(
                proba,
                [np.searchsorted(self.classes_, y[test]) for _, test in folds],
                None
                if sample_weight is None
                else [sample_weight[test] for _, test in folds],
            )
        chosen = np.flatnonzero(weights)
        if self.refit:
            self.estimators_ = [
                clone(base)
                .set_params(
                    **candidates[c],
                    early_stopping=False,
                    max_epochs=max(1, round(float(np.mean(epochs[c])))),
                )
                .fit(X, y, sample_weight=sample_weight)
                for c in chosen
            ]
            self.weights_ = weights[chosen]
        else:
            self.estimators_ = [
                fitted[c * n_folds + f] for c in chosen for f in range(n_folds)
            ]
            self.weights_ = np.repeat(weights[chosen] / n_folds, n_folds)
        self.encoder_ = encoder
        return self

    def predict_proba(self, X):
        """Class probabilities: the mean of `estimators_`' weighted by `weights_`.

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
        return mean_proba(
            self.estimators_,
            self.classes_,
            encode(self, X, self.encoder_),
            self.weights_,
        )

    def _folds(self, X, y, seed):
        """The (train, test) index pairs: shuffled stratified folds for an int.

        Shuffled, so that the order in which the rows are stored (sorted by
        class, grouped by a source or a date) does not decide which rows
        are held out together; a splitter or an iterable is used as given.
        """
        cv = self.cv
        if isinstance(cv, Integral) and not isinstance(cv, bool):
            cv = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
        return list(check_cv(cv, y, classifier=True).split(X, y))

    def _candidates(self, X, rng):
        """The configurations to try, the first being the space's middle.

        With `numeric_embedding="auto"` each names its embedding, the
        second being the middle on plain inputs.
        """
        # Widths follow the table's columns, not its encoded inputs: the
        # one-hot indicators of a categorical column carry one column's
        # information, and each input is embedded besides.
        space = default_search_space(
            X.shape[0], self.n_features_in_, len(self.classes_)
        )
        grid = {
            "hidden_layer_sizes": space["hidden_layer_sizes"]
            if _is_auto(self.hidden_layer_sizes)
            else [tuple(h) for h in self.hidden_layer_sizes],
            "lr": space["lr"] if _is_auto(self.lrs) else list(self.lrs),
            "weight_decay": space["weight_decay"]
            if _is_auto(self.weight_decays)
            else list(self.weight_decays),
        }
        middle = {key: values[len(values) // 2] for key, values in grid.items()}
        if _is_auto(self.hidden_layer_sizes):
            middle["hidden_layer_sizes"] = grid["hidden_layer_sizes"][1]
        points = ParameterGrid(grid)
        # A permutation of the whole grid: asked for every point of a grid,
        # ParameterSampler returns them in the grid's own order, whatever
        # its seed, which would try the first architecture only. One seed is
        # drawn for it, so the folds' and networks' seeds drawn next from
        # `rng` stay the same.
        order = check_random_state(int(rng.randint(2**31 - 1))).permutation(len(points))
        drawn = (points[int(i)] for i in order)
        candidates = [middle] + [c for c in drawn if c != middle]
        if _is_auto(self.numeric_embedding):
            # The space's middle on plain inputs as well, second: smooth
            # structure in a few columns, which the periodic features can
            # overfit, gets a candidate the blend may weigh in.
            candidates = [
                {**c, "numeric_embedding": AUTO_EMBEDDING} for c in candidates
            ]
            candidates.insert(1, {**middle, "numeric_embedding": None})
        batch_size = (
            space["batch_size"] if _is_auto(self.batch_size) else self.batch_size
        )
        return candidates[: self.n_candidates], batch_size

    def _scores(self, fitted, X, y, folds, sample_weight):
        """Held-out score and best epoch of each (candidate, fold) network."""
        n_folds = len(folds)
        scores = np.full((len(fitted) // n_folds, n_folds), np.nan)
        epochs = np.full_like(scores, np.nan)
        scorer = None if self.scoring is None else check_scoring(None, self.scoring)
        for i, model in enumerate(fitted):
            if isinstance(model, Exception):
                continue
            c, f = divmod(i, n_folds)
            epochs[c, f] = model.best_epoch_
            if scorer is None:
                scores[c, f] = -model.history_[model.best_epoch_ - 1, "valid_loss"]
            else:
                test = folds[f][1]
                kwargs = {}
                if sample_weight is not None:
                    kwargs["sample_weight"] = sample_weight[test]
                scores[c, f] = scorer(model, X[test], y[test], **kwargs)
        return scores, epochs

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
        >>> clf = QwertyClassifierCV(n_candidates=2, max_epochs=3, cv=2,
        ...                          random_state=0).fit(X, y)
        >>> path = clf.save(pathlib.Path(tempfile.mkdtemp()) / "clf.safetensors")
        >>> same = QwertyClassifierCV.load(path)
        >>> bool((same.predict_proba(X) == clf.predict_proba(X)).all())
        True
        """
        return save_composite(self, path, kind="QwertyClassifierCV")

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
        estimator : QwertyClassifierCV
            The fitted model.

        Raises
        ------
        ValueError
            If the file is not a qwertyclf model file of a QwertyClassifierCV, is
            damaged, holds values no fit produces, or was written by a newer
            format.
        """
        return load_composite(cls, path, kind="QwertyClassifierCV", device=device)


def _fit_models(
    models, X, y, train_rows, valid_rows, sample_weight, *, verbose=0
) -> list:
    """Fit each model on its rows, early-stopped on its held-out rows.

    Batched runs where `batch_key` allows them, serial runs otherwise, each
    ending where `fit_batched` would leave it (up to floating-point
    summation order). Failed fits come back as their exceptions. With
    `verbose`, each batched run shows its progress.
    """
    keys = [batch_key(model) for model in models]
    batched = [k for k, key in enumerate(keys) if key is not None]
    serial = [k for k, key in enumerate(keys) if key is None]
    results: list = [None] * len(models)
    fitted = fit_batched(
        [models[k] for k in batched],
        X,
        y,
        [train_rows[k] for k in batched],
        valid_rows=[valid_rows[k] for k in batched],
        sample_weight=sample_weight,
        verbose=verbose,
    )
    for k, result in zip(batched, fitted, strict=True):
        results[k] = result
    for k in serial:
        try:
            results[k] = _fit_serial(
                clone(models[k]), X, y, train_rows[k], valid_rows[k], sample_weight
            )
        except ValueError as exc:
            results[k] = exc  # as fit_batched reports a failed fit
    return results


def _fit_serial(model, X, y, train, valid, sample_weight):
    """`model` trained serially on rows `train`, validated on rows `valid`.

    The rows, row weights and validation weights are those `fit_batched`
    gives the model (`run_data`); only the engine differs.
    """
    train = np.asarray(train, dtype=np.intp)
    valid = np.asarray(valid, dtype=np.intp)
    classes = np.unique(y[train])
    check_n_classes(classes)
    device = check_params(model)
    model.classes_ = classes
    model.n_features_in_ = X.shape[1]
    model.device_ = device
    spec = fit_spec(model, device)
    # Held-out rows of a class the training rows lack are encoded as class
    # 0, as in fit_batched.
    present = np.isin(y, classes)
    y_enc = np.zeros(len(y), dtype=np.int64)
    y_enc[present] = encode_labels(y[present], classes, name="y", what="classes")
    data = run_data(model, spec, y, y_enc, train, valid, sample_weight)

    state = train_serial(
        spec,
        as_dataset(X[data.train], y_enc[data.train], data.weight, device, model.dtype),
        as_dataset(
            X[data.valid], y_enc[data.valid], data.valid_weight, device, model.dtype
        ),
        classes,
    )
    return restore(model, dataclasses.replace(state, params=model.get_params()))


def _results(candidates, scores, epochs) -> dict:
    """`cv_results_`: the candidates' fold scores, means and ranks."""
    mean = np.nanmean(np.where(np.isnan(scores), -np.inf, scores), axis=1)
    results = {
        "params": candidates,
        "mean_test_score": mean,
        "std_test_score": np.std(scores, axis=1),
        "mean_best_epoch": np.nanmean(np.where(np.isnan(epochs), 0, epochs), axis=1),
    }
    for f in range(scores.shape[1]):
        results[f"split{f}_test_score"] = scores[:, f]
    # Tied candidates share the best rank among them, as in scikit-learn's
    # searches; a candidate with a failed fold (mean -inf) ranks last.
    from scipy.stats import rankdata

    results["rank_test_score"] = rankdata(-mean, method="min").astype(np.int32)
    return results


def _is_auto(value) -> bool:
    return isinstance(value, str) and value == "auto"
