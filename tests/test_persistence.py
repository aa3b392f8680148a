"""Tests for safe model files (`save` / `load_model`) and pickle / joblib."""

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

import qwertyclf
import qwertyclf._persistence
from qwertyclf import (
    QwertyClassifier,
    QwertyClassifierCV,
    QwertyEnsembleClassifier,
    load_model,
    save_model,
)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

FAST = {"max_epochs": 3, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(n_samples=90, centers=3, n_features=2, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return QwertyClassifier(validation_fraction=0.2, **FAST).fit(X, y)


@pytest.fixture
def model_file(fitted, tmp_path):
    return fitted.save(tmp_path / "model.safetensors")


def _read(path):
    with safe_open(path, framework="pt") as handle:
        metadata = handle.metadata()
    return metadata, load_file(path)


def _rewrite(path, target, *, metadata=None, tensors=None):
    """Copy the model file at `path` to `target`, replacing parts of it."""
    old_metadata, old_tensors = _read(path)
    save_file(
        old_tensors if tensors is None else tensors,
        target,
        metadata=old_metadata if metadata is None else metadata,
    )
    return target


def _assert_same_model(original, loaded, X):
    assert type(loaded) is QwertyClassifier
    np.testing.assert_array_equal(loaded.classes_, original.classes_)
    assert loaded.classes_.dtype == original.classes_.dtype
    assert loaded.n_features_in_ == original.n_features_in_
    # Bitwise, not approximately.
    assert np.array_equal(loaded.predict_proba(X), original.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))


@pytest.mark.parametrize(
    "labels",
    [np.array([0, 1, 2]), np.array(["cat", "dog", "emu"]), np.array([3, 5, 7])],
    ids=["int", "str", "3-5-7"],
)
def test_round_trip_is_bitwise(data, tmp_path, labels):
    X, y = data
    y = labels[y]
    clf = QwertyClassifier(**FAST).fit(X, y)
    path = clf.save(tmp_path / "clf.safetensors")
    assert path == tmp_path / "clf.safetensors"
    assert path.is_file()

    for loaded in (QwertyClassifier.load(path), load_model(path)):
        _assert_same_model(clf, loaded, X)
        assert set(loaded.predict(X)) <= set(labels)
    assert qwertyclf.load_model is load_model


def test_save_model_function_and_str_path(fitted, data, tmp_path):
    X, _ = data
    path = save_model(fitted, str(tmp_path / "m.safetensors"))
    assert isinstance(path, Path)
    _assert_same_model(fitted, qwertyclf.load_model(str(path)), X)


def test_metadata_header(model_file):
    metadata, tensors = _read(model_file)
    assert metadata["format"] == "qwertyclf-model"
    assert metadata["format_version"] == "2"
    assert metadata["qwertyclf_version"] == qwertyclf.__version__
    assert metadata["torch_version"] == torch.__version__
    params = json.loads(metadata["params"])
    assert params["max_epochs"] == 3
    assert params["random_state"] == 0
    # Only weights are stored as tensors, all on the CPU.
    assert tensors
    assert all(t.device.type == "cpu" for t in tensors.values())


def test_pandas_feature_names_kept(data, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=["width", "height"])
    clf = QwertyClassifier(**FAST).fit(frame, y)
    loaded = load_model(clf.save(tmp_path / "clf.safetensors"))
    np.testing.assert_array_equal(loaded.feature_names_in_, ["width", "height"])
    assert np.array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))
    # The names are checked as on the original model.
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"width": "w"}))


def test_no_feature_names_without_dataframe(fitted, model_file):
    assert not hasattr(load_model(model_file), "feature_names_in_")


@pytest.mark.parametrize(
    ("labels", "class_weight"),
    [
        (np.array([0, 1, 2]), {0: 1.0, 1: 3.0, 2: 0.5}),
        (np.array(["a", "b", "c"]), {"a": 2.0, "b": 1.0, "c": 1.0}),
        (np.array([0, 1, 2]), "balanced"),
    ],
    ids=["int-keys", "str-keys", "balanced"],
)
def test_class_weight_kept(data, tmp_path, labels, class_weight):
    X, y = data
    clf = QwertyClassifier(class_weight=class_weight, **FAST).fit(X, labels[y])
    loaded = load_model(clf.save(tmp_path / "clf.safetensors"))
    assert loaded.class_weight == class_weight
    _assert_same_model(clf, loaded, X)
    # Refitting the loaded model is the same fit as the original.
    refit = clone(loaded).fit(X, labels[y])
    assert np.array_equal(refit.predict_proba(X), clf.predict_proba(X))


