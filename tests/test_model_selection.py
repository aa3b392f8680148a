"""Batched searches give GridSearchCV's results, in GridSearchCV's format."""

import gc
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.datasets import make_blobs
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier

import qwertyclf
from qwertyclf import QwertyClassifier, QwertyClassifierCV
from qwertyclf.datasets import make_qwerty
from qwertyclf.model_selection import BatchedGridSearchCV, BatchedRandomizedSearchCV

GRID = {"lr": [0.003, 0.03], "hidden_layer_sizes": [(3,), (8,)]}
TIME_KEYS = {"mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time"}


@pytest.fixture(scope="module")
def data():
    X, y = make_qwerty(100, random_state=42)
    return X, y


@pytest.fixture(scope="module")
def float64_pair(data):
    X, y = data
    estimator = QwertyClassifier(dtype="float64", max_epochs=10, random_state=0)
    kwargs = dict(cv=StratifiedKFold(3), return_train_score=True)
    serial = GridSearchCV(estimator, GRID, **kwargs).fit(X, y)
    batched = BatchedGridSearchCV(estimator, GRID, **kwargs).fit(X, y)
    return serial, batched


def test_float64_search_matches_grid_search(float64_pair, data):
    serial, batched = float64_pair
    X, _ = data
    assert batched.best_params_ == serial.best_params_
    for key in ("mean_test_score", "mean_train_score", "split0_test_score"):
        np.testing.assert_allclose(
            batched.cv_results_[key], serial.cv_results_[key], atol=0.005
        )
    same = batched.best_estimator_.predict(X) == serial.best_estimator_.predict(X)
    assert same.mean() >= 0.99


def test_cv_results_have_grid_search_keys_and_values(float64_pair):
    serial, batched = float64_pair
    assert batched.cv_results_.keys() == serial.cv_results_.keys()
    for key, value in serial.cv_results_.items():
        if key in TIME_KEYS:
            assert np.asarray(batched.cv_results_[key]).shape == np.shape(value)
        elif key.startswith("param_"):
            assert list(batched.cv_results_[key]) == list(value), key
        elif key == "params":
            assert batched.cv_results_[key] == value
        elif key.startswith("rank"):
            assert batched.cv_results_[key].dtype == value.dtype
        else:
            np.testing.assert_allclose(batched.cv_results_[key], value, atol=0.005)
    for attr in ("best_index_", "best_score_", "n_splits_", "multimetric_"):
        assert getattr(batched, attr) == pytest.approx(getattr(serial, attr), abs=5e-3)
    assert batched.refit_time_ > 0
    assert type(batched.best_estimator_) is QwertyClassifier
    assert batched.scorer_ is not None


def test_randomized_search_draws_the_same_candidates(data):
    X, y = data
    distributions = {"lr": [0.001, 0.003, 0.01, 0.03], "hidden_layer_sizes": [(4,)]}
    estimator = QwertyClassifier(dtype="float64", max_epochs=3, random_state=0)
    kwargs = dict(n_iter=3, cv=2, random_state=0)
    serial = RandomizedSearchCV(estimator, distributions, **kwargs).fit(X, y)
    batched = BatchedRandomizedSearchCV(estimator, distributions, **kwargs).fit(X, y)
    assert batched.cv_results_["params"] == serial.cv_results_["params"]
    np.testing.assert_allclose(
        batched.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        atol=1e-9,
    )


def test_unbatchable_candidates_fall_back_to_ordinary_fits(data):
    X, y = data
    grid = [
        {"lr": [0.01], "dropout": [0.0, 0.2]},
        {"lr": [0.01], "batch_norm": [True]},
    ]
    estimator = QwertyClassifier(dtype="float64", max_epochs=3, random_state=0)
    serial = GridSearchCV(
        estimator, grid, cv=2, scoring=["accuracy", "neg_log_loss"], refit="accuracy"
    ).fit(X, y)
    batched = BatchedGridSearchCV(
        estimator, grid, cv=2, scoring=["accuracy", "neg_log_loss"], refit="accuracy"
    ).fit(X, y)
    assert batched.cv_results_.keys() == serial.cv_results_.keys()
    assert batched.multimetric_
    # Fallback fits are the ordinary ones: identical scores.
    for key in ("mean_test_accuracy", "mean_test_neg_log_loss"):
        np.testing.assert_allclose(
            batched.cv_results_[key], serial.cv_results_[key], atol=1e-9
        )


