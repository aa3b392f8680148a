"""Model files from strangers: every hostile file is refused early and cheaply.

`MODEL_FILE_CASES` lists every case as `(description, call, error, match)`:
calling `call()` writes a damaged or hostile model file and loads it, which
must raise `error` with a message matching the regular expression `match`. The
documentation renders its table of model-file errors from this list.

Each file starts as a real model file (a small fitted classifier, or one with
batch normalisation, or a `QwertyClassifierCV` or `QwertyEnsembleClassifier`
of two such networks) and changes one thing. Files are written to `CASE_DIR`,
a temporary folder that is removed when the process exits.
"""

import atexit
import functools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from qwertyclf import (
    QwertyClassifier,
    QwertyClassifierCV,
    QwertyEnsembleClassifier,
    QwertyNet,
    load_model,
)
from qwertyclf._persistence import (
    CompositeState,
    ModelState,
    write_composite,
    write_model,
)
from qwertyclf._table import TableEncoder

#: Where the cases write their files (one at a time, as `model.safetensors`).
CASE_DIR = Path(tempfile.mkdtemp(prefix="qwertyclf-model-files-"))
atexit.register(shutil.rmtree, CASE_DIR, ignore_errors=True)

_DROP = object()
_MiB = 2**20


@functools.cache
def _base_file(batch_norm=False):
    """A valid model file: 2 features, 8 hidden units, 3 classes, 2 epochs.

    Written as `QwertyClassifier.save` writes a fitted model, without the
    cost of a fit.
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        module = QwertyNet(2, 3, (8,), batch_norm=batch_norm)
    state = ModelState(
        params=QwertyClassifier(batch_norm=batch_norm).get_params(),
        classes=np.array([0, 1, 2]),
        n_features_in=2,
        feature_names_in=None,
        history=[
            {"epoch": 1, "train_loss": 1.2, "train_acc": 0.3, "dur": 0.01},
            {"epoch": 2, "train_loss": 0.9, "train_acc": 0.6, "dur": 0.01},
        ],
        n_iter=2,
        best_epoch=2,
        module=module,
    )
    return write_model(CASE_DIR / f"base-{batch_norm}.safetensors", state)


_CV = "QwertyClassifierCV"
_ENSEMBLE = "QwertyEnsembleClassifier"


def _member_state(seed):
    """A fitted network's state, as a member of the CV or the ensemble."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = QwertyNet(2, 3, (8,))
    return ModelState(
        params=QwertyClassifier(random_state=seed).get_params(),
        classes=np.array([0, 1, 2]),
        n_features_in=2,
        feature_names_in=None,
        history=[{"epoch": 1, "train_loss": 1.2, "valid_loss": 1.1}],
        n_iter=1,
        best_epoch=1,
        module=module,
    )


@functools.cache
def _composite_file(kind):
    """A valid file of two networks: a CV of 2 candidates and 2 folds, or an
    ensemble of 2 members, on two numeric columns robustly scaled."""
    encoder = TableEncoder.from_dict(
        {
            "n_features": 2,
            "categorical": [],
            "text": [False, False],
            "fill": [0.5, 1.0],
            "indicated": [],
            "centre": [0.5, 1.0],
            "scale": [1.0, 2.0],
            "categories": [],
            "missing_slot": [],
            "other_slot": [],
        },
        n_features=2,
        max_text=1000,
        max_values=1000,
    )
    state = CompositeState(
        kind=kind,
        params={},
        classes=np.array([0, 1, 2]),
        n_features_in=2,
        feature_names_in=np.array(["a", "b"], dtype=object),
        encoder=encoder,
        members=[_member_state(0), _member_state(1)],
    )
    if kind == _CV:
        state.params = QwertyClassifierCV(n_candidates=2, cv=2).get_params()
        candidates = [
            {"hidden_layer_sizes": (8,), "lr": 0.003, "weight_decay": 0.01},
            {"hidden_layer_sizes": (16,), "lr": 0.001, "weight_decay": 0.0},
        ]
        state.cv_results = {
            "params": candidates,
            "mean_test_score": np.array([-0.5, -0.7]),
            "std_test_score": np.array([0.1, 0.1]),
            "mean_best_epoch": np.array([1.0, 1.0]),
            "split0_test_score": np.array([-0.4, -0.6]),
            "split1_test_score": np.array([-0.6, -0.8]),
            "rank_test_score": np.array([1, 2], dtype=np.int32),
        }
        state.best_params, state.best_score = candidates[0], -0.5
    else:
        params = QwertyEnsembleClassifier(n_estimators=2).get_params(deep=False)
        del params["estimator"]
        state.params = params
        state.estimator = QwertyClassifier(max_epochs=5).get_params()
    return write_composite(CASE_DIR / f"base-{kind}.safetensors", state)


def _composite_parts(kind):
    raw = _composite_file(kind).read_bytes()
    length = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def _composite_edit(kind, entries=None, *, metadata=None):
    """A file of two networks with some values of its JSON metadata entries
    replaced (`entries` maps an entry, such as "params" or
    "members.0.attributes", to its changes), or some metadata entries."""
    header, data = _composite_parts(kind)
    meta = header["__metadata__"]
    for key, changes in (entries or {}).items():
        meta[key] = json.dumps(_update(json.loads(meta[key]), changes))
    _update(meta, metadata or {})
    return _write(header, data)


