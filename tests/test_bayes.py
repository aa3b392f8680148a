"""Tests for the Bayes-optimal classifiers and accuracies of `qwertyclf.datasets`."""

import copy
import pickle
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils import estimator_checks

from qwertyclf.datasets import (
    BayesAccuracy,
    GaussianBayesClassifier,
    RingBayesClassifier,
    bayes_accuracy,
    make_gaussian_classes,
    make_qwerty,
    make_qwerty_doughnuts,
    ring_bayes_accuracy,
)
from qwertyclf.datasets._rings import _ring_log_density, _sample_rings

SEED_MEANS = [[2, 1], [-2, 1], [0, -3]]


def monte_carlo(means, covariances, priors, n_per_class, seed):
    """Independent estimate: sample each class, classify with scipy's densities.

    Returns the prior-weighted accuracy, its standard error and per-class hits.
    """
    rs = np.random.RandomState(seed)
    means = np.asarray(means, dtype=float)
    k = len(means)
    laws = [stats.multivariate_normal(means[i], covariances[i]) for i in range(k)]
    per_class = np.empty(k)
    for i in range(k):
        chol = np.linalg.cholesky(covariances[i])
        X = rs.standard_normal((n_per_class, len(means[i]))) @ chol.T + means[i]
        joint = np.column_stack(
            [np.log(priors[j]) + laws[j].logpdf(X) for j in range(k)]
        )
        per_class[i] = np.mean(np.argmax(joint, axis=1) == i)
    variance = per_class * (1 - per_class) / n_per_class
    return (
        np.dot(priors, per_class),
        np.sqrt(np.dot(np.square(priors), variance)),
        per_class,
    )


def full(covariances, k, d):
    """Full matrices for scipy (mirrors the documented covariance forms)."""
    c = np.asarray(covariances, dtype=float)
    if c.ndim == 0:
        return np.broadcast_to(c * np.eye(d), (k, d, d))
    if c.ndim == 1:
        return np.array([v * np.eye(d) for v in c])
    if c.shape == (d, d):
        return np.broadcast_to(c, (k, d, d))
    if c.ndim == 2:
        return np.array([np.diag(v) for v in c])
    return c


# --- BayesAccuracy ---------------------------------------------------------------


def test_bayes_accuracy_result_is_a_float_with_metadata():
    acc = BayesAccuracy(0.9, std_error=0.01, per_class=[0.8, 1.0], method="monte_carlo")
    assert isinstance(acc, float) and acc == 0.9 and acc.overall == 0.9
    assert f"{acc:.1%}" == "90.0%" and str(acc) == "0.9"
    assert repr(acc) == "BayesAccuracy(0.9, std_error=0.01, method='monte_carlo')"
    assert np.asarray(acc).dtype == np.float64
    assert acc.per_class.tolist() == [0.8, 1.0]
    with pytest.raises(AttributeError):
        acc.std_error = 0.0
    with pytest.raises(ValueError, match="read-only"):
        acc.per_class[0] = 1.0
    for clone_ in (pickle.loads(pickle.dumps(acc)), copy.deepcopy(acc)):
        assert isinstance(clone_, BayesAccuracy) and clone_ == acc
        assert clone_.std_error == 0.01 and clone_.method == "monte_carlo"
        assert clone_.per_class.tolist() == [0.8, 1.0]


# --- bayes_accuracy: the lecture problem and Monte Carlo agreement -------------------


def test_seed_problem_bayes_accuracy_is_0_970():
    acc = bayes_accuracy(SEED_MEANS)
    assert acc.method == "quadrature"
    assert round(acc, 3) == 0.970 and acc.std_error < 1e-5
    # Classes 0 and 1 are mirror images.
    assert np.isclose(acc.per_class[0], acc.per_class[1], atol=1e-6)
    assert np.isclose(np.dot([1 / 3] * 3, acc.per_class), acc, atol=1e-12)