def test_torch_optimizer_class(data, tmp_path):
    X, y = data
    clf = QwertyClassifier(optimizer=torch.optim.Adagrad, **FAST).fit(X, y)
    loaded = load_model(clf.save(tmp_path / "clf.safetensors"))
    assert loaded.optimizer is torch.optim.Adagrad
    _assert_same_model(clf, loaded, X)


def test_params_survive(data, tmp_path):
    X, y = data
    clf = QwertyClassifier(
        hidden_layer_sizes=(5, 4),
        activation="tanh",
        dropout=0.1,
        optimizer="sgd",
        lr=0.05,
        weight_decay=1e-3,
        batch_size=8,
        shuffle=False,
        dtype="float64",
        **FAST,
    ).fit(X, y)
    loaded = load_model(clf.save(tmp_path / "clf.safetensors"))
    assert loaded.get_params() == clf.get_params()
    assert next(loaded.net_.module_.parameters()).dtype == torch.float64
    _assert_same_model(clf, loaded, X)


def test_batch_norm_running_stats_saved(data, tmp_path):
    X, y = data
    # Features far from zero, so the running mean is far from its initial 0.
    X = X * 3.0 + 10.0
    clf = QwertyClassifier(batch_norm=True, **FAST).fit(X, y)
    buffers = dict(clf.net_.module_.named_buffers())
    running_means = [v for k, v in buffers.items() if k.endswith("running_mean")]
    assert running_means
    assert all(v.abs().max() > 0.1 for v in running_means)

    loaded = load_model(clf.save(tmp_path / "clf.safetensors"))
    for name, value in loaded.net_.module_.named_buffers():
        assert torch.equal(value, buffers[name]), name
    # Prediction uses the running statistics (eval mode), so a model that
    # forgot them would predict differently.
    _assert_same_model(clf, loaded, X)
    assert not loaded.net_.module_.training


def test_history_and_fit_attributes_kept(data, tmp_path):
    X, y = data
    clf = QwertyClassifier(
        early_stopping=True, n_iter_no_change=2, max_epochs=30, random_state=0
    ).fit(X, y)
    loaded = load_model(clf.save(tmp_path / "clf.safetensors"))
    assert loaded.n_iter_ == clf.n_iter_
    assert loaded.best_epoch_ == clf.best_epoch_
    assert len(loaded.history_) == len(clf.history_)
    for row_loaded, row in zip(loaded.history_, clf.history_, strict=True):
        assert row_loaded == {k: v for k, v in row.items() if k != "batches"}
    assert loaded.history_[:, "valid_loss"] == clf.history_[:, "valid_loss"]
    assert loaded.net_.history is loaded.history_
    _assert_same_model(clf, loaded, X)


def test_loaded_model_can_be_refitted(fitted, model_file, data):
    X, y = data
    loaded = load_model(model_file)
    loaded.fit(X, y)
    assert loaded.n_iter_ == 3
    # Same hyperparameters and seed, so the same fit as the original.
    assert np.array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_load_builds_only_the_network(fitted, model_file, data):
    X, _ = data
    loaded = load_model(model_file)
    # Prediction needs the module alone: no optimizer, criterion or callbacks.
    for name in ("optimizer_", "criterion_", "callbacks_"):
        assert name not in vars(loaded.net_), name
    assert not loaded.net_.module_.training
    assert loaded.history_ is loaded.net_.history
    # Registered as skorch registers a module it builds: moved between
    # devices with the net, and mapped to the CPU when unpickled without CUDA.
    assert "module_" in loaded.net_.cuda_dependent_attributes_
    _assert_same_model(fitted, loaded, X)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_loaded_model_continues_training(fitted, model_file, data, method):
    X, y = data
    loaded = load_model(model_file)
    # partial_fit holds out no validation rows.
    loaded.set_params(warm_start=True, validation_fraction=None)
    before = loaded.net_.module_.state_dict()["0.weight"].clone()
    getattr(loaded, method)(X, y)
    epochs = fitted.n_iter_ + (loaded.max_epochs if method == "fit" else 1)
    # The history goes on from the stored one, and the weights moved on from
    # the stored weights (not from a fresh initialisation).
    assert loaded.n_iter_ == len(loaded.history_) == epochs
    assert loaded.history_[:, "epoch"] == list(range(1, epochs + 1))
    assert loaded.history_[0] == {
        k: v for k, v in fitted.history_[0].items() if k != "batches"
    }
    after = loaded.net_.module_.state_dict()["0.weight"]
    assert 0 < (after - before).abs().max() < 1.0


