"""`qwertyclf demo`: the qwerty example end to end, with its figures."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import atomic_write
from ._args import (
    CommandLineError,
    failures_while_running,
    positive_int,
    seconds_since_start,
)
from ._model_options import MODEL_OPTIONS, add_model_options, make_classifier

if TYPE_CHECKING:
    import numpy as np

    from qwertyclf._classifier import QwertyClassifier
    from qwertyclf.metrics import PerClassAccuracy

TEST_SIZE = 0.2


def add_command(commands: Any) -> None:
    """Add the `demo` command to the parser's sub-commands."""
    parser = commands.add_parser(
        "demo",
        help="train on the built-in qwerty data and write diagnostic figures",
        description=(
            "Train QwertyClassifier on the built-in qwerty data (three Gaussian "
            "classes in 2-D): draw the data, split it 80/20, train with the test "
            "set as validation data, print the accuracy per class next to the "
            "Bayes-optimal accuracy, and write the diagnostic figures (PNG) and "
            "metrics.json into --out."
        ),
    )
    parser.add_argument(
        "--n-per-class",
        type=positive_int,
        default=300,
        metavar="N",
        help="samples per class (default: 300)",
    )
    add_model_options(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("qwertyclf-demo"),
        metavar="DIR",
        help="folder for the figures and metrics.json (default: qwertyclf-demo)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress output while training"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise CommandLineError(f"--out {out} exists and is not a folder.")
    clf = make_classifier(args)

    import matplotlib

    # Before pyplot is imported anywhere: no display needed.
    matplotlib.use("Agg")
    from sklearn.model_selection import train_test_split

    from qwertyclf.datasets import make_qwerty

    out.mkdir(parents=True, exist_ok=True)
    data = make_qwerty(
        args.n_per_class, random_state=args.random_state, return_X_y=False
    )
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=TEST_SIZE, random_state=args.random_state
    )
    start = time.perf_counter()
    with failures_while_running():
        clf.fit(X_train, y_train, validation_data=(X_test, y_test))
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    y_pred = clf.predict(X_test)
    predict_seconds = time.perf_counter() - start

    accuracy = {
        "train": _accuracy(y_train, clf.predict(X_train), data.target),
        "test": _accuracy(y_test, y_pred, data.target),
    }
    print_report(clf, accuracy, data.bayes_accuracy, fit_seconds)

    start = time.perf_counter()
    figures = _save_figures(
        clf, data, (X_train, y_train), (X_test, y_test, y_pred), out
    )
    figure_seconds = time.perf_counter() - start
    timings = {
        "fit": fit_seconds,
        "predict": predict_seconds,
        "figures": figure_seconds,
        "total_since_start": seconds_since_start(),
    }
    metrics = _metrics(args, clf, accuracy, data.bayes_accuracy, timings)
    metrics["files"] = [*figures, "metrics.json"]
    _write_json(metrics, out / "metrics.json")
    print(
        f"\nWrote {len(figures)} figures and metrics.json to {out}/ "
        f"({timings['total_since_start']:.1f} s since the command started)."
    )
    return 0


def _accuracy(y_true: Any, y_pred: Any, classes: Any) -> PerClassAccuracy:
    """Per-class accuracy over all the dataset's classes, in label order."""
    import numpy as np

    from qwertyclf.metrics import per_class_accuracy

    return per_class_accuracy(y_true, y_pred, labels=np.unique(classes))


def format_std_error(std_error: float) -> str:
    """A standard error in percentage points, like the accuracies beside it.

    Examples
    --------
    >>> format_std_error(0.0123)
    '1.23%'
    >>> format_std_error(2.2e-07)
    'below 0.01%'
    """
    return f"{std_error:.2%}" if std_error >= 5e-5 else "below 0.01%"


def print_report(
    clf: QwertyClassifier,
    accuracy: dict[str, PerClassAccuracy],
    bayes: Any,
    fit_seconds: float,
) -> None:
    """Print the training summary and the test accuracy table beside Bayes."""
    from qwertyclf.metrics import format_accuracy_table

    print(
        f"Trained for {clf.n_iter_} epochs in {fit_seconds:.1f} s "
        f"({seconds_since_start():.1f} s since the command started, loading the "
        f"libraries included); train accuracy {accuracy['train'].overall:.1%}, "
        f"test accuracy {accuracy['test'].overall:.1%}."
    )
    print(
        f"Bayes-optimal accuracy {float(bayes):.2%} (standard error "
        f"{format_std_error(bayes.std_error)}): no classifier can do better "
        "overall on this data.\n"
    )
    print("Test accuracy per class:")
    print(format_accuracy_table(accuracy["test"], reference=bayes))
    print(
        "\nThe Bayes column is the Bayes-optimal classifier's own accuracy on each "
        "class, not a ceiling per class:\na classifier can beat it on one class by "
        "giving up more on the others. Only the overall value is an upper bound."
    )


def _save_figures(
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
            with atomic_write(out / name) as handle:
                figure.savefig(handle, dpi=100, format=Path(name).suffix[1:])
        finally:
            plt.close(figure)
    return list(draw)


def _metrics(
    args: argparse.Namespace,
    clf: QwertyClassifier,
    accuracy: dict[str, PerClassAccuracy],
    bayes: Any,
    timings: dict[str, float],
) -> dict[str, Any]:
    """The content of `metrics.json`: accuracies, Bayes, training, timings, settings.

    Accuracies and the Bayes standard error are fractions (0.97, not 97%).

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
        Seconds spent per stage, and since the command started.

    Returns
    -------
    dict
        JSON-ready; per-class values are keyed by the class label as a string.
    """
    settings = {option.param: getattr(args, option.param) for option in MODEL_OPTIONS}
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
            "per_class_is_upper_bound": False,
            "method": bayes.method,
        },
        "training": _training(clf),
        "timings_seconds": timings,
        "settings": {
            "n_per_class": args.n_per_class,
            "test_size": TEST_SIZE,
            **settings,
            "out": str(args.out),
        },
        "versions": _library_versions(),
    }


def _training(clf: QwertyClassifier) -> dict[str, Any]:
    """What the fit did: epochs, whose weights the model has, the losses.

    The demo validates on the test split without early stopping, so the model
    is the last epoch's; the epoch of the lowest validation loss is reported
    as what it is, not as the epoch of the model.
    """
    history = clf.history_
    last = history[-1]
    training: dict[str, Any] = {
        "epochs_run": int(clf.n_iter_),
        "early_stopping": bool(clf.early_stopping),
        # With early stopping the best epoch's weights are kept, else the last.
        "weights_from_epoch": int(
            clf.best_epoch_ if clf.early_stopping else clf.n_iter_
        ),
        "final_train_loss": last.get("train_loss"),
        "final_valid_loss": last.get("valid_loss"),
        "device": str(clf.device_),
    }
    if "valid_loss" in last:
        # `best_epoch_` is the epoch of the lowest validation loss here.
        training["lowest_valid_loss_epoch"] = int(clf.best_epoch_)
        training["lowest_valid_loss"] = history[clf.best_epoch_ - 1]["valid_loss"]
    return training


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
    text = json.dumps(content, indent=2, allow_nan=False) + "\n"
    with atomic_write(path) as handle:
        handle.write(text.encode("utf-8"))