def test_other_estimators_run_as_in_grid_search(data):
    X, y = data
    grid = {"C": [0.1, 1.0]}
    serial = GridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)
    batched = BatchedGridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)
    np.testing.assert_array_equal(
        batched.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    knn = BatchedGridSearchCV(KNeighborsClassifier(), {"n_neighbors": [3, 5]}, cv=2)
    assert len(knn.fit(X, y).cv_results_["params"]) == 2


def test_results_do_not_depend_on_n_jobs(data):
    X, y = data
    estimator = QwertyClassifier(max_epochs=3, random_state=0)  # float32
    grid = {**GRID, "dropout": [0.0]}
    one = BatchedGridSearchCV(estimator, grid, cv=3, n_jobs=1).fit(X, y)
    # Threads keep the test quick; the runs are planned the same either way.
    with joblib.parallel_backend("threading"):
        two = BatchedGridSearchCV(estimator, grid, cv=3, n_jobs=2).fit(X, y)
        three = BatchedGridSearchCV(estimator, grid, cv=3, n_jobs=3).fit(X, y)
    for key in ("split0_test_score", "split2_test_score", "mean_test_score"):
        np.testing.assert_array_equal(one.cv_results_[key], two.cv_results_[key])
        np.testing.assert_array_equal(one.cv_results_[key], three.cv_results_[key])
    assert one.best_params_ == two.best_params_


def test_failed_fits_get_error_score(data):
    X, y = data
    estimator = QwertyClassifier(optimizer="sgd", max_epochs=2, random_state=0)
    grid = {"lr": [0.01, 1e6]}
    with pytest.warns(FitFailedWarning, match="fits failed"):
        search = BatchedGridSearchCV(estimator, grid, cv=2, error_score=-1.0).fit(X, y)
    assert search.cv_results_["mean_test_score"][1] == -1.0
    assert search.best_params_ == {"lr": 0.01}
    with pytest.raises(ValueError, match="diverged"):
        BatchedGridSearchCV(estimator, grid, cv=2, error_score="raise").fit(X, y)


def test_sample_weight_is_split_with_the_folds(data):
    X, y = data
    weight = np.random.RandomState(0).uniform(0.2, 2.0, len(y))
    estimator = QwertyClassifier(dtype="float64", max_epochs=3, random_state=0)
    serial = GridSearchCV(estimator, GRID, cv=2).fit(X, y, sample_weight=weight)
    batched = BatchedGridSearchCV(estimator, GRID, cv=2).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(
        batched.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        atol=1e-9,
    )


def test_early_stopping_inside_a_search(data):
    X, y = data
    estimator = QwertyClassifier(
        dtype="float64",
        max_epochs=40,
        early_stopping=True,
        n_iter_no_change=2,
        random_state=0,
    )
    grid = {"lr": [0.003, 0.1]}
    serial = GridSearchCV(estimator, grid, cv=2).fit(X, y)
    batched = BatchedGridSearchCV(estimator, grid, cv=2).fit(X, y)
    np.testing.assert_allclose(
        batched.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        atol=1e-9,
    )
    assert batched.best_estimator_.n_iter_ == serial.best_estimator_.n_iter_


# An in-process cluster keeps the test quick; its scheduler's sockets are
# collected after it closes, which Python reports as a ResourceWarning.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_dask_cluster_runs_the_batched_groups(data):
    distributed = pytest.importorskip("distributed")
    X, y = data
    estimator = QwertyClassifier(max_epochs=2, random_state=0)
    local = BatchedGridSearchCV(estimator, GRID, cv=2).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_backend("dask"),
    ):
        on_dask = BatchedGridSearchCV(estimator, GRID, cv=2, n_jobs=-1).fit(X, y)
    gc.collect()
    np.testing.assert_array_equal(
        on_dask.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert on_dask.best_params_ == local.best_params_


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (BatchedGridSearchCV, GridSearchCV),
        (BatchedRandomizedSearchCV, RandomizedSearchCV),
    ],
)
def test_constructor_is_scikit_learns(ours, theirs):
    import inspect

    mine = inspect.signature(ours.__init__).parameters
    reference = inspect.signature(theirs.__init__).parameters
    assert list(mine) == list(reference)
    for name, parameter in reference.items():
        assert repr(mine[name].default) == repr(parameter.default), name
        assert mine[name].kind == parameter.kind, name


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"scoring": ["accuracy", "neg_log_loss"], "refit": "accuracy"},
        {"refit": False},
        {"return_train_score": True},
    ],
)
def test_fitted_search_has_exactly_grid_search_attributes(data, options):
    # The batched fit follows scikit-learn's own; an attribute that a new
    # scikit-learn release adds to (or drops from) its searches shows here.
    X, y = data
    grid = {"C": [0.1, 1.0]}
    serial = GridSearchCV(LogisticRegression(), grid, cv=3, **options).fit(X, y)
    batched = BatchedGridSearchCV(LogisticRegression(), grid, cv=3, **options).fit(X, y)
    assert set(vars(batched)) == set(vars(serial))


