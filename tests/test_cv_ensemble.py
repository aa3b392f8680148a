"""QwertyClassifierCV and QwertyEnsembleClassifier."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from qwertyclf import QwertyClassifier, QwertyClassifierCV, QwertyEnsembleClassifier
from qwertyclf._cv import default_search_space
from qwertyclf.datasets import make_gaussian_classes, make_qwerty


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
    assert {len(h) for h in lecture["hidden_layer_sizes"]} == {1, 2, 3}
    assert 0.0 in lecture["weight_decay"] and max(lecture["weight_decay"]) > 0


def test_cv_fold_models_are_early_stopped_serial_fits(data):
    # Each fold network is the serial fit on the fold's training rows, early
    # stopped on its held-out rows; prediction averages them.
    X, y = data
    clf = QwertyClassifierCV(
        hidden_layer_sizes=[(4,), (8,)],
        lrs=[0.003, 0.03],
        weight_decays=[0.0],
        n_candidates=4,
        batch_size=16,
        max_epochs=30,
        n_iter_no_change=3,
        preprocessing=None,
        cv=3,
        dtype="float64",
        random_state=0,
    ).fit(X, y)
    folds = list(StratifiedKFold(3).split(X, y))
    mean = np.zeros((len(X), 3))
    for model, (train, test) in zip(clf.estimators_, folds, strict=True):
        serial = clone(model).fit(
            X[train], y[train], validation_data=(X[test], y[test])
        )
        assert serial.early_stopping and serial.optimizer == "adamw"
        assert model.best_epoch_ == serial.best_epoch_
        assert model.n_iter_ == serial.n_iter_
        np.testing.assert_allclose(
            model.predict_proba(X), serial.predict_proba(X), atol=1e-9
        )
        mean += serial.predict_proba(X) / 3
    np.testing.assert_allclose(clf.predict_proba(X), mean, atol=1e-9)
    # The winner has the best mean held-out log-loss.
    losses = -clf.cv_results_["mean_test_score"]
    assert clf.best_params_ == clf.cv_results_["params"][int(np.argmin(losses))]
    assert clf.best_score_ == pytest.approx(-losses.min())


def test_cv_scoring_and_refit(data):
    X, y = data
    params = dict(n_candidates=2, max_epochs=10, cv=2, random_state=0)
    by_accuracy = QwertyClassifierCV(scoring="accuracy", **params).fit(X, y)
    assert 0 <= by_accuracy.best_score_ <= 1
    refitted = QwertyClassifierCV(refit=True, **params).fit(X, y)
    (final,) = refitted.estimators_
    assert final.n_iter_ == max(1, round(refitted.cv_results_["mean_best_epoch"][0]))
    assert refitted.predict_proba(X).shape == (len(X), 3)


def test_cv_robust_inputs_need_no_scaler_and_leave_x_alone(data):
    X, y = data
    shifted = X * 1000.0 + 5e4
    before = shifted.copy()
    params = dict(n_candidates=1, max_epochs=20, cv=2, random_state=0)
    raw = QwertyClassifierCV(**params).fit(shifted, y)
    np.testing.assert_array_equal(shifted, before)
    assert raw.score(shifted, y) > 0.8
    with pytest.raises(ValueError, match="preprocessing"):
        QwertyClassifierCV(preprocessing="minmax").fit(X, y)
    with pytest.raises(ValueError, match="n_candidates"):
        QwertyClassifierCV(n_candidates=0).fit(X, y)


def test_cv_with_the_default_space_beats_a_narrow_net():
    # Ten classes in 20 dimensions: the default 8-unit network underfits.
    X, y = make_gaussian_classes(
        600, n_classes=10, n_features=20, covariances=4.0, random_state=0
    )
    clf = QwertyClassifierCV(max_epochs=15, cv=2, random_state=0).fit(X[:400], y[:400])
    assert clf.best_params_["hidden_layer_sizes"][0] >= 64
    narrow = QwertyClassifier(max_epochs=15, random_state=0).fit(X[:400], y[:400])
    assert clf.score(X[400:], y[400:]) >= narrow.score(X[400:], y[400:])


def test_ensemble_members_are_their_own_fits(data):
    X, y = data
    template = QwertyClassifier(max_epochs=4, dtype="float64")
    ensemble = QwertyEnsembleClassifier(
        template, n_estimators=3, random_state=0, preprocessing=None
    )
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
    dropped = QwertyEnsembleClassifier(
        template, n_estimators=2, random_state=0, preprocessing=None
    )
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
