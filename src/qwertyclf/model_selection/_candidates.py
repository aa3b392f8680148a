"""Which candidates of a search train in batched runs, and how a Pipeline's do.

`plan_candidates` sorts a search's candidates into groups that train
together and the rest, which are fitted one by one, with the reason for
each; `warn_not_batched` turns those reasons into one `NotBatchedWarning`.
For a `Pipeline` ending in a `QwertyClassifier`, a group is the candidates
that share the settings of the preceding steps: `pipeline_fit_and_score`
fits those steps once per fold, trains the final steps of every candidate and
fold as batched runs on the transformed rows, and scores the assembled
Pipelines as `_fit_and_score` scores a fitted one.
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params, _num_features

from .._batched import batch_key, fit_batched
from .._classifier import QwertyClassifier
from ..training import training_threads


class NotBatchedWarning(UserWarning):
    """Some candidates of a batched search are fitted one by one.

    Raised once per `fit` of `BatchedGridSearchCV` or
    `BatchedRandomizedSearchCV` when candidates cannot train in batched runs
    (an estimator other than a `QwertyClassifier` or a `Pipeline` ending in
    one, settings the batched trainer does not reproduce such as dropout,
    fit parameters other than `sample_weight`). The message says why. Those
    candidates are fitted as `GridSearchCV` fits them, with the same results;
    only the speed-up is lost.

    Examples
    --------
    >>> import warnings
    >>> from sklearn.linear_model import LogisticRegression
    >>> from qwertyclf.datasets import make_qwerty
    >>> from qwertyclf.model_selection import BatchedGridSearchCV, NotBatchedWarning
    >>> X, y = make_qwerty(20, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = BatchedGridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=2).fit(X, y)
    >>> [w.category.__name__ for w in caught]
    ['NotBatchedWarning']
    """


@dataclasses.dataclass
class Group:
    """Candidates that train together: their runs share data and settings.

    `members` holds (candidate index, unfitted candidate estimator) pairs.
    For a bare `QwertyClassifier` the members share a `batch_key`; for a
    Pipeline they share the settings of the steps before the last, `prefix`
    (that Pipeline with its last step set to "passthrough"), the parameters
    its fit takes (`prefix_params`) and the final step's `sample_weight`.
    """

    members: list
    sample_weight: object = None
    prefix: Pipeline | None = None
    prefix_params: dict = dataclasses.field(default_factory=dict)

    def parts(self) -> list[Group]:
        """The group cut into groups whose classifiers share a `batch_key`.

        A bare classifier's group is one already. A Pipeline's group trains
        one batched run per `batch_key` of its last steps on each fold's
        fitted earlier steps; cut, each part fits those steps itself, and
        trains the same runs, so the parts can go to different workers.
        """
        if self.prefix is None:
            return [self]
        keyed: dict = {}
        for c, pipe in self.members:
            keyed.setdefault(batch_key(pipe.steps[-1][1]), []).append((c, pipe))
        return [dataclasses.replace(self, members=part) for part in keyed.values()]


@dataclasses.dataclass
class Plan:
    """Groups of batched candidates, the candidates fitted one by one, why."""

    groups: list
    serial: list
    reasons: dict  # reason -> indices of the candidates it sends to serial fits


def _routing_enabled() -> bool:
    return bool(sklearn.get_config().get("enable_metadata_routing", False))


def _same(a, b) -> bool:
    """Whether two parameter values are the same setting (no error on arrays)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    try:
        equal = a == b
    except Exception:
        return False
    return isinstance(equal, bool | np.bool_) and bool(equal)


