"""`predict_log_proba` of the three classifiers: `np.log` of `predict_proba`."""

import warnings

import numpy as np
import pytest

from qwertyclf import QwertyClassifier, QwertyClassifierCV, QwertyEnsembleClassifier
from qwertyclf._base import log_proba
from qwertyclf.datasets import make_qwerty


@pytest.fixture(scope="module")
def data():
    return make_qwerty(40, random_state=0)


def _classifiers():
    return {
        "QwertyClassifier": QwertyClassifier(max_epochs=5, random_state=0),
        "QwertyClassifierCV": QwertyClassifierCV(
            hidden_layer_sizes=[(4,)],
            lrs=[0.01],
            weight_decays=[0.0],
            n_candidates=1,
            max_epochs=5,
            cv=2,
            # No clipping of inputs, so far-away rows give extreme logits.
            preprocessing=None,
            random_state=0,
        ),
        "QwertyEnsembleClassifier": QwertyEnsembleClassifier(
            QwertyClassifier(max_epochs=5),
            n_estimators=2,
            preprocessing=None,  # as above
            random_state=0,
        ),
    }


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return {name: clf.fit(X, y) for name, clf in _classifiers().items()}


@pytest.mark.parametrize("name", list(_classifiers()))
def test_log_proba_is_the_log_of_proba(fitted, data, name):
    clf = fitted[name]
    X, _ = data
    proba = clf.predict_proba(X)
    result = clf.predict_log_proba(X)
    assert result.shape == (len(X), len(clf.classes_))
    assert result.dtype == proba.dtype
    # The very computation scikit-learn's MLPClassifier makes.
    np.testing.assert_array_equal(result, np.log(proba))
    assert np.all(result <= 0)


@pytest.mark.parametrize("name", list(_classifiers()))
def test_zero_probabilities_give_minus_infinity_without_a_warning(fitted, data, name):
    clf = fitted[name]
    X, _ = data
    # So far from the training data that the softmax underflows to exactly 0.
    far = X * 1e5
    proba = clf.predict_proba(far)
    assert (proba == 0).any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = clf.predict_log_proba(far)
    assert np.array_equal(np.isneginf(result), proba == 0)
    finite = proba > 0
    np.testing.assert_array_equal(result[finite], np.log(proba[finite]))


def test_float32_input_gives_float32_log_proba(fitted, data):
    X, _ = data
    result = fitted["QwertyClassifier"].predict_log_proba(X.astype(np.float32))
    assert result.dtype == np.float32


def test_log_proba_leaves_its_argument_alone():
    proba = np.array([[0.25, 0.75, 0.0]])
    before = proba.copy()
    result = log_proba(proba)
    np.testing.assert_array_equal(proba, before)
    np.testing.assert_array_equal(result, [[np.log(0.25), np.log(0.75), -np.inf]])


@pytest.mark.parametrize("name", list(_classifiers()))
def test_unfitted_model_raises_not_fitted(name, data):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        _classifiers()[name].predict_log_proba(data[0])
