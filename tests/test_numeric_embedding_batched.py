"""Networks with the "pbld" numerical embedding, trained by the batched engine."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from qwertyclf import (
    QwertyClassifier,
    QwertyClassifierCV,
    load_model,
    save_model,
)
from qwertyclf._batched import fit_batched
from test_batch_ensemble import small as small_network
from test_batched import _assert_same_model, _assert_same_optimizer, batched_runs


def small(**params):
    """test_batch_ensemble's small float64 network, behind the embedding."""
    return small_network(**{"numeric_embedding": "pbld", **params})


@pytest.mark.parametrize(
    "params",
    [
        dict(optimizer="adam", weight_decay=0.01, validation_fraction=0.2),
        dict(
            optimizer="adamw",
            weight_decay=0.05,
            early_stopping=True,
            n_iter_no_change=2,
            # The frequencies multiply the values: at larger learning rates
            # training is chaotic, and the last bits of two equal sums
            # taken in another order grow into different models.
            lr=0.02,
            max_epochs=40,
        ),
        dict(optimizer="sgd", lr=0.05, shuffle=False, batch_size=7),
    ],
    ids=["adam-validation", "adamw-early-stopping", "sgd-unshuffled"],
)
@pytest.mark.parametrize("depth", [1, 2])
def test_batched_fit_is_the_serial_fit(
    three_classes, params, depth, tmp_path, monkeypatch
):
    """Models of mixed widths, activations, learning rates and rows, in one run.

    Each is its serial fit field by field (weights, history, optimizer
    state, probabilities), through a saved file and a warm start.
    """
    X, y = three_classes
    widths = [(6, 5), (4, 7), (8, 3)]
    estimators = [
        small(
            **{"max_epochs": 5, **params},
            hidden_layer_sizes=widths[i][:depth],
            # Not in runs of one activation, and sigmoid(0) is not 0: the
            # padding of the narrower models is masked.
            activation=("relu", "sigmoid", "relu")[i],
            random_state=seed,
        ).set_params(lr=params.get("lr", 0.02) * (1 + i))
        for i, seed in enumerate((0, 3, 8))
    ]
    weight = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    rows = [np.arange(len(y)), np.arange(7, len(y)), np.arange(0, len(y) - 11)]
    runs = batched_runs(monkeypatch, "numeric_embedding")
    fitted = fit_batched(estimators, X, y, rows, sample_weight=weight)
    assert runs == [("EmbeddedBatchedTrainer", ["pbld"] * 3)]
    if params.get("early_stopping"):
        assert len({model.n_iter_ for model in fitted}) > 1
    for estimator, model, r in zip(estimators, fitted, rows, strict=True):
        serial = clone(estimator).fit(X[r], y[r], sample_weight=weight[r])
        assert model.net_.module_.numeric_embedding == "pbld"
        _assert_same_model(model, serial, X)
        _assert_same_optimizer(model, serial)
        assert torch.equal(
            model.net_.generator_.get_state(), serial.net_.generator_.get_state()
        )
        # The model file of the batch-fitted network reads back as it was.
        loaded = load_model(save_model(model, tmp_path / "batched.qwerty"))
        assert loaded.numeric_embedding == "pbld"
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        _assert_same_model(
            loaded, QwertyClassifier.load(serial.save(tmp_path / "s")), X
        )
        # Continued: the optimizer and the row order go on where they were.
        for m in (model, serial):
            m.set_params(warm_start=True, max_epochs=2, early_stopping=False)
            m.fit(X[r], y[r], sample_weight=weight[r])
        _assert_same_model(model, serial, X)
        _assert_same_optimizer(model, serial)


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_batched_fit_with_members_is_the_serial_fit(three_classes, depth, monkeypatch):
    """Networks with the embedding and BatchEnsemble members (which share it)."""
    X, y = three_classes
    widths = [(6, 5), (4, 7), (8, 3)]
    estimators = [
        small(
            hidden_layer_sizes=widths[i][:depth],
            batch_ensemble=3,
            activation=("relu", "sigmoid", "relu")[i],
            optimizer="adamw",
            weight_decay=0.05,
            validation_fraction=0.2,
            lr=0.01 * (1 + i),
            random_state=seed,
        )
        for i, seed in enumerate((0, 3, 8))
    ]
    weight = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    runs = batched_runs(monkeypatch, "numeric_embedding")
    fitted = fit_batched(estimators, X, y, sample_weight=weight)
    assert runs == [("EmbeddedMemberBatchedTrainer", ["pbld"] * 3)]
    for estimator, model in zip(estimators, fitted, strict=True):
        serial = clone(estimator).fit(X, y, sample_weight=weight)
        assert model.net_.module_.batch_ensemble == 3
        _assert_same_model(model, serial, X)
        _assert_same_optimizer(model, serial)


