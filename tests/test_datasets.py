"""Tests for the dataset generators of `qwertyclf.datasets`."""

import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.utils import Bunch

import qwertyclf.datasets as ds
from qwertyclf.datasets import (
    BayesAccuracy,
    GaussianBayesClassifier,
    RingBayesClassifier,
    make_gaussian_classes,
    make_qwerties,
    make_qwerty,
    make_qwerty_doughnuts,
)

FAST = settings(max_examples=30, deadline=None)


def global_rng_state():
    return np.random.get_state(legacy=False)  # noqa: NPY002


def assert_same_rng_state(before, after):
    assert before["state"]["pos"] == after["state"]["pos"]
    assert np.array_equal(before["state"]["key"], after["state"]["key"])
    assert before["has_gauss"] == after["has_gauss"]
    assert before["gauss"] == after["gauss"]


def seed_notebook_data():
    """Section 2 of the lecture notebook, verbatim apart from the plot."""
    np.random.seed(42)  # noqa: NPY002
    n_per_class = 300
    means = np.array([[2, 1], [-2, 1], [0, -3]])
    cov = np.array([[1, 0], [0, 1]])
    X = np.zeros((n_per_class * 3, 2))
    y = np.zeros(n_per_class * 3)
    for i in range(3):
        idx = range(i * n_per_class, (i + 1) * n_per_class)
        X[idx, :] = np.random.multivariate_normal(means[i], cov, n_per_class)  # noqa: NPY002
        y[idx] = i
    return X, y


# --- public API ------------------------------------------------------------------


def test_public_names_are_exported_and_documented():
    expected = {
        "BayesAccuracy",
        "GaussianBayesClassifier",
        "RingBayesClassifier",
        "bayes_accuracy",
        "make_gaussian_classes",
        "make_qwerties",
        "make_qwerty",
        "make_qwerty_doughnuts",
        "ring_bayes_accuracy",
    }
    assert set(ds.__all__) == expected
    for name in ds.__all__:
        obj = getattr(ds, name)
        assert obj.__doc__ and "Examples" in obj.__doc__, name


# --- make_qwerty -----------------------------------------------------------------


def test_make_qwerty_is_bit_identical_to_the_seed_notebook():
    X_seed, y_seed = seed_notebook_data()
    X, y = make_qwerty(random_state=42)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert np.array_equal(X, X_seed)
    assert np.array_equal(y, y_seed)


@pytest.mark.parametrize("random_state", [42, None, np.random.RandomState(0)])
def test_make_qwerty_leaves_the_global_rng_untouched(random_state):
    np.random.seed(123)  # noqa: NPY002
    before = global_rng_state()
    make_qwerty(random_state=random_state, shuffle=True, return_X_y=False)
    assert_same_rng_state(before, global_rng_state())


def test_make_qwerty_none_gives_fresh_data_each_call():
    X1, _ = make_qwerty(random_state=None)
    X2, _ = make_qwerty(random_state=None)
    assert not np.array_equal(X1, X2)


def test_make_qwerty_shuffle_permutes_rows_with_their_labels():
    X, y = make_qwerty(random_state=42)
    Xs, ys = make_qwerty(random_state=42, shuffle=True)
    assert not np.array_equal(ys, y)
    label_of = {tuple(row): label for row, label in zip(X, y, strict=True)}
    assert len(label_of) == len(y)
    assert all(label_of[tuple(row)] == lab for row, lab in zip(Xs, ys, strict=True))


def test_make_qwerty_custom_means_and_scalar_cov():
    means = [[0, 0, 0], [5, 0, 0], [0, 5, 0], [0, 0, 5]]
    X, y = make_qwerty(500, means=means, cov=0.25, random_state=1)
    assert X.shape == (2000, 3)
    assert np.bincount(y).tolist() == [500] * 4
    for k in range(4):
        assert np.allclose(X[y == k].mean(axis=0), means[k], atol=0.1)
        assert np.allclose(X[y == k].std(axis=0), 0.5, atol=0.05)


