"""Tests for the fast training path: backprop, lean_step, batches, callbacks."""

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from sklearn.metrics import accuracy_score
from skorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochScoring,
    GradientNormClipping,
    LRScheduler,
    ProgressBar,
)
from torch import nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import LambdaLR, StepLR
from torch.optim.optimizer import register_optimizer_step_post_hook

import qwertyclf.training._net as training_module
from qwertyclf import QwertyClassifier, QwertyNet
from qwertyclf.training import (
    QwertySkorchNet,
    TensorBatches,
    TensorDataset,
    training_threads,
)
from qwertyclf.training._backprop import PlainMLPStep
from qwertyclf.training._fused_step import lean_step

MANUAL_ACTIVATIONS = [
    "relu",
    "leaky_relu",
    "relu6",
    "tanh",
    "sigmoid",
    "elu",
    "gelu",
    "silu",
]

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: a second intra-op thread only adds waiting, a lot of it
    # when another process holds the other core.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def blobs():
    """An easy, well separated 3-class problem with a held-out part."""
    X, y = make_blobs(n_samples=360, centers=[[3, 0], [-3, 0], [0, 4]], random_state=0)
    return X[:300], y[:300], X[300:], y[300:]


def _log_loss(proba, y):
    return float(-np.mean(np.log(proba[np.arange(len(y)), y])))


def _autograd_reference(net, x, y, weight):
    net.zero_grad(set_to_none=True)
    logits = net(x)
    losses = F.cross_entropy(logits, y, reduction="none")
    (losses if weight is None else losses * weight).mean().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    return logits.detach(), grads


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("hidden", [(), (7,), (6, 5)], ids=["h0", "h1", "h2"])
@pytest.mark.parametrize("activation", MANUAL_ACTIVATIONS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_plain_mlp_step_matches_autograd(dtype, activation, hidden, weighted):
    torch.manual_seed(0)
    net = QwertyNet(
        n_features=3,
        n_classes=4,
        hidden_layer_sizes=hidden,
        activation=activation,
        dtype=dtype,
    )
    assert PlainMLPStep.supports(net)
    # Spread the inputs so that relu6 saturates and negative parts occur.
    x = 4 * torch.randn(29, 3, dtype=dtype)
    y = torch.randint(0, 4, (29,))
    weight = torch.rand(29, dtype=dtype) * 2 if weighted else None

    ref_net = copy.deepcopy(net)
    ref_logits, ref_grads = _autograd_reference(ref_net, x, y, weight)

    step = PlainMLPStep(net)
    with torch.no_grad():
        logits = step(x, y, weight)
    torch.testing.assert_close(logits, ref_logits)
    for (name, param), ref_grad in zip(net.named_parameters(), ref_grads, strict=True):
        assert param.grad is not None, name
        torch.testing.assert_close(param.grad, ref_grad, msg=name)


def test_plain_mlp_step_overwrites_gradients_each_call():
    torch.manual_seed(0)
    net = QwertyNet(n_features=2, n_classes=3, hidden_layer_sizes=(5,))
    step = PlainMLPStep(net)
    x, y = torch.randn(10, 2), torch.randint(0, 3, (10,))
    with torch.no_grad():
        step(x, y)
        first = [p.grad.clone() for p in net.parameters()]
        step(x, y)
    # Same batch twice: the gradient is replaced, not accumulated.
    for param, grad in zip(net.parameters(), first, strict=True):
        torch.testing.assert_close(param.grad, grad)


def test_plain_mlp_step_handles_changing_batch_sizes():
    torch.manual_seed(0)
    net = QwertyNet(n_features=2, n_classes=3, hidden_layer_sizes=(5,))
    step = PlainMLPStep(net)
    for n in (16, 3, 16, 1):
        x, y = torch.randn(n, 2), torch.randint(0, 3, (n,))
        ref = copy.deepcopy(net)
        _, ref_grads = _autograd_reference(ref, x, y, None)
        with torch.no_grad():
            step(x, y)
        for param, ref_grad in zip(net.parameters(), ref_grads, strict=True):
            torch.testing.assert_close(param.grad, ref_grad)


@pytest.mark.parametrize(
    "net",
    [
        QwertyNet(batch_norm=True),
        QwertyNet(dropout=0.1),
        QwertyNet(batch_norm=True, dropout=0.1),
        QwertyNet(activation="selu"),
        nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3)),
    ],
    ids=["batch_norm", "dropout", "both", "selu", "plain_sequential"],
)
def test_plain_mlp_step_does_not_support(net):
    assert not PlainMLPStep.supports(net)


@pytest.mark.parametrize("activation", MANUAL_ACTIVATIONS)
def test_plain_mlp_step_supports_plain_nets(activation):
    assert PlainMLPStep.supports(QwertyNet(activation=activation))
    assert PlainMLPStep.supports(
        QwertyNet(hidden_layer_sizes=(), activation=activation)
    )


