"""Progress of the batched runs: `verbose` of the CV, the ensemble, the searches.

At `verbose=1` each batched run shows, on stderr, the epochs done, the
models still training and the time elapsed (a tqdm bar on a terminal, plain
lines elsewhere); at 0 nothing is written. The engine reports each epoch
through a plain callback; the estimator layer draws.
"""

import io
import json
import re
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

from qwertyclf import (
    QwertyClassifier,
    QwertyClassifierCV,
    QwertyEnsembleClassifier,
    load_model,
)
from qwertyclf._progress import EpochBar, check_verbose
from qwertyclf.cli import main
from qwertyclf.datasets import make_qwerty
from qwertyclf.model_selection import BatchedGridSearchCV, BatchedRandomizedSearchCV
from qwertyclf.training import BatchedTrainer, FitSpec, RunData

#: One plain progress line of a batched run.
LINE = re.compile(
    r"^batched run(?: (\d+)/(\d+))?: epoch +(\d+)/(\d+)  "
    r"(\d+)/(\d+) models? training  \((\d+\.\d) s elapsed\)$"
)


@pytest.fixture(scope="module")
def data():
    return make_qwerty(60, random_state=0)


def _lines(err):
    lines = err.splitlines()
    assert lines, "nothing written to stderr"
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), f"not a progress line: {lines}"
    return [
        tuple(int(g) if g and "." not in g else g for g in m.groups()) for m in parsed
    ]


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, so the tqdm bar is drawn."""

    def isatty(self):
        return True


# --- the engine's callback ---------------------------------------------------


def test_the_engine_reports_epochs_and_models_still_training():
    X = torch.randn(120, 2, generator=torch.Generator().manual_seed(0))
    y = (X[:, 0] > 0).long()
    # Early stopping ends the models at different epochs.
    specs = [
        FitSpec((4,), "relu", False, 0.0, torch.optim.Adam, lr, 0.0, 16, 60, True,
                None, True, 3, 1e-4, "float32", torch.device("cpu"), seed)
        for seed, lr in enumerate((0.3, 0.03, 0.003, 0.1))
    ]  # fmt: skip
    data = [RunData(train=np.arange(80), valid=np.arange(80, 120))] * 4
    calls = []
    states = BatchedTrainer(
        X=X,
        y=y,
        classes=np.array([0, 1]),
        specs=specs,
        data=data,
        on_epoch=lambda *args: calls.append(args),
    ).run()
    n_iter = [state.n_iter for state in states]
    assert len(set(n_iter)) > 1, n_iter  # else the test shows nothing
    assert [c[0] for c in calls] == list(range(1, max(n_iter) + 1))
    assert {c[1] for c in calls} == {60} and {c[3] for c in calls} == {4}
    # After epoch e, the models whose run goes on past it (or that early
    # stopping never ended).
    assert [c[2] for c in calls] == [
        sum(n > e or n == 60 for n in n_iter) for e in range(1, max(n_iter) + 1)
    ]


def test_the_callback_changes_nothing_in_the_run():
    X, y = make_qwerty(60, random_state=0)
    X = torch.as_tensor(X, dtype=torch.float32)
    y = torch.as_tensor(np.unique(y, return_inverse=True)[1])
    specs = [
        FitSpec((6,), "relu", False, 0.0, torch.optim.Adam, 0.01, 0.0, 16, 5, True,
                None, False, 10, 1e-4, "float32", torch.device("cpu"), seed)
        for seed in (0, 1)
    ]  # fmt: skip
    runs = [
        BatchedTrainer(
            X=X,
            y=y,
            classes=np.arange(3),
            specs=specs,
            data=[RunData(train=np.arange(60))] * 2,
            **kwargs,
        ).run()
        for kwargs in ({}, {"on_epoch": lambda *args: None})
    ]
    for plain, watched in zip(*runs, strict=True):
        for a, b in zip(
            plain.module.parameters(), watched.module.parameters(), strict=True
        ):
            assert torch.equal(a, b)


# --- the estimators ----------------------------------------------------------


def test_cv_shows_epochs_models_and_time_at_verbose_1(data, capsys):
    X, y = data
    clf = QwertyClassifierCV(
        hidden_layer_sizes=[(8,)], n_candidates=2, cv=2, max_epochs=30, verbose=1,
        numeric_embedding="pbld", random_state=0,
    ).fit(X, y)  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = _lines(captured.err)
    # One run of 2 candidates x 2 folds, a line every 3 epochs to the last.
    assert {line[:2] for line in lines} == {(None, None)}
    assert {(line[3], line[5]) for line in lines} == {(30, 4)}
    epochs = [line[2] for line in lines]
    assert epochs[:-1] == list(range(3, 3 * len(epochs) - 2, 3))
    assert epochs[-1] - epochs[-2] in (1, 2, 3)
    # The run lasts as long as its longest network.
    assert epochs[-1] >= max(len(m.history_) for m in clf.estimators_)
    running = [line[4] for line in lines]
    assert running == sorted(running, reverse=True) and running[0] <= 4
    if epochs[-1] < 30:
        assert running[-1] == 0  # all stopped early
    seconds = [float(line[6]) for line in lines]
    assert seconds == sorted(seconds)


def test_cv_numbers_its_runs(data, capsys):
    # By default the second candidate takes plain inputs: its networks train
    # in a run of their own, and each run's lines say which of the two.
    X, y = data
    QwertyClassifierCV(
        hidden_layer_sizes=[(8,)], n_candidates=2, cv=2, max_epochs=3, verbose=1,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    lines = _lines(capsys.readouterr().err)
    assert {line[:2] for line in lines} == {(1, 2), (2, 2)}
    assert {(line[3], line[5]) for line in lines} == {(3, 2)}


def test_ensemble_shows_members_stopping_early(data, capsys):
    X, y = data
    member = QwertyClassifier(
        hidden_layer_sizes=(8,), early_stopping=True, n_iter_no_change=2,
        max_epochs=200, lr=0.05,
    )  # fmt: skip
    ensemble = QwertyEnsembleClassifier(
        member, n_estimators=3, random_state=0, verbose=1
    ).fit(X, y)
    lines = _lines(capsys.readouterr().err)
    n_iter = [m.n_iter_ for m in ensemble.estimators_]
    assert max(n_iter) < 200
    # The last line is the last epoch, once every member has stopped.
    assert lines[-1][2:6] == (max(n_iter), 200, 0, 3)


def test_the_bar_on_a_terminal(data, monkeypatch):
    X, y = data
    stream = _Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    QwertyClassifierCV(
        hidden_layer_sizes=[(8,)], n_candidates=2, cv=2, max_epochs=5, verbose=1,
        numeric_embedding="pbld", random_state=0,
    ).fit(X, y)  # fmt: skip
    out = stream.getvalue()
    assert "\r" in out  # tqdm redraws its line
    final = out.rstrip().rsplit("\r", 1)[-1]
    assert final.startswith("batched run:")
    assert "5/5" in final  # epochs
    assert "4/4 training" in final  # models still training, of 4
    assert re.search(r"\[\d\d:\d\d<", final)  # elapsed time


@pytest.mark.parametrize(
    "make",
    [
        lambda: QwertyClassifierCV(n_candidates=2, cv=2, max_epochs=3),
        lambda: QwertyEnsembleClassifier(QwertyClassifier(max_epochs=3), 2),
        lambda: BatchedGridSearchCV(
            QwertyClassifier(max_epochs=3), {"lr": [0.01, 0.1]}, cv=2
        ),
        lambda: BatchedRandomizedSearchCV(
            QwertyClassifier(max_epochs=3), {"lr": [0.01, 0.1]}, n_iter=2, cv=2
        ),
    ],
    ids=["cv", "ensemble", "grid", "randomized"],
)
def test_nothing_is_written_by_default(make, data, capfd):
    X, y = data
    estimator = make()
    assert estimator.get_params()["verbose"] == 0
    estimator.fit(X, y)
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("make", [QwertyClassifierCV, QwertyEnsembleClassifier])
@pytest.mark.parametrize("bad", [-1, 1.5, "yes", None])
def test_bad_verbose_is_refused(make, bad, data):
    X, y = data
    with pytest.raises(ValueError, match=r"verbose must be an int >= 0.*got"):
        make(verbose=bad).fit(X, y)


@pytest.mark.parametrize("bad", [-1, "yes"])
def test_bad_verbose_is_refused_by_the_searches(bad, data):
    X, y = data
    search = BatchedGridSearchCV(
        QwertyClassifier(max_epochs=2), {"lr": [0.01]}, cv=2, verbose=bad
    )
    with pytest.raises(ValueError, match="'verbose' parameter"):
        search.fit(X, y)


def test_check_verbose_takes_ints_and_bools():
    assert check_verbose(np.int64(2)) == 2 and type(check_verbose(True)) is int


def test_search_keeps_its_verbose_and_adds_the_bar(data, capsys):
    X, y = data
    search = BatchedGridSearchCV(
        QwertyClassifier(max_epochs=4, random_state=0),
        {"lr": [0.01, 0.1]},
        cv=2,
        verbose=1,
    ).fit(X, y)
    captured = capsys.readouterr()
    # scikit-learn's own line, on stdout, as GridSearchCV prints it.
    assert "Fitting 2 folds for each of 2 candidates, totalling 4 fits" in (
        captured.out
    )
    # Fewer than 10 epochs: a line each.
    lines = [line[:6] for line in _lines(captured.err)]
    assert lines == [(None, None, epoch, 4, 4, 4) for epoch in range(1, 5)]
    assert len(search.cv_results_["params"]) == 2


def test_search_runs_on_workers_print_lines_not_bars(data, monkeypatch):
    X, y = data
    stream = _Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    with joblib.parallel_backend("threading", n_jobs=2):
        # Two depths: two batched runs, spread over the two threads.
        BatchedGridSearchCV(
            QwertyClassifier(max_epochs=3, random_state=0),
            {"hidden_layer_sizes": [(4,), (4, 4)]},
            cv=2,
            verbose=1,
        ).fit(X, y)
    out = stream.getvalue()
    assert "\r" not in out
    lines = _lines(out)
    assert sorted({line[:2] for line in lines}) == [(1, 2), (2, 2)]


def test_the_bar_is_closed_when_a_run_fails(monkeypatch):
    closed = []
    monkeypatch.setattr(EpochBar, "close", lambda self: closed.append(self))

    def fail(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(BatchedTrainer, "run", fail)
    X, y = make_qwerty(30, random_state=0)
    with pytest.raises(RuntimeError, match="out of memory"):
        QwertyEnsembleClassifier(
            QwertyClassifier(max_epochs=2), n_estimators=2, verbose=1
        ).fit(X, y)
    assert len(closed) == 1


# --- model files -------------------------------------------------------------


def _edit_params(path, **changes):
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + length])
    params = json.loads(header["__metadata__"]["params"])
    params.update(changes)
    header["__metadata__"]["params"] = json.dumps(params)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + length :])


def test_verbose_is_saved_and_checked_on_load(data, tmp_path, capsys):
    X, y = data
    ensemble = QwertyEnsembleClassifier(
        QwertyClassifier(max_epochs=2), n_estimators=2, random_state=0, verbose=True
    ).fit(X, y)
    capsys.readouterr()
    path = ensemble.save(tmp_path / "e.safetensors")
    loaded = QwertyEnsembleClassifier.load(path)
    assert loaded.verbose == 1 and type(loaded.verbose) is int
    _edit_params(path, verbose=-1)
    with pytest.raises(ValueError, match="verbose must be an int >= 0, got -1"):
        load_model(path)
    ensemble.set_params(verbose="loud")
    with pytest.raises(ValueError, match="verbose must be an int >= 0"):
        ensemble.save(tmp_path / "bad.safetensors")


# --- the command line --------------------------------------------------------


@pytest.fixture
def table(tmp_path):
    X, y = make_qwerty(40, random_state=0)
    path = tmp_path / "table.csv"
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame.assign(label=y).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("kind", "options", "n_models"),
    [
        ("cv", ["--n-candidates", "1", "--cv", "2", "--hidden", "6"], 2),
        ("ensemble", ["--n-estimators", "3", "--hidden", "6"], 3),
    ],
)
def test_the_command_shows_the_bar_for_cv_and_ensemble(
    kind, options, n_models, table, tmp_path, capsys
):
    model = tmp_path / "m.safetensors"
    argv = ["fit", str(table), "--target", "label", "--model", str(model)]
    argv += ["--classifier", kind, "--epochs", "3", *options]
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("training Qwerty")
    lines = _lines("\n".join(err[1:]))
    assert lines[-1][3:6] == (3, lines[-1][4], n_models)
    assert lines[-1][2] <= 3
    # The display was the command's: the model file fits silently.
    assert load_model(model).verbose == 0
    assert main([*argv, "-q"]) == 0
    assert capsys.readouterr().err == ""