def test_pickled_loaded_model(fitted, model_file, data):
    X, y = data
    loaded = pickle.loads(pickle.dumps(load_model(model_file)))
    _assert_same_model(fitted, loaded, X)
    loaded.set_params(warm_start=True).fit(X, y)
    assert loaded.n_iter_ == 2 * fitted.n_iter_


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["a", "b", "c"], dtype=object),
        np.array([-1, 0, 1], dtype=np.int8),
        np.array([1.0, 2.0, 4.0]),
        np.array(["größe", "日本", "😀"]),
    ],
    ids=["object", "int8", "float", "unicode"],
)
def test_label_dtypes_kept(data, tmp_path, labels):
    X, y = data
    clf = QwertyClassifier(max_epochs=1, random_state=0).fit(X, labels[y])
    loaded = load_model(clf.save(tmp_path / "clf.safetensors"))
    _assert_same_model(clf, loaded, X)


def test_unicode_feature_names_and_extra_class_weight(data, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=["größe", "日本語 😀"])
    # scikit-learn accepts weights for classes absent from y.
    weights = {0: 1.0, 1: 2.0, 2: 1.0, 7: 3.0}
    clf = QwertyClassifier(class_weight=weights, **FAST).fit(frame, y)
    loaded = load_model(clf.save(tmp_path / "clf.safetensors"))
    np.testing.assert_array_equal(loaded.feature_names_in_, frame.columns)
    assert loaded.class_weight == weights
    _assert_same_model(clf, loaded, frame)


def test_save_model_needs_a_qwerty_classifier(tmp_path):
    with pytest.raises(TypeError, match="QwertyClassifier"):
        save_model(object(), tmp_path / "m.safetensors")


def test_persistence_sits_below_the_estimator():
    # The file format knows the network and the trainer, not the estimator.
    import ast

    source = Path(qwertyclf._persistence.__file__).read_text(encoding="utf-8")
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.level
    }
    assert imported <= {
        "_module",
        "_atomic",
        "_table",
        "training",
        # The container and dtype table below the format, and the declared
        # hyperparameters (the standard library only).
        "_safetensors",
        "_dtypes",
        "_params",
    }


def test_save_refuses_what_load_would_refuse(data, tmp_path):
    X, y = data
    clf = QwertyClassifier(**FAST).fit(X, y)
    # A callback may record anything in the history.
    clf.history_[-1]["note"] = "x" * 5000
    path = tmp_path / "clf.safetensors"
    with pytest.raises(ValueError, match=r"Cannot save this model: .*5000 char"):
        clf.save(path)
    assert not path.exists()


def test_save_unfitted_raises(tmp_path):
    path = tmp_path / "unfitted.safetensors"
    with pytest.raises(NotFittedError):
        QwertyClassifier().save(path)
    with pytest.raises(NotFittedError):
        save_model(QwertyClassifier(), path)
    assert not path.exists()


@pytest.mark.parametrize(
    "hyperparameters",
    [
        {"batch_size": np.int64(8)},
        {"hidden_layer_sizes": (np.int64(4),)},
        {"lr": np.float32(0.01)},
        {"max_epochs": np.int64(3)},
    ],
    ids=["batch_size", "hidden_layer_sizes", "lr", "max_epochs"],
)
def test_numpy_scalar_hyperparameters_can_be_saved(data, tmp_path, hyperparameters):
    # GridSearchCV grids are often built with np.arange / np.linspace, so the
    # best estimator's hyperparameters are NumPy scalars.
    X, y = data
    params = {**FAST, **hyperparameters}
    clf = QwertyClassifier(**params).fit(X, y)
    loaded = load_model(clf.save(tmp_path / "clf.safetensors"))
    _assert_same_model(clf, loaded, X)
    for name, value in hyperparameters.items():
        assert loaded.get_params()[name] == value


def test_numpy_integer_random_state_kept(data, tmp_path):
    X, y = data
    clf = QwertyClassifier(max_epochs=3, random_state=np.int64(7)).fit(X, y)
    loaded = load_model(clf.save(tmp_path / "clf.safetensors"))
    assert loaded.random_state == 7


# --- damaged, foreign and tampered files -------------------------------------


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("keep", [0, 4, 8, 100, -1], ids=lambda k: f"keep{k}")
def test_truncated_file(model_file, tmp_path, keep):
    raw = model_file.read_bytes()
    keep = len(raw) - 7 if keep == -1 else keep
    target = tmp_path / "truncated.safetensors"
    target.write_bytes(raw[:keep])
    with pytest.raises(ValueError, match="not a readable qwertyclf model file"):
        load_model(target)


def test_random_bytes(tmp_path):
    target = tmp_path / "random.safetensors"
    target.write_bytes(np.random.RandomState(0).bytes(4096))
    with pytest.raises(ValueError, match="not a readable qwertyclf model file"):
        load_model(target)


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(ValueError, match="not a readable"):
        load_model(tmp_path)


