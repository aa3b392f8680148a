"""Model files that cannot run code when they are loaded.

A fitted `QwertyClassifier` is written as one safetensors file: the network's
weights as tensors, and everything else (hyperparameters, classes, feature
names, training history, versions) as JSON in the file's metadata header.
Reading it parses JSON and copies numbers; unlike pickle, nothing in the file
is ever executed.

An estimator made of several `QwertyClassifier` networks (`QwertyClassifierCV`,
`QwertyEnsembleClassifier`) is one file too (`write_composite` /
`read_composite`): its `kind`, its own parameters and fitted attributes, and
per member `i` the metadata entries `members.i.params` and
`members.i.attributes` (what a single model's file holds) and its tensors,
named `members.i.` and the network's own tensor name.

A file may come from anyone, so `read_model` trusts nothing in it. It reads
the header alone (an 8-byte little-endian length, then ASCII JSON) and checks,
in this order and before any tensor is allocated: the header's size and the
number of JSON values in it, duplicate keys and nesting depth, the format and
its version, the byte ranges of the tensors against the file's length, every
metadata field (type, size, no unknown keys), the hyperparameters (through the
estimator's own validation, passed in as `check_params`), the classes and
feature names, and finally every tensor name, shape and dtype against the
network the hyperparameters describe. Only then are the weights read, into a
`QwertyNet` built on the meta device. Weights that are NaN or infinite are
refused: no fit returns them, and such a network cannot predict.

This module sits below the estimator: it reads and writes a `ModelState` and
knows nothing of `QwertyClassifier` itself but the declarations of its
hyperparameters (`qwertyclf._params`), each value encoded and decoded by its
declared `stored` kind. Reading is in two layers: the safetensors container
(`qwertyclf._safetensors`: the header's size and JSON, the byte ranges of the
tensors, within this format's limits) is checked the same way for every
file, with this format's check of its name and version, before what a model
needs of its metadata and tensors.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from torch import nn

from ._dtypes import DTYPE_NAMES
from ._module import NUMERIC_EMBEDDINGS, QwertyNet, check_architecture
from ._params import PARAMETERS
from ._safetensors import (
    Container,
    Limits,
    Unreadable,
    check_header,
    is_int,
    open_container,
    parse_json,
    read_arrays,
    save,
    short,
)
from ._table import TableEncoder
from .training import ModelState

FORMAT = "qwertyclf-model"
#: Version 2 adds the input encoding ("encoder"); version 1 files, which
#: lack it, are read as models of numeric columns. Version 3 adds files of
#: several networks (a `kind` and its members); a single model is still
#: written as version 2, which older qwertyclf versions read. Version 4 adds
#: the weights of a `QwertyClassifierCV`'s members; a version 3 file of that
#: kind holds one candidate's networks, weighed equally.
FORMAT_VERSION = 4
#: The version a single model's file is written in.
SINGLE_FORMAT_VERSION = 2
#: The kinds of files of several networks, by their estimator's class name.
COMPOSITE_KINDS = ("QwertyClassifierCV", "QwertyEnsembleClassifier")

#: Largest JSON header a model file may have, in bytes.
MAX_HEADER_BYTES = 8 * 2**20
#: Most JSON values (numbers, strings, lists, objects) in one JSON document.
MAX_JSON_VALUES = 500_000
#: Deepest nesting of lists and objects in one JSON document.
MAX_JSON_DEPTH = 4
#: Most tensors in a file (a network of hundreds of hidden layers).
MAX_TENSORS = 4096
#: Most classes a model file may hold.
MAX_CLASSES = 100_000
#: Longest text (class label, feature name, history key, version, device).
MAX_TEXT = 1000
#: Most memory the array of classes or of feature names may take, in bytes.
MAX_ARRAY_BYTES = 16 * 2**20
#: Most categories the input encoding may hold, all columns together.
MAX_CATEGORIES = 1_000_000
#: Most networks a file of several networks may hold.
MAX_MEMBERS = 1000
_LIMITS = Limits(
    header_bytes=MAX_HEADER_BYTES,
    json_values=MAX_JSON_VALUES,
    json_depth=MAX_JSON_DEPTH,
    tensors=MAX_TENSORS,
    text=MAX_TEXT,
)

_OPTIMIZER_PREFIX = "torch.optim."
_METADATA_KEYS = (
    "format",
    "format_version",
    "qwertyclf_version",
    "torch_version",
    "params",
    "attributes",
)
_ATTRIBUTE_KEYS = (
    "classes",
    "n_features_in",
    "feature_names_in",
    "n_iter",
    "best_epoch",
    "history",
)
# Attributes a file may lack: written since format version 2.
_OPTIONAL_ATTRIBUTE_KEYS = ("encoder",)
_COMPOSITE_METADATA_KEYS = (*_METADATA_KEYS, "kind", "n_members")
# Metadata entries of one kind only: the ensemble's member template, the
# search results of the CV.
_KIND_METADATA_KEYS = {
    "QwertyClassifierCV": ("cv_results",),
    "QwertyEnsembleClassifier": ("estimator",),
}
_COMPOSITE_ATTRIBUTE_KEYS = ("classes", "n_features_in", "feature_names_in", "encoder")
_KIND_ATTRIBUTE_KEYS = {
    "QwertyClassifierCV": ("best_params", "best_score"),
    "QwertyEnsembleClassifier": (),
}
_CANDIDATE_KEYS = ("hidden_layer_sizes", "lr", "weight_decay")
_CV_SCORE_KEYS = ("mean_test_score", "std_test_score", "mean_best_epoch")
_SPLIT_KEY = re.compile(r"split(0|[1-9][0-9]{0,5})_test_score")
_MEMBER_TENSOR = re.compile(r"members\.(0|[1-9][0-9]{0,5})\.(.+)", re.DOTALL)
_TENSOR_KEYS = {"dtype", "shape", "data_offsets"}
# NumPy dtypes of class labels and feature names as `_encode_array` writes them.
_ARRAY_DTYPE = re.compile(r"[<>|=]?(?:[iu][1248]|f[248]|b1|U[1-9][0-9]{0,3}|O)")
_VERSION = re.compile(r"[0-9]{1,6}")
_COUNT = re.compile(r"[0-9]{1,9}")


class _Inconsistent(ValueError):
    """The file's metadata or tensors are not what a fit writes."""


