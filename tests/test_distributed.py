"""Grid search on a dask.distributed cluster gives the scores of a serial one."""

import sys

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV

from qwertyclf import QwertyClassifier

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

GRID = {"hidden_layer_sizes": [(4,), (8,)], "lr": [0.01, 0.05]}
SCORE_KEYS = ["split0_test_score", "split1_test_score", "mean_test_score"]


@pytest.fixture(scope="module")
def client():
    # Real worker processes, as on a multi-machine cluster: the estimator and
    # data travel pickled. The pyproject silences distributed's UserWarnings
    # about ports and shutdown timing; anything else fails the test.
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(n_samples=80, centers=3, cluster_std=2.0, random_state=0)
    return X, y


def _has_imported_qwertyclf():
    return "qwertyclf" in sys.modules


def _search(X, y, n_jobs):
    search = GridSearchCV(
        QwertyClassifier(max_epochs=5, random_state=0),
        GRID,
        cv=2,
        n_jobs=n_jobs,
    )
    return search.fit(X, y)


def test_dask_grid_search_matches_serial(client, data):
    X, y = data
    serial = _search(X, y, n_jobs=1)

    with joblib.parallel_backend("dask"):
        on_dask = _search(X, y, n_jobs=-1)

    # The fits ran in the worker processes.
    assert len(client.scheduler_info()["workers"]) == 2
    assert any(client.run(_has_imported_qwertyclf).values())
    for key in SCORE_KEYS:
        assert np.array_equal(on_dask.cv_results_[key], serial.cv_results_[key]), key
    assert len(serial.cv_results_["params"]) == 4
    assert on_dask.cv_results_["params"] == serial.cv_results_["params"]
    assert on_dask.best_params_ == serial.best_params_
    # The refitted best model is the same network.
    assert np.array_equal(
        on_dask.best_estimator_.predict_proba(X),
        serial.best_estimator_.predict_proba(X),
    )


def test_estimator_runs_on_worker(client, data):
    X, y = data
    local = QwertyClassifier(max_epochs=5, random_state=0).fit(X, y)
    remote = client.submit(
        lambda X, y: QwertyClassifier(max_epochs=5, random_state=0).fit(X, y), X, y
    ).result()
    assert np.array_equal(remote.predict_proba(X), local.predict_proba(X))
