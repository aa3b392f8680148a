"""Same `random_state`, same model: across fits, `n_jobs`, threads and processes."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV, cross_val_score

from qwertyclf import QwertyClassifier

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

# Every source of randomness in one estimator: initialisation, shuffling,
# dropout and the validation split.
NOISY = {
    "hidden_layer_sizes": (8, 8),
    "dropout": 0.2,
    "validation_fraction": 0.2,
    "max_epochs": 4,
    "batch_size": 8,
}


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(n_samples=120, centers=3, cluster_std=2.0, random_state=0)
    return X, y


def _weights(clf):
    return [p.detach().cpu().clone() for p in clf.net_.module_.parameters()]


def _same_weights(a, b):
    return all(torch.equal(p, q) for p, q in zip(_weights(a), _weights(b), strict=True))


@pytest.mark.parametrize(
    "params",
    [
        {"max_epochs": 4},
        NOISY,
        {**NOISY, "batch_norm": True},
        {**NOISY, "early_stopping": True, "n_iter_no_change": 2, "max_epochs": 20},
        {**NOISY, "dtype": "float64", "optimizer": "sgd"},
        {**NOISY, "class_weight": "balanced"},
    ],
    ids=[
        "plain",
        "dropout+validation",
        "batch_norm",
        "early_stopping",
        "f64-sgd",
        "class_weight",
    ],
)
def test_repeated_fits_are_identical(data, params):
    X, y = data
    fits = [QwertyClassifier(random_state=0, **params).fit(X, y) for _ in range(3)]
    first = fits[0].predict_proba(X)
    for other in fits[1:]:
        assert np.array_equal(other.predict_proba(X), first)
        assert _same_weights(other, fits[0])
        assert other.history_[:, "train_loss"] == fits[0].history_[:, "train_loss"]
    assert fits[0].n_iter_ == fits[1].n_iter_


def test_refit_same_instance_is_identical(data):
    X, y = data
    clf = QwertyClassifier(random_state=0, **NOISY)
    first = clf.fit(X, y).predict_proba(X)
    assert np.array_equal(clf.fit(X, y).predict_proba(X), first)
    assert np.array_equal(clone(clf).fit(X, y).predict_proba(X), first)


def test_random_state_instance(data):
    X, y = data
    a = QwertyClassifier(random_state=np.random.RandomState(3), **NOISY).fit(X, y)
    b = QwertyClassifier(random_state=np.random.RandomState(3), **NOISY).fit(X, y)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


def test_different_seeds_give_different_models(data):
    X, y = data
    a = QwertyClassifier(random_state=0, **NOISY).fit(X, y)
    b = QwertyClassifier(random_state=1, **NOISY).fit(X, y)
    assert not _same_weights(a, b)


def test_random_state_none_differs_between_fits(data):
    X, y = data
    clf = QwertyClassifier(random_state=None, max_epochs=2)
    a = clone(clf).fit(X, y)
    b = clone(clf).fit(X, y)
    assert not _same_weights(a, b)
    assert not np.array_equal(a.predict_proba(X), b.predict_proba(X))


def test_does_not_depend_on_global_seeds(data):
    X, y = data
    results = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        np.random.seed(seed)  # noqa: NPY002 - the legacy global state is the point
        clf = QwertyClassifier(random_state=0, **NOISY).fit(X, y)
        results.append(clf.predict_proba(X))
    assert np.array_equal(*results)


@pytest.mark.parametrize(
    "random_state",
    [0, None, np.random.RandomState(0)],
    ids=["int", "None", "RandomState"],
)
def test_global_rng_untouched(data, random_state):
    X, y = data
    np_state = np.random.get_state()  # noqa: NPY002 - the global state is the point
    torch_state = torch.get_rng_state()
    threads = torch.get_num_threads()
    clf = QwertyClassifier(random_state=random_state, **NOISY).fit(X, y)
    clf.set_params(validation_fraction=None).partial_fit(X, y)
    clf.predict_proba(X)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0]
    assert np.array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert torch.get_num_threads() == threads


def test_partial_fit_sequences_are_identical(data):
    X, y = data
    classes = np.unique(y)
    runs = []
    for _ in range(2):
        clf = QwertyClassifier(random_state=0, dropout=0.2, batch_size=8)
        for start in range(0, len(X), 40):
            clf.partial_fit(X[start : start + 40], y[start : start + 40], classes)
        runs.append(clf.predict_proba(X))
    assert np.array_equal(*runs)


def test_warm_start_continuation_is_identical(data):
    X, y = data
    runs = []
    for _ in range(2):
        clf = QwertyClassifier(random_state=0, warm_start=True, **NOISY)
        clf.fit(X, y).fit(X, y)
        assert clf.n_iter_ == 2 * NOISY["max_epochs"]
        runs.append(clf.predict_proba(X))
    assert np.array_equal(*runs)


def test_independent_of_torch_thread_count():
    # Big batches train on several threads; the result must not depend on how
    # many (joblib's workers get fewer threads than the parent process) beyond
    # the rounding of sums that a maths library splits per thread.
    X, y = make_blobs(n_samples=3000, n_features=16, centers=4, random_state=0)
    previous = torch.get_num_threads()
    probas = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            clf = QwertyClassifier(
                hidden_layer_sizes=(64,), batch_size=2048, max_epochs=3, random_state=0
            ).fit(X, y)
            probas.append(clf.predict_proba(X))
    finally:
        torch.set_num_threads(previous)
    np.testing.assert_allclose(*probas, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(probas[0].argmax(1), probas[1].argmax(1))


def test_cross_val_score_across_n_jobs(data):
    X, y = data
    clf = QwertyClassifier(random_state=0, **NOISY)
    serial = cross_val_score(clf, X, y, cv=3, n_jobs=1)
    parallel = cross_val_score(clf, X, y, cv=3, n_jobs=2)
    assert np.array_equal(serial, parallel)


def test_grid_search_across_n_jobs(data):
    X, y = data
    grid = {"lr": [0.01, 0.05], "dropout": [0.0, 0.3]}
    results = []
    for n_jobs in (1, 2):
        search = GridSearchCV(
            QwertyClassifier(random_state=0, max_epochs=4, batch_size=8),
            grid,
            cv=2,
            n_jobs=n_jobs,
        ).fit(X, y)
        results.append(search)
    serial, parallel = results
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        assert np.array_equal(serial.cv_results_[key], parallel.cv_results_[key]), key
    assert serial.best_params_ == parallel.best_params_
    assert np.array_equal(
        serial.best_estimator_.predict_proba(X),
        parallel.best_estimator_.predict_proba(X),
    )


_FRESH_FIT = """
import numpy as np
from sklearn.datasets import make_blobs
from qwertyclf import QwertyClassifier
X, y = make_blobs(n_samples=120, centers=3, cluster_std=2.0, random_state=0)
clf = QwertyClassifier(random_state=0, device={device!r}, **{params!r}).fit(X, y)
np.save({out!r}, clf.predict_proba(X))
"""


def _fit_in_fresh_process(tmp_path, params, device="cpu", env=None):
    out = str(tmp_path / "proba.npy")
    code = _FRESH_FIT.format(params=params, out=out, device=device)
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    return np.load(out)


def test_fresh_process_gives_identical_predictions(data, tmp_path):
    X, y = data
    here = QwertyClassifier(random_state=0, **NOISY).fit(X, y).predict_proba(X)
    np.save(tmp_path / "here.npy", here)
    # Different hash seed and thread count in the child: neither may matter.
    there = _fit_in_fresh_process(
        tmp_path, NOISY, env={"PYTHONHASHSEED": "123", "OMP_NUM_THREADS": "1"}
    )
    assert there.dtype == here.dtype
    assert (tmp_path / "proba.npy").read_bytes() == (tmp_path / "here.npy").read_bytes()


@pytest.mark.cuda
@cuda
def test_cuda_repeated_fits_are_identical(data):
    X, y = data
    params = {**NOISY, "device": "cuda", "random_state": 0}
    a = QwertyClassifier(**params).fit(X, y)
    b = QwertyClassifier(**params).fit(X, y)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.cuda
@cuda
def test_cuda_global_rng_untouched(data):
    X, y = data
    cpu_state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state()
    QwertyClassifier(device="cuda", random_state=0, **NOISY).fit(X, y)
    assert torch.equal(torch.get_rng_state(), cpu_state)
    assert torch.equal(torch.cuda.get_rng_state(), cuda_state)


@pytest.mark.cuda
@cuda
def test_cuda_fresh_process(data, tmp_path):
    X, y = data
    here = QwertyClassifier(device="cuda", random_state=0, **NOISY).fit(X, y)
    there = _fit_in_fresh_process(tmp_path, NOISY, device="cuda")
    assert np.array_equal(there, here.predict_proba(X))