def write_model(path: str | os.PathLike, state: ModelState) -> Path:
    """Write `state` to `path` as a safetensors file with a JSON header.

    Parameters
    ----------
    path : str or path-like
        Where to write the file.
    state : ModelState
        What to store; callbacks and `RandomState` instances are left out.

    Returns
    -------
    path : pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> state = ModelState(
    ...     params={"hidden_layer_sizes": (4,)}, classes=np.array([0, 1]),
    ...     n_features_in=2, feature_names_in=None,
    ...     history=[{"epoch": 1, "train_loss": 0.7}], n_iter=1, best_epoch=1,
    ...     module=QwertyNet(2, 2, (4,)),
    ... )
    >>> path = write_model(pathlib.Path(tempfile.mkdtemp()) / "m.safetensors", state)
    >>> path.suffix
    '.safetensors'
    """
    metadata = {
        "format": FORMAT,
        "format_version": str(SINGLE_FORMAT_VERSION),
        "qwertyclf_version": _qwertyclf_version(),
        "torch_version": torch.__version__,
        **_model_metadata(state),
    }
    tensors = _module_tensors(state.module)
    _check_writable(
        metadata,
        tensors,
        lambda: _decode_metadata(metadata, state.params, lambda _: dict(state.params)),
    )
    return save(path, tensors, metadata)


def _model_metadata(state: ModelState) -> dict:
    """The metadata entries of one network's model: its params and attributes."""
    return {
        "params": json.dumps(_encode_params(state.params), default=_plain),
        "attributes": json.dumps(_encode_attributes(state), default=_plain),
    }


def _module_tensors(module: nn.Module) -> dict:
    return {
        k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()
    }


def _encode_params(params: dict) -> dict:
    """The estimator's parameters as plain JSON values (code and state dropped).

    Each value is encoded by the `stored` kind its declaration in
    `qwertyclf._params` gives; an undeclared one is stored as it is.
    """
    return {
        name: _ENCODERS[_stored_kind(name)](value) for name, value in params.items()
    }


def _stored_kind(name: str) -> str:
    param = PARAMETERS.get(name)
    return "value" if param is None else param.stored


def _encode_sizes(sizes) -> list:
    return [sizes] if isinstance(sizes, Integral) else list(sizes)


def _encode_class_weight(class_weight):
    if isinstance(class_weight, dict):
        return [[_plain(k), v] for k, v in class_weight.items()]
    return class_weight


def _encode_seed(random_state) -> int | None:
    # A RandomState is state, not a setting: it is not stored.
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return None


def _encode_columns(columns):
    if columns is None or isinstance(columns, str):
        return columns
    return [_plain(v) for v in columns]


# How each kind of stored value becomes JSON (see `qwertyclf._params.Param`).
_ENCODERS: dict[str, Callable[[Any], Any]] = {
    "value": lambda value: value,
    "flag": bool,
    "count": int,
    "sizes": _encode_sizes,
    "class_weight": _encode_class_weight,
    # Callbacks are code: they never go in the file.
    "code": lambda value: None,
    "optimizer": lambda value: _optimizer_name(value),
    "seed": _encode_seed,
    "device": str,
    "columns": _encode_columns,
}


def _encode_attributes(state: ModelState) -> dict:
    """The fitted attributes of `state` as plain JSON values."""
    return {
        "classes": _encode_array(state.classes),
        "n_features_in": int(state.n_features_in),
        "feature_names_in": (
            None
            if state.feature_names_in is None
            else _encode_array(state.feature_names_in)
        ),
        "n_iter": int(state.n_iter),
        "best_epoch": int(state.best_epoch),
        # Per-batch rows are bulky and only describe the training run.
        "history": [
            {k: v for k, v in row.items() if k != "batches"} for row in state.history
        ],
        "encoder": None if state.encoder is None else state.encoder.to_dict(),
    }


def _check_writable(metadata: dict, tensors: dict, decode: Callable) -> None:
    """Refuse to write a file that `read_model` would refuse.

    A very long history (hundreds of thousands of `partial_fit` calls) or a
    callback that records large values in it can pass the limits. `decode()`
    decodes `metadata` as reading does, with the parameters taken as they are.
    """
    try:
        check_header(metadata, tensors, _LIMITS)
        decode()
    except ValueError as exc:
        raise ValueError(
            f"Cannot save this model: {exc}. Model files have limits that keep "
            "loading them cheap (see the guide on saving models); pickle the "
            "model instead."
        ) from None


@dataclass
class CompositeState:
    """What a file of several networks holds: an estimator and its members.

    Parameters
    ----------
    kind : str
        The estimator's class name, one of `COMPOSITE_KINDS`.
    params : dict
        Its constructor arguments (`get_params(deep=False)`), but for the
        ensemble's `estimator`, which is `estimator` below. Values that are
        code or live state (a splitter object, a scoring function, a
        `RandomState`) are stored as None.
    classes : ndarray of shape (n_classes,)
        Sorted class labels.
    n_features_in : int
        Number of input columns.
    feature_names_in : ndarray of str or None
        Column names seen in fit, if any.
    encoder : TableEncoder
        The estimator's input encoding; its members take its outputs.
    members : list of ModelState
        The fitted networks, in order.
    estimator : dict or None, default=None
        The ensemble's member template: a `QwertyClassifier`'s parameters, or
        None for the default member.
    best_params, best_score, cv_results : default=None
        The CV's fitted attributes of the same names (`cv_results` without
        its `params` masking: plain lists and arrays).
    weights : ndarray or None, default=None
        The CV's `weights_`, one per member; None weighs them equally.

    Examples
    --------
    >>> import numpy as np
    >>> state = CompositeState(
    ...     kind="QwertyEnsembleClassifier", params={"n_estimators": 1},
    ...     classes=np.array([0, 1]), n_features_in=2, feature_names_in=None,
    ...     encoder=TableEncoder.identity_for(2), members=[],
    ... )
    >>> state.kind
    'QwertyEnsembleClassifier'
    """

    kind: str
    params: dict
    classes: np.ndarray
    n_features_in: int
    feature_names_in: np.ndarray | None
    encoder: TableEncoder
    members: list[ModelState] = field(default_factory=list)
    estimator: dict | None = None
    best_params: dict | None = None
    best_score: float | None = None
    cv_results: dict | None = None
    weights: np.ndarray | None = None