def test_embedded_and_plain_networks_train_in_runs_of_their_own(
    three_classes, monkeypatch
):
    X, y = three_classes
    estimators = [
        small(random_state=0),
        small(numeric_embedding=None, random_state=1),
        # No hidden layer: the output layer reads the embedding.
        small(hidden_layer_sizes=(), random_state=2),
        small(hidden_layer_sizes=(3, 9), random_state=3, lr=0.05),
        small(batch_ensemble=2, random_state=4),
        small(numeric_embedding=None, batch_ensemble=2, random_state=5),
    ]
    runs = batched_runs(monkeypatch, "numeric_embedding")
    fitted = fit_batched(estimators, X, y)
    assert sorted(runs) == [
        ("BatchedTrainer", [None]),
        ("EmbeddedBatchedTrainer", ["pbld"]),
        ("EmbeddedBatchedTrainer", ["pbld", "pbld"]),
        ("EmbeddedMemberBatchedTrainer", ["pbld"]),
        ("MemberBatchedTrainer", [None]),
    ]
    for estimator, model in zip(estimators, fitted, strict=True):
        serial = clone(estimator).fit(X, y)
        assert model.net_.module_.numeric_embedding == estimator.numeric_embedding
        _assert_same_model(model, serial, X)
        _assert_same_optimizer(model, serial)


def test_float32_batched_fit_is_close_to_the_serial_fit(three_classes, monkeypatch):
    X, y = three_classes
    estimators = [small(dtype="float32", random_state=seed) for seed in (0, 1)]
    runs = batched_runs(monkeypatch, "numeric_embedding")
    fitted = fit_batched(estimators, X, y)
    assert runs == [("EmbeddedBatchedTrainer", ["pbld"] * 2)]
    for model, estimator in zip(fitted, estimators, strict=True):
        serial = clone(estimator).fit(X, y)
        np.testing.assert_allclose(
            model.predict_proba(X), serial.predict_proba(X), rtol=1e-4, atol=1e-5
        )


def test_cv_candidates_with_embedding_and_members_train_batched(
    three_classes, monkeypatch, tmp_path
):
    # QwertyClassifierCV passes both settings to every candidate; its
    # (candidate, fold) networks train batched and equal their serial fits.
    X, y = three_classes
    folds = StratifiedKFold(2)
    runs = batched_runs(monkeypatch, "numeric_embedding")
    clf = QwertyClassifierCV(
        hidden_layer_sizes=[(6,), (4, 4)],
        lrs=[0.01],
        weight_decays=[0.0],
        n_candidates=2,
        max_epochs=4,
        numeric_embedding="pbld",
        batch_ensemble=2,
        preprocessing=None,
        cv=folds,
        dtype="float64",
        random_state=0,
    ).fit(X, y)
    assert runs and all(name == "EmbeddedMemberBatchedTrainer" for name, _ in runs)
    assert sum(len(kinds) for _, kinds in runs) == 2 * 2
    for model, (train, test) in zip(clf.estimators_, folds.split(X, y), strict=True):
        assert model.net_.module_.numeric_embedding == "pbld"
        assert model.net_.module_.batch_ensemble == 2
        serial = clone(model).fit(
            X[train], y[train], validation_data=(X[test], y[test])
        )
        _assert_same_model(model, serial, X)
    path = save_model(clf, tmp_path / "cv.safetensors")
    np.testing.assert_array_equal(
        load_model(path).predict_proba(X), clf.predict_proba(X)
    )
