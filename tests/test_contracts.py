"""The fast path is an optimisation, never a change of meaning.

`QwertyClassifier` keeps scikit-learn's rules for continued training, and the
net it trains through keeps skorch's: each test here names the promise it
holds the library to.
"""

import concurrent.futures
import logging

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from skorch.callbacks import Callback, EpochScoring, Freezer, LRScheduler
from torch import nn
from torch.nn import functional as F

from qwertyclf import QwertyClassifier, QwertyNet
from qwertyclf.training import QwertySkorchNet, TensorDataset, split_validation
from qwertyclf.training import _fast_path as fast_path_module
from qwertyclf.training._fast_path import fast_path, lean_step_works
from qwertyclf.training._fused_step import lean_step


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, centers=3, n_features=4, random_state=0)
    return X, y


def _weights(clf):
    return [p.detach().clone() for p in clf.net_.module_.parameters()]


# --- warm start: scikit-learn's rules -------------------------------------


def test_warm_start_applies_new_learning_rate_and_keeps_adam_state(blobs):
    X, y = blobs
    clf = QwertyClassifier(max_epochs=2, warm_start=True, random_state=0).fit(X, y)
    optimizer = clf.net_.optimizer_
    steps = optimizer.state[next(clf.net_.module_.parameters())]["step"].item()
    clf.set_params(lr=0.5, weight_decay=0.25).fit(X, y)
    # The fit continued a copy of the net (kept because the fit succeeded):
    # the same optimizer state, carried on, with the new settings.
    continued = clf.net_.optimizer_
    group = continued.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (0.5, 0.25)
    after = continued.state[next(clf.net_.module_.parameters())]["step"].item()
    assert after == 2 * steps
    assert optimizer.state[next(iter(optimizer.state))]["step"].item() == steps


