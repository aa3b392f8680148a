"""`numeric_embedding`: periodic embeddings of the input columns in front of
the hidden layers."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV

from qwertyclf import (
    QwertyClassifier,
    QwertyEnsembleClassifier,
    QwertyNet,
    load_model,
    save_model,
)
from qwertyclf._batched import batch_key
from qwertyclf._classifier import fit_spec
from qwertyclf._embeddings import (
    NUMERIC_EMBEDDINGS,
    PBLD_DIMS,
    PBLD_FREQUENCIES,
    PLR_DIMS,
    PLR_FREQUENCIES,
    PBLDEmbedding,
    PLREmbedding,
)
from qwertyclf._hyperparameters import check_params
from qwertyclf._params import NUMERIC_EMBEDDING_NAMES, PARAMETERS
from qwertyclf.cli import main
from qwertyclf.model_selection import BatchedGridSearchCV, NotBatchedWarning
from qwertyclf.training import batchable
from qwertyclf.training._backprop import PlainMLPStep

KINDS = list(NUMERIC_EMBEDDING_NAMES)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        120, 5, n_informative=4, n_redundant=0, n_classes=3, random_state=0
    )
    return X, y


@pytest.fixture(scope="module")
def table():
    """A table with a categorical column and missing values."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=150) * 100,
            "weight": rng.normal(size=150),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], size=150)),
        }
    )
    y = ((frame["size"] / 100 + (frame["colour"] == "red")) > 0.5).to_numpy()
    frame.loc[::10, "weight"] = np.nan
    return frame, y


def small(**params):
    params = {
        "hidden_layer_sizes": (6, 5),
        "max_epochs": 4,
        "random_state": 0,
        "dtype": "float64",
        **params,
    }
    return QwertyClassifier(**params)


def test_the_names_are_the_registry():
    assert list(NUMERIC_EMBEDDINGS) == KINDS
    assert PARAMETERS["numeric_embedding"].default is None
    for kind in KINDS:
        assert f'"{kind}"' in QwertyClassifier.__doc__.split("numeric_embedding :")[1]


def test_none_is_todays_network(data):
    X, y = data
    assert QwertyClassifier().numeric_embedding is None
    plain = QwertyClassifier(max_epochs=5, random_state=0).fit(X, y)
    none = QwertyClassifier(max_epochs=5, random_state=0, numeric_embedding=None)
    none.fit(X, y)
    assert np.array_equal(plain.predict_proba(X), none.predict_proba(X))
    assert repr(none.net_.module_) == repr(QwertyNet(5, 3))
    assert QwertyNet(numeric_embedding=None).state_dict().keys() == (
        QwertyNet().state_dict().keys()
    )


@pytest.mark.parametrize("value", ["PBLD", "periodic", 1, True, ("pbld",)])
def test_bad_values_are_refused(data, value):
    X, y = data
    message = PARAMETERS["numeric_embedding"].refusal(value)
    assert message.startswith("numeric_embedding must be None or one of pbld, plr")
    with pytest.raises(ValueError) as caught:
        QwertyClassifier(numeric_embedding=value).fit(X, y)
    assert message in str(caught.value)
    with pytest.raises(ValueError, match="Unknown numeric_embedding"):
        QwertyNet(numeric_embedding="periodic")