def write_composite(path: str | os.PathLike, state: CompositeState) -> Path:
    """Write an estimator of several networks to one safetensors file.

    Parameters
    ----------
    path : str or path-like
        Where to write the file.
    state : CompositeState
        What to store.

    Returns
    -------
    path : pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> member = ModelState(
    ...     params={"hidden_layer_sizes": (4,)}, classes=np.array([0, 1]),
    ...     n_features_in=2, feature_names_in=None, history=[{"epoch": 1}],
    ...     n_iter=1, best_epoch=1, module=QwertyNet(2, 2, (4,)),
    ... )
    >>> state = CompositeState(
    ...     kind="QwertyEnsembleClassifier", params={"n_estimators": 1},
    ...     classes=np.array([0, 1]), n_features_in=2, feature_names_in=None,
    ...     encoder=TableEncoder.identity_for(2), members=[member],
    ... )
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_composite(folder / "ensemble.safetensors", state).name
    'ensemble.safetensors'
    """
    if state.kind not in COMPOSITE_KINDS:
        raise ValueError(
            f"kind must be one of {list(COMPOSITE_KINDS)}, got {state.kind!r}."
        )
    params = {name: _encode_plain(value) for name, value in state.params.items()}
    attributes = {
        "classes": _encode_array(state.classes),
        "n_features_in": int(state.n_features_in),
        "feature_names_in": (
            None
            if state.feature_names_in is None
            else _encode_array(state.feature_names_in)
        ),
        "encoder": state.encoder.to_dict(),
    }
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "qwertyclf_version": _qwertyclf_version(),
        "torch_version": torch.__version__,
        "kind": state.kind,
        "n_members": str(len(state.members)),
        "params": json.dumps(params, default=_plain),
    }
    if state.kind == "QwertyClassifierCV":
        attributes["best_params"] = _encode_candidate(state.best_params)
        attributes["best_score"] = float(state.best_score)
        weights = state.weights
        if weights is None:
            weights = np.full(len(state.members), 1 / len(state.members))
        attributes["weights"] = [float(w) for w in weights]
        metadata["cv_results"] = json.dumps(
            _encode_cv_results(state.cv_results), default=_plain
        )
    else:
        estimator = state.estimator
        metadata["estimator"] = json.dumps(
            None if estimator is None else _encode_params(estimator), default=_plain
        )
    metadata["attributes"] = json.dumps(attributes, default=_plain)
    tensors = {}
    for i, member in enumerate(state.members):
        for key, value in _model_metadata(member).items():
            metadata[f"members.{i}.{key}"] = value
        for name, tensor in _module_tensors(member.module).items():
            tensors[f"members.{i}.{name}"] = tensor
    originals = [member.params for member in state.members]
    if state.estimator is not None:
        originals.append(state.estimator)
    checks = _CompositeChecks(
        param_names=list(state.params),
        check_params=lambda _: dict(state.params),
        member_param_names={name for params in originals for name in params},
        check_member_params=lambda decoded: decoded,
    )
    _check_writable(
        metadata, tensors, lambda: _decode_composite(metadata, state.kind, checks)
    )
    return save(path, tensors, metadata)


def _encode_plain(value, depth: int = 0):
    """A constructor argument as a JSON value, or None if it cannot be one.

    Numbers, text, None and lists of them (two levels at most) are kept;
    code and live state (a splitter object, a scorer, a `RandomState`) are
    not stored.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, (list, tuple, np.ndarray)) and depth < 2:
        items = [_encode_plain(v, depth + 1) for v in value]
        if all(
            item is not None or v is None for item, v in zip(items, value, strict=True)
        ):
            return items
    return None


def _encode_candidate(candidate: dict) -> dict:
    out = {
        "hidden_layer_sizes": [int(n) for n in candidate["hidden_layer_sizes"]],
        "lr": _plain(candidate["lr"]),
        "weight_decay": _plain(candidate["weight_decay"]),
    }
    if "numeric_embedding" in candidate:
        out["numeric_embedding"] = candidate["numeric_embedding"]
    return out


def _encode_cv_results(results: dict) -> dict:
    out = {"params": [_encode_candidate(c) for c in results["params"]]}
    for key, values in results.items():
        if key != "params":
            out[key] = np.asarray(values).tolist()
    return out


def read_model(
    path: str | os.PathLike,
    *,
    param_names: Collection[str],
    check_params: Callable[[dict], dict],
) -> ModelState:
    """Read and validate a model file; build its network only if it all fits.

    Parameters
    ----------
    path : str or path-like
        A file written by `write_model`.
    param_names : collection of str
        The estimator's parameter names; any other name in the file is refused.
    check_params : callable
        `check_params(params) -> params`: the estimator's validation of its
        hyperparameters. It raises `ValueError` or `TypeError` for a bad value
        and returns every parameter, defaults filled in and values adjusted
        where needed (the device to load on, for example).

    Returns
    -------
    state : ModelState
        The file's content; `state.module` holds the stored weights on the CPU.

    Raises
    ------
    FileNotFoundError
        If there is no file at `path`.
    ValueError
        If the file is not a qwertyclf model file, is damaged or inconsistent
        in any way, or was written by a newer version of the format. The
        message names the problem.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> state = ModelState(
    ...     params={"hidden_layer_sizes": (4,), "activation": "relu",
    ...             "batch_norm": False, "dropout": 0.0, "dtype": "float32"},
    ...     classes=np.array(["no", "yes"]), n_features_in=3,
    ...     feature_names_in=None, history=[{"epoch": 1}], n_iter=1,
    ...     best_epoch=1, module=QwertyNet(3, 2, (4,)),
    ... )
    >>> path = write_model(pathlib.Path(tempfile.mkdtemp()) / "m.safetensors", state)
    >>> read = read_model(path, param_names=state.params, check_params=dict)
    >>> read.classes
    array(['no', 'yes'], dtype='<U3')
    >>> read.module[0]
    Linear(in_features=3, out_features=4, bias=True)
    """
    path = Path(path)
    with _reading(path) as file:
        _expect_kind(file, None, path)
        state = _decode_metadata(file.metadata, param_names, check_params)
        module = _empty_module(state, file.entries)
        state.module = _load_weights(module, file, file.entries)
    return state


def read_kind(path: str | os.PathLike) -> str | None:
    """The kind of model a file holds: None for a `QwertyClassifier`.

    Only the container is checked (`read_model` and `read_composite` check
    the rest).

    Parameters
    ----------
    path : str or path-like
        A model file.

    Returns
    -------
    kind : str or None
        One of `COMPOSITE_KINDS`, or None for a single network.

    Raises
    ------
    ValueError
        As `read_model` does, for a file that is not a qwertyclf model file
        or names an unknown kind.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> state = ModelState(
    ...     params={"hidden_layer_sizes": (4,)}, classes=np.array([0, 1]),
    ...     n_features_in=2, feature_names_in=None, history=[{"epoch": 1}],
    ...     n_iter=1, best_epoch=1, module=QwertyNet(2, 2, (4,)),
    ... )
    >>> path = write_model(pathlib.Path(tempfile.mkdtemp()) / "m.safetensors", state)
    >>> read_kind(path) is None
    True
    """
    path = Path(path)
    with _reading(path) as file:
        return _kind(file.metadata)


@dataclass
class _CompositeChecks:
    """How the estimators validate what a file of several networks holds."""

    param_names: Collection[str]
    check_params: Callable[[dict], dict]
    member_param_names: Collection[str]
    check_member_params: Callable[[dict], dict]


def read_composite(
    path: str | os.PathLike,
    *,
    kind: str,
    param_names: Collection[str],
    check_params: Callable[[dict], dict],
    member_param_names: Collection[str],
    check_member_params: Callable[[dict], dict],
) -> CompositeState:
    """Read and validate a file of several networks; build them if it all fits.

    Every member's metadata is decoded and checked as `read_model` checks a
    single model's, and every member's tensors against its network, before
    any weights are read.

    Parameters
    ----------
    path : str or path-like
        A file written by `write_composite`.
    kind : str
        The kind expected (one of `COMPOSITE_KINDS`); another is refused.
    param_names : collection of str
        The estimator's parameter names stored in `params`.
    check_params : callable
        `check_params(params) -> params`: the estimator's validation.
    member_param_names : collection of str
        A member's parameter names (those of `QwertyClassifier`).
    check_member_params : callable
        A member's validation, as `read_model` takes it; it checks the
        ensemble's `estimator` too.

    Returns
    -------
    state : CompositeState
        The file's content, each member's module holding its weights.

    Raises
    ------
    FileNotFoundError
        If there is no file at `path`.
    ValueError
        As `read_model`; a message about a member starts with its number.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> params = {"hidden_layer_sizes": (4,), "activation": "relu",
    ...           "batch_norm": False, "dropout": 0.0, "dtype": "float32"}
    >>> member = ModelState(
    ...     params=params, classes=np.array([0, 1]), n_features_in=2,
    ...     feature_names_in=None, history=[{"epoch": 1}], n_iter=1,
    ...     best_epoch=1, module=QwertyNet(2, 2, (4,)),
    ... )
    >>> state = CompositeState(
    ...     kind="QwertyEnsembleClassifier", params={"n_estimators": 1},
    ...     classes=np.array([0, 1]), n_features_in=2, feature_names_in=None,
    ...     encoder=TableEncoder.identity_for(2), members=[member],
    ... )
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = write_composite(folder / "e.safetensors", state)
    >>> read = read_composite(
    ...     path, kind="QwertyEnsembleClassifier", param_names=["n_estimators"],
    ...     check_params=dict, member_param_names=params, check_member_params=dict,
    ... )
    >>> len(read.members), read.members[0].module[0]
    (1, Linear(in_features=2, out_features=4, bias=True))
    """
    path = Path(path)
    checks = _CompositeChecks(
        param_names, check_params, member_param_names, check_member_params
    )
    with _reading(path) as file:
        _expect_kind(file, kind, path)
        state = _decode_composite(file.metadata, kind, checks)
        groups = _member_entries(file.entries, len(state.members))
        modules = []
        for i, (member, entries) in enumerate(zip(state.members, groups, strict=True)):
            with _member(i):
                local = {name[len(f"members.{i}.") :]: e for name, e in entries.items()}
                modules.append(_empty_module(member, local))
        # Every member checked: only now are weights read.
        for i, (member, module, entries) in enumerate(
            zip(state.members, modules, groups, strict=True)
        ):
            member.module = _load_weights(module, file, entries, prefix=f"members.{i}.")
    return state


@contextmanager
def _reading(path: Path) -> Iterator[Container]:
    """Open `path` and check its container; turn every refusal into one message.

    The container is what every model file shares: the header's length and
    JSON, the format and its version, and the byte ranges of the tensors.
    """
    try:
        with open_container(
            path,
            limits=_LIMITS,
            entry_keys=_TENSOR_KEYS,
            check_metadata=lambda metadata: _check_format(metadata, path),
        ) as file:
            yield file
    except (FileNotFoundError, _Refused):
        raise
    except Unreadable as exc:
        raise ValueError(
            f"{path} is not a readable qwertyclf model file ({exc})."
        ) from None
    except OSError as exc:
        raise ValueError(
            f"{path} is not a readable qwertyclf model file ({exc.strerror or exc})."
        ) from None
    except (_Inconsistent, TypeError, ValueError, OverflowError, RuntimeError) as exc:
        # RuntimeError: torch refusing a size that no check above anticipated.
        raise ValueError(
            f"{path} is a damaged or inconsistent qwertyclf model file: {exc}"
        ) from None


def _kind(metadata: dict) -> str | None:
    """The file's kind (None: one network), checked against its version."""
    kind = metadata.get("kind")
    if kind is None:
        return None
    if kind not in COMPOSITE_KINDS:
        raise _Inconsistent(
            f"unknown model kind {short(kind)}; qwertyclf writes "
            f"{' or '.join(map(repr, COMPOSITE_KINDS))}, and no kind for a "
            "QwertyClassifier"
        )
    version = int(metadata["format_version"])
    if version < 3:
        raise _Inconsistent(
            f"a file of kind {kind!r} has format version 3 or later, not {version}"
        )
    return kind