def test_warm_start_applies_batch_size_epochs_shuffle_and_verbose(blobs, capsys):
    X, y = blobs
    clf = QwertyClassifier(max_epochs=2, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(batch_size=60, max_epochs=3, shuffle=False, verbose=1).fit(X, y)
    assert clf.n_iter_ == 5
    assert [row["train_batch_count"] for row in clf.history_[-3:]] == [4, 4, 4]
    assert clf.net_.iterator_train__shuffle is False
    assert "train_loss" in capsys.readouterr().out


def test_warm_start_applies_new_callbacks_and_early_stopping(blobs):
    X, y = blobs
    seen = []

    class Count(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(len(net.history))

    clf = QwertyClassifier(max_epochs=2, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(callbacks=[Count()], early_stopping=True, max_epochs=3).fit(X, y)
    assert seen == [3, 4, 5]
    assert "early_stopping" in dict(clf.net_.callbacks_)
    assert "valid_loss" in clf.history_[-1]


@pytest.mark.parametrize(
    "param, value",
    [
        ("hidden_layer_sizes", (16,)),
        ("activation", "tanh"),
        ("batch_norm", True),
        ("dropout", 0.3),
        ("optimizer", "sgd"),
        ("dtype", "float64"),
    ],
)
def test_warm_start_refuses_a_different_network(blobs, param, value):
    X, y = blobs
    clf = QwertyClassifier(max_epochs=1, warm_start=True, random_state=0).fit(X, y)
    before = _weights(clf)
    clf.set_params(**{param: value})
    for method in (clf.fit, clf.partial_fit):
        with pytest.raises(ValueError, match=f"{param}=.*warm_start=False"):
            method(X, y)
    for a, b in zip(before, _weights(clf), strict=True):
        assert torch.equal(a, b)
    # Without warm start the same settings train a new network.
    clf.set_params(warm_start=False).fit(X, y)


def test_fitted_dtype_decides_prediction_not_a_later_set_params(blobs):
    X, y = blobs
    clf = QwertyClassifier(max_epochs=2, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    clf.set_params(dtype="float64", device="cpu", hidden_layer_sizes=(3, 3))
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    assert clf.dtype_ == "float32"


def test_freezer_keeps_frozen_weights_after_a_warm_start(blobs):
    X, y = blobs
    clf = QwertyClassifier(
        hidden_layer_sizes=(8, 8), max_epochs=2, warm_start=True, random_state=0
    ).fit(X, y)
    first = clf.net_.module_[0]
    frozen = (first.weight.detach().clone(), first.bias.detach().clone())
    # skorch's Freezer acts at the epoch number `at`: the first new epoch here.
    freezer = Freezer(["0.weight", "0.bias"], at=3)
    clf.set_params(callbacks=[freezer], weight_decay=0.1).fit(X, y)
    assert torch.equal(first.weight, frozen[0])
    assert torch.equal(first.bias, frozen[1])
    assert not torch.equal(clf.net_.module_[2].weight, clf.net_.module_[2].weight * 0)


# --- partial_fit and validation weights -----------------------------------


@pytest.mark.parametrize(
    "params, match",
    [
        ({"early_stopping": True}, "early_stopping=True"),
        ({"validation_fraction": 0.2}, "validation_fraction=0.2"),
        ({"class_weight": "balanced"}, "class_weight='balanced'"),
    ],
)
def test_partial_fit_refuses_what_needs_the_whole_data(blobs, params, match):
    X, y = blobs
    clf = QwertyClassifier(**params)
    with pytest.raises(ValueError, match=match):
        clf.partial_fit(X, y, classes=np.unique(y))
    assert not hasattr(clf, "net_")


def test_validation_loss_is_weighted_like_the_training_loss(blobs):
    X, y = blobs
    X_val, y_val = X[:90], y[:90]
    class_weight = {0: 5.0, 1: 1.0, 2: 0.5}
    clf = QwertyClassifier(max_epochs=1, class_weight=class_weight, random_state=0)
    clf.fit(X[90:], y[90:], validation_data=(X_val, y_val))
    module = clf.net_.module_.eval()
    with torch.no_grad():
        rows = F.cross_entropy(
            module(torch.tensor(X_val, dtype=torch.float32)),
            torch.tensor(y_val),
            reduction="none",
        ).numpy()
    weight = np.array([class_weight[c] for c in y_val])
    expected = float((rows * weight).sum() / weight.sum())
    assert clf.history_[-1, "valid_loss"] == pytest.approx(expected, rel=1e-5)
    assert expected != pytest.approx(float(rows.mean()), rel=1e-2)


def test_sample_weight_of_validation_rows_counts(blobs):
    # valid_loss is the validation rows' cross-entropy averaged with their
    # sample weights, as training weighs its rows.
    X, y = blobs
    weight = np.where(np.arange(len(y)) % 2 == 0, 4.0, 0.25)
    base = dict(max_epochs=1, validation_fraction=0.25, dtype="float64")
    plain = QwertyClassifier(**base, random_state=0).fit(X, y)
    weighted = QwertyClassifier(**base, random_state=0).fit(X, y, sample_weight=weight)
    # The held-out rows: the stratified split seeded by the estimator's seed.
    seed = QwertyClassifier(random_state=0)._seed()
    _, valid, _, _ = split_validation(y, None, 0.25, seed)
    assert len(valid) == len(y) // 4

    def cross_entropy(clf):
        proba = clf.predict_proba(X[valid])
        return -np.log(proba[np.arange(len(valid)), y[valid]])

    w = weight[valid]
    expected = np.sum(w * cross_entropy(weighted)) / np.sum(w)
    assert weighted.history_[-1, "valid_loss"] == pytest.approx(expected, rel=1e-9)
    # Unweighted, every held-out row counts the same.
    expected_plain = cross_entropy(plain).mean()
    assert plain.history_[-1, "valid_loss"] == pytest.approx(expected_plain, rel=1e-9)
    # The weights change the value: the odd rows weigh 1/16 of the even ones.
    unweighted = cross_entropy(weighted).mean()
    assert abs(expected - unweighted) > 1e-6


def test_validation_rows_are_weighted_alike_however_given(blobs):
    # One rule weighs validation rows: sample weight times class weight,
    # whether they are held out (validation_fraction), a fold's rows
    # (fit_batched's valid_rows, as the CV and the searches give them) or
    # validation_data. The validation rows' sample weights are 1, the only
    # ones validation_data can have; the training rows' are not.
    from qwertyclf._batched import fit_batched

    X, y = blobs
    class_weight = {0: 5.0, 1: 1.0, 2: 0.5}
    base = dict(
        max_epochs=1, class_weight=class_weight, dtype="float64", random_state=0
    )
    seed = QwertyClassifier(random_state=0)._seed()
    train, valid, _, _ = split_validation(y, None, 0.25, seed)
    weight = np.where(np.arange(len(y)) % 2 == 0, 3.0, 0.5)
    weight[valid] = 1.0
    held_out = QwertyClassifier(**base, validation_fraction=0.25).fit(
        X, y, sample_weight=weight
    )
    (fold,) = fit_batched(
        [QwertyClassifier(**base)],
        X,
        y,
        [train],
        valid_rows=[valid],
        sample_weight=weight,
    )
    given = QwertyClassifier(**base).fit(
        X[train],
        y[train],
        sample_weight=weight[train],
        validation_data=(X[valid], y[valid]),
    )
    w = np.array([class_weight[c] for c in y[valid]])
    for clf in (held_out, fold, given):
        proba = clf.predict_proba(X[valid])
        rows = -np.log(proba[np.arange(len(valid)), y[valid]])
        expected = np.sum(w * rows) / np.sum(w)
        assert clf.history_[-1, "valid_loss"] == pytest.approx(expected, rel=1e-9)
    # The fold and validation_data fits train on the same rows and weights.
    assert fold.history_[-1, "valid_loss"] == pytest.approx(
        given.history_[-1, "valid_loss"], rel=1e-9
    )


def test_the_data_front_end_weighs_validation_rows_by_one_rule():
    from qwertyclf.training import fit_rows

    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 20)
    weight = rng.uniform(0.5, 2.0, size=len(y))
    class_weight = {0: 5.0, 1: 1.0, 2: 0.5}
    held = fit_rows(
        y, y, 3, class_weight=class_weight, sample_weight=weight, fraction=0.25
    )
    fold = fit_rows(
        y,
        y,
        3,
        class_weight=class_weight,
        sample_weight=weight,
        rows=held.train,
        valid=held.valid,
    )
    given = fold.weighting(y[held.valid], weight[held.valid])
    expected = weight[held.valid] * np.array([class_weight[c] for c in y[held.valid]])
    expected *= len(expected) / expected.sum()
    for valid_weight in (held.valid_weight, fold.valid_weight, given):
        np.testing.assert_allclose(valid_weight, expected, rtol=1e-12)


# --- process-wide state ---------------------------------------------------


def _fit_and_predict(args):
    X, y, seed = args
    clf = QwertyClassifier(
        hidden_layer_sizes=(8, 8), dropout=0.1, max_epochs=3, random_state=seed
    )
    return clf.fit(X, y).predict_proba(X)


def test_concurrent_fits_leave_threads_and_rng_alone_and_stay_reproducible(blobs):
    X, y = blobs
    jobs = [(X, y, seed % 4) for seed in range(8)]
    serial = [_fit_and_predict(job) for job in jobs]
    threads = torch.get_num_threads()
    cpu_state = torch.get_rng_state()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        pooled = list(pool.map(_fit_and_predict, jobs))
    with joblib.parallel_backend("threading", n_jobs=8):
        threaded = joblib.Parallel()(joblib.delayed(_fit_and_predict)(j) for j in jobs)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.get_rng_state(), cpu_state)
    for expected, a, b in zip(serial, pooled, threaded, strict=True):
        np.testing.assert_array_equal(a, expected)
        np.testing.assert_array_equal(b, expected)


def test_fit_seeds_no_global_generator_it_does_not_restore(blobs, monkeypatch):
    # torch.manual_seed seeds every device's generator (CPU, CUDA, MPS), and a
    # fit restores only the CPU's and the one it trains on: nothing in a fit
    # may call a global seeding function, the fast path's checks included.
    X, y = blobs
    calls = []

    def spy(name, original):
        def seed(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)

        return seed

    for module, name in [
        (torch, "manual_seed"),
        (torch.random, "manual_seed"),
        (torch.cuda, "manual_seed"),
        (torch.cuda, "manual_seed_all"),
        (getattr(torch, "mps", None), "manual_seed"),
    ]:
        if hasattr(module, name):
            original = getattr(module, name)
            monkeypatch.setattr(
                module, name, spy(f"{module.__name__}.{name}", original)
            )
    # The fast path checks each configuration once per process: forget earlier
    # checks so that this fit runs them (no dropout, so hand-written gradients
    # and the lean step are both checked).
    monkeypatch.setattr(fast_path_module, "_checked", {})
    cpu_state = torch.random.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    QwertyClassifier(max_epochs=2, random_state=0).fit(X, y)
    checked = fast_path_module._checked
    assert checked.get(("manual", "relu", torch.float32, "cpu")) is True
    assert any(key[0] == "lean" and ok for key, ok in checked.items())
    assert calls == []
    assert torch.equal(torch.random.get_rng_state(), cpu_state)
    if cuda_states:
        after = torch.cuda.get_rng_state_all()
        assert all(map(torch.equal, after, cuda_states))


_CUDA_GENERATORS = """
import torch
from sklearn.datasets import make_blobs
from qwertyclf import QwertyClassifier

X, y = make_blobs(n_samples=240, centers=3, n_features=4, random_state=0)
before = [state.clone() for state in torch.cuda.get_rng_state_all()]
cpu = torch.random.get_rng_state()
# A fresh process: the fast path's checks run here, for both devices.
for device in ("cpu", "cuda"):
    QwertyClassifier(max_epochs=2, random_state=0, device=device).fit(X, y)
after = torch.cuda.get_rng_state_all()
assert len(after) == len(before)
for index, (a, b) in enumerate(zip(after, before)):
    assert torch.equal(a, b), f"the generator of cuda:{index} changed"
assert torch.equal(torch.random.get_rng_state(), cpu)
print("unchanged")
"""


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fits_leave_every_cuda_generator_as_it_was():
    import os
    import subprocess
    import sys
    from pathlib import Path

    import qwertyclf

    env = dict(os.environ)
    src = str(Path(qwertyclf.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", _CUDA_GENERATORS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("unchanged")


# --- the fast path against skorch's own loop ------------------------------


class _SkorchLoop(QwertySkorchNet):
    """Overriding a training method sends every epoch through skorch's loop."""

    def train_step(self, batch, **fit_params):
        return super().train_step(batch, **fit_params)


def _skorch_pair(X, y, drop=(), **kwargs):
    params = dict(
        module__n_features=X.shape[1],
        module__n_classes=3,
        module__hidden_layer_sizes=(8, 8),
        module__dtype=torch.float64,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        optimizer__fused=True,
        lr=0.01,
        batch_size=16,
        max_epochs=5,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
        seed=3,
    )
    params.update(kwargs)
    params = {k: v for k, v in params.items() if k not in drop}
    nets = []
    for cls in (QwertySkorchNet, _SkorchLoop):
        torch.manual_seed(0)
        nets.append(cls(QwertyNet, **params).fit(X, y))
    return nets


@pytest.mark.parametrize(
    "switches",
    [
        {},
        {"manual_gradients": False},
        {"lean_step": False},
        {"tensor_epoch": False},
    ],
    ids=["full", "autograd", "optimizer-step", "skorch-epoch"],
)
def test_fast_path_trains_exactly_like_skorchs_loop(blobs, switches):
    X, y = blobs
    with fast_path(**switches):
        fast, plain = _skorch_pair(X, y)
    for a, b in zip(fast.module_.parameters(), plain.module_.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        fast.history[:, "train_loss"], plain.history[:, "train_loss"], rtol=1e-10
    )
    assert fast.history[:, "train_acc"] == plain.history[:, "train_acc"]
    assert [len(r["batches"]) for r in fast.history] == [
        len(r["batches"]) for r in plain.history
    ]


def test_custom_criterion_is_used(blobs):
    X, y = blobs
    fast, plain = _skorch_pair(X, y, criterion__label_smoothing=0.2, max_epochs=2)
    np.testing.assert_allclose(
        fast.history[:, "train_loss"], plain.history[:, "train_loss"], rtol=1e-10
    )
    ordinary, _ = _skorch_pair(X, y, max_epochs=2)
    assert fast.history[-1, "train_loss"] != ordinary.history[-1, "train_loss"]


def test_closure_optimizer_lbfgs_trains(blobs):
    X, y = blobs
    fast, plain = _skorch_pair(
        X,
        y,
        optimizer=torch.optim.LBFGS,
        batch_size=120,
        max_epochs=1,
        drop={"optimizer__fused"},
    )
    for a, b in zip(fast.module_.parameters(), plain.module_.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_batch_callbacks_and_schedulers_see_what_skorch_shows(blobs):
    X, y = blobs
    scheduler = LRScheduler("StepLR", step_size=1, gamma=0.5)
    scoring = EpochScoring("accuracy", on_train=True, name="train_acc_cb")
    fast, plain = _skorch_pair(X, y, callbacks=[scheduler, scoring])
    assert fast.history[:, "train_acc_cb"] == plain.history[:, "train_acc_cb"]
    assert fast.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01 / 2**5)


class _RebindGrads(Callback):
    """Rebinds every `.grad` to a new tensor, as `param.grad = ...` does.

    It also keeps the weights the training started from.
    """

    def __init__(self, new_grad):
        self.new_grad = new_grad

    def on_train_begin(self, net, **kwargs):
        self.initial_ = [p.detach().clone() for p in net.module_.parameters()]

    def on_grad_computed(self, net, named_parameters, **kwargs):
        for _, param in named_parameters:
            param.grad = self.new_grad(param.grad)


_GRADIENT_PATHS = pytest.mark.parametrize(
    "switches",
    [{}, {"manual_gradients": False}, {"lean_step": False}],
    ids=["full", "autograd", "optimizer-step"],
)


@_GRADIENT_PATHS
@pytest.mark.parametrize(
    "new_grad", [torch.zeros_like, lambda grad: None], ids=["zeros", "none"]
)
def test_grad_rebound_to_zeros_by_a_callback_leaves_the_weights(
    blobs, switches, new_grad
):
    # Adam without weight decay does not move a weight whose gradient is zero,
    # and skips one whose gradient is None.
    X, y = blobs
    rebind = _RebindGrads(new_grad)
    with fast_path(**switches):
        fast, plain = _skorch_pair(X, y, callbacks=[rebind])
    # Both nets start from the same seeded weights, which the callback kept.
    for net in (fast, plain):
        for a, b in zip(net.module_.parameters(), rebind.initial_, strict=True):
            assert torch.equal(a, b)


@_GRADIENT_PATHS
def test_grad_rebound_by_a_callback_is_the_one_the_step_uses(blobs, switches):
    X, y = blobs
    clip = _RebindGrads(lambda grad: grad.clamp(-1e-3, 1e-3))
    with fast_path(**switches):
        fast, plain = _skorch_pair(X, y, callbacks=[clip])
    for a, b in zip(fast.module_.parameters(), plain.module_.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    ordinary, _ = _skorch_pair(X, y)
    assert not torch.allclose(fast.module_[0].weight, ordinary.module_[0].weight)


def test_row_weights_refuse_a_custom_criterion():
    data = TensorDataset(torch.zeros(4, 2), torch.tensor([0, 1, 2, 0]), torch.ones(4))
    net = QwertySkorchNet(
        QwertyNet, criterion=nn.NLLLoss, max_epochs=1, train_split=None
    )
    with pytest.raises(TypeError, match="Row weights"):
        net.fit(data, None)


# --- feature detection of private torch entry points ----------------------


@pytest.fixture
def fresh_checks(monkeypatch):
    monkeypatch.setattr(fast_path_module, "_checked", {})


def test_failing_lean_step_check_falls_back_once_with_a_debug_line(
    blobs, monkeypatch, caplog, fresh_checks
):
    X, y = blobs
    expected = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)

    def changed_signature(*args):
        raise TypeError("_fused_adam_() got an unexpected keyword argument")

    monkeypatch.setattr(fast_path_module, "_check_lean", changed_signature)
    fast_path_module._checked.clear()
    with caplog.at_level(logging.DEBUG, logger="qwertyclf"):
        first = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
        QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
    lines = [r for r in caplog.records if "lean" in r.getMessage()]
    assert len(lines) == 1
    assert "TypeError" in lines[0].getMessage()
    np.testing.assert_array_equal(first.predict_proba(X), expected.predict_proba(X))


def test_broken_backward_kernel_falls_back_to_autograd(
    blobs, monkeypatch, caplog, fresh_checks
):
    from qwertyclf import _activations

    X, y = blobs
    expected = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
    broken = _activations.Activation(
        nn.ReLU, torch.relu, lambda g, z, a: torch.zeros_like(g)
    )
    monkeypatch.setitem(_activations.ACTIVATIONS, "relu", broken)
    fast_path_module._checked.clear()
    with caplog.at_level(logging.DEBUG, logger="qwertyclf"):
        got = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
    assert any("manual" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(
        got.predict_proba(X), expected.predict_proba(X), atol=1e-5
    )


def test_adamw_without_decoupled_key_still_decays_decoupled():
    # torch < 2.6 has no "decoupled_weight_decay" param-group key.
    params = [nn.Parameter(torch.ones(4)) for _ in range(2)]
    reference = torch.optim.AdamW([params[0]], lr=0.1, weight_decay=0.5, fused=True)
    old_style = torch.optim.AdamW([params[1]], lr=0.1, weight_decay=0.5, fused=True)
    for p in params:
        p.grad = torch.zeros_like(p)
    assert lean_step_works(old_style)
    update = lean_step(old_style)
    for i in range(4):
        for p in params:
            p.grad.fill_(0.1 * i)  # in place, as training writes gradients
        reference.step()
        update()  # the first call is an ordinary step that creates the state
        old_style.param_groups[0].pop("decoupled_weight_decay", None)
    assert torch.equal(params[0], params[1])