def test_make_qwerty_bunch():
    data = make_qwerty(random_state=42, return_X_y=False)
    assert isinstance(data, Bunch)
    X, y = make_qwerty(random_state=42)
    assert np.array_equal(data.data, X) and np.array_equal(data.target, y)
    assert np.array_equal(data.means, [[2, 1], [-2, 1], [0, -3]])
    assert np.array_equal(data.covariances, np.broadcast_to(np.eye(2), (3, 2, 2)))
    assert np.allclose(data.priors, 1 / 3)
    assert isinstance(data.bayes_accuracy, BayesAccuracy)
    assert abs(data.bayes_accuracy - 0.970) <= 0.001
    assert isinstance(data.bayes_estimator, GaussianBayesClassifier)
    assert data.bayes_estimator.classes_.tolist() == [0, 1, 2]
    assert data.bayes_estimator.n_features_in_ == 2
    assert "0.970" in data.DESCR
    # The Bayes classifier's accuracy on the lecture data itself (900 points).
    assert abs(data.bayes_estimator.score(X, y) - 0.970) < 0.02


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_per_class": 0}, ValueError, "n_per_class"),
        ({"n_per_class": -3}, ValueError, "n_per_class"),
        ({"n_per_class": 2.5}, TypeError, "n_per_class"),
        ({"n_per_class": "300"}, TypeError, "n_per_class"),
        ({"means": [1, 2, 3]}, ValueError, "means"),
        ({"means": [[0, np.nan], [1, 1]]}, ValueError, "means"),
        ({"cov": [1.0, 1.0]}, ValueError, "cov"),
        ({"cov": np.ones((3, 2, 2))}, ValueError, "cov"),
        ({"cov": [[1, 0.5], [0, 1]]}, ValueError, "cov.*symmetric"),
        ({"cov": [[1, 2], [2, 1]]}, ValueError, "cov.*positive definite"),
        ({"cov": np.eye(3)}, ValueError, "cov"),
        ({"cov": -1.0}, ValueError, "cov"),
        ({"random_state": "seed"}, ValueError, "random_state"),
        ({"random_state": -1}, ValueError, "random_state"),
    ],
)
def test_make_qwerty_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_qwerty(**kwargs)


# --- make_gaussian_classes: properties ----------------------------------------------


@st.composite
def gaussian_problems(draw):
    n_classes = draw(st.integers(1, 5))
    n_features = draw(st.integers(1, 4))
    if draw(st.booleans()):
        n_samples = draw(
            st.lists(st.integers(1, 40), min_size=n_classes, max_size=n_classes)
        )
    else:
        n_samples = draw(st.integers(1, 200))
    shuffle = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return n_classes, n_features, n_samples, shuffle, seed


@FAST
@given(gaussian_problems())
def test_make_gaussian_classes_properties(problem):
    n_classes, n_features, n_samples, shuffle, seed = problem
    kwargs = {
        "n_classes": n_classes,
        "n_features": n_features,
        "shuffle": shuffle,
        "random_state": seed,
    }
    before = global_rng_state()
    X, y = make_gaussian_classes(n_samples, **kwargs)
    assert_same_rng_state(before, global_rng_state())
    total = n_samples if isinstance(n_samples, int) else sum(n_samples)
    assert X.shape == (total, n_features) and X.dtype == np.float64
    assert y.shape == (total,) and y.dtype == np.int64
    assert set(np.unique(y)) <= set(range(n_classes))
    counts = np.bincount(y, minlength=n_classes)
    if isinstance(n_samples, int):
        assert np.all(np.abs(counts - n_samples / n_classes) < 1)
    else:
        assert counts.tolist() == n_samples
    if not shuffle:
        assert np.all(np.diff(y) >= 0)
    X2, y2 = make_gaussian_classes(n_samples, **kwargs)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)


@FAST
@given(
    n_samples=st.integers(1, 10_000),
    raw=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=6),
)
def test_total_is_split_by_priors_with_exact_counts(n_samples, raw):
    priors = np.array(raw) / np.sum(raw)
    _, y = make_gaussian_classes(n_samples, priors=priors, random_state=0)
    counts = np.bincount(y, minlength=len(priors))
    assert counts.sum() == n_samples
    assert np.all(np.abs(counts - n_samples * priors) < 1)


@FAST
@given(seed=st.integers(0, 2**32 - 1), shuffle=st.booleans())
def test_random_state_instance_is_advanced_and_int_is_reproducible(seed, shuffle):
    rs = np.random.RandomState(seed)
    X1, _ = make_gaussian_classes(20, random_state=rs, shuffle=shuffle)
    X2, _ = make_gaussian_classes(20, random_state=rs, shuffle=shuffle)
    assert not np.array_equal(X1, X2)
    X3, _ = make_gaussian_classes(20, random_state=seed, shuffle=shuffle)
    assert np.array_equal(X1, X3)


def test_shuffle_only_reorders_the_labels():
    _, y = make_gaussian_classes([30, 20, 10], shuffle=True, random_state=3)
    assert not np.all(np.diff(y) >= 0)
    assert np.bincount(y).tolist() == [30, 20, 10]