def _composite_tensors(kind, change):
    """The file of two networks with its tensors changed by `change(dict)`."""
    from safetensors.torch import load_file

    header, _ = _composite_parts(kind)
    tensors = load_file(_composite_file(kind))
    change(tensors)
    path = CASE_DIR / "model.safetensors"
    save_file(tensors, path, metadata=header["__metadata__"])
    return path


def _drop_member_metadata(kind, i):
    header, data = _composite_parts(kind)
    for key in ("params", "attributes"):
        del header["__metadata__"][f"members.{i}.{key}"]
    return _write(header, data)


def _padded_member_metadata(kind, values):
    """Member metadata of `values` JSON values each (never parsed: too many)."""
    header, data = _composite_parts(kind)
    meta = header["__metadata__"]
    for key in ("members.0.attributes", "members.1.attributes", "attributes"):
        meta[key] = "[" + "0," * (values - 1) + "0]"
    return _write(header, data)


def _parts(batch_norm=False):
    """The base file's header, parsed, and its tensor data."""
    raw = _base_file(batch_norm).read_bytes()
    length = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def _write(header=None, data=b"", *, text=None, length=None, batch_norm=False):
    """Write a file from a header (dict or raw text) and data bytes."""
    if header is None and text is None:
        header, data = _parts(batch_norm)
    body = json.dumps(header).encode() if text is None else text.encode()
    length = len(body) if length is None else length
    path = CASE_DIR / "model.safetensors"
    path.write_bytes(length.to_bytes(8, "little") + body + data)
    return path


def _update(mapping, changes):
    for key, value in changes.items():
        if value is _DROP:
            mapping.pop(key, None)
        else:
            mapping[key] = value
    return mapping


def _edit(*, metadata=None, params=None, attributes=None, batch_norm=False):
    """The base file with some metadata, parameters or attributes replaced."""
    header, data = _parts(batch_norm)
    meta = header["__metadata__"]
    if params is not None:
        meta["params"] = json.dumps(_update(json.loads(meta["params"]), params))
    if attributes is not None:
        meta["attributes"] = json.dumps(
            _update(json.loads(meta["attributes"]), attributes)
        )
    _update(meta, metadata or {})
    return _write(header, data)


def _encoder(**changes):
    """A valid encoding of the base file's two columns (the second one-hot,
    with its one category), with some fields replaced."""
    encoder = {
        "n_features": 2,
        "categorical": [1],
        "text": [False, True],
        "fill": [0.5],
        "indicated": [],
        "centre": None,
        "scale": None,
        "categories": [["a"]],
        "missing_slot": [False],
        "other_slot": [False],
    }
    encoder.update(changes)
    return encoder


def _attributes(batch_norm=False):
    header, _ = _parts(batch_norm)
    return json.loads(header["__metadata__"]["attributes"])


def _tensors(change, batch_norm=False):
    """The base file with its tensors changed by `change(dict)`."""
    header, _ = _parts(batch_norm)
    from safetensors.torch import load_file

    tensors = load_file(_base_file(batch_norm))
    change(tensors)
    path = CASE_DIR / "model.safetensors"
    save_file(tensors, path, metadata=header["__metadata__"])
    return path


def _set_value(name, value):
    def change(tensors):
        tensors[name] = tensors[name].clone()
        tensors[name].view(-1)[0] = value

    return change


def _claimed_hidden_layers(sizes):
    """Metadata claiming `sizes` hidden units, next to the real 8-unit weights."""
    return _edit(params={"hidden_layer_sizes": sizes})


def _honest_header_without_data(width):
    """A header that lists the tensors of a (width, width) network, no data."""
    header, _ = _parts()
    meta = header["__metadata__"]
    params = json.loads(meta["params"])
    params["hidden_layer_sizes"] = [width, width]
    meta["params"] = json.dumps(params)
    shapes = {
        "0.weight": [width, 2],
        "0.bias": [width],
        "2.weight": [width, width],
        "2.bias": [width],
        "4.weight": [3, width],
        "4.bias": [3],
    }
    tensors, offset = {}, 0
    for name, shape in shapes.items():
        size = 4 * math.prod(shape)
        tensors[name] = {
            "dtype": "F32",
            "shape": shape,
            "data_offsets": [offset, offset + size],
        }
        offset += size
    return _write({"__metadata__": meta, **tensors}, b"\0" * 64)


def _header_entry(name, **changes):
    header, data = _parts()
    _update(header[name], changes)
    return _write(header, data)


