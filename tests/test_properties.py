"""Property-based tests of `QwertyClassifier` on random small datasets."""

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qwertyclf import QwertyClassifier

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

LABEL_SETS = {
    "int": st.lists(st.integers(-1000, 1000), min_size=4, max_size=4, unique=True),
    "str": st.lists(st.text(max_size=3), min_size=4, max_size=4, unique=True),
}


@st.composite
def datasets(draw, *, min_rows=10, max_rows=60):
    """`(X, y, sample_weight)` with at least two classes in `y`."""
    n = draw(st.integers(min_rows, max_rows))
    n_features = draw(st.integers(1, 4))
    n_classes = draw(st.integers(2, 4))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    X = draw(
        hnp.arrays(
            dtype,
            (n, n_features),
            elements=st.floats(-100, 100, width=np.dtype(dtype).itemsize * 8),
        )
    )
    if draw(st.booleans()):
        X = np.asfortranarray(X)
    codes = np.array(
        draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))
    )
    # Rows 0 and 1 pin down two different classes wherever the rest fall.
    codes[0], codes[1] = 0, 1
    kind = draw(st.sampled_from(sorted(LABEL_SETS)))
    labels = np.array(draw(LABEL_SETS[kind])[:n_classes])
    y = labels[codes]
    sample_weight = None
    if draw(st.booleans()):
        sample_weight = np.array(
            draw(st.lists(st.floats(0.1, 5.0), min_size=n, max_size=n))
        )
    return X, y, sample_weight


def _snapshot(array):
    if array is None:
        return None
    return array.copy(order="K"), array.flags.f_contiguous, array.dtype


def _unchanged(array, snapshot):
    if array is None:
        return snapshot is None
    copy, fortran, dtype = snapshot
    return (
        array.dtype == dtype
        and array.flags.f_contiguous == fortran
        and np.array_equal(array, copy)
    )


def _check_fitted(clf, X, y):
    n = len(X)
    classes = np.unique(y)
    np.testing.assert_array_equal(clf.classes_, classes)
    assert clf.n_features_in_ == X.shape[1]

    proba = clf.predict_proba(X)
    assert proba.shape == (n, len(classes))
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-6)

    pred = clf.predict(X)
    assert pred.shape == (n,)
    assert np.isin(pred, clf.classes_).all()
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])

    score = clf.score(X, y)
    assert 0.0 <= score <= 1.0
    assert score == pytest.approx(np.mean(pred == y))


@SETTINGS
@given(data=datasets(), batch_size=st.integers(1, 16), shuffle=st.booleans())
def test_fit_predict_invariants(data, batch_size, shuffle):
    X, y, sample_weight = data
    before = [_snapshot(a) for a in (X, y, sample_weight)]
    clf = QwertyClassifier(
        max_epochs=2, batch_size=batch_size, shuffle=shuffle, random_state=0
    )
    assert clf.fit(X, y, sample_weight=sample_weight) is clf
    for array, snapshot in zip((X, y, sample_weight), before, strict=True):
        assert _unchanged(array, snapshot)

    _check_fitted(clf, X, y)
    # Predicting does not touch the input either.
    assert _unchanged(X, before[0])


@SETTINGS
@given(data=datasets(max_rows=40), dtype=st.sampled_from(["float32", "float64"]))
def test_partial_fit_invariants(data, dtype):
    X, y, sample_weight = data
    before = [_snapshot(a) for a in (X, y, sample_weight)]
    clf = QwertyClassifier(batch_size=8, dtype=dtype, random_state=0)
    clf.partial_fit(X, y, classes=np.unique(y), sample_weight=sample_weight)
    clf.partial_fit(X, y, sample_weight=sample_weight)
    for array, snapshot in zip((X, y, sample_weight), before, strict=True):
        assert _unchanged(array, snapshot)
    assert clf.n_iter_ == 2
    _check_fitted(clf, X, y)


@SETTINGS
@given(data=datasets(), batch_size=st.integers(2, 16))
@example(
    data=(
        np.arange(66, dtype=np.float64).reshape(33, 2),
        np.arange(33) % 2,
        None,
    ),
    batch_size=16,
).via("33 rows in batches of 16 leave a last batch of one row")
def test_batch_norm_any_number_of_rows(data, batch_size):
    X, y, sample_weight = data
    clf = QwertyClassifier(
        batch_norm=True, max_epochs=2, batch_size=batch_size, random_state=0
    )
    clf.fit(X, y, sample_weight=sample_weight)
    _check_fitted(clf, X, y)