CONFIGS = {
    "seed": (SEED_MEANS, 1.0, None),
    "2d-full-unequal-priors": (
        [[0, 0], [1.5, 0.5], [0, 2]],
        [[[1, 0.3], [0.3, 0.5]], [[2, -0.4], [-0.4, 1]], [[0.7, 0], [0, 1.5]]],
        [0.2, 0.5, 0.3],
    ),
    "2d-spherical": ([[0, 0], [1, 0], [0, 1]], [1.0, 2.0, 0.5], None),
    "2-class-shared-unequal-priors": (
        [[0, 0], [2, 1]],
        [[1, 0.5], [0.5, 2]],
        [0.3, 0.7],
    ),
    "1d-three-classes": ([[0], [1.5], [4]], [1.0, 0.25, 4.0], [0.5, 0.2, 0.3]),
    "3d-monte-carlo": (
        [[0, 0, 0], [1.5, 0, 0], [0, 1.5, 1]],
        [1.0, 1.5, [1, 2, 0.5]],
        None,
    ),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_bayes_accuracy_agrees_with_a_large_monte_carlo(name):
    means, covariances, priors = CONFIGS[name]
    k, d = np.shape(means)
    priors_ = np.full(k, 1 / k) if priors is None else np.asarray(priors)
    if name == "3d-monte-carlo":
        covs = np.array([np.eye(3), 1.5 * np.eye(3), np.diag([1, 2, 0.5])])
        acc = bayes_accuracy(means, covs, priors, random_state=0, tol=5e-4)
        assert acc.method == "monte_carlo" and acc.std_error <= 5e-4
    else:
        covs = full(covariances, k, d)
        acc = bayes_accuracy(means, covariances, priors)
        assert acc.method in ("exact", "quadrature")
    mc, mc_se, mc_per_class = monte_carlo(means, covs, priors_, 250_000, seed=1)
    assert abs(acc - mc) <= 4 * np.hypot(mc_se, acc.std_error)
    per_class_se = np.sqrt(mc_per_class * (1 - mc_per_class) / 250_000)
    assert np.all(np.abs(acc.per_class - mc_per_class) <= 4 * per_class_se + 2e-3)


def test_two_class_closed_form_matches_monte_carlo_and_quadrature():
    means, cov, priors = [[0, 0], [2, 1]], [[1, 0.5], [0.5, 2]], [0.3, 0.7]
    exact = bayes_accuracy(means, cov, priors)
    assert exact.method == "exact" and exact.std_error == 0
    diff = np.subtract(means[0], means[1])
    delta = np.sqrt(diff @ np.linalg.solve(cov, diff))
    lam = np.log(0.3 / 0.7)
    expected = 0.3 * stats.norm.cdf(delta / 2 + lam / delta) + 0.7 * stats.norm.cdf(
        delta / 2 - lam / delta
    )
    assert np.isclose(exact, expected, rtol=0, atol=1e-15)
    quad = bayes_accuracy(means, cov, priors, method="quadrature")
    assert abs(quad - exact) < 1e-6
    assert np.allclose(quad.per_class, exact.per_class, atol=1e-6)
    mc = bayes_accuracy(means, cov, priors, method="monte_carlo", random_state=0)
    assert abs(mc - exact) <= 4 * mc.std_error
    # Equal priors: the textbook Φ(Δ/2).
    assert np.isclose(bayes_accuracy(means, cov), stats.norm.cdf(delta / 2), atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(
    dx=st.floats(-3, 3),
    dy=st.floats(-3, 3),
    corr=st.floats(-0.8, 0.8),
    scale=st.floats(0.3, 3),
    prior=st.floats(0.1, 0.9),
)
def test_quadrature_matches_the_closed_form(dx, dy, corr, scale, prior):
    cov = scale * np.array([[1.0, corr], [corr, 1.0]])
    means = [[0.0, 0.0], [dx, dy]]
    exact = bayes_accuracy(means, cov, [prior, 1 - prior])
    quad = bayes_accuracy(means, cov, [prior, 1 - prior], method="quadrature")
    assert abs(quad - exact) <= max(1e-6, 2 * quad.std_error)


def test_quadrature_is_rotation_invariant_and_handles_axis_aligned_boundaries():
    means = np.array([[0.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    covs = np.array([np.eye(2), [[2.0, 0.3], [0.3, 0.5]], 0.5 * np.eye(2)])
    reference = bayes_accuracy(means, covs)
    for angle in (0.3, np.pi / 2, 2.0):
        c, s = np.cos(angle), np.sin(angle)
        rot = np.array([[c, -s], [s, c]])
        turned = bayes_accuracy(means @ rot.T, rot @ covs @ rot.T)
        assert abs(turned - reference) < 2e-6
    # Horizontal and vertical boundaries, and their closed form.
    for means2 in ([[0, 0], [0, 3]], [[0, 0], [3, 0]]):
        quad = bayes_accuracy(means2, method="quadrature")
        assert abs(quad - stats.norm.cdf(1.5)) < 1e-6


def test_one_feature_is_exact():
    acc = bayes_accuracy([[0.0], [2.0]], [1.0, 1.0])
    assert acc.method == "exact" and np.isclose(acc, stats.norm.cdf(1.0), atol=1e-14)
    # Unequal variances: regions are intervals; compare with 1-D quadrature.
    means, var, priors = (
        np.array([0.0, 1.0]),
        np.array([1.0, 4.0]),
        np.array([0.5, 0.5]),
    )
    acc = bayes_accuracy(means[:, None], var, priors)
    x = np.linspace(-40, 40, 400_001)
    dens = priors[:, None] * stats.norm.pdf(x, means[:, None], np.sqrt(var)[:, None])
    assert abs(acc - integrate.trapezoid(dens.max(axis=0), x)) < 1e-8


def test_degenerate_problems():
    assert bayes_accuracy([[1.0, 2.0]]) == 1.0
    same = bayes_accuracy([[0, 0], [0, 0]], priors=[0.3, 0.7])
    assert same == 0.7 and same.per_class.tolist() == [0.0, 1.0]
    assert bayes_accuracy([[0, 0], [0, 0]]) == 0.5


def test_monte_carlo_is_reproducible_and_meets_its_tolerance():
    a = bayes_accuracy(SEED_MEANS, method="monte_carlo", random_state=3, tol=1e-3)
    b = bayes_accuracy(SEED_MEANS, method="monte_carlo", random_state=3, tol=1e-3)
    assert float(a) == float(b) and a.std_error <= 1e-3
    assert abs(a - bayes_accuracy(SEED_MEANS)) <= 4 * a.std_error


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "exact"}, ValueError, "method='exact'"),
        ({"method": "simpson"}, ValueError, "method"),
        ({"tol": 0.0}, ValueError, "tol"),
        ({"priors": [0.5, 0.5]}, ValueError, "priors"),
        ({"covariances": [1.0, 1.0]}, ValueError, "covariances"),
        ({"random_state": "x", "method": "monte_carlo"}, ValueError, "random_state"),
    ],
)
def test_bayes_accuracy_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        bayes_accuracy(SEED_MEANS, **kwargs)


def test_quadrature_needs_two_features():
    with pytest.raises(ValueError, match="quadrature"):
        bayes_accuracy(np.zeros((2, 3)), method="quadrature")


# --- GaussianBayesClassifier ---------------------------------------------------------


@pytest.mark.parametrize("name", ["seed", "2d-full-unequal-priors", "2d-spherical"])
def test_predict_proba_is_the_true_posterior(name):
    means, covariances, priors = CONFIGS[name]
    k, d = np.shape(means)
    priors_ = np.full(k, 1 / k) if priors is None else np.asarray(priors)
    covs = full(covariances, k, d)
    X = np.random.RandomState(0).uniform(-4, 4, size=(500, d))
    clf = GaussianBayesClassifier(means, covariances, priors).fit(X)
    joint = np.column_stack(
        [
            priors_[j] * stats.multivariate_normal(means[j], covs[j]).pdf(X)
            for j in range(k)
        ]
    )
    expected = joint / joint.sum(axis=1, keepdims=True)
    assert np.allclose(clf.predict_proba(X), expected, rtol=1e-9, atol=1e-12)
    assert np.allclose(clf.predict_log_proba(X), np.log(expected), rtol=1e-9)
    assert np.array_equal(clf.predict(X), np.argmax(expected, axis=1))


def test_posterior_far_from_the_means_is_finite():
    clf = GaussianBayesClassifier(SEED_MEANS).fit(np.zeros((1, 2)))
    proba = clf.predict_proba([[1e3, 1e3], [-1e4, 0]])
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1)


