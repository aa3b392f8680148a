"""Tests for `QwertyClassifier` as a scikit-learn estimator."""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, log_loss, recall_score
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from skorch.history import History

from qwertyclf import QwertyClassifier, QwertyNet

FAST = {"max_epochs": 10, "random_state": 0}


def _seed_data():
    """The lecture notebook's data: 3 Gaussian classes, seeded with 42."""
    rng = np.random.RandomState(42)
    means = np.array([[2, 1], [-2, 1], [0, -3]])
    cov = np.array([[1, 0], [0, 1]])
    X = np.zeros((900, 2))
    y = np.zeros(900)
    for i in range(3):
        rows = slice(i * 300, (i + 1) * 300)
        X[rows] = rng.multivariate_normal(means[i], cov, 300)
        y[rows] = i
    return train_test_split(X, y, test_size=0.2, random_state=42)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: a second intra-op thread only adds waiting, a lot of it
    # when another process holds the other core.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def seed_data():
    return _seed_data()


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, centers=[[3, 0], [-3, 0], [0, 4]], random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return QwertyClassifier(**FAST).fit(X, y)


# --------------------------------------------------------------------------
# The lecture workload
# --------------------------------------------------------------------------


def test_seed_workload_reaches_the_lecture_accuracy(seed_data):
    X_train, X_test, y_train, y_test = seed_data
    clf = QwertyClassifier(random_state=0)
    # Everything else is the lecture setting.
    assert {k: v for k, v in clf.get_params().items() if k != "random_state"} == {
        k: v for k, v in QwertyClassifier().get_params().items() if k != "random_state"
    }
    assert clf.fit(X_train, y_train) is clf
    assert clf.n_iter_ == 100
    assert clf.score(X_test, y_test) >= 0.95
    assert set(clf.predict(X_test)) <= {0.0, 1.0, 2.0}
    module = clf.net_.module_
    assert isinstance(module, QwertyNet)
    assert [type(layer).__name__ for layer in module] == ["Linear", "ReLU", "Linear"]
    assert (module[0].in_features, module[0].out_features) == (2, 8)
    assert (module[2].in_features, module[2].out_features) == (8, 3)


def test_default_hyperparameters_are_the_lecture_setting():
    params = QwertyClassifier().get_params()
    assert params["hidden_layer_sizes"] == (8,)
    assert params["activation"] == "relu"
    assert params["optimizer"] == "adam"
    assert params["lr"] == 0.01
    assert params["batch_size"] == 16
    assert params["max_epochs"] == 100
    assert params["batch_norm"] is False
    assert params["dropout"] == 0.0
    assert params["early_stopping"] is False
    assert params["device"] == "cpu"


# --------------------------------------------------------------------------
# Fitted attributes, predict, predict_proba, score
# --------------------------------------------------------------------------


def test_fit_returns_self_and_sets_attributes(blobs):
    X, y = blobs
    clf = QwertyClassifier(**FAST)
    assert clf.fit(X, y) is clf
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_features_in_ == 2
    assert not hasattr(clf, "feature_names_in_")
    assert isinstance(clf.net_, NeuralNetClassifier)
    assert isinstance(clf.history_, History)
    assert clf.n_iter_ == 10 == len(clf.history_)
    assert 1 <= clf.best_epoch_ <= 10
    assert clf.device_ == torch.device("cpu")
    assert all(p.dtype == torch.float32 for p in clf.net_.module_.parameters())


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "eel"]),
        np.array([3, 5, 7]),
        np.array([-1.0, 0.0, 2.0]),
        np.array(["b", "c", "a"], dtype=object),
    ],
    ids=["str", "ints_3_5_7", "floats", "object"],
)
def test_predict_returns_labels_from_classes(labels, blobs):
    X, y_idx = blobs
    y = labels[y_idx]
    clf = QwertyClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    pred = clf.predict(X)
    assert pred.shape == (len(X),)
    assert pred.dtype == clf.classes_.dtype
    assert set(pred) <= set(labels)
    assert accuracy_score(y, pred) > 0.95