def _expect_kind(file: Container, expected: str | None, path: Path) -> None:
    found = _kind(file.metadata)
    if found != expected:
        found = found or "QwertyClassifier"
        raise _Refused(
            f"{path} holds a {found}, not a {expected or 'QwertyClassifier'}: "
            f"load it with {found}.load or qwertyclf.load_model."
        )


@contextmanager
def _member(i: int) -> Iterator[None]:
    """Name member `i` in what is wrong with it."""
    try:
        yield
    except (Unreadable, _Refused):
        raise
    except (_Inconsistent, TypeError, ValueError, OverflowError) as exc:
        raise _Inconsistent(f"member {i}: {exc}") from None


def _load_weights(module: QwertyNet, file: Container, entries: dict, prefix: str = ""):
    """Read the checked tensors `entries` into `module` (built on the meta device)."""
    tensors = _read_tensors(file, entries)
    module.load_state_dict(
        {name[len(prefix) :]: tensor for name, tensor in tensors.items()}, assign=True
    )
    return module.eval()


def _member_entries(entries: dict, n_members: int) -> list[dict]:
    """The tensor entries of each member, by their `members.i.` prefix."""
    groups = [{} for _ in range(n_members)]
    for name, entry in entries.items():
        match = _MEMBER_TENSOR.fullmatch(name)
        if match is None or int(match[1]) >= n_members:
            raise _Inconsistent(
                f"tensor {short(name)} belongs to none of the {n_members} members"
            )
        groups[int(match[1])][name] = entry
    return groups