def _refusal(estimator) -> str:
    """Why `batch_key` refuses a QwertyClassifier, as far as can be told."""
    if type(estimator) is not QwertyClassifier:
        return f"{type(estimator).__name__} is a subclass of QwertyClassifier"
    if estimator.warm_start:
        return "warm_start=True"
    causes = [
        f"{name}={getattr(estimator, name)!r}"
        for name in ("batch_norm", "dropout", "callbacks", "verbose")
        if getattr(estimator, name)
    ]
    if estimator.numeric_embedding not in (None, "pbld"):
        causes.append(f"numeric_embedding={estimator.numeric_embedding!r}")
    if causes:
        return "the batched trainer does not reproduce " + ", ".join(causes)
    return (
        f"the batched trainer does not reproduce optimizer={estimator.optimizer!r} "
        f"with activation={estimator.activation!r} on this dtype and device "
        "(or a parameter is invalid)"
    )


def plan_candidates(base_estimator, candidates, fit_params) -> Plan:
    """Sort a search's candidates into batched groups and ordinary fits.

    Parameters
    ----------
    base_estimator : estimator
        The search's (cloned) estimator.
    candidates : list of dict
        The candidates' parameters.
    fit_params : dict
        The parameters the search routes to the estimator's `fit`.

    Returns
    -------
    plan : Plan
        `groups` train as batched runs, `serial` are fitted one by one;
        `reasons` says why each of those is.

    Examples
    --------
    >>> from qwertyclf import QwertyClassifier
    >>> plan = plan_candidates(
    ...     QwertyClassifier(), [{"lr": 0.1}, {"lr": 0.2}, {"dropout": 0.5}], {}
    ... )
    >>> [[c for c, _ in g.members] for g in plan.groups], plan.serial
    ([[0, 1]], [2])
    >>> list(plan.reasons)
    ['the batched trainer does not reproduce dropout=0.5']
    """
    reasons: dict = {}
    serial = []

    def refuse(c, reason):
        serial.append(c)
        reasons.setdefault(reason, []).append(c)

    if isinstance(base_estimator, Pipeline):
        groups = _plan_pipeline(base_estimator, candidates, fit_params, refuse)
        return Plan(groups, sorted(serial), reasons)
    fit_params = dict(fit_params)
    sample_weight = fit_params.pop("sample_weight", None)
    keyed: dict = {}
    for c, parameters in enumerate(candidates):
        estimator = clone(base_estimator).set_params(**clone(parameters, safe=False))
        if fit_params:
            refuse(c, f"fit parameters other than sample_weight ({_names(fit_params)})")
            continue
        if not isinstance(estimator, QwertyClassifier):
            refuse(
                c,
                f"{type(estimator).__name__} is neither a QwertyClassifier nor "
                "a Pipeline ending in one",
            )
            continue
        key = batch_key(estimator)
        if key is None:
            refuse(c, _refusal(estimator))
            continue
        keyed.setdefault(key, []).append((c, estimator))
    groups = [Group(members, sample_weight) for members in keyed.values()]
    return Plan(groups, serial, reasons)


def _names(params) -> str:
    return ", ".join(sorted(params))


def _plan_pipeline(base, candidates, fit_params, refuse) -> list[Group]:
    """Group a Pipeline's candidates by the settings of its earlier steps."""
    final_name = base.steps[-1][0]
    groups: list[tuple[list, Group]] = []  # (prefix setting, its group)
    for c, parameters in enumerate(candidates):
        if "steps" in parameters:
            refuse(c, "the grid sets the Pipeline's steps")
            continue
        pipe = clone(base).set_params(**clone(parameters, safe=False))
        final = pipe.steps[-1][1]
        if not isinstance(final, QwertyClassifier):
            refuse(
                c,
                f"the Pipeline's last step is {type(final).__name__}, "
                "not a QwertyClassifier",
            )
            continue
        if getattr(pipe, "transform_input", None) is not None:
            refuse(c, "the Pipeline's transform_input is set")
            continue
        try:
            final_params, prefix_params = _route(pipe, fit_params)
        except Exception as exc:  # what Pipeline.fit would raise, fit by fit
            refuse(c, f"its fit parameters cannot be routed ({exc})")
            continue
        sample_weight = final_params.pop("sample_weight", None)
        if final_params:
            refuse(
                c,
                "fit parameters of the last step other than sample_weight "
                f"({_names(final_params)})",
            )
            continue
        key = batch_key(final)
        if key is None:
            refuse(c, _refusal(final))
            continue
        # The candidate's settings of the earlier steps (and of the
        # Pipeline itself, such as memory): candidates that agree on them
        # share each fold's fitted preceding steps.
        setting = sorted(
            (name, value)
            for name, value in parameters.items()
            if name.split("__", 1)[0] != final_name
        )
        for known, group in groups:
            if (
                len(known) == len(setting)
                and all(
                    n == m and _same(v, w)
                    for (n, v), (m, w) in zip(known, setting, strict=True)
                )
                and group.sample_weight is sample_weight
            ):
                group.members.append((c, pipe))
                break
        else:
            prefix = clone(pipe).set_params(**{final_name: "passthrough"})
            groups.append(
                (setting, Group([(c, pipe)], sample_weight, prefix, prefix_params))
            )
    return [group for _, group in groups]


