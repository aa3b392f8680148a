import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from qwertyclf import QwertyClassifier, __version__, load_model
from qwertyclf.cli import build_parser, main

# Each `python -m qwertyclf` pays for importing torch, so the subprocess runs are
# started together, once per module, and the tests read their results.
FIT_ARGS = ["--epochs", "5", "--seed", "0", "--hidden", "6", "--batch-size", "8"]
DEMO_ARGS = ["--epochs", "3", "--n-per-class", "50", "--hidden", "4", "4"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def start(args, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "qwertyclf", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process):
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def training_frame(n_per_class=30, seed=0):
    rng = np.random.RandomState(seed)
    X = np.r_[rng.normal(0, 1, (n_per_class, 2)), rng.normal(2.5, 1, (n_per_class, 2))]
    return pd.DataFrame(
        {
            "height": X[:, 0],
            "weight": X[:, 1],
            "species": np.repeat(["cat", "dog"], n_per_class),
        }
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("qwertyclf: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli")
    frame = training_frame()
    frame.to_csv(path / "train.csv", index=False)
    frame.assign(colour="red").to_csv(path / "text.csv", index=False)
    (path / "not_a_model.safetensors").write_text("height,weight\n1,2\n")
    return path


@pytest.fixture(scope="module")
def runs(folder):
    first = {
        "demo": start(["demo", *DEMO_ARGS, "--out", "demo"], folder),
        "fit": start(["fit", "train.csv", "--target", "species", *FIT_ARGS], folder),
        "bad_flag": start(["demo", "--no-such-flag"], folder),
    }
    results = {"fit": finish(first.pop("fit"))}
    predict = ["predict", "model.safetensors", "train.csv", "--out", "preds.csv"]
    then = {"predict": start([*predict, "--proba"], folder)}
    results.update({name: finish(p) for name, p in {**first, **then}.items()})
    return results


# --- subprocess ---------------------------------------------------------------


def test_demo_prints_the_accuracy_table_beside_bayes(runs):
    result = runs["demo"]
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "class" in result.stdout and "Bayes" in result.stdout
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("class "))
    assert lines[header].split() == ["class", "support", "accuracy", "Bayes"]
    rows = [line.split()[0] for line in lines[header + 1 : header + 5]]
    assert rows == ["0", "1", "2", "overall"]
    # Progress goes to stderr, one line per epoch for 3 epochs when not a terminal.
    assert "epoch 3/3" in result.stderr


def test_demo_writes_the_figures_as_png(runs, folder):
    assert runs["demo"].returncode == 0
    names = {
        "diagnostics.png",
        "dataset.png",
        "training_curves.png",
        "predictions.png",
        "class_accuracy.png",
        "misclassified.png",
        "decision_regions.png",
    }
    written = {p.name for p in (folder / "demo").iterdir()}
    assert written == names | {"metrics.json"}
    for name in names:
        assert (folder / "demo" / name).read_bytes()[:8] == PNG_MAGIC


def test_demo_metrics_json(runs, folder):
    assert runs["demo"].returncode == 0
    metrics = json.loads((folder / "demo" / "metrics.json").read_text())
    assert set(metrics) >= {
        "accuracy",
        "bayes_accuracy",
        "training",
        "timings_seconds",
        "settings",
        "versions",
        "files",
    }
    for split, n in (("train", 120), ("test", 30)):
        acc = metrics["accuracy"][split]
        assert 0 <= acc["overall"] <= 1
        assert set(acc["per_class"]) == {"0", "1", "2"}
        assert all(0 <= v <= 1 for v in acc["per_class"].values())
        assert sum(acc["support"].values()) == n
    bayes = metrics["bayes_accuracy"]
    assert bayes["overall"] == pytest.approx(0.970, abs=1e-3)
    assert 0 <= bayes["std_error"] < 1e-3
    assert set(bayes["per_class"]) == {"0", "1", "2"}
    assert metrics["training"]["epochs_run"] == 3
    assert set(metrics["timings_seconds"]) >= {"fit", "predict"}
    assert all(t >= 0 for t in metrics["timings_seconds"].values())
    settings = metrics["settings"]
    assert settings["hidden_layer_sizes"] == [4, 4]
    assert (settings["epochs"], settings["n_per_class"], settings["seed"]) == (
        3,
        50,
        42,
    )
    assert (settings["lr"], settings["batch_size"], settings["activation"]) == (
        0.01,
        16,
        "relu",
    )
    assert metrics["versions"]["qwertyclf"] == __version__
    assert set(metrics["versions"]) >= {"python", "torch", "skorch", "scikit-learn"}


def test_fit_saves_a_model_and_reports_training_accuracy(runs, folder):
    result = runs["fit"]
    assert result.returncode == 0, result.stderr
    assert "Training accuracy:" in result.stdout
    assert "Model saved to model.safetensors" in result.stdout
    model = load_model(folder / "model.safetensors")
    assert model.classes_.tolist() == ["cat", "dog"]
    assert model.feature_names_in_.tolist() == ["height", "weight"]
    assert model.n_iter_ == 5


def test_predictions_match_the_estimator_fitted_in_process(runs, folder):
    result = runs["predict"]
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Wrote 60 predictions to preds.csv\n"
    written = pd.read_csv(folder / "preds.csv")
    assert list(written.columns) == ["prediction", "proba_cat", "proba_dog"]
    frame = training_frame()
    X, y = frame[["height", "weight"]], frame["species"].to_numpy()
    clf = QwertyClassifier(
        hidden_layer_sizes=(6,), max_epochs=5, batch_size=8, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(written["prediction"].to_numpy(), clf.predict(X))
    proba = written[["proba_cat", "proba_dog"]].to_numpy()
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)


def test_bad_flag_in_a_subprocess(runs):
    assert_one_line_error(runs["bad_flag"], "--no-such-flag", "qwertyclf demo --help")


# --- in process ---------------------------------------------------------------


@pytest.fixture(scope="module")
def array_model(tmp_path_factory):
    """A model fitted on a NumPy array, i.e. without feature names."""
    path = tmp_path_factory.mktemp("array") / "array.safetensors"
    frame = training_frame()
    X, y = frame[["height", "weight"]].to_numpy(), frame["species"].to_numpy()
    QwertyClassifier(max_epochs=2, random_state=0).fit(X, y).save(path)
    return path


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"qwertyclf {__version__}\n"


@pytest.mark.parametrize("command", [[], ["demo"], ["fit"], ["predict"]])
def test_help(command, capsys):
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(['qwertyclf', *command])}")