def _decode_composite(metadata: dict, kind: str, checks: _CompositeChecks):
    """A `CompositeState` from the metadata of a file of several networks.

    The members' modules are left None.
    """
    n_members = metadata.get("n_members")
    if not isinstance(n_members, str) or not _COUNT.fullmatch(n_members):
        raise _Inconsistent(f"n_members must be a count, got {short(n_members)}")
    n_members = int(n_members)
    if not 1 <= n_members <= MAX_MEMBERS:
        raise _Inconsistent(
            f"it lists {n_members} members; a model file holds 1 to {MAX_MEMBERS}"
        )
    member_keys = [
        f"members.{i}.{key}"
        for i in range(n_members)
        for key in ("params", "attributes")
    ]
    _check_keys(
        metadata,
        (*_COMPOSITE_METADATA_KEYS, *_KIND_METADATA_KEYS[kind], *member_keys),
        "metadata key",
    )
    # The header's count of JSON values (which counts those inside the
    # metadata texts too) bounds what all the members' entries hold together.
    for key in ("qwertyclf_version", "torch_version"):
        _check_text(metadata[key], key)

    estimator = None
    if kind == "QwertyEnsembleClassifier":
        estimator = _parse_json(metadata["estimator"], "estimator", _Inconsistent)
        if estimator is not None:
            with _prefixed("estimator"):
                estimator = _decode_model_params(
                    estimator, checks.member_param_names, checks.check_member_params
                )
    params = _parse_json(metadata["params"], "params", _Inconsistent)
    if not isinstance(params, dict):
        raise _Inconsistent("params is not a JSON object")
    _check_keys(params, checks.param_names, "parameter", required=False)
    for name, value in params.items():
        _check_plain(value, name)
    params = checks.check_params(params)

    attributes = _parse_json(metadata["attributes"], "attributes", _Inconsistent)
    if not isinstance(attributes, dict):
        raise _Inconsistent("attributes is not a JSON object")
    weighted = kind == "QwertyClassifierCV" and int(metadata["format_version"]) >= 4
    _check_keys(
        attributes,
        _COMPOSITE_ATTRIBUTE_KEYS
        + _KIND_ATTRIBUTE_KEYS[kind]
        + (("weights",) if weighted else ()),
        "attribute",
    )
    classes = _decode_classes(attributes["classes"])
    n_features = _decode_n_features(attributes["n_features_in"])
    names = _decode_names(attributes["feature_names_in"], n_features)
    encoder = _decode_encoder(attributes["encoder"], n_features)
    if encoder is None:
        raise _Inconsistent("the encoder must be an object, not null")
    state = CompositeState(
        kind=kind,
        params=params,
        classes=classes,
        n_features_in=n_features,
        feature_names_in=names,
        encoder=encoder,
        estimator=estimator,
    )
    n_splits = None
    if kind == "QwertyClassifierCV":
        state.best_params = _decode_candidate(attributes["best_params"], "best_params")
        score = attributes["best_score"]
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            raise _Inconsistent(f"best_score must be a number, got {short(score)}")
        state.best_score = float(score)
        results = _parse_json(metadata["cv_results"], "cv_results", _Inconsistent)
        state.cv_results, n_splits = _decode_cv_results(results)
        _check_best(state)
        if weighted:
            state.weights = _decode_weights(attributes["weights"], n_members)

    for i in range(n_members):
        with _member(i):
            member = _decode_model(
                metadata[f"members.{i}.params"],
                metadata[f"members.{i}.attributes"],
                checks.member_param_names,
                checks.check_member_params,
            )
            if member.n_features_in != encoder.n_outputs:
                raise _Inconsistent(
                    f"it takes {member.n_features_in} inputs, but the encoder "
                    f"gives {encoder.n_outputs}"
                )
            if (
                member.classes.dtype.kind != classes.dtype.kind
                or not np.isin(member.classes, classes).all()
            ):
                raise _Inconsistent("its classes are not among the model's classes")
        state.members.append(member)
    _check_member_count(state, n_splits)
    return state


def _check_member_count(state: CompositeState, n_splits: int | None) -> None:
    """The ensemble's `n_estimators` members; the CV's networks per candidate.

    A CV holds one network per split of each candidate it predicts with (one
    with `refit=True`): of one candidate in a file without weights, of up to
    every candidate in one with them.
    """
    n_members = len(state.members)
    if state.kind == "QwertyEnsembleClassifier":
        expected = state.params.get("n_estimators")
        if n_members != expected:
            raise _Inconsistent(
                f"it holds {n_members} members, but n_estimators={expected} "
                f"needs {expected}"
            )
        return
    per_candidate, why = (
        (1, "refit=True")
        if state.params.get("refit")
        else (n_splits, f"cv_results' {n_splits} split(s)")
    )
    most = 1 if state.weights is None else len(state.cv_results["params"])
    if n_members % per_candidate or n_members > most * per_candidate:
        counts = (
            str(per_candidate)
            if most == 1
            else f"{per_candidate} per chosen candidate, at most {most * per_candidate}"
        )
        raise _Inconsistent(f"it holds {n_members} members, but {why} needs {counts}")


def _decode_weights(value, n_members: int) -> np.ndarray:
    """The CV's member weights: `n_members` positive numbers summing to 1."""
    if (
        not isinstance(value, list)
        or len(value) != n_members
        or not all(
            isinstance(w, (int, float))
            and not isinstance(w, bool)
            and math.isfinite(w)
            and w > 0
            for w in value
        )
    ):
        raise _Inconsistent(
            f"weights must list {n_members} positive numbers, one per member, "
            f"got {short(value)}"
        )
    weights = np.array(value, dtype=np.float64)
    if abs(weights.sum() - 1) > 1e-6:
        raise _Inconsistent(f"weights must sum to 1, not {weights.sum():.6g}")
    return weights


@contextmanager
def _prefixed(what: str) -> Iterator[None]:
    try:
        yield
    except (Unreadable, _Refused):
        raise
    except (_Inconsistent, TypeError, ValueError, OverflowError) as exc:
        raise _Inconsistent(f"{what}: {exc}") from None