def _route(pipe: Pipeline, fit_params: dict) -> tuple[dict, dict]:
    """The final step's fit parameters and those the earlier steps take.

    Pipeline's own routing decides, with metadata routing on or off; the
    earlier steps are later fitted by that Pipeline with its last step set
    to "passthrough", so they get what `Pipeline.fit` would give them.
    """
    final_name = pipe.steps[-1][0]
    routed = pipe._check_method_params(method="fit", props=fit_params)
    final_params = dict(routed[final_name]["fit"])
    if _routing_enabled():
        prefix = clone(pipe).set_params(**{final_name: "passthrough"})
        consumed = prefix.get_metadata_routing().consumes(
            method="fit_transform", params=list(fit_params)
        )
        prefix_params = {k: v for k, v in fit_params.items() if k in consumed}
    else:
        prefix_params = {
            k: v for k, v in fit_params.items() if k.split("__", 1)[0] != final_name
        }
    return final_params, prefix_params


def warn_not_batched(plan: Plan, n_candidates: int) -> None:
    """Warn once, saying why, when some candidates are not batched.

    Examples
    --------
    >>> import warnings
    >>> reason = "the batched trainer does not reproduce dropout=0.5"
    >>> plan = Plan([], [1], {reason: [1]})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_not_batched(plan, 2)
    >>> print(caught[0].message)
    1 of 2 candidates are fitted one by one, as GridSearchCV fits them, not in
    batched runs: the batched trainer does not reproduce dropout=0.5
    (1 candidate).
    """
    if not plan.serial:
        return
    why = "; ".join(
        f"{reason} ({len(which)} candidate{'s' if len(which) != 1 else ''})"
        for reason, which in plan.reasons.items()
    )
    warnings.warn(
        f"{len(plan.serial)} of {n_candidates} candidates are fitted one by one, "
        f"as GridSearchCV fits them, not in batched runs: {why}.",
        NotBatchedWarning,
        stacklevel=5,  # the user's call of the search's fit
    )


