"""The `qwertyclf` command: a demo of the library, and fit / predict on CSV files.

Three subcommands, each with its own `--help`:

- `qwertyclf demo` trains `QwertyClassifier` on the lecture notebook's qwerty data,
  prints its test accuracy per class next to the Bayes-optimal accuracy, and writes
  the diagnostic figures (PNG) and `metrics.json` into a folder.
- `qwertyclf fit DATA.csv --target COLUMN` trains on your own table and saves the
  model as a `.safetensors` file, which runs no code when loaded.
- `qwertyclf predict MODEL DATA.csv` writes the predictions (and with `--proba`
  the class probabilities) as CSV.

Mistakes in the command line or its inputs (an unknown flag, a missing file, a
column that is not numeric, a file that is not a model) end with one line on
stderr, `qwertyclf: error: ...`, and exit code 2. Run it as `qwertyclf ...` or
`python -m qwertyclf ...`; from Python, `main([...])` returns the exit code.

Examples
--------
>>> from qwertyclf.cli import build_parser
>>> args = build_parser().parse_args(["demo", "--hidden", "16", "8", "--epochs", "5"])
>>> args.command, args.hidden, args.epochs, args.lr
('demo', [16, 8], 5, 0.01)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

# This module imports only the standard library; pandas, matplotlib and the
# estimator are imported inside the commands that need them.
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from qwertyclf import QwertyClassifier
    from qwertyclf.metrics import PerClassAccuracy

PROG = "qwertyclf"
EXIT_USAGE = 2

__all__ = ["CommandLineError", "build_parser", "main"]


class CommandLineError(Exception):
    """A mistake in the command line or its inputs; `main` reports it in one line.

    Examples
    --------
    >>> from qwertyclf.cli import build_parser
    >>> build_parser().parse_args(["demo", "--epochs", "0"])
    Traceback (most recent call last):
    ...
    qwertyclf.cli.CommandLineError: argument --epochs: expected an integer >= 1, ...
    """


class _ArgumentParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line and do not exit."""

    def error(self, message: str) -> NoReturn:
        """Raise `CommandLineError` instead of printing the usage and exiting."""
        raise CommandLineError(f"{message} (see '{self.prog} --help')")


def _number_type(convert, accept, expected: str):
    """An argparse `type` that parses with `convert` and checks with `accept`."""
    noun = "an integer" if convert is int else "a number"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return parse