def test_classes_resolution():
    X = np.zeros((4, 2))
    clf = GaussianBayesClassifier(SEED_MEANS)
    assert clf.fit(X).classes_.tolist() == [0, 1, 2]
    # A fold missing class 2 keeps all components; float labels like the lecture's.
    assert clf.fit(X, [0, 1, 1, 0]).classes_.tolist() == [0, 1, 2]
    assert clf.fit(X, [0.0, 1.0, 2.0, 2.0]).classes_.tolist() == [0, 1, 2]
    # K other labels are matched to the components in sorted order.
    clf.fit(X, ["b", "a", "c", "a"])
    assert clf.classes_.tolist() == ["a", "b", "c"]
    assert clf.predict([[2, 1], [0, -3]]).tolist() == ["a", "c"]
    with pytest.raises(ValueError, match="n_classes=3"):
        clf.fit(X, ["a", "b", "a", "b"])
    with pytest.raises(ValueError, match="n_classes=3"):
        clf.fit(X, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(X, [0.5, 1.5, 0.5, 1.5])


def test_fit_validation_and_not_fitted():
    clf = GaussianBayesClassifier(SEED_MEANS)
    with pytest.raises(NotFittedError):
        clf.predict([[0.0, 0.0]])
    with pytest.raises(ValueError, match="n_features=2"):
        clf.fit(np.zeros((3, 3)))
    with pytest.raises(NotFittedError):
        clf.predict_proba([[0.0, 0.0]])
    clf.fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="features"):
        clf.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        clf.predict([[np.nan, 0.0]])
    for params, match in [
        ({"covariances": [[1, 2], [2, 1]]}, "covariances"),
        ({"priors": [0.2, 0.2, 0.2]}, "priors"),
        ({"means": [1.0, 2.0]}, "means"),
    ]:
        with pytest.raises(ValueError, match=match):
            clone(clf).set_params(**params).fit(np.zeros((3, 2)))


