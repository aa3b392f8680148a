import io
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from qwertyclf import QwertyClassifier, QwertyClassifierCV, __version__, load_model
from qwertyclf._hyperparameters import OPTIMIZERS
from qwertyclf._module import ACTIVATIONS
from qwertyclf.cli import build_parser, main
from qwertyclf.cli._model_options import (
    FIT_OPTIONS,
    KIND_OPTIONS,
    MODEL_OPTIONS,
    model_params,
)

ROOT = Path(__file__).resolve().parents[1]

# Each command run in a subprocess pays for importing torch, so the subprocess
# runs are started together, once per module, and the tests read their results.
# They run with pandas made unimportable, as after a plain `pip install`.
WITHOUT_PANDAS = """
import sys
from importlib.machinery import PathFinder

class WithoutPandas:
    # The finder of installed packages, blind to pandas: as if not installed.
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            return None
        return PathFinder.find_spec(name, path, target)

    def __getattr__(self, name):  # find_distributions, invalidate_caches
        return getattr(PathFinder, name)

sys.meta_path = [WithoutPandas() if f is PathFinder else f for f in sys.meta_path]
from qwertyclf.cli import main

sys.exit(main(sys.argv[1:]))
"""
FIT_ARGS = ["--epochs", "5", "--seed", "0", "--hidden", "6", "--batch-size", "8"]
DEMO_ARGS = ["--epochs", "3", "--n-per-class", "50", "--hidden", "4", "4"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def start(args, cwd):
    return subprocess.Popen(
        [sys.executable, "-c", WITHOUT_PANDAS, *args],
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


def assert_one_line_error(result, *fragments, code=2):
    assert result.returncode == code
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
    training = metrics["training"]
    assert training["epochs_run"] == 3
    # No early stopping: the model evaluated is the last epoch's; the epoch of
    # the lowest validation (test split) loss is named as what it is.
    assert "best_epoch" not in training
    assert training["early_stopping"] is False
    assert training["weights_from_epoch"] == 3
    assert 1 <= training["lowest_valid_loss_epoch"] <= 3
    assert training["lowest_valid_loss"] <= training["final_valid_loss"]
    assert set(metrics["timings_seconds"]) >= {"fit", "predict"}
    assert all(t >= 0 for t in metrics["timings_seconds"].values())
    settings = metrics["settings"]
    assert settings["hidden_layer_sizes"] == [4, 4]
    assert (
        settings["max_epochs"],
        settings["n_per_class"],
        settings["random_state"],
    ) == (3, 50, 42)
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
    assert result.stdout.startswith("Wrote 60 predictions to preds.csv (")
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
    assert args.hidden_layer_sizes == [16, 8]
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
        (
            ["fit", "train.csv", "--target", "species", "--categorical", "colour"],
            ["--categorical", "colour", "height, weight"],
        ),
        (
            ["fit", "train.csv", "--target", "species", "--categorical", "species"],
            ["--categorical", "species", "the target"],
        ),
        (["fit", "train.csv", "--target", "species", "--categorical", ","], ["','"]),
        (["fit", "infinite.csv", "--target", "species"], ["infinite", "height"]),
        (
            [
                "fit",
                "pair.csv",
                "--target",
                "species",
                "--validation-fraction",
                "0.5",
            ],
            ["cannot hold out 0.5", "pair.csv", "every class has a single row"],
        ),
        (
            [
                "fit",
                "train.csv",
                "--target",
                "s",
                "--classifier",
                "cv",
                "--dropout",
                "0.1",
            ],
            ["--dropout", "--classifier cv", "no dropout"],
        ),
        (
            [
                "fit",
                "train.csv",
                "--target",
                "s",
                "--classifier",
                "cv",
                "--optimizer",
                "sgd",
            ],
            ["--optimizer", "AdamW"],
        ),
        (
            [
                "fit",
                "train.csv",
                "--target",
                "s",
                "--classifier",
                "cv",
                "--early-stopping",
            ],
            ["--early-stopping", "held-out"],
        ),
        (
            ["fit", "train.csv", "--target", "s", "--n-estimators", "3"],
            ["ensemble only"],
        ),
        (
            [
                "fit",
                "train.csv",
                "--target",
                "s",
                "--classifier",
                "ensemble",
                "--cv",
                "3",
            ],
            ["--cv", "cv only"],
        ),
        (
            ["fit", "train.csv", "--target", "s", "--classifier", "cv", "--cv", "1"],
            [">= 2"],
        ),
        (["fit", "train.csv", "--target", "s", "--classifier", "forest"], ["forest"]),
        (
            [
                "fit",
                "train.csv",
                "--target",
                "s",
                "--classifier",
                "cv",
                "--device",
                "tpu",
            ],
            ["tpu"],
        ),
        (
            [
                "fit",
                "train.csv",
                "--target",
                "s",
                "--classifier",
                "ensemble",
                "--dtype",
                "x",
            ],
            ["'x'"],
        ),
        (["fit", "empty.csv", "--target", "species"], ["empty.csv"]),
        (["fit", "one.csv", "--target", "species"], ["single class"]),
        (["fit", "train.csv", "--target", "species", "--dtype", "half"], ["half"]),
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
        (
            ["predict", "model.safetensors", "short.csv"],
            ["weight", "also has: species"],
        ),
        (
            ["predict", "model.safetensors", "text.csv"],
            ["column height", "'tall' in row 3", "trained on numbers"],
        ),
        (["predict", "array.safetensors", "text.csv"], ["2 feature columns", "has 3"]),
    ],
)
def test_errors_are_one_line_with_exit_code_2(
    argv, fragments, folder, array_model, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    frame = training_frame(5)
    frame.to_csv("train.csv", index=False)
    frame.assign(height=["1.5", "tall", *frame["height"][2:]]).to_csv(
        "text.csv", index=False
    )
    frame.assign(height=[np.inf, *frame["height"][1:]]).to_csv(
        "infinite.csv", index=False
    )
    frame[["height", "species"]].to_csv("short.csv", index=False)
    (tmp_path / "empty.csv").write_text("")
    frame.assign(species="cat").to_csv("one.csv", index=False)
    frame.iloc[[0, -1]].to_csv("pair.csv", index=False)
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


# --- demo wording, help, start-up --------------------------------------------


def test_demo_says_only_the_overall_bayes_accuracy_is_a_bound(runs):
    out = runs["demo"].stdout
    assert runs["demo"].returncode == 0, runs["demo"].stderr
    # Percentages throughout: no fraction such as "± 2.2e-07" beside them.
    assert not re.search(r"\de-\d", out)
    bayes = next(line for line in out.splitlines() if line.startswith("Bayes-optimal"))
    assert re.search(r"standard error (below )?\d+\.\d+%", bayes)
    assert "overall" in bayes
    assert "Only the overall value is an upper bound" in out
    assert "the best any classifier can do" not in out


def test_demo_timings_count_from_the_start_of_the_command(runs):
    result = runs["demo"]
    assert "since the command started" in result.stdout
    progress = [line for line in result.stderr.splitlines() if "epoch" in line]
    assert progress
    assert all(line.endswith("s since start)") for line in progress)


def test_demo_training_metrics_say_which_epoch_the_model_is():
    from qwertyclf.cli._demo import _training
    from qwertyclf.datasets import make_qwerty

    X, y = make_qwerty(30, random_state=0)
    X_valid, y_valid = make_qwerty(30, random_state=1)
    # Large steps on little data: the validation loss is lowest early on.
    clf = QwertyClassifier(hidden_layer_sizes=(32,), lr=0.1, max_epochs=40)
    clf.set_params(random_state=0).fit(X, y, validation_data=(X_valid, y_valid))
    valid = [row["valid_loss"] for row in clf.history_]
    lowest = int(np.argmin(valid)) + 1
    assert lowest < 40
    training = _training(clf)
    assert training["epochs_run"] == training["weights_from_epoch"] == 40
    assert training["lowest_valid_loss_epoch"] == lowest
    assert training["lowest_valid_loss"] == min(valid)
    assert training["final_valid_loss"] == valid[-1]

    stopped = clf.set_params(early_stopping=True, n_iter_no_change=3)
    training = _training(stopped.fit(X, y, validation_data=(X_valid, y_valid)))
    assert training["early_stopping"] is True
    assert training["weights_from_epoch"] == stopped.best_epoch_ < stopped.n_iter_
    assert training["lowest_valid_loss_epoch"] == stopped.best_epoch_

    # Without validation data there is no validation loss to report.
    training = _training(QwertyClassifier(max_epochs=2).fit(X, y))
    assert "lowest_valid_loss_epoch" not in training
    assert training["final_valid_loss"] is None


def test_demo_help_does_not_ask_for_a_csv_file(capsys):
    assert main(["demo", "--help"]) == 0
    assert "DATA.csv" not in capsys.readouterr().out
    assert main(["fit", "--help"]) == 0
    assert "give DATA.csv before it" in capsys.readouterr().out


def test_gitignore_lists_the_demo_folder():
    lines = (ROOT / ".gitignore").read_text().splitlines()
    assert "qwertyclf-demo/" in lines


def test_help_and_argument_errors_import_no_heavy_library():
    code = (
        "import sys\n"
        "from qwertyclf.cli import main\n"
        "codes = [main(['--help']), main(['demo', '--help']), "
        "main(['fit', '--help']), main(['demo', '--epochs', '0']), "
        "main(['fit', 'x.csv', '--target', 'y', '--activation', 'swish'])]\n"
        "heavy = ['torch', 'sklearn', 'skorch', 'numpy', 'pandas', 'matplotlib']\n"
        "print(codes, [m for m in heavy if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "[0, 0, 0, 2, 2] []"


def _command_parser(name):
    commands = next(
        a for a in build_parser()._actions if isinstance(a, type(a)) and a.choices
    )
    return commands.choices[name]


def test_model_options_come_from_the_estimator(capsys):
    params = QwertyClassifier().get_params()
    for command, options, extra in (
        ("demo", MODEL_OPTIONS, []),
        ("fit", MODEL_OPTIONS + FIT_OPTIONS, ["d.csv", "--target", "y"]),
    ):
        args = build_parser().parse_args([command, *extra])
        # fit leaves unset what is not given; the network gets the defaults.
        values = model_params(args, options)
        for option in options:
            value = values[option.param]
            expected = params[option.param]
            if option.param == "random_state":
                expected = 42  # the command line is reproducible by default
            if isinstance(expected, tuple):
                value = tuple(value)
            assert value == expected, option.param
    actions = {a.dest: a for a in _command_parser("fit")._actions}
    assert set(actions["activation"].choices) == set(ACTIVATIONS)
    assert set(actions["optimizer"].choices) == set(OPTIMIZERS)
    assert set(actions["dtype"].choices) == {"float32", "float64"}
    # The help is the estimator's docstring.
    doc = " ".join(QwertyClassifier.__doc__.split())
    for param in ("lr", "batch_size", "max_epochs", "n_iter_no_change"):
        assert " ".join(actions[param].help.split()).split(" (default")[0] in doc


# --- exit codes ----------------------------------------------------------------


@pytest.fixture
def train_csv(tmp_path):
    path = tmp_path / "train.csv"
    training_frame().to_csv(path, index=False)
    return path


def fit_argv(train_csv):
    model = train_csv.parent / "m.safetensors"
    return ["fit", str(train_csv), "--target", "species", "--model", str(model), "-q"]


def test_divergence_is_a_failure_while_running(train_csv, capsys):
    # Features of order 1e6 and a huge step: the loss overflows.
    frame = training_frame()
    frame[["height", "weight"]] *= 1e6
    frame.to_csv(train_csv, index=False)
    code = main([*fit_argv(train_csv), "--lr", "1e6", "--epochs", "3"])
    captured = capsys.readouterr()
    result = subprocess.CompletedProcess([], code, captured.out, captured.err)
    assert_one_line_error(result, "diverged", code=1)


def test_failing_to_write_the_model_is_a_failure_while_running(
    train_csv, monkeypatch, capsys
):
    def disk_full(self, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(QwertyClassifier, "save", disk_full)
    code = main([*fit_argv(train_csv), "--epochs", "1"])
    captured = capsys.readouterr()
    result = subprocess.CompletedProcess([], code, "", captured.err)
    assert_one_line_error(result, "m.safetensors", "No space left", code=1)


def test_a_library_bug_keeps_its_traceback(train_csv, monkeypatch):
    def broken(self, *args, **kwargs):
        raise KeyError("bug")

    monkeypatch.setattr(QwertyClassifier, "fit", broken)
    with pytest.raises(KeyError, match="bug"):
        main(fit_argv(train_csv))


# --- CSV without pandas ---------------------------------------------------------


def test_numeric_labels_stay_numbers(tmp_path, capsys):
    frame = training_frame().assign(species=np.repeat([3, 7], 30))
    frame.to_csv(tmp_path / "t.csv", index=False)
    model = tmp_path / "m.safetensors"
    argv = ["fit", str(tmp_path / "t.csv"), "--target", "species", "--model"]
    assert main([*argv, str(model), "--epochs", "1", "-q"]) == 0
    assert load_model(model).classes_.tolist() == [3, 7]
    capsys.readouterr()
    assert main(["predict", str(model), str(tmp_path / "t.csv"), "--proba"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(table.columns) == ["prediction", "proba_3", "proba_7"]
    assert set(table["prediction"]) <= {3, 7}


def test_csv_quirks(tmp_path, capsys):
    # A byte-order mark, quoted fields, blank lines and "NA" for a missing label.
    text = '\ufeff"a","b",y\n1,"2.5",u\n\n3,4,v\n5,6,NA\n'
    (tmp_path / "q.csv").write_text(text, encoding="utf-8")
    argv = ["fit", str(tmp_path / "q.csv"), "--target", "y", "-q"]
    assert main(argv) == 2
    assert "1 missing values" in capsys.readouterr().err
    (tmp_path / "r.csv").write_text("a,b,y\n1,2,u\n3,4\n", encoding="utf-8")
    assert main(["fit", str(tmp_path / "r.csv"), "--target", "y", "-q"]) == 2
    assert "row 3 has 2 fields but the header has 3" in capsys.readouterr().err


# --- tables with text columns and empty cells ---------------------------------


def penguin_frame(n_per_class=20, seed=0):
    """A penguins-like table: text columns, a column of codes, empty cells."""
    rng = np.random.RandomState(seed)
    species = np.repeat(["Adelie", "Chinstrap", "Gentoo"], n_per_class)
    n = len(species)
    home = {"Adelie": "Torgersen", "Chinstrap": "Dream", "Gentoo": "Biscoe"}
    island = np.array([home[s] for s in species], dtype=object)
    island[rng.uniform(size=n) < 0.3] = "Dream"
    bill = np.select(
        [species == "Adelie", species == "Chinstrap"], [39.0, 49.0], 47.0
    ) + rng.normal(0, 2, n)
    mass = np.where(species == "Gentoo", 5000.0, 3700.0) + rng.normal(0, 300, n)
    sex = rng.choice(["male", "female"], n).astype(object)
    sex[rng.uniform(size=n) < 0.15] = None
    bill[rng.uniform(size=n) < 0.1] = np.nan
    mass[rng.uniform(size=n) < 0.1] = np.nan
    zone = rng.choice(["01", "02", "10"], n)
    return pd.DataFrame(
        {
            "island": island,
            "bill_length_mm": bill.round(1),
            "body_mass_g": mass.round(0),
            "sex": sex,
            "zone": zone,
            "species": species,
        }
    )


def read_back(path, **kwargs):
    """The file as pandas reads it: strings as objects, empty cells missing."""
    return pd.read_csv(path, **kwargs)


@pytest.fixture
def penguins_csv(tmp_path):
    path = tmp_path / "penguins.csv"
    penguin_frame().to_csv(path, index=False)
    text = path.read_text()
    assert ",," in text  # the file has empty cells
    return path


NET_ARGS = ["--epochs", "3", "--hidden", "6", "--batch-size", "8", "-q"]


def test_fit_and_predict_a_table_with_text_and_empty_cells(
    penguins_csv, tmp_path, capsys
):
    model = tmp_path / "p.safetensors"
    argv = ["fit", str(penguins_csv), "--target", "species", "--model", str(model)]
    assert main([*argv, *NET_ARGS]) == 0
    out = capsys.readouterr().out
    assert "5 features (2 categorical)" in out
    fitted = load_model(model)
    assert fitted.feature_names_in_.tolist() == [
        "island",
        "bill_length_mm",
        "body_mass_g",
        "sex",
        "zone",
    ]
    # island and sex are categories; zone's codes look numeric, so it is not.
    assert list(fitted.encoder_.text) == [True, False, False, True, False]
    assert fitted.encoder_.categories[1].tolist() == ["female", "male"]
    assert fitted.encoder_.missing_slot == (False, True)  # sex had empty cells

    # The same network fitted in Python on the table pandas reads.
    frame = read_back(penguins_csv)
    X, y = frame.drop(columns="species"), frame["species"].to_numpy()
    clf = QwertyClassifier(
        hidden_layer_sizes=(6,), max_epochs=3, batch_size=8, random_state=42
    ).fit(X, y)
    np.testing.assert_array_equal(fitted.predict_proba(X), clf.predict_proba(X))

    # Predict on new rows: other columns order, no target, empty cells.
    new = frame.drop(columns="species").iloc[::-1][
        ["sex", "zone", "body_mass_g", "island", "bill_length_mm"]
    ]
    new.to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(model), str(tmp_path / "new.csv"), "--proba"]) == 0
    written = pd.read_csv(io.StringIO(capsys.readouterr().out))
    np.testing.assert_array_equal(written["prediction"], clf.predict(new[X.columns]))
    np.testing.assert_allclose(
        written.filter(like="proba_").to_numpy(),
        clf.predict_proba(new[X.columns]),
        rtol=1e-6,
    )


def test_categorical_reads_codes_as_text_at_fit_and_at_predict(
    penguins_csv, tmp_path, capsys
):
    model = tmp_path / "p.safetensors"
    argv = ["fit", str(penguins_csv), "--target", "species", "--model", str(model)]
    assert main([*argv, *NET_ARGS, "--categorical", "zone"]) == 0
    assert "5 features (3 categorical)" in capsys.readouterr().out
    fitted = load_model(model)
    assert list(fitted.encoder_.text) == [True, False, False, True, True]
    # "01" stays "01": read as text, not as the number 1.
    assert fitted.encoder_.categories[2].tolist() == ["01", "02", "10"]
    frame = read_back(penguins_csv, dtype={"zone": str})
    X, y = frame.drop(columns="species"), frame["species"].to_numpy()
    clf = QwertyClassifier(
        hidden_layer_sizes=(6,), max_epochs=3, batch_size=8, random_state=42
    ).fit(X, y)
    np.testing.assert_array_equal(fitted.predict_proba(X), clf.predict_proba(X))
    # At predict time the model says zone is text, so "01" is read as "01".
    assert main(["predict", str(model), str(penguins_csv), "--proba"]) == 0
    written = pd.read_csv(io.StringIO(capsys.readouterr().out))
    np.testing.assert_allclose(
        written.filter(like="proba_").to_numpy(), clf.predict_proba(X), rtol=1e-6
    )
    # Comma-separated and repeated forms name the same columns.
    args = build_parser().parse_args(
        ["fit", "d.csv", "--target", "y", "--categorical", "a, b", "--categorical", "c"]
    )
    assert args.categorical == ["a", "b", "c"]


def _tables(out):
    """The per-class tables of fit's summary: {title: {class: support}}."""
    tables, title = {}, None
    for line in out.splitlines():
        if line.endswith(":") and "per class" in line:
            title = line.split(" accuracy")[0]
            tables[title] = {}
        elif title and line and not line.startswith("class"):
            name, support, _ = line.split()
            tables[title][name] = int(support)
        elif not line:
            title = None
    return tables


def test_held_out_rows_beside_a_class_of_one_row(tmp_path, capsys):
    # No stratified split exists; the one "bird" stays in training and the
    # held-out rows come from the other classes, as validation_fraction does.
    frame = training_frame(10)
    frame.loc[0, "species"] = "bird"
    frame.to_csv(tmp_path / "rare.csv", index=False)
    argv = ["fit", str(tmp_path / "rare.csv"), "--target", "species"]
    model = ["--model", str(tmp_path / "m.safetensors")]
    assert main([*argv, *model, *NET_ARGS, "--validation-fraction", "0.2"]) == 0
    tables = _tables(capsys.readouterr().out)
    assert tables["Training"]["overall"] == 16
    assert tables["Training"]["bird"] == 1
    assert tables["Validation"]["bird"] == 0


def test_summary_counts_held_out_rows_apart_from_training_rows(
    train_csv, tmp_path, capsys
):
    # 30 rows of each class, numbers only.
    argv = ["fit", str(train_csv), "--target", "species"]
    model = ["--model", str(tmp_path / "m.safetensors")]
    assert main([*argv, *model, *NET_ARGS, "--validation-fraction", "0.25"]) == 0
    out = capsys.readouterr().out
    tables = _tables(out)
    assert tables["Training"]["overall"] == 45
    assert tables["Validation"]["overall"] == 15
    for label in ("cat", "dog"):
        assert tables["Training"][label] + tables["Validation"][label] == 30
        assert tables["Validation"][label] in (7, 8)  # stratified
    assert "on 45 rows (15 more held out)" in out
    assert "Validation accuracy: " in out and "(15 held-out rows)" in out
    # Early stopping holds out the 10% QwertyClassifier would.
    assert main([*argv, *model, *NET_ARGS, "--early-stopping"]) == 0
    tables = _tables(capsys.readouterr().out)
    assert (tables["Training"]["overall"], tables["Validation"]["overall"]) == (54, 6)
    # Without a hold-out every row is a training row.
    assert main([*argv, *model, *NET_ARGS]) == 0
    tables = _tables(capsys.readouterr().out)
    assert list(tables) == ["Training"] and tables["Training"]["overall"] == 60


def test_early_stopping_holds_out_what_the_classifier_would():
    from qwertyclf.cli._tabular import EARLY_STOPPING_FRACTION
    from qwertyclf.training import validation_fraction

    assert validation_fraction(None, True) == EARLY_STOPPING_FRACTION


@pytest.fixture
def saved(monkeypatch):
    """What fit hands to `save_model` (which may not write cv/ensemble yet)."""
    import qwertyclf

    models = []

    def save_model(estimator, path):
        models.append(estimator)
        return Path(path)

    monkeypatch.setattr(qwertyclf, "save_model", save_model)
    return models


def test_fit_cv_matches_the_classifier_fitted_in_python(penguins_csv, saved, capsys):
    argv = ["fit", str(penguins_csv), "--target", "species", "--classifier", "cv"]
    tiny = ["--n-candidates", "2", "--cv", "2", "--epochs", "3", "--lr", "0.01"]
    assert main([*argv, *tiny]) == 0
    captured = capsys.readouterr()
    assert "training QwertyClassifierCV (up to 2 candidates x 2 folds" in captured.err
    assert "Trained QwertyClassifierCV on 60 rows" in captured.out
    assert "Best of 2 candidates:" in captured.out
    assert "Cross-validated accuracy:" in captured.out
    (clf,) = saved
    blended = len({(m.hidden_layer_sizes, m.weight_decay) for m in clf.estimators_})
    assert ("Prediction blends 2 candidates" in captured.out) == (blended == 2)
    params = clf.get_params()
    assert (params["n_candidates"], params["cv"], params["max_epochs"]) == (2, 2, 3)
    assert params["lrs"] == [0.01] and params["random_state"] == 42
    assert params["categorical_features"] == [0, 3]
    frame = read_back(penguins_csv)
    X, y = frame.drop(columns="species"), frame["species"].to_numpy()
    reference = QwertyClassifierCV(
        n_candidates=2, cv=2, max_epochs=3, lrs=[0.01], random_state=42
    ).fit(X, y)
    assert clf.best_params_ == reference.best_params_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fitted without names
        np.testing.assert_allclose(
            clf.predict_proba(X.to_numpy(dtype=object)),
            reference.predict_proba(X),
            rtol=1e-6,
        )


def test_fit_ensemble_maps_the_network_options_onto_its_members(
    penguins_csv, saved, capsys
):
    argv = ["fit", str(penguins_csv), "--target", "species"]
    tiny = ["--classifier", "ensemble", "--n-estimators", "2", "--epochs", "3", "-q"]
    assert main([*argv, *tiny, "--validation-fraction", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "Trained QwertyEnsembleClassifier on 45 rows (15 more held out)" in out
    assert "Members' own validation accuracy:" in out
    (clf,) = saved
    assert clf.n_estimators == 2 and clf.random_state == 42
    member = clf.estimator.get_params()
    # Given: the epochs; the rest is the ensemble's own member.
    assert member["max_epochs"] == 3
    assert (member["hidden_layer_sizes"], member["optimizer"]) == ((64, 64), "adamw")
    assert member["early_stopping"] is True
    # Nothing given: the ensemble keeps its own member (None).
    saved.clear()
    assert main([*argv, "--classifier", "ensemble", "--n-estimators", "2", "-q"]) == 0
    capsys.readouterr()
    assert saved[0].estimator is None


def test_fit_ensemble_matches_the_classifier_fitted_in_python(
    penguins_csv, saved, capsys
):
    argv = ["fit", str(penguins_csv), "--target", "species", "--classifier"]
    assert main([*argv, "ensemble", "--n-estimators", "2", "--hidden", "8", "-q"]) == 0
    capsys.readouterr()
    (clf,) = saved
    from qwertyclf import QwertyEnsembleClassifier
    from qwertyclf._ensemble import DEFAULT_MEMBER

    frame = read_back(penguins_csv)
    X, y = frame.drop(columns="species"), frame["species"].to_numpy()
    member = clone(DEFAULT_MEMBER).set_params(hidden_layer_sizes=(8,))
    reference = QwertyEnsembleClassifier(member, n_estimators=2, random_state=42)
    reference.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fitted without names
        np.testing.assert_allclose(
            clf.predict_proba(X.to_numpy(dtype=object)),
            reference.predict_proba(X),
            rtol=1e-6,
        )


def test_kind_options_show_the_classifiers_own_defaults():
    from qwertyclf import QwertyEnsembleClassifier

    defaults = {
        **QwertyClassifierCV().get_params(),
        **QwertyEnsembleClassifier().get_params(),
    }
    for option in KIND_OPTIONS:
        assert f"(default: {defaults[option.param]})" in option.help, option.param
    args = build_parser().parse_args(["fit", "d.csv", "--target", "y"])
    assert args.classifier == "net"
    assert all(getattr(args, o.param) is None for o in KIND_OPTIONS)


# Saving needs `save_model` to write QwertyClassifierCV and
# QwertyEnsembleClassifier.
@pytest.mark.parametrize(
    ("kind", "tiny"),
    [
        ("cv", ["--n-candidates", "1", "--cv", "2", "--epochs", "3"]),
        ("ensemble", ["--n-estimators", "2", "--epochs", "3"]),
    ],
)
def test_cv_and_ensemble_models_are_saved_and_predict(
    kind, tiny, penguins_csv, tmp_path, capsys
):
    model = tmp_path / f"{kind}.safetensors"
    argv = ["fit", str(penguins_csv), "--target", "species", "--model", str(model)]
    assert main([*argv, "--classifier", kind, *tiny, "--categorical", "zone"]) == 0
    assert f"Model saved to {model}" in capsys.readouterr().out
    fitted = load_model(model)
    assert (
        type(fitted).__name__
        == {
            "cv": "QwertyClassifierCV",
            "ensemble": "QwertyEnsembleClassifier",
        }[kind]
    )
    assert fitted.feature_names_in_.tolist() == [
        "island",
        "bill_length_mm",
        "body_mass_g",
        "sex",
        "zone",
    ]
    assert fitted.encoder_.categories[2].tolist() == ["01", "02", "10"]
    frame = read_back(penguins_csv, dtype={"zone": str}).drop(columns="species")
    assert main(["predict", str(model), str(penguins_csv), "--proba"]) == 0
    written = pd.read_csv(io.StringIO(capsys.readouterr().out))
    np.testing.assert_allclose(
        written.filter(like="proba_").to_numpy(),
        fitted.predict_proba(frame),
        rtol=1e-6,
    )