def test_parser_accepts_several_hidden_sizes():
    args = build_parser().parse_args(
        ["fit", "d.csv", "--target", "y", "--hidden", "16", "8"]
    )
    assert args.hidden == [16, 8]
    assert args.model.name == "model.safetensors"


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        ([], ["COMMAND"]),
        (["train"], ["invalid choice: 'train'"]),
        (["demo", "--epochs", "0"], ["--epochs", ">= 1"]),
        (["demo", "--hidden", "x"], ["--hidden", "'x'"]),
        (["demo", "--lr", "-1"], ["--lr"]),
        (["fit", "train.csv"], ["--target"]),
        (
            ["fit", "train.csv", "--target", "s", "--validation-fraction", "1.5"],
            ["(0, 1)"],
        ),
        (
            ["fit", "missing.csv", "--target", "species"],
            ["missing.csv", "no such file"],
        ),
        (
            ["fit", "train.csv", "--target", "kind"],
            ["'kind'", "height, weight, species"],
        ),
        (["fit", "text.csv", "--target", "species"], ["numeric", "colour"]),
        (
            ["fit", "holes.csv", "--target", "species"],
            ["missing values", "height (1 rows)"],
        ),
        (["fit", "empty.csv", "--target", "species"], ["empty.csv"]),
        (["fit", "binary.csv", "--target", "species"], ["binary.csv", "CSV"]),
        (["fit", ".", "--target", "species"], ["folder"]),
        (["fit", "train.csv", "--target", "species", "--model", "no/m.st"], ["no"]),
        (
            ["fit", "train.csv", "--target", "species", "--activation", "swish"],
            ["swish"],
        ),
        (["fit", "train.csv", "--target", "species", "--device", "tpu"], ["tpu"]),
        (["predict", "nothing.safetensors", "train.csv"], ["nothing.safetensors"]),
        (["predict", "train.csv", "train.csv"], ["not a", "model"]),
        (["predict", "model.safetensors", "short.csv"], ["weight"]),
        (["predict", "array.safetensors", "text.csv"], ["2 feature columns", "4"]),
    ],
)
def test_errors_are_one_line_with_exit_code_2(
    argv, fragments, folder, array_model, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    frame = training_frame(5)
    frame.to_csv("train.csv", index=False)
    frame.assign(colour="red").to_csv("text.csv", index=False)
    frame.assign(height=[np.nan, *frame["height"][1:]]).to_csv("holes.csv", index=False)
    frame[["height", "species"]].to_csv("short.csv", index=False)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)))
    (tmp_path / "model.safetensors").write_bytes(
        (folder / "model.safetensors").read_bytes()
    )
    (tmp_path / "array.safetensors").write_bytes(array_model.read_bytes())

    code = main([*argv, "--quiet"] if argv[:1] == ["fit"] else argv)
    captured = capsys.readouterr()
    result = subprocess.CompletedProcess(argv, code, captured.out, captured.err)
    assert_one_line_error(result, *fragments)
    assert captured.out == ""


def test_predict_prints_to_stdout_and_ignores_extra_columns(runs, folder, capsys):
    assert runs["fit"].returncode == 0
    # text.csv also has the target and a text column, which are not features.
    argv = ["predict", str(folder / "model.safetensors"), str(folder / "text.csv")]
    assert main([*argv, "--proba"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    table = pd.read_csv(io.StringIO(captured.out))
    assert list(table.columns) == ["prediction", "proba_cat", "proba_dog"]
    expected = load_model(folder / "model.safetensors").predict(
        training_frame()[["height", "weight"]]
    )
    np.testing.assert_array_equal(table["prediction"].to_numpy(), expected)


def test_predict_with_a_model_fitted_on_an_array(array_model, tmp_path, capsys):
    frame = training_frame()
    frame[["height", "weight"]].to_csv(tmp_path / "x.csv", index=False)
    out = tmp_path / "preds.csv"
    assert (
        main(["predict", str(array_model), str(tmp_path / "x.csv"), "--out", str(out)])
        == 0
    )
    assert "Wrote 60 predictions" in capsys.readouterr().out
    expected = load_model(array_model).predict(frame[["height", "weight"]].to_numpy())
    np.testing.assert_array_equal(pd.read_csv(out)["prediction"].to_numpy(), expected)


def test_fit_with_early_stopping_in_process(tmp_path, capsys):
    training_frame().to_csv(tmp_path / "train.csv", index=False)
    model = tmp_path / "es.safetensors"
    argv = [
        "fit",
        str(tmp_path / "train.csv"),
        "--target",
        "species",
        "--model",
        str(model),
    ]
    assert (
        main(
            [
                *argv,
                "--early-stopping",
                "--epochs",
                "4",
                "--validation-fraction",
                "0.25",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "Validation accuracy" in captured.out
    assert "epoch 4/4" in captured.err
    assert load_model(model).n_iter_ <= 4