def test_foreign_safetensors_file(tmp_path):
    target = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(3, 2), "bias": torch.zeros(3)}, target)
    with pytest.raises(ValueError, match="not a qwertyclf model file"):
        load_model(target)


def test_foreign_safetensors_file_with_other_metadata(tmp_path):
    target = tmp_path / "foreign.safetensors"
    save_file(
        {"weight": torch.zeros(3, 2)},
        target,
        metadata={"format": "pt", "format_version": "1"},
    )
    with pytest.raises(ValueError, match="not a qwertyclf model file"):
        load_model(target)


def test_newer_format_version(model_file, tmp_path):
    metadata, _ = _read(model_file)
    metadata["format_version"] = "999"
    target = _rewrite(model_file, tmp_path / "future.safetensors", metadata=metadata)
    with pytest.raises(ValueError, match=r"(?i)newer|upgrade") as info:
        load_model(target)
    assert "999" in str(info.value)


@pytest.mark.parametrize("version", ["abc", "1.5", "", "-"])
def test_unparsable_format_version(model_file, tmp_path, version):
    metadata, _ = _read(model_file)
    metadata["format_version"] = version
    target = _rewrite(model_file, tmp_path / "bad.safetensors", metadata=metadata)
    # The message must say what is wrong with the file, not leak int()'s.
    with pytest.raises(ValueError, match=r"(?i)format") as info:
        load_model(target)
    assert str(target) in str(info.value)


def test_tensor_with_altered_shape(model_file, tmp_path):
    _, tensors = _read(model_file)
    name = next(k for k in tensors if k.endswith("weight"))
    rows, cols = tensors[name].shape
    tensors[name] = torch.zeros(rows + 1, cols)
    target = _rewrite(model_file, tmp_path / "shape.safetensors", tensors=tensors)
    with pytest.raises(ValueError, match="damaged or inconsistent") as info:
        load_model(target)
    assert name in str(info.value)


def test_tensor_missing_or_extra(model_file, tmp_path):
    _, tensors = _read(model_file)
    missing = dict(tensors)
    missing.pop(next(iter(missing)))
    target = _rewrite(model_file, tmp_path / "missing.safetensors", tensors=missing)
    with pytest.raises(ValueError, match="damaged or inconsistent"):
        load_model(target)

    extra = {**tensors, "payload": torch.zeros(4)}
    target = _rewrite(model_file, tmp_path / "extra.safetensors", tensors=extra)
    with pytest.raises(ValueError, match="damaged or inconsistent"):
        load_model(target)


def test_classes_inconsistent_with_weights(model_file, tmp_path):
    metadata, _ = _read(model_file)
    attributes = json.loads(metadata["attributes"])
    attributes["classes"]["values"].append(99)
    metadata["attributes"] = json.dumps(attributes)
    target = _rewrite(model_file, tmp_path / "classes.safetensors", metadata=metadata)
    with pytest.raises(ValueError, match="damaged or inconsistent"):
        load_model(target)


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: m.pop("params"),
        lambda m: m.pop("attributes"),
        lambda m: m.update(params="{not json"),
        lambda m: m.update(params="[]"),
        lambda m: m.update(attributes='{"classes": 3}'),
    ],
    ids=["no-params", "no-attributes", "bad-json", "params-list", "bad-classes"],
)
def test_damaged_metadata(model_file, tmp_path, damage):
    metadata, _ = _read(model_file)
    damage(metadata)
    target = _rewrite(model_file, tmp_path / "damaged.safetensors", metadata=metadata)
    with pytest.raises(ValueError, match="damaged or inconsistent"):
        load_model(target)


def _touch_payload(sentinel):
    """An object that creates `sentinel` when it is unpickled."""

    class Bomb:
        def __reduce__(self):
            return (os.mkdir, (str(sentinel),))

    return pickle.dumps(Bomb(), protocol=2)


def test_pickle_bomb_renamed_is_not_unpickled(tmp_path):
    sentinel = tmp_path / "pwned"
    bomb = tmp_path / "model.safetensors"
    bomb.write_bytes(_touch_payload(sentinel))

    # The payload is armed: unpickling a copy of it does run code.
    control = tmp_path / "control"
    pickle.loads(_touch_payload(control))
    assert control.exists()

    with pytest.raises(ValueError, match="not a readable qwertyclf model file"):
        load_model(bomb)
    with pytest.raises(ValueError):
        QwertyClassifier.load(bomb)
    assert not sentinel.exists()


