"""Sparse X: accepted everywhere, kept sparse, made dense one batch at a time.

A model fitted on a scipy sparse matrix is the model fitted on its dense
array (bitwise in float64 where the computation is the same), and no step of
training or prediction makes more than a batch (or an inference chunk) of
rows dense.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import make_classification
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from qwertyclf import QwertyClassifier, QwertyClassifierCV, QwertyEnsembleClassifier
from qwertyclf._table import _median_with_zeros, table_of
from qwertyclf.model_selection import BatchedGridSearchCV
from qwertyclf.training import PREDICT_CHUNK, SparseRows, TensorBatches, TensorDataset


def _data(n=240, n_features=12, seed=0):
    """A classification table with about two thirds of its values zero."""
    X, y = make_classification(
        n, n_features, n_informative=6, n_classes=3, random_state=seed
    )
    X[np.abs(X) < 1] = 0.0
    return X, y


def _one_hot_table(n=300, seed=0):
    """Rows of three categorical columns, and a class that depends on them."""
    rng = np.random.RandomState(seed)
    X = np.column_stack(
        [
            rng.choice(list("abcdef"), n),
            rng.choice(["x", "y", "z"], n),
            rng.choice([f"c{i}" for i in range(12)], n),
        ]
    ).astype(object)
    y = (X[:, 0] < "c").astype(int) + (X[:, 1] == "z")
    return X, y


SPARSE_FORMATS = [sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.coo_matrix]


def test_tags_say_sparse_is_accepted():
    for estimator in (
        QwertyClassifier(),
        QwertyClassifierCV(),
        QwertyEnsembleClassifier(),
    ):
        assert estimator.__sklearn_tags__().input_tags.sparse


def test_one_hot_encoder_output_in_a_pipeline():
    X, y = _one_hot_table()
    params = {"max_epochs": 20, "dtype": "float64", "random_state": 0}
    sparse_pipe = make_pipeline(OneHotEncoder(), QwertyClassifier(**params))
    dense_pipe = make_pipeline(
        OneHotEncoder(sparse_output=False), QwertyClassifier(**params)
    )
    sparse_pipe.fit(X, y)
    dense_pipe.fit(X, y)
    assert sp.issparse(sparse_pipe[0].transform(X[:2]))
    assert np.array_equal(sparse_pipe.predict_proba(X), dense_pipe.predict_proba(X))
    assert sparse_pipe.score(X, y) > 0.9


@pytest.mark.parametrize("to_sparse", SPARSE_FORMATS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_classifier_on_sparse_equals_dense(to_sparse, dtype):
    X, y = _data()
    S = to_sparse(X)
    params = {"max_epochs": 6, "dtype": dtype, "random_state": 0}
    dense = QwertyClassifier(**params).fit(X, y)
    model = QwertyClassifier(**params).fit(S, y)
    assert [row["train_loss"] for row in model.history_] == [
        row["train_loss"] for row in dense.history_
    ]
    for a, b in zip(
        model.net_.module_.parameters(), dense.net_.module_.parameters(), strict=True
    ):
        assert torch.equal(a, b)
    assert np.array_equal(model.predict_proba(S), dense.predict_proba(X))
    assert np.array_equal(model.predict(S), dense.predict(X))
    # Either model predicts either form alike.
    assert np.array_equal(dense.predict_proba(S), dense.predict_proba(X))


@pytest.mark.parametrize(
    "params",
    [
        {"shuffle": False},
        {"early_stopping": True, "validation_fraction": 0.2},
        {"batch_norm": True, "dropout": 0.1},
        {"optimizer": "rmsprop", "class_weight": "balanced"},
    ],
    ids=["no-shuffle", "early-stopping", "batch-norm-dropout", "rmsprop-weights"],
)
def test_training_settings_on_sparse_equal_dense(params):
    X, y = _data()
    weight = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    params = {"max_epochs": 6, "dtype": "float64", "random_state": 0, **params}
    dense = QwertyClassifier(**params).fit(X, y, sample_weight=weight)
    model = QwertyClassifier(**params).fit(sp.csr_matrix(X), y, sample_weight=weight)
    assert list(model.history_[:, "train_loss"]) == list(
        dense.history_[:, "train_loss"]
    )
    assert np.array_equal(model.predict_proba(X), dense.predict_proba(X))


def test_validation_data_partial_fit_and_warm_start_on_sparse():
    X, y = _data()
    S = sp.csr_matrix(X)
    params = {"max_epochs": 3, "dtype": "float64", "random_state": 0}
    dense = QwertyClassifier(warm_start=True, **params)
    model = QwertyClassifier(warm_start=True, **params)
    dense.fit(X[:200], y[:200], validation_data=(X[200:], y[200:]))
    model.fit(S[:200], y[:200], validation_data=(S[200:], y[200:]))
    assert list(model.history_[:, "valid_loss"]) == list(
        dense.history_[:, "valid_loss"]
    )
    dense.fit(X, y)
    model.fit(S, y)
    dense.partial_fit(X, y)
    model.partial_fit(S, y)
    assert model.n_iter_ == dense.n_iter_ == 7
    assert np.array_equal(model.predict_proba(S), dense.predict_proba(X))


def test_missing_values_in_sparse_are_imputed_and_flagged_as_in_dense():
    X, y = _data()
    X[::7, 3] = np.nan
    X[1::5, 5] = np.nan
    S = sp.csr_matrix(X)
    before = S.copy()
    params = {"max_epochs": 4, "dtype": "float64", "random_state": 0}
    dense = QwertyClassifier(**params).fit(X, y)
    model = QwertyClassifier(**params).fit(S, y)
    assert model.encoder_.indicated == dense.encoder_.indicated == (3, 5)
    assert np.array_equal(model.encoder_.fill, dense.encoder_.fill)
    assert np.array_equal(model.predict_proba(S), dense.predict_proba(X))
    # NaN where fit had none: imputed, no indicator.
    X2 = X.copy()
    X2[0, 0] = np.nan
    assert np.array_equal(
        model.predict_proba(sp.csr_matrix(X2)), dense.predict_proba(X2)
    )
    # The caller's matrix is not changed.
    assert np.array_equal(S.data, before.data, equal_nan=True)


def test_sparse_median_is_numpys():
    rng = np.random.RandomState(0)
    for n_values, n_zeros in [(0, 0), (0, 3), (1, 0), (4, 3), (5, 5), (7, 2)]:
        values = rng.normal(size=n_values) * 3
        expected = (
            np.median(np.r_[values, np.zeros(n_zeros)]) if n_values + n_zeros else 0.0
        )
        assert _median_with_zeros(values, n_zeros) == expected


def test_robust_on_sparse_scales_without_centring():
    X, y = _data()
    # A column that is mostly non-zero: its median is not 0.
    X[:, 0] = 5.0 + np.random.RandomState(0).normal(size=len(X))
    S = sp.csr_matrix(X)
    dense = QwertyClassifier(preprocessing="robust").fit(X, y)
    model = QwertyClassifier(preprocessing="robust", max_epochs=3).fit(S, y)
    encoder = model.encoder_
    assert np.array_equal(encoder.centre, np.zeros(X.shape[1]))
    # Columns of median 0: the dense scale; others: |median| + deviation.
    assert dense.encoder_.centre[0] != 0
    assert (dense.encoder_.centre == 0).sum() >= X.shape[1] // 2
    np.testing.assert_allclose(
        encoder.scale,
        np.abs(dense.encoder_.centre) + dense.encoder_.scale,
        rtol=1e-12,
    )
    inputs = encoder.transform(table_of(S))
    assert sp.issparse(inputs) and inputs.nnz == S.nnz
    assert np.abs(inputs.data).max() < 3.0


def test_robust_model_from_dense_refuses_sparse_at_predict_only_if_centred():
    X, y = _data()
    dense = QwertyClassifier(preprocessing="robust", max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="centring a sparse X"):
        dense.predict(sp.csr_matrix(X))
    model = QwertyClassifier(preprocessing="robust", max_epochs=2).fit(
        sp.csr_matrix(X), y
    )
    # Fitted on sparse, it takes dense rows too, with the same inputs.
    assert np.array_equal(model.predict_proba(X), model.predict_proba(sp.csr_matrix(X)))


@pytest.mark.parametrize("preprocessing", [None, "robust"])
def test_cv_on_sparse_equals_dense(preprocessing):
    X, y = _data()
    # Every column mostly zero, so its median is 0 and the robust scaling
    # of sparse X (no centring) is that of dense X.
    X[np.abs(X) < 1.5] = 0.0
    params = {
        "n_candidates": 2,
        "max_epochs": 4,
        "cv": 2,
        "dtype": "float64",
        "random_state": 0,
        "preprocessing": preprocessing,
    }
    dense = QwertyClassifierCV(**params).fit(X, y)
    model = QwertyClassifierCV(**params).fit(sp.csr_matrix(X), y)
    assert model.best_params_ == dense.best_params_
    proba, expected = model.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X)
    if preprocessing is None:
        assert np.array_equal(proba, expected)
        assert np.array_equal(
            model.cv_results_["mean_test_score"], dense.cv_results_["mean_test_score"]
        )
    else:
        assert np.array_equal(dense.encoder_.centre, model.encoder_.centre)
        # The robust scale of a sparse column is summed in another order.
        np.testing.assert_allclose(proba, expected, rtol=1e-9, atol=1e-12)


def test_cv_with_a_serial_candidate_and_refit_on_sparse():
    X, y = _data()
    params = {
        "n_candidates": 1,
        "max_epochs": 3,
        "cv": 2,
        "dtype": "float64",
        "random_state": 0,
        "preprocessing": None,
        "activation": "gelu",  # no hand-written gradient: trained serially
        "refit": True,
        "scoring": "accuracy",
    }
    dense = QwertyClassifierCV(**params).fit(X, y)
    model = QwertyClassifierCV(**params).fit(sp.csr_matrix(X), y)
    assert np.array_equal(model.predict_proba(X), dense.predict_proba(X))


@pytest.mark.parametrize("estimator", [None, QwertyClassifier(max_epochs=4)])
def test_ensemble_on_sparse_equals_dense(estimator):
    X, y = _data()
    if estimator is not None:
        estimator = estimator.set_params(dtype="float64")
    params = {
        "estimator": estimator,
        "n_estimators": 3,
        "bootstrap": True,
        "random_state": 0,
        "preprocessing": None,
    }
    dense = QwertyEnsembleClassifier(**params).fit(X, y)
    model = QwertyEnsembleClassifier(**params).fit(sp.csr_matrix(X), y)
    assert np.array_equal(model.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X))


def test_batched_search_on_sparse_equals_dense():
    X, y = _data()
    grid = {"lr": [0.01, 0.05], "hidden_layer_sizes": [(4,), (8,)]}
    base = QwertyClassifier(max_epochs=4, dtype="float64", random_state=0)
    dense = BatchedGridSearchCV(base, grid, cv=3).fit(X, y)
    model = BatchedGridSearchCV(base, grid, cv=3).fit(sp.csr_matrix(X), y)
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        assert np.array_equal(model.cv_results_[key], dense.cv_results_[key])
    assert np.array_equal(model.predict_proba(X), dense.predict_proba(X))


def test_tensor_batches_of_sparse_rows_are_those_of_the_tensor():
    X, y = _data(n=50)
    tensor = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    rows = TensorDataset(SparseRows(sp.csr_matrix(X)), torch.from_numpy(y))
    for shuffle in (False, True):
        batches = [
            list(
                TensorBatches(
                    data,
                    batch_size=16,
                    shuffle=shuffle,
                    generator=torch.Generator().manual_seed(3),
                )
            )
            for data in (tensor, rows)
        ]
        for (xa, ya), (xb, yb) in zip(*batches, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert torch.equal(rows[7][0], tensor[7][0])
    assert rows.X[torch.tensor([[1, 2], [3, 4]])].shape == (2, 2, X.shape[1])


class _Densified:
    """Records the shape of every sparse matrix made dense."""

    def __init__(self, monkeypatch):
        self.shapes = []
        for cls in (sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array):
            for name in ("toarray", "todense"):
                monkeypatch.setattr(cls, name, self._recording(getattr(cls, name)))

    def _recording(self, method):
        def recorded(matrix, *args, **kwargs):
            self.shapes.append(matrix.shape)
            return method(matrix, *args, **kwargs)

        return recorded

    def rows(self):
        counts = [shape[0] for shape in self.shapes]
        self.shapes = []
        return counts


def test_densified_a_batch_at_a_time(monkeypatch):
    n, batch = 5000, 64
    X, y = _data(n=n, n_features=8)
    S = sp.csr_matrix(X)
    densified = _Densified(monkeypatch)
    model = QwertyClassifier(
        batch_size=batch, max_epochs=2, validation_fraction=0.1, random_state=0
    ).fit(S, y)
    rows = densified.rows()
    n_train = n - 500
    # Every training batch on its own, the validation rows in one chunk and
    # the first 1024 training rows once (the final check of the outputs).
    assert rows.count(batch) >= 2 * (n_train // batch)
    assert max(rows) <= 1024 < n
    model.predict_proba(S)
    rows = densified.rows()
    assert max(rows) == PREDICT_CHUNK < n
    assert sum(rows) == n


def test_batched_runs_densify_a_batch_at_a_time(monkeypatch):
    n, batch = 5000, 64
    X, y = _data(n=n, n_features=8)
    S = sp.csr_matrix(X)
    member = QwertyClassifier(batch_size=batch, max_epochs=2, early_stopping=False)
    densified = _Densified(monkeypatch)
    QwertyEnsembleClassifier(
        member, n_estimators=2, random_state=0, preprocessing=None
    ).fit(S, y)
    rows = densified.rows()
    # One batch of each of the 2 models per step; the final check of the
    # outputs takes each model's first 1024 rows.
    assert rows.count(2 * batch) >= 2 * (n // batch)
    assert max(rows) <= 2 * 1024 < n


def test_duplicate_entries_count_as_their_sum():
    X, y = _data()
    S = sp.csr_matrix(X)
    # Every value stored as two halves, in a CSR matrix that keeps both.
    doubled = sp.csr_matrix(
        (np.repeat(S.data / 2, 2), np.repeat(S.indices, 2), 2 * S.indptr),
        shape=X.shape,
    )
    assert doubled.nnz == 2 * S.nnz and not doubled.has_canonical_format
    assert np.allclose(doubled.toarray(), X)
    before = doubled.data.copy()
    params = {"max_epochs": 3, "preprocessing": "robust", "random_state": 0}
    model = QwertyClassifier(**params).fit(doubled, y)
    expected = QwertyClassifier(**params).fit(sp.csr_matrix(doubled.toarray()), y)
    np.testing.assert_allclose(
        model.predict_proba(doubled), expected.predict_proba(X), rtol=1e-5
    )
    assert np.array_equal(doubled.data, before)
