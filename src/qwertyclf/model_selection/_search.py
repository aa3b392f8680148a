"""Grid and randomized search whose candidate fits train as batched runs."""

from __future__ import annotations

import numbers
import re
import time
import traceback

import numpy as np
import sklearn
from joblib import Parallel, delayed, effective_n_jobs
from joblib.parallel import BACKENDS, get_active_backend
from sklearn.base import clone, is_classifier
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    ParameterSampler,
    RandomizedSearchCV,
    check_cv,
)
from sklearn.model_selection._validation import (
    _fit_and_score,
    _insert_error_scores,
    _score,
    _warn_or_raise_about_fit_failures,
)
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params, _num_features, indexable

from .._batched import fit_batched
from .._interrupts import all_or_nothing
from ..training import training_threads
from ._candidates import pipeline_fit_and_score, plan_candidates, warn_not_batched
from ._workers import workers_running_for

#: Models per batched run in a search (whole folds, so a group with more
#: candidates than this runs one fold at a time). Larger runs amortise the
#: per-step overhead over more models; smaller ones give workers more runs.
MODELS_PER_RUN = 64

#: Seconds a fresh worker process spends before a batched run in it pays:
#: importing torch and scikit-learn (about 2 s, the start-up case of the
#: benchmarks) and the fast-path checks of its first run (1.4 s more CPU
#: than a later run, measured on the grid of the benchmarks).
WORKER_START_SECONDS = 3.0

#: Seconds running workers (started by an earlier parallel call of this
#: process, see `workers_running_for`) add to the batched runs sent to them:
#: sending the rows, restoring and scoring the fold models there, returning
#: the scores. Measured on the grid of the benchmarks: its two runs side by
#: side in two workers took 0.2 to 1.0 s longer than the longer run alone.
WARM_START_SECONDS = 1.0

#: Measured seconds per optimizer step of a batched run: a fixed part (its
#: many small operations) and a part per activation (models x batch rows x
#: widest layer); from the cost-per-model case of the benchmarks.
STEP_SECONDS, ACTIVATION_SECONDS = 2.5e-4, 2.5e-8


def _release(version: str) -> tuple[int, ...]:
    """The leading release numbers of a version string.

    Examples
    --------
    >>> _release("1.9.1"), _release("1.10.dev0"), _release("1.8rc1")
    ((1, 9, 1), (1, 10), (1, 8))
    """
    match = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(part) for part in match.group().split(".")) if match else ()


#: Whether the installed scikit-learn's search fit keeps the checked splitter
#: as `_checked_cv_orig`: GridSearchCV.fit sets it from scikit-learn 1.9 on
#: (1.6 to 1.8 set it only in the successive-halving searches).
_KEEPS_CHECKED_CV = _release(sklearn.__version__) >= (1, 9)


