"""Bad input gets a scikit-learn style error with a message a user understands.

`BAD_INPUT_CASES` lists every case as `(description, call, error, match)`: calling
`call()` must raise `error` with a message matching the regular expression
`match`. The documentation renders its table of errors from this list.
"""

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

from qwertyclf import QwertyClassifier

X, Y = make_blobs(n_samples=60, centers=[[3, 0], [-3, 0], [0, 4]], random_state=0)
X.setflags(write=False)
Y.setflags(write=False)


def _fit(X=X, y=Y, fit_params=None, **params):
    params = {"max_epochs": 2, "random_state": 0, **params}
    return QwertyClassifier(**params).fit(X, y, **(fit_params or {}))


@functools.cache
def _fitted():
    return _fit()


def _predict(X, method="predict"):
    return getattr(_fitted(), method)(X)


def _partial_fit_without_classes():
    return QwertyClassifier().partial_fit(X, Y)


def _predict_unfitted(method):
    return getattr(QwertyClassifier(), method)(X)


def _warm_start_new_features():
    clf = _fit(warm_start=True)
    return clf.fit(np.c_[X, X[:, :1]], Y)


def _nan_X():
    X_nan = np.array(X)
    X_nan[3, 1] = np.nan
    return X_nan


def _inf_X(value=np.inf):
    X_inf = np.array(X)
    X_inf[5, 0] = value
    return X_inf


def _nan_y():
    y = Y.astype(float)
    y[7] = np.nan
    return y


def _strings_X():
    X_obj = X.astype(object)
    X_obj[0, 0] = "oops"
    return X_obj


def _frame(**changes):
    """A small mixed table: two numeric columns and a column of colours."""
    frame = pd.DataFrame(
        {"size": X[:, 0], "weight": X[:, 1], "colour": ["red", "green", "blue"] * 20}
    )
    return frame.assign(**changes)


@functools.cache
def _fitted_on_frame():
    return QwertyClassifier(max_epochs=2, random_state=0).fit(_frame(), Y)


def _predict_frame(frame):
    return _fitted_on_frame().predict(frame)


_P = functools.partial
_DIVERGE = "learning rate"