def test_torch_save_file_is_not_unpickled(fitted, tmp_path):
    # A model saved the unsafe way (torch.save pickles) under our file name.
    sentinel = tmp_path / "pwned"
    target = tmp_path / "model.safetensors"
    torch.save({"model": fitted, "bomb": _Bomb(sentinel)}, target)
    with pytest.raises(ValueError, match="not a readable qwertyclf model file"):
        load_model(target)
    assert not sentinel.exists()


class _Bomb:
    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (os.mkdir, (self.sentinel,))


def _tampered_metadata(metadata, sentinel):
    """Metadata variants that would run code in a loader that evaluates them."""
    command = f"mkdir {sentinel}"
    payload = _Bomb(sentinel)
    pickled = pickle.dumps(payload, protocol=0).decode("latin-1")
    params = json.loads(metadata["params"])
    attributes = json.loads(metadata["attributes"])
    variants = {
        "optimizer-os.system": {**params, "optimizer": "os.system"},
        "optimizer-eval": {
            **params,
            "optimizer": f"__import__('os').system('{command}')",
        },
        "optimizer-torch.optim-dunder": {
            **params,
            "optimizer": "torch.optim.__class__",
        },
        "activation-eval": {
            **params,
            "activation": f"__import__('os').system('{command}')",
        },
        "dtype-os": {**params, "dtype": "os.system"},
        "device-eval": {
            **params,
            "device": f"exec('import os; os.system({command!r})')",
        },
        "reduce-key": {**params, "__reduce__": ["os.system", [command]]},
        "jsonpickle": {
            **params,
            "callbacks": [{"py/reduce": [{"py/function": "os.system"}, [command]]}],
        },
        "yaml-tag": {
            **params,
            "activation": f"!!python/object/apply:os.system ['{command}']",
        },
        "pickled-string": {**params, "activation": pickled},
        "random_state-pickle": {**params, "random_state": pickled},
        "class_weight-reduce": {
            **params,
            "class_weight": [["__reduce__", "os.system"], [0, command]],
        },
    }
    out = {
        name: {**metadata, "params": json.dumps(value)}
        for name, value in variants.items()
    }
    out["whole-params-pickled"] = {**metadata, "params": pickled}
    out["attributes-object-classes"] = {
        **metadata,
        "attributes": json.dumps(
            {
                **attributes,
                "classes": {
                    "dtype": "|O",
                    "values": [{"py/reduce": "os.system"}, pickled, command],
                },
            }
        ),
    }
    out["attributes-pickled"] = {**metadata, "attributes": pickled}
    out["history-reduce"] = {
        **metadata,
        "attributes": json.dumps(
            {**attributes, "history": [{"__reduce__": ["os.system", [command]]}]}
        ),
    }
    return out


def test_tampered_metadata_runs_no_code(model_file, tmp_path, data):
    X, _ = data
    sentinel = tmp_path / "pwned"
    metadata, _ = _read(model_file)
    outcomes = {}
    for name, tampered in _tampered_metadata(metadata, sentinel).items():
        target = _rewrite(
            model_file, tmp_path / f"{name}.safetensors", metadata=tampered
        )
        try:
            loaded = load_model(target)
        except ValueError as exc:
            outcomes[name] = "error"
            assert str(target) in str(exc)
        else:
            # Loading "safely" is fine too, as long as nothing ran and the
            # values stayed inert data.
            outcomes[name] = "loaded"
            loaded.predict_proba(X)
        assert not sentinel.exists(), name
    # Hyperparameters that would name code are rejected, not looked up.
    for name in (
        "optimizer-os.system",
        "optimizer-eval",
        "optimizer-torch.optim-dunder",
        "activation-eval",
        "dtype-os",
        "reduce-key",
        "jsonpickle",
        "whole-params-pickled",
        "attributes-pickled",
    ):
        assert outcomes[name] == "error", name


def test_loading_never_unpickles(model_file, data, monkeypatch):
    X, _ = data
    expected = load_model(model_file).predict_proba(X)

    def forbidden(*args, **kwargs):
        raise AssertionError("load_model must not unpickle anything")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(joblib, "load", forbidden)
    loaded = load_model(model_file)
    assert np.array_equal(loaded.predict_proba(X), expected)


def test_file_is_plain_safetensors(model_file):
    # An 8-byte little-endian header length, then a JSON header: no pickle
    # opcodes (b"\x80" protocol marker) at the start.
    raw = model_file.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])
    assert header["__metadata__"]["format"] == "qwertyclf-model"
    assert raw[0:1] != b"\x80"


# --- pickle and joblib ---------------------------------------------------------