def test_estimator_api_clone_params_and_pickle():
    means = np.array(SEED_MEANS, dtype=float)
    clf = GaussianBayesClassifier(means, covariances=2.0, priors=None)
    assert clf.get_params() == {"means": means, "covariances": 2.0, "priors": None}
    assert clf.means is means  # __init__ stores its arguments unchanged
    twin = clone(clf)
    assert twin is not clf and np.array_equal(twin.means, means)
    assert not hasattr(twin, "classes_")
    assert twin.set_params(covariances=0.5) is twin and twin.covariances == 0.5
    fitted = clf.fit(np.zeros((1, 2)))
    restored = pickle.loads(pickle.dumps(fitted))
    X = np.random.RandomState(0).normal(size=(50, 2))
    assert np.array_equal(restored.predict_proba(X), fitted.predict_proba(X))


def test_score_on_generated_data_is_close_to_the_bayes_accuracy():
    data = make_qwerty(20_000, random_state=0, return_X_y=False)
    score = data.bayes_estimator.score(data.data, data.target)
    se = np.sqrt(score * (1 - score) / len(data.target))
    assert abs(score - data.bayes_accuracy) <= 4 * se


def test_grid_search_recovers_the_true_covariance():
    X, y = make_gaussian_classes(
        3000, means=[[0, 0], [2, 0]], covariances=2.0, random_state=0
    )
    search = GridSearchCV(
        GaussianBayesClassifier([[0, 0], [2, 0]]),
        {"covariances": [0.5, 2.0, 8.0]},
        scoring="neg_log_loss",
        cv=3,
    ).fit(X, y)
    assert search.best_params_ == {"covariances": 2.0}
    scores = cross_val_score(GaussianBayesClassifier([[0, 0], [2, 0]], 2.0), X, y, cv=3)
    assert np.all(np.abs(scores - bayes_accuracy([[0, 0], [2, 0]], 2.0)) < 0.05)