def _param_pair(dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    shapes = [(5, 3), (5,), (4, 5), (4,)]
    a = [nn.Parameter(torch.randn(s, generator=gen, dtype=dtype)) for s in shapes]
    b = [nn.Parameter(p.detach().clone()) for p in a]
    for p in (*a, *b):
        p.grad = torch.zeros_like(p)
    return a, b


def _set_grads(params_a, params_b, gen):
    for pa, pb in zip(params_a, params_b, strict=True):
        g = torch.randn(pa.shape, generator=gen, dtype=pa.dtype)
        # In place: the training loop keeps the same `.grad` tensors.
        pa.grad.copy_(g)
        pb.grad.copy_(g)


def _assert_bitwise_equal(params_a, params_b):
    for pa, pb in zip(params_a, params_b, strict=True):
        assert torch.equal(pa, pb), (pa - pb).abs().max()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"weight_decay": 0.1},
        {"weight_decay": 0.01, "betas": (0.8, 0.95), "eps": 1e-6},
        {"maximize": True, "weight_decay": 0.05},
    ],
    ids=["default", "weight_decay", "betas_eps", "maximize"],
)
@pytest.mark.parametrize("optimizer", [torch.optim.Adam, torch.optim.AdamW])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lean_step_is_bitwise_optimizer_step(optimizer, kwargs, dtype):
    params_a, params_b = _param_pair(dtype)
    opt_a = optimizer(params_a, lr=0.01, fused=True, **kwargs)
    opt_b = optimizer(params_b, lr=0.01, fused=True, **kwargs)
    step = lean_step(opt_b)
    assert step != opt_b.step  # the lean path, not the fallback
    gen = torch.Generator().manual_seed(1)
    for _ in range(7):
        _set_grads(params_a, params_b, gen)
        opt_a.step()
        step()
        _assert_bitwise_equal(params_a, params_b)
    # The optimizer's own state follows, so a later ordinary step still agrees.
    for pa, pb in zip(params_a, params_b, strict=True):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(opt_a.state[pa][key], opt_b.state[pb][key]), key
    _set_grads(params_a, params_b, gen)
    opt_a.step()
    opt_b.step()
    _assert_bitwise_equal(params_a, params_b)


def test_lean_step_with_several_param_groups():
    params_a, params_b = _param_pair()
    opt_a = torch.optim.AdamW(
        [{"params": params_a[:2]}, {"params": params_a[2:], "lr": 0.1}],
        lr=0.01,
        fused=True,
    )
    opt_b = torch.optim.AdamW(
        [{"params": params_b[:2]}, {"params": params_b[2:], "lr": 0.1}],
        lr=0.01,
        fused=True,
    )
    step = lean_step(opt_b)
    gen = torch.Generator().manual_seed(1)
    for _ in range(4):
        _set_grads(params_a, params_b, gen)
        opt_a.step()
        step()
    _assert_bitwise_equal(params_a, params_b)


@pytest.mark.parametrize("optimizer", [torch.optim.Adam, torch.optim.AdamW])
def test_lean_step_follows_lr_scheduler(optimizer):
    params_a, params_b = _param_pair()
    opt_a = optimizer(params_a, lr=0.05, fused=True, weight_decay=0.01)
    opt_b = optimizer(params_b, lr=0.05, fused=True, weight_decay=0.01)
    sched_a = StepLR(opt_a, step_size=1, gamma=0.5)
    sched_b = StepLR(opt_b, step_size=1, gamma=0.5)
    step = lean_step(opt_b)
    gen = torch.Generator().manual_seed(1)
    lrs = []
    for _ in range(6):
        _set_grads(params_a, params_b, gen)
        opt_a.step()
        step()
        sched_a.step()
        sched_b.step()
        lrs.append(opt_b.param_groups[0]["lr"])
        _assert_bitwise_equal(params_a, params_b)
    assert lrs == pytest.approx([0.05 * 0.5**k for k in range(1, 7)])


def test_lean_step_sees_zero_lr():
    params_a, params_b = _param_pair()
    opt = torch.optim.Adam(params_b, lr=0.05, fused=True)
    step = lean_step(opt)
    gen = torch.Generator().manual_seed(1)
    _set_grads(params_a, params_b, gen)
    step()
    before = [p.detach().clone() for p in params_b]
    opt.param_groups[0]["lr"] = 0.0
    for _ in range(3):
        _set_grads(params_a, params_b, gen)
        step()
    _assert_bitwise_equal(before, params_b)


def _fallback_cases():
    def params():
        p = nn.Parameter(torch.ones(3))
        p.grad = torch.ones(3)
        return [p]

    return [
        ("sgd", lambda: torch.optim.SGD(params(), lr=0.1, fused=True)),
        ("rmsprop", lambda: torch.optim.RMSprop(params(), lr=0.1)),
        ("adam_not_fused", lambda: torch.optim.Adam(params(), lr=0.1)),
        (
            "amsgrad",
            lambda: torch.optim.Adam(params(), lr=0.1, amsgrad=True, fused=True),
        ),
        (
            "adamw_amsgrad",
            lambda: torch.optim.AdamW(params(), lr=0.1, amsgrad=True, fused=True),
        ),
    ]


