"""Ctrl-C during training: what each estimator and the command line leave.

The interrupt is sent from a callback at a chosen epoch (or batch), where a
real Ctrl-C would raise it: inside skorch's training loop.
"""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, EarlyStopping

import qwertyclf._cv
from qwertyclf import (
    QwertyClassifier,
    QwertyClassifierCV,
    QwertyEnsembleClassifier,
    load_model,
)
from qwertyclf._interrupts import interrupts_propagate
from qwertyclf.cli import main
from qwertyclf.datasets import make_qwerty
from qwertyclf.model_selection import BatchedGridSearchCV, NotBatchedWarning
from qwertyclf.training import DivergenceGuard

X, y = make_qwerty(120, random_state=0)


class Interrupt(Callback):
    """Raise KeyboardInterrupt at the end of `epoch`, or at its `batch`-th batch."""

    def __init__(self, epoch, batch=None):
        self.epoch = epoch
        self.batch = batch

    def on_batch_end(self, net, training=False, **kwargs):
        if not training or self.batch is None:
            return
        batches = net.history[-1]["batches"]
        if len(net.history) == self.epoch and len(batches) == self.batch:
            raise KeyboardInterrupt

    def on_epoch_end(self, net, **kwargs):
        if self.batch is None and len(net.history) == self.epoch:
            raise KeyboardInterrupt


def classifier(**params):
    return QwertyClassifier(max_epochs=10, dtype="float64", random_state=0, **params)


def test_an_interrupted_fit_keeps_the_finished_epochs():
    clf = classifier(callbacks=[("stop", Interrupt(epoch=3))]).fit(X, y)
    assert clf.n_iter_ == 3 == len(clf.history_)
    assert clf.best_epoch_ == 3
    # The weights are those of a fit of exactly three epochs.
    three = QwertyClassifier(max_epochs=3, dtype="float64", random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), three.predict_proba(X))
    # (The callback's batch hook sends training through skorch's own loop,
    # which sums the epoch's loss in another order.)
    np.testing.assert_allclose(
        clf.history_[:, "train_loss"], three.history_[:, "train_loss"], rtol=1e-12
    )


def test_an_epoch_cut_short_is_dropped_from_the_history():
    clf = classifier(callbacks=[("stop", Interrupt(epoch=3, batch=2))]).fit(X, y)
    assert clf.n_iter_ == 2 == len(clf.history_)
    assert all("train_loss" in row for row in clf.history_)
    check_is_fitted(clf)
    assert clf.predict(X).shape == y.shape
    # It can be saved, loaded and trained on.
    clf.set_params(warm_start=True, max_epochs=2, callbacks=None).fit(X, y)
    assert clf.n_iter_ == 4


def test_an_interrupt_with_early_stopping_keeps_the_best_epoch():
    clf = classifier(
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=100,
        callbacks=[("stop", Interrupt(epoch=6))],
    ).fit(X, y)
    assert clf.n_iter_ == 6
    # The interrupt came before early stopping saw epoch 6: the weights kept
    # are the best of epochs 1 to 5, and best_epoch_ says which.
    seen = clf.history_[:5, "valid_loss"]
    assert clf.best_epoch_ == int(np.argmin(seen)) + 1
    plain = classifier(validation_fraction=0.25).set_params(max_epochs=clf.best_epoch_)
    np.testing.assert_array_equal(
        clf.predict_proba(X), plain.fit(X, y).predict_proba(X)
    )


def test_an_interrupt_in_the_first_epoch_leaves_the_estimator_unfitted():
    clf = classifier(callbacks=[("stop", Interrupt(epoch=1, batch=1))])
    before = dict(vars(clf))
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert vars(clf) == before
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_partial_fit_interrupted_first_call_unfitted_later_call_kept():
    clf = classifier(callbacks=[("stop", Interrupt(epoch=1, batch=1))])
    with pytest.raises(KeyboardInterrupt):
        clf.partial_fit(X, y, classes=np.unique(y))
    assert not hasattr(clf, "net_")
    clf = classifier(callbacks=[("stop", Interrupt(epoch=2, batch=1))])
    clf.partial_fit(X, y, classes=np.unique(y))
    clf.partial_fit(X, y)  # cut short in its first batch
    assert clf.n_iter_ == 1 == len(clf.history_)


def test_inside_interrupts_propagate_the_fit_raises_and_changes_nothing():
    clf = classifier(callbacks=[("stop", Interrupt(epoch=3))])
    with interrupts_propagate(), pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


