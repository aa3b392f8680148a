"""Batched searches give GridSearchCV's results, in GridSearchCV's format."""

import gc
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
from scipy.stats import rankdata
from sklearn.datasets import make_blobs
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import qwertyclf
from qwertyclf import QwertyClassifier, QwertyClassifierCV
from qwertyclf.datasets import make_qwerty
from qwertyclf.model_selection import (
    BatchedGridSearchCV,
    BatchedRandomizedSearchCV,
    NotBatchedWarning,
)

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
    with pytest.warns(NotBatchedWarning, match="2 of 3 candidates.*dropout=0.2"):
        batched = BatchedGridSearchCV(
            estimator,
            grid,
            cv=2,
            scoring=["accuracy", "neg_log_loss"],
            refit="accuracy",
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
    with pytest.warns(NotBatchedWarning, match="LogisticRegression is neither"):
        batched = BatchedGridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)
    np.testing.assert_array_equal(
        batched.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    knn = BatchedGridSearchCV(KNeighborsClassifier(), {"n_neighbors": [3, 5]}, cv=2)
    with pytest.warns(NotBatchedWarning, match="KNeighborsClassifier"):
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
    with pytest.warns(NotBatchedWarning):
        batched = BatchedGridSearchCV(LogisticRegression(), grid, cv=3, **options)
        batched.fit(X, y)
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


# --- searches over a Pipeline ---------------------------------------------


class CountingScaler(StandardScaler):
    """A StandardScaler that records every fit: its setting and its rows."""

    fits: list = []  # noqa: RUF012 (shared on purpose: clones record here too)

    def fit(self, X, y=None, sample_weight=None):
        type(self).fits.append((self.with_mean, len(X), float(np.asarray(X).sum())))
        return super().fit(X, y, sample_weight=sample_weight)


PIPE_GRID = {
    "scale__with_mean": [True, False],
    "clf__lr": [0.003, 0.03],
    "clf__hidden_layer_sizes": [(3,), (8,)],
}
PIPE_SCORES = ["accuracy", "neg_log_loss"]


def _pipe(**clf):
    return Pipeline(
        [
            ("scale", CountingScaler()),
            (
                "clf",
                QwertyClassifier(dtype="float64", max_epochs=8, random_state=0, **clf),
            ),
        ]
    )


def _assert_same_search(batched, serial, X):
    assert batched.cv_results_.keys() == serial.cv_results_.keys()
    assert batched.cv_results_["params"] == serial.cv_results_["params"]
    for key, value in serial.cv_results_.items():
        if key.startswith(("split", "mean_test", "std_test", "mean_train")):
            np.testing.assert_allclose(
                batched.cv_results_[key], value, rtol=0, atol=1e-9, err_msg=key
            )
    assert batched.best_params_ == serial.best_params_
    np.testing.assert_allclose(
        batched.best_estimator_.predict_proba(X),
        serial.best_estimator_.predict_proba(X),
        rtol=0,
        atol=1e-9,
    )


@pytest.fixture(scope="module")
def pipeline_pair(data):
    X, y = data
    kwargs = dict(
        cv=StratifiedKFold(3),
        scoring=PIPE_SCORES,
        refit="neg_log_loss",
        return_train_score=True,
    )
    serial = GridSearchCV(_pipe(), PIPE_GRID, **kwargs).fit(X, y)
    CountingScaler.fits.clear()
    batched = BatchedGridSearchCV(_pipe(), PIPE_GRID, **kwargs).fit(X, y)
    return serial, batched, list(CountingScaler.fits)


def test_float64_pipeline_search_matches_grid_search(pipeline_pair, data):
    serial, batched, _ = pipeline_pair
    _assert_same_search(batched, serial, data[0])
    assert type(batched.best_estimator_) is Pipeline
    assert set(vars(batched)) == set(vars(serial))


def test_pipeline_preceding_steps_fit_once_per_fold_and_setting(pipeline_pair, data):
    _, batched, fits = pipeline_pair
    X, y = data
    n_train = {len(train) for train, _ in StratifiedKFold(3).split(X, y)}
    # 3 folds x 2 scaler settings, each fitted once on its fold's training
    # rows (8 candidates share them), then the refit on all rows.
    *in_folds, refit = fits
    assert len(in_folds) == 3 * 2
    assert len(set(in_folds)) == len(in_folds)
    assert {with_mean for with_mean, _, _ in in_folds} == {True, False}
    assert {n for _, n, _ in in_folds} <= n_train
    assert refit[:2] == (batched.best_params_["scale__with_mean"], len(y))


def test_pipeline_runs_sent_to_workers_are_cut_by_network_depth(data, monkeypatch):
    # Runs sent to workers (any backend but joblib's process ones gets them):
    # a Pipeline's task per scaler setting and folds is cut into one task
    # per batch_key (here per depth), each fitting the scaler itself, so
    # two workers share them; the runs, and so the results, are the same.
    import joblib

    from qwertyclf.model_selection import _search

    calls = []
    original = _search.pipeline_fit_and_score

    def counting(group, *args, **kwargs):
        calls.append(
            sorted({len(p.steps[-1][1].hidden_layer_sizes) for _, p in group.members})
        )
        return original(group, *args, **kwargs)

    monkeypatch.setattr(_search, "pipeline_fit_and_score", counting)
    X, y = data
    grid = {"clf__lr": [0.003, 0.03], "clf__hidden_layer_sizes": [(3,), (4, 3)]}
    kwargs = dict(cv=StratifiedKFold(3), scoring=PIPE_SCORES, refit="neg_log_loss")
    here = BatchedGridSearchCV(_pipe(), grid, **kwargs).fit(X, y)
    assert calls == [[1, 2]]  # one task: the scaler fitted once per fold
    calls.clear()
    with joblib.parallel_backend("threading"):
        spread = BatchedGridSearchCV(_pipe(), grid, n_jobs=2, **kwargs).fit(X, y)
    assert sorted(calls) == [[1], [2]]
    for key, value in here.cv_results_.items():
        if key.startswith(("split", "mean_test", "rank")):
            np.testing.assert_array_equal(spread.cv_results_[key], value, err_msg=key)


def test_pipeline_search_honours_step_sample_weights(data):
    X, y = data
    weight = np.random.RandomState(0).uniform(0.2, 2.0, len(y))
    grid = {"scale__with_mean": [True, False], "clf__lr": [0.003, 0.03]}
    params = {"scale__sample_weight": weight, "clf__sample_weight": weight}
    serial = GridSearchCV(_pipe(), grid, cv=2, scoring=PIPE_SCORES, refit="accuracy")
    serial.fit(X, y, **params)
    CountingScaler.fits.clear()
    batched = BatchedGridSearchCV(
        _pipe(), grid, cv=2, scoring=PIPE_SCORES, refit="accuracy"
    ).fit(X, y, **params)
    _assert_same_search(batched, serial, X)
    assert len(CountingScaler.fits) == 2 * 2 + 1


def test_pipeline_search_under_metadata_routing(data):
    X, y = data
    weight = np.random.RandomState(1).uniform(0.2, 2.0, len(y))
    grid = {"scale__with_mean": [True, False], "clf__lr": [0.003, 0.03]}

    def pipe():
        pipe = _pipe()
        pipe.steps[0][1].set_fit_request(sample_weight="scale_weight")
        pipe.steps[1][1].set_fit_request(sample_weight=True)
        return pipe

    params = {"scale_weight": weight[::-1].copy(), "sample_weight": weight}
    with sklearn.config_context(enable_metadata_routing=True):
        # Weighted scores too: the scorer asks for the same weights.
        scorer = get_scorer("neg_log_loss").set_score_request(sample_weight=True)
        serial = GridSearchCV(pipe(), grid, cv=2, scoring=scorer)
        serial.fit(X, y, **params)
        CountingScaler.fits.clear()
        batched = BatchedGridSearchCV(pipe(), grid, cv=2, scoring=scorer)
        batched.fit(X, y, **params)
    _assert_same_search(batched, serial, X)
    assert len(CountingScaler.fits) == 2 * 2 + 1


def test_pipeline_with_table_output_and_a_passthrough_setting(data):
    X, y = data
    pipe = make_pipeline(
        StandardScaler().set_output(transform="pandas"),
        QwertyClassifier(dtype="float64", max_epochs=4, random_state=0),
    )
    grid = {
        "standardscaler": [StandardScaler().set_output(transform="pandas"), None],
        "qwertyclassifier__lr": [0.003, 0.03],
    }
    serial = GridSearchCV(pipe, grid, cv=2, scoring="neg_log_loss").fit(X, y)
    batched = BatchedGridSearchCV(pipe, grid, cv=2, scoring="neg_log_loss")
    _assert_same_search(batched.fit(X, y), serial, X)


@pytest.mark.parametrize(
    ("estimator", "grid", "fit_params", "match"),
    [
        (
            make_pipeline(StandardScaler(), LogisticRegression()),
            {"logisticregression__C": [0.1, 1.0]},
            {},
            "2 of 2 candidates.*last step is LogisticRegression",
        ),
        (
            make_pipeline(
                StandardScaler(),
                QwertyClassifier(dtype="float64", max_epochs=2, random_state=0),
            ),
            {"qwertyclassifier__dropout": [0.0, 0.3]},
            {},
            "1 of 2 candidates.*dropout=0.3",
        ),
        (
            make_pipeline(
                StandardScaler(), QwertyClassifier(max_epochs=2, random_state=0)
            ),
            {"qwertyclassifier__lr": [0.01]},
            {"qwertyclassifier__validation_data": None},
            "last step other than sample_weight \\(validation_data\\)",
        ),
        (
            QwertyClassifierCV(n_candidates=1, max_epochs=2, cv=2, random_state=0),
            {"n_candidates": [1]},
            {},
            "QwertyClassifierCV is neither a QwertyClassifier nor a Pipeline",
        ),
    ],
)
def test_searches_that_cannot_batch_warn_why(data, estimator, grid, fit_params, match):
    X, y = data
    search = BatchedGridSearchCV(estimator, grid, cv=2, scoring="neg_log_loss")
    with pytest.warns(NotBatchedWarning, match=match) as caught:
        search.fit(X, y, **fit_params)
    assert len(caught) == 1  # once per search, however many fits fall back
    serial = GridSearchCV(estimator, grid, cv=2, scoring="neg_log_loss")
    serial.fit(X, y, **fit_params)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        rtol=0,
        atol=1e-9,
    )


