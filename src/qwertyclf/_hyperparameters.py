"""The declared hyperparameters as scikit-learn constraints, and their checks.

`qwertyclf._params` declares each of `QwertyClassifier`'s hyperparameters
once, as plain data. Here that data becomes scikit-learn's constraint
objects (`PARAMETER_CONSTRAINTS`, the estimator's `_parameter_constraints`),
checked by scikit-learn's `validate_parameter_constraints` with each
parameter's declared message; `check_params` adds what no single constraint
says (the device to train on, the optimizer's class, the weights of a
class-weight dict, batch normalisation's need of two rows). The estimator's
`fit`, its model files and the command line all validate through it.
"""

from __future__ import annotations

import dataclasses
import inspect
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from skorch.callbacks import Callback

from . import _params
from ._module import check_architecture
from ._params import PARAMETERS
from ._table import check_encoding_params
from .training import OPTIMIZERS


class _IntInterval(Interval):
    """scikit-learn's `Interval` of integers, without the bools.

    A bool is an `Integral` in Python, but `batch_size=True` is a mistake,
    not a batch of one row.
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)


_NAMED = {
    "int": [_IntInterval(Integral, None, None, closed="neither")],
    "dict": [dict],
    "list": [list],
    "tuple": [tuple],
    "str": [str],
    "class": [type],
    "device": [str, torch.device],
    None: [None],
}


def _constraints(declared: tuple) -> list:
    """scikit-learn's constraints for one parameter's declared ones."""
    out = []
    for constraint in declared:
        if isinstance(constraint, _params.Interval):
            if constraint.type == "int":
                out.append(
                    _IntInterval(
                        Integral,
                        constraint.left,
                        constraint.right,
                        closed=constraint.closed,
                    )
                )
            else:
                out.append(
                    Interval(
                        Real,
                        constraint.left,
                        constraint.right,
                        closed=constraint.closed,
                    )
                )
        elif isinstance(constraint, _params.Options):
            out.append(StrOptions(set(constraint.values)))
        else:
            # "boolean", "array-like" and "random_state" are scikit-learn's own.
            out.extend(_NAMED.get(constraint, [constraint]))
    return out


#: `QwertyClassifier._parameter_constraints`, built from the declarations.
PARAMETER_CONSTRAINTS: dict[str, list] = {
    name: _constraints(param.constraints) for name, param in PARAMETERS.items()
}


def validate_constraints(params: dict[str, Any], caller_name: str) -> None:
    """Check each declared parameter in `params` against its constraints.

    scikit-learn's `validate_parameter_constraints`, one parameter at a time,
    so that a refused value gets the message `qwertyclf._params` declares.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        A `ValueError` and a `TypeError`, naming the parameter.

    Examples
    --------
    >>> validate_constraints({"lr": 0.1}, "QwertyClassifier")
    >>> try:
    ...     validate_constraints({"lr": -1}, "QwertyClassifier")
    ... except ValueError as exc:
    ...     print(exc)
    lr must be a finite float >= 0, got -1.
    """
    for name, constraints in PARAMETER_CONSTRAINTS.items():
        if name not in params:
            continue
        value = params[name]
        try:
            validate_parameter_constraints(
                {name: constraints}, {name: value}, caller_name=caller_name
            )
        except InvalidParameterError:
            raise InvalidParameterError(PARAMETERS[name].refusal(value)) from None


def check_params(estimator) -> torch.device:
    """Validate a `QwertyClassifier`'s hyperparameters as `fit` does.

    Every value is checked against its declared constraints, then what
    involves several parameters or a library. Nothing is changed, so a bad
    setting leaves a fitted model as it was.

    Parameters
    ----------
    estimator : QwertyClassifier
        The estimator whose `get_params` are checked.

    Returns
    -------
    device : torch.device
        The device it trains on (`"auto"` resolved).

    Raises
    ------
    ValueError or TypeError
        Naming the parameter and what it accepts.

    Examples
    --------
    >>> from qwertyclf import QwertyClassifier
    >>> check_params(QwertyClassifier())
    device(type='cpu')
    >>> try:
    ...     check_params(QwertyClassifier(batch_size=0))
    ... except ValueError as exc:
    ...     print(exc)
    batch_size must be an int >= 1, got 0.
    """
    params = estimator.get_params(deep=False)
    validate_constraints(params, type(estimator).__name__)
    check_architecture(
        params["hidden_layer_sizes"], params["activation"], params["dropout"]
    )
    resolve_optimizer(params["optimizer"])
    if params["lr"] == 0:
        raise ValueError("lr must be > 0, got 0.")
    if params["batch_norm"] and params["batch_size"] < 2:
        raise ValueError(
            "batch_norm=True needs batch_size >= 2: batch statistics of a "
            "single row are undefined."
        )
    callbacks = params["callbacks"]
    if callbacks is not None and not all(
        isinstance(cb, Callback)
        or (isinstance(cb, tuple) and len(cb) == 2 and isinstance(cb[1], Callback))
        for cb in callbacks
    ):
        raise InvalidParameterError(PARAMETERS["callbacks"].refusal(callbacks))
    class_weight = params["class_weight"]
    # Whether the dict's classes are those of y is checked when y is seen.
    weights = class_weight.items() if isinstance(class_weight, dict) else ()
    for label, weight in weights:
        if (
            isinstance(weight, (bool, np.bool_))
            or not isinstance(weight, Real)
            or not np.isfinite(weight)
            or weight < 0
        ):
            raise ValueError(
                f"class_weight of class {label!r} must be a finite float "
                f">= 0, got {weight!r}."
            )
    check_encoding_params(
        params["categorical_features"], params["min_frequency"], params["preprocessing"]
    )
    return resolve_device(params["device"])


def resolve_optimizer(optimizer) -> type[torch.optim.Optimizer]:
    """The optimizer class a name or class stands for.

    Examples
    --------
    >>> resolve_optimizer("adamw")
    <class 'torch.optim.adamw.AdamW'>
    """
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        return OPTIMIZERS[optimizer]
    if inspect.isclass(optimizer) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer
    raise InvalidParameterError(PARAMETERS["optimizer"].refusal(optimizer))


def resolve_device(device) -> torch.device:
    """The device a `device` setting names; refused if unusable here.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidParameterError(PARAMETERS["device"].refusal(device)) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available here; "
            "use device='cpu' or device='auto'."
        )
    return resolved


def coerced(params: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The values of `fields` as the engine takes them: plain bools, ints, floats.

    A parameter whose first constraint is "boolean" becomes a `bool`, an
    integer interval an `int`, a real interval a `float` (None stays None);
    any other value is passed on as it is.

    Examples
    --------
    >>> coerced({"batch_size": np.int64(8), "shuffle": np.True_, "lr": 1}, (
    ...     "batch_size", "shuffle", "lr"))
    {'batch_size': 8, 'shuffle': True, 'lr': 1.0}
    """
    out = {}
    for name in fields:
        value = params[name]
        first = PARAMETERS[name].constraints[0]
        if value is not None:
            if first == "boolean":
                value = bool(value)
            elif isinstance(first, _params.Interval):
                value = int(value) if first.type == "int" else float(value)
        out[name] = value
    return out


def spec_fields(spec_type) -> tuple[str, ...]:
    """The fields of a dataclass (`FitSpec`) that are declared parameters.

    Examples
    --------
    >>> from qwertyclf.training import FitSpec
    >>> "lr" in spec_fields(FitSpec), "seed" in spec_fields(FitSpec)
    (True, False)
    """
    return tuple(
        field.name
        for field in dataclasses.fields(spec_type)
        if field.name in PARAMETERS
    )