def test_predicting_a_250k_grid_is_fast():
    clf = GaussianBayesClassifier(SEED_MEANS).fit(np.zeros((1, 2)))
    xx, yy = np.meshgrid(np.linspace(-6, 6, 500), np.linspace(-6, 6, 500))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    start = time.perf_counter()
    labels = clf.predict(grid)
    assert time.perf_counter() - start < 2.0  # about 0.02 s
    assert labels.shape == (250_000,) and set(labels.tolist()) == {0, 1, 2}


def test_dataframe_feature_names_are_recorded():
    import pandas as pd  # a test dependency

    X = pd.DataFrame({"x": [0.0, 1.0], "y": [1.0, 2.0]})
    clf = GaussianBayesClassifier(SEED_MEANS).fit(X)
    assert clf.feature_names_in_.tolist() == ["x", "y"]
    assert clf.predict(X).shape == (2,)


# The Bayes classifiers describe one fixed distribution (fixed numbers of features
# and classes), so a check can only run on an estimator whose n_features matches the
# data the check makes up: 2 features ("g2", "r3") or 3 ("g3"). Checks that fit
# 4 or more features, or expect a classifier to learn from arbitrary data
# (check_classifiers_train, _classes, _one_label, check_fit2d_1sample, ...) cannot
# apply to a model that learns nothing.
CHECK_ESTIMATORS = {
    "g2": GaussianBayesClassifier(means=[[0.0, 0.0], [2.0, 2.0], [0.0, 3.0]]),
    "g3": GaussianBayesClassifier(means=[[0, 0, 0], [2.0, 2.0, 0.0], [0.0, 3.0, 1.0]]),
    "r3": RingBayesClassifier(radii=(1.0, 2.0, 3.0)),
}
ALL = ("g2", "g3", "r3")
SKLEARN_CHECKS = {
    "check_estimator_cloneable": ALL,
    "check_estimator_repr": ALL,
    "check_no_attributes_set_in_init": ALL,
    "check_parameters_default_constructible": ALL,
    "check_get_params_invariance": ALL,
    "check_set_params": ALL,
    "check_do_not_raise_errors_in_init_or_set_params": ALL,
    "check_mixin_order": ALL,
    "check_valid_tag_types": ALL,
    "check_estimators_unfitted": ALL,
    "check_estimators_empty_data_messages": ALL,
    "check_complex_data": ALL,
    "check_estimator_sparse_array": ALL,
    "check_supervised_y_no_nan": ALL,
    "check_classifiers_regression_target": ALL,
    "check_decision_proba_consistency": ALL,
    "check_fit1d": ALL,
    "check_estimators_fit_returns_self": ("g2", "r3"),
    "check_estimators_overwrite_params": ("g2", "r3"),
    "check_readonly_memmap_input": ("g2", "r3"),
    "check_classifier_data_not_an_array": ("g2", "r3"),
    "check_fit_idempotent": ("g2", "r3"),
    "check_fit_check_is_fitted": ("g2", "r3"),
    "check_n_features_in": ("g2", "r3"),
    "check_requires_y_none": ("g2", "r3"),
    "check_fit_score_takes_y": ("g3",),
    "check_dont_overwrite_parameters": ("g3",),
    "check_pipeline_consistency": ("g3",),
    "check_estimators_nan_inf": ("g3",),
    "check_estimators_pickle": ("g3",),
    "check_f_contiguous_array_estimator": ("g3",),
    "check_supervised_y_2d": ("g3",),
    "check_methods_sample_order_invariance": ("g3",),
    "check_methods_subset_invariance": ("g3",),
    "check_dict_unchanged": ("g3",),
    "check_fit2d_predict1d": ("g3",),
}