def test_bool_labels(blobs):
    X, y_idx = blobs
    y = y_idx == 2
    clf = QwertyClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [False, True])
    pred = clf.predict(X)
    assert pred.dtype == bool
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.score(X, y) > 0.95


def test_list_inputs(blobs):
    X, y = blobs
    labels = ["x", "y", "z"]
    clf = QwertyClassifier(**FAST).fit(X.tolist(), [labels[i] for i in y])
    assert clf.predict(X[:3].tolist()).tolist() == [labels[i] for i in y[:3]]


def test_predict_proba_columns_follow_classes(blobs):
    X, y_idx = blobs
    # Labels whose sorted order differs from the order of appearance.
    names = np.array(["zebra", "ant", "moose"])
    clf = QwertyClassifier(**FAST).fit(X, names[y_idx])
    assert clf.classes_.tolist() == ["ant", "moose", "zebra"]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    assert proba.dtype == np.float64
    for k, label in enumerate(clf.classes_):
        rows = names[y_idx] == label
        assert np.mean(proba[rows].argmax(1) == k) > 0.95
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])


def test_predict_proba_rows_sum_to_one(fitted, blobs):
    X, _ = blobs
    proba = fitted.predict_proba(X)
    assert np.all(proba >= 0) and np.all(proba <= 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_predict_proba_is_accepted_by_log_loss(fitted, blobs):
    # scikit-learn's metrics check that probabilities sum to one to float64
    # precision (sqrt(eps) ~ 1.5e-8) and warn otherwise; float32 softmax
    # rows cast to float64 do not.
    X, y = blobs
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(
        proba.sum(axis=1), 1.0, rtol=np.sqrt(np.finfo(np.float64).eps)
    )
    assert log_loss(y, proba) < 0.5


def test_predict_proba_large_input_is_chunked_consistently(fitted):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20_000, 2))
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba[:100], fitted.predict_proba(X[:100]), rtol=1e-6)
    np.testing.assert_allclose(proba[-100:], fitted.predict_proba(X[-100:]), rtol=1e-6)


def test_score_is_accuracy(fitted, blobs):
    X, y = blobs
    rng = np.random.RandomState(0)
    y_noisy = np.where(rng.rand(len(y)) < 0.2, (y + 1) % 3, y)
    assert fitted.score(X, y_noisy) == accuracy_score(y_noisy, fitted.predict(X))
    weights = rng.rand(len(y))
    assert fitted.score(X, y_noisy, sample_weight=weights) == pytest.approx(
        accuracy_score(y_noisy, fitted.predict(X), sample_weight=weights)
    )


def test_predict_before_fit_raises(blobs):
    X, _ = blobs
    clf = QwertyClassifier()
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            method(X)
    with pytest.raises(NotFittedError):
        clf.score(X, np.zeros(len(X)))


def test_refit_starts_from_scratch(blobs):
    X, y = blobs
    clf = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
    clf.fit(X[:, ::-1], np.where(y == 0, "a", "b"))
    assert clf.n_iter_ == 3
    np.testing.assert_array_equal(clf.classes_, ["a", "b"])
    assert clf.net_.module_[-1].out_features == 2


# --------------------------------------------------------------------------
# partial_fit and warm_start
# --------------------------------------------------------------------------


def test_partial_fit_requires_classes_on_first_call(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="classes must be passed"):
        QwertyClassifier().partial_fit(X, y)


def test_partial_fit_trains_one_epoch_per_call(blobs):
    X, y = blobs
    clf = QwertyClassifier(random_state=0)
    losses = []
    for i in range(1, 6):
        assert clf.partial_fit(X, y, classes=[0, 1, 2] if i == 1 else None) is clf
        assert clf.n_iter_ == i == len(clf.history_)
        losses.append(clf.history_[-1, "train_loss"])
    assert losses[-1] < losses[0]
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.score(X, y) > 0.9


def test_partial_fit_with_classes_not_in_first_batch(blobs):
    X, y = blobs
    clf = QwertyClassifier(random_state=0)
    first = y != 2
    clf.partial_fit(X[first], y[first], classes=np.array([0, 1, 2]))
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.predict_proba(X).shape == (len(X), 3)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 2