def _check_plain(value, name: str, depth: int = 0) -> None:
    """A stored constructor argument: numbers, text, null, lists of them."""
    if isinstance(value, dict) or (isinstance(value, list) and depth >= 2):
        raise _Inconsistent(
            f"{name} must be a number, text, null or a list of them, got {short(value)}"
        )
    if isinstance(value, list):
        if len(value) > MAX_CLASSES:
            raise _Inconsistent(f"{name} lists more than {MAX_CLASSES} values")
        for item in value:
            _check_plain(item, name, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise _Inconsistent(f"{name} holds {value}")
    elif isinstance(value, str):
        _check_text(value, name)


def _decode_candidate(value, what: str) -> dict:
    """One candidate of the CV's search: sizes, learning rate, weight decay.

    And its numeric embedding, when the CV searched over it.
    """
    if not isinstance(value, dict) or set(value) - {"numeric_embedding"} != set(
        _CANDIDATE_KEYS
    ):
        raise _Inconsistent(
            f"{what} must be an object with keys {list(_CANDIDATE_KEYS)} "
            "and optionally numeric_embedding"
        )
    sizes = value["hidden_layer_sizes"]
    if not (
        isinstance(sizes, list)
        and 1 <= len(sizes) < MAX_TENSORS // 2
        and all(is_int(n) and n >= 1 for n in sizes)
    ):
        raise _Inconsistent(
            f"{what}'s hidden_layer_sizes must list positive ints, got {short(sizes)}"
        )
    out = {"hidden_layer_sizes": tuple(sizes)}
    for key in ("lr", "weight_decay"):
        number = value[key]
        if (
            not isinstance(number, (int, float))
            or isinstance(number, bool)
            or not math.isfinite(number)
            or number < 0
        ):
            raise _Inconsistent(
                f"{what}'s {key} must be a finite number >= 0, got {short(number)}"
            )
        out[key] = number
    if "numeric_embedding" in value:
        embedding = value["numeric_embedding"]
        if embedding is not None and not (
            isinstance(embedding, str) and embedding in NUMERIC_EMBEDDINGS
        ):
            raise _Inconsistent(
                f"{what}'s numeric_embedding must be null or one of "
                f"{sorted(NUMERIC_EMBEDDINGS)}, got {short(embedding)}"
            )
        out["numeric_embedding"] = embedding
    return out


def _decode_cv_results(value) -> tuple[dict, int]:
    """`cv_results_` and its number of splits."""
    if not isinstance(value, dict):
        raise _Inconsistent("cv_results is not a JSON object")
    candidates = value.get("params")
    if not isinstance(candidates, list) or not 1 <= len(candidates) <= MAX_CLASSES:
        raise _Inconsistent(
            f"cv_results' params must list 1 to {MAX_CLASSES} candidates"
        )
    splits = [key for key in value if _SPLIT_KEY.fullmatch(key)]
    n_splits = len(splits)
    known = ("params", *_CV_SCORE_KEYS, "rank_test_score")
    split_keys = tuple(f"split{k}_test_score" for k in range(n_splits))
    _check_keys(value, known + split_keys, "cv_results key")
    if n_splits < 1:
        raise _Inconsistent("cv_results has no split scores")
    results = {
        "params": [
            _decode_candidate(c, f"cv_results' candidate {n}")
            for n, c in enumerate(candidates)
        ]
    }
    n = len(candidates)
    for key in (*_CV_SCORE_KEYS, *split_keys):
        column = value[key]
        if not (
            isinstance(column, list)
            and len(column) == n
            and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in column
            )
        ):
            raise _Inconsistent(f"cv_results' {key} must list {n} numbers")
        results[key] = np.array(column, dtype=np.float64)
    rank = value["rank_test_score"]
    if not _is_ranking(rank, n):
        raise _Inconsistent(
            f"cv_results' rank_test_score must rank the {n} candidates from 1, "
            "tied ones sharing the best rank among them"
        )
    results["rank_test_score"] = np.array(rank, dtype=np.int32)
    return results, n_splits


def _is_ranking(rank, n: int) -> bool:
    """Whether `rank` ranks `n` candidates as scikit-learn's searches do.

    Ranks start at 1; tied candidates share the best rank among them, and
    the next rank counts them all (1, 1, 3).
    """
    if not (isinstance(rank, list) and len(rank) == n and all(map(is_int, rank))):
        return False
    ordered = sorted(rank)
    return all(
        r == i + 1 for i, r in enumerate(ordered) if i == 0 or r != ordered[i - 1]
    )


def _check_best(state: CompositeState) -> None:
    """`best_params` and `best_score` are those of the top-ranked candidate."""
    results = state.cv_results
    best = int(np.argmin(results["rank_test_score"]))
    score = results["mean_test_score"][best]
    same_score = score == state.best_score or (
        math.isnan(score) and math.isnan(state.best_score)
    )
    if results["params"][best] != state.best_params or not same_score:
        raise _Inconsistent(
            "best_params and best_score are not those of the candidate "
            "cv_results ranks first"
        )


class _Refused(ValueError):
    """A refusal whose message is complete, path included."""


def _check_format(metadata: dict, path: Path) -> None:
    if metadata.get("format") != FORMAT:
        raise _Refused(f"{path} is not a qwertyclf model file (no '{FORMAT}' header).")
    version = metadata.get("format_version", "")
    if not _VERSION.fullmatch(version):
        raise _Refused(
            f"{path} has an unreadable model format version {short(version)}."
        )
    if int(version) > FORMAT_VERSION:
        written_by = short(metadata.get("qwertyclf_version", "")).strip("'\"")
        raise _Refused(
            f"{path} was written in model format {int(version)} by qwertyclf "
            f"{written_by}; this qwertyclf reads format {FORMAT_VERSION} and "
            "older. Upgrade qwertyclf to load it."
        )


def _decode_metadata(
    metadata: dict,
    param_names: Collection[str],
    check_params: Callable[[dict], dict],
) -> ModelState:
    """The `ModelState` of a single model's file (its module left None)."""
    _check_keys(metadata, _METADATA_KEYS, "metadata key")
    for key in ("qwertyclf_version", "torch_version"):
        _check_text(metadata[key], key)
    return _decode_model(
        metadata["params"], metadata["attributes"], param_names, check_params
    )


def _decode_model(
    params: str,
    attributes: str,
    param_names: Collection[str],
    check_params: Callable[[dict], dict],
) -> ModelState:
    """One network's model from its `params` and `attributes` JSON texts."""
    params = _parse_json(params, "params", _Inconsistent)
    params = _decode_model_params(params, param_names, check_params)

    attributes = _parse_json(attributes, "attributes", _Inconsistent)
    if not isinstance(attributes, dict):
        raise _Inconsistent("attributes is not a JSON object")
    _check_keys(
        attributes,
        _ATTRIBUTE_KEYS + _OPTIONAL_ATTRIBUTE_KEYS,
        "attribute",
        required=False,
    )
    _check_keys(
        {k: v for k, v in attributes.items() if k in _ATTRIBUTE_KEYS},
        _ATTRIBUTE_KEYS,
        "attribute",
    )
    classes = _decode_classes(attributes["classes"])
    n_features = _decode_n_features(attributes["n_features_in"])
    names = _decode_names(attributes["feature_names_in"], n_features)
    history = attributes["history"]
    n_iter, best_epoch = attributes["n_iter"], attributes["best_epoch"]
    _check_history(history, n_iter, best_epoch)
    _check_class_weight(params.get("class_weight"), classes)
    encoder = _decode_encoder(attributes.get("encoder"), n_features)
    return ModelState(
        params=params,
        classes=classes,
        n_features_in=n_features,
        feature_names_in=names,
        history=history,
        n_iter=n_iter,
        best_epoch=best_epoch,
        module=None,
        encoder=encoder,
    )


def _decode_model_params(
    params, param_names: Collection[str], check_params: Callable[[dict], dict]
) -> dict:
    """A `QwertyClassifier`'s parameters, decoded and validated."""
    if not isinstance(params, dict):
        raise _Inconsistent("params is not a JSON object")
    _check_keys(params, param_names, "parameter", required=False)
    return check_params(_decode_params(params))


def _decode_classes(encoded) -> np.ndarray:
    classes = _decode_array(encoded, "classes", MAX_CLASSES)
    if len(classes) < 2:
        raise _Inconsistent(f"it has {len(classes)} class(es); a fit needs 2 or more")
    try:
        ordered = bool(np.all(classes[1:] > classes[:-1]))
    except TypeError:
        ordered = False
    if not ordered:
        raise _Inconsistent("classes are not sorted and unique, as a fit stores them")
    return classes