def test_unbatched_candidates_keep_their_sample_weight(data):
    X, y = data
    weight = np.random.RandomState(2).uniform(0.2, 2.0, len(y))
    estimator = QwertyClassifier(dtype="float64", max_epochs=3, random_state=0)
    grid = {"dropout": [0.0, 0.3]}
    serial = GridSearchCV(estimator, grid, cv=2, scoring="neg_log_loss")
    serial.fit(X, y, sample_weight=weight)
    batched = BatchedGridSearchCV(estimator, grid, cv=2, scoring="neg_log_loss")
    with pytest.warns(NotBatchedWarning, match="dropout=0.3"):
        batched.fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(
        batched.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        rtol=0,
        atol=1e-9,
    )


class PickyScaler(StandardScaler):
    """A StandardScaler whose fit fails without centring."""

    def fit(self, X, y=None, sample_weight=None):
        if not self.with_mean:
            raise ValueError("PickyScaler needs with_mean=True")
        return super().fit(X, y, sample_weight=sample_weight)


def test_failing_preceding_step_gets_error_score(data):
    X, y = data
    pipe = Pipeline(
        [
            ("scale", PickyScaler()),
            ("clf", QwertyClassifier(dtype="float64", max_epochs=3, random_state=0)),
        ]
    )
    grid = {"scale__with_mean": [True, False], "clf__lr": [0.003, 0.03]}
    with pytest.warns(FitFailedWarning, match="4 fits failed"):
        serial = GridSearchCV(pipe, grid, cv=2, error_score=-1.0).fit(X, y)
    with pytest.warns(FitFailedWarning, match="4 fits failed") as caught:
        batched = BatchedGridSearchCV(pipe, grid, cv=2, error_score=-1.0).fit(X, y)
    assert "PickyScaler needs with_mean=True" in str(caught[0].message)
    _assert_same_search(batched, serial, X)
    with pytest.raises(ValueError, match="PickyScaler needs"):
        BatchedGridSearchCV(pipe, grid, cv=2, error_score="raise").fit(X, y)
