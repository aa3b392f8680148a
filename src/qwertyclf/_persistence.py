"""Model files that cannot run code when they are loaded.

A fitted `QwertyClassifier` is written as one safetensors file: the network's
weights as tensors, and everything else (hyperparameters, classes, feature
names, training history, versions) as JSON in the file's metadata header.
Reading it parses JSON and copies numbers; unlike pickle, nothing in the file
is ever executed.
"""

from __future__ import annotations

import json
import os
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

FORMAT = "qwertyclf-model"
FORMAT_VERSION = 1
_OPTIMIZER_PREFIX = "torch.optim."


def save_model(estimator, path: str | os.PathLike) -> Path:
    """Write a fitted `QwertyClassifier` to `path` (a `.safetensors` file).

    Parameters
    ----------
    estimator : QwertyClassifier
        A fitted classifier.
    path : str or path-like
        Where to write the file.

    Returns
    -------
    path : pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.datasets import make_blobs
    >>> from qwertyclf import QwertyClassifier, load_model
    >>> X, y = make_blobs(60, random_state=0)
    >>> clf = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
    >>> _ = save_model(clf, path)
    >>> bool((load_model(path).predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    check_is_fitted(estimator)
    params = estimator.get_params()
    params["optimizer"] = _optimizer_name(params["optimizer"])
    params["hidden_layer_sizes"] = list(params["hidden_layer_sizes"])
    if isinstance(params["class_weight"], dict):
        params["class_weight"] = [
            [_plain(k), v] for k, v in params["class_weight"].items()
        ]
    # Callbacks are code, and a RandomState is state: neither goes in the file.
    params["callbacks"] = None
    if isinstance(params["random_state"], Integral):
        params["random_state"] = int(params["random_state"])
    elif params["random_state"] is not None:
        params["random_state"] = None
    attributes = {
        "classes": _encode_array(estimator.classes_),
        "n_features_in": int(estimator.n_features_in_),
        "feature_names_in": (
            _encode_array(estimator.feature_names_in_)
            if hasattr(estimator, "feature_names_in_")
            else None
        ),
        "n_iter": int(estimator.n_iter_),
        "best_epoch": int(estimator.best_epoch_),
        "history": [
            {k: v for k, v in row.items() if k != "batches"}
            for row in estimator.history_
        ],
    }
    from . import __version__

    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "qwertyclf_version": __version__,
        "torch_version": torch.__version__,
        "params": json.dumps(params, default=_plain),
        "attributes": json.dumps(attributes, default=_plain),
    }
    state = {
        k: v.detach().to("cpu").contiguous()
        for k, v in estimator.net_.module_.state_dict().items()
    }
    path = Path(path)
    save_file(state, path, metadata=metadata)
    return path


def load_model(path: str | os.PathLike, *, device: str | None = None):
    """Read a classifier written by `save_model` / `QwertyClassifier.save`.

    Parameters
    ----------
    path : str or path-like
        A file written by `save_model`.
    device : str, default=None
        Where to put the network. None uses the saved device when it is
        available here, otherwise the CPU.

    Returns
    -------
    estimator : QwertyClassifier
        A fitted classifier that predicts exactly as the saved one did.

    Raises
    ------
    ValueError
        If the file is not a qwertyclf model, is damaged, or was written by
        a newer version of the format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.datasets import make_blobs
    >>> from qwertyclf import QwertyClassifier
    >>> X, y = make_blobs(60, random_state=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
    >>> _ = QwertyClassifier(max_epochs=3).fit(X, y).save(path)
    >>> load_model(path).classes_
    array([0, 1, 2])
    """
    from ._classifier import QwertyClassifier, _resolve_device

    if device is not None:
        _resolve_device(device)  # a clear error for an unusable device
    path = Path(path)
    try:
        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
            # A safetensors handle is not iterable; it lists its tensors by keys().
            state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(
            f"{path} is not a readable qwertyclf model file ({exc})."
        ) from None
    if metadata.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a qwertyclf model file (no '{FORMAT}' header)."
        )
    try:
        version = int(metadata.get("format_version", ""))
    except ValueError:
        raise ValueError(
            f"{path} has an unreadable model format version "
            f"{metadata.get('format_version')!r}."
        ) from None
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in model format {version} by qwertyclf "
            f"{metadata.get('qwertyclf_version')}; this qwertyclf reads format "
            f"{FORMAT_VERSION} and older. Upgrade qwertyclf to load it."
        )
    try:
        params = json.loads(metadata["params"])
        attributes = json.loads(metadata["attributes"])
        params["optimizer"] = _optimizer_from_name(params["optimizer"])
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        if isinstance(params["class_weight"], list):
            params["class_weight"] = {k: v for k, v in params["class_weight"]}
        if device is not None:
            params["device"] = device
        elif str(params["device"]).startswith("cuda") and not (
            torch.cuda.is_available()
        ):
            params["device"] = "cpu"
        expected = getattr(torch, str(params.get("dtype", "float32")), None)
        wrong = [
            k for k, v in state.items() if v.is_floating_point() and v.dtype != expected
        ]
        if wrong:
            raise ValueError(f"tensors {wrong} do not have dtype {params.get('dtype')}")
        estimator = QwertyClassifier(**params)
        estimator._restore(
            classes=_decode_array(attributes["classes"]),
            n_features_in=attributes["n_features_in"],
            feature_names_in=(
                None
                if attributes["feature_names_in"] is None
                else _decode_array(attributes["feature_names_in"])
            ),
            state_dict=state,
            history=History(attributes["history"]),
            n_iter=attributes["n_iter"],
            best_epoch=attributes["best_epoch"],
        )
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(
            f"{path} is a damaged or inconsistent qwertyclf model file: {exc}"
        ) from None
    return estimator


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
    if not isinstance(optimizer, type):
        raise ValueError(f"unknown optimizer {name!r}")
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


def _decode_array(encoded: dict) -> np.ndarray:
    dtype = np.dtype(encoded["dtype"])
    return np.array(encoded["values"], dtype=dtype)