def _decode_n_features(n_features) -> int:
    if not is_int(n_features) or n_features < 1:
        raise _Inconsistent(
            f"n_features_in must be a positive int, got {short(n_features)}"
        )
    return n_features


def _decode_names(names, n_features: int) -> np.ndarray | None:
    if names is None:
        return None
    names = _decode_array(names, "feature_names_in", n_features)
    if len(names) != n_features or not all(isinstance(n, str) for n in names):
        raise _Inconsistent(
            f"feature_names_in must be {n_features} strings, one per feature"
        )
    return names


def _decode_encoder(encoder, n_features: int) -> TableEncoder | None:
    if encoder is None:
        return None
    try:
        return TableEncoder.from_dict(
            encoder,
            n_features=n_features,
            max_text=MAX_TEXT,
            max_values=MAX_CATEGORIES,
        )
    except ValueError as exc:
        raise _Inconsistent(str(exc)) from None


def _decode_params(params: dict) -> dict:
    """JSON values back to constructor arguments; types no fit can write refused.

    Each value is decoded by the `stored` kind of its declaration.
    """
    return {
        name: _DECODERS[_stored_kind(name)](value, name)
        for name, value in params.items()
    }


def _decode_value(value, name: str):
    """A number, a text or null."""
    if isinstance(value, str):
        _check_text(value, name)
    elif isinstance(value, (list, dict)):
        raise _Inconsistent(f"{name} must be a single value, got {short(value)}")
    return value


def _decode_sizes(value, name: str) -> tuple:
    if not isinstance(value, list):
        raise _Inconsistent(f"{name} must be a list, got {short(value)}")
    if len(value) >= MAX_TENSORS // 2:
        # Two tensors per layer: no file can hold such a network.
        raise _Inconsistent(
            f"{name} lists {len(value)} layers; a model "
            f"file holds at most {MAX_TENSORS // 2 - 1}"
        )
    return tuple(value)


def _decode_code(value, name: str) -> None:
    if value is not None:
        raise _Inconsistent(
            f"{name} are code and never stored, but the file has {short(value)}"
        )
    return None


def _decode_optimizer(value, name: str):
    _check_text(value, name)
    return _optimizer_from_name(value)


def _decode_seed(value, name: str) -> int | None:
    if value is not None:
        if not is_int(value):
            raise _Inconsistent(f"{name} must be null or an int, got {short(value)}")
        check_random_state(value)  # a seed NumPy accepts
    return value


def _decode_flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise _Inconsistent(f"{name} must be true or false, not {short(value)}")
    return value


def _decode_count(value, name: str) -> int:
    if not is_int(value) or value < 0:
        raise _Inconsistent(f"{name} must be an int >= 0, got {short(value)}")
    return value


def _decode_columns(value, name: str):
    if not isinstance(value, list):
        return _decode_value(value, name)
    if len(value) > MAX_CLASSES or not all(isinstance(v, (str, int)) for v in value):
        raise _Inconsistent(
            f"{name} must list column names, indices or flags, got {short(value)}"
        )
    for v in value:
        if isinstance(v, str):
            _check_text(v, f"a {name} name")
    return value


# How each kind of stored value is read back (see `qwertyclf._params.Param`).
_DECODERS: dict[str, Callable[[Any, str], Any]] = {
    "value": _decode_value,
    "flag": _decode_flag,
    "count": _decode_count,
    "sizes": _decode_sizes,
    "class_weight": lambda value, name: _decode_class_weight(value),
    "code": _decode_code,
    "optimizer": _decode_optimizer,
    "seed": _decode_seed,
    "device": _decode_value,
    "columns": _decode_columns,
}


def _decode_class_weight(value):
    if value is None or value == "balanced":
        return value
    if not isinstance(value, list) or len(value) > MAX_CLASSES:
        raise _Inconsistent(
            "class_weight must be null, 'balanced' or a list of [class, weight] "
            f"pairs, got {short(value)}"
        )
    weights = {}
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise _Inconsistent(
                f"class_weight entries must be [class, weight] pairs: {short(pair)}"
            )
        label, weight = pair
        if isinstance(label, (list, dict)) or label is None:
            raise _Inconsistent(f"class_weight has a non-label key {short(label)}")
        if isinstance(label, str):
            _check_text(label, "a class_weight key")
        if isinstance(weight, bool) or not isinstance(weight, Real):
            raise _Inconsistent(
                f"class_weight of {short(label)} must be a number: {short(weight)}"
            )
        if not math.isfinite(weight):
            raise _Inconsistent(f"class_weight of {short(label)} is {weight}")
        if label in weights:
            raise _Inconsistent(f"class_weight lists class {short(label)} twice")
        weights[label] = weight
    return weights


def _check_class_weight(class_weight, classes: np.ndarray) -> None:
    if class_weight is None:
        return
    try:
        # The check a fit applies, with every class present.
        compute_class_weight(class_weight, classes=classes, y=classes)
    except (TypeError, ValueError) as exc:
        raise _Inconsistent(f"class_weight does not fit the classes: {exc}") from None


def _check_history(history, n_iter, best_epoch) -> None:
    if not is_int(n_iter) or n_iter < 1:
        raise _Inconsistent(f"n_iter must be an int >= 1, got {short(n_iter)}")
    if not is_int(best_epoch) or not 1 <= best_epoch <= n_iter:
        raise _Inconsistent(
            f"best_epoch must be an int from 1 to n_iter={n_iter}, "
            f"got {short(best_epoch)}"
        )
    if not isinstance(history, list) or len(history) != n_iter:
        raise _Inconsistent(f"history must be a list of n_iter={n_iter} epochs")
    for number, row in enumerate(history, start=1):
        if not isinstance(row, dict) or row.get("epoch") != number:
            raise _Inconsistent(
                f"history row {number} is not an epoch record numbered {number}"
            )
        for key, value in row.items():
            _check_text(key, f"a key of history row {number}")
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, (list, dict)):
                    raise _Inconsistent(
                        f"history row {number} holds a nested value under {key!r}"
                    )
                if isinstance(item, str):
                    _check_text(item, f"history row {number}'s {key!r}")


