"""Prediction: the chunked fast path computes what the network's forward does."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

from qwertyclf import QwertyClassifier
from qwertyclf._module import ACTIVATIONS
from qwertyclf.training import _runtime
from qwertyclf.training._inference import _chunk_forward

FAST = {"max_epochs": 2, "batch_size": 32, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(300, n_features=5, centers=3, random_state=0)
    return X, y


def reference_proba(clf, X):
    """The ordinary path: the module's own forward and torch's softmax."""
    module = clf.net_.module_.eval()
    with torch.inference_mode():
        logits = module(torch.tensor(X, dtype=getattr(torch, clf.dtype_)))
    return torch.softmax(logits.double(), dim=1).numpy()


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("layers", [{}, {"batch_norm": True, "dropout": 0.2}])
def test_fast_path_matches_the_module(activation, layers, data, monkeypatch):
    X, y = data
    clf = QwertyClassifier(
        hidden_layer_sizes=(7, 5), activation=activation, **layers, **FAST
    ).fit(X, y)
    # Chunks that do not divide the rows, so the last one is short.
    monkeypatch.setattr(_runtime, "PREDICT_CHUNK", 64)
    expected = reference_proba(clf, X)
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[expected.argmax(1)])


@pytest.mark.parametrize("model_dtype", ["float32", "float64"])
def test_output_dtype_follows_the_input_like_scikit_learn(model_dtype, data):
    X, y = data
    clf = QwertyClassifier(dtype=model_dtype, **FAST).fit(X, y)
    X32 = X.astype(np.float32)
    proba64, proba32 = clf.predict_proba(X), clf.predict_proba(X32)
    assert proba64.dtype == np.float64
    assert proba32.dtype == np.float32
    np.testing.assert_allclose(proba32, proba64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(proba64.sum(axis=1), 1, rtol=1e-12)
    for X_in in (X, X32, X.tolist()):
        np.testing.assert_array_equal(
            clf.predict(X_in), clf.classes_[proba64.argmax(1)]
        )


def test_input_is_left_untouched_and_unusual_layouts_work(data):
    X, y = data
    clf = QwertyClassifier(**FAST).fit(X, y)
    X32 = X.astype(np.float32)
    copy = X32.copy()
    expected = clf.predict_proba(X32)
    np.testing.assert_array_equal(X32, copy)
    read_only = X32.copy()
    read_only.flags.writeable = False
    fortran = np.asfortranarray(X32)
    strided = np.repeat(X32, 2, axis=0)[::2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for layout in (read_only, fortran, strided):
            np.testing.assert_array_equal(clf.predict_proba(layout), expected)


def test_predict_reports_overflow(data):
    X, y = data
    clf = QwertyClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="overflowed"):
        clf.predict(np.full((2, X.shape[1]), 1e300))


def test_prediction_uses_the_fitted_dtype(data):
    X, y = data
    clf = QwertyClassifier(dtype="float64", **FAST).fit(X, y)
    expected = clf.predict_proba(X)
    clf.set_params(dtype="float32")
    np.testing.assert_array_equal(clf.predict_proba(X), expected)


def test_worker_threads_leave_the_thread_count_and_agree(data, monkeypatch):
    X, y = data
    clf = QwertyClassifier(**FAST).fit(X, y)
    threads = torch.get_num_threads()
    monkeypatch.setattr(_runtime, "PREDICT_CHUNK", 10**6)
    one_chunk = clf.predict_proba(X)
    monkeypatch.setattr(_runtime, "PREDICT_CHUNK", 16)
    np.testing.assert_allclose(clf.predict_proba(X), one_chunk, rtol=1e-6)
    assert torch.get_num_threads() == threads
    # Predictions running in several threads at once.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: clf.predict(X), range(8)))
    for result in results:
        np.testing.assert_array_equal(result, clf.classes_[one_chunk.argmax(1)])
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "selu"])
def test_probabilities_do_not_depend_on_the_other_rows(dtype, activation, monkeypatch):
    # predict_proba(X)[rows] == predict_proba(X[rows]) bitwise, for any subset
    # and chunking, on one and two threads (scikit-learn's subset-invariance
    # contract; before every pass had one shape, 1-row and 20-row passes
    # differed by up to 1e-7).
    from sklearn.datasets import make_classification

    X, y = make_classification(300, 20, n_informative=8, n_classes=3, random_state=0)
    clf = QwertyClassifier(
        hidden_layer_sizes=(64, 32),
        activation=activation,
        dtype=dtype,
        max_epochs=2,
        random_state=0,
    ).fit(X, y)
    threads = torch.get_num_threads()
    try:
        for n_threads in (1, 2):
            torch.set_num_threads(n_threads)
            for chunk_rows in (2048, 64):  # one pass, or several in worker threads
                monkeypatch.setattr(_runtime, "PREDICT_CHUNK", chunk_rows)
                full = clf.predict_proba(X)
                for rows in (np.arange(20), np.arange(0, 300, 7), np.array([5])):
                    np.testing.assert_array_equal(
                        clf.predict_proba(X[rows]), full[rows]
                    )
                one_by_one = np.vstack([clf.predict_proba(X[[r]]) for r in range(20)])
                np.testing.assert_array_equal(one_by_one, full[:20])
                np.testing.assert_array_equal(
                    clf.predict_proba(X.astype(np.float32)[:20]),
                    clf.predict_proba(X.astype(np.float32))[:20],
                )
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_last_layer_computes_the_logits_transposed(dtype, data):
    # The final Linear writes W @ x.T + b, shape (classes, rows): the module's
    # logits, transposed.
    X, y = data
    clf = QwertyClassifier(hidden_layer_sizes=(8,), dtype=dtype, **FAST).fit(X, y)
    torch_dtype = getattr(torch, dtype)
    forward = _chunk_forward(clf.net_.module_, 32, torch_dtype, clf.device_)
    with torch.inference_mode():
        x = torch.tensor(X[:32], dtype=torch_dtype)
        logits = forward(x)
        expected = clf.net_.module_(x)
    assert logits.shape == (3, 32)
    torch.testing.assert_close(logits.t(), expected, rtol=1e-6, atol=1e-6)
    expected_labels = clf.classes_[reference_proba(clf, X).argmax(1)]
    np.testing.assert_array_equal(clf.predict(X), expected_labels)


@pytest.mark.parametrize("n_classes", [2, 10, 17])
def test_many_rows_and_classes_do_not_depend_on_the_other_rows(n_classes):
    # Several chunks, rows at every offset in a chunk (also at its end), class
    # counts below and above one vector of padding, both input dtypes.
    from sklearn.datasets import make_classification

    X, y = make_classification(
        5000,
        20,
        n_informative=10,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=0,
    )
    clf = QwertyClassifier(hidden_layer_sizes=(64, 64), max_epochs=1, random_state=0)
    clf.fit(X[:600], y[:600])
    rng = np.random.default_rng(0)
    for X_in in (X, X.astype(np.float32)):
        full = clf.predict_proba(X_in)
        assert full.shape == (5000, n_classes)
        np.testing.assert_allclose(full.sum(axis=1), 1, rtol=1e-5)
        for start, length in ((2040, 8), (4090, 910), (0, 1), (1, 2047)):
            rows = np.arange(start, min(start + length, 5000))
            np.testing.assert_array_equal(clf.predict_proba(X_in[rows]), full[rows])
        shuffled = rng.permutation(5000)[:3000]
        np.testing.assert_array_equal(clf.predict_proba(X_in[shuffled]), full[shuffled])
        np.testing.assert_array_equal(
            clf.predict(X_in), clf.classes_[full.argmax(axis=1)]
        )


def test_the_estimator_predicts_through_the_engine(data):
    # predict_proba and predict are the engine's functions applied to the
    # fitted network, in its fitted dtype, on its device.
    from qwertyclf.training import predict_index, predict_proba

    X, y = data
    clf = QwertyClassifier(**FAST).fit(X, y)
    where = {"device": clf.device_, "dtype": clf.dtype_}
    for X_in in (X, X.astype(np.float32)):
        proba = predict_proba(clf.net_.module_, X_in, **where)
        np.testing.assert_array_equal(clf.predict_proba(X_in), proba)
        index = predict_index(clf.net_.module_, X_in, **where)
        np.testing.assert_array_equal(clf.predict(X_in), clf.classes_[index])
        np.testing.assert_array_equal(index, proba.argmax(axis=1))


class _TwoHeads(torch.nn.Module):
    """Not a Sequential: the engine runs its own forward."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(5, 3)
        self.b = torch.nn.Linear(5, 3)

    def forward(self, x):
        return self.a(x) - self.b(x).relu()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_engine_runs_any_module_dense_or_sparse(dtype, data, monkeypatch):
    import scipy.sparse as sp

    from qwertyclf.training import predict_index, predict_proba

    X, _ = data
    torch.manual_seed(0)
    module = _TwoHeads().to(getattr(torch, dtype))
    with torch.inference_mode():
        logits = module(torch.tensor(X, dtype=getattr(torch, dtype)))
    expected = torch.softmax(logits.double(), dim=1).numpy()
    monkeypatch.setattr(_runtime, "PREDICT_CHUNK", 64)
    for X_in in (X, sp.csr_matrix(X)):
        proba = predict_proba(module, X_in, dtype=dtype)
        assert proba.shape == (len(X), 3)
        np.testing.assert_allclose(proba, expected, rtol=1e-6, atol=1e-12)
        np.testing.assert_array_equal(
            predict_index(module, X_in, dtype=dtype), logits.argmax(1).numpy()
        )


def test_one_chunk_does_not_depend_on_the_thread_count():
    # Every chunk is computed with one intra-op thread, so the caller's
    # thread count changes nothing, also when all rows fit in one chunk (a
    # product split among threads may round differently).
    from sklearn.datasets import make_classification

    X, y = make_classification(
        2000, 20, n_informative=10, n_classes=10, n_clusters_per_class=1, random_state=0
    )
    clf = QwertyClassifier(hidden_layer_sizes=(64, 64), max_epochs=1, random_state=0)
    clf.fit(X, y)
    threads = torch.get_num_threads()
    results = []
    try:
        for n_threads in (1, 2, 4):
            torch.set_num_threads(n_threads)
            results.append(clf.predict_proba(X))
    finally:
        torch.set_num_threads(threads)
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])