# --- make_gaussian_classes: parameters --------------------------------------------


def test_parameters_are_inferred_from_means_counts_and_priors():
    X, y = make_gaussian_classes(40, means=np.zeros((4, 3)), random_state=0)
    assert X.shape == (40, 3) and np.bincount(y).tolist() == [10] * 4
    X, y = make_gaussian_classes([5, 6], random_state=0)
    assert X.shape == (11, 2) and np.bincount(y).tolist() == [5, 6]
    _, y = make_gaussian_classes(10, priors=[0.5, 0.5], random_state=0)
    assert set(y.tolist()) == {0, 1}
    X, y = make_gaussian_classes(random_state=0)
    assert X.shape == (300, 2) and set(y.tolist()) == {0, 1, 2}


def test_per_class_counts_set_the_priors_unless_given():
    data = make_gaussian_classes([100, 300], random_state=0, return_X_y=False)
    assert np.allclose(data.priors, [0.25, 0.75])
    data = make_gaussian_classes(
        [100, 300], priors=[0.5, 0.5], random_state=0, return_X_y=False
    )
    assert np.allclose(data.priors, [0.5, 0.5])
    assert np.bincount(data.target).tolist() == [100, 300]


def test_default_means_are_drawn_in_the_box_before_the_samples():
    data = make_gaussian_classes(
        10, n_classes=4, n_features=2, random_state=5, return_X_y=False
    )
    means = np.random.RandomState(5).uniform(-5, 5, size=(4, 2))
    assert np.array_equal(data.means, means)
    X, _ = make_gaussian_classes(10, n_classes=4, n_features=2, random_state=5)
    assert np.array_equal(X, data.data)


FULL = np.array(
    [[[2.0, 0.6], [0.6, 1.0]], [[1.0, -0.3], [-0.3, 0.5]], [[0.5, 0], [0, 3]]]
)


@pytest.mark.parametrize(
    ("covariances", "expected"),
    [
        (2.0, np.broadcast_to(2.0 * np.eye(2), (3, 2, 2))),
        ([1.0, 2.0, 3.0], np.array([k * np.eye(2) for k in (1.0, 2.0, 3.0)])),
        (
            [[1, 2], [3, 4], [5, 6]],
            np.array([np.diag(d) for d in ([1, 2], [3, 4], [5, 6])]),
        ),
        (
            [[2.0, 0.5], [0.5, 1.0]],
            np.broadcast_to([[2.0, 0.5], [0.5, 1.0]], (3, 2, 2)),
        ),
        (FULL, FULL),
    ],
    ids=["scalar", "per-class-scalar", "per-class-diagonal", "shared-matrix", "full"],
)
def test_covariance_forms(covariances, expected):
    means = [[0, 0], [10, 0], [0, 10]]
    data = make_gaussian_classes(
        60_000, means=means, covariances=covariances, random_state=0, return_X_y=False
    )
    assert np.array_equal(data.covariances, expected)
    for k in range(3):
        sample = data.data[data.target == k]
        assert np.allclose(sample.mean(axis=0), means[k], atol=0.08)
        assert np.allclose(np.cov(sample.T), expected[k], atol=0.12 * expected[k].max())


def test_square_covariance_is_a_shared_matrix_when_n_classes_equals_n_features():
    cov = [[1.0, 0.2], [0.2, 2.0]]
    data = make_gaussian_classes(
        10, means=[[0, 0], [1, 1]], covariances=cov, random_state=0, return_X_y=False
    )
    assert np.array_equal(data.covariances, [cov, cov])


def test_one_feature_and_one_class():
    X, y = make_gaussian_classes(10, means=[[1.0]], covariances=[4.0], random_state=0)
    assert X.shape == (10, 1) and set(y.tolist()) == {0}
    data = make_gaussian_classes(10, means=[[1.0]], random_state=0, return_X_y=False)
    assert data.bayes_accuracy == 1.0