def _empty_module(state: ModelState, entries: dict) -> QwertyNet:
    """The network the parameters describe, on the meta device.

    Its tensors' names, shapes and dtypes are checked against the header.
    """
    params = state.params
    sizes = check_architecture(
        params["hidden_layer_sizes"], params["activation"], params["dropout"]
    )
    batch_norm = params["batch_norm"]
    # Files written before `batch_ensemble` existed hold plain networks.
    k = params.get("batch_ensemble", 1)
    # A plain layer has a weight and a bias; a member layer adds r and s.
    per_layer = 2 if k == 1 else 4
    head = 2 if k == 1 or sizes else 4
    n_tensors = per_layer * len(sizes) + head + (5 * len(sizes) if batch_norm else 0)
    # Files written before `numeric_embedding` existed hold none.
    embedding = params.get("numeric_embedding")
    if embedding is not None:
        with torch.device("meta"):
            n_tensors += len(NUMERIC_EMBEDDINGS[embedding](1).state_dict())
    if n_tensors != len(entries):
        # Caught before the network is built, however many layers it claims.
        members = "" if k == 1 else f" and batch_ensemble={k}"
        if embedding is not None:
            members += f" and numeric_embedding={embedding!r}"
        raise _Inconsistent(
            f"hidden_layer_sizes={short(list(sizes))} with "
            f"batch_norm={batch_norm}{members} needs {n_tensors} tensors, but "
            f"the file holds {len(entries)}"
        )
    n_inputs = state.n_features_in if state.encoder is None else state.encoder.n_outputs
    with torch.device("meta"):
        module = QwertyNet(
            n_inputs,
            len(state.classes),
            sizes,
            params["activation"],
            batch_norm,
            params["dropout"],
            getattr(torch, params["dtype"]),
            k,
            embedding,
        )
    expected = module.state_dict()
    missing = sorted(set(expected) - set(entries))
    unexpected = sorted(set(entries) - set(expected))
    if missing or unexpected:
        raise _Inconsistent(
            f"its tensors do not match the network: missing {_names(missing)}, "
            f"unexpected {_names(unexpected)}"
        )
    for name, tensor in expected.items():
        entry = entries[name]
        if entry["shape"] != list(tensor.shape):
            raise _Inconsistent(
                f"tensor {name!r} has shape {short(entry['shape'])}, but "
                f"{n_inputs} network inputs, "
                f"hidden_layer_sizes={short(list(sizes))} and "
                f"{len(state.classes)} classes need {list(tensor.shape)}"
            )
        if entry["dtype"] != DTYPE_NAMES[tensor.dtype]:
            raise _Inconsistent(
                f"tensor {name!r} has dtype {entry['dtype']}, but the network "
                f"needs {DTYPE_NAMES[tensor.dtype]} (dtype={params['dtype']!r})"
            )
    return module


def _read_tensors(file: Container, entries: dict) -> dict:
    """Read the tensors listed (and checked) in the header; refuse NaN or inf."""
    tensors = {}
    for name, array in read_arrays(file, entries):
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise _Inconsistent(
                f"tensor {name!r} holds NaN or infinite weights; a fit never "
                "returns them, and the network could not predict"
            )
        if name.endswith("running_var") and (array < 0).any():
            raise _Inconsistent(f"tensor {name!r} holds negative variances")
        tensors[name] = torch.from_numpy(array)
    return tensors


def _parse_json(text: str | bytes, what: str, error: type[ValueError]):
    """Parse JSON within the model files' limits (see `parse_json`)."""
    return parse_json(text, what, error, _LIMITS)


def _check_keys(
    mapping: dict, known: Collection[str], what: str, *, required: bool = True
) -> None:
    # Sorted: safetensors may list the metadata in any order.
    unknown = sorted(k for k in mapping if k not in known)
    if unknown:
        raise _Inconsistent(
            f"unknown {what}(s) {_names(unknown)}; a newer qwertyclf may have "
            "written it"
        )
    missing = [k for k in known if k not in mapping] if required else []
    if missing:
        raise _Inconsistent(f"missing {what}(s) {_names(missing)}")


def _names(names: list[str]) -> str:
    """A few names from the file, each cut short, as a list."""
    shown = ", ".join(short(name) for name in names[:5])
    return f"[{shown}{', ...' if len(names) > 5 else ''}]"


def _check_text(value, what: str) -> None:
    if not isinstance(value, str):
        raise _Inconsistent(f"{what} must be a string, got {short(value)}")
    if len(value) > MAX_TEXT:
        raise _Inconsistent(f"{what} has {len(value)} characters, more than {MAX_TEXT}")


def _optimizer_name(optimizer) -> str:
    if isinstance(optimizer, str):
        return optimizer
    if getattr(torch.optim, optimizer.__name__, None) is optimizer:
        return _OPTIMIZER_PREFIX + optimizer.__name__
    raise ValueError(
        f"Cannot save a model whose optimizer is {optimizer!r}: only optimizer "
        "names and torch.optim classes can be stored without storing code."
    )


def _optimizer_from_name(name: str):
    if not name.startswith(_OPTIMIZER_PREFIX):
        return name
    optimizer = getattr(torch.optim, name[len(_OPTIMIZER_PREFIX) :], None)
    if not (
        isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer)
    ):
        raise _Inconsistent(f"unknown optimizer {short(name)}")
    return optimizer


def _plain(value):
    """A JSON-friendly Python value for a NumPy scalar or array."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _encode_array(values: np.ndarray) -> dict:
    return {"dtype": values.dtype.str, "values": [_plain(v) for v in values.tolist()]}


def _decode_array(encoded, what: str, max_length: int) -> np.ndarray:
    """A small NumPy array of labels or names.

    The dtype string is checked before NumPy sees it: a dtype can describe an
    item of any size.
    """
    if not (isinstance(encoded, dict) and set(encoded) == {"dtype", "values"}):
        raise _Inconsistent(f"{what} must be an object with 'dtype' and 'values'")
    dtype, values = encoded["dtype"], encoded["values"]
    if not isinstance(dtype, str) or not _ARRAY_DTYPE.fullmatch(dtype):
        raise _Inconsistent(f"{what} has an unsupported dtype {short(dtype)}")
    if not isinstance(values, list) or len(values) > max_length:
        raise _Inconsistent(f"{what} must be a list of at most {max_length} values")
    for value in values:
        if value is None or isinstance(value, (list, dict)):
            raise _Inconsistent(f"{what} holds a non-label value {short(value)}")
        if isinstance(value, str):
            _check_text(value, f"a value of {what}")
    dtype = np.dtype(dtype)
    if len(values) * dtype.itemsize > MAX_ARRAY_BYTES:
        raise _Inconsistent(
            f"{what} would take {len(values) * dtype.itemsize // 2**20} MiB as "
            f"{len(values)} values of dtype {dtype.str!r}; at most "
            f"{MAX_ARRAY_BYTES // 2**20} MiB are allowed"
        )
    try:
        array = np.empty(len(values), dtype=dtype)
        array[:] = values
    except (TypeError, ValueError, OverflowError) as exc:
        raise _Inconsistent(f"{what} do not fit dtype {dtype.str!r}: {exc}") from None
    # Assignment truncates long strings and rounds floats into ints.
    if array.tolist() != values:
        raise _Inconsistent(f"{what} do not fit dtype {dtype.str!r}")
    return array


def _qwertyclf_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qwertyclf")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"