@pytest.mark.parametrize(
    "params",
    [
        {"early_stopping": True, "n_iter_no_change": 2},
        {"callbacks": [("stop", EarlyStopping(patience=2, monitor="train_loss"))]},
    ],
    ids=["early_stopping", "skorch-EarlyStopping"],
)
def test_early_stopping_is_not_an_interrupt(params):
    # skorch's EarlyStopping ends training by raising KeyboardInterrupt; that
    # is a finished fit, also where interrupts propagate.
    clf = classifier(**params).set_params(max_epochs=200, lr=0.5)
    with interrupts_propagate():
        clf.fit(X, y)
    assert clf.n_iter_ < 200
    check_is_fitted(clf)


def test_a_search_stops_at_the_interrupt_instead_of_skipping_a_candidate():
    # A candidate with a callback trains serially; without propagation,
    # skorch would end that candidate early and the search would go on.
    search = BatchedGridSearchCV(
        classifier(callbacks=[("stop", Interrupt(epoch=2))]),
        {"lr": [0.01, 0.02]},
        cv=2,
    )
    with pytest.raises(KeyboardInterrupt), pytest.warns(NotBatchedWarning):
        search.fit(X, y)
    assert not hasattr(search, "cv_results_")
    assert not hasattr(search, "best_estimator_")


def _interrupt_after(calls, real):
    count = {"n": 0}

    def fake(*args, **kwargs):
        count["n"] += 1
        if count["n"] > calls:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return fake


@pytest.mark.parametrize("fitted", [False, True])
def test_an_interrupted_cv_fit_leaves_the_estimator_as_it_was(fitted, monkeypatch):
    cv = QwertyClassifierCV(n_candidates=2, cv=2, max_epochs=5, random_state=0)
    if fitted:
        cv.fit(X, y)
    before = dict(vars(cv))
    proba = cv.predict_proba(X) if fitted else None
    monkeypatch.setattr(
        qwertyclf._cv, "fit_batched", _interrupt_after(0, qwertyclf._cv.fit_batched)
    )
    with pytest.raises(KeyboardInterrupt):
        cv.fit(X[::2], y[::2])
    assert vars(cv) == before
    if fitted:
        np.testing.assert_array_equal(cv.predict_proba(X), proba)
    else:
        with pytest.raises(NotFittedError):
            cv.predict(X)


def test_an_interrupted_ensemble_fit_leaves_it_unfitted(monkeypatch):
    import qwertyclf._ensemble

    ensemble = QwertyEnsembleClassifier(
        QwertyClassifier(max_epochs=3), n_estimators=2, random_state=0
    )
    monkeypatch.setattr(
        qwertyclf._ensemble,
        "fit_batched",
        _interrupt_after(0, qwertyclf._ensemble.fit_batched),
    )
    with pytest.raises(KeyboardInterrupt):
        ensemble.fit(X, y)
    with pytest.raises(NotFittedError):
        ensemble.predict(X)


def _interrupt_at_epoch(epoch):
    real = DivergenceGuard.on_epoch_end

    def on_epoch_end(self, net, **kwargs):
        real(self, net, **kwargs)
        if len(net.history) == epoch:
            raise KeyboardInterrupt

    return on_epoch_end


@pytest.mark.parametrize("existing", [False, True])
def test_the_command_line_exits_130_and_writes_nothing(
    existing, tmp_path, monkeypatch, capsys
):
    X_, y_ = make_qwerty(60, random_state=1)
    csv = tmp_path / "train.csv"
    rows = "\n".join(f"{a},{b},{c}" for (a, b), c in zip(X_, y_, strict=True))
    csv.write_text("x1,x2,label\n" + rows + "\n")
    model = tmp_path / "model.safetensors"
    argv = ["fit", str(csv), "--target", "label", "--model", str(model), "-q"]
    if existing:
        assert main([*argv, "--epochs", "2"]) == 0
        old = model.read_bytes()
    capsys.readouterr()
    monkeypatch.setattr(DivergenceGuard, "on_epoch_end", _interrupt_at_epoch(3))
    assert main([*argv, "--epochs", "10"]) == 130
    err = capsys.readouterr().err
    assert err == "qwertyclf: interrupted\n"
    if existing:
        assert model.read_bytes() == old
        assert load_model(model).n_iter_ == 2
    else:
        assert not model.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["train.csv", *(["model.safetensors"] if existing else [])]
    )
