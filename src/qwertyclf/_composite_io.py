"""Model files of the estimators made of `QwertyClassifier` members.

`QwertyClassifierCV` and `QwertyEnsembleClassifier` save and load through
these two functions: the estimator's own parameters and fitted attributes,
and each member as a `QwertyClassifier` file would hold it, all in one
safetensors file (`qwertyclf._persistence.write_composite`). Here sits what
the format layer below does not know: which parameters each estimator takes
and which values its `fit` accepts.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import get_scorer_names
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._classifier import (
    QwertyClassifier,
    from_state,
    model_state,
    stored_params_check,
)
from ._hyperparameters import check_params
from ._module import check_architecture
from ._params import PARAMETERS
from ._persistence import CompositeState, read_composite, write_composite
from ._progress import check_verbose
from ._selection import check_selection
from ._table import check_encoding_params

CV = "QwertyClassifierCV"
ENSEMBLE = "QwertyEnsembleClassifier"


def save_composite(estimator, path: str | os.PathLike, *, kind: str) -> Path:
    """Write a fitted CV or ensemble estimator to `path`.

    Parameters
    ----------
    estimator : QwertyClassifierCV or QwertyEnsembleClassifier
        A fitted estimator.
    path : str or path-like
        Where to write the file.
    kind : {"QwertyClassifierCV", "QwertyEnsembleClassifier"}
        Which of the two it is.

    Returns
    -------
    path : pathlib.Path
        The path written.
    """
    check_is_fitted(estimator)
    params = estimator.get_params(deep=False)
    if "verbose" in params:
        # As an int (True is 1), so that the file reads back.
        params["verbose"] = check_verbose(params["verbose"])
    template = params.pop("estimator", None) if kind == ENSEMBLE else None
    if template is not None and not isinstance(template, QwertyClassifier):
        raise TypeError(
            f"Cannot save a {kind} whose estimator is a "
            f"{type(template).__name__}: model files hold QwertyClassifier "
            "members only. Pickle it instead."
        )
    members = list(estimator.estimators_)
    for member in members:
        if not isinstance(member, QwertyClassifier):
            raise TypeError(
                f"Cannot save a {kind} with a member of type "
                f"{type(member).__name__}: model files hold QwertyClassifier "
                "members only. Pickle it instead."
            )
    state = CompositeState(
        kind=kind,
        params=params,
        classes=estimator.classes_,
        n_features_in=estimator.n_features_in_,
        feature_names_in=getattr(estimator, "feature_names_in_", None),
        encoder=estimator.encoder_,
        members=[model_state(member) for member in members],
        estimator=None if template is None else template.get_params(),
        best_params=getattr(estimator, "best_params_", None),
        best_score=getattr(estimator, "best_score_", None),
        cv_results=getattr(estimator, "cv_results_", None),
        weights=getattr(estimator, "weights_", None),
    )
    return write_composite(path, state)


def load_composite(cls, path: str | os.PathLike, *, kind: str, device=None):
    """Read a file written by `save_composite` into a fitted `cls`.

    Parameters
    ----------
    cls : type
        `QwertyClassifierCV` or `QwertyEnsembleClassifier`.
    path : str or path-like
        The file.
    kind : str
        `cls`'s kind, as `save_composite` takes it.
    device : str, default=None
        Device of every member's network; None keeps the stored one when it
        is available here, otherwise the CPU.

    Returns
    -------
    estimator : cls
        The fitted estimator.
    """
    check_member = stored_params_check(device)
    names = [name for name in cls().get_params(deep=False) if name != "estimator"]

    def check_params(params):
        if kind == CV:
            params = _check_cv_params(params, device)
        else:
            _check_ensemble_params(params)
        params = cls(**params).get_params(deep=False)
        params.pop("estimator", None)
        return params

    state = read_composite(
        path,
        kind=kind,
        param_names=names,
        check_params=check_params,
        member_param_names=list(PARAMETERS),
        check_member_params=check_member,
    )
    params = dict(state.params)
    if kind == ENSEMBLE:
        params["estimator"] = (
            None if state.estimator is None else QwertyClassifier(**state.estimator)
        )
    estimator = cls(**params)
    estimator.estimators_ = [from_state(m) for m in state.members]
    estimator.classes_ = state.classes
    estimator.n_features_in_ = state.n_features_in
    if state.feature_names_in is not None:
        estimator.feature_names_in_ = state.feature_names_in
    estimator.encoder_ = state.encoder
    if kind == CV:
        estimator.best_params_ = state.best_params
        estimator.best_score_ = state.best_score
        estimator.cv_results_ = state.cv_results
        n_members = len(estimator.estimators_)
        equal = np.full(n_members, 1 / n_members)
        estimator.weights_ = equal if state.weights is None else state.weights
    return estimator


def _check_cv_params(params: dict, device) -> dict:
    """A stored `QwertyClassifierCV`'s parameters, checked as `fit` would."""
    params = dict(params)
    # Files written before `selection` existed hold the best candidate only.
    params.setdefault("selection", "best")
    check_selection(params["selection"])
    if device is not None:
        params["device"] = device
    elif str(params.get("device", "cpu")).startswith("cuda") and not (
        torch.cuda.is_available()
    ):
        params["device"] = "cpu"
    sizes = params.get("hidden_layer_sizes", "auto")
    if sizes != "auto":
        if not isinstance(sizes, list) or not sizes:
            raise ValueError(
                f"hidden_layer_sizes must be 'auto' or a list of layer sizes, "
                f"got {sizes!r}."
            )
        sizes = [tuple(s) if isinstance(s, list) else s for s in sizes]
        for candidate in sizes:
            check_architecture(candidate, params.get("activation", "relu"), 0.0)
        params["hidden_layer_sizes"] = sizes
    for name in ("lrs", "weight_decays"):
        values = params.get(name, "auto")
        if values != "auto" and not (
            isinstance(values, list)
            and values
            and all(_is_number(v) and v >= 0 for v in values)
        ):
            raise ValueError(f"{name} must be 'auto' or a list of numbers >= 0.")
    _check_int(params, "n_candidates", 1)
    if params.get("cv") is not None:
        _check_int(params, "cv", 2)
    if not isinstance(params.get("refit", False), bool):
        raise ValueError("refit must be true or false.")
    scoring = params.get("scoring")
    if scoring is not None and scoring not in get_scorer_names():
        raise ValueError(
            f"scoring must be null or a scorer name of scikit-learn, got {scoring!r}."
        )
    batch_size = params.get("batch_size", "auto")
    base = {
        key: params[key]
        for key in ("activation", "max_epochs", "n_iter_no_change", "dtype", "device")
        if key in params
    }
    if params.get("numeric_embedding", "auto") != "auto":
        base["numeric_embedding"] = params["numeric_embedding"]
    check_params(
        QwertyClassifier(**base, batch_size=1 if batch_size == "auto" else batch_size)
    )
    _check_common(params)
    return params


def _check_ensemble_params(params: dict) -> None:
    """A stored `QwertyEnsembleClassifier`'s parameters, checked as `fit` would."""
    _check_int(params, "n_estimators", 1)
    if not isinstance(params.get("bootstrap", False), bool):
        raise ValueError("bootstrap must be true or false.")
    _check_common(params)


def _check_common(params: dict) -> None:
    _check_int(params, "verbose", 0)
    check_encoding_params(
        params.get("categorical_features", "from_dtype"),
        params.get("min_frequency"),
        params.get("preprocessing", "robust"),
    )
    seed = params.get("random_state")
    if seed is not None:
        if not isinstance(seed, Integral) or isinstance(seed, bool):
            raise ValueError(f"random_state must be null or an int, got {seed!r}.")
        check_random_state(seed)


def _check_int(params: dict, name: str, low: int) -> None:
    if name not in params:
        return
    value = params[name]
    if not isinstance(value, Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")


def _is_number(value) -> bool:
    return (
        isinstance(value, Real)
        and not isinstance(value, bool)
        and bool(np.isfinite(value))
    )