def test_pbld_is_cos_linear_then_the_input_itself():
    torch.manual_seed(0)
    layer = PBLDEmbedding(3, dtype=torch.float64)
    x = torch.randn(7, 3, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (7, 3 * (PBLD_DIMS + 1)) == (7, layer.out_features)
    for j in range(3):
        z = torch.cos(
            2 * math.pi * x[:, j : j + 1] * layer.frequencies[j] + layer.phases[j]
        )
        expected = z @ layer.linear.weight[j] + layer.linear.bias[j]
        got = out[:, j * PBLD_DIMS : (j + 1) * PBLD_DIMS]
        torch.testing.assert_close(got, expected)
    torch.testing.assert_close(out[:, 3 * PBLD_DIMS :], x)
    assert layer.frequencies.shape == layer.phases.shape == (3, PBLD_FREQUENCIES)


def test_plr_is_periodic_linear_relu():
    torch.manual_seed(0)
    layer = PLREmbedding(2, dtype=torch.float64)
    x = torch.randn(5, 2, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (5, 2 * PLR_DIMS) == (5, layer.out_features)
    for j in range(2):
        angles = 2 * math.pi * x[:, j : j + 1] * layer.frequencies[j]
        z = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)
        expected = torch.relu(z @ layer.linear.weight[j] + layer.linear.bias[j])
        torch.testing.assert_close(out[:, j * PLR_DIMS : (j + 1) * PLR_DIMS], expected)
    assert layer.frequencies.shape == (2, PLR_FREQUENCIES)
    # Truncated at three standard deviations, as rtdl_num_embeddings draws them.
    assert float(layer.frequencies.detach().abs().max()) <= 0.03


@pytest.mark.parametrize("kind", KINDS)
def test_fit_and_predict_on_a_table(table, kind):
    X, y = table
    clf = small(
        numeric_embedding=kind, max_epochs=30, lr=0.02, preprocessing="robust"
    ).fit(X, y)
    module = clf.net_.module_
    assert isinstance(module[0], NUMERIC_EMBEDDINGS[kind])
    # Every input the encoding gives is embedded: 2 numeric columns, the
    # weight's missing indicator and 3 one-hot columns.
    assert module[0].columns == clf.encoder_.n_outputs == 6
    assert module[1].in_features == module[0].out_features
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert clf.score(X, y) > 0.8


@pytest.mark.parametrize("kind", KINDS)
def test_the_embedding_learns(data, kind):
    X, y = data
    clf = small(numeric_embedding=kind, max_epochs=1, warm_start=True).fit(X, y)
    before = {
        name: p.detach().clone() for name, p in clf.net_.module_[0].named_parameters()
    }
    assert set(before) >= {"frequencies", "linear.weight", "linear.bias"}
    clf.fit(X, y)
    for name, param in clf.net_.module_[0].named_parameters():
        assert param.requires_grad
        assert not torch.equal(param, before[name]), name


@pytest.mark.parametrize("kind", KINDS)
def test_with_batch_ensemble(data, kind):
    X, y = data
    clf = small(numeric_embedding=kind, batch_ensemble=3).fit(X, y)
    module = clf.net_.module_
    assert isinstance(module[0], NUMERIC_EMBEDDINGS[kind])
    assert module[1].in_features == module[0].out_features
    # The first member layer after the embedding starts with random signs.
    fresh = QwertyNet(5, 3, (6, 5), numeric_embedding=kind, batch_ensemble=3)
    assert set(fresh[1].r.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(fresh[3].r, torch.ones_like(fresh[3].r))
    np.testing.assert_allclose(clf.predict_proba(X).sum(1), 1.0)


def test_serial_fits_use_autograd_and_only_pbld_trains_batched():
    """Networks with "pbld" train batched, with "plr" serially."""
    for kind in KINDS:
        assert not PlainMLPStep.supports(QwertyNet(numeric_embedding=kind))
    for k in (1, 2):
        clf = QwertyClassifier(numeric_embedding="plr", batch_ensemble=k)
        assert batch_key(clf) is None
        assert not batchable(fit_spec(clf, check_params(clf)))
    keys = []
    for kind in (None, "pbld"):
        for k in (1, 2):
            clf = QwertyClassifier(numeric_embedding=kind, batch_ensemble=k)
            assert batchable(fit_spec(clf, check_params(clf)))
            keys.append(batch_key(clf))
    # Plain and embedded networks never share a run.
    assert None not in keys and len(set(keys)) == 4


def test_search_falls_back_to_serial_fits(data):
    X, y = data
    estimator = small(numeric_embedding="plr", max_epochs=3)
    grid = {"lr": [0.01, 0.05]}
    serial = GridSearchCV(estimator, grid, cv=2).fit(X, y)
    with pytest.warns(NotBatchedWarning, match="numeric_embedding='plr'"):
        batched = BatchedGridSearchCV(estimator, grid, cv=2).fit(X, y)
    np.testing.assert_array_equal(
        batched.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(batched.predict_proba(X), serial.predict_proba(X))


def test_ensemble_of_embedded_networks_fits_serially(data):
    X, y = data
    member = small(numeric_embedding="plr", max_epochs=3)
    ensemble = QwertyEnsembleClassifier(
        member, n_estimators=2, random_state=0, preprocessing=None
    ).fit(X, y)
    for fitted in ensemble.estimators_:
        alone = small(numeric_embedding="plr", max_epochs=3).set_params(
            random_state=fitted.random_state
        )
        alone.fit(X, y)
        np.testing.assert_array_equal(fitted.predict_proba(X), alone.predict_proba(X))
        assert fitted.net_.module_.numeric_embedding == "plr"


@pytest.mark.parametrize(
    "params",
    [
        {"numeric_embedding": "pbld"},
        {"numeric_embedding": "plr"},
        {"numeric_embedding": "pbld", "batch_ensemble": 2, "batch_norm": True},
    ],
)
def test_model_file_round_trip(tmp_path, table, params):
    X, y = table
    clf = small(**params).fit(X, y)
    save_model(clf, tmp_path / "model.qwerty")
    loaded = load_model(tmp_path / "model.qwerty")
    assert loaded.numeric_embedding == params["numeric_embedding"]
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    state, restored = clf.net_.module_.state_dict(), loaded.net_.module_.state_dict()
    assert state.keys() == restored.keys()
    for name in state:
        assert torch.equal(state[name], restored[name]), name
    # A loaded model trains on.
    loaded.set_params(warm_start=True, max_epochs=1).fit(X, y)


def test_the_command_line_predicts_with_an_embedded_model(tmp_path, table, capsys):
    X, y = table
    clf = small(numeric_embedding="plr").fit(X, y)
    clf.save(tmp_path / "model.safetensors")
    X.to_csv(tmp_path / "x.csv", index=False)
    out = tmp_path / "preds.csv"
    argv = ["predict", str(tmp_path / "model.safetensors"), str(tmp_path / "x.csv")]
    assert main([*argv, "--out", str(out)]) == 0
    assert "Wrote 150 predictions" in capsys.readouterr().out
    expected = load_model(tmp_path / "model.safetensors").predict(
        pd.read_csv(tmp_path / "x.csv").astype({"colour": X["colour"].dtype})
    )
    np.testing.assert_array_equal(pd.read_csv(out)["prediction"].to_numpy(), expected)


def test_warm_start_refuses_another_embedding(data):
    X, y = data
    clf = small(numeric_embedding="pbld", warm_start=True).fit(X, y)
    clf.set_params(numeric_embedding="plr")
    with pytest.raises(ValueError, match="trained with numeric_embedding='pbld'"):
        clf.fit(X, y)
    clf.set_params(numeric_embedding=None)
    with pytest.raises(ValueError, match="trained with numeric_embedding='pbld'"):
        clf.fit(X, y)
    clf.set_params(numeric_embedding="pbld").fit(X, y)
