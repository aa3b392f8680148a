"""Batched runs obey the same fast-path switches and checks as serial fits."""

import numpy as np
import pytest
import torch

import qwertyclf.training._batched as batched_engine
import qwertyclf.training._fast_path as fast_path_module
from qwertyclf import QwertyClassifier
from qwertyclf.datasets import make_qwerty
from qwertyclf.model_selection import BatchedGridSearchCV, NotBatchedWarning
from qwertyclf.training import BatchedTrainer, fast_path

X, y = make_qwerty(90, random_state=0)
GRID = {"lr": [0.003, 0.03]}


@pytest.fixture
def kernel_calls(monkeypatch):
    """Count the batched engine's calls of the fused Adam kernel."""
    calls = []
    real = batched_engine.fused_adam_update

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(batched_engine, "fused_adam_update", counting)
    return calls


@pytest.fixture
def batched_runs(monkeypatch):
    """Count batched runs (BatchedTrainer.run calls)."""
    runs = []
    real = BatchedTrainer.run

    def counting(self):
        runs.append(len(self.specs))
        return real(self)

    monkeypatch.setattr(BatchedTrainer, "run", counting)
    return runs


def search(**params):
    estimator = QwertyClassifier(max_epochs=3, random_state=0, **params)
    return BatchedGridSearchCV(estimator, GRID, cv=2).fit(X, y)


def test_batched_runs_use_the_kernel_when_its_check_passes(kernel_calls, batched_runs):
    works = fast_path_module.fused_adam_works(torch.optim.Adam, torch.float32, "cpu")
    search()
    assert batched_runs
    assert bool(kernel_calls) == works


def test_lean_step_switch_turns_the_kernel_off(kernel_calls, batched_runs):
    with fast_path(lean_step=False):
        switched = search()
    # Still batched, but the update is torch's optimizer arithmetic.
    assert batched_runs and not kernel_calls
    reference = search()
    np.testing.assert_allclose(
        switched.cv_results_["mean_test_score"],
        reference.cv_results_["mean_test_score"],
        atol=0.02,
    )


def test_manual_gradients_switch_sends_fits_to_the_serial_engine(batched_runs):
    with (
        fast_path(manual_gradients=False),
        pytest.warns(NotBatchedWarning, match="2 of 2 candidates"),
    ):
        result = search()
    assert batched_runs == []
    assert len(result.cv_results_["params"]) == 2


def test_a_failing_agreement_check_is_honoured(monkeypatch, kernel_calls, batched_runs):
    # The kernel's agreement check says no for this configuration: the
    # batched run must not call the kernel (as the serial fit would not).
    monkeypatch.setitem(
        fast_path_module._checked,
        ("lean", torch.optim.Adam, torch.float32, "cpu"),
        False,
    )
    search()
    assert batched_runs and not kernel_calls
    # A failing gradient check makes the configuration unbatchable.
    monkeypatch.setitem(
        fast_path_module._checked, ("manual", "relu", torch.float32, "cpu"), False
    )
    batched_runs.clear()
    with pytest.warns(NotBatchedWarning, match="does not reproduce"):
        search()
    assert batched_runs == []