#: Every bad-input case: (description, call, expected exception, message regex).
BAD_INPUT_CASES = [
    # --- X -----------------------------------------------------------------
    (
        "infinity in X",
        lambda: _fit(_inf_X()),
        ValueError,
        "Input X contains infinity",
    ),
    (
        "-infinity in X",
        lambda: _fit(_inf_X(-np.inf)),
        ValueError,
        "Input X contains infinity",
    ),
    ("empty X", _P(_fit, np.zeros((0, 2)), np.zeros(0)), ValueError, r"0 sample\(s\)"),
    ("X without columns", _P(_fit, np.zeros((60, 0))), ValueError, r"0 feature\(s\)"),
    ("1-D X", _P(_fit, X[:, 0]), ValueError, "Expected 2D array, got 1D array"),
    ("3-D X", _P(_fit, X[:, :, None]), ValueError, "Found array with dim 3"),
    (
        "categorical columns in a scipy sparse X",
        _P(_fit, sp.csr_matrix(X), categorical_features=[0]),
        ValueError,
        "categorical_features lists columns of a sparse X",
    ),
    (
        "infinity in a scipy sparse X",
        lambda: _fit(sp.csr_matrix(_inf_X())),
        ValueError,
        "Input X contains infinity",
    ),
    (
        "text in a column of numbers",
        lambda: _fit(_strings_X()),
        ValueError,
        "Column 0 of X mixes numbers and strings",
    ),
    ("complex X", lambda: _fit(X + 1j), ValueError, "Complex data not supported"),
    # --- tables -------------------------------------------------------------
    (
        "infinity in a table with a categorical column",
        lambda: _fit(_frame(size=np.r_[np.inf, X[1:, 0]])),
        ValueError,
        "Input X contains infinity",
    ),
    (
        "a column of dates",
        lambda: _fit(_frame(day=pd.date_range("2024-01-01", periods=60))),
        TypeError,
        "Column 'day' holds dates or durations",
    ),
    (
        "categorical_features naming a column X does not have",
        _P(_fit, _frame(), categorical_features=["color"]),
        ValueError,
        r"categorical_features names columns that X does not have: \['color'\]",
    ),
    (
        "categorical_features leaving out a column of strings",
        _P(_fit, _frame(), categorical_features=[]),
        ValueError,
        "Column 'colour' holds categories or strings, but categorical_features "
        "does not list it",
    ),
    (
        "categorical_features with an index out of range",
        _P(_fit, categorical_features=[2]),
        ValueError,
        "categorical_features holds column indices out of range for 2 columns",
    ),
    (
        "categorical_features as a mask of the wrong length",
        _P(_fit, categorical_features=[True]),
        ValueError,
        "boolean mask must have 2 entries",
    ),
    (
        "categorical_features naming columns of an array",
        _P(_fit, categorical_features=["size"]),
        ValueError,
        "X has no column names",
    ),
    (
        "categorical_features that is a word",
        _P(_fit, categorical_features="colour"),
        ValueError,
        "categorical_features must be 'from_dtype', None, or a list",
    ),
    (
        "min_frequency of 0",
        _P(_fit, min_frequency=0),
        ValueError,
        r"min_frequency must be None, an int >= 1 or a float in \(0, 1\)",
    ),
    (
        "an unknown preprocessing",
        _P(_fit, preprocessing="standard"),
        ValueError,
        "preprocessing must be 'robust' or None, got 'standard'",
    ),
    # --- y -----------------------------------------------------------------
    ("NaN in y", lambda: _fit(y=_nan_y()), ValueError, "Input y contains NaN"),
    (
        "continuous y",
        lambda: _fit(y=np.linspace(0, 1, 60)),
        ValueError,
        "Unknown label type: continuous",
    ),
    (
        "a single class",
        lambda: _fit(y=np.zeros(60)),
        ValueError,
        "at least 2 classes.*only 1 class",
    ),
    (
        "X and y of different lengths",
        lambda: _fit(y=Y[:50]),
        ValueError,
        "inconsistent numbers of samples",
    ),
    ("2-D y", lambda: _fit(y=np.c_[Y, Y]), ValueError, "y should be a 1d array"),
    # --- hyperparameters ----------------------------------------------------
    (
        "unknown activation",
        _P(_fit, activation="swish"),
        ValueError,
        "Unknown activation 'swish'.*relu.*tanh",
    ),
    (
        "unknown optimizer",
        _P(_fit, optimizer="adagrad"),
        ValueError,
        "Unknown optimizer 'adagrad'.*adam.*sgd",
    ),
    (
        "optimizer that is not a torch optimizer",
        _P(_fit, optimizer=torch.nn.Linear),
        ValueError,
        "Unknown optimizer",
    ),
    ("unknown device", _P(_fit, device="tpu"), ValueError, "Unknown device 'tpu'"),
    (
        "zero batch_size",
        _P(_fit, batch_size=0),
        ValueError,
        "batch_size must be an int >= 1",
    ),
    (
        "negative batch_size",
        _P(_fit, batch_size=-16),
        ValueError,
        "batch_size must be an int >= 1",
    ),
    (
        "float batch_size",
        _P(_fit, batch_size=2.5),
        ValueError,
        "batch_size must be an int",
    ),
    (
        "zero max_epochs",
        _P(_fit, max_epochs=0),
        ValueError,
        "max_epochs must be an int >= 1",
    ),
    (
        "negative max_epochs",
        _P(_fit, max_epochs=-3),
        ValueError,
        "max_epochs must be an int >= 1",
    ),
    (
        "zero n_iter_no_change",
        _P(_fit, n_iter_no_change=0),
        ValueError,
        "n_iter_no_change must be an int >= 1",
    ),
    (
        "zero hidden layer size",
        _P(_fit, hidden_layer_sizes=(8, 0)),
        ValueError,
        "hidden_layer_sizes must hold positive ints",
    ),
    (
        "negative hidden layer size",
        _P(_fit, hidden_layer_sizes=(-4,)),
        ValueError,
        "hidden_layer_sizes must hold positive ints",
    ),
    (
        "hidden_layer_sizes of None",
        _P(_fit, hidden_layer_sizes=None),
        TypeError,
        "hidden_layer_sizes must be an int or a sequence of ints",
    ),
    ("zero learning rate", _P(_fit, lr=0.0), ValueError, "lr must be > 0"),
    (
        "negative learning rate",
        _P(_fit, lr=-0.1),
        ValueError,
        "lr must be a finite float",
    ),
    (
        "NaN learning rate",
        _P(_fit, lr=float("nan")),
        ValueError,
        "lr must be a finite float",
    ),
    (
        "negative weight_decay",
        _P(_fit, weight_decay=-1.0),
        ValueError,
        "weight_decay must be a finite float >= 0",
    ),
    (
        "negative tol",
        _P(_fit, tol=-1e-3),
        ValueError,
        "tol must be a finite float >= 0",
    ),
    (
        "dropout of 1",
        _P(_fit, dropout=1.0),
        ValueError,
        r"dropout must be a float in \[0, 1\)",
    ),
    (
        "unknown dtype",
        _P(_fit, dtype="float16"),
        ValueError,
        "dtype must be 'float32' or",
    ),
    (
        "callbacks that are not skorch callbacks",
        _P(_fit, callbacks=[print]),
        TypeError,
        "callbacks must be a list of skorch callbacks",
    ),
    (
        "callbacks that is not a list",
        _P(_fit, callbacks=3),
        TypeError,
        "callbacks must be a list of skorch callbacks",
    ),
    (
        "unknown class_weight preset",
        _P(_fit, class_weight="even"),
        ValueError,
        "class_weight",
    ),
    (
        "class_weight for labels that are not in y",
        _P(_fit, class_weight={7: 2.0}),
        ValueError,
        "are not in class_weight",
    ),
    *(
        (
            f"{name}={value!r}",
            _P(_fit, **{name: value}),
            ValueError,
            f"{name} must be True or False, got {value!r}",
        )
        for name, value in (
            ("early_stopping", "no"),
            ("shuffle", 0),
            ("batch_norm", "yes"),
            ("warm_start", None),
        )
    ),
    (
        "class_weight that is a list",
        _P(_fit, class_weight=[1.0, 2.0, 3.0]),
        ValueError,
        "class_weight must be None, 'balanced' or a dict of class -> weight",
    ),
    (
        "negative class weight",
        _P(_fit, class_weight={0: -1.0, 1: 1.0, 2: 1.0}),
        ValueError,
        "class_weight of class 0 must be a finite float >= 0",
    ),
    (
        "NaN class weight",
        _P(_fit, class_weight={0: 1.0, 1: float("nan"), 2: 1.0}),
        ValueError,
        "class_weight of class 1 must be a finite float >= 0",
    ),
    (
        "class weight that is text",
        _P(_fit, class_weight={0: 1.0, 1: "2", 2: 1.0}),
        ValueError,
        "class_weight of class 1 must be a finite float >= 0",
    ),
    *(
        (
            f"verbose={value!r}",
            _P(_fit, verbose=value),
            ValueError,
            "verbose must be an int >= 0",
        )
        for value in (-1, 0.5, "loud")
    ),
    (
        "unusable random_state",
        _P(_fit, random_state="abc"),
        ValueError,
        "cannot be used to seed",
    ),
    # --- validation ---------------------------------------------------------
    *(
        (
            f"validation_fraction={fraction!r}",
            _P(_fit, validation_fraction=fraction),
            ValueError,
            r"validation_fraction must be None or a float in \(0, 1\)",
        )
        for fraction in (0.0, 1.0, 1.5, -0.2, "0.1")
    ),
    (
        "early stopping where every class has a single row",
        lambda: _fit(X[[1, 0, 8]], Y[[1, 0, 8]], early_stopping=True),
        ValueError,
        "Cannot hold out validation_fraction=0.1 of the rows: every class has a "
        "single row",
    ),
    (
        "validation_data with a different number of features",
        _P(_fit, fit_params={"validation_data": (np.c_[X, X], Y)}),
        ValueError,
        "X_val has 4 features, but QwertyClassifier is being fitted with 2",
    ),
    (
        "validation_data with an unknown label",
        _P(_fit, fit_params={"validation_data": (X[:3], np.array([0, 1, 9]))}),
        ValueError,
        r"y_val contains labels that are not among the fitted classes.*\[9\]",
    ),
    (
        "validation_data that is not a pair",
        _P(_fit, fit_params={"validation_data": X}),
        TypeError,
        r"validation_data must be a pair \(X_val, y_val\)",
    ),
    (
        "validation_data of different lengths",
        _P(_fit, fit_params={"validation_data": (X[:5], Y[:4])}),
        ValueError,
        "X_val and y_val have different lengths",
    ),
    # --- sample weights -----------------------------------------------------
    (
        "negative sample weights",
        _P(_fit, fit_params={"sample_weight": np.r_[-1.0, np.ones(59)]}),
        ValueError,
        "Negative values in data passed to `sample_weight`",
    ),
    (
        "all-zero sample weights",
        _P(_fit, fit_params={"sample_weight": np.zeros(60)}),
        ValueError,
        "at least one non-zero",
    ),
    (
        "sample weights of the wrong length",
        _P(_fit, fit_params={"sample_weight": np.ones(5)}),
        ValueError,
        r"sample_weight.shape == \(5,\), expected \(60,\)",
    ),
    # --- predict ------------------------------------------------------------
    (
        "predict before fit",
        _P(_predict_unfitted, "predict"),
        NotFittedError,
        "not fitted yet",
    ),
    (
        "predict_proba before fit",
        _P(_predict_unfitted, "predict_proba"),
        NotFittedError,
        "not fitted yet",
    ),
    (
        "wrong number of features at predict",
        lambda: _predict(np.c_[X, X[:, :1]]),
        ValueError,
        "X has 3 features, but QwertyClassifier is expecting 2 features",
    ),
    (
        "wrong number of features at predict_proba",
        lambda: _predict(X[:, :1], "predict_proba"),
        ValueError,
        "X has 1 features, but QwertyClassifier is expecting 2 features",
    ),
    ("1-D X at predict", lambda: _predict(X[0]), ValueError, "Expected 2D array"),
    (
        "a column missing at predict",
        lambda: _predict_frame(_frame().drop(columns="weight")),
        ValueError,
        "Feature names seen at fit time, yet now missing:\n- weight",
    ),
    (
        "an extra column at predict",
        lambda: _predict_frame(_frame(extra=1.0)),
        ValueError,
        "Feature names unseen at fit time:\n- extra",
    ),
    (
        "columns reordered at predict",
        lambda: _predict_frame(_frame()[["colour", "size", "weight"]]),
        ValueError,
        "Feature names must be in the same order as they were in fit",
    ),
    (
        "strings where numbers were, at predict",
        lambda: _predict_frame(_frame(weight="heavy")),
        ValueError,
        "Column 'weight' held numbers in fit but holds text now",
    ),
    (
        "numbers where categories were, at predict",
        lambda: _predict_frame(_frame(colour=1.5)),
        ValueError,
        "Column 'colour' held categories in fit but holds numbers now",
    ),
    (
        "sparse X at predict, model centred on dense X",
        lambda: _fit(preprocessing="robust").predict(sp.csr_matrix(X)),
        ValueError,
        "centring a sparse X would fill in all of its zeros",
    ),
    (
        "values beyond float32 range at predict",
        lambda: _predict(X * 1e39, "predict_proba"),
        ValueError,
        "float32|float64|too large|range",
    ),
    (
        "partial_fit without classes on the first call",
        _P(_partial_fit_without_classes),
        ValueError,
        "classes must be passed on the first call to partial_fit",
    ),
    (
        "warm start with a different number of features",
        _P(_warm_start_new_features),
        ValueError,
        "X has 3 features, but QwertyClassifier is expecting 2 features",
    ),
    # --- diverging fits -----------------------------------------------------
    (
        "diverging fit: Adam with lr=1e6",
        _P(_fit, lr=1e6, max_epochs=5),
        ValueError,
        _DIVERGE,
    ),
    (
        "diverging fit: features scaled by 1e30",
        lambda: _fit(X * 1e30, max_epochs=5),
        ValueError,
        _DIVERGE,
    ),
    (
        "diverging fit: SGD with lr=1e3",
        _P(_fit, optimizer="sgd", lr=1e3, max_epochs=5),
        ValueError,
        _DIVERGE,
    ),
    (
        "diverging fit that ends after one full-batch SGD step with lr=1e20",
        _P(_fit, optimizer="sgd", lr=1e20, batch_size=60, max_epochs=1),
        ValueError,
        _DIVERGE,
    ),
]