def test_partial_fit_rejects_unknown_labels(blobs):
    X, y = blobs
    clf = QwertyClassifier(random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="not among the fitted classes"):
        clf.partial_fit(X, np.where(y == 0, 9, y))
    with pytest.raises(ValueError, match="differs from the classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="not among the fitted classes"):
        QwertyClassifier().partial_fit(X, y, classes=[0, 1])
    # A failed call leaves the model usable.
    assert clf.n_iter_ == 1
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 2


def test_partial_fit_after_fit_continues(blobs):
    X, y = blobs
    clf = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 4 == len(clf.history_)


def test_warm_start_continues_training(blobs):
    X, y = blobs
    clf = QwertyClassifier(max_epochs=4, warm_start=True, random_state=0).fit(X, y)
    weights = [p.detach().clone() for p in clf.net_.module_.parameters()]
    first_loss = clf.history_[-1, "train_loss"]
    clf.fit(X, y)
    assert clf.n_iter_ == 8 == len(clf.history_)
    # Training went on from the fitted weights, not from a new start.
    fresh = QwertyClassifier(max_epochs=4, random_state=0).fit(X, y)
    assert clf.history_[4, "train_loss"] < fresh.history_[0, "train_loss"]
    assert clf.history_[4, "train_loss"] < 2 * first_loss
    assert any(
        not torch.equal(p, w)
        for p, w in zip(clf.net_.module_.parameters(), weights, strict=True)
    )


def test_without_warm_start_history_restarts(blobs):
    X, y = blobs
    clf = QwertyClassifier(max_epochs=4, random_state=0).fit(X, y)
    clf.fit(X, y)
    assert clf.n_iter_ == 4 == len(clf.history_)


def test_warm_start_rejects_new_labels(blobs):
    X, y = blobs
    clf = QwertyClassifier(max_epochs=2, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="not among the fitted classes"):
        clf.fit(X, y + 1)


# --------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imbalanced():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (400, 2)), rng.normal(1.2, 1, (40, 2))])
    y = np.r_[np.zeros(400, int), np.ones(40, int)]
    return X, y


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 10.0}])
def test_class_weight_improves_minority_recall(class_weight, imbalanced):
    X, y = imbalanced
    params = {"max_epochs": 20, "random_state": 0}
    plain = QwertyClassifier(**params).fit(X, y)
    weighted = QwertyClassifier(class_weight=class_weight, **params).fit(X, y)
    recall_plain = recall_score(y, plain.predict(X))
    recall_weighted = recall_score(y, weighted.predict(X))
    assert recall_weighted > recall_plain + 0.3
    assert recall_weighted > 0.6


def test_class_weight_with_string_labels(imbalanced):
    X, y = imbalanced
    labels = np.array(["common", "rare"])[y]
    clf = QwertyClassifier(
        class_weight={"common": 1.0, "rare": 10.0}, max_epochs=20, random_state=0
    ).fit(X, labels)
    assert recall_score(labels, clf.predict(X), pos_label="rare") > 0.6


def test_zero_sample_weight_equals_dropping_rows(blobs):
    X, y = blobs
    rng = np.random.RandomState(0)
    weight = (rng.rand(len(y)) > 0.3).astype(float)
    params = {
        "max_epochs": 15,
        "batch_size": 1024,
        "dtype": "float64",
        "random_state": 0,
    }
    weighted = QwertyClassifier(**params).fit(X, y, sample_weight=weight)
    dropped = QwertyClassifier(**params).fit(X[weight > 0], y[weight > 0])
    np.testing.assert_allclose(
        weighted.predict_proba(X), dropped.predict_proba(X), rtol=1e-7, atol=1e-10
    )


def test_sample_weight_changes_the_fit(imbalanced):
    X, y = imbalanced
    weight = np.where(y == 1, 10.0, 1.0)
    params = {"max_epochs": 20, "random_state": 0}
    plain = QwertyClassifier(**params).fit(X, y)
    weighted = QwertyClassifier(**params).fit(X, y, sample_weight=weight)
    assert recall_score(y, weighted.predict(X)) > recall_score(y, plain.predict(X))