@pytest.mark.parametrize(
    "make", [m for _, m in _fallback_cases()], ids=[n for n, _ in _fallback_cases()]
)
def test_lean_step_falls_back_to_optimizer_step(make):
    opt = make()
    step = lean_step(opt)
    assert step == opt.step
    before = opt.param_groups[0]["params"][0].detach().clone()
    step()
    assert not torch.equal(before, opt.param_groups[0]["params"][0])


def test_lean_step_falls_back_with_optimizer_hooks():
    params_a, _ = _param_pair()
    opt = torch.optim.Adam(params_a, lr=0.1, fused=True)
    calls = []
    handle = opt.register_step_post_hook(lambda *args: calls.append(1))
    try:
        step = lean_step(opt)
        assert step == opt.step
        step()
        assert calls == [1]
    finally:
        handle.remove()
    pre = opt.register_step_pre_hook(lambda *args: None)
    try:
        assert lean_step(opt) == opt.step
    finally:
        pre.remove()


def test_lean_step_falls_back_with_global_hooks():
    params_a, _ = _param_pair()
    opt = torch.optim.Adam(params_a, lr=0.1, fused=True)
    calls = []
    handle = register_optimizer_step_post_hook(lambda *args: calls.append(1))
    try:
        step = lean_step(opt)
        assert step == opt.step
        step()
    finally:
        handle.remove()
    assert calls == [1]
    assert lean_step(opt) != opt.step


def test_lean_step_falls_back_without_gradients():
    p = nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([p], lr=0.1, fused=True)
    assert lean_step(opt) == opt.step


def _dataset(n, weights=True):
    X = torch.arange(n, dtype=torch.float32).unsqueeze(1).repeat(1, 2)
    y = torch.arange(n)
    w = torch.arange(n, dtype=torch.float32) if weights else None
    return TensorDataset(X, y, w)


def test_tensor_dataset():
    data = _dataset(5)
    assert len(data) == 5
    xi, yi = data[3]
    assert xi.tolist() == [3.0, 3.0]
    assert yi.item() == 3
    assert len(data.tensors()) == 3
    assert len(_dataset(5, weights=False).tensors()) == 2
    no_y = TensorDataset(torch.zeros(4, 2))
    assert len(no_y.tensors()) == 1
    assert no_y[0][1].item() == 0


@pytest.mark.parametrize(
    ("n", "batch_size", "sizes"),
    [
        (10, 4, [4, 4, 2]),
        (8, 4, [4, 4]),
        (3, 16, [3]),
        (17, 16, [16, 1]),
        (5, 1, [1, 1, 1, 1, 1]),
    ],
)
@pytest.mark.parametrize("shuffle", [False, True])
def test_tensor_batches_sizes(n, batch_size, sizes, shuffle):
    batches = TensorBatches(
        _dataset(n),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(0),
    )
    assert len(batches) == len(sizes)
    got = [tuple(len(t) for t in batch) for batch in batches]
    assert got == [(s, s, s) for s in sizes]


def test_tensor_batches_without_shuffle_keep_order():
    batches = list(TensorBatches(_dataset(10), batch_size=3))
    y = torch.cat([b[1] for b in batches])
    assert y.tolist() == list(range(10))
    assert all(len(b) == 3 for b in batches)
    unweighted = list(TensorBatches(_dataset(10, weights=False), batch_size=3))
    assert all(len(b) == 2 for b in unweighted)


def test_tensor_batches_shuffle_permutes_rows_consistently():
    n = 50
    batches = TensorBatches(
        _dataset(n),
        batch_size=8,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    xs, ys, ws = (torch.cat(t) for t in zip(*batches, strict=True))
    # Every row keeps its X, y and weight together.
    assert torch.equal(xs[:, 0].long(), ys)
    assert torch.equal(xs[:, 1].long(), ys)
    assert torch.equal(ws.long(), ys)
    # A permutation of all rows, but not the identity.
    assert sorted(ys.tolist()) == list(range(n))
    assert ys.tolist() != list(range(n))


def test_tensor_batches_seeded_reproducible():
    def orders(seed, passes=2):
        batches = TensorBatches(
            _dataset(40),
            batch_size=7,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )
        return [torch.cat([b[1] for b in batches]).tolist() for _ in range(passes)]

    first, second = orders(0)
    assert orders(0) == [first, second]
    assert first != second  # a new order every pass
    assert orders(1)[0] != first


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 200),
    batch_size=st.integers(1, 64),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_tensor_batches_cover_every_row_once(n, batch_size, shuffle, seed):
    batches = TensorBatches(
        _dataset(n),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed),
    )
    sizes = [len(b[1]) for b in batches]
    assert len(sizes) == len(batches) == math.ceil(n / batch_size)
    assert all(size == batch_size for size in sizes[:-1])
    assert 1 <= sizes[-1] <= batch_size
    ys = torch.cat([b[1] for b in batches])
    assert sorted(ys.tolist()) == list(range(n))


def test_tensor_batches_do_not_modify_the_dataset():
    data = _dataset(20)
    snapshot = [t.clone() for t in data.tensors()]
    for _ in TensorBatches(data, batch_size=3, shuffle=True):
        pass
    for t, s in zip(data.tensors(), snapshot, strict=True):
        assert torch.equal(t, s)