@pytest.mark.parametrize(
    ("check", "estimator"),
    [(check, est) for check, ests in SKLEARN_CHECKS.items() for est in ests],
)
def test_sklearn_estimator_checks(check, estimator):
    est = CHECK_ESTIMATORS[estimator]
    getattr(estimator_checks, check)(type(est).__name__, est)


# --- RingBayesClassifier and ring_bayes_accuracy ---------------------------------


@pytest.mark.parametrize(
    ("radius", "noise"), [(0.0, 1.0), (1.0, 0.5), (3.0, 0.2), (1.0, 2.0)]
)
def test_ring_density_is_normalised_and_is_the_blurred_circle(radius, noise):
    def radial(r):
        return (
            2
            * np.pi
            * r
            * np.exp(
                _ring_log_density(np.array([r]), np.array([radius]), np.array([noise]))[
                    0, 0
                ]
            )
        )

    total, _ = integrate.quad(
        radial, 0, radius + 40 * noise, points=[radius], limit=200
    )
    assert abs(total - 1) < 1e-9
    # Average of N(x; R u(φ), s² I) over the circle, by brute force.
    phi = np.linspace(0, 2 * np.pi, 4096, endpoint=False)
    for r in (0.0, 0.5 * radius, radius, radius + noise):
        sq = (r - radius * np.cos(phi)) ** 2 + (radius * np.sin(phi)) ** 2
        brute = np.mean(np.exp(-sq / (2 * noise**2))) / (2 * np.pi * noise**2)
        ours = np.exp(
            _ring_log_density(np.array([r]), np.array([radius]), np.array([noise]))
        )
        assert np.isclose(ours[0, 0], brute, rtol=1e-10)


@pytest.mark.parametrize(
    ("radii", "noise", "priors"),
    [
        ((1.0, 3.0), 0.5, None),
        ((0.0, 1.0, 2.0), (0.3, 0.4, 0.5), (0.2, 0.3, 0.5)),
        ((1.0, 1.5), (0.2, 0.6), None),
    ],
)
def test_ring_bayes_accuracy_agrees_with_monte_carlo(radii, noise, priors):
    acc = ring_bayes_accuracy(radii, noise, priors)
    assert acc.method == "exact"
    k = len(radii)
    priors_ = np.full(k, 1 / k) if priors is None else np.asarray(priors)
    n = 200_000
    X, y = _sample_rings(
        np.random.RandomState(0),
        np.full(k, n),
        np.asarray(radii, float),
        np.broadcast_to(noise, k).astype(float),
    )
    clf = RingBayesClassifier(radii, noise, priors).fit(X[:1])
    hits = clf.predict(X) == y
    per_class = np.array([hits[y == j].mean() for j in range(k)])
    se = np.sqrt(np.dot(priors_**2, per_class * (1 - per_class) / n))
    assert abs(acc - np.dot(priors_, per_class)) <= 4 * se
    assert np.allclose(acc.per_class, per_class, atol=4 * np.sqrt(0.25 / n))


def test_ring_classifier_posterior_and_score():
    data = make_qwerty_doughnuts(5000, random_state=0, return_X_y=False)
    clf = data.bayes_estimator
    proba = clf.predict_proba(data.data)
    assert proba.shape == (10_000, 2) and np.allclose(proba.sum(axis=1), 1)
    score = clf.score(data.data, data.target)
    assert abs(score - data.bayes_accuracy) <= 4 * np.sqrt(0.025 / 10_000)
    # Posterior by hand from the densities.
    r = np.hypot(*data.data[:5].T)
    dens = np.exp(_ring_log_density(r, np.array([1.0, 3.0]), np.array([0.5, 0.5])))
    assert np.allclose(proba[:5], dens / dens.sum(axis=1, keepdims=True))


def test_ring_validation():
    with pytest.raises(ValueError, match="n_features=2"):
        RingBayesClassifier().fit(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="noise"):
        RingBayesClassifier(noise=-1.0).fit(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="priors"):
        RingBayesClassifier(priors=[0.5, 0.6]).fit(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="radii"):
        ring_bayes_accuracy([-1.0, 1.0])
    assert ring_bayes_accuracy([2.0]) == 1.0