class _BatchedSearchMixin:
    """`fit` for scikit-learn's searches, training candidates in batched runs.

    Everything but the candidate fits is scikit-learn's: candidate
    generation, scorers, `_format_results`, best-candidate selection, refit.
    """

    def _candidates(self):
        raise NotImplementedError

    @all_or_nothing
    def fit(self, X, y=None, **params):
        """Run fit with all sets of parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,), default=None
            Target labels.
        **params : dict of str -> object
            Parameters passed to the estimator's `fit`, the scorer and the
            CV splitter, as in scikit-learn's searches. `sample_weight` (for
            a Pipeline, the last step's, and any parameter of the earlier
            steps) is split with the folds and supported by batched runs; any
            other fit parameter sends every candidate to an ordinary fit.

        Returns
        -------
        self : object
            The fitted search.
        """
        self._validate_params()
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed_params = self._get_routed_params_for_fit(params)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        if _KEEPS_CHECKED_CV:  # as GridSearchCV does, where it does
            self._checked_cv_orig = cv
        split_params = routed_params.splitter.split
        self.n_splits_ = cv.get_n_splits(X, y, **split_params)
        splits = list(cv.split(X, y, **split_params))
        if len(splits) != self.n_splits_:
            raise ValueError(
                "cv.split and cv.get_n_splits return inconsistent results. "
                f"Expected {self.n_splits_} splits, got {len(splits)}"
            )
        candidates = list(self._candidates())
        base_estimator = clone(self.estimator)
        if self.verbose > 0:
            n_fits = len(candidates) * self.n_splits_
            print(
                f"Fitting {self.n_splits_} folds for each of {len(candidates)} "
                f"candidates, totalling {n_fits} fits"
            )
        out = self._evaluate(
            base_estimator, candidates, splits, X, y, scorers, routed_params
        )
        if len(out) < 1:
            raise ValueError(
                "No fits were performed. Was the CV iterator empty? "
                "Were there no candidates?"
            )
        _warn_or_raise_about_fit_failures(out, self.error_score)
        if callable(self.scoring):
            _insert_error_scores(out, self.error_score)
        results = self._format_results(candidates, self.n_splits_, out, {})

        first_test_score = out[0]["test_scores"]
        self.multimetric_ = isinstance(first_test_score, dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first_test_score)
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(
                self.refit, refit_metric, results
            )
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][
                    self.best_index_
                ]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self.best_estimator_ = clone(base_estimator).set_params(
                **clone(self.best_params_, safe=False)
            )
            start = time.time()
            if y is not None:
                self.best_estimator_.fit(X, y, **routed_params.estimator.fit)
            else:
                self.best_estimator_.fit(X, **routed_params.estimator.fit)
            self.refit_time_ = time.time() - start
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        self.scorer_ = getattr(scorers, "_scorers", scorers)
        self.cv_results_ = results
        return self

    def _evaluate(self, base_estimator, candidates, splits, X, y, scorers, routed):
        """One result dict per (candidate, split), candidate-major.

        `plan_candidates` groups the candidates that train together (by
        `batch_key`, or for a Pipeline by the settings of its earlier steps)
        and warns about the rest; each group's folds are cut into runs of
        whole folds (every candidate of the group in every run) of about
        `MODELS_PER_RUN` models. What a run holds
        depends only on the candidates and folds, never on `n_jobs`, so
        neither do the results; `n_jobs` only spreads the runs over workers.
        The rest go through scikit-learn's `_fit_and_score`, in the same
        parallel call.
        """
        fit_params = dict(routed.estimator.fit)
        score_params = routed.scorer.score
        plan = plan_candidates(base_estimator, candidates, fit_params)
        warn_not_batched(plan, len(candidates))
        n_splits = len(splits)
        serial = plan.serial
        # (group, its parts, folds): each a task, or one task per part. A
        # Pipeline's task trains one run per batch_key: sent to workers, its
        # parts (which fit the earlier steps each) go to different ones.
        chunks = []
        for group in plan.groups:
            parts = group.parts()
            # Whole folds per task, as many as fit in MODELS_PER_RUN models.
            per_run = max(1, MODELS_PER_RUN // len(group.members))
            n_runs = -(-n_splits // per_run)
            for chunk in np.array_split(np.arange(n_splits), n_runs):
                chunks.append((group, parts, chunk))
        costs = [
            _run_seconds(
                [_final_step(est) for _, est in part.members],
                [len(splits[s][0]) for s in chunk for _ in part.members],
                X,
            )
            for _, parts, chunk in chunks
            for part in parts
        ]
        spread = bool(chunks) and _spread_runs(costs, self.n_jobs)
        runs = [
            (part, chunk)
            for group, parts, chunk in chunks
            for part in (parts if spread else [group])
        ]
        slots = [
            [(c, s) for c, _ in part.members for s in chunk] for part, chunk in runs
        ]
        n_batched = len(runs)
        tasks = [
            _group_task(
                group,
                X,
                y,
                splits,
                chunk,
                scorer=scorers,
                score_params=score_params,
                return_train_score=self.return_train_score,
                error_score=self.error_score,
                progress={
                    "verbose": self.verbose,
                    "progress_label": (
                        "batched run"
                        if n_batched == 1
                        else f"batched run {i}/{n_batched}"
                    ),
                    # Bars of several workers would overwrite each other's line.
                    "progress_bar": False if spread else None,
                },
            )
            for i, (group, chunk) in enumerate(runs, start=1)
        ]
        for c in serial:
            for s, (train, test) in enumerate(splits):
                tasks.append(
                    delayed(_fit_and_score)(
                        clone(base_estimator),
                        X,
                        y,
                        scorer=scorers,
                        train=train,
                        test=test,
                        verbose=self.verbose,
                        parameters=candidates[c],
                        fit_params=fit_params,
                        score_params=score_params,
                        return_train_score=self.return_train_score,
                        return_n_test_samples=True,
                        return_times=True,
                        return_parameters=False,
                        error_score=self.error_score,
                        split_progress=(s, n_splits),
                        candidate_progress=(c, len(candidates)),
                    )
                )
                slots.append([(c, s)])
        parallel = Parallel(n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch)
        if n_batched and not spread:
            # The batched runs here, one after the other; the ordinary fits
            # (if any) spread over the workers as GridSearchCV spreads them.
            finished = [
                function(*args, **kwargs)
                for function, args, kwargs in tasks[:n_batched]
            ]
            if len(tasks) > n_batched:
                finished += parallel(tasks[n_batched:])
        else:
            finished = parallel(tasks)
        out = [None] * (len(candidates) * n_splits)
        for pairs, result in zip(slots, finished, strict=True):
            results = result if isinstance(result, list) else [result]
            for (c, s), one in zip(pairs, results, strict=True):
                out[c * n_splits + s] = one
        return out


def _run_seconds(estimators, n_train, X) -> float:
    """Rough seconds one batched run of `estimators` takes, one thread.

    Its optimizer steps (epochs x batches of the most rows) at the measured
    `STEP_SECONDS` and `ACTIVATION_SECONDS`; early stopping is ignored.
    """
    first = estimators[0]
    rows = max(n_train) * (1 - (first.validation_fraction or 0.0))
    steps = first.max_epochs * -(-int(rows) // first.batch_size)
    widest = max(max((*est.hidden_layer_sizes, _num_features(X))) for est in estimators)
    work = len(estimators) * first.batch_size * widest
    return steps * (STEP_SECONDS + ACTIVATION_SECONDS * work)


def _spread_runs(costs, n_jobs) -> bool:
    """Whether batched runs of these estimated `costs` go to joblib's workers.

    A batched run is one thread of many small operations: what worker
    processes save is their share of the runs' time, what they cost is
    their start: `WORKER_START_SECONDS` for workers that must start (and
    more when another process holds the cores), `WARM_START_SECONDS` when
    joblib's workers are already running (`workers_running_for`). Under
    joblib's process backends (the default), the runs are spread only when
    the time saved with `n_jobs` workers exceeds that start; otherwise they
    run here, so `n_jobs` does not make a search slower than `n_jobs=1`.
    Any other backend (threads, Dask, Ray) gets them, as the caller
    configured it.
    """
    backend, _ = get_active_backend()
    processes = tuple(BACKENDS[name] for name in ("loky", "multiprocessing"))
    if not isinstance(backend, processes):
        return True
    workers = min(effective_n_jobs(n_jobs), len(costs))
    if workers <= 1:
        return False
    total = sum(costs)
    longest = max(max(costs), total / workers)
    warm = workers_running_for(n_jobs)
    return total - longest > (WARM_START_SECONDS if warm else WORKER_START_SECONDS)


def _final_step(estimator):
    """The classifier of a candidate: a Pipeline's last step, or itself."""
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def _group_task(group, X, y, splits, chunk, *, progress, **kwargs):
    """The delayed call that trains and scores `group` on the folds `chunk`.

    Its results are candidate-major: every fold of `chunk` for the first
    member, then for the next. `progress` (verbose, label, bar) applies to the
    batched runs of a bare classifier.
    """
    folds = [splits[s] for s in chunk]
    if group.prefix is not None:
        return delayed(pipeline_fit_and_score)(
            group, X, y, folds, score_one=_score_one, **kwargs
        )
    return delayed(_batched_fit_and_score)(
        [est for _, est in group.members for _ in chunk],
        X,
        y,
        [fold for _ in group.members for fold in folds],
        sample_weight=group.sample_weight,
        **kwargs,
        **progress,
    )


def _batched_fit_and_score(
    estimators,
    X,
    y,
    splits,
    *,
    scorer,
    sample_weight,
    score_params,
    return_train_score,
    error_score,
    verbose=0,
    progress_label="batched run",
    progress_bar=None,
):
    """`_fit_and_score` for K (estimator, split) pairs trained as one run.

    Returns one dict per pair, with the keys `_fit_and_score` returns in a
    search; the batched run's time is shared equally among its models. With
    `verbose` >= 1 the run shows its progress (see `fit_batched`).
    """
    if not isinstance(error_score, numbers.Number) and error_score != "raise":
        raise ValueError(
            "error_score must be the string 'raise' or a numeric value. "
            "(Hint: if using 'raise', please make sure that it has been "
            "spelled correctly.)"
        )
    start = time.time()
    fitted = fit_batched(
        estimators,
        X,
        y,
        [train for train, _ in splits],
        sample_weight=sample_weight,
        verbose=verbose,
        progress_label=progress_label,
        progress_bar=progress_bar,
    )
    fit_time = (time.time() - start) / len(estimators)
    out = []
    # Scoring small folds on one thread, as training them ran.
    with training_threads(max(len(test) for _, test in splits), (_num_features(X),)):
        for model, split in zip(fitted, splits, strict=True):
            out.append(
                _score_one(
                    model,
                    X,
                    y,
                    split,
                    scorer=scorer,
                    score_params=score_params,
                    return_train_score=return_train_score,
                    error_score=error_score,
                    fit_time=fit_time,
                )
            )
    return out


def _score_one(
    model,
    X,
    y,
    split,
    *,
    scorer,
    score_params,
    return_train_score,
    error_score,
    fit_time,
):
    """The result dict of one batched fit, as `_fit_and_score` builds it."""
    train, test = split
    result = {}
    if isinstance(model, Exception):
        if error_score == "raise":
            raise model
        if hasattr(scorer, "_scorers"):
            test_scores = {name: error_score for name in scorer._scorers}
        else:
            test_scores = error_score
        train_scores = (
            test_scores.copy() if isinstance(test_scores, dict) else test_scores
        )
        result["fit_error"] = "".join(
            traceback.format_exception(type(model), model, model.__traceback__)
        )
        score_time = 0.0
    else:
        result["fit_error"] = None
        X_train, y_train = _safe_split(model, X, y, train)
        X_test, y_test = _safe_split(model, X, y, test, train)
        begin = time.time()
        test_scores = _score(
            model,
            X_test,
            y_test,
            scorer,
            _check_method_params(X, params=score_params, indices=test),
            error_score,
        )
        score_time = time.time() - begin
        if return_train_score:
            train_scores = _score(
                model,
                X_train,
                y_train,
                scorer,
                _check_method_params(X, params=score_params, indices=train),
                error_score,
            )
    result["test_scores"] = test_scores
    if return_train_score:
        result["train_scores"] = train_scores
    result["n_test_samples"] = len(test)
    result["fit_time"] = fit_time
    result["score_time"] = score_time
    return result


class BatchedGridSearchCV(_BatchedSearchMixin, GridSearchCV):
    """Exhaustive search over a parameter grid, candidate fits batched.

    A drop-in for `sklearn.model_selection.GridSearchCV`: the same
    constructor arguments, fitted attributes and `cv_results_` keys. Every
    (candidate, fold) fit of a `QwertyClassifier` that the batched trainer
    can reproduce is trained together with the others of the same
    architecture depth, activation, batch size, epochs and optimizer, as
    stacked networks updated in one step; each ends where its ordinary fit
    would (exactly so in float64, up to summation order in float32). A
    `Pipeline` ending in a `QwertyClassifier` is batched too: its earlier
    steps are fitted once per fold and per setting of their parameters (once
    per run when the runs go to workers), and its classifiers train as
    batched runs on the transformed rows.
    Candidates it cannot batch (batch norm, dropout, custom callbacks, other
    estimators, fit parameters other than `sample_weight`) are fitted one by
    one as `GridSearchCV` would, in the same search, with one
    `NotBatchedWarning` saying why. Batched runs are spread
    over `n_jobs` workers with joblib (so `joblib.parallel_backend("dask")`
    works); the results do not depend on `n_jobs`. Under joblib's process
    backends (the default) the runs go to the workers only when that saves
    time: when the workers are already running (an earlier parallel call
    started them) or the runs are long enough to pay for starting them;
    otherwise they train in this process, as with `n_jobs=1`. The best
    candidate is refitted with an ordinary `fit`.

    Parameters
    ----------
    estimator : estimator object
        Usually a `QwertyClassifier` or a `Pipeline` ending in one; anything
        else is fitted per candidate.
    param_grid : dict or list of dict
        Parameter names mapped to lists of values, as in `GridSearchCV`.
    scoring : str, callable, list, tuple or dict, default=None
        Strategy to evaluate the candidates on the test folds.
    n_jobs : int, default=None
        Number of parallel workers for the batched runs and the other fits.
    refit : bool, str or callable, default=True
        Refit the best candidate on the whole data.
    cv : int, cross-validation generator or iterable, default=None
        Splitting strategy (5-fold stratified by default for classifiers).
    verbose : int, default=0
        Print the number of fits (and, for unbatched fits, their progress,
        as `GridSearchCV` does); from 1 on, also a progress bar on stderr
        for each batched run: its epochs done, the models still training
        (early stopping ends them at different epochs) and the time elapsed
        (plain lines when stderr is not a terminal or the runs are spread
        over workers).
    pre_dispatch : int or str, default="2*n_jobs"
        As in `GridSearchCV`.
    error_score : "raise" or numeric, default=np.nan
        Score of a fit that failed (for example diverged).
    return_train_score : bool, default=False
        Also score each fit on its training rows.

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        As in `GridSearchCV`.
    best_estimator_ : estimator
        The refitted best candidate.
    best_score_ : float
        Mean cross-validated score of the best candidate.
    best_params_ : dict
        Parameters of the best candidate.
    best_index_ : int
        Index of the best candidate in `cv_results_`.
    scorer_ : callable or dict
        The scorer(s) used.
    n_splits_ : int
        Number of cross-validation splits.
    refit_time_ : float
        Seconds spent refitting the best candidate.
    multimetric_ : bool
        Whether several scorers were used.

    Examples
    --------
    >>> from qwertyclf import QwertyClassifier
    >>> from qwertyclf.datasets import make_qwerty
    >>> from qwertyclf.model_selection import BatchedGridSearchCV
    >>> X, y = make_qwerty(30, random_state=0)
    >>> search = BatchedGridSearchCV(
    ...     QwertyClassifier(max_epochs=5, random_state=0),
    ...     {"lr": [0.01, 0.05], "hidden_layer_sizes": [(4,), (8,)]},
    ...     cv=3,
    ... ).fit(X, y)
    >>> len(search.cv_results_["params"])
    4
    >>> sorted(search.best_params_)
    ['hidden_layer_sizes', 'lr']
    """

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        error_score=np.nan,
        return_train_score=False,
    ):
        super().__init__(
            estimator,
            param_grid,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )

    def _candidates(self):
        return ParameterGrid(self.param_grid)


class BatchedRandomizedSearchCV(_BatchedSearchMixin, RandomizedSearchCV):
    """Randomized search over parameters, candidate fits batched.

    A drop-in for `sklearn.model_selection.RandomizedSearchCV`, batched as
    `BatchedGridSearchCV` is: candidates drawn by scikit-learn's
    `ParameterSampler`, fits that the batched trainer reproduces trained
    together, the others one by one, results independent of `n_jobs`.

    Parameters
    ----------
    estimator : estimator object
        Usually a `QwertyClassifier` or a `Pipeline` ending in one.
    param_distributions : dict or list of dict
        Parameter names mapped to distributions (with `rvs`) or lists.
    n_iter : int, default=10
        Number of candidates drawn.
    scoring : str, callable, list, tuple or dict, default=None
        Strategy to evaluate the candidates on the test folds.
    n_jobs : int, default=None
        Number of parallel workers.
    refit : bool, str or callable, default=True
        Refit the best candidate on the whole data.
    cv : int, cross-validation generator or iterable, default=None
        Splitting strategy.
    verbose : int, default=0
        Verbosity, as in `BatchedGridSearchCV`: from 1 on, a progress bar
        for each batched run as well.
    pre_dispatch : int or str, default="2*n_jobs"
        As in `RandomizedSearchCV`.
    random_state : int, RandomState instance or None, default=None
        Seeds the candidate draws.
    error_score : "raise" or numeric, default=np.nan
        Score of a fit that failed.
    return_train_score : bool, default=False
        Also score each fit on its training rows.

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        As in `RandomizedSearchCV`.
    best_estimator_ : estimator
        The refitted best candidate.
    best_score_ : float
        Mean cross-validated score of the best candidate.
    best_params_ : dict
        Parameters of the best candidate.
    best_index_ : int
        Index of the best candidate in `cv_results_`.
    scorer_ : callable or dict
        The scorer(s) used.
    n_splits_ : int
        Number of cross-validation splits.
    refit_time_ : float
        Seconds spent refitting the best candidate.
    multimetric_ : bool
        Whether several scorers were used.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from qwertyclf import QwertyClassifier
    >>> from qwertyclf.datasets import make_qwerty
    >>> from qwertyclf.model_selection import BatchedRandomizedSearchCV
    >>> X, y = make_qwerty(30, random_state=0)
    >>> search = BatchedRandomizedSearchCV(
    ...     QwertyClassifier(max_epochs=5, random_state=0),
    ...     {"lr": loguniform(1e-3, 1e-1)},
    ...     n_iter=3,
    ...     cv=3,
    ...     random_state=0,
    ... ).fit(X, y)
    >>> len(search.cv_results_["params"])
    3
    """

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_iter=10,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        random_state=None,
        error_score=np.nan,
        return_train_score=False,
    ):
        super().__init__(
            estimator,
            param_distributions,
            n_iter=n_iter,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            random_state=random_state,
            error_score=error_score,
            return_train_score=return_train_score,
        )

    def _candidates(self):
        return ParameterSampler(
            self.param_distributions, self.n_iter, random_state=self.random_state
        )