def test_fitted_batched_search_of_networks_has_grid_search_attributes(float64_pair):
    serial, batched = float64_pair
    assert set(vars(batched)) == set(vars(serial))


# --- what the module reads from scikit-learn ------------------------------

_NO_SOURCE = """
import inspect

# Dependencies that read their own sources on import load first: the test is
# about qwertyclf not needing the sources of what it imports.
import sklearn.model_selection
import skorch
import torch

def no_source(*args, **kwargs):
    raise OSError("could not get source code")

for name in ("getsource", "getsourcelines", "findsource", "getfile"):
    setattr(inspect, name, no_source)

import qwertyclf.model_selection
from qwertyclf.model_selection import _search

print(_search._KEEPS_CHECKED_CV)
"""


def test_import_needs_no_python_sources():
    # Frozen or byte-code-only installs ship no .py files: inspect.getsource
    # raises OSError there, and importing the module must not need it.
    env = dict(os.environ)
    src = str(Path(qwertyclf.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", _NO_SOURCE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in {"True", "False"}


def test_declared_splitter_fact_matches_installed_scikit_learn():
    import inspect

    from qwertyclf.model_selection import _search

    try:
        source = inspect.getsource(GridSearchCV.fit)
    except OSError:
        pytest.skip("scikit-learn's sources are not installed")
    assert ("self._checked_cv_orig =" in source) == _search._KEEPS_CHECKED_CV


# --- ranks of tied candidates ---------------------------------------------


@pytest.fixture(scope="module")
def separable():
    centers = [[-5, -5], [5, 5], [5, -5]]
    return make_blobs(90, centers=centers, cluster_std=0.5, random_state=0)


def test_tied_candidates_share_a_rank_in_batched_searches(separable):
    # scikit-learn ranks with rankdata(-mean, method="min"): equal means, equal
    # ranks. The batched searches keep scikit-learn's _format_results.
    X, y = separable
    estimator = QwertyClassifier(max_epochs=20, random_state=0)
    grid = {"lr": [0.01, 0.01, 0.03]}
    serial = GridSearchCV(estimator, grid, cv=3).fit(X, y)
    batched = BatchedGridSearchCV(estimator, grid, cv=3).fit(X, y)
    mean = batched.cv_results_["mean_test_score"]
    assert mean[0] == mean[1]  # the same candidate twice: a tie
    np.testing.assert_array_equal(
        batched.cv_results_["rank_test_score"], serial.cv_results_["rank_test_score"]
    )
    np.testing.assert_array_equal(
        batched.cv_results_["rank_test_score"], rankdata(-mean, method="min")
    )


def test_tied_candidates_share_a_rank_in_the_self_tuning_classifier(separable):
    X, y = separable
    clf = QwertyClassifierCV(
        lrs=[0.01, 0.03, 0.1],
        hidden_layer_sizes=[(8,)],
        weight_decays=[0.0],
        n_candidates=3,
        max_epochs=20,
        cv=3,
        scoring="accuracy",
        random_state=0,
    ).fit(X, y)
    mean = clf.cv_results_["mean_test_score"]
    assert (mean == 1.0).all()  # every candidate separates the blobs: all tied
    np.testing.assert_array_equal(clf.cv_results_["rank_test_score"], [1, 1, 1])
    assert clf.cv_results_["rank_test_score"].dtype == np.int32
    assert clf.best_params_ == clf.cv_results_["params"][0]  # first of the tied


def test_self_tuning_ranks_are_scikit_learns_rule():
    from qwertyclf._cv import _results

    scores = np.array(
        [[0.5, 0.7], [0.9, 0.9], [0.6, 0.6], [0.9, 0.9], [np.nan, 1.0], [0.6, 0.6]]
    )
    results = _results([{}] * len(scores), scores, np.ones_like(scores))
    # Means 0.6, 0.9, 0.6, 0.9, -inf (a failed fold), 0.6.
    np.testing.assert_array_equal(results["rank_test_score"], [3, 1, 3, 1, 6, 3])