def test_gaussian_bunch_fields():
    data = make_gaussian_classes(
        500,
        means=[[0, 0, 0], [2, 0, 0]],
        covariances=[1.0, 2.0],
        random_state=0,
        return_X_y=False,
    )
    assert set(data) == {
        "data",
        "target",
        "means",
        "covariances",
        "priors",
        "bayes_estimator",
        "bayes_accuracy",
        "DESCR",
    }
    assert data.bayes_accuracy.method == "monte_carlo"
    assert data.bayes_accuracy.std_error <= 2.5e-4
    # The Monte Carlo seed of a bunch is fixed: same accuracy every time.
    again = make_gaussian_classes(
        5, means=[[0, 0, 0], [2, 0, 0]], covariances=[1.0, 2.0], return_X_y=False
    )
    assert float(again.bayes_accuracy) == float(data.bayes_accuracy)
    assert data.bayes_estimator.n_features_in_ == 3
    assert "Gaussian classes" in data.DESCR


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": -5}, ValueError, "n_samples"),
        ({"n_samples": [10, 0, 3]}, ValueError, "n_samples"),
        ({"n_samples": 2.5}, TypeError, "n_samples"),
        ({"n_samples": [1.5, 2.0]}, TypeError, "n_samples"),
        ({"n_samples": [[10, 20]]}, TypeError, "n_samples"),
        ({"n_samples": []}, ValueError, "n_samples"),
        ({"n_samples": [10, 20], "n_classes": 3}, ValueError, "n_samples"),
        ({"n_classes": 0}, ValueError, "n_classes"),
        ({"n_classes": 2.0}, TypeError, "n_classes"),
        ({"n_features": 0}, ValueError, "n_features"),
        ({"n_features": True}, TypeError, "n_features"),
        ({"means": [0.0, 1.0, 2.0]}, ValueError, "means"),
        ({"means": [[0, 0], [1, 1]], "n_classes": 3}, ValueError, "means.*n_classes"),
        ({"means": [[0, 0], [1, 1]], "n_features": 3}, ValueError, "means.*n_features"),
        ({"means": [[0, np.inf]]}, ValueError, "means"),
        ({"means": [["a", "b"]]}, TypeError, "means"),
        ({"covariances": -1.0}, ValueError, "covariances"),
        ({"covariances": 0.0}, ValueError, "covariances"),
        ({"covariances": [1.0, 2.0]}, ValueError, "covariances"),
        ({"covariances": [1.0, -2.0, 1.0]}, ValueError, "covariances"),
        ({"covariances": [[1, 2], [3, 4], [5, -6]]}, ValueError, "covariances"),
        ({"covariances": [[1, 0.5], [0.2, 1]]}, ValueError, "covariances.*symmetric"),
        (
            {"covariances": [[1, 2], [2, 1]]},
            ValueError,
            "covariances.*positive definite",
        ),
        ({"covariances": np.ones((3, 3, 3))}, ValueError, "covariances"),
        (
            {"covariances": [np.eye(2), np.eye(2), -np.eye(2)]},
            ValueError,
            "covariances",
        ),
        ({"covariances": np.nan}, ValueError, "covariances"),
        ({"priors": [0.5, 0.3, 0.1]}, ValueError, "priors.*sum"),
        ({"priors": [1.2, -0.1, -0.1]}, ValueError, "priors.*positive"),
        ({"priors": [0.5, 0.5, 0.0]}, ValueError, "priors.*positive"),
        ({"priors": [0.5, 0.5], "n_classes": 3}, ValueError, "priors"),
        ({"random_state": 1.5}, ValueError, "random_state"),
        ({"random_state": 2**40}, ValueError, "random_state"),
    ],
)
def test_make_gaussian_classes_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_gaussian_classes(**kwargs)


