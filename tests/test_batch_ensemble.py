"""`batch_ensemble`: BatchEnsemble members inside one QwertyClassifier network."""

import copy

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from torch.nn import functional as F

from qwertyclf import (
    QwertyClassifier,
    QwertyEnsembleClassifier,
    QwertyNet,
    load_model,
    save_model,
)
from qwertyclf._batched import batch_key, fit_batched
from qwertyclf._module import BatchEnsembleLinear, EnsembleLinear
from qwertyclf._params import PARAMETERS
from qwertyclf.model_selection import BatchedGridSearchCV
from qwertyclf.training._backprop import PlainMLPStep
from test_batched import (
    _assert_same_model,
    _assert_same_optimizer,
    batched_runs,
)


def small(**params):
    params = {
        "hidden_layer_sizes": (6, 5),
        "max_epochs": 4,
        "random_state": 0,
        "dtype": "float64",
        **params,
    }
    return QwertyClassifier(**params)


def members_logits(module, x):
    """Each member's logits (n, k, C), computed by hand from the parameters."""
    layers = list(module.children())
    hidden = [layer for layer in layers if isinstance(layer, BatchEnsembleLinear)]
    (head,) = [layer for layer in layers if isinstance(layer, EnsembleLinear)]
    out = []
    for j in range(module.batch_ensemble):
        h = x
        for layer in hidden:
            h = torch.relu(
                (h * layer.r[j]) @ layer.weight.T * layer.s[j] + layer.bias[j]
            )
        out.append(h @ head.weight[j] + head.bias[j])
    return torch.stack(out, dim=1)


def test_one_member_is_todays_network(three_classes):
    X, y = three_classes
    plain = QwertyClassifier(max_epochs=5, random_state=0).fit(X, y)
    one = QwertyClassifier(max_epochs=5, random_state=0, batch_ensemble=1).fit(X, y)
    assert np.array_equal(plain.predict_proba(X), one.predict_proba(X))
    assert repr(one.net_.module_) == repr(plain.net_.module_)
    assert type(one.net_.criterion_) is torch.nn.CrossEntropyLoss
    assert QwertyNet(batch_ensemble=1).state_dict().keys() == (
        QwertyNet().state_dict().keys()
    )


def test_probabilities_are_the_mean_of_the_members(three_classes):
    X, y = three_classes
    clf = small(batch_ensemble=3).fit(X, y)
    module = clf.net_.module_
    with torch.no_grad():
        logits = members_logits(module, torch.as_tensor(X))
    by_hand = logits.softmax(-1).mean(1).numpy()
    np.testing.assert_allclose(clf.predict_proba(X), by_hand, rtol=1e-10, atol=1e-12)
    # The members' own predictions differ: the mean is not any one of them.
    members = logits.softmax(-1).numpy()
    assert not np.allclose(members[:, 0], members[:, 1], atol=1e-3)


