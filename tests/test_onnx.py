"""ONNX export: onnxruntime gives the labels and probabilities of `predict`."""

import numpy as np
import pytest

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

import pandas as pd  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

from qwertyclf import QwertyClassifier  # noqa: E402
from qwertyclf._module import ACTIVATIONS  # noqa: E402
from qwertyclf.cli import main  # noqa: E402
from qwertyclf.onnx import save_onnx  # noqa: E402

FAST = {"max_epochs": 3, "batch_size": 32, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(240, n_features=4, centers=3, cluster_std=2.0, random_state=0)
    return X.astype(np.float32), y


def run(onx, X, **inputs):
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    feeds = inputs or {session.get_inputs()[0].name: X}
    return session.run(None, feeds)


def assert_same(model, onx, X, **inputs):
    label, proba = run(onx, X, **inputs)
    source = X if not inputs else pd.DataFrame({k: v[:, 0] for k, v in inputs.items()})
    np.testing.assert_array_equal(label, model.predict(source))
    np.testing.assert_allclose(proba, model.predict_proba(source), atol=1e-5)
    return proba


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation(activation, data):
    X, y = data
    clf = QwertyClassifier(
        hidden_layer_sizes=(8, 6), activation=activation, **FAST
    ).fit(X, y)
    assert_same(clf, to_onnx(clf, X[:1], options={"zipmap": False}), X)


@pytest.mark.parametrize("kind", ["pbld", "plr"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numeric_embeddings(kind, dtype, data):
    X, y = data
    X = X.copy()
    X[::7, 1] = np.nan  # a missing indicator, embedded too
    clf = QwertyClassifier(
        hidden_layer_sizes=(8,),
        numeric_embedding=kind,
        preprocessing="robust",
        dtype=dtype,
        **FAST,
    ).fit(X, y)
    proba = assert_same(clf, to_onnx(clf, X[:1], options={"zipmap": False}), X)
    assert clf.net_.module_[0].columns == 5
    assert not np.allclose(proba, proba.mean(0))


def test_numeric_embedding_with_members_is_refused(data):
    X, y = data
    clf = QwertyClassifier(numeric_embedding="pbld", batch_ensemble=2, **FAST)
    with pytest.raises(ValueError, match="batch_ensemble=2 to ONNX"):
        to_onnx(clf.fit(X, y), X[:1])


def test_batch_norm_dropout_and_float64(data):
    X, y = data
    clf = QwertyClassifier(
        hidden_layer_sizes=(8,), batch_norm=True, dropout=0.3, dtype="float64", **FAST
    ).fit(X, y)
    assert_same(clf, to_onnx(clf, X[:1], options={"zipmap": False}), X)
    X64 = X.astype(np.float64)
    _, proba = run(to_onnx(clf, X64[:1], options={"zipmap": False}), X64)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba, clf.predict_proba(X64), atol=1e-10)


def test_pipeline_with_string_labels_and_zipmap(data):
    X, y = data
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    pipe = make_pipeline(StandardScaler(), QwertyClassifier(**FAST)).fit(X, labels)
    label, maps = run(to_onnx(pipe, X[:1]), X)
    np.testing.assert_array_equal(label, pipe.predict(X))
    proba = np.array([[row[c] for c in pipe.classes_] for row in maps])
    np.testing.assert_allclose(proba, pipe.predict_proba(X), atol=1e-5)


def test_column_transformer_on_a_data_frame(data):
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    pipe = make_pipeline(
        ColumnTransformer(
            [("std", StandardScaler(), ["a", "b"]), ("mm", MinMaxScaler(), ["c", "d"])]
        ),
        QwertyClassifier(**FAST),
    ).fit(frame, y + 10)
    onx = to_onnx(pipe, frame[:1], options={"zipmap": False})
    inputs = {c: frame[[c]].to_numpy() for c in frame.columns}
    assert_same(pipe, onx, X, **inputs)


def test_binary_problem(data):
    X, y = data
    clf = QwertyClassifier(**FAST).fit(X, y == 0)
    onx = to_onnx(clf, X[:1], options={"zipmap": False})
    label, proba = run(onx, X)
    assert proba.shape == (len(X), 2)
    assert label.dtype == np.bool_
    np.testing.assert_array_equal(label, clf.predict(X))


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0.5, 1.5, 2.5]) * 2,  # float64
        np.array([-1.0, 0.0, 7.0], dtype=np.float32),
        np.array([-(2**40), 3_000_000_000, 2**62]),  # int64 beyond int32
        np.array([0, 200, 255], dtype=np.uint8),
        np.array([2**63, 2**63 + 1, 2**64 - 1], dtype=np.uint64),
        np.array([False, True, True]),  # two classes
    ],
    ids=lambda labels: str(labels.dtype),
)
def test_labels_keep_the_dtype_and_values_of_classes(labels, data):
    X, y = data
    clf = QwertyClassifier(**FAST).fit(X, labels[y])
    label, _ = run(to_onnx(clf, X[:1], options={"zipmap": False}), X)
    assert label.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(label, clf.predict(X))