def test_pickle_round_trip(fitted, data):
    X, y = data
    loaded = pickle.loads(pickle.dumps(fitted))
    _assert_same_model(fitted, loaded, X)
    assert loaded.n_iter_ == fitted.n_iter_
    assert loaded.history_[:, "train_loss"] == fitted.history_[:, "train_loss"]
    assert loaded.device_ == torch.device("cpu")
    # Optimizer state travels too: the copy keeps training like the original.
    a = clone(fitted).set_params(warm_start=True).fit(X, y)
    b = pickle.loads(pickle.dumps(a))
    a.fit(X, y)
    b.fit(X, y)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("compress", [0, 3])
def test_joblib_round_trip(fitted, data, tmp_path, compress):
    X, _ = data
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path, compress=compress)
    _assert_same_model(fitted, joblib.load(path), X)


def test_pickle_unfitted(data):
    X, y = data
    clf = pickle.loads(pickle.dumps(QwertyClassifier(**FAST)))
    assert not hasattr(clf, "net_")
    clf.fit(X, y)


# --- CUDA ------------------------------------------------------------------------


def _run_cpu_only(code, tmp_path):
    """Run `code` in a fresh Python that sees no CUDA device."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


@pytest.mark.cuda
@cuda
def test_cuda_save_then_load_on_cpu(data, tmp_path):
    X, y = data
    clf = QwertyClassifier(device="cuda", **FAST).fit(X, y)
    assert clf.device_.type == "cuda"
    path = clf.save(tmp_path / "gpu.safetensors")

    on_cpu = load_model(path, device="cpu")
    assert on_cpu.device_ == torch.device("cpu")
    assert next(on_cpu.net_.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(
        on_cpu.predict_proba(X), clf.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    # Without a device argument it comes back on the GPU, bitwise the same.
    on_gpu = QwertyClassifier.load(path)
    assert on_gpu.device_.type == "cuda"
    assert np.array_equal(on_gpu.predict_proba(X), clf.predict_proba(X))

    # On a machine without CUDA, device=None falls back to the CPU.
    np.save(tmp_path / "X.npy", X)
    _run_cpu_only(
        """
        import numpy as np, torch
        from qwertyclf import load_model
        assert not torch.cuda.is_available()
        clf = load_model("gpu.safetensors")
        assert clf.device_.type == "cpu"
        np.save("proba.npy", clf.predict_proba(np.load("X.npy")))
        """,
        tmp_path,
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "proba.npy"), clf.predict_proba(X), rtol=1e-5, atol=1e-6
    )


@pytest.mark.cuda
@cuda
def test_cuda_loaded_model_pickled_then_unpickled_on_cpu(data, tmp_path):
    X, y = data
    clf = QwertyClassifier(device="cuda", **FAST).fit(X, y)
    loaded = load_model(clf.save(tmp_path / "gpu.safetensors"))
    assert loaded.device_.type == "cuda"
    joblib.dump(loaded, tmp_path / "loaded.joblib")
    np.save(tmp_path / "X.npy", X)
    _run_cpu_only(
        """
        import warnings
        import joblib, numpy as np, torch
        assert not torch.cuda.is_available()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skorch's DeviceWarning
            clf = joblib.load("loaded.joblib")
        assert clf.device_.type == "cpu"
        np.save("proba.npy", clf.predict_proba(np.load("X.npy")))
        """,
        tmp_path,
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "proba.npy"), clf.predict_proba(X), rtol=1e-5, atol=1e-6
    )


@pytest.mark.cuda
@cuda
def test_cuda_pickle_round_trip(data, tmp_path):
    X, y = data
    clf = QwertyClassifier(device="cuda", **FAST).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded.device_.type == "cuda"
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))

    # Unpickled where there is no GPU, it predicts on the CPU.
    joblib.dump(clf, tmp_path / "gpu.joblib")
    np.save(tmp_path / "X.npy", X)
    _run_cpu_only(
        """
        import warnings
        import joblib, numpy as np, torch
        assert not torch.cuda.is_available()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skorch's DeviceWarning
            clf = joblib.load("gpu.joblib")
        assert clf.device_.type == "cpu"
        np.save("proba.npy", clf.predict_proba(np.load("X.npy")))
        """,
        tmp_path,
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "proba.npy"), clf.predict_proba(X), rtol=1e-5, atol=1e-6
    )


# --- QwertyClassifierCV and QwertyEnsembleClassifier -------------------------


@pytest.fixture(scope="module")
def table():
    """A raw table: a numeric column with NaN, a wide one, a categorical one
    with a missing value, and string labels."""
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 90
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n) * 100,
            "c": pd.Categorical(rng.choice(["x", "y", "z"], n)),
        }
    )
    frame.loc[::7, "a"] = np.nan
    frame.loc[3, "c"] = np.nan
    y = (frame["b"] > 0).astype(int) + (frame["c"] == "x")
    return frame, np.array(["low", "mid", "top"])[y]


def _composites():
    return {
        "cv": QwertyClassifierCV(n_candidates=2, max_epochs=3, cv=2, random_state=0),
        # Two candidates blended, weighted 0.1 and 0.9.
        "cv-blend": QwertyClassifierCV(
            n_candidates=4, max_epochs=3, cv=2, random_state=1
        ),
        "cv-refit": QwertyClassifierCV(
            n_candidates=2,
            max_epochs=3,
            cv=3,
            refit=True,
            scoring="accuracy",
            lrs=[0.01, 0.003],
            hidden_layer_sizes=[(8,), (4, 4)],
            random_state=1,
        ),
        "ensemble": QwertyEnsembleClassifier(n_estimators=2, random_state=0),
        "ensemble-template": QwertyEnsembleClassifier(
            QwertyClassifier(hidden_layer_sizes=(6,), max_epochs=3, batch_norm=True),
            n_estimators=3,
            bootstrap=True,
            random_state=0,
        ),
    }


def _assert_same_composite(original, loaded, X):
    assert type(loaded) is type(original)
    assert loaded is not original
    params, same = original.get_params(deep=False), loaded.get_params(deep=False)
    template, loaded_template = params.pop("estimator", 0), same.pop("estimator", 0)
    assert same == params
    if template:
        assert loaded_template.get_params() == template.get_params()
    else:
        assert loaded_template == template
    np.testing.assert_array_equal(loaded.classes_, original.classes_)
    assert loaded.classes_.dtype == original.classes_.dtype
    assert loaded.n_features_in_ == original.n_features_in_
    np.testing.assert_array_equal(loaded.feature_names_in_, original.feature_names_in_)
    assert loaded.encoder_.to_dict() == original.encoder_.to_dict()
    assert len(loaded.estimators_) == len(original.estimators_)
    if hasattr(original, "weights_"):
        np.testing.assert_array_equal(loaded.weights_, original.weights_)
    for member, loaded_member in zip(
        original.estimators_, loaded.estimators_, strict=True
    ):
        np.testing.assert_array_equal(loaded_member.classes_, member.classes_)
        assert loaded_member.n_iter_ == member.n_iter_
    # Bitwise, not approximately.
    assert np.array_equal(loaded.predict_proba(X), original.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))


@pytest.mark.parametrize("name", list(_composites()))
def test_composite_round_trip_is_bitwise(table, tmp_path, name):
    X, y = table
    model = _composites()[name].fit(X, y)
    path = model.save(tmp_path / "model.safetensors")
    loaded = type(model).load(path)
    _assert_same_composite(model, loaded, X)
    if name.startswith("cv"):
        assert loaded.best_params_ == model.best_params_
        assert loaded.best_score_ == model.best_score_
        assert loaded.cv_results_["params"] == model.cv_results_["params"]
        assert loaded.cv_results_.keys() == model.cv_results_.keys()
        for key, values in model.cv_results_.items():
            if key != "params":
                assert loaded.cv_results_[key].dtype == values.dtype
                np.testing.assert_array_equal(loaded.cv_results_[key], values)
    # load_model reads the kind from the file.
    again = load_model(save_model(loaded, tmp_path / "again.safetensors"))
    _assert_same_composite(model, again, X)


def test_composite_file_layout(table, tmp_path):
    X, y = table
    model = _composites()["ensemble-template"].fit(X, y)
    path = model.save(tmp_path / "ensemble.safetensors")
    metadata, tensors = _read(path)
    assert metadata["format_version"] == "4"
    assert metadata["kind"] == "QwertyEnsembleClassifier"
    assert metadata["n_members"] == "3"
    assert json.loads(metadata["estimator"])["hidden_layer_sizes"] == [6]
    assert {"members.2.params", "members.2.attributes"} <= set(metadata)
    member = model.estimators_[2].net_.module_.state_dict()
    for name, tensor in member.items():
        assert torch.equal(tensors[f"members.2.{name}"], tensor.cpu())
    assert len(tensors) == 3 * len(member)


def test_composite_unstorable_params_come_back_as_none(table, tmp_path):
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import StratifiedKFold

    X, y = table
    model = QwertyClassifierCV(
        n_candidates=1,
        max_epochs=2,
        cv=StratifiedKFold(2),
        scoring=make_scorer(lambda a, b: 0.0),
        random_state=np.random.RandomState(0),
    ).fit(X, y)
    loaded = QwertyClassifierCV.load(model.save(tmp_path / "cv.safetensors"))
    assert (loaded.cv, loaded.scoring, loaded.random_state) == (None, None, None)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_wrong_class_for_the_file(table, fitted, tmp_path):
    X, y = table
    ensemble = QwertyEnsembleClassifier(
        QwertyClassifier(max_epochs=2), n_estimators=2
    ).fit(X, y)
    ensemble_file = ensemble.save(tmp_path / "ensemble.safetensors")
    single_file = fitted.save(tmp_path / "single.safetensors")
    with pytest.raises(
        ValueError,
        match=r"holds a QwertyEnsembleClassifier, not a QwertyClassifierCV: load "
        r"it with QwertyEnsembleClassifier\.load or qwertyclf\.load_model",
    ):
        QwertyClassifierCV.load(ensemble_file)
    with pytest.raises(ValueError, match="holds a QwertyEnsembleClassifier, not a Q"):
        QwertyClassifier.load(ensemble_file)
    with pytest.raises(ValueError, match="holds a QwertyClassifier, not a Qwerty"):
        QwertyEnsembleClassifier.load(single_file)
    assert type(load_model(single_file)) is QwertyClassifier


def test_cv_blend_round_trip_keeps_the_weights(table, tmp_path):
    X, y = table
    model = _composites()["cv-blend"].fit(X, y)
    np.testing.assert_allclose(model.weights_, [0.05, 0.05, 0.45, 0.45])
    loaded = QwertyClassifierCV.load(model.save(tmp_path / "cv.safetensors"))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_format_3_cv_file_still_reads(table, tmp_path):
    # Format 3 CV files hold the best candidate's networks and no weights.
    X, y = table
    model = QwertyClassifierCV(
        n_candidates=2, max_epochs=3, cv=2, selection="best", random_state=0
    ).fit(X, y)
    path = model.save(tmp_path / "cv.safetensors")
    metadata, _ = _read(path)
    attributes = json.loads(metadata["attributes"])
    params = json.loads(metadata["params"])
    del attributes["weights"], params["selection"]
    old = tmp_path / "old.safetensors"
    _rewrite(
        path,
        old,
        metadata={
            **metadata,
            "format_version": "3",
            "attributes": json.dumps(attributes),
            "params": json.dumps(params),
        },
    )
    loaded = QwertyClassifierCV.load(old)
    assert loaded.selection == "best"
    np.testing.assert_array_equal(loaded.weights_, [0.5, 0.5])
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_composite_save_unfitted_raises(tmp_path):
    path = tmp_path / "unfitted.safetensors"
    for model in _composites().values():
        with pytest.raises(NotFittedError):
            model.save(path)
        with pytest.raises(NotFittedError):
            save_model(model, path)
    assert not path.exists()


def test_composite_load_on_a_device(table, tmp_path):
    X, y = table
    model = QwertyEnsembleClassifier(
        QwertyClassifier(max_epochs=2), n_estimators=2
    ).fit(X, y)
    loaded = load_model(model.save(tmp_path / "e.safetensors"), device="cpu")
    assert loaded.estimator.device == "cpu"
    assert all(m.device_ == torch.device("cpu") for m in loaded.estimators_)
    with pytest.raises(ValueError, match="device"):
        load_model(tmp_path / "e.safetensors", device="tpu")


def test_version_1_file_still_reads(fitted, model_file, data, tmp_path):
    # Version 1 files have no encoder: models of numeric columns.
    metadata, _ = _read(model_file)
    attributes = json.loads(metadata["attributes"])
    del attributes["encoder"]
    metadata = {
        **metadata,
        "format_version": "1",
        "attributes": json.dumps(attributes),
    }
    old = _rewrite(model_file, tmp_path / "v1.safetensors", metadata=metadata)
    X, _ = data
    _assert_same_model(fitted, load_model(old), X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_composite_saved_on_cuda_loads_on_the_cpu(table, tmp_path):
    # As a CV trained on a GPU would be written: every device "cuda".
    X, y = table
    cv = QwertyClassifierCV(n_candidates=1, max_epochs=2, cv=2, random_state=0)
    path = cv.fit(X, y).save(tmp_path / "cv.safetensors")
    metadata, _ = _read(path)
    for key in ["params"] + [f"members.{i}.params" for i in range(2)]:
        metadata[key] = json.dumps({**json.loads(metadata[key]), "device": "cuda"})
    gpu = _rewrite(path, tmp_path / "gpu.safetensors", metadata=metadata)
    loaded = load_model(gpu)
    assert loaded.device == "cpu"
    assert [m.device for m in loaded.estimators_] == ["cpu", "cpu"]
    assert np.array_equal(loaded.predict_proba(X), cv.predict_proba(X))
