"""`qwertyclf fit`, `predict` and `export`: models for tables in CSV files.

CSV files are read with the standard library's `csv` module and NumPy, so the
commands work after a plain `pip install qwertyclf`, without pandas.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import atomic_write
from ._args import (
    CommandFailed,
    CommandLineError,
    check_readable,
    check_writable,
    describe_exception,
    failures_while_running,
    seconds_since_start,
)
from ._model_options import (
    FIT_OPTIONS,
    MODEL_OPTIONS,
    add_model_options,
    make_classifier,
)

if TYPE_CHECKING:
    import numpy as np

# What pandas, and people, write for "no value" in a CSV cell.
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-nan"})


def add_fit_command(commands: Any) -> None:
    """Add the `fit` command to the parser's sub-commands."""
    parser = commands.add_parser(
        "fit",
        help="train on a CSV file and save the model",
        description=(
            "Train QwertyClassifier on a CSV file with a header row: the --target "
            "column holds the class labels (any values), every other column must "
            "be numeric. The model is saved as a safetensors file, which runs no "
            "code when loaded."
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
    add_model_options(
        parser,
        notes={
            "hidden_layer_sizes": (
                "Takes every number that follows, so give DATA.csv before it."
            )
        },
    )
    add_model_options(
        parser,
        FIT_OPTIONS,
        title="validation",
        notes={
            "early_stopping": (
                "Holds out 10% of the rows unless --validation-fraction is given."
            )
        },
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress output while training"
    )
    parser.set_defaults(run=run_fit)


def add_predict_command(commands: Any) -> None:
    """Add the `predict` command to the parser's sub-commands."""
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
    parser.set_defaults(run=run_predict)


def add_export_command(commands: Any) -> None:
    """Add the `export` command to the parser's sub-commands."""
    parser = commands.add_parser(
        "export",
        help="convert a saved model to ONNX",
        description=(
            "Convert a model saved by 'qwertyclf fit' (or QwertyClassifier.save) to "
            "an ONNX file that onnxruntime and other ONNX runtimes can run without "
            "Python. Its input is a float tensor 'X' of shape (rows, features); its "
            "outputs are 'label' and 'probabilities'. Needs the onnx extra: "
            "pip install 'qwertyclf[onnx]'."
        ),
    )
    parser.add_argument(
        "model", type=Path, metavar="MODEL", help="a .safetensors model"
    )
    parser.add_argument("out", type=Path, metavar="OUT.onnx", help="ONNX file to write")
    parser.add_argument(
        "--zipmap",
        action="store_true",
        help=(
            "give the probabilities as one {label: probability} map per row, "
            "as skl2onnx does by default, instead of a matrix"
        ),
    )
    parser.add_argument(
        "--opset",
        type=int,
        default=None,
        metavar="N",
        help="ONNX opset to target (default: the newest that skl2onnx supports)",
    )
    parser.set_defaults(run=run_export)


@dataclass
class Table:
    """The cells of a CSV file, as text, with its header.

    Examples
    --------
    >>> table = Table(Path("t.csv"), ["a", "b"], [["1", "x"], ["2", "y"]])
    >>> table.column("b")
    ['x', 'y']
    """

    path: Path
    columns: list[str]
    rows: list[list[str]]

    def column(self, name: str) -> list[str]:
        """The cells of one column."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def numeric(self, names: Sequence[str]) -> np.ndarray:
        """The named columns as a float64 array; one-line errors for bad cells.

        Examples
        --------
        >>> Table(Path("t.csv"), ["a", "b"], [["1", "2.5"]]).numeric(["b", "a"])
        array([[2.5, 1. ]])
        >>> Table(Path("t.csv"), ["a"], [["1"], ["x"]]).numeric(["a"])
        Traceback (most recent call last):
        ...
        qwertyclf.cli._args.CommandLineError: feature columns must be numeric, ...
        """
        import numpy as np

        if not names:
            raise CommandLineError(f"{self.path} has no feature columns.")
        index = [self.columns.index(name) for name in names]
        text = np.array([[row[i] for i in index] for row in self.rows], dtype=str)
        values = np.empty(text.shape, dtype=np.float64)
        not_numeric, missing, infinite = [], [], []
        for j, name in enumerate(names):
            cells = np.char.strip(text[:, j])
            blank = np.isin(np.char.lower(cells), list(MISSING))
            try:
                values[:, j] = np.where(blank, "nan", cells).astype(np.float64)
            except ValueError:
                not_numeric.append(name)
                continue
            holes = int(np.isnan(values[:, j]).sum())
            if holes:
                missing.append(f"{name} ({holes} rows)")
            if np.isinf(values[:, j]).any():
                infinite.append(name)
        if not_numeric:
            raise CommandLineError(
                f"feature columns must be numeric, but in {self.path} these are not: "
                f"{', '.join(not_numeric)}."
            )
        if missing:
            raise CommandLineError(
                f"{self.path} has missing values in the feature columns "
                f"{', '.join(missing)}; fill or drop them first."
            )
        if infinite:
            raise CommandLineError(
                f"{self.path} has infinite values in the feature columns "
                f"{', '.join(infinite)}."
            )
        return values


def read_table(path: Path) -> Table:
    """Read a CSV file with a header row; raise `CommandLineError` if that fails.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    Table
        Its header and rows (at least one); blank lines are skipped.
    """
    check_readable(path, "a CSV file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            lines = [row for row in csv.reader(file) if row]
    except UnicodeDecodeError:
        raise CommandLineError(f"cannot read {path} as a CSV text file.") from None
    except csv.Error as exc:
        raise CommandLineError(
            f"cannot read {path} as CSV: {describe_exception(exc)}"
        ) from None
    if not lines:
        raise CommandLineError(f"{path} is empty; expected a header row and data.")
    header, rows = [name.strip() for name in lines[0]], lines[1:]
    if not rows:
        raise CommandLineError(f"{path} has no data rows.")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise CommandLineError(
            f"{path} has more than one column named {', '.join(duplicates)}."
        )
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise CommandLineError(
                f"cannot read {path} as CSV: row {number} has {len(row)} fields "
                f"but the header has {len(header)}."
            )
    return Table(path, header, rows)


def _labels(cells: list[str]) -> np.ndarray:
    """Class labels from text: integers or numbers when they all are, else text.

    Examples
    --------
    >>> _labels(["1", "2", "1"])
    array([1, 2, 1])
    >>> _labels(["cat", "2"])
    array(['cat', '2'], dtype=object)
    """
    import numpy as np

    stripped = [cell.strip() for cell in cells]
    for dtype in (np.int64, np.float64):
        try:
            return np.array(stripped).astype(dtype)
        except (ValueError, OverflowError):
            pass
    return np.array(stripped, dtype=object)


def read_training_table(path: Path, target: str) -> tuple[np.ndarray, np.ndarray, list]:
    """Split a CSV file into numeric features and the `target` labels.

    Parameters
    ----------
    path : pathlib.Path
        The CSV file.
    target : str
        Name of the label column.

    Returns
    -------
    X : ndarray of shape (n_rows, n_features)
        Every other column, as float64.
    y : ndarray of shape (n_rows,)
        The labels.
    names : list of str
        The names of the feature columns.
    """
    table = read_table(path)
    if target not in table.columns:
        raise CommandLineError(
            f"{path} has no column {target!r}; its columns are: "
            f"{', '.join(table.columns)}."
        )
    labels = table.column(target)
    missing = sum(cell.strip().lower() in MISSING for cell in labels)
    if missing:
        raise CommandLineError(
            f"the target column {target!r} of {path} has {missing} missing values."
        )
    names = [name for name in table.columns if name != target]
    y = _labels(labels)
    if len(set(y.tolist())) < 2:
        raise CommandLineError(
            f"the target column {target!r} of {path} holds a single class, "
            f"{y[0]!r}; a classifier needs at least two."
        )
    return table.numeric(names), y, names


@contextlib.contextmanager
def _named_features() -> Iterator[None]:
    # The CLI gives the model arrays whose columns it has already matched by
    # name, so scikit-learn's warning about missing names does not apply.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="X does not have valid feature names",
            category=UserWarning,
        )
        yield


def run_fit(args: argparse.Namespace) -> int:
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
    check_writable(args.model)
    X, y, names = read_training_table(args.data, args.target)
    clf = make_classifier(args, MODEL_OPTIONS + FIT_OPTIONS)
    import numpy as np

    from qwertyclf.metrics import format_accuracy_table, per_class_accuracy

    start = time.perf_counter()
    with failures_while_running():
        clf.fit(X, y)
    seconds = time.perf_counter() - start
    # What fitting on a table with these columns records: `predict` matches
    # the columns of new files by these names.
    clf.feature_names_in_ = np.asarray(names, dtype=object)
    with _named_features():
        accuracy = per_class_accuracy(y, clf.predict(X), labels=clf.classes_)
    n_rows, n_features = X.shape
    print(
        f"Trained on {n_rows} rows, {n_features} features and "
        f"{len(clf.classes_)} classes for {clf.n_iter_} epochs in {seconds:.1f} s "
        f"({seconds_since_start():.1f} s since the command started)."
    )
    print(f"Training accuracy: {accuracy.overall:.1%}")
    last = clf.history_[-1]
    if "valid_acc" in last:
        print(f"Validation accuracy (last epoch): {last['valid_acc']:.1%}")
    print(f"\nTraining accuracy per class:\n{format_accuracy_table(accuracy)}\n")
    path = clf.save(args.model)
    print(f"Model saved to {path}")
    return 0


def load(path: Path) -> Any:
    """A fitted model from a `.safetensors` file; one-line errors if it is not one."""
    check_readable(path, "a model file")
    from qwertyclf._model_io import load_model

    try:
        return load_model(path)
    except ValueError as exc:
        raise CommandLineError(describe_exception(exc)) from None


def model_features(clf: Any, table: Table) -> np.ndarray:
    """The columns of `table` that `clf` was trained on, in its order.

    A model trained on named columns takes those columns (others, such as the
    target, are ignored); one trained on an array takes every column, and
    their number must match.

    Parameters
    ----------
    clf : QwertyClassifier
        A fitted classifier.
    table : Table
        The rows to predict.

    Returns
    -------
    ndarray of shape (n_rows, n_features_in_)
        The features to pass to `clf.predict`.
    """
    names = getattr(clf, "feature_names_in_", None)
    if names is None:
        if len(table.columns) != clf.n_features_in_:
            raise CommandLineError(
                f"the model takes {clf.n_features_in_} feature columns but "
                f"{table.path} has {len(table.columns)}."
            )
        return table.numeric(table.columns)
    names = [str(n) for n in names]
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise CommandLineError(
            f"{table.path} lacks the model's feature columns {', '.join(missing)} "
            f"(the model was trained on: {', '.join(names)})."
        )
    return table.numeric(names)


def run_predict(args: argparse.Namespace) -> int:
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
    if args.out is not None:
        check_writable(args.out)
    table = read_table(args.data)
    clf = load(args.model)
    X = model_features(clf, table)
    with failures_while_running(), _named_features():
        if args.proba:
            proba = clf.predict_proba(X)
            labels = clf.classes_[proba.argmax(axis=1)]
        else:
            proba, labels = None, clf.predict(X)
    header = ["prediction"]
    columns = [[str(label) for label in labels.tolist()]]
    if proba is not None:
        header += [f"proba_{label}" for label in clf.classes_.tolist()]
        # NumPy's shortest text that reads back as the same number.
        columns += [proba[:, i].astype(str).tolist() for i in range(proba.shape[1])]
    rows = zip(*columns, strict=True)
    if args.out is None:
        _write_csv(sys.stdout, header, rows)
    else:
        with atomic_write(args.out) as handle:
            file = io.TextIOWrapper(handle, encoding="utf-8", newline="")
            _write_csv(file, header, rows)
            file.flush()
            file.detach()  # the handle stays open for the atomic rename
        print(
            f"Wrote {len(labels)} predictions to {args.out} "
            f"({seconds_since_start():.2f} s since the command started)."
        )
    return 0


def _write_csv(file: Any, header: list[str], rows: Any) -> None:
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def run_export(args: argparse.Namespace) -> int:
    """`qwertyclf export`: write a saved model as an ONNX file.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed `export` arguments.

    Returns
    -------
    int
        0.
    """
    if args.out.suffix.lower() != ".onnx":
        raise CommandLineError(f"{args.out}: the ONNX file name must end in .onnx.")
    check_writable(args.out)
    try:
        from qwertyclf.onnx import save_onnx
    except ImportError as exc:
        raise CommandFailed(
            f"export needs {exc.name or 'skl2onnx and onnx'}, which is not "
            "installed: pip install 'qwertyclf[onnx]'."
        ) from None
    clf = load(args.model)
    with failures_while_running():
        path = save_onnx(clf, args.out, zipmap=args.zipmap, target_opset=args.opset)
    print(
        f"Wrote {path} ({path.stat().st_size / 1024:.1f} KiB; "
        f"{seconds_since_start():.1f} s since the command started)."
    )
    return 0