def _huge_history():
    """A 9 MiB header: the history of a very long (made-up) training run."""
    header, data = _parts()
    text = json.dumps(header)
    row = {"epoch": 1, "train_loss": 0.5, "train_acc": 0.5, "dur": 0.01}
    # As the rows appear inside the attributes string of the header.
    row = json.dumps(json.dumps(row))[1:-1] + ", "
    opening = json.dumps('"history": [')[1:-1]
    padded = text.replace(opening, opening + row * (9 * _MiB // len(row)), 1)
    return _write(text=padded, data=data)


def _deep_history_row(depth):
    """A history row holding lists nested `depth` deep (written as text)."""
    header, data = _parts()
    text = json.dumps(header)
    opening = json.dumps('"history": [{')[1:-1]
    deep = json.dumps('"deep": ' + "[" * depth + "]" * depth + ", ")[1:-1]
    return _write(text=text.replace(opening, opening + deep, 1), data=data)


def _duplicate_header_key():
    header, data = _parts()
    text = json.dumps(header)
    # The same tensor listed twice: the second would silently win.
    first = '"0.bias": ' + json.dumps(header["0.bias"])
    return _write(text=text.replace(first, first + ", " + first, 1), data=data)


def _duplicate_param():
    header, data = _parts()
    params = header["__metadata__"]["params"]
    header["__metadata__"]["params"] = params.replace("{", '{"lr": 1e308, ', 1)
    return _write(header, data)


def _classes(values, dtype="<i8"):
    return _edit(attributes={"classes": {"dtype": dtype, "values": values}})


def _long_feature_name():
    """A 7 MiB feature name with one emoji, so that Python stores it at 4 bytes
    a character: the most memory one value within the limits can take."""
    attributes = _attributes()
    name = "\U0001f600" + "a" * (7 * _MiB)
    attributes["feature_names_in"] = {"dtype": "|O", "values": [name]}
    return _edit(attributes=attributes)


def _non_ascii_header():
    header, data = _parts()
    header["__metadata__"]["torch_version"] = "2.13.0+\U0001f600"
    return _write(text=json.dumps(header, ensure_ascii=False), data=data)


def _history_rows(change):
    attributes = _attributes()
    change(attributes["history"])
    return _edit(attributes={"history": attributes["history"]})


def _overlapping_offsets():
    header, data = _parts()
    last = max(
        (entry for name, entry in header.items() if name != "__metadata__"),
        key=lambda entry: entry["data_offsets"],
    )
    begin, end = last["data_offsets"]
    last["data_offsets"] = [begin - 4, end - 4]
    return _write(header, data)


def _foreign_file():
    path = CASE_DIR / "model.safetensors"
    save_file({"weight": torch.zeros(3, 2)}, path, metadata={"format": "pt"})
    return path


def _raw(content: bytes):
    path = CASE_DIR / "model.safetensors"
    path.write_bytes(content)
    return path


def _truncated(cut):
    raw = _base_file().read_bytes()
    return _raw(raw[:-cut])


@dataclass(frozen=True)
class _Load:
    """Write a hostile file with `build()`, then load it."""

    build: Callable[[], Path]

    def __call__(self):
        return load_model(self.build())


def _case(description, build, match):
    return (description, _Load(build), ValueError, match)


_P = functools.partial
_NOT_READABLE = "not a readable qwertyclf model file"
_DAMAGED = "damaged or inconsistent qwertyclf model file"


#: Every hostile-file case: (description, call, expected exception, message regex).
def _first_candidate(**changes):
    """An edit of the base CV file whose first candidate has `changes`."""
    first = {"hidden_layer_sizes": [8], "lr": 0.003, "weight_decay": 0.01}
    second = {"hidden_layer_sizes": [16], "lr": 0.001, "weight_decay": 0.0}
    edit = {"cv_results": {"params": [{**first, **changes}, second]}}
    return _P(_composite_edit, _CV, edit)


MODEL_FILE_CASES = [
    # --- the file and its header --------------------------------------------------
    _case("an empty file", _P(_raw, b""), "fewer than the 8"),
    _case(
        "a header length pointing past the end of the file",
        _P(_raw, (10**6).to_bytes(8, "little") + b"{}"),
        "header length, 1000000 bytes, points past the end",
    ),
    _case(
        "a header length of 2**64 - 1",
        _P(_raw, b"\xff" * 8 + b"{}"),
        "points past the end",
    ),
    _case(
        "a 9 MiB JSON header (a made-up history of 150,000 epochs)",
        _huge_history,
        "more than the 8 MiB",
    ),
    _case(
        "a header that is not JSON",
        _P(_raw, (8).to_bytes(8, "little") + b"{'a': 1}"),
        "not valid JSON",
    ),
    _case(
        "a header with bytes that are not ASCII",
        _non_ascii_header,
        "header holds bytes that are not ASCII",
    ),
    _case("a truncated body (last 7 bytes cut)", _P(_truncated, 7), "truncated"),
    _case(
        "bytes after the last tensor",
        lambda: _raw(_base_file().read_bytes() + b"\0" * 16),
        "16 bytes follow the last tensor",
    ),
    _case(
        "tensor data ranges that overlap",
        _overlapping_offsets,
        "does not start where the previous",
    ),
    _case(
        "a tensor whose shape does not match its byte range",
        _P(_header_entry, "0.bias", shape=[9]),
        "needs 36 bytes, but its data offsets span 32",
    ),
    _case(
        "an unknown tensor dtype",
        _P(_header_entry, "0.bias", dtype="Q128"),
        "unknown dtype 'Q128'",
    ),
    _case(
        "a header listing 50,000 x 50,000 float32 weights (10 GB) with no data",
        _P(_honest_header_without_data, 50_000),
        r"truncated: its header describes 1000\d{7} bytes",
    ),
    _case(
        "a safetensors file from another program",
        _foreign_file,
        "not a qwertyclf model file",
    ),
    _case(
        "a newer format version",
        _P(_edit, metadata={"format_version": "5"}),
        "format 5 .* Upgrade qwertyclf",
    ),
    _case(
        "an unreadable format version",
        _P(_edit, metadata={"format_version": "1" * 10_000}),
        "unreadable model format version",
    ),
    # --- JSON ---------------------------------------------------------------------
    _case("a key twice in the header", _duplicate_header_key, "'0.bias' twice"),
    _case("a key twice in params", _duplicate_param, "params has the key 'lr' twice"),
    _case(
        "lists nested 10 deep in a history row",
        _P(_deep_history_row, 10),
        "more than 4 levels deep",
    ),
    _case(
        "lists nested 100,000 deep in a history row",
        _P(_deep_history_row, 100_000),
        "nested too deeply",
    ),
    _case(
        "a million classes",
        lambda: _classes(list(range(10**6))),
        "about 1000.* JSON values, more than the 500000",
    ),
    _case(
        "an unknown metadata key",
        _P(_edit, metadata={"script": "import os"}),
        r"unknown metadata key\(s\) \['script'\]",
    ),
    _case(
        "a missing metadata key",
        _P(_edit, metadata={"attributes": _DROP}),
        r"missing metadata key\(s\) \['attributes'\]",
    ),
    _case(
        "an unknown parameter",
        _P(_edit, params={"__reduce__": ["os.system", "ls"]}),
        r"unknown parameter\(s\) \['__reduce__'\]",
    ),
    _case(
        "an unknown attribute",
        _P(_edit, attributes={"loss_curve_": [1.0]}),
        r"unknown attribute\(s\) \['loss_curve_'\]",
    ),
    _case(
        "a missing attribute",
        _P(_edit, attributes={"history": _DROP}),
        r"missing attribute\(s\) \['history'\]",
    ),
    # --- stored hyperparameters ---------------------------------------------------
    _case(
        "hidden_layer_sizes=[0]",
        _P(_claimed_hidden_layers, [0]),
        "hidden_layer_sizes must hold positive ints",
    ),
    _case(
        "hidden_layer_sizes=[50000] next to 8-unit weights",
        _P(_claimed_hidden_layers, [50_000]),
        r"tensor '0.weight' has shape \[8, 2\], but .* need \[50000, 2\]",
    ),
    _case(
        "hidden_layer_sizes=[50000, 50000] next to 8-unit weights",
        _P(_claimed_hidden_layers, [50_000, 50_000]),
        "needs 6 tensors, but the file holds 4",
    ),
    _case(
        "batch_ensemble=2 next to a plain network's weights",
        _P(_edit, params={"batch_ensemble": 2}),
        "batch_ensemble=2 needs 6 tensors, but the file holds 4",
    ),
    _case(
        "batch_ensemble=0",
        _P(_edit, params={"batch_ensemble": 0}),
        "batch_ensemble must be an int >= 1, got 0",
    ),
    _case(
        "numeric_embedding='pbld' next to a plain network's weights",
        _P(_edit, params={"numeric_embedding": "pbld"}),
        "numeric_embedding='pbld' needs 8 tensors, but the file holds 4",
    ),
    _case(
        "numeric_embedding='fourier'",
        _P(_edit, params={"numeric_embedding": "fourier"}),
        "numeric_embedding must be None or one of pbld, plr, got 'fourier'",
    ),
    _case(
        "100,000 hidden layers of one unit",
        _P(_claimed_hidden_layers, [1] * 100_000),
        "hidden_layer_sizes lists 100000 layers; a model file holds at most 2047",
    ),
    _case("lr=-1", _P(_edit, params={"lr": -1}), "lr must be a finite float >= 0"),
    _case("lr=NaN", _P(_edit, params={"lr": math.nan}), "lr must be a finite float"),
    _case(
        "batch_size=0", _P(_edit, params={"batch_size": 0}), "batch_size must be an int"
    ),
    _case(
        "dtype='float16'",
        _P(_edit, params={"dtype": "float16"}),
        "dtype must be 'float32' or 'float64'",
    ),
    _case(
        "activation='os.system'",
        _P(_edit, params={"activation": "os.system"}),
        "Unknown activation 'os.system'",
    ),
    _case(
        "optimizer='torch.optim.__class__'",
        _P(_edit, params={"optimizer": "torch.optim.__class__"}),
        "unknown optimizer",
    ),
    _case(
        "device naming code",
        _P(_edit, params={"device": "exec('import os')"}),
        "Unknown device",
    ),
    _case(
        "callbacks in the file",
        _P(_edit, params={"callbacks": [{"py/reduce": "os.system"}]}),
        "callbacks are code and never stored",
    ),
    _case(
        "random_state='1'",
        _P(_edit, params={"random_state": "1"}),
        "random_state must be null or an int",
    ),
    _case(
        "random_state=2**40",
        _P(_edit, params={"random_state": 2**40}),
        "Seed must be between 0 and 2",
    ),
    _case(
        "shuffle='yes'",
        _P(_edit, params={"shuffle": "yes"}),
        "shuffle must be true or false",
    ),
    _case(
        "class_weight for a class the model does not have",
        _P(_edit, params={"class_weight": [[0, 1.0], [99, 2.0]]}),
        "class_weight does not fit the classes",
    ),
    _case(
        "class_weight=NaN",
        _P(_edit, params={"class_weight": [[0, math.nan]]}),
        "class_weight of 0 is nan",
    ),
    # --- classes and features -----------------------------------------------------
    _case("one class", _P(_classes, [0]), r"1 class\(es\)"),
    _case("classes out of order", _P(_classes, [2, 0, 1]), "not sorted and unique"),
    _case(
        "200,000 classes",
        lambda: _classes(list(range(200_000))),
        "at most 100000 values",
    ),
    _case(
        "450,000 two-letter class labels (near the JSON-value limit)",
        lambda: _classes(["ab"] * 449_999 + ["\U0001f600"], "|O"),
        "at most 100000 values",
    ),
    _case(
        "more classes than output units",
        _P(_classes, [0, 1, 2, 3]),
        r"tensor '2.weight' has shape \[3, 8\], but .* 4 classes need \[4, 8\]",
    ),
    _case(
        "a class label of 10,000 characters",
        lambda: _classes(["a", "b" * 10_000, "c"], "<U10000"),
        "unsupported dtype",
    ),
    _case(
        "a class-label dtype of 4 GB per label",
        lambda: _classes(["a", "b", "c"], "<U1000000000"),
        "unsupported dtype",
    ),
    _case(
        "100,000 one-letter labels stored 1,000 characters wide (400 MB)",
        lambda: _classes(["a"] * 99_999 + ["b"], "<U1000"),
        "classes would take 381 MiB",
    ),
    _case(
        "an object where a class label should be",
        lambda: _classes(["a", {"py/reduce": "os.system"}, "c"], "|O"),
        "non-label value",
    ),
    _case(
        "labels that do not fit their dtype",
        lambda: _classes([0.5, 1.5, 2.5]),
        "do not fit dtype '<i8'",
    ),
    _case(
        "n_features_in=3 next to 2-input weights",
        _P(_edit, attributes={"n_features_in": 3}),
        r"tensor '0.weight' has shape \[8, 2\], but 3 network inputs",
    ),
    # --- the input encoding ---------------------------------------------------
    _case(
        "an encoder that is not an object",
        _P(_edit, attributes={"encoder": [1, 2]}),
        "the encoder must be an object with keys",
    ),
    _case(
        "an encoder of three columns for two features",
        lambda: _edit(attributes={"encoder": _encoder(n_features=3)}),
        "the encoder must describe 2 columns",
    ),
    _case(
        "an encoder whose categorical column is out of range",
        lambda: _edit(attributes={"encoder": _encoder(categorical=[5])}),
        "categorical must be column positions below 2",
    ),
    _case(
        "an encoder with a category that is not a string",
        lambda: _edit(attributes={"encoder": _encoder(categories=[[5]])}),
        "categories must be lists of strings",
    ),
    _case(
        "an encoder with unsorted categories",
        lambda: _edit(attributes={"encoder": _encoder(categories=[["b", "a"]])}),
        "categories must be sorted and unique",
    ),
    _case(
        "an encoder with a category of 7 MiB",
        lambda: _edit(attributes={"encoder": _encoder(categories=[["a" * 2**20 * 7]])}),
        "categories must be lists of strings of at most 1000 characters",
    ),
    _case(
        "an encoder with an infinite fill value",
        lambda: _edit(attributes={"encoder": _encoder(fill=[1e400])}),
        "fill must be finite",
    ),
    _case(
        "an encoder with a zero scale",
        lambda: _edit(attributes={"encoder": _encoder(centre=[0.0], scale=[0.0])}),
        "scale must be positive",
    ),
    _case(
        "an encoder whose inputs do not match the weights",
        lambda: _edit(attributes={"encoder": _encoder(categories=[["a", "b"]])}),
        r"tensor '0.weight' has shape \[8, 2\], but 3 network inputs",
    ),
    _case(
        "three feature names for two features",
        _P(
            _edit,
            attributes={"feature_names_in": {"dtype": "|O", "values": ["a", "b", "c"]}},
        ),
        "feature_names_in must be a list of at most 2 values",
    ),
    _case(
        "a feature name of 7 MiB",
        _long_feature_name,
        "a value of feature_names_in has 7340033 characters, more than 1000",
    ),
    # --- history ------------------------------------------------------------------
    _case(
        "n_iter different from the history's length",
        _P(_edit, attributes={"n_iter": 5}),
        "history must be a list of n_iter=5 epochs",
    ),
    _case(
        "best_epoch after the last epoch",
        _P(_edit, attributes={"best_epoch": 3}),
        "best_epoch must be an int from 1 to n_iter=2",
    ),
    _case(
        "history rows out of order",
        _P(_history_rows, lambda rows: rows.reverse()),
        "history row 1 is not an epoch record numbered 1",
    ),
    # --- tensors ------------------------------------------------------------------
    _case(
        "a tensor with another shape",
        _P(_tensors, lambda t: t.update({"0.weight": torch.zeros(9, 2)})),
        # The header is checked before the hyperparameters' network is built.
        "tensor '0.weight' has shape \\[9, 2\\]",
    ),
    _case(
        "a float64 tensor in a float32 model",
        _P(_tensors, lambda t: t.update({"0.bias": t["0.bias"].double()})),
        "tensor '0.bias' has dtype F64, but the network needs F32",
    ),
    _case(
        "a tensor renamed",
        _P(_tensors, lambda t: t.update({"payload": t.pop("0.bias")})),
        r"missing \['0.bias'\], unexpected \['payload'\]",
    ),
    _case(
        "a tensor missing",
        _P(_tensors, lambda t: t.pop("0.bias")),
        "needs 4 tensors, but the file holds 3",
    ),
    _case(
        "a NaN weight",
        _P(_tensors, _set_value("0.weight", math.nan)),
        "tensor '0.weight' holds NaN or infinite weights",
    ),
    _case(
        "an infinite weight",
        _P(_tensors, _set_value("2.bias", math.inf)),
        "tensor '2.bias' holds NaN or infinite weights",
    ),
    _case(
        "a negative batch-norm variance",
        _P(_tensors, _set_value("1.running_var", -1.0), batch_norm=True),
        "tensor '1.running_var' holds negative variances",
    ),
    # --- the CV and the ensemble: several networks in one file ---------------
    _case(
        "an unknown model kind",
        _P(_composite_edit, _ENSEMBLE, metadata={"kind": "os.system"}),
        "unknown model kind 'os.system'",
    ),
    _case(
        "a model kind in a format-2 file",
        _P(_composite_edit, _CV, metadata={"format_version": "2"}),
        "a file of kind 'QwertyClassifierCV' has format version 3 or later, not 2",
    ),
    _case(
        "a member count that is not a number",
        _P(_composite_edit, _ENSEMBLE, metadata={"n_members": "-1"}),
        "n_members must be a count, got '-1'",
    ),
    _case(
        "a million members",
        _P(_composite_edit, _ENSEMBLE, metadata={"n_members": "1000000"}),
        "it lists 1000000 members; a model file holds 1 to 1000",
    ),
    _case(
        "a member missing",
        _P(_drop_member_metadata, _ENSEMBLE, 1),
        r"missing metadata key\(s\) \['members.1.params', 'members.1.attributes'\]",
    ),
    _case(
        "three members claimed, two stored",
        _P(_composite_edit, _CV, metadata={"n_members": "3"}),
        r"missing metadata key\(s\) \['members.2.params'",
    ),
    _case(
        "one member claimed, two stored",
        _P(_composite_edit, _CV, metadata={"n_members": "1"}),
        r"unknown metadata key\(s\) \['members.1.attributes', 'members.1.params'\]",
    ),
    _case(
        "members of 1.2 million JSON values in all",
        _P(_padded_member_metadata, _ENSEMBLE, 400_000),
        "its header holds about 1200.* JSON values, more than the 500000",
    ),
    _case(
        "a member tensor with another shape",
        _P(
            _composite_tensors,
            _ENSEMBLE,
            lambda t: t.update({"members.1.0.weight": torch.zeros(9, 2)}),
        ),
        r"member 1: tensor '0.weight' has shape \[9, 2\]",
    ),
    _case(
        "a member tensor missing",
        _P(_composite_tensors, _CV, lambda t: t.pop("members.0.0.bias")),
        "member 0: .* needs 4 tensors, but the file holds 3",
    ),
    _case(
        "a tensor of no member",
        _P(
            _composite_tensors,
            _ENSEMBLE,
            lambda t: t.update({"members.7.0.bias": t.pop("members.1.0.bias")}),
        ),
        "tensor 'members.7.0.bias' belongs to none of the 2 members",
    ),
    _case(
        "a NaN weight in a member",
        _P(_composite_tensors, _CV, _set_value("members.1.2.bias", math.nan)),
        "tensor 'members.1.2.bias' holds NaN or infinite weights",
    ),
    _case(
        "a member with lr=-1",
        _P(_composite_edit, _ENSEMBLE, {"members.0.params": {"lr": -1}}),
        "member 0: lr must be a finite float >= 0",
    ),
    _case(
        "a member with callbacks",
        _P(_composite_edit, _CV, {"members.1.params": {"callbacks": ["os.system"]}}),
        "member 1: callbacks are code and never stored",
    ),
    _case(
        "a member of three inputs behind an encoder of two",
        _P(_composite_edit, _CV, {"members.0.attributes": {"n_features_in": 3}}),
        "member 0: it takes 3 inputs, but the encoder gives 2",
    ),
    _case(
        "a member with a class the model does not have",
        _P(
            _composite_edit,
            _ENSEMBLE,
            {"members.1.attributes": {"classes": {"dtype": "<i8", "values": [0, 5]}}},
        ),
        "member 1: its classes are not among the model's classes",
    ),
    _case(
        "a composite without an encoder",
        _P(_composite_edit, _ENSEMBLE, {"attributes": {"encoder": None}}),
        "the encoder must be an object, not null",
    ),
    _case(
        "a composite parameter holding an object",
        _P(
            _composite_edit,
            _ENSEMBLE,
            {"params": {"random_state": {"py/reduce": "os.system"}}},
        ),
        "random_state must be a number, text, null or a list of them",
    ),
    _case(
        "an unknown composite parameter",
        _P(_composite_edit, _CV, {"params": {"__reduce__": "os.system"}}),
        r"unknown parameter\(s\) \['__reduce__'\]",
    ),
    _case(
        "an ensemble with n_estimators=0",
        _P(_composite_edit, _ENSEMBLE, {"params": {"n_estimators": 0}}),
        "n_estimators must be an int >= 1, got 0",
    ),
    _case(
        "an ensemble of n_estimators=5 holding two members",
        _P(_composite_edit, _ENSEMBLE, {"params": {"n_estimators": 5}}),
        "it holds 2 members, but n_estimators=5 needs 5",
    ),
    _case(
        "an ensemble member template with lr=-1",
        _P(_composite_edit, _ENSEMBLE, {"estimator": {"lr": -1}}),
        "estimator: lr must be a finite float >= 0",
    ),
    _case(
        "an ensemble member template with an unknown parameter",
        _P(_composite_edit, _ENSEMBLE, {"estimator": {"__reduce__": "os.system"}}),
        r"estimator: unknown parameter\(s\) \['__reduce__'\]",
    ),
    _case(
        "a CV with n_candidates=-1",
        _P(_composite_edit, _CV, {"params": {"n_candidates": -1}}),
        "n_candidates must be an int >= 1, got -1",
    ),
    _case(
        "a CV with an unknown scoring",
        _P(_composite_edit, _CV, {"params": {"scoring": "os.system"}}),
        "scoring must be null or a scorer name of scikit-learn, got 'os.system'",
    ),
    _case(
        "a CV with hidden layers of 0 units",
        _P(_composite_edit, _CV, {"params": {"hidden_layer_sizes": [[8], [0]]}}),
        "hidden_layer_sizes must hold positive ints",
    ),
    _case(
        "a CV file of format 3 with refit=True holding two members",
        _P(
            _composite_edit,
            _CV,
            {"params": {"refit": True}, "attributes": {"weights": _DROP}},
            metadata={"format_version": "3"},
        ),
        "it holds 2 members, but refit=True needs 1",
    ),
    _case(
        "a CV file of format 3 with member weights",
        _P(_composite_edit, _CV, metadata={"format_version": "3"}),
        r"unknown attribute\(s\) \['weights'\]",
    ),
    _case(
        "a CV without member weights",
        _P(_composite_edit, _CV, {"attributes": {"weights": _DROP}}),
        r"missing attribute\(s\) \['weights'\]",
    ),
    _case(
        "a CV whose member weights do not sum to 1",
        _P(_composite_edit, _CV, {"attributes": {"weights": [0.5, 0.6]}}),
        "weights must sum to 1, not 1.1",
    ),
    _case(
        "a CV with a negative member weight",
        _P(_composite_edit, _CV, {"attributes": {"weights": [1.5, -0.5]}}),
        "weights must list 2 positive numbers, one per member",
    ),
    _case(
        "a CV with one weight for two members",
        _P(_composite_edit, _CV, {"attributes": {"weights": [1.0]}}),
        "weights must list 2 positive numbers, one per member",
    ),
    _case(
        "a CV with an unknown numeric embedding",
        _P(_composite_edit, _CV, {"params": {"numeric_embedding": "os.system"}}),
        "numeric_embedding must be None or one of pbld, plr, got 'os.system'",
    ),
    _case(
        "a CV with an unknown selection",
        _P(_composite_edit, _CV, {"params": {"selection": "os.system"}}),
        r"selection must be one of \['auto', 'greedy', 'best'\], got 'os.system'",
    ),
    _case(
        "a CV of three splits holding two members",
        _P(_composite_edit, _CV, {"cv_results": {"split2_test_score": [0, 0]}}),
        "it holds 2 members, but cv_results' 3 split\\(s\\) needs 3",
    ),
    _case(
        "a CV whose best_params are not the best candidate",
        _P(
            _composite_edit,
            _CV,
            {
                "attributes": {
                    "best_params": {
                        "hidden_layer_sizes": [16],
                        "lr": 0.001,
                        "weight_decay": 0.0,
                    }
                }
            },
        ),
        "best_params and best_score are not those of the candidate cv_results ranks",
    ),
    _case(
        "a CV whose ranks are not a ranking",
        _P(_composite_edit, _CV, {"cv_results": {"rank_test_score": [1, 3]}}),
        "rank_test_score must rank the 2 candidates from 1, tied ones sharing",
    ),
    _case(
        "a CV whose scores do not match its candidates",
        _P(_composite_edit, _CV, {"cv_results": {"mean_test_score": [-0.5]}}),
        "cv_results' mean_test_score must list 2 numbers",
    ),
    _case(
        "a CV whose split scores skip a split",
        _P(
            _composite_edit,
            _CV,
            {"cv_results": {"split1_test_score": _DROP, "split7_test_score": [0, 0]}},
        ),
        r"unknown cv_results key\(s\) \['split7_test_score'\]",
    ),
    _case(
        "a CV candidate with a negative learning rate",
        _first_candidate(lr=-1),
        "candidate 0's lr must be a finite number >= 0",
    ),
    _case(
        "a CV candidate with an unknown numeric embedding",
        _first_candidate(numeric_embedding="os.system"),
        "candidate 0's numeric_embedding must be null or one of",
    ),
    _case(
        "a CV candidate whose numeric embedding is a list",
        _first_candidate(numeric_embedding=["pbld"]),
        "candidate 0's numeric_embedding must be null or one of",
    ),
    _case(
        "a CV candidate with an unknown key",
        _first_candidate(activation="relu"),
        "candidate 0 must be an object with keys",
    ),
]


@pytest.mark.parametrize(
    ("description", "call", "error", "match"),
    MODEL_FILE_CASES,
    ids=[case[0] for case in MODEL_FILE_CASES],
)
def test_hostile_file(description, call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    # The message says which file, once.
    assert str(info.value).count("model.safetensors") == 1


def test_cases_are_well_formed():
    descriptions = [case[0] for case in MODEL_FILE_CASES]
    assert len(set(descriptions)) == len(descriptions)
    for description, call, error, match in MODEL_FILE_CASES:
        assert isinstance(description, str) and description
        assert isinstance(call, _Load)
        assert error is ValueError
        assert isinstance(match, str) and match


def test_the_base_files_load():
    for batch_norm in (False, True):
        clf = load_model(_base_file(batch_norm))
        assert clf.batch_norm is batch_norm
        assert clf.predict(np.zeros((2, 2))).shape == (2,)
    for kind, cls in ((_CV, QwertyClassifierCV), (_ENSEMBLE, QwertyEnsembleClassifier)):
        model = load_model(_composite_file(kind))
        assert type(model) is cls
        assert len(model.estimators_) == 2
        X = pd.DataFrame({"a": [0.0, np.nan], "b": [1.0, 3.0]})
        assert model.predict_proba(X).shape == (2, 3)


def test_tied_candidates_load():
    # Tied candidates share the best rank, as in scikit-learn's searches.
    path = _composite_edit(
        _CV,
        {
            "cv_results": {
                "rank_test_score": [1, 1],
                "mean_test_score": [-0.5, -0.5],
            }
        },
    )
    cv = load_model(path)
    assert cv.cv_results_["rank_test_score"].tolist() == [1, 1]
    assert cv.best_params_["hidden_layer_sizes"] == (8,)


def test_claimed_50k_by_50k_network_is_refused_at_once():
    for build in (
        _P(_claimed_hidden_layers, [50_000, 50_000]),
        _P(_honest_header_without_data, 50_000),
    ):
        path = build()
        start = time.perf_counter()
        with pytest.raises(ValueError):
            load_model(path)
        # Milliseconds on an idle machine; generous for a busy one.
        assert time.perf_counter() - start < 0.5


_MEASURE = textwrap.dedent(
    """
    import json, sys, time

    def peak_kib():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

    def reset_peak():
        # Linux: writing 5 resets the peak to the current resident size.
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
        except OSError:
            pass  # the peak then only grows: the check is stricter

    import qwertyclf
    from qwertyclf import load_model

    imports = peak_kib()
    out = {"imports": imports, "cases": []}
    for path in sys.argv[2:]:
        reset_peak()
        start = time.perf_counter()
        try:
            load_model(path)
        except ValueError:
            refused = True
        else:
            refused = False
        out["cases"].append(
            [path, refused, peak_kib(), time.perf_counter() - start]
        )
    # A good file loads without building an optimizer (no torch._dynamo).
    clf = load_model(sys.argv[1])
    clf.predict([[0.0, 0.0]])
    out["dynamo"] = "torch._dynamo" in sys.modules
    print(json.dumps(out))
    """
)


@pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads the peak from /proc"
)
def test_refused_loads_use_little_memory(tmp_path):
    paths = []
    for number, (_, call, _, _) in enumerate(MODEL_FILE_CASES):
        path = tmp_path / f"case-{number}.safetensors"
        shutil.copyfile(call.build(), path)
        paths.append(str(path))
    good = tmp_path / "good.safetensors"
    shutil.copyfile(_base_file(), good)
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(good), *paths],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    out = json.loads(result.stdout)
    assert not out["dynamo"]
    for (description, *_), (_, refused, peak, _) in zip(
        MODEL_FILE_CASES, out["cases"], strict=True
    ):
        assert refused, description
        assert (peak - out["imports"]) * 1024 < 100 * _MiB, description