def pipeline_fit_and_score(
    group: Group,
    X,
    y,
    folds,
    *,
    scorer,
    score_params,
    return_train_score,
    error_score,
    score_one,
):
    """`_fit_and_score` for every (candidate of `group`, fold) of a Pipeline.

    Per fold, the steps before the last are fitted once (by `group.prefix`,
    as `Pipeline.fit` fits them) and transform the fold's training rows;
    the final steps of all candidates and folds train as batched runs on
    those rows, and each is scored as the Pipeline of its fold's fitted
    earlier steps and itself. Returns one result dict per (candidate, fold),
    candidate-major; the fitting time is shared equally among the models.
    """
    start = time.time()
    final_name = group.prefix.steps[-1][0]
    blocks = []  # per fold: (fitted prefix, Xt, y, weight), or an exception
    for train, _ in folds:
        X_train, y_train = _safe_split(group.prefix, X, y, train)
        params = _check_method_params(X, params=group.prefix_params, indices=train)
        prefix = clone(group.prefix)
        try:
            Xt = prefix.fit_transform(X_train, y_train, **params)
        except Exception as exc:  # the fold's fits fail, as each would alone
            blocks.append(exc)
            continue
        weight = group.sample_weight
        if weight is not None:
            weight = _check_method_params(X, {"w": weight}, indices=train)["w"]
        blocks.append((prefix, Xt, np.asarray(y_train), weight))
    finals = [pipe.steps[-1][1] for _, pipe in group.members]
    fitted = _fit_finals(finals, blocks)  # fitted[m][f]
    fit_time = (time.time() - start) / (len(finals) * len(folds))
    out = []
    n_test = max(len(test) for _, test in folds)
    with training_threads(n_test, (_num_features(X),)):
        for (_, pipe), models in zip(group.members, fitted, strict=True):
            for fold, block, model in zip(folds, blocks, models, strict=True):
                if not isinstance(model, Exception):
                    assembled = clone(pipe)
                    assembled.steps = [*block[0].steps[:-1], (final_name, model)]
                    model = assembled
                out.append(
                    score_one(
                        model,
                        X,
                        y,
                        fold,
                        scorer=scorer,
                        score_params=score_params,
                        return_train_score=return_train_score,
                        error_score=error_score,
                        fit_time=fit_time,
                    )
                )
    return out


def _fit_finals(finals, blocks) -> list[list]:
    """Each final step fitted on each fold's transformed rows (or an error).

    The folds' transformed rows are stacked into one table where they are
    plain arrays of one width and dtype, so that every (candidate, fold)
    model can share a run; otherwise each fold trains as its own runs.
    """
    fitted = [[None] * len(blocks) for _ in finals]
    ok = [f for f, block in enumerate(blocks) if not isinstance(block, Exception)]
    for f, block in enumerate(blocks):
        if isinstance(block, Exception):
            for row in fitted:
                row[f] = block
    if not ok:
        return fitted
    tables = [blocks[f][1] for f in ok]
    stackable = all(
        type(t) is np.ndarray
        and t.ndim == 2
        and t.shape[1] == tables[0].shape[1]
        and t.dtype == tables[0].dtype
        for t in tables
    ) and all((blocks[f][3] is None) == (blocks[ok[0]][3] is None) for f in ok)
    runs = [ok] if stackable and len(ok) > 1 else [[f] for f in ok]
    for fold_set in runs:
        try:
            _fit_stacked(finals, blocks, fold_set, fitted)
        except Exception as exc:
            if len(fold_set) > 1:  # a fold's own data error: find it fold by fold
                for f in fold_set:
                    try:
                        _fit_stacked(finals, blocks, [f], fitted)
                    except Exception as fold_exc:
                        for row in fitted:
                            row[f] = fold_exc
            else:
                for row in fitted:
                    row[fold_set[0]] = exc
    return fitted


def _fit_stacked(finals, blocks, fold_set, fitted) -> None:
    """Train every final step on each fold of `fold_set`, as batched runs."""
    if len(fold_set) == 1:
        _, Xt, y, weight = blocks[fold_set[0]]
        rows = [np.arange(len(y))]
    else:
        Xt = np.concatenate([blocks[f][1] for f in fold_set])
        y = np.concatenate([blocks[f][2] for f in fold_set])
        weight = None
        if blocks[fold_set[0]][3] is not None:
            weight = np.concatenate([np.asarray(blocks[f][3]) for f in fold_set])
        ends = np.cumsum([len(blocks[f][2]) for f in fold_set])
        rows = [
            np.arange(end - len(blocks[f][2]), end)
            for f, end in zip(fold_set, ends, strict=True)
        ]
    estimators = [final for final in finals for _ in fold_set]
    models = fit_batched(
        estimators, Xt, y, [r for _ in finals for r in rows], sample_weight=weight
    )
    models = iter(models)
    for row in fitted:
        for f in fold_set:
            row[f] = next(models)
