"""QwertyClassifierCV and QwertyEnsembleClassifier."""

import numpy as np
import pytest
from sklearn.base import clone

from qwertyclf import QwertyClassifier, QwertyClassifierCV, QwertyEnsembleClassifier
from qwertyclf._cv import default_search_space
from qwertyclf.datasets import make_gaussian_classes, make_qwerty
from qwertyclf.model_selection import BatchedGridSearchCV


@pytest.fixture(scope="module")
def data():
    return make_qwerty(60, random_state=0)


def test_default_space_grows_with_the_data():
    lecture = default_search_space(720, 2, 3)
    wide = default_search_space(50_000, 64, 10)
    assert lecture["batch_size"] == 16
    assert wide["batch_size"] == 256
    assert max(h[0] for h in wide["hidden_layer_sizes"]) > max(
        h[0] for h in lecture["hidden_layer_sizes"]
    )
    assert len({len(h) for h in lecture["hidden_layer_sizes"]}) == 2


def test_cv_picks_what_the_batched_search_picks(data):
    X, y = data
    grid = {"hidden_layer_sizes": [(4,), (8,)], "lr": [0.003, 0.03]}
    clf = QwertyClassifierCV(
        hidden_layer_sizes=grid["hidden_layer_sizes"],
        lrs=grid["lr"],
        batch_size=16,
        max_epochs=5,
        cv=3,
        dtype="float64",
        random_state=0,
    ).fit(X, y)
    search = BatchedGridSearchCV(
        QwertyClassifier(max_epochs=5, dtype="float64", random_state=0), grid, cv=3
    ).fit(X, y)
    assert clf.best_params_ == search.best_params_
    assert clf.best_score_ == pytest.approx(search.best_score_)
    np.testing.assert_array_equal(
        clf.predict_proba(X), search.best_estimator_.predict_proba(X)
    )
    assert clf.score(X, y) == search.score(X, y)


def test_cv_with_the_default_space_beats_a_narrow_net():
    # Ten classes in 20 dimensions: the default 8-unit network underfits.
    X, y = make_gaussian_classes(
        600, n_classes=10, n_features=20, covariances=4.0, random_state=0
    )
    clf = QwertyClassifierCV(max_epochs=15, cv=2, random_state=0).fit(X[:400], y[:400])
    assert clf.best_params_["hidden_layer_sizes"][0] > 8
    narrow = QwertyClassifier(max_epochs=15, random_state=0).fit(X[:400], y[:400])
    assert clf.score(X[400:], y[400:]) >= narrow.score(X[400:], y[400:])


def test_ensemble_members_are_their_own_fits(data):
    X, y = data
    template = QwertyClassifier(max_epochs=4, dtype="float64")
    ensemble = QwertyEnsembleClassifier(template, n_estimators=3, random_state=0)
    ensemble.fit(X, y)
    seeds = [m.random_state for m in ensemble.estimators_]
    assert len(set(seeds)) == 3
    mean = np.zeros((len(X), 3))
    for member in ensemble.estimators_:
        alone = clone(template).set_params(random_state=member.random_state).fit(X, y)
        np.testing.assert_allclose(
            member.predict_proba(X), alone.predict_proba(X), atol=1e-9
        )
        mean += alone.predict_proba(X) / 3
    np.testing.assert_allclose(ensemble.predict_proba(X), mean, atol=1e-9)


def test_ensemble_bootstrap_and_unbatchable_members(data):
    X, y = data
    bagged = QwertyEnsembleClassifier(
        QwertyClassifier(max_epochs=2), n_estimators=3, bootstrap=True, random_state=0
    ).fit(X, y)
    plain = QwertyEnsembleClassifier(
        QwertyClassifier(max_epochs=2), n_estimators=3, random_state=0
    ).fit(X, y)
    assert not np.allclose(bagged.predict_proba(X), plain.predict_proba(X))
    np.testing.assert_allclose(bagged.predict_proba(X).sum(axis=1), 1.0)
    # Dropout cannot be batched: members are fitted one by one, same result.
    template = QwertyClassifier(max_epochs=2, dropout=0.1)
    dropped = QwertyEnsembleClassifier(template, n_estimators=2, random_state=0)
    dropped.fit(X, y)
    first = dropped.estimators_[0]
    alone = clone(template).set_params(random_state=first.random_state).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), alone.predict_proba(X))


def test_ensemble_rejects_bad_settings(data):
    X, y = data
    with pytest.raises(ValueError, match="n_estimators"):
        QwertyEnsembleClassifier(n_estimators=0).fit(X, y)
    with pytest.raises(ValueError, match="diverged"):
        QwertyEnsembleClassifier(
            QwertyClassifier(optimizer="sgd", lr=1e6, max_epochs=2), n_estimators=2
        ).fit(X, y)