def test_training_threads_small_batches_use_one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with training_threads(16, (2, 8, 3)):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with training_threads(4096, (20, 64, 64, 10)):
            assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="boom"), training_threads(16, (2, 3)):
            raise RuntimeError("boom")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def _xy32(n=60, seed=0):
    X = np.random.RandomState(seed).normal(size=(n, 2)).astype("float32")
    y = (X[:, 0] > 0).astype("int64")
    return X, y


def test_skorch_net_fast_path_records_epoch_stats():
    X, y = _xy32()
    data = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    net = QwertySkorchNet(
        QwertyNet,
        module__n_classes=2,
        criterion=nn.CrossEntropyLoss,
        max_epochs=3,
        batch_size=16,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )
    net.fit(data, None)
    assert len(net.history) == 3
    for row in net.history:
        assert row["train_batch_count"] == 4
        assert 0.0 <= row["train_acc"] <= 1.0
        assert row["train_loss"] > 0


def test_skorch_net_accepts_tensors():
    # QwertySkorchNet.get_dataset wraps tensors in a TensorDataset; fitting
    # them must not depend on the caller passing `iterator_train__shuffle`.
    X, y = _xy32()
    net = QwertySkorchNet(
        QwertyNet,
        module__n_classes=2,
        criterion=nn.CrossEntropyLoss,
        max_epochs=2,
        train_split=None,
        verbose=0,
    )
    net.fit(torch.from_numpy(X), torch.from_numpy(y))
    assert len(net.history) == 2
    assert net.history[-1]["train_loss"] > 0


def test_skorch_net_predicts_on_tensors():
    # skorch's inference (and EpochScoring without caching) iterates over a
    # TensorDataset without targets.
    X, y = _xy32()
    net = QwertySkorchNet(
        QwertyNet,
        module__n_classes=2,
        max_epochs=2,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )
    net.fit(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), None)
    proba = net.predict_proba(torch.from_numpy(X))
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba, net.predict_proba(X), rtol=1e-6)


def test_skorch_net_generic_path_records_epoch_losses():
    # Non-tensor data goes through skorch's own epoch; the epoch-level losses
    # must still be in the history (EarlyStopping, PrintLog, ... read them).
    X, y = _xy32()
    net = QwertySkorchNet(
        QwertyNet, module__n_classes=2, max_epochs=2, train_split=None, verbose=0
    )
    net.fit(X, y)
    assert len(net.history) == 2
    assert all("train_loss" in row for row in net.history)


def test_history_has_train_and_valid_stats_every_epoch(blobs):
    X, y, X_val, y_val = blobs
    clf = QwertyClassifier(max_epochs=6, random_state=0)
    clf.fit(X, y, validation_data=(X_val, y_val))
    assert len(clf.history_) == 6 == clf.n_iter_
    for epoch, row in enumerate(clf.history_, start=1):
        assert row["epoch"] == epoch
        for key in ("train_loss", "train_acc", "valid_loss", "valid_acc"):
            assert key in row, (epoch, key)
            assert math.isfinite(row[key])
        assert 0 <= row["train_acc"] <= 1 and 0 <= row["valid_acc"] <= 1
        assert isinstance(row["train_loss_best"], bool)
        assert isinstance(row["valid_loss_best"], bool)
    # The last epoch's validation numbers are those of the fitted model.
    last = clf.history_[-1]
    assert last["valid_acc"] == accuracy_score(y_val, clf.predict(X_val))
    assert last["valid_loss"] == pytest.approx(
        _log_loss(clf.predict_proba(X_val), y_val), rel=1e-5
    )
    # Training made progress.
    assert clf.history_[-1, "train_loss"] < clf.history_[0, "train_loss"]


def test_train_loss_is_the_mean_over_all_rows():
    # With a vanishing learning rate the weights do not move, so the epoch's
    # train_loss must equal the mean cross-entropy of the final model over
    # every row (the last, partial batch counted by its size).
    X, y = make_blobs(n_samples=50, centers=3, random_state=1)
    clf = QwertyClassifier(
        optimizer="sgd", lr=1e-30, batch_size=16, max_epochs=2, random_state=0
    ).fit(X, y)
    proba = clf.predict_proba(X)
    assert clf.history_[-1, "train_batch_count"] == 4
    assert clf.history_[-1, "train_loss"] == pytest.approx(
        _log_loss(proba, y), rel=1e-5
    )
    assert clf.history_[-1, "train_acc"] == accuracy_score(y, clf.predict(X))


def test_no_validation_columns_without_validation(blobs):
    X, y, _, _ = blobs
    clf = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
    assert all("valid_loss" not in row for row in clf.history_)
    assert all("train_loss" in row for row in clf.history_)
    losses = clf.history_[:, "train_loss"]
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1