def test_zipmap_labels_are_int64_as_zipmap_keys_are(data):
    X, y = data
    for labels in (np.array([0.0, 2.0, 4.0]), np.array([3_000_000_000, 1, 2])):
        clf = QwertyClassifier(**FAST).fit(X, labels[y])
        label, maps = run(to_onnx(clf, X[:1]), X)
        assert label.dtype == np.int64
        np.testing.assert_array_equal(label, clf.predict(X))
        assert sorted(maps[0]) == sorted(int(c) for c in clf.classes_)
    clf = QwertyClassifier(**FAST).fit(X, y == 0)
    label, _ = run(to_onnx(clf, X[:1]), X)
    np.testing.assert_array_equal(label, clf.predict(X).astype(np.int64))


def test_labels_beyond_int64_with_zipmap_are_a_clear_error(data):
    X, y = data
    labels = np.array([2**63, 2**63 + 1, 2**63 + 2], dtype=np.uint64)
    clf = QwertyClassifier(**FAST).fit(X, labels[y])
    with pytest.raises(ValueError, match="zipmap"):
        to_onnx(clf, X[:1])


@pytest.mark.parametrize("zipmap", [False, True])
def test_nocl_gives_class_indices(zipmap, data):
    X, y = data
    labels = np.array(["b", "c", "a"])
    clf = QwertyClassifier(**FAST).fit(X, labels[y])
    onx = to_onnx(clf, X[:1], options={"zipmap": zipmap, "nocl": True})
    label, _ = run(onx, X)
    assert label.dtype == np.int64
    np.testing.assert_array_equal(clf.classes_[label], clf.predict(X))
    assert set(np.unique(label)) <= {0, 1, 2}


def test_unknown_layer_is_a_clear_error(data):
    X, y = data
    clf = QwertyClassifier(**FAST).fit(X, y)
    clf.net_.module_[1] = __import__("torch").nn.Softplus()
    with pytest.raises(NotImplementedError, match="Softplus"):
        to_onnx(clf, X[:1])


def test_export_command(data, tmp_path, capsys):
    X, y = data
    clf = QwertyClassifier(**FAST).fit(X, y)
    model = clf.save(tmp_path / "m.safetensors")
    out = tmp_path / "m.onnx"
    assert main(["export", str(model), str(out)]) == 0
    assert "Wrote" in capsys.readouterr().out
    onx = __import__("onnx").load(str(out))
    assert_same(clf, onx, X)
    assert main(["export", str(model), str(tmp_path / "m.txt")]) == 2
    assert ".onnx" in capsys.readouterr().err


def test_save_onnx(data, tmp_path):
    X, y = data
    clf = QwertyClassifier(**FAST).fit(X, y)
    path = save_onnx(clf, tmp_path / "c.onnx", zipmap=False)
    assert_same(clf, __import__("onnx").load(str(path)), X)


# --- QwertyClassifierCV, QwertyEnsembleClassifier and the input encoding -----

from qwertyclf import QwertyClassifierCV, QwertyEnsembleClassifier  # noqa: E402
from qwertyclf.onnx import to_onnx as qwerty_to_onnx  # noqa: E402


@pytest.fixture(scope="module")
def raw():
    """Float32 columns of very different scales, with missing values."""
    X, y = make_blobs(240, n_features=4, centers=3, cluster_std=2.0, random_state=0)
    X = (X * [1.0, 10.0, 100.0, 0.1]).astype(np.float32)
    X[::5, 1] = np.nan
    X[::7, 3] = np.nan
    return X, y


def assert_close(model, onx, X):
    """Probabilities within float32 rounding (rtol 1e-4), labels identical."""
    label, proba = run(onx, X)
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(label, model.predict(X))