def test_ten_million_samples_are_fast_and_use_the_memory_of_the_output():
    tracemalloc.start()
    try:
        start = time.perf_counter()
        X, y = make_gaussian_classes(10_000_000, random_state=0)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert X.shape == (10_000_000, 2) and X.dtype == np.float64
    assert y.shape == (10_000_000,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [3_333_334, 3_333_333, 3_333_333]
    # About 1-3 s on two cores; the bound only catches a per-sample Python loop.
    assert elapsed < 20
    # X and y, plus the row indices of one class and a chunk of scratch.
    assert peak < 1.25 * (X.nbytes + y.nbytes)


# --- make_qwerties ---------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
def test_make_qwerties(n_classes):
    X, y = make_qwerties(20_000, n_classes=n_classes, blur=0.5, random_state=0)
    assert X.shape == (20_000 * n_classes, 2)
    assert np.bincount(y).tolist() == [20_000] * n_classes
    centers = [[1, 1], [5, 1], [3, 1 + 2 * np.sqrt(3)]][:n_classes]
    for k in range(n_classes):
        assert np.allclose(X[y == k].mean(axis=0), centers[k], atol=0.02)
        assert np.allclose(X[y == k].std(axis=0), 0.5, atol=0.02)


def test_make_qwerties_draws_x_then_y_coordinates_per_class():
    X, _ = make_qwerties(5, blur=2.0, random_state=7)
    rs = np.random.RandomState(7)
    for k, (cx, cy) in enumerate([(1, 1), (5, 1)]):
        x = cx + rs.randn(5) * 2.0
        y = cy + rs.randn(5) * 2.0
        assert np.array_equal(X[5 * k : 5 * k + 5], np.column_stack([x, y]))


def test_make_qwerties_third_centre_is_equilateral():
    data = make_qwerties(3, n_classes=3, random_state=0, return_X_y=False)
    dist = np.linalg.norm(data.means[:, None] - data.means[None], axis=2)
    assert np.allclose(dist[np.triu_indices(3, 1)], 4.0)


@pytest.mark.parametrize("blur", [0.5, 1.0, 2.0])
def test_make_qwerties_bayes_accuracy_is_phi_of_half_the_distance(blur):
    data = make_qwerties(10, blur=blur, random_state=0, return_X_y=False)
    assert data.bayes_accuracy.method == "exact"
    assert np.isclose(
        data.bayes_accuracy, stats.norm.cdf(2.0 / blur), rtol=0, atol=1e-12
    )
    assert np.allclose(data.covariances, blur**2 * np.eye(2))


def test_make_qwerties_leaves_global_rng_and_is_deterministic():
    before = global_rng_state()
    X1, y1 = make_qwerties(50, n_classes=3, shuffle=True, random_state=3)
    X2, y2 = make_qwerties(50, n_classes=3, shuffle=True, random_state=3)
    assert_same_rng_state(before, global_rng_state())
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_classes": 4}, ValueError, "n_classes"),
        ({"n_classes": 1}, ValueError, "n_classes"),
        ({"blur": 0.0}, ValueError, "blur"),
        ({"blur": -1.0}, ValueError, "blur"),
        ({"blur": np.inf}, ValueError, "blur"),
        ({"blur": "big"}, TypeError, "blur"),
        ({"n_per_class": 0}, ValueError, "n_per_class"),
    ],
)
def test_make_qwerties_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_qwerties(**kwargs)


# --- make_qwerty_doughnuts ------------------------------------------------------


def test_make_qwerty_doughnuts_radii_follow_the_rice_law():
    X, y = make_qwerty_doughnuts(
        2000, radii=(1.0, 3.0), noise=(0.3, 0.6), random_state=0
    )
    assert X.shape == (4000, 2) and np.bincount(y).tolist() == [2000, 2000]
    radius = np.hypot(X[:, 0], X[:, 1])
    for k, (big_r, s) in enumerate([(1.0, 0.3), (3.0, 0.6)]):
        law = stats.rice(big_r / s, scale=s)
        assert stats.kstest(radius[y == k], law.cdf).pvalue > 1e-3
        # Angles are uniform.
        angle = np.arctan2(X[y == k, 1], X[y == k, 0])
        assert stats.kstest(angle, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_make_qwerty_doughnuts_bunch_and_determinism():
    before = global_rng_state()
    data = make_qwerty_doughnuts(100, shuffle=True, random_state=1, return_X_y=False)
    assert_same_rng_state(before, global_rng_state())
    X, y = make_qwerty_doughnuts(100, shuffle=True, random_state=1)
    assert np.array_equal(data.data, X) and np.array_equal(data.target, y)
    assert set(data) == {
        "data",
        "target",
        "radii",
        "noise",
        "priors",
        "bayes_estimator",
        "bayes_accuracy",
        "DESCR",
    }
    assert data.radii.tolist() == [1.0, 3.0] and data.noise.tolist() == [0.5, 0.5]
    assert isinstance(data.bayes_estimator, RingBayesClassifier)
    assert data.bayes_estimator.classes_.tolist() == [0, 1]
    assert isinstance(data.bayes_accuracy, BayesAccuracy)
    assert 0.97 < data.bayes_accuracy < 0.98
    assert "doughnuts" in data.DESCR


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"radii": (-1.0, 2.0)}, ValueError, "radii"),
        ({"radii": ()}, ValueError, "radii"),
        ({"radii": [[1.0, 2.0]]}, ValueError, "radii"),
        ({"radii": ("a", "b")}, TypeError, "radii"),
        ({"noise": 0.0}, ValueError, "noise"),
        ({"noise": (0.5, 0.5, 0.5)}, ValueError, "noise"),
        ({"noise": np.nan}, ValueError, "noise"),
        ({"n_per_class": 0}, ValueError, "n_per_class"),
    ],
)
def test_make_qwerty_doughnuts_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_qwerty_doughnuts(**kwargs)