# --------------------------------------------------------------------------
# Randomness, global state, threads
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"dropout": 0.3, "batch_norm": True},
        {"validation_fraction": 0.2, "early_stopping": True, "n_iter_no_change": 2},
    ],
    ids=["plain", "dropout_batch_norm", "validation_split"],
)
def test_random_state_int_is_bitwise_reproducible(params, blobs):
    X, y = blobs
    first = QwertyClassifier(max_epochs=5, random_state=7, **params).fit(X, y)
    second = QwertyClassifier(max_epochs=5, random_state=7, **params).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert first.history_[:, "train_loss"] == second.history_[:, "train_loss"]
    other = QwertyClassifier(max_epochs=5, random_state=8, **params).fit(X, y)
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))


def test_random_state_none_differs_between_fits(blobs):
    X, y = blobs
    a = QwertyClassifier(max_epochs=2).fit(X, y)
    b = QwertyClassifier(max_epochs=2).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), b.predict_proba(X))


def test_random_state_instance(blobs):
    X, y = blobs
    a = QwertyClassifier(max_epochs=3, random_state=np.random.RandomState(3)).fit(X, y)
    b = QwertyClassifier(max_epochs=3, random_state=np.random.RandomState(3)).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("random_state", [None, 0])
@pytest.mark.parametrize(
    "params",
    [{}, {"dropout": 0.2, "validation_fraction": 0.2, "early_stopping": True}],
    ids=["plain", "dropout_split"],
)
def test_global_rng_state_is_untouched(random_state, params, blobs):
    X, y = blobs
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()  # noqa: NPY002
    clf = QwertyClassifier(max_epochs=3, random_state=random_state, **params)
    clf.fit(X, y)
    clf.set_params(early_stopping=False, validation_fraction=None).partial_fit(X, y)
    clf.predict_proba(X)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0]
    np.testing.assert_array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]


@pytest.mark.parametrize("batch_size", [16, 4096])
def test_thread_count_is_restored(batch_size, blobs):
    X, y = blobs
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        QwertyClassifier(max_epochs=2, batch_size=batch_size, random_state=0).fit(X, y)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


# --------------------------------------------------------------------------
# Input containers and caller's arrays
# --------------------------------------------------------------------------


def test_fit_does_not_mutate_inputs(blobs):
    X, y = blobs
    X = X.copy()
    y_str = np.array(["a", "b", "c"])[y]
    weight = np.linspace(0.5, 2.0, len(y))
    X_val, y_val = X[:20].copy(), y_str[:20].copy()
    saved = [a.copy() for a in (X, y_str, weight, X_val, y_val)]
    for dtype in ("float32", "float64"):
        clf = QwertyClassifier(max_epochs=3, dtype=dtype, random_state=0)
        clf.fit(X, y_str, sample_weight=weight, validation_data=(X_val, y_val))
        clf.predict_proba(X)
        for array, copy_ in zip((X, y_str, weight, X_val, y_val), saved, strict=True):
            np.testing.assert_array_equal(array, copy_)


def test_fitted_model_does_not_alias_caller_data(blobs):
    X, y = blobs
    X = X.copy()
    clf = QwertyClassifier(max_epochs=2, dtype="float64", random_state=0).fit(X, y)
    proba = clf.predict_proba(X.copy())
    X[:] = 0.0
    # Changing the training array afterwards does not change the model.
    X_fresh, _ = blobs
    np.testing.assert_array_equal(clf.predict_proba(X_fresh), proba)


def test_read_only_and_fortran_arrays(blobs):
    X, y = blobs
    X_ro = X.copy()
    y_ro = y.copy()
    X_ro.setflags(write=False)
    y_ro.setflags(write=False)
    ref = QwertyClassifier(**FAST).fit(X, y).predict_proba(X)
    for dtype in ("float32", "float64"):
        clf = QwertyClassifier(dtype=dtype, **FAST).fit(X_ro, y_ro)
        assert clf.predict_proba(X_ro).shape == ref.shape
    X_f = np.asfortranarray(X)
    proba_f = QwertyClassifier(**FAST).fit(X_f, y).predict_proba(X_f)
    np.testing.assert_array_equal(proba_f, ref)