def test_members_start_different():
    net = QwertyNet(4, 3, (8, 8), batch_ensemble=5)
    first, second = net[0], net[2]
    assert set(first.r.unique().tolist()) == {-1.0, 1.0}
    assert len({tuple(row) for row in first.r.tolist()}) > 1
    assert torch.equal(second.r, torch.ones(5, 8))
    assert torch.equal(first.s, torch.ones(5, 8))
    # All members start with the same bias, as TabM's layers do.
    assert torch.equal(first.bias, first.bias[:1].expand(5, -1))
    net.eval()
    x = torch.randn(7, 4)
    logits = members_logits(net, x)
    assert not torch.allclose(logits[:, 0], logits[:, 1])
    torch.testing.assert_close(
        net(x).softmax(1), logits.softmax(-1).mean(1), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_training_step_follows_the_mean_of_the_members_losses(three_classes, weighted):
    """One full-batch SGD step equals the step on the hand-computed loss."""
    X, y = three_classes
    weight = np.random.RandomState(1).uniform(0.5, 2.0, len(y)) if weighted else None
    clf = small(
        batch_ensemble=3,
        optimizer="sgd",
        lr=0.1,
        batch_size=len(y),
        shuffle=False,
        max_epochs=1,
        warm_start=True,
    ).fit(X, y, sample_weight=weight)
    start = copy.deepcopy(clf.net_.module_)
    clf.fit(X, y, sample_weight=weight)
    params = dict(start.named_parameters())
    x, target = torch.as_tensor(X), torch.as_tensor(y)
    logits = members_logits(start, x)
    losses = torch.stack(
        [F.cross_entropy(logits[:, j], target, reduction="none") for j in range(3)]
    )  # (k, n)
    if weighted:
        w = torch.as_tensor(weight * len(weight) / weight.sum())
        loss = (losses * w).mean(1).mean()
    else:
        loss = losses.mean(1).mean()
    loss.backward()
    assert clf.history_[-1]["train_loss"] == pytest.approx(loss.item(), rel=1e-12)
    for name, param in clf.net_.module_.named_parameters():
        expected = params[name] - 0.1 * params[name].grad
        torch.testing.assert_close(param, expected, rtol=1e-12, atol=1e-14)


def test_validation_loss_is_that_of_the_mean_probability(three_classes):
    X, y = three_classes
    clf = small(batch_ensemble=4, max_epochs=3).fit(X, y, validation_data=(X, y))
    proba = clf.predict_proba(X)
    expected = -np.log(proba[np.arange(len(y)), np.searchsorted(clf.classes_, y)])
    assert clf.history_[-1]["valid_loss"] == pytest.approx(expected.mean(), rel=1e-9)


def test_serial_fits_use_autograd_and_batched_runs_take_members():
    assert not PlainMLPStep.supports(QwertyNet(batch_ensemble=2))
    assert PlainMLPStep.supports(QwertyNet(batch_ensemble=1))
    keys = [batch_key(QwertyClassifier(batch_ensemble=k)) for k in (1, 2, 3)]
    assert None not in keys
    # One run trains networks of one number of members.
    assert len(set(keys)) == 3
    assert batch_key(QwertyClassifier(batch_ensemble=2, lr=0.5)) == keys[1]
    assert batch_key(QwertyClassifier(batch_ensemble=2, batch_norm=True)) is None
    assert batch_key(QwertyClassifier(batch_ensemble=2, dropout=0.1)) is None


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize(
    "params",
    [
        dict(optimizer="adam", weight_decay=0.01, validation_fraction=0.2),
        dict(
            optimizer="adamw",
            weight_decay=0.05,
            early_stopping=True,
            n_iter_no_change=2,
            lr=0.1,
            max_epochs=40,
        ),
        dict(optimizer="sgd", lr=0.1, shuffle=False, batch_size=7),
    ],
    ids=["adam-validation", "adamw-early-stopping", "sgd-unshuffled"],
)
@pytest.mark.parametrize("depth", [1, 2])
def test_batched_fit_is_the_serial_fit(
    three_classes, k, params, depth, tmp_path, monkeypatch
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
            batch_ensemble=k,
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
    runs = batched_runs(monkeypatch, "batch_ensemble")
    fitted = fit_batched(estimators, X, y, rows, sample_weight=weight)
    assert runs == [("MemberBatchedTrainer", [k] * 3)]
    if params.get("early_stopping"):
        assert len({model.n_iter_ for model in fitted}) > 1
    for estimator, model, r in zip(estimators, fitted, rows, strict=True):
        serial = clone(estimator).fit(X[r], y[r], sample_weight=weight[r])
        assert model.net_.module_.batch_ensemble == k
        _assert_same_model(model, serial, X)
        _assert_same_optimizer(model, serial)
        assert torch.equal(
            model.net_.generator_.get_state(), serial.net_.generator_.get_state()
        )
        # The model file of the batch-fitted network reads back as it was.
        loaded = load_model(save_model(model, tmp_path / "batched.qwerty"))
        assert loaded.batch_ensemble == k
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


def test_runs_are_grouped_by_number_of_members(three_classes, monkeypatch):
    X, y = three_classes
    estimators = [
        small(batch_ensemble=k, random_state=k, hidden_layer_sizes=(5,))
        for k in (1, 2, 4, 2)
    ]
    # Runs of one activation each, and a network without hidden layers (its
    # output layer is the members' BatchEnsembleLinear).
    estimators[1].set_params(activation="tanh", hidden_layer_sizes=(3,))
    estimators.append(small(batch_ensemble=3, hidden_layer_sizes=()))
    runs = batched_runs(monkeypatch, "batch_ensemble")
    fitted = fit_batched(estimators, X, y)
    assert sorted(runs) == [
        ("BatchedTrainer", [1]),
        ("MemberBatchedTrainer", [2, 2]),
        ("MemberBatchedTrainer", [3]),
        ("MemberBatchedTrainer", [4]),
    ]
    for estimator, model in zip(estimators, fitted, strict=True):
        serial = clone(estimator).fit(X, y)
        assert model.net_.module_.batch_ensemble == estimator.batch_ensemble
        _assert_same_model(model, serial, X)


#: Networks the batched engine trains with trainers of their own: the
#: setting, its value, and the trainer that takes it.
EXTENDED = [
    ("batch_ensemble", 2, "MemberBatchedTrainer"),
    ("numeric_embedding", "pbld", "EmbeddedBatchedTrainer"),
]


@pytest.mark.parametrize(("setting", "value", "trainer"), EXTENDED)
def test_search_trains_extended_networks_batched(
    three_classes, monkeypatch, setting, value, trainer
):
    X, y = three_classes
    estimator = small(max_epochs=3, **{setting: value})
    grid = {"lr": [0.01, 0.05], "hidden_layer_sizes": [(6, 5), (3, 8)]}
    serial = GridSearchCV(estimator, grid, cv=2).fit(X, y)
    runs = batched_runs(monkeypatch, setting)
    # No NotBatchedWarning: warnings are errors in the test suite.
    batched = BatchedGridSearchCV(estimator, grid, cv=2).fit(X, y)
    assert runs and all(name == trainer for name, _ in runs)
    assert sum(len(values) for _, values in runs) >= 2 * 4  # every candidate, fold
    np.testing.assert_array_equal(
        batched.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert batched.best_params_ == serial.best_params_
    np.testing.assert_allclose(
        batched.predict_proba(X), serial.predict_proba(X), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize(("setting", "value", "trainer"), EXTENDED)
def test_ensemble_of_extended_networks_trains_batched(
    three_classes, monkeypatch, setting, value, trainer
):
    X, y = three_classes
    member = small(max_epochs=3, early_stopping=True, **{setting: value})
    runs = batched_runs(monkeypatch, setting)
    ensemble = QwertyEnsembleClassifier(
        member, n_estimators=3, random_state=0, preprocessing=None
    ).fit(X, y)
    assert runs == [(trainer, [value] * 3)]
    for fitted in ensemble.estimators_:
        alone = clone(member).set_params(random_state=fitted.random_state)
        alone.fit(X, y)
        assert getattr(fitted.net_.module_, setting) == value
        _assert_same_model(fitted, alone, X)
        _assert_same_optimizer(fitted, alone)


def test_model_file_round_trip(tmp_path, three_classes):
    X, y = three_classes
    clf = small(batch_ensemble=3, batch_norm=True).fit(X, y)
    save_model(clf, tmp_path / "model.qwerty")
    loaded = load_model(tmp_path / "model.qwerty")
    assert loaded.batch_ensemble == 3
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    state, restored = clf.net_.module_.state_dict(), loaded.net_.module_.state_dict()
    assert state.keys() == restored.keys()
    for name in state:
        assert torch.equal(state[name], restored[name]), name


def test_warm_start_refuses_another_number_of_members(three_classes):
    X, y = three_classes
    clf = small(batch_ensemble=2, warm_start=True).fit(X, y)
    clf.set_params(batch_ensemble=3)
    with pytest.raises(ValueError, match="trained with batch_ensemble=2"):
        clf.fit(X, y)
    clf.set_params(batch_ensemble=2).fit(X, y)
    assert clf.net_.module_.batch_ensemble == 2


def test_onnx_refuses_members(three_classes):
    pytest.importorskip("skl2onnx")
    from qwertyclf.onnx import to_onnx

    X, y = three_classes
    clf = small(batch_ensemble=2, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="batch_ensemble=2 to ONNX"):
        to_onnx(clf)


@pytest.mark.parametrize("value", [0, 1.5, True, "2"])
def test_bad_values_are_refused(three_classes, value):
    X, y = three_classes
    message = PARAMETERS["batch_ensemble"].refusal(value)
    with pytest.raises(ValueError, match=message.replace(".", r"\.")[:40]):
        QwertyClassifier(batch_ensemble=value).fit(X, y)


def test_other_layers_take_members_logits():
    net = QwertyNet(3, 2, (), batch_ensemble=3)
    assert isinstance(net[0], BatchEnsembleLinear)
    assert net(torch.zeros(4, 3)).shape == (4, 3, 2)
    net = QwertyNet(3, 2, (4,), batch_norm=True, dropout=0.2, batch_ensemble=3)
    assert net(torch.randn(6, 3)).shape == (6, 3, 2)
    assert net.eval()(torch.randn(6, 3)).shape == (6, 2)
