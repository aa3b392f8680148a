"""The batched trainer reproduces serial QwertyClassifier fits."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from qwertyclf import QwertyClassifier
from qwertyclf._batched import batch_key, fit_batched
from qwertyclf.datasets import make_qwerty
from qwertyclf.training import BatchedTrainer


@pytest.fixture(scope="module")
def lecture():
    return make_qwerty(random_state=42)


def _max_weight_difference(a, b):
    sa, sb = a.net_.module_.state_dict(), b.net_.module_.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)


def _serial(estimator, X, y, rows, sample_weight=None):
    sw = None if sample_weight is None else sample_weight[rows]
    return clone(estimator).fit(X[rows], y[rows], sample_weight=sw)


def test_float64_weights_match_serial_fit(lecture):
    """Different lr, width, seed and fold per model; the serial fit is the anchor."""
    X, y = lecture
    # 899 rows: folds of unequal size, so some models skip the last step.
    X, y = X[:-1], y[:-1]
    folds = [train for train, _ in StratifiedKFold(5).split(X, y)]
    combos = [
        dict(lr=0.01, hidden_layer_sizes=(8,), random_state=0),
        dict(lr=0.05, hidden_layer_sizes=(4,), random_state=1),
        dict(lr=0.003, hidden_layer_sizes=(16,), random_state=7),
        dict(lr=0.02, hidden_layer_sizes=(8,), random_state=3, weight_decay=1e-3),
        dict(lr=0.01, hidden_layer_sizes=(5,), random_state=11, activation="tanh"),
        dict(lr=0.03, hidden_layer_sizes=(6,), random_state=2, activation="sigmoid"),
    ]
    estimators = [QwertyClassifier(dtype="float64", max_epochs=8, **c) for c in combos]
    folds = [folds[i % len(folds)] for i in range(len(combos))]
    state = torch.get_rng_state()
    threads = torch.get_num_threads()
    fitted = fit_batched(estimators, X, y, folds)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads
    worst = 0.0
    for est, rows, model in zip(estimators, folds, fitted, strict=True):
        serial = _serial(est, X, y, rows)
        worst = max(worst, _max_weight_difference(serial, model))
        assert model.n_iter_ == serial.n_iter_
        assert model.best_epoch_ == serial.best_epoch_
        np.testing.assert_allclose(
            model.history_[:, "train_loss"], serial.history_[:, "train_loss"], rtol=1e-9
        )
        np.testing.assert_allclose(
            model.history_[:, "train_acc"], serial.history_[:, "train_acc"]
        )
    print(f"largest weight difference from the serial fits: {worst:.3g}")
    assert worst < 1e-6, worst


@pytest.mark.parametrize(
    ("optimizer", "extra"),
    [
        ("adamw", dict(weight_decay=0.05, activation="tanh")),
        ("sgd", dict(weight_decay=0.01, lr=0.1, hidden_layer_sizes=(6, 5))),
        ("adam", dict(class_weight="balanced", activation="sigmoid")),
        ("adam", dict(shuffle=False, batch_size=7, activation="gelu")),
    ],
)
def test_optimizers_and_options_match_serial(lecture, optimizer, extra):
    X, y = lecture
    X, y = X[::3], y[::3]
    base = dict(dtype="float64", max_epochs=4, optimizer=optimizer, **extra)
    estimators = [
        QwertyClassifier(random_state=seed, **base).set_params(lr=lr)
        for seed, lr in ((0, base.get("lr", 0.01)), (5, 0.03))
    ]
    weight = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    rows = [np.arange(len(y)), np.arange(10, len(y))]
    fitted = fit_batched(estimators, X, y, rows, sample_weight=weight)
    for est, r, model in zip(estimators, rows, fitted, strict=True):
        serial = _serial(est, X, y, r, weight)
        assert _max_weight_difference(serial, model) < 1e-6


def test_many_learning_rates_use_the_batched_formula(lecture, monkeypatch):
    """More (lr, weight_decay) pairs than fused calls: the tensor formula runs."""
    from qwertyclf.training._batched import FUSED_MAX_CALLS, BatchedTrainer

    calls = {"formula": 0, "fused": 0}

    def counted(name, method):
        def update(self, *args, **kwargs):
            calls[name] += 1
            return method(self, *args, **kwargs)

        return update

    monkeypatch.setattr(
        BatchedTrainer,
        "_apply_update",
        counted("formula", BatchedTrainer._apply_update),
    )
    monkeypatch.setattr(
        BatchedTrainer,
        "_fused_update",
        counted("fused", BatchedTrainer._fused_update),
    )
    X, y = lecture
    X, y = X[::4], y[::4]
    lrs = np.geomspace(1e-3, 1e-1, FUSED_MAX_CALLS + 1)
    estimators = [
        QwertyClassifier(
            dtype="float64",
            max_epochs=3,
            lr=lr,
            optimizer=optimizer,
            weight_decay=0.01,
            hidden_layer_sizes=(3 + i % 4, 4),
            activation=("relu", "sigmoid", "elu")[i % 3],
            random_state=i,
        )
        for optimizer in ("adam", "adamw")
        for i, lr in enumerate(lrs)
    ]
    rows = [np.arange(len(y) - i) for i in range(len(estimators))]
    fitted = fit_batched(estimators, X, y, rows)
    # Every update of both runs (Adam, AdamW) went through the formula.
    assert calls["fused"] == 0
    assert calls["formula"] >= 2 * 3  # at least one step per epoch and run
    for est, r, model in zip(estimators, rows, fitted, strict=True):
        assert _max_weight_difference(_serial(est, X, y, r), model) < 1e-6


def test_early_stopping_matches_serial(lecture):
    X, y = lecture
    X, y = X[::2], y[::2]
    estimators = [
        QwertyClassifier(
            dtype="float64",
            max_epochs=60,
            early_stopping=True,
            n_iter_no_change=3,
            lr=lr,
            random_state=seed,
        )
        for lr, seed in ((0.05, 0), (0.002, 1), (0.2, 2))
    ]
    fitted = fit_batched(estimators, X, y)
    stopped = 0
    for est, model in zip(estimators, fitted, strict=True):
        serial = clone(est).fit(X, y)
        stopped += serial.n_iter_ < 60
        assert model.n_iter_ == serial.n_iter_
        assert model.best_epoch_ == serial.best_epoch_
        assert _max_weight_difference(serial, model) < 1e-6
        np.testing.assert_allclose(
            model.history_[:, "valid_loss"], serial.history_[:, "valid_loss"]
        )
    # Models stopped at different epochs, trained in one run.
    assert stopped >= 2
    assert len({m.n_iter_ for m in fitted}) > 1


def test_float32_predictions_match_serial(lecture):
    X, y = lecture
    estimators = [QwertyClassifier(max_epochs=3, random_state=s) for s in (0, 1)]
    fitted = fit_batched(estimators, X, y)
    for est, model in zip(estimators, fitted, strict=True):
        serial = clone(est).fit(X, y)
        assert _max_weight_difference(serial, model) < 1e-4
        assert np.mean(serial.predict(X) == model.predict(X)) > 0.99
        assert model.score(X, y) == pytest.approx(serial.score(X, y), abs=0.01)


def test_divergence_is_reported_per_model(lecture):
    X, y = lecture
    estimators = [
        QwertyClassifier(max_epochs=3, lr=lr, optimizer="sgd", random_state=0)
        for lr in (0.01, 1e6)
    ]
    good, bad = fit_batched(estimators, X, y)
    assert isinstance(good, QwertyClassifier)
    assert isinstance(bad, ValueError)
    with pytest.raises(ValueError, match="diverged") as serial:
        clone(estimators[1]).fit(X, y)
    assert str(bad) == str(serial.value)


def test_batch_key_refuses_what_it_cannot_reproduce():
    from skorch.callbacks import EpochScoring

    base = batch_key(QwertyClassifier())
    assert base is not None
    assert batch_key(QwertyClassifier(lr=0.5, hidden_layer_sizes=(3,))) == base
    assert batch_key(QwertyClassifier(hidden_layer_sizes=(3, 3))) != base
    for params in (
        dict(batch_norm=True),
        dict(dropout=0.1),
        dict(optimizer="rmsprop"),
        dict(activation="selu"),
        dict(callbacks=[EpochScoring("accuracy")]),
        dict(verbose=1),
    ):
        assert batch_key(QwertyClassifier(**params)) is None, params
    assert batch_key(object()) is None
    with pytest.raises(ValueError, match="batched"):
        fit_batched([QwertyClassifier(dropout=0.1)], [[0.0], [1.0]], [0, 1])


def test_classes_missing_from_some_rows_form_their_own_run(lecture):
    X, y = lecture
    two = np.flatnonzero(y != y[0])
    estimators = [QwertyClassifier(max_epochs=2, random_state=0)] * 2
    full, partial = fit_batched(estimators, X, y, [np.arange(len(y)), two])
    assert len(full.classes_) == 3
    assert len(partial.classes_) == 2


def test_a_model_whose_data_is_refused_fails_alone(lecture):
    X, y = lecture
    weight = np.ones(len(y))
    weight[::2] = 0.0
    estimators = [QwertyClassifier(max_epochs=2, random_state=0)] * 2
    rows = [np.arange(len(y)), np.arange(0, len(y), 2)]
    good, bad = fit_batched(estimators, X, y, rows, sample_weight=weight)
    assert isinstance(good, QwertyClassifier)
    with pytest.raises(ValueError) as serial:
        _serial(estimators[1], X, y, rows[1], weight)
    assert str(bad) == str(serial.value)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_runs_match_serial_cuda_fits(lecture):
    X, y = lecture
    estimators = [
        QwertyClassifier(
            dtype="float64", device="cuda", max_epochs=5, lr=lr, random_state=seed
        )
        for lr, seed in ((0.01, 0), (0.03, 1))
    ]
    state = torch.cuda.get_rng_state()
    fitted = fit_batched(estimators, X, y)
    assert torch.equal(torch.cuda.get_rng_state(), state)
    for est, model in zip(estimators, fitted, strict=True):
        assert model.device_.type == "cuda"
        assert _max_weight_difference(clone(est).fit(X, y), model) < 1e-6


def batched_runs(monkeypatch, setting):
    """The batched runs made from now on: each run's trainer class name and
    the value of `setting` in each of its specs."""
    runs = []
    run = BatchedTrainer.run

    def recorded(self):
        runs.append((type(self).__name__, [getattr(s, setting) for s in self.specs]))
        return run(self)

    monkeypatch.setattr(BatchedTrainer, "run", recorded)
    return runs


def _assert_same_history(batched, serial):
    """Row by row and batch by batch: the same keys, values equal in float64."""
    assert len(batched) == len(serial)
    for row_b, row_s in zip(batched, serial, strict=True):
        assert list(row_b) == list(row_s)
        for key in row_s:
            if key == "batches":
                assert len(row_b[key]) == len(row_s[key])
                for batch_b, batch_s in zip(row_b[key], row_s[key], strict=True):
                    assert batch_b.keys() == batch_s.keys()
                    for name, value in batch_s.items():
                        assert batch_b[name] == pytest.approx(value, rel=1e-9), name
            elif key != "dur":
                assert type(row_b[key]) is type(row_s[key]), key
                assert row_b[key] == pytest.approx(row_s[key], rel=1e-9), key


def _assert_same_optimizer(batched, serial):
    state_b = batched.net_.optimizer_.state_dict()
    state_s = serial.net_.optimizer_.state_dict()
    assert state_b["param_groups"] == state_s["param_groups"]
    assert state_b["state"].keys() == state_s["state"].keys()
    for index, entries in state_s["state"].items():
        assert state_b["state"][index].keys() == entries.keys()
        for name, value in entries.items():
            other = state_b["state"][index][name]
            assert other.dtype == value.dtype and other.device == value.device
            torch.testing.assert_close(other, value, rtol=1e-7, atol=1e-10)


def _assert_same_model(batched, serial, X):
    fitted = {name for name in vars(serial) if name.endswith("_")}
    assert {name for name in vars(batched) if name.endswith("_")} == fitted
    assert batched.n_iter_ == serial.n_iter_
    assert batched.best_epoch_ == serial.best_epoch_
    np.testing.assert_array_equal(batched.classes_, serial.classes_)
    assert _max_weight_difference(batched, serial) < 1e-9
    np.testing.assert_allclose(
        batched.predict_proba(X), serial.predict_proba(X), rtol=1e-9, atol=1e-12
    )
    _assert_same_history(batched.history_, serial.history_)


@pytest.mark.parametrize(
    "params",
    [
        dict(optimizer="adam", validation_fraction=0.2),
        dict(
            optimizer="adamw",
            weight_decay=0.01,
            early_stopping=True,
            n_iter_no_change=2,
            lr=0.1,
            max_epochs=30,
        ),
        dict(optimizer="sgd", lr=0.1, shuffle=False, batch_size=7),
    ],
    ids=["adam-validation", "adamw-early-stopping", "sgd-unshuffled"],
)
def test_batched_fit_is_a_serial_fit_field_by_field(lecture, params, tmp_path):
    """What a user can observe of a batch-fitted model is the serial fit's.

    Fitted attributes, history rows and batches, n_iter_ and best_epoch_,
    the optimizer's state, a warm-start continuation and a saved model.
    """
    X, y = lecture
    X, y = X[::3], y[::3]
    rows = np.arange(7, len(y))
    base = dict(dtype="float64", max_epochs=6, hidden_layer_sizes=(5,), lr=0.02)
    estimators = [
        QwertyClassifier(**{**base, **params, "random_state": seed}) for seed in (0, 3)
    ]
    fitted = fit_batched(estimators, X, y, [rows, rows[5:]])
    if params.get("early_stopping"):
        # One model finished while the other trained on: its optimizer and
        # row order must have stood still from then on.
        assert len({m.n_iter_ for m in fitted}) == 2
        assert max(m.n_iter_ for m in fitted) < params["max_epochs"]
    for est, model, r in zip(estimators, fitted, (rows, rows[5:]), strict=True):
        serial = _serial(est, X, y, r)
        _assert_same_model(model, serial, X)
        _assert_same_optimizer(model, serial)
        assert torch.equal(
            model.net_.generator_.get_state(), serial.net_.generator_.get_state()
        )
        # Saved and read back: the same model file content.
        loaded = [
            QwertyClassifier.load(m.save(tmp_path / f"{name}.qwerty"))
            for m, name in ((model, "batched"), (serial, "serial"))
        ]
        _assert_same_model(*loaded, X)
        # Continued: Adam's moments and step counts, and the row order, go on
        # where the first fit left them.
        for m in (model, serial):
            m.set_params(warm_start=True, max_epochs=3, early_stopping=False)
            m.fit(X[r], y[r])
        _assert_same_model(model, serial, X)
        _assert_same_optimizer(model, serial)


def test_epoch_means_are_np_average_bitwise():
    from qwertyclf.training._record import epoch_means, size_groups

    rng = np.random.default_rng(0)
    sizes = [[16] * n + [r] for n, r in ((40, 3), (40, 5), (12, 1), (0, 7))]
    values = rng.random((len(sizes), 41)) * 3
    means = epoch_means(values, size_groups(sizes))
    for k, weights in enumerate(sizes):
        expected = np.average(values[k, : len(weights)].tolist(), weights=weights)
        assert means[k] == expected  # bitwise, as the serial fit records it


def test_batched_runs_stay_in_this_process_when_workers_do_not_pay(
    lecture, monkeypatch
):
    # Two small runs (two depths) under joblib's default process backend:
    # worker processes would cost more than they save, so the runs are
    # trained here (a patched fit_batched sees them; in a worker it would
    # not), and the results are those of n_jobs=1.
    import qwertyclf.model_selection._search as search_module
    from qwertyclf.model_selection import BatchedGridSearchCV

    X, y = lecture
    runs = []

    def counting(estimators, *args, **kwargs):
        runs.append(len(estimators))
        return fit_batched(estimators, *args, **kwargs)

    monkeypatch.setattr(search_module, "fit_batched", counting)
    grid = {"hidden_layer_sizes": [(4,), (4, 4)], "lr": [0.01, 0.03]}
    estimator = QwertyClassifier(max_epochs=2, random_state=0)
    two = BatchedGridSearchCV(estimator, grid, cv=2, n_jobs=2).fit(X, y)
    assert runs == [4, 4]
    one = BatchedGridSearchCV(estimator, grid, cv=2, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(
        one.cv_results_["mean_test_score"], two.cv_results_["mean_test_score"]
    )


def test_long_batched_runs_are_spread_over_worker_processes(monkeypatch):
    import joblib

    from qwertyclf.model_selection import _search
    from qwertyclf.model_selection._search import (
        WARM_START_SECONDS,
        WORKER_START_SECONDS,
        _spread_runs,
    )

    monkeypatch.setattr(_search, "workers_running_for", lambda n_jobs: False)
    long = [4 * WORKER_START_SECONDS] * 2
    short = [WORKER_START_SECONDS / 2] * 2
    assert _spread_runs(long, n_jobs=2)
    assert not _spread_runs(short, n_jobs=2)
    assert not _spread_runs(long, n_jobs=1)
    assert not _spread_runs(long[:1], n_jobs=2)  # one run: nothing to share
    with joblib.parallel_backend("threading"):
        assert _spread_runs(short, n_jobs=2)  # other backends as configured
    # Running workers cost less: what saves more than their cost is sent.
    monkeypatch.setattr(_search, "workers_running_for", lambda n_jobs: True)
    assert _spread_runs(short, n_jobs=2)
    assert not _spread_runs([WARM_START_SECONDS / 2] * 2, n_jobs=2)
    assert not _spread_runs(long, n_jobs=1)


def test_running_workers_counts_joblibs_live_worker_processes():
    import joblib
    from joblib import Parallel, delayed
    from joblib.externals.loky import get_reusable_executor

    from qwertyclf.model_selection._workers import (
        running_workers,
        workers_running_for,
    )

    get_reusable_executor().shutdown(wait=True)
    assert running_workers() == 0
    assert not workers_running_for(2)
    Parallel(n_jobs=2)(delayed(abs)(i) for i in range(4))
    assert running_workers() == 2
    assert workers_running_for(2)
    assert not workers_running_for(1)  # no workers: nothing to reuse
    assert not workers_running_for(3)  # a third would have to start
    # Other thread limits: joblib would start new workers.
    with joblib.parallel_config(backend="loky", inner_max_num_threads=7):
        assert not workers_running_for(2)
    with joblib.parallel_config(backend="threading"):
        assert not workers_running_for(2)
    get_reusable_executor().shutdown(wait=True)
    assert running_workers() == 0
    assert not workers_running_for(2)
