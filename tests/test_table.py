"""Raw tables: DataFrames with categorical, boolean and missing values."""

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.utils.validation import validate_data

import qwertyclf._classifier
from qwertyclf import (
    QwertyClassifier,
    QwertyClassifierCV,
    QwertyEnsembleClassifier,
    load_model,
)
from qwertyclf._table import TableEncoder, read_table
from qwertyclf.datasets import make_qwerty
from qwertyclf.model_selection import BatchedGridSearchCV

FAST = {"max_epochs": 4, "random_state": 0}


def _table(n=120, seed=0):
    """A mixed table whose class depends on a number and a category."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], n)
    size = rng.normal(size=n) * 1000.0
    y = np.where(colour == "red", "a", np.where(size > 0, "b", "c"))
    frame = pd.DataFrame(
        {
            "size": size,
            "ratio": rng.uniform(size=n),
            "colour": pd.Series(colour, dtype="category"),
            "shape": rng.choice(["round", "square", None], n).astype(object),
            "flag": rng.uniform(size=n) > 0.5,
            "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        }
    )
    frame.loc[::9, "size"] = np.nan
    frame.loc[::11, "count"] = pd.NA
    return frame, y


def test_numpy_path_is_unchanged_bit_for_bit(monkeypatch):
    # The seed's data and network, fitted as today's release fitted them:
    # the array validated by scikit-learn and fed to the network as it is.
    X, y = make_qwerty(random_state=42)
    fitted = QwertyClassifier(random_state=0).fit(X, y)
    assert fitted.encoder_.identity

    def old_validation(estimator, X, y, sample_weight=None):
        X, y = validate_data(estimator, X, y, dtype=(np.float64, np.float32))
        return TableEncoder.identity_for(X.shape[1]), X, y

    monkeypatch.setattr(qwertyclf._classifier, "fit_encoding", old_validation)
    reference = QwertyClassifier(random_state=0).fit(X, y)
    np.testing.assert_array_equal(fitted.predict_proba(X), reference.predict_proba(X))
    assert [r["train_loss"] for r in fitted.history_] == [
        r["train_loss"] for r in reference.history_
    ]


def test_identity_encoding_hands_the_array_itself_to_the_network():
    X, _ = make_qwerty(random_state=42)
    table, _ = read_table(QwertyClassifier(), X, reset=True)
    encoder = TableEncoder.fit(table)
    assert encoder.transform(table) is table.numeric
    assert np.shares_memory(table.numeric, X) or np.array_equal(table.numeric, X)


@pytest.mark.parametrize(
    "estimator",
    [
        QwertyClassifier(preprocessing="robust", **FAST),
        QwertyClassifierCV(n_candidates=2, max_epochs=4, cv=3, random_state=0),
        QwertyEnsembleClassifier(
            QwertyClassifier(max_epochs=4), n_estimators=3, random_state=0
        ),
    ],
    ids=["QwertyClassifier", "QwertyClassifierCV", "QwertyEnsembleClassifier"],
)
def test_raw_mixed_table_fits_and_predicts(estimator):
    X, y = _table()
    before = X.copy()
    model = clone(estimator).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(model.predict(X)) <= {"a", "b", "c"}
    assert list(model.feature_names_in_) == list(X.columns)
    assert model.n_features_in_ == 6
    # Nothing the user passed is changed.
    pd.testing.assert_frame_equal(X, before)


def test_the_table_is_learnt():
    X, y = _table(400)
    model = QwertyClassifier(
        preprocessing="robust", hidden_layer_sizes=(32,), max_epochs=60, random_state=0
    ).fit(X, y)
    assert model.score(X, y) > 0.9


def test_categories_are_one_hot_with_missing_and_booleans_as_categories():
    X, y = _table()
    model = QwertyClassifier(**FAST).fit(X, y)
    encoder = model.encoder_
    assert encoder.categorical == (2, 3, 4)
    assert [list(c) for c in encoder.categories] == [
        ["blue", "green", "red"],
        ["round", "square"],
        ["False", "True"],
    ]
    assert encoder.missing_slot == (False, True, False)
    # size and count had missing values: one indicator each.
    assert encoder.indicated == (0, 2)
    # 3 numbers + 2 indicators + 3 + (2 + missing) + 2 one-hot inputs.
    assert encoder.n_outputs == 3 + 2 + 3 + 3 + 2
    assert model.net_.module_[0].in_features == encoder.n_outputs


def test_unseen_category_maps_to_unknown_without_error():
    X, y = _table()
    model = QwertyClassifier(**FAST).fit(X, y)
    row = X.iloc[:1].copy()
    row["colour"] = pd.Series(["purple"], dtype="category", index=row.index)
    inputs = model._read(row, reset=False)[1]
    # The colour block (after 3 numbers and 2 indicators) is all zeros.
    np.testing.assert_array_equal(inputs[0, 5:8], 0.0)
    assert model.predict_proba(row).shape == (1, 3)


def test_min_frequency_pools_rare_and_unseen_categories():
    X = pd.DataFrame({"city": ["a"] * 10 + ["b"] * 10 + ["c", "d"]})
    y = np.r_[np.zeros(10), np.ones(10), [0, 1]]
    model = QwertyClassifier(min_frequency=2, **FAST).fit(X, y)
    assert list(model.encoder_.categories[0]) == ["a", "b"]
    assert model.encoder_.other_slot == (True,)
    inputs = model._read(pd.DataFrame({"city": ["c", "zzz", "a"]}), reset=False)[1]
    np.testing.assert_array_equal(inputs, [[0, 0, 1], [0, 0, 1], [1, 0, 0]])
    fraction = QwertyClassifier(min_frequency=0.5, **FAST).fit(X, y)
    assert list(fraction.encoder_.categories[0]) == []


@pytest.mark.parametrize(
    "estimator",
    [
        QwertyClassifierCV(n_candidates=1, cv=2, max_epochs=2, random_state=0),
        QwertyEnsembleClassifier(QwertyClassifier(max_epochs=2), n_estimators=2),
    ],
    ids=["cv", "ensemble"],
)
def test_tuned_estimators_pool_categories_seen_in_one_row(estimator):
    # An identifier column: a category per row would be an input per row.
    n = 60
    X = pd.DataFrame(
        {
            "id": [f"row{i}" for i in range(n)],
            "city": ["a"] * 30 + ["b"] * 28 + ["c"] * 2,
            "rare": ["x"] * 56 + ["y"] * 2 + ["z", "w"],
        }
    )
    y = np.arange(n) % 2
    model = clone(estimator).fit(X, y)
    encoder = model.encoder_
    assert model.get_params()["min_frequency"] == 2
    assert [list(c) for c in encoder.categories] == [[], ["a", "b", "c"], ["x", "y"]]
    assert encoder.other_slot == (True, False, True)
    # One pooled input for the identifier, three cities, "x", "y" and the pool.
    assert encoder.n_outputs == 1 + 3 + 3
    kept = clone(estimator).set_params(min_frequency=None).fit(X, y)
    assert kept.encoder_.n_outputs == n + 3 + 4
    # With sample weights a category's count is its total weight.
    doubled = clone(estimator).fit(X, y, sample_weight=np.full(n, 2.0))
    assert list(doubled.encoder_.categories[2]) == ["w", "x", "y", "z"]


def test_all_nan_column_in_fit():
    X, y = _table()
    X["empty"] = np.nan
    model = QwertyClassifier(**FAST).fit(X, y)
    assert np.isfinite(model.predict_proba(X)).all()
    # Imputed with 0 (it has no median) and flagged in every row.
    inputs = model._read(X, reset=False)[1]
    assert np.isfinite(inputs).all()


def test_nan_only_at_predict_is_the_training_median():
    X, y = make_qwerty(random_state=0)
    model = QwertyClassifier(**FAST).fit(X, y)
    assert model.encoder_.identity
    holey = X[:5].copy()
    holey[:, 1] = np.nan
    filled = X[:5].copy()
    filled[:, 1] = np.median(X[:, 1])
    np.testing.assert_array_equal(
        model.predict_proba(holey), model.predict_proba(filled)
    )
    assert np.isnan(holey[:, 1]).all()  # the caller's array is left alone


def test_nan_in_a_categorical_column_at_predict_only():
    X = pd.DataFrame({"colour": ["red", "blue"] * 10, "x": np.arange(20.0)})
    y = np.arange(20) % 2
    model = QwertyClassifier(**FAST).fit(X, y)
    assert model.encoder_.missing_slot == (False,)
    row = pd.DataFrame({"colour": [None], "x": [3.0]})
    inputs = model._read(row, reset=False)[1]
    np.testing.assert_array_equal(inputs[0, 1:], [0.0, 0.0])


def test_categorical_features_override_by_name_index_and_mask():
    X = pd.DataFrame({"zip": [10, 20, 30, 10] * 5, "x": np.arange(20.0)})
    y = np.arange(20) % 2
    by_name = QwertyClassifier(categorical_features=["zip"], **FAST).fit(X, y)
    by_index = QwertyClassifier(categorical_features=[0], **FAST).fit(X, y)
    by_mask = QwertyClassifier(categorical_features=[True, False], **FAST).fit(X, y)
    for model in (by_name, by_index, by_mask):
        assert model.encoder_.categorical == (0,)
        assert list(model.encoder_.categories[0]) == ["10", "20", "30"]
    none = QwertyClassifier(categorical_features=None, **FAST).fit(X, y)
    assert none.encoder_.categorical == ()


def test_robust_preprocessing_handles_raw_scales():
    X, y = make_qwerty(random_state=0)
    wide = np.c_[X[:, 0] * 5000.0 + 20000.0, X[:, 1]]
    plain = QwertyClassifier(random_state=0).fit(wide, y)
    robust = QwertyClassifier(preprocessing="robust", random_state=0).fit(wide, y)
    assert robust.score(wide, y) > plain.score(wide, y) + 0.1


def test_save_and_load_keep_the_encoding(tmp_path):
    X, y = _table()
    model = QwertyClassifier(preprocessing="robust", min_frequency=3, **FAST).fit(X, y)
    path = model.save(tmp_path / "table.safetensors")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.encoder_.to_dict() == model.encoder_.to_dict()
    assert list(loaded.feature_names_in_) == list(X.columns)


def test_polars_dataframe():
    X, y = _table()
    frame = pl.from_dict(
        {
            "size": X["size"].to_numpy(),
            "ratio": X["ratio"].to_numpy(),
            "colour": X["colour"].astype(str).tolist(),
            "shape": [None if pd.isna(v) else v for v in X["shape"]],
            "flag": X["flag"].tolist(),
            "count": X["count"].astype("float64").to_numpy(),
        }
    )
    from_pandas = QwertyClassifier(**FAST).fit(X, y)
    from_polars = QwertyClassifier(**FAST).fit(frame, y)
    np.testing.assert_array_equal(
        from_polars.predict_proba(frame), from_pandas.predict_proba(X)
    )


def test_object_array_of_strings():
    X = np.array([["red", 1.0], ["blue", 2.0], [None, 3.0]] * 10, dtype=object)
    y = np.arange(30) % 2
    model = QwertyClassifier(**FAST).fit(X, y)
    assert model.encoder_.categorical == (0,)
    assert model.predict(X).shape == (30,)


def test_batched_search_on_a_raw_table_equals_grid_search():
    X, y = _table(90)
    grid = {"lr": [0.01, 0.05], "hidden_layer_sizes": [(4,), (8,)]}
    base = QwertyClassifier(
        max_epochs=3, dtype="float64", preprocessing="robust", random_state=0
    )
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    batched = BatchedGridSearchCV(base, grid, cv=folds, scoring="neg_log_loss").fit(
        X, y
    )
    serial = GridSearchCV(base, grid, cv=folds, scoring="neg_log_loss").fit(X, y)
    np.testing.assert_allclose(
        batched.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        batched.predict_proba(X), serial.predict_proba(X), rtol=1e-9, atol=1e-12
    )


def test_skrub_tabular_pipeline():
    skrub = pytest.importorskip("skrub")
    X, y = _table()
    pipeline = skrub.tabular_pipeline(
        QwertyClassifierCV(n_candidates=1, max_epochs=3, cv=2, random_state=0)
    )
    pipeline.fit(X, y)
    assert pipeline.predict(X).shape == (len(X),)


def test_encoding_statistics_follow_sample_weight():
    # A row of weight 0 counts as absent, a row of weight 2 as two rows.
    X, _ = _table(60)
    rng = np.random.default_rng(1)
    weight = rng.integers(0, 3, len(X)).astype(float)
    table, _ = read_table(QwertyClassifier(), X, reset=True)
    weighted = TableEncoder.fit(
        table, preprocessing="robust", min_frequency=5, sample_weight=weight
    )
    rows = np.repeat(np.arange(len(X)), weight.astype(int))
    repeated = TableEncoder.fit(
        table.take(rows), preprocessing="robust", min_frequency=5
    )
    _assert_close(weighted.to_dict(), repeated.to_dict())


def _assert_close(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], list) and a[key] and isinstance(a[key][0], float):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-12)
        else:
            assert a[key] == b[key], key


def test_the_encoder_attributes_the_docstring_names():
    # QwertyClassifier's docstring describes encoder_ by these attributes.
    X, y = _table()
    encoder = QwertyClassifier(**FAST).fit(X, y).encoder_
    for name in (
        "categorical",
        "categories",
        "missing_slot",
        "other_slot",
        "indicated",
        "n_outputs",
    ):
        assert hasattr(encoder, name), name
    assert (
        encoder.n_outputs
        == encoder.transform(read_table(QwertyClassifier(), X, reset=True)[0]).shape[1]
    )
