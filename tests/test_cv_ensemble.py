"""QwertyClassifierCV and QwertyEnsembleClassifier."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

from qwertyclf import QwertyClassifier, QwertyClassifierCV, QwertyEnsembleClassifier
from qwertyclf._cv import default_search_space
from qwertyclf._selection import greedy_weights, held_out_proba
from qwertyclf._table import encode
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


def test_cv_widths_follow_the_table_columns_not_the_encoded_inputs():
    # One categorical column of 60 levels is one column: its 60 one-hot
    # inputs do not make the candidates wider than a two-column table's.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"code": pd.Categorical(rng.integers(0, 60, 240).astype(str))})
    y = (X["code"].cat.codes.to_numpy() % 2).astype(int)
    clf = QwertyClassifierCV(n_candidates=5, max_epochs=1, random_state=0)
    clf.fit(X, y)
    params = clf.cv_results_["params"]
    assert params[0]["hidden_layer_sizes"] == (128,)  # the space's middle
    assert {max(p["hidden_layer_sizes"]) for p in params} <= {64, 128}
    assert default_search_space(240, 60, 2)["hidden_layer_sizes"][1] == (256,)


def test_cv_candidates_are_drawn_from_the_whole_space(data):
    # After the space's middle, with and without the embedding, the
    # candidates are a random draw from the whole grid, seeded by
    # random_state: every depth gets tried.
    X, y = data
    drawn = []
    for seed in range(4):
        clf = QwertyClassifierCV(max_epochs=1, cv=2, random_state=seed).fit(X, y)
        params = clf.cv_results_["params"]
        middle = {"hidden_layer_sizes": (128,), "lr": 0.003, "weight_decay": 0.01}
        assert params[:2] == [
            {**middle, "numeric_embedding": "pbld"},
            {**middle, "numeric_embedding": None},
        ]
        assert all(p["numeric_embedding"] == "pbld" for p in params[2:])
        points = [tuple(sorted(p.items())) for p in params]
        assert len(points) == 6 and len(set(points)) == 6
        drawn.append(tuple(points[2:]))
    assert len(set(drawn)) == 4  # each seed draws its own
    depths = {len(dict(p)["hidden_layer_sizes"]) for d in drawn for p in d}
    assert depths == {1, 2, 3}


@pytest.mark.parametrize("embedding", ["auto", "pbld", None])
def test_cv_numeric_embedding_of_the_candidates(data, embedding):
    # "auto": the second candidate takes plain inputs, every other candidate
    # embeds them; a fixed value holds for every candidate.
    X, y = data
    clf = QwertyClassifierCV(
        n_candidates=3,
        max_epochs=2,
        cv=2,
        numeric_embedding=embedding,
        random_state=0,
    ).fit(X, y)
    params = clf.cv_results_["params"]
    if embedding == "auto":
        assert [p["numeric_embedding"] for p in params] == ["pbld", None, "pbld"]
    else:
        assert all("numeric_embedding" not in p for p in params)
    for member in clf.estimators_:
        chosen = {key: member.get_params()[key] for key in params[0]}
        assert chosen in params
        if embedding != "auto":
            assert member.numeric_embedding == embedding
        first = type(member.net_.module_[0]).__name__
        assert (first == "PBLDEmbedding") == (member.numeric_embedding == "pbld")


def test_cv_fold_models_are_early_stopped_serial_fits(data):
    # Each fold network is the serial fit on the fold's training rows, early
    # stopped on its held-out rows; prediction averages the best candidate's.
    X, y = data
    clf = QwertyClassifierCV(
        hidden_layer_sizes=[(4,), (8,)],
        lrs=[0.003, 0.03],
        weight_decays=[0.0],
        n_candidates=4,
        selection="best",
        batch_size=16,
        max_epochs=30,
        n_iter_no_change=3,
        preprocessing=None,
        cv=StratifiedKFold(3),  # a splitter is used as given
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
    params = dict(n_candidates=3, max_epochs=10, cv=2, random_state=0)
    # With a scoring, "auto" keeps the top-ranked candidate alone.
    by_accuracy = QwertyClassifierCV(scoring="accuracy", **params).fit(X, y)
    assert 0 <= by_accuracy.best_score_ <= 1
    assert len(by_accuracy.estimators_) == 2
    assert {m.hidden_layer_sizes for m in by_accuracy.estimators_} == {
        by_accuracy.best_params_["hidden_layer_sizes"]
    }
    # refit=True refits each chosen candidate for its mean best epoch count.
    blended = QwertyClassifierCV(**params).fit(X, y)
    refitted = QwertyClassifierCV(refit=True, **params).fit(X, y)
    results = refitted.cv_results_
    assert len(refitted.estimators_) == len(blended.estimators_) // 2
    np.testing.assert_allclose(refitted.weights_, blended.weights_[::2] * 2)
    for final in refitted.estimators_:
        c = next(
            c
            for c, p in enumerate(results["params"])
            if all(getattr(final, k) == v for k, v in p.items())
        )
        assert final.n_iter_ == max(1, round(results["mean_best_epoch"][c]))
    assert refitted.predict_proba(X).shape == (len(X), 3)
    with pytest.raises(ValueError, match="selection must be one of"):
        QwertyClassifierCV(selection="stacking", **params).fit(X, y)


def test_greedy_weights_blend_candidates_that_complement_each_other():
    y = [np.array([0, 1])]
    # Each candidate is sure of one row and wrong about the other: half of
    # each beats either alone; a candidate left out (None) gets no weight.
    first = [np.array([[0.9, 0.1], [0.7, 0.3]])]
    second = [np.array([[0.3, 0.7], [0.1, 0.9]])]
    assert greedy_weights([first, None, second], y).tolist() == [0.5, 0.0, 0.5]
    # Weighing the first row only, the first candidate alone is best.
    only_first_row = [np.array([1.0, 0.0])]
    assert greedy_weights([first, second], y, only_first_row).tolist() == [1.0, 0.0]


def test_held_out_probabilities_pass_over_failed_and_diverged_candidates():
    class Fixed:
        classes_ = np.array([0, 1])

        def __init__(self, value):
            self.value = value

        def predict_proba(self, X):
            return np.full((len(X), 2), self.value)

    X = np.zeros((4, 1))
    folds = [(np.array([2, 3]), np.array([0, 1])), (np.array([0, 1]), np.array([2, 3]))]
    fitted = [
        Fixed(0.5),
        Fixed(0.5),
        Fixed(np.nan),
        Fixed(0.5),
        ValueError(),
        Fixed(0.5),
    ]
    good, diverged, failed = held_out_proba(fitted, X, folds, np.array([0, 1]))
    assert [p.shape for p in good] == [(2, 2), (2, 2)]
    assert diverged is None and failed is None
    assert greedy_weights(
        [good, diverged, failed], [np.array([0, 1])] * 2
    ).tolist() == [
        1.0,
        0.0,
        0.0,
    ]


def test_cv_greedy_selection_blends_the_candidates_fold_networks(data):
    # 60 rows a class in 3 stratified folds of 60: the held-out log-loss of
    # all the rows is the mean of the folds' (the candidates' scores).
    X, y = data
    folds = list(StratifiedKFold(3, shuffle=True, random_state=1).split(X, y))
    clf = QwertyClassifierCV(
        n_candidates=6, max_epochs=15, cv=folds, dtype="float64", random_state=1
    ).fit(X, y)
    weights = clf.weights_.reshape(-1, 3)  # each chosen candidate's 3 networks
    assert len(weights) > 1  # more than one candidate is blended on this data
    np.testing.assert_allclose(weights, weights[:, :1].repeat(3, axis=1))
    steps = weights.sum(1) * 10
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
    assert clf.weights_.sum() == pytest.approx(1)
    Z = encode(clf, X, clf.encoder_)
    members = [m.predict_proba(Z) for m in clf.estimators_]
    np.testing.assert_allclose(
        clf.predict_proba(X), np.tensordot(clf.weights_, members, axes=1), atol=1e-12
    )
    # Each network predicts the rows its early stopping watched; the blend's
    # held-out log-loss is no worse than the best candidate's alone.
    held_out = np.mean(
        [
            log_loss(
                y[test],
                sum(
                    w * m.predict_proba(Z[test])
                    for w, m in zip(
                        clf.weights_[f::3], clf.estimators_[f::3], strict=True
                    )
                )
                * 3,
                labels=clf.classes_,
            )
            for f, (_, test) in enumerate(folds)
        ]
    )
    assert held_out < -clf.best_score_


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


def test_cv_fits_settings_the_batched_trainer_cannot_take(data):
    # selu has no hand-written gradient: its networks train serially.
    X, y = data
    clf = QwertyClassifierCV(
        activation="selu", n_candidates=2, max_epochs=3, cv=2, random_state=0
    ).fit(X, y)
    assert len(clf.estimators_) == 2
    assert all(m.activation == "selu" for m in clf.estimators_)
    assert clf.predict(X).shape == (len(X),)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"lrs": [-1.0]}, "lr must be"),
        ({"weight_decays": [float("nan")]}, "weight_decay must be"),
        ({"hidden_layer_sizes": [(0,)]}, "hidden_layer_sizes must"),
        ({"numeric_embedding": "fourier"}, "numeric_embedding must"),
        ({"batch_ensemble": 0}, "batch_ensemble must"),
    ],
)
def test_cv_bad_candidate_values_name_the_parameter(data, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        QwertyClassifierCV(n_candidates=1, max_epochs=2, cv=2, **params).fit(X, y)


def test_cv_serial_fallback_gives_the_batched_result(data, monkeypatch):
    # The networks the batched trainer cannot take are fitted one by one,
    # on the same rows, row weights and held-out rows: same result.
    import qwertyclf._cv as cv_module

    X, y = data
    weight = np.random.RandomState(0).uniform(0.2, 2.0, len(y))
    params = dict(
        hidden_layer_sizes=[(4,), (8,)],
        lrs=[0.01],
        weight_decays=[0.0, 0.1],
        n_candidates=3,
        batch_size=16,
        max_epochs=20,
        n_iter_no_change=3,
        cv=3,
        dtype="float64",
        random_state=0,
    )
    batched = QwertyClassifierCV(**params).fit(X, y, sample_weight=weight)
    monkeypatch.setattr(cv_module, "batch_key", lambda estimator: None)
    serial = QwertyClassifierCV(**params).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(
        serial.cv_results_["mean_test_score"],
        batched.cv_results_["mean_test_score"],
        rtol=1e-9,
    )
    assert serial.best_params_ == batched.best_params_
    for one, other in zip(serial.estimators_, batched.estimators_, strict=True):
        assert one.n_iter_ == other.n_iter_
        assert one.best_epoch_ == other.best_epoch_
    np.testing.assert_allclose(
        serial.predict_proba(X), batched.predict_proba(X), atol=1e-9
    )


def _grouped_table(n_per_group, seed, n_groups=5):
    """Rows stored in blocks of a hidden factor that moves the features.

    Each group sits in its own band of feature 1, and the class boundary on
    feature 0 alternates between groups: a network that never saw a group
    is confidently wrong on half of it.
    """
    rng = np.random.RandomState(seed)
    X, y = [], []
    for group in range(n_groups):
        x0 = rng.uniform(-3, 3, n_per_group)
        x1 = rng.normal(4.0 * group, 0.7, n_per_group)
        X.append(np.c_[x0, x1])
        y.append((x0 > 1.5 * (-1) ** group).astype(int))
    return np.vstack(X), np.concatenate(y)


def test_cv_accuracy_does_not_depend_on_the_row_order():
    # Unshuffled folds hold out whole blocks of stored rows: with rows
    # grouped by a hidden factor each fold network early-stops on a group
    # it never saw, and the accuracy drops by 5 to 15 points.
    X, y = _grouped_table(150, seed=0)
    X_test, y_test = _grouped_table(400, seed=1)
    shuffled = np.random.RandomState(0).permutation(len(y))
    by_class = shuffled[np.argsort(y[shuffled], kind="stable")]
    params = dict(n_candidates=2, batch_size=64, max_epochs=60, n_iter_no_change=5)
    for name, stored in (("grouped", np.arange(len(y))), ("by class", by_class)):
        clf = QwertyClassifierCV(random_state=0, **params)
        accuracy = clf.fit(X[stored], y[stored]).score(X_test, y_test)
        permuted = np.random.RandomState(1).permutation(stored)
        clf = QwertyClassifierCV(random_state=0, **params)
        other = clf.fit(X[permuted], y[permuted]).score(X_test, y_test)
        assert abs(accuracy - other) <= 0.02, (name, accuracy, other)


def test_internal_hold_outs_are_shuffled_stratified_and_seeded():
    # The ensemble's early-stopping rows and validation_fraction both come
    # from split_validation: on rows sorted by class, the held-out tenth
    # has every class in proportion, is not the last rows, and follows the
    # seed.
    from qwertyclf.training import split_validation

    y = np.repeat([0, 1, 2], [60, 30, 10])
    _, valid, _, _ = split_validation(y, None, 0.1, seed=0)
    np.testing.assert_array_equal(np.bincount(y[valid]), [6, 3, 1])
    assert not np.array_equal(np.sort(valid), np.arange(90, 100))
    _, again, _, _ = split_validation(y, None, 0.1, seed=0)
    _, other, _, _ = split_validation(y, None, 0.1, seed=1)
    np.testing.assert_array_equal(valid, again)
    assert not np.array_equal(np.sort(valid), np.sort(other))


def test_hold_outs_keep_every_class_in_training_where_strata_cannot_be_made():
    # A class of one row, or fewer held-out rows than classes: no stratified
    # split exists. A tenth is held out all the same, drawn from all but one
    # row of each class, so every class still trains; seeded as ever.
    from qwertyclf.training import can_hold_out, split_validation

    for y in (np.repeat([0, 1, 2], [60, 39, 1]), np.repeat(np.arange(30), 4)):
        train, valid, _, _ = split_validation(y, None, 0.1, seed=0)
        assert len(valid) == int(np.ceil(0.1 * len(y)))
        np.testing.assert_array_equal(np.sort(np.r_[train, valid]), np.arange(len(y)))
        np.testing.assert_array_equal(np.unique(y[train]), np.unique(y))
        _, again, _, _ = split_validation(y, None, 0.1, seed=0)
        _, other, _, _ = split_validation(y, None, 0.1, seed=1)
        np.testing.assert_array_equal(valid, again)
        assert not np.array_equal(np.sort(valid), np.sort(other))
        assert can_hold_out(y)
    assert not can_hold_out(np.arange(5))
    with pytest.raises(ValueError, match="every class has a single row"):
        split_validation(np.arange(5), None, 0.1, seed=0)


@pytest.mark.parametrize("bootstrap", [False, True])
def test_members_stop_early_beside_a_class_of_one_row(data, bootstrap):
    # A rare class seen once (or, in a bootstrap sample, often once) used to
    # switch early stopping off: every member then trained all its epochs.
    X, y = data
    X = np.r_[X, [[9.0, 9.0]]]
    y = np.r_[y, [3]]
    ensemble = QwertyEnsembleClassifier(
        n_estimators=3, bootstrap=bootstrap, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(ensemble.classes_, [0, 1, 2, 3])
    for member in ensemble.estimators_:
        assert member.early_stopping
        assert "valid_loss" in member.history_[-1]
    clf = QwertyClassifier(early_stopping=True, max_epochs=3, random_state=0)
    assert "valid_loss" in clf.fit(X, y).history_[-1]


def test_default_members_are_the_documented_network():
    X, y = make_qwerty(60, random_state=0)
    ensemble = QwertyEnsembleClassifier(n_estimators=2, random_state=0).fit(X, y)
    for member in ensemble.estimators_:
        assert type(member.net_.module_[0]).__name__ == "PBLDEmbedding"
        params = member.get_params()
        assert {k: params[k] for k in DOCUMENTED_MEMBER} == DOCUMENTED_MEMBER


#: The default member as the ensemble's docstring describes it.
DOCUMENTED_MEMBER = {
    "numeric_embedding": "pbld",
    "hidden_layer_sizes": (64, 64),
    "optimizer": "adamw",
    "lr": 0.003,
    "weight_decay": 0.01,
    "early_stopping": True,
}


def test_cv_folds_beside_classes_smaller_than_the_folds(data):
    # As the guide says: a class of fewer rows than folds warns (its one
    # row's fold trains without it); every class that small raises.
    X, y = data
    X = np.r_[X, [[9.0, 9.0]]]
    y = np.r_[y, [3]]
    clf = QwertyClassifierCV(n_candidates=1, max_epochs=2, random_state=0)
    with pytest.warns(UserWarning, match="least populated class"):
        clf.fit(X, y)
    assert clf.predict_proba(X).shape == (len(y), 4)
    with pytest.raises(ValueError, match="n_splits=5 cannot be greater"):
        clf.fit(X[:8], np.arange(8) % 4)