@pytest.mark.parametrize(
    ("description", "call", "error", "match"),
    BAD_INPUT_CASES,
    ids=[case[0] for case in BAD_INPUT_CASES],
)
def test_bad_input(description, call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_cases_are_well_formed():
    descriptions = [case[0] for case in BAD_INPUT_CASES]
    assert len(set(descriptions)) == len(descriptions)
    for description, call, error, match in BAD_INPUT_CASES:
        assert isinstance(description, str) and description
        assert callable(call)
        assert issubclass(error, Exception)
        assert isinstance(match, str) and match


def test_unavailable_cuda_is_a_value_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        _fit(device="cuda")
    clf = _fit(device="auto")
    assert clf.device_ == torch.device("cpu")


def test_diverged_fit_never_returns_nan_predictions():
    # Whatever the learning rate, a fit either raises or predicts finite
    # probabilities.
    for params in (
        {"lr": 1e6},
        {"optimizer": "sgd", "lr": 1e20, "batch_size": 60, "max_epochs": 1},
        {"optimizer": "sgd", "lr": 1e3},
        {"optimizer": "rmsprop", "lr": 1e4},
    ):
        try:
            clf = _fit(**{"max_epochs": 3, **params})
        except ValueError as exc:
            assert "learning rate" in str(exc)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            proba = clf.predict_proba(X)
        assert np.all(np.isfinite(proba)), params


def test_failed_fit_keeps_previous_model():
    clf = _fit()
    proba = clf.predict_proba(X)
    with pytest.raises(ValueError):
        clf.fit(_inf_X(), Y)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_fit_with_bad_hyperparameter_keeps_previous_model():
    # Hyperparameters are checked before anything fitted is replaced: a
    # failing refit must not pair the old network with new classes.
    clf = _fit()
    proba = clf.predict_proba(X)
    clf.set_params(lr=-1.0)
    with pytest.raises(ValueError, match="lr must be"):
        clf.fit(X, np.array(["a", "b", "c"])[Y])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