_positive_int = _number_type(int, lambda v: v >= 1, "an integer >= 1")
_non_negative_int = _number_type(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _number_type(float, lambda v: 0 < v < float("inf"), "a number > 0")
_open_fraction = _number_type(float, lambda v: 0 < v < 1, "a number in (0, 1)")


def build_parser() -> argparse.ArgumentParser:
    """The `qwertyclf` argument parser, with its `demo`, `fit` and `predict` commands.

    Each command stores the function that runs it as `args.run`.

    Returns
    -------
    argparse.ArgumentParser
        A parser whose `error` raises `CommandLineError` rather than exiting.

    Examples
    --------
    >>> args = build_parser().parse_args(["predict", "model.safetensors", "x.csv"])
    >>> args.run.__name__, args.out, args.proba
    ('_run_predict', None, False)
    """
    from qwertyclf import __version__

    parser = _ArgumentParser(
        prog=PROG,
        description=(
            "Neural-network classification of tabular data with qwertyclf: run "
            "the demo, or fit and predict on your own CSV files."
        ),
        epilog="Run 'qwertyclf COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    _add_demo_command(commands)
    _add_fit_command(commands)
    _add_predict_command(commands)
    return parser


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """The hyperparameters of `QwertyClassifier` shared by `demo` and `fit`."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="+",
        default=[8],
        metavar="N",
        help=(
            "width of each hidden layer, e.g. '--hidden 16 8' (default: 8); it "
            "takes every number that follows, so give DATA.csv before it"
        ),
    )
    group.add_argument(
        "--activation",
        default="relu",
        metavar="NAME",
        help=(
            "hidden activation: relu, leaky_relu, relu6, tanh, sigmoid, elu, gelu, "
            "selu or silu (default: relu)"
        ),
    )
    group.add_argument(
        "--batch-norm",
        action="store_true",
        help="batch normalisation after each hidden layer",
    )
    group.add_argument(
        "--lr", type=_positive_float, default=0.01, help="learning rate (default: 0.01)"
    )
    group.add_argument(
        "--batch-size",
        type=_positive_int,
        default=16,
        metavar="N",
        help="rows per mini-batch (default: 16)",
    )
    group.add_argument(
        "--epochs",
        type=_positive_int,
        default=100,
        metavar="N",
        help="passes over the training data (default: 100)",
    )
    group.add_argument(
        "--seed",
        type=_non_negative_int,
        default=42,
        help="random seed of the data split and the training (default: 42)",
    )
    group.add_argument(
        "--device",
        default="cpu",
        help="cpu, cuda, cuda:N or auto (default: cpu)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress output while training"
    )


def _add_demo_command(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="train on the built-in qwerty data and write diagnostic figures",
        description=(
            "Run the lecture notebook end to end: draw the 3-class qwerty data, split "
            "it 80/20, train QwertyClassifier with the test set as validation data, "
            "print the accuracy per class next to the Bayes-optimal accuracy, and "
            "write the diagnostic figures (PNG) and metrics.json into --out."
        ),
    )
    parser.add_argument(
        "--n-per-class",
        type=_positive_int,
        default=300,
        metavar="N",
        help="samples per class (default: 300)",
    )
    _add_model_options(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("qwertyclf-demo"),
        metavar="DIR",
        help="folder for the figures and metrics.json (default: qwertyclf-demo)",
    )
    parser.set_defaults(run=_run_demo)


def _add_fit_command(commands: Any) -> None:
    parser = commands.add_parser(
        "fit",
        help="train on a CSV file and save the model",
        description=(
            "Train QwertyClassifier on a CSV file: the --target column holds the "
            "class labels (any values), every other column must be numeric. The "
            "model is saved as a safetensors file, which runs no code when loaded."
        ),
    )
    parser.add_argument("data", type=Path, metavar="DATA.csv", help="training data")
    parser.add_argument(
        "--target", required=True, metavar="COLUMN", help="column with the labels"
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=Path("model.safetensors"),
        metavar="OUT",
        help="where to save the model (default: model.safetensors)",
    )
    _add_model_options(parser)
    parser.add_argument(
        "--validation-fraction",
        type=_open_fraction,
        default=None,
        metavar="F",
        help="hold out this fraction of the rows to report validation accuracy",
    )
    parser.add_argument(
        "--early-stopping",
        action="store_true",
        help=(
            "stop when the validation loss stops improving and keep the best "
            "epoch (holds out 10%% of the rows unless --validation-fraction is given)"
        ),
    )
    parser.set_defaults(run=_run_fit)


def _add_predict_command(commands: Any) -> None:
    parser = commands.add_parser(
        "predict",
        help="predict the classes of the rows of a CSV file",
        description=(
            "Predict with a model saved by 'qwertyclf fit' (or QwertyClassifier.save). "
            "The CSV must have the model's feature columns; other columns, such as "
            "the target, are ignored. Writes a 'prediction' column, and with --proba "
            "one 'proba_<class>' column per class."
        ),
    )
    parser.add_argument(
        "model", type=Path, metavar="MODEL", help="a .safetensors model"
    )
    parser.add_argument("data", type=Path, metavar="DATA.csv", help="rows to predict")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="CSV file to write (default: print to stdout)",
    )
    parser.add_argument(
        "--proba", action="store_true", help="add the probability of each class"
    )
    parser.set_defaults(run=_run_predict)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `qwertyclf` command line.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments after the program name; `sys.argv[1:]` when None.

    Returns
    -------
    int
        The exit code: 0 on success, 2 for a usage or input error (reported as
        one `qwertyclf: error: ...` line on stderr).

    Examples
    --------
    >>> main(["--version"])
    qwertyclf ...
    0
    """
    try:
        args = _parse_arguments(argv)
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else 0
    except CommandLineError as exc:
        return _report_error(str(exc))
    try:
        return args.run(args)
    except CommandLineError as exc:
        return _report_error(str(exc))
    except BrokenPipeError:
        # Whoever read stdout went away (`qwertyclf predict ... | head`); not an
        # error of ours. Point stdout at /dev/null so the exit flush stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    # The library and pandas signal bad input with these.
    except (ValueError, TypeError, OSError) as exc:
        return _report_error(_describe_exception(exc))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; point unknown flags at the command's own help.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments after the program name; `sys.argv[1:]` when None.

    Returns
    -------
    argparse.Namespace
        The arguments, with `run`, the function of the chosen command.

    Raises
    ------
    CommandLineError
        For an unknown command or flag, or a bad or missing value.

    Examples
    --------
    >>> try:
    ...     _parse_arguments(["fit", "d.csv", "--target", "y", "--colour", "red"])
    ... except CommandLineError as exc:
    ...     print(exc)
    unrecognized arguments: --colour red (see 'qwertyclf fit --help')
    """
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        # argparse would report these from the top-level parser, whose help
        # does not list the command's options.
        raise CommandLineError(
            f"unrecognized arguments: {' '.join(unknown)} "
            f"(see '{PROG} {args.command} --help')"
        )
    return args


def _report_error(message: str) -> int:
    """Print `qwertyclf: error: message` on stderr; return the usage exit code."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _describe_exception(exc: BaseException) -> str:
    r"""A one-line description of an exception, for `qwertyclf: error: ...`.

    Examples
    --------
    >>> _describe_exception(FileNotFoundError(2, "No such file or directory", "x.csv"))
    'x.csv: No such file or directory'
    >>> _describe_exception(ValueError("bad\n  value"))
    'bad value'
    """
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _make_classifier(args: argparse.Namespace, **params: Any) -> QwertyClassifier:
    """A `QwertyClassifier` with the hyperparameters given on the command line.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed `demo` or `fit` arguments.
    **params
        Further `QwertyClassifier` parameters.

    Returns
    -------
    QwertyClassifier
        Unfitted; with a progress display on stderr unless `--quiet`.
    """
    from qwertyclf import QwertyClassifier

    callbacks = None if args.quiet else [("progress", _epoch_progress())]
    return QwertyClassifier(
        hidden_layer_sizes=tuple(args.hidden),
        activation=args.activation,
        batch_norm=args.batch_norm,
        lr=args.lr,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        device=args.device,
        random_state=args.seed,
        callbacks=callbacks,
        **params,
    )


def _epoch_progress(every: float = 0.1) -> Any:
    """A skorch callback that shows training progress on stderr, once per epoch.

    On a terminal it is a progress bar (tqdm) over the epochs, with the latest
    losses and accuracies beside it. Elsewhere (a log file, a pipe) it prints one
    plain line every `every` of the epochs and after the last one.

    skorch's own `ProgressBar` counts batches and needs the per-batch hooks; an
    epoch-level display keeps `QwertyClassifier`'s fast epoch loop.

    Parameters
    ----------
    every : float, default=0.1
        Fraction of the epochs between two lines when stderr is not a terminal.

    Returns
    -------
    skorch.callbacks.Callback
        A fresh callback (it holds no state until training begins).
    """
    from skorch.callbacks import Callback

    class EpochProgress(Callback):
        def __init__(self, every: float = 0.1) -> None:
            self.every = every

        def on_train_begin(self, net, X=None, y=None, **kwargs):
            # stderr is looked up here, not stored in __init__: the classifier
            # deep-copies its callbacks, and streams cannot be copied.
            stream = sys.stderr
            self.total_ = net.max_epochs
            self.step_ = max(1, round(self.total_ * self.every))
            self.start_ = time.perf_counter()
            self.done_ = 0
            self.bar_ = None
            if stream.isatty():
                from tqdm import tqdm

                self.bar_ = tqdm(
                    total=self.total_, desc="training", unit="epoch", file=stream
                )

        def on_epoch_end(self, net, **kwargs):
            self.done_ += 1
            row = net.history[-1]
            if self.bar_ is not None:
                # Short, so that the bar keeps its width in an 80-column terminal.
                self.bar_.set_postfix_str(
                    _epoch_summary(row, short=True), refresh=False
                )
                self.bar_.update(1)
            elif self.done_ % self.step_ == 0 or self.done_ == self.total_:
                self._print_line(_epoch_summary(row))

        def on_train_end(self, net, X=None, y=None, **kwargs):
            if self.bar_ is not None:
                self.bar_.close()
            elif self.done_ % self.step_ and self.done_ != self.total_:
                # Stopped early, between two lines.
                self._print_line(_epoch_summary(net.history[-1]))

        def _print_line(self, summary: str) -> None:
            elapsed = time.perf_counter() - self.start_
            width = len(str(self.total_))
            print(
                f"epoch {self.done_:>{width}}/{self.total_}  {summary}  "
                f"({elapsed:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

    return EpochProgress(every)


def _epoch_summary(row: dict[str, Any], *, short: bool = False) -> str:
    """The losses and accuracies of one epoch of a skorch history, in one line.

    With `short`, only the training loss and the last accuracy recorded
    (validation if any, else training).

    Examples
    --------
    >>> row = {"train_loss": 0.51, "train_acc": 0.8, "valid_acc": 0.9}
    >>> _epoch_summary(row)
    'loss 0.5100  acc 80.0%  valid acc 90.0%'
    >>> _epoch_summary(row, short=True)
    'loss 0.5100  valid acc 90.0%'
    """
    if short:
        keys = ["train_loss", "valid_acc" if "valid_acc" in row else "train_acc"]
    else:
        keys = ["train_loss", "train_acc", "valid_loss", "valid_acc"]
    return "  ".join(_format_stat(key, row[key]) for key in keys if key in row)


def _format_stat(key: str, value: float) -> str:
    """`train_loss` → `loss 0.1234`, `valid_acc` → `valid acc 95.0%`.

    Examples
    --------
    >>> _format_stat("valid_acc", 0.95)
    'valid acc 95.0%'
    """
    split, stat = key.split("_")
    label = "" if split == "train" else f"{split} "
    number = f"{value:.1%}" if stat == "acc" else f"{value:.4f}"
    return f"{label}{stat} {number}"


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV file with pandas; raise `CommandLineError` if that fails.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    pandas.DataFrame
        Its rows, at least one.
    """
    import pandas as pd

    _check_readable(path, "a CSV file")
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError):
        # UnicodeDecodeError is a ValueError, but says nothing about CSV.
        if not path.exists() or not os.access(path, os.R_OK):
            raise
        raise CommandLineError(f"cannot read {path} as a CSV text file.") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise CommandLineError(
            f"cannot read {path} as CSV: {_describe_exception(exc)}"
        ) from None
    if frame.empty:
        raise CommandLineError(f"{path} has no data rows.")
    return frame


def _check_features(frame: pd.DataFrame, path: Path) -> None:
    """Raise `CommandLineError` unless every column is numeric and complete.

    Parameters
    ----------
    frame : pandas.DataFrame
        The feature columns.
    path : pathlib.Path
        The file they came from, for the message.

    Examples
    --------
    >>> import pandas as pd
    >>> _check_features(pd.DataFrame({"a": [1.0], "b": ["x"]}), Path("d.csv"))
    Traceback (most recent call last):
    ...
    qwertyclf.cli.CommandLineError: feature columns must be numeric, but in d.csv ...
    """
    from pandas.api.types import is_numeric_dtype

    if frame.shape[1] == 0:
        raise CommandLineError(f"{path} has no feature columns.")
    text = [str(c) for c in frame.columns if not is_numeric_dtype(frame[c])]
    if text:
        raise CommandLineError(
            f"feature columns must be numeric, but in {path} these are not: "
            f"{', '.join(text)}."
        )
    missing = frame.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        counts = ", ".join(f"{c} ({n} rows)" for c, n in missing.items())
        raise CommandLineError(
            f"{path} has missing values in the feature columns {counts}; "
            "fill or drop them first."
        )


def _check_readable(path: Path, what: str) -> None:
    """Raise `CommandLineError` unless `path` is an existing file.

    Examples
    --------
    >>> _check_readable(Path("no-such.csv"), "a CSV file")
    Traceback (most recent call last):
    ...
    qwertyclf.cli.CommandLineError: no-such.csv: no such file.
    """
    if path.is_dir():
        raise CommandLineError(f"{path} is a folder, not {what}.")
    if not path.exists():
        raise CommandLineError(f"{path}: no such file.")


def _check_writable(path: Path) -> None:
    """Raise `CommandLineError` if `path` cannot be written (before a long fit)."""
    folder = path.parent
    if path.is_dir():
        raise CommandLineError(f"{path} is a folder; give a file name.")
    if not folder.is_dir():
        raise CommandLineError(f"cannot write {path}: folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise CommandLineError(f"cannot write {path}: folder {folder} is read-only.")


def _run_demo(args: argparse.Namespace) -> int:
    """`qwertyclf demo`: train on the qwerty data, report, and write the figures.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed `demo` arguments.

    Returns
    -------
    int
        0.
    """
    import matplotlib

    # Before pyplot is imported anywhere: no display needed.
    matplotlib.use("Agg")
    from sklearn.model_selection import train_test_split

    from qwertyclf.datasets import make_qwerty

    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise CommandLineError(f"--out {out} exists and is not a folder.")
    out.mkdir(parents=True, exist_ok=True)

    data = make_qwerty(args.n_per_class, random_state=args.seed, return_X_y=False)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, random_state=args.seed
    )
    clf = _make_classifier(args)
    start = time.perf_counter()
    clf.fit(X_train, y_train, validation_data=(X_test, y_test))
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    y_pred = clf.predict(X_test)
    predict_seconds = time.perf_counter() - start

    accuracy = {
        "train": _accuracy(y_train, clf.predict(X_train), data.target),
        "test": _accuracy(y_test, y_pred, data.target),
    }
    _print_demo_report(clf, accuracy, data.bayes_accuracy, fit_seconds)

    start = time.perf_counter()
    figures = _save_demo_figures(
        clf, data, (X_train, y_train), (X_test, y_test, y_pred), out
    )
    figure_seconds = time.perf_counter() - start
    timings = {
        "fit": fit_seconds,
        "predict": predict_seconds,
        "figures": figure_seconds,
    }
    metrics = _demo_metrics(args, clf, accuracy, data.bayes_accuracy, timings)
    metrics["files"] = [*figures, "metrics.json"]
    _write_json(metrics, out / "metrics.json")
    print(f"\nWrote {len(figures)} figures and metrics.json to {out}/")
    return 0


def _accuracy(y_true: Any, y_pred: Any, classes: Any) -> PerClassAccuracy:
    """Per-class accuracy over all the dataset's classes, in label order."""
    import numpy as np

    from qwertyclf.metrics import per_class_accuracy

    return per_class_accuracy(y_true, y_pred, labels=np.unique(classes))


def _print_demo_report(
    clf: QwertyClassifier,
    accuracy: dict[str, PerClassAccuracy],
    bayes: Any,
    fit_seconds: float,
) -> None:
    """Print the training summary and the test accuracy table beside Bayes."""
    from qwertyclf.metrics import format_accuracy_table

    print(
        f"Trained for {clf.n_iter_} epochs in {fit_seconds:.1f} s; "
        f"train accuracy {accuracy['train'].overall:.1%}, "
        f"test accuracy {accuracy['test'].overall:.1%}."
    )
    print(
        f"Bayes-optimal accuracy {float(bayes):.1%} "
        f"(± {bayes.std_error:.1e}, the best any classifier can do on this data).\n"
    )
    print("Test accuracy per class:")
    print(format_accuracy_table(accuracy["test"], reference=bayes))


def _save_demo_figures(
    clf: QwertyClassifier,
    data: Any,
    train: tuple[Any, Any],
    test: tuple[Any, Any, Any],
    out: Path,
) -> list[str]:
    """Draw the demo's figures and save each as a PNG in `out`.

    Parameters
    ----------
    clf : QwertyClassifier
        The fitted classifier.
    data : sklearn.utils.Bunch
        `make_qwerty(..., return_X_y=False)`: the whole dataset, the Bayes
        estimator and accuracy.
    train : tuple
        `(X_train, y_train)`.
    test : tuple
        `(X_test, y_test, y_pred)`, the predictions of `clf` on `X_test`.
    out : pathlib.Path
        Existing folder to write into.

    Returns
    -------
    list of str
        The file names written.
    """
    import matplotlib.pyplot as plt

    from qwertyclf.plotting import (
        ClassAccuracyDisplay,
        DatasetDisplay,
        DecisionRegionDisplay,
        MisclassificationDisplay,
        PredictionDisplay,
        TrainingCurvesDisplay,
        plot_diagnostics,
    )

    X_train, y_train = train
    X_test, y_test, y_pred = test
    bayes = data.bayes_accuracy
    # The Bayes values are per label 0..n-1; a tiny split may lack a class.
    bayes_per_class = (
        bayes.per_class if len(bayes.per_class) == len(clf.classes_) else None
    )
    draw: dict[str, Callable[[], Any]] = {
        "diagnostics.png": lambda: plot_diagnostics(
            clf,
            X_train,
            y_train,
            X_test,
            y_test,
            bayes_estimator=data.bayes_estimator,
            bayes_accuracy=bayes,
        )[0],
        "dataset.png": lambda: (
            DatasetDisplay.from_data(
                data.data, data.target, title="Qwerty dataset (3 classes)"
            ).figure_
        ),
        "training_curves.png": lambda: (
            TrainingCurvesDisplay.from_estimator(
                clf, bayes_accuracy=float(bayes)
            ).figure_
        ),
        "predictions.png": lambda: (
            PredictionDisplay.from_predictions(
                y_test, y_pred, labels=clf.classes_, title="Predicted vs. true (test)"
            ).figure_
        ),
        "class_accuracy.png": lambda: (
            ClassAccuracyDisplay.from_predictions(
                y_test,
                y_pred,
                labels=clf.classes_,
                reference=bayes_per_class,
                title="Accuracy per class (test)",
            ).figure_
        ),
        "misclassified.png": lambda: (
            MisclassificationDisplay.from_predictions(
                X_test,
                y_test,
                y_pred,
                labels=clf.classes_,
                title="Misclassified samples (test)",
            ).figure_
        ),
        "decision_regions.png": lambda: (
            DecisionRegionDisplay.from_estimator(
                clf,
                X_test,
                y_test,
                bayes_estimator=data.bayes_estimator,
                title="Decision regions (test) and the Bayes boundary",
            ).figure_
        ),
    }
    for name, make_figure in draw.items():
        figure = make_figure()
        try:
            figure.savefig(out / name, dpi=100)
        finally:
            plt.close(figure)
    return list(draw)


def _demo_metrics(
    args: argparse.Namespace,
    clf: QwertyClassifier,
    accuracy: dict[str, PerClassAccuracy],
    bayes: Any,
    timings: dict[str, float],
) -> dict[str, Any]:
    """The content of `metrics.json`: accuracies, Bayes, training, timings, settings.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed `demo` arguments (the settings).
    clf : QwertyClassifier
        The fitted classifier.
    accuracy : dict
        `{"train": PerClassAccuracy, "test": PerClassAccuracy}`.
    bayes : qwertyclf.datasets.BayesAccuracy
        The Bayes-optimal accuracy of the data's distribution.
    timings : dict of str to float
        Seconds spent per stage.

    Returns
    -------
    dict
        JSON-ready; per-class values are keyed by the class label as a string.
    """
    last = clf.history_[-1]
    return {
        "accuracy": {
            split: {
                "overall": acc.overall,
                "per_class": _per_class(acc.classes, acc.accuracy),
                "support": _per_class(acc.classes, acc.support),
            }
            for split, acc in accuracy.items()
        },
        "bayes_accuracy": {
            "overall": float(bayes),
            "std_error": bayes.std_error,
            "per_class": _per_class(accuracy["test"].classes, bayes.per_class),
            "method": bayes.method,
        },
        "training": {
            "epochs_run": int(clf.n_iter_),
            "best_epoch": int(clf.best_epoch_),
            "final_train_loss": last.get("train_loss"),
            "final_valid_loss": last.get("valid_loss"),
            "device": str(clf.device_),
        },
        "timings_seconds": timings,
        "settings": {
            "n_per_class": args.n_per_class,
            "test_size": 0.2,
            "hidden_layer_sizes": list(args.hidden),
            "activation": args.activation,
            "batch_norm": args.batch_norm,
            "lr": args.lr,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "seed": args.seed,
            "device": args.device,
            "out": str(args.out),
        },
        "versions": _library_versions(),
    }


def _per_class(classes: np.ndarray, values: Any) -> dict[str, float | int | None]:
    """`{str(label): value}`, with `nan` as None (JSON has no NaN)."""
    import math

    result: dict[str, float | int | None] = {}
    for label, value in zip(classes.tolist(), list(values), strict=False):
        value = value.item() if hasattr(value, "item") else value
        result[str(label)] = (
            None if isinstance(value, float) and math.isnan(value) else value
        )
    return result


def _library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shaped the result.

    Examples
    --------
    >>> sorted(_library_versions())[:3]
    ['matplotlib', 'numpy', 'python']
    """
    import platform
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in ("qwertyclf", "torch", "skorch", "scikit-learn", "numpy", "matplotlib"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _write_json(content: dict[str, Any], path: Path) -> None:
    """Write `content` as indented, strict JSON (no NaN) with a final newline."""
    path.write_text(json.dumps(content, indent=2, allow_nan=False) + "\n")


def _run_fit(args: argparse.Namespace) -> int:
    """`qwertyclf fit`: train on a CSV file and save the model.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed `fit` arguments.

    Returns
    -------
    int
        0.
    """
    from qwertyclf.metrics import format_accuracy_table, per_class_accuracy

    _check_writable(args.model)
    X, y = _read_training_table(args.data, args.target)
    clf = _make_classifier(
        args,
        validation_fraction=args.validation_fraction,
        early_stopping=args.early_stopping,
    )
    start = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - start
    accuracy = per_class_accuracy(y, clf.predict(X), labels=clf.classes_)
    n_rows, n_features = X.shape
    print(
        f"Trained on {n_rows} rows, {n_features} features and "
        f"{len(clf.classes_)} classes for {clf.n_iter_} epochs in {seconds:.1f} s."
    )
    print(f"Training accuracy: {accuracy.overall:.1%}")
    last = clf.history_[-1]
    if "valid_acc" in last:
        print(f"Validation accuracy (last epoch): {last['valid_acc']:.1%}")
    print(f"\nTraining accuracy per class:\n{format_accuracy_table(accuracy)}\n")
    path = clf.save(args.model)
    print(f"Model saved to {path}")
    return 0


def _read_training_table(path: Path, target: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Split a CSV file into numeric features and the `target` labels.

    Parameters
    ----------
    path : pathlib.Path
        The CSV file.
    target : str
        Name of the label column.

    Returns
    -------
    X : pandas.DataFrame
        Every other column.
    y : ndarray
        The labels.
    """
    frame = _read_csv(path)
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise CommandLineError(
            f"{path} has no column {target!r}; its columns are: {columns}."
        )
    labels = frame[target]
    if labels.isna().any():
        raise CommandLineError(
            f"the target column {target!r} of {path} has "
            f"{int(labels.isna().sum())} missing values."
        )
    X = frame.drop(columns=[target])
    _check_features(X, path)
    return X, labels.to_numpy()


def _run_predict(args: argparse.Namespace) -> int:
    """`qwertyclf predict`: predict the rows of a CSV file with a saved model.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed `predict` arguments.

    Returns
    -------
    int
        0.
    """
    from qwertyclf import load_model

    if args.out is not None:
        _check_writable(args.out)
    _check_readable(args.model, "a model file")
    clf = load_model(args.model)
    X = _model_features(clf, _read_csv(args.data), args.data)
    predictions = _prediction_table(clf, X, proba=args.proba)
    if args.out is None:
        predictions.to_csv(sys.stdout, index=False)
    else:
        predictions.to_csv(args.out, index=False)
        print(f"Wrote {len(predictions)} predictions to {args.out}")
    return 0


def _model_features(
    clf: QwertyClassifier, frame: pd.DataFrame, path: Path
) -> pd.DataFrame | np.ndarray:
    """The columns of `frame` that `clf` was trained on, in its order.

    A model trained on named columns takes those columns (others, such as the
    target, are ignored); one trained on an array takes every column, and
    their number must match.

    Parameters
    ----------
    clf : QwertyClassifier
        A fitted classifier.
    frame : pandas.DataFrame
        The rows to predict.
    path : pathlib.Path
        The file they came from, for messages.

    Returns
    -------
    pandas.DataFrame or ndarray
        The features to pass to `clf.predict`.
    """
    names = getattr(clf, "feature_names_in_", None)
    if names is None:
        if frame.shape[1] != clf.n_features_in_:
            raise CommandLineError(
                f"the model takes {clf.n_features_in_} feature columns but {path} "
                f"has {frame.shape[1]}."
            )
        _check_features(frame, path)
        return frame.to_numpy()
    names = [str(n) for n in names]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise CommandLineError(
            f"{path} lacks the model's feature columns {', '.join(missing)} "
            f"(the model was trained on: {', '.join(names)})."
        )
    X = frame[names]
    _check_features(X, path)
    return X


def _prediction_table(
    clf: QwertyClassifier, X: Any, *, proba: bool = False
) -> pd.DataFrame:
    """Predictions (and optionally class probabilities) of `clf` as a table.

    Parameters
    ----------
    clf : QwertyClassifier
        A fitted classifier.
    X : array-like
        The features.
    proba : bool, default=False
        Add a `proba_<class>` column per class.

    Returns
    -------
    pandas.DataFrame
        A `prediction` column, then the probabilities.
    """
    import pandas as pd

    if not proba:
        return pd.DataFrame({"prediction": clf.predict(X)})
    probabilities = clf.predict_proba(X)
    table = {"prediction": clf.classes_[probabilities.argmax(axis=1)]}
    for i, label in enumerate(clf.classes_.tolist()):
        table[f"proba_{label}"] = probabilities[:, i]
    return pd.DataFrame(table)