@pytest.mark.parametrize(
    "model",
    [
        QwertyClassifierCV(n_candidates=2, max_epochs=4, cv=3, random_state=0),
        # Two candidates blended, weighted 0.2 and 0.8 (checked below).
        QwertyClassifierCV(n_candidates=4, max_epochs=4, cv=2, random_state=1),
        # An embedded and a plain candidate blended (checked below).
        QwertyClassifierCV(
            hidden_layer_sizes=[(8,)],
            lrs=[0.01],
            weight_decays=[0.0],
            n_candidates=2,
            max_epochs=30,
            cv=2,
            random_state=0,
        ),
        QwertyClassifierCV(
            n_candidates=2,
            max_epochs=4,
            cv=2,
            refit=True,
            preprocessing=None,
            random_state=0,
        ),
        # One network, weight 1 (checked below).
        QwertyClassifierCV(
            n_candidates=2,
            max_epochs=4,
            cv=2,
            refit=True,
            selection="best",
            random_state=0,
        ),
        QwertyEnsembleClassifier(n_estimators=2, random_state=0),
        QwertyEnsembleClassifier(
            QwertyClassifier(max_epochs=4, batch_norm=True, preprocessing="robust"),
            n_estimators=3,
            preprocessing=None,
            random_state=0,
        ),
    ],
    ids=[
        "cv",
        "cv-blend",
        "cv-blend-plain-and-embedded",
        "cv-refit-unscaled",
        "cv-one-network",
        "ensemble",
        "ensemble-scaled-members",
    ],
)
def test_cv_and_ensemble(model, raw, request):
    X, y = raw
    model.fit(X, y)
    if request.node.callspec.id == "cv-blend":
        np.testing.assert_allclose(model.weights_, [0.1, 0.1, 0.4, 0.4])
    if request.node.callspec.id == "cv-blend-plain-and-embedded":
        embeddings = [m.numeric_embedding for m in model.estimators_]
        assert embeddings == ["pbld", "pbld", None, None]
    if request.node.callspec.id == "cv-one-network":
        assert model.weights_.tolist() == [1.0]
    assert_close(model, qwerty_to_onnx(model), X)


def test_ensemble_member_missing_a_class(raw):
    X, y = raw
    y = y.copy()
    y[0] = 3  # a class of one row, which some bootstrap samples lack
    ensemble = QwertyEnsembleClassifier(
        QwertyClassifier(max_epochs=4), n_estimators=4, bootstrap=True, random_state=1
    ).fit(X, y)
    assert any(len(m.classes_) < 4 for m in ensemble.estimators_)
    assert_close(ensemble, qwerty_to_onnx(ensemble), X)


@pytest.mark.parametrize("preprocessing", [None, "robust"])
def test_classifier_encoding_of_missing_values(raw, preprocessing):
    X, y = raw
    clf = QwertyClassifier(preprocessing=preprocessing, **FAST).fit(X, y)
    assert clf.encoder_.indicated  # missing indicators are network inputs
    assert_close(clf, qwerty_to_onnx(clf), X)


def test_composite_in_a_pipeline_with_string_labels(data):
    X, y = data
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    pipe = make_pipeline(
        StandardScaler(), QwertyClassifierCV(n_candidates=1, max_epochs=3, cv=2)
    ).fit(X, labels)
    label, proba = run(to_onnx(pipe, X[:1], options={"zipmap": False}), X)
    np.testing.assert_array_equal(label, pipe.predict(X))
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=1e-4, atol=1e-7)


def _categorical_table():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=60),
            "c": pd.Categorical(rng.choice(["x", "y"], 60)),
        }
    )
    return frame, (frame["a"] > 0).to_numpy().astype(int)


@pytest.mark.parametrize(
    "model",
    [
        QwertyClassifier(max_epochs=2),
        QwertyClassifierCV(n_candidates=1, max_epochs=2, cv=2),
        QwertyEnsembleClassifier(QwertyClassifier(max_epochs=2), n_estimators=2),
    ],
    ids=["classifier", "cv", "ensemble"],
)
def test_categorical_columns_are_refused(model):
    from skl2onnx.common.data_types import FloatTensorType

    frame, y = _categorical_table()
    model.fit(frame, y)
    message = (
        rf"Cannot export this {type(model).__name__} to ONNX: its input encoding "
        r"one-hot encodes the categorical column\(s\) \['c'\].*one-hot encode in "
        "a Pipeline in front"
    )
    with pytest.raises(ValueError, match=message):
        qwerty_to_onnx(model)
    # The converter itself refuses too (a pipeline reaches it directly).
    with pytest.raises(ValueError, match=message):
        to_onnx(model, initial_types=[("X", FloatTensorType([None, 2]))])


def test_export_command_for_cv_and_categorical_models(raw, tmp_path, capsys):
    X, y = raw
    cv = QwertyClassifierCV(n_candidates=1, max_epochs=3, cv=2, random_state=0)
    model = cv.fit(X, y).save(tmp_path / "cv.safetensors")
    assert main(["export", str(model), str(tmp_path / "cv.onnx")]) == 0
    capsys.readouterr()
    assert_close(cv, __import__("onnx").load(str(tmp_path / "cv.onnx")), X)
    frame, labels = _categorical_table()
    categorical = QwertyEnsembleClassifier(
        QwertyClassifier(max_epochs=2), n_estimators=2
    ).fit(frame, labels)
    path = categorical.save(tmp_path / "categorical.safetensors")
    assert main(["export", str(path), str(tmp_path / "categorical.onnx")]) == 1
    assert "one-hot encode in a Pipeline in front" in capsys.readouterr().err
    assert not (tmp_path / "categorical.onnx").exists()