def test_memmap_input(tmp_path, blobs):
    X, y = blobs
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    del mm
    X_mm = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    ref = QwertyClassifier(**FAST).fit(X, y).predict_proba(X)
    for dtype in ("float32", "float64"):
        clf = QwertyClassifier(dtype=dtype, **FAST).fit(X_mm, y)
        proba = clf.predict_proba(X_mm)
        if dtype == "float32":
            np.testing.assert_array_equal(proba, ref)
    np.testing.assert_array_equal(np.asarray(X_mm), X)


def test_pandas_dataframe(blobs):
    X, y = blobs
    df = pd.DataFrame(X, columns=["width", "height"])
    labels = pd.Series(np.array(["a", "b", "c"])[y], name="kind")
    clf = QwertyClassifier(**FAST).fit(df, labels)
    np.testing.assert_array_equal(clf.feature_names_in_, ["width", "height"])
    pred = clf.predict(df)
    assert clf.score(df, labels) > 0.95
    ref = QwertyClassifier(**FAST).fit(X, labels.to_numpy())
    np.testing.assert_array_equal(pred, ref.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df.rename(columns={"width": "w"}))


def test_int_features(blobs):
    X, y = blobs
    X_int = np.round(X * 10).astype(np.int64)
    clf = QwertyClassifier(**FAST).fit(X_int, y)
    assert clf.predict(X_int).shape == (len(X),)
    assert clf.score(X_int, y) > 0.9


def test_float32_input(blobs):
    X, y = blobs
    X32 = X.astype(np.float32)
    ref = QwertyClassifier(**FAST).fit(X, y).predict_proba(X)
    proba = QwertyClassifier(**FAST).fit(X32, y).predict_proba(X32)
    # The same network; probabilities come back in the input's precision.
    assert proba.dtype == np.float32 and ref.dtype == np.float64
    np.testing.assert_allclose(proba, ref, rtol=1e-5, atol=1e-7)


def test_dtype_float64(blobs):
    X, y = blobs
    clf = QwertyClassifier(dtype="float64", **FAST).fit(X, y)
    assert all(p.dtype == torch.float64 for p in clf.net_.module_.parameters())
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    assert clf.score(X, y) > 0.95


# --------------------------------------------------------------------------
# Where users put it: pipelines, searches, cloning, persistence
# --------------------------------------------------------------------------


def _string_blobs(n=120, seed=0):
    X, y = make_blobs(n_samples=n, centers=[[3, 0], [-3, 0], [0, 4]], random_state=seed)
    return X * 10 + 5, np.array(["left", "right", "up"])[y]


def test_pipeline_with_scaler():
    X, y = _string_blobs(240)
    pipe = make_pipeline(StandardScaler(), QwertyClassifier(**FAST))
    pipe.fit(X, y)
    assert set(pipe.predict(X)) <= {"left", "right", "up"}
    assert pipe.score(X, y) > 0.95
    assert pipe.predict_proba(X).shape == (len(X), 3)
    np.testing.assert_array_equal(pipe.classes_, ["left", "right", "up"])


def test_grid_search_n_jobs_2():
    X, y = _string_blobs()
    pipe = Pipeline([("scale", StandardScaler()), ("clf", QwertyClassifier())])
    grid = [
        {
            "clf__hidden_layer_sizes": [(4,), (8, 4)],
            "clf__activation": ["relu", "tanh"],
        },
        {"clf__batch_norm": [False, True], "clf__lr": [0.01, 0.05]},
    ]
    pipe.set_params(clf__max_epochs=4, clf__random_state=0)
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.8
    assert set(search.predict(X)) <= {"left", "right", "up"}
    best = search.best_estimator_.named_steps["clf"]
    assert best.n_iter_ == 4
    # Results do not depend on the number of workers.
    serial = GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(
        serial.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )


def test_grid_search_without_pipeline_prefixes():
    X, y = _string_blobs()
    search = GridSearchCV(
        QwertyClassifier(max_epochs=3, random_state=0),
        {"hidden_layer_sizes": [(), (6,)], "optimizer": ["adam", "sgd"]},
        cv=2,
    ).fit(X / 10, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.n_iter_ == 3


def test_randomized_search_n_jobs_2():
    X, y = _string_blobs()
    pipe = make_pipeline(
        StandardScaler(), QwertyClassifier(max_epochs=4, random_state=0)
    )
    dists = {
        "qwertyclassifier__lr": loguniform(1e-3, 1e-1),
        "qwertyclassifier__hidden_layer_sizes": [(4,), (8,), (8, 8)],
        "qwertyclassifier__activation": ["relu", "gelu", "elu"],
        "qwertyclassifier__batch_norm": [False, True],
    }
    search = RandomizedSearchCV(
        pipe, dists, n_iter=4, cv=2, n_jobs=2, random_state=0
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ > 0.6
    assert set(search.predict(X)) <= {"left", "right", "up"}


def test_cross_val_score_with_string_labels():
    X, y = _string_blobs()
    scores = cross_val_score(
        make_pipeline(StandardScaler(), QwertyClassifier(**FAST)), X, y, cv=3
    )
    assert scores.shape == (3,)
    assert np.all(scores > 0.9)


def test_clone(fitted):
    params = fitted.get_params()
    copy_ = clone(fitted)
    assert copy_.get_params() == params
    assert not hasattr(copy_, "net_")
    assert not hasattr(copy_, "classes_")
    custom = QwertyClassifier(hidden_layer_sizes=(3, 2), activation="tanh", lr=0.5)
    assert clone(custom).get_params() == custom.get_params()


def test_set_params_round_trip():
    clf = QwertyClassifier()
    assert clf.set_params(lr=0.1, hidden_layer_sizes=(4, 4)) is clf
    assert clf.lr == 0.1
    assert clf.hidden_layer_sizes == (4, 4)


def test_pickle_round_trip():
    X, y = _string_blobs()
    clf = QwertyClassifier(**FAST).fit(X / 10, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(
        restored.predict_proba(X / 10), clf.predict_proba(X / 10)
    )
    np.testing.assert_array_equal(restored.predict(X / 10), clf.predict(X / 10))
    np.testing.assert_array_equal(restored.classes_, clf.classes_)
    assert restored.n_iter_ == clf.n_iter_
    assert restored.history_[:, "train_loss"] == clf.history_[:, "train_loss"]


def test_pickle_round_trip_can_keep_training():
    X, y = _string_blobs()
    clf = QwertyClassifier(max_epochs=2, random_state=0).fit(X / 10, y)
    restored = pickle.loads(pickle.dumps(clf))
    restored.partial_fit(X / 10, y)
    assert restored.n_iter_ == 3


def test_joblib_round_trip(tmp_path):
    X, y = _string_blobs()
    pipe = make_pipeline(StandardScaler(), QwertyClassifier(**FAST)).fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(pipe, path)
    restored = joblib.load(path)
    np.testing.assert_array_equal(restored.predict_proba(X), pipe.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), pipe.predict(X))


def test_unfitted_pickle_round_trip():
    clf = QwertyClassifier(hidden_layer_sizes=(5,), lr=0.2)
    assert pickle.loads(pickle.dumps(clf)).get_params() == clf.get_params()


# --- a fit that raises leaves the estimator as it was -------------------------


def _fitted_state(clf):
    return {
        "classes_": clf.classes_.copy(),
        "n_features_in_": clf.n_features_in_,
        "device_": clf.device_,
        "dtype_": clf.dtype_,
        "n_iter_": clf.n_iter_,
        "history": len(clf.history_),
        "weights": [p.detach().clone() for p in clf.net_.module_.parameters()],
    }


def _assert_same_state(clf, before, X):
    after = _fitted_state(clf)
    np.testing.assert_array_equal(after.pop("classes_"), before.pop("classes_"))
    for a, b in zip(after.pop("weights"), before.pop("weights"), strict=True):
        assert torch.equal(a, b)
    assert after == before


def test_failed_refit_with_new_labels_keeps_the_fitted_model():
    X, y = make_blobs(n_samples=60, centers=3, random_state=0)
    clf = QwertyClassifier(max_epochs=2, random_state=0).fit(X, y)
    before, proba = _fitted_state(clf), clf.predict_proba(X)
    new_labels = np.array(["a", "b", "c"])[y]
    with pytest.raises(ValueError, match="X_val has 2 features"):
        clf.fit(
            np.c_[X, X[:, :1]],
            new_labels,
            validation_data=(X, new_labels),
        )
    _assert_same_state(clf, before, X)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    assert clf.predict(X[:3]).dtype == y.dtype  # old labels, not the new ones


def test_failed_first_fit_leaves_the_estimator_unfitted():
    X, y = make_blobs(n_samples=60, centers=3, random_state=0)
    clf = QwertyClassifier(max_epochs=2)
    with pytest.raises(ValueError):
        clf.fit(X, y, validation_data=(X[:5], y[:4]))
    assert not hasattr(clf, "n_features_in_") and not hasattr(clf, "classes_")


@pytest.mark.parametrize("loaded", [False, True], ids=["fitted", "loaded"])
def test_diverging_warm_start_keeps_the_fitted_model(loaded, tmp_path):
    X, y = make_blobs(n_samples=60, centers=3, random_state=0)
    clf = QwertyClassifier(max_epochs=2, random_state=0, warm_start=True).fit(X, y)
    if loaded:
        clf = QwertyClassifier.load(clf.save(tmp_path / "m.safetensors"))
    before, proba = _fitted_state(clf), clf.predict_proba(X)
    clf.set_params(optimizer="adam", lr=1e6, max_epochs=3)
    with pytest.raises(ValueError, match="learning rate"):
        clf.fit(X * 1e3, y)
    _assert_same_state(clf, before, X)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    # ... and it can still continue from where it was.
    clf.set_params(lr=0.01, max_epochs=1)
    assert clf.fit(X, y).n_iter_ == before["n_iter_"] + 1


def test_failed_partial_fit_keeps_the_fitted_model():
    X, y = make_blobs(n_samples=60, centers=3, random_state=0)
    clf = QwertyClassifier(random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    before = _fitted_state(clf)
    with pytest.raises(ValueError, match="not among the fitted classes"):
        clf.partial_fit(X, np.r_[y[:-1], 7])
    _assert_same_state(clf, before, X)


@pytest.mark.parametrize("flag", [np.True_, np.False_])
def test_numpy_booleans_are_booleans(blobs, flag):
    X, y = blobs
    clf = QwertyClassifier(max_epochs=2, early_stopping=flag, random_state=0)
    assert clf.fit(X, y).n_iter_ >= 1


def test_loaded_model_warm_start_is_seeded_by_random_state(tmp_path, blobs):
    # A loaded model's net is seeded from random_state as the fit's net was:
    # a warm start draws its row orders and dropout masks from it, not from
    # a fixed seed.
    X, y = blobs
    fitted = QwertyClassifier(max_epochs=2, dropout=0.3, random_state=1).fit(X, y)
    paths = []
    for random_state in (1, 2):  # the same weights, saved with two seeds
        fitted.set_params(random_state=random_state)
        paths.append(fitted.save(tmp_path / f"model{random_state}.safetensors"))
    fitted.set_params(random_state=1)

    def continued(path):
        loaded = QwertyClassifier.load(path).set_params(warm_start=True)
        expected = QwertyClassifier(random_state=loaded.random_state)._seed()
        assert loaded.net_.seed == expected
        loaded.fit(X, y)
        return loaded.predict_proba(X)

    assert QwertyClassifier.load(paths[0]).net_.seed == fitted.net_.seed
    np.testing.assert_array_equal(continued(paths[0]), continued(paths[0]))
    assert not np.allclose(continued(paths[0]), continued(paths[1]))


def test_batch_fitted_net_is_seeded_by_random_state(blobs):
    from qwertyclf._batched import fit_batched

    X, y = blobs
    (model,) = fit_batched([QwertyClassifier(max_epochs=2, random_state=3)], X, y)
    serial = QwertyClassifier(max_epochs=2, random_state=3).fit(X, y)
    assert model.net_.seed == serial.net_.seed