class _SplitRecorder(Callback):
    """Remember the class counts of the train and validation sets."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.sizes_ = []

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self.train_counts_ = np.bincount(dataset_train.y.cpu().numpy())
        self.valid_counts_ = np.bincount(dataset_valid.y.cpu().numpy())
        self.valid_X_ = dataset_valid.X.cpu().numpy().copy()


def _recorder(clf, name):
    return dict(clf.net_.callbacks_)[name]


def test_validation_fraction_is_stratified_and_seeded():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2))
    y = np.r_[np.zeros(150, int), np.ones(50, int)]
    X[y == 1] += 3

    def fit(seed):
        return QwertyClassifier(
            max_epochs=2,
            validation_fraction=0.2,
            callbacks=[("split", _SplitRecorder())],
            random_state=seed,
        ).fit(X, y)

    clf = fit(0)
    rec = _recorder(clf, "split")
    assert rec.valid_counts_.tolist() == [30, 10]
    assert rec.train_counts_.tolist() == [120, 40]
    assert all("valid_loss" in row and "valid_acc" in row for row in clf.history_)
    assert np.array_equal(_recorder(fit(0), "split").valid_X_, rec.valid_X_)
    assert not np.array_equal(_recorder(fit(1), "split").valid_X_, rec.valid_X_)


def test_validation_data_overrides_validation_fraction(blobs):
    X, y, X_val, y_val = blobs
    clf = QwertyClassifier(
        max_epochs=1,
        validation_fraction=0.5,
        callbacks=[("split", _SplitRecorder())],
        random_state=0,
    ).fit(X, y, validation_data=(X_val, y_val))
    rec = _recorder(clf, "split")
    assert rec.train_counts_.sum() == len(X)
    np.testing.assert_array_equal(rec.valid_X_, X_val.astype(np.float32))
    assert clf.history_[-1, "train_batch_count"] == math.ceil(len(X) / 16)


def test_early_stopping_holds_out_a_tenth_by_default(blobs):
    X, y, _, _ = blobs
    clf = QwertyClassifier(
        max_epochs=2,
        early_stopping=True,
        callbacks=[("split", _SplitRecorder())],
        random_state=0,
    ).fit(X, y)
    rec = _recorder(clf, "split")
    assert rec.valid_counts_.sum() == len(X) // 10
    assert rec.train_counts_.sum() == len(X) - len(X) // 10


def test_callbacks_given_are_not_mutated():
    recorder = _SplitRecorder()
    X, y = make_blobs(n_samples=60, centers=2, random_state=0)
    QwertyClassifier(
        max_epochs=1, validation_fraction=0.25, callbacks=[("split", recorder)]
    ).fit(X, y)
    assert not hasattr(recorder, "valid_counts_")


def test_early_stopping_stops_before_max_epochs(blobs):
    X, y, _, _ = blobs
    clf = QwertyClassifier(
        max_epochs=300,
        early_stopping=True,
        n_iter_no_change=3,
        tol=0.0,
        lr=0.05,
        random_state=0,
    ).fit(X, y)
    assert clf.n_iter_ < 300
    assert clf.n_iter_ == len(clf.history_)
    assert 1 <= clf.best_epoch_ <= clf.n_iter_
    # Stopped after `n_iter_no_change` epochs without improvement.
    assert clf.n_iter_ - clf.best_epoch_ == 3
    losses = clf.history_[:, "valid_loss"]
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1
    assert clf.score(X, y) > 0.95


@pytest.mark.parametrize("tol", [0.0, 0.02])
def test_early_stopping_keeps_the_weights_of_best_epoch(tol):
    # `best_epoch_` is documented as the epoch whose weights are kept; the
    # kept model's validation loss must be the one recorded at that epoch.
    rs = np.random.RandomState(42)
    means = [(2, 1), (-2, 1), (0, -3)]
    X = np.vstack([rs.multivariate_normal(m, np.eye(2), 100) for m in means])
    y = np.repeat([0, 1, 2], 100)
    X_val = np.vstack([rs.multivariate_normal(m, np.eye(2), 40) for m in means])
    y_val = np.repeat([0, 1, 2], 40)
    clf = QwertyClassifier(
        early_stopping=True,
        n_iter_no_change=4,
        tol=tol,
        max_epochs=60,
        random_state=0,
    ).fit(X, y, validation_data=(X_val, y_val))
    assert clf.n_iter_ < 60
    kept = _log_loss(clf.predict_proba(X_val), y_val)
    assert kept == pytest.approx(
        clf.history_[clf.best_epoch_ - 1, "valid_loss"], rel=1e-5
    )


def test_early_stopping_uses_validation_data_when_given(blobs):
    X, y, X_val, y_val = blobs
    clf = QwertyClassifier(
        max_epochs=200, early_stopping=True, n_iter_no_change=2, random_state=0
    ).fit(X, y, validation_data=(X_val, y_val))
    assert clf.n_iter_ < 200
    assert "valid_loss" in clf.history_[-1]


def test_skorch_early_stopping_callback(blobs):
    X, y, _, _ = blobs
    clf = QwertyClassifier(
        max_epochs=20,
        callbacks=[
            EarlyStopping(
                monitor="train_loss", patience=2, threshold=10.0, threshold_mode="abs"
            )
        ],
        random_state=0,
    ).fit(X, y)
    # Epoch 1 improves on infinity; epochs 2 and 3 cannot improve by 10.
    assert clf.n_iter_ == 3


class _InitialParams(Callback):
    def on_train_begin(self, net, **kwargs):
        self.params_ = [p.detach().clone() for p in net.module_.parameters()]


def _max_param_change(clf):
    start = _recorder(clf, "init").params_
    return max(
        (p.detach() - p0).abs().max().item()
        for p, p0 in zip(clf.net_.module_.parameters(), start, strict=True)
    )


def test_lr_scheduler_per_epoch(blobs):
    X, y, _, _ = blobs
    clf = QwertyClassifier(
        lr=0.1,
        max_epochs=4,
        callbacks=[LRScheduler(policy=StepLR, step_size=1, gamma=0.5)],
        random_state=0,
    ).fit(X, y)
    assert clf.history_[:, "event_lr"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    assert clf.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**4)


def test_lr_scheduler_per_epoch_changes_training(blobs):
    # The learning rate drops to 0 after the first epoch: the remaining
    # epochs must leave the weights exactly as they were after epoch 1.
    X, y, _, _ = blobs

    def fit(epochs):
        return QwertyClassifier(
            max_epochs=epochs,
            callbacks=[LRScheduler(policy=LambdaLR, lr_lambda=lambda e: float(e == 0))],
            random_state=0,
        ).fit(X, y)

    one, three = fit(1), fit(3)
    assert three.net_.optimizer_.param_groups[0]["lr"] == 0.0
    np.testing.assert_array_equal(one.predict_proba(X), three.predict_proba(X))


def test_lr_scheduler_per_batch(blobs):
    X, y, _, _ = blobs
    X, y = X[:64], y[:64]
    clf = QwertyClassifier(
        lr=0.01,
        batch_size=16,
        max_epochs=2,
        callbacks=[
            LRScheduler(policy=StepLR, step_size=1, gamma=0.9, step_every="batch")
        ],
        random_state=0,
    ).fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01 * 0.9**8)
    batch_lrs = [b["event_lr"] for row in clf.history_ for b in row["batches"]]
    assert batch_lrs == pytest.approx([0.01 * 0.9**k for k in range(8)])


def test_lr_scheduler_per_batch_changes_training(blobs):
    # lr drops to 0 after the first batch: one Adam step moves each weight by
    # at most lr, whatever the number of batches.
    X, y, _, _ = blobs
    lr = 0.01
    clf = QwertyClassifier(
        lr=lr,
        batch_size=16,
        max_epochs=2,
        callbacks=[
            ("init", _InitialParams()),
            LRScheduler(
                policy=LambdaLR, lr_lambda=lambda i: float(i == 0), step_every="batch"
            ),
        ],
        random_state=0,
    ).fit(X, y)
    change = _max_param_change(clf)
    assert 0.5 * lr < change <= lr * (1 + 1e-5)


def test_checkpoint_writes_files(tmp_path, blobs):
    X, y, X_val, y_val = blobs
    checkpoint = Checkpoint(monitor="valid_loss_best", dirname=str(tmp_path / "cp"))
    clf = QwertyClassifier(max_epochs=3, callbacks=[checkpoint], random_state=0)
    clf.fit(X, y, validation_data=(X_val, y_val))
    files = {p.name for p in (tmp_path / "cp").iterdir()}
    assert {"params.pt", "optimizer.pt", "history.json"} <= files
    assert any(row["event_cp"] for row in clf.history_)
    # The saved parameters load back into the fitted net.
    proba = clf.predict_proba(X_val)
    fitted = dict(clf.net_.callbacks_)
    name = next(k for k, v in fitted.items() if isinstance(v, Checkpoint))
    clf.net_.load_params(checkpoint=fitted[name])
    best = int(np.flatnonzero(clf.history_[:, "event_cp"])[-1]) + 1
    if best == clf.n_iter_:
        np.testing.assert_allclose(clf.predict_proba(X_val), proba)


def test_checkpoint_on_train_loss_without_validation(tmp_path, blobs):
    X, y, _, _ = blobs
    checkpoint = Checkpoint(monitor="train_loss_best", dirname=str(tmp_path))
    QwertyClassifier(max_epochs=2, callbacks=[checkpoint], random_state=0).fit(X, y)
    assert (tmp_path / "params.pt").stat().st_size > 0
    assert (tmp_path / "history.json").stat().st_size > 0


def test_progress_bar(capsys, blobs):
    X, y, X_val, y_val = blobs
    clf = QwertyClassifier(max_epochs=2, verbose=2, random_state=0)
    clf.fit(X, y, validation_data=(X_val, y_val))
    assert clf.n_iter_ == 2
    captured = capsys.readouterr()
    # The epoch table goes to stdout, the progress bar (tqdm) to stderr.
    assert "train_loss" in captured.out
    assert "it/s" in captured.err and "it/s" not in captured.out


def test_progress_bar_as_extra_callback(capsys, blobs):
    X, y, _, _ = blobs
    clf = QwertyClassifier(
        max_epochs=2, callbacks=[ProgressBar()], verbose=0, random_state=0
    ).fit(X, y)
    assert clf.n_iter_ == 2
    captured = capsys.readouterr()
    assert "it/s" in captured.err
    assert captured.out == ""  # verbose=0: no epoch table


def test_epoch_scoring_custom_callable(blobs):
    X, y, X_val, y_val = blobs

    def my_accuracy(net, X, y):
        return accuracy_score(y, net.predict(X))

    clf = QwertyClassifier(
        max_epochs=4,
        callbacks=[
            EpochScoring(my_accuracy, name="my_valid_acc", lower_is_better=False),
            EpochScoring(
                my_accuracy, name="my_train_acc", lower_is_better=False, on_train=True
            ),
        ],
        random_state=0,
    ).fit(X, y, validation_data=(X_val, y_val))
    for row in clf.history_:
        assert row["my_valid_acc"] == pytest.approx(row["valid_acc"])
        assert row["my_train_acc"] == pytest.approx(row["train_acc"])
        assert "my_valid_acc_best" in row


def test_epoch_scoring_without_caching(blobs):
    X, y, X_val, y_val = blobs
    clf = QwertyClassifier(
        max_epochs=3,
        callbacks=[
            EpochScoring(
                "accuracy", name="sk_acc", lower_is_better=False, use_caching=False
            )
        ],
        random_state=0,
    ).fit(X, y, validation_data=(X_val, y_val))
    assert len(clf.history_[:, "sk_acc"]) == 3
    assert clf.history_[-1, "sk_acc"] == pytest.approx(clf.score(X_val, y_val))


@pytest.mark.parametrize("batch_norm", [False, True], ids=["manual", "autograd"])
def test_gradient_norm_clipping(batch_norm, blobs):
    # With SGD the update is lr * gradient: clipping the gradient norm to a
    # tiny value bounds how far any weight can move.
    X, y, _, _ = blobs
    lr, clip, epochs = 0.1, 1e-4, 2
    n_steps = epochs * math.ceil(len(X) / 16)

    def fit(callbacks):
        return QwertyClassifier(
            optimizer="sgd",
            lr=lr,
            batch_norm=batch_norm,
            max_epochs=epochs,
            callbacks=[("init", _InitialParams()), *callbacks],
            random_state=0,
        ).fit(X, y)

    clipped = fit([GradientNormClipping(gradient_clip_value=clip)])
    assert 0 < _max_param_change(clipped) <= lr * clip * n_steps * (1 + 1e-4)
    assert _max_param_change(fit([])) > 10 * lr * clip * n_steps


class _GradSpy(Callback):
    def initialize(self):
        self.norms_ = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.norms_.append(sum(p.grad.norm().item() for _, p in named_parameters))


@pytest.mark.parametrize("batch_norm", [False, True], ids=["manual", "autograd"])
def test_on_grad_computed_sees_gradients(batch_norm, blobs):
    X, y, _, _ = blobs
    clf = QwertyClassifier(
        max_epochs=2,
        batch_norm=batch_norm,
        callbacks=[("spy", _GradSpy())],
        random_state=0,
    ).fit(X, y)
    norms = _recorder(clf, "spy").norms_
    assert len(norms) == 2 * math.ceil(len(X) / 16)
    assert all(n > 0 for n in norms)


class _BatchCounter(Callback):
    def initialize(self):
        self.begin_ = self.end_ = 0
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        self.begin_ += training

    def on_batch_end(self, net, training=False, **kwargs):
        self.end_ += training


def test_batch_hooks_are_called_for_every_batch(blobs):
    X, y, X_val, y_val = blobs
    clf = QwertyClassifier(
        max_epochs=3, callbacks=[("count", _BatchCounter())], random_state=0
    ).fit(X, y, validation_data=(X_val, y_val))
    counter = _recorder(clf, "count")
    assert counter.begin_ == counter.end_ == 3 * math.ceil(len(X) / 16)
    for row in clf.history_:
        train_batches = [b for b in row["batches"] if "train_loss" in b]
        assert len(train_batches) == row["train_batch_count"]


@pytest.mark.parametrize(
    "params",
    [
        {"batch_norm": True},
        {"dropout": 0.2},
        {"batch_norm": True, "dropout": 0.1, "hidden_layer_sizes": (16, 8)},
        {"activation": "selu"},
    ],
    ids=["batch_norm", "dropout", "both", "selu"],
)
def test_autograd_path_trains_well(params, blobs):
    X, y, X_val, y_val = blobs
    clf = QwertyClassifier(max_epochs=15, random_state=0, **params).fit(X, y)
    assert not PlainMLPStep.supports(clf.net_.module_)
    assert clf.score(X_val, y_val) >= 0.95
    # Dropout / batch norm are in eval mode at predict time: deterministic.
    np.testing.assert_array_equal(clf.predict_proba(X_val), clf.predict_proba(X_val))


def test_manual_and_autograd_paths_agree():
    # Same data and weights: the hand-written gradients give the same model
    # (up to rounding) as autograd, which an `on_grad_computed` hook forces.
    X, y = make_blobs(n_samples=100, centers=3, random_state=3)

    class _NoOp(Callback):
        def on_grad_computed(self, net, named_parameters, **kwargs):
            pass

    def fit(callbacks):
        return QwertyClassifier(
            max_epochs=3, dtype="float64", callbacks=callbacks, random_state=0
        ).fit(X, y)

    manual = fit([])
    with_hook = fit([_NoOp()])
    np.testing.assert_allclose(manual.predict_proba(X), with_hook.predict_proba(X))


def test_verbose_0_prints_nothing(capsys, blobs):
    X, y, X_val, y_val = blobs
    QwertyClassifier(max_epochs=3, verbose=0, random_state=0).fit(
        X, y, validation_data=(X_val, y_val)
    )
    QwertyClassifier(
        max_epochs=50, early_stopping=True, n_iter_no_change=1, verbose=0
    ).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_verbose_1_prints_an_epoch_table(capsys, blobs):
    X, y, X_val, y_val = blobs
    QwertyClassifier(max_epochs=3, verbose=1, random_state=0).fit(
        X, y, validation_data=(X_val, y_val)
    )
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    header = lines[0].split()
    for column in ("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc"):
        assert column in header
    rows = [line.split() for line in lines[2:]]
    assert [row[0] for row in rows] == ["1", "2", "3"]


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("optimizer", [torch.optim.Adam, torch.optim.AdamW])
def test_lean_step_bitwise_on_cuda(optimizer):
    params_a, params_b = _param_pair()
    params_a = [nn.Parameter(p.detach().cuda()) for p in params_a]
    params_b = [nn.Parameter(p.detach().cuda()) for p in params_b]
    for p in (*params_a, *params_b):
        p.grad = torch.zeros_like(p)
    opt_a = optimizer(params_a, lr=0.01, fused=True, weight_decay=0.1)
    opt_b = optimizer(params_b, lr=0.01, fused=True, weight_decay=0.1)
    step = lean_step(opt_b)
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        for pa, pb in zip(params_a, params_b, strict=True):
            g = torch.randn(pa.shape, generator=gen).cuda()
            pa.grad.copy_(g)
            pb.grad.copy_(g)
        opt_a.step()
        step()
        _assert_bitwise_equal(params_a, params_b)


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("activation", MANUAL_ACTIVATIONS)
def test_plain_mlp_step_matches_autograd_on_cuda(activation):
    torch.manual_seed(0)
    net = QwertyNet(
        n_features=3, n_classes=4, hidden_layer_sizes=(6, 5), activation=activation
    ).cuda()
    x = 4 * torch.randn(29, 3, device="cuda")
    y = torch.randint(0, 4, (29,), device="cuda")
    ref_net = copy.deepcopy(net)
    _, _, ref_grads = _autograd_reference(ref_net, x, y, None)
    with torch.no_grad():
        PlainMLPStep(net)(x, y)
    for param, ref_grad in zip(net.parameters(), ref_grads, strict=True):
        torch.testing.assert_close(param.grad, ref_grad)


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("params", [{}, {"batch_norm": True, "dropout": 0.1}])
def test_fit_on_cuda(params, blobs):
    X, y, X_val, y_val = blobs
    clf = QwertyClassifier(max_epochs=15, device="cuda", random_state=0, **params)
    clf.fit(X, y, validation_data=(X_val, y_val))
    assert clf.device_.type == "cuda"
    assert next(clf.net_.module_.parameters()).is_cuda
    assert clf.score(X_val, y_val) >= 0.95
    proba = clf.predict_proba(X_val)
    assert isinstance(proba, np.ndarray)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-6)
    again = QwertyClassifier(max_epochs=15, device="cuda", random_state=0, **params)
    again.fit(X, y, validation_data=(X_val, y_val))
    assert again.score(X_val, y_val) >= 0.95


@pytest.mark.cuda
@cuda
def test_device_auto_picks_cuda(blobs):
    X, y, _, _ = blobs
    clf = QwertyClassifier(max_epochs=2, device="auto", random_state=0).fit(X, y)
    assert clf.device_.type == "cuda"


def test_tensor_batches_gather_per_batch_for_large_data(monkeypatch):
    """Large data is gathered batch by batch, in the same order as small data."""
    X = torch.arange(40.0).reshape(20, 2)
    data = TensorDataset(X, torch.arange(20), torch.rand(20))

    def batches():
        gen = torch.Generator().manual_seed(3)
        return list(TensorBatches(data, batch_size=6, shuffle=True, generator=gen))

    copied = batches()
    monkeypatch.setattr(training_module, "COPY_PER_EPOCH_BYTES", 0)
    gathered = batches()
    assert [len(b[0]) for b in gathered] == [6, 6, 6, 2]
    for a, b in zip(copied, gathered, strict=True):
        for ta, tb in zip(a, b, strict=True):
            assert torch.equal(ta, tb)
    rows = torch.cat([b[1] for b in gathered])
    assert sorted(rows.tolist()) == list(range(20))
