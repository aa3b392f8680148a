"""`qwertyclf fit`, `predict` and `export`: models for tables in CSV files.

CSV files are read with the standard library's `csv` module and NumPy, so the
commands work after a plain `pip install qwertyclf`, without pandas. Text
columns reach the classifiers as strings in an object array, which they read
as categories, as they would a pandas string column.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import sys
import time
import warnings
from collections.abc import Collection, Iterator, Sequence
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
    add_classifier_options,
    add_model_options,
    make_estimator,
)

if TYPE_CHECKING:
    import numpy as np

# What pandas, and people, write for "no value" in a CSV cell.
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-nan"})


def _column_list(text: str) -> list[str]:
    """`--categorical a,b`: column names, separated by commas.

    Examples
    --------
    >>> _column_list("zip, code")
    ['zip', 'code']
    """
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected column names, got {text!r}")
    return names


def add_fit_command(commands: Any) -> None:
    """Add the `fit` command to the parser's sub-commands."""
    parser = commands.add_parser(
        "fit",
        help="train on a CSV file and save the model",
        description=(
            "Train a classifier on a CSV file with a header row: the --target "
            "column holds the class labels (any values), every other column is "
            "a feature. A column of numbers is numeric; a column with text is "
            "categorical (one input per category). Empty cells, and NA, NaN, "
            "null or None, are missing values, which the classifier fills in "
            "and flags. The model is saved as a safetensors file, which runs no "
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
    parser.add_argument(
        "--categorical",
        type=_column_list,
        action="extend",
        default=[],
        metavar="COL[,COL...]",
        help=(
            "columns that are categorical although they hold numbers (codes, "
            "zip codes): their values are read as text, '01' apart from '1'; "
            "may be repeated"
        ),
    )
    add_classifier_options(parser)
    add_model_options(
        parser,
        notes={
            "hidden_layer_sizes": (
                "Takes every number that follows, so give DATA.csv before it."
            )
        },
        unset=True,
    )
    add_model_options(
        parser,
        FIT_OPTIONS,
        title="validation",
        notes={
            "validation_fraction": (
                "The rows are held out before training, whichever --classifier: "
                "they are not trained on and the summary reports their accuracy "
                "per class; the net also stops early on them."
            ),
            "early_stopping": (
                "Holds out 10% of the rows unless --validation-fraction is given."
            ),
        },
        unset=True,
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

    def features(
        self,
        names: Sequence[str],
        text: Sequence[bool] | None = None,
        *,
        categorical: Collection[str] = (),
    ) -> tuple[np.ndarray, list[bool]]:
        """The named columns as the classifiers take them, and which are text.

        A numeric column's cells become floats, a text column's stay strings
        (stripped); an empty cell, or `NA`, `NaN`, `null`, ... in any case, is
        a missing value: NaN in a numeric column, None in a text one.

        Parameters
        ----------
        names : sequence of str
            The feature columns, in the model's order.
        text : sequence of bool, default=None
            Per column, whether to read it as text (what a fitted model
            says). None decides from the cells: a column is numeric when
            every cell that is not missing is a number.
        categorical : collection of str, default=()
            With `text` None, columns to read as text whatever their cells
            (codes such as "01").

        Returns
        -------
        X : ndarray of shape (n_rows, len(names))
            float64 when no column is text, else an object array holding
            floats in the numeric columns and strings (or None) in the text
            ones, which the classifiers read as categories.
        text : list of bool
            Per column, whether it was read as text.

        Examples
        --------
        >>> table = Table(Path("t.csv"), ["a", "b"], [["1", "x"], ["", "02"]])
        >>> table.features(["a", "b"])
        (array([[1.0, 'x'],
               [nan, '02']], dtype=object), [False, True])
        >>> table.features(["b"], text=[False])
        Traceback (most recent call last):
        ...
        qwertyclf.cli._args.CommandLineError: column b of t.csv holds text ('x' in...
        """
        import numpy as np

        if not names:
            raise CommandLineError(f"{self.path} has no feature columns.")
        columns, kinds, infinite = [], [], []
        for j, name in enumerate(names):
            cells = np.char.strip(np.array(self.column(name), dtype=str))
            blank = np.isin(np.char.lower(cells), list(MISSING))
            is_text = text[j] if text is not None else name in categorical
            numbers = None
            if not is_text:
                try:
                    numbers = np.where(blank, "nan", cells).astype(np.float64)
                except ValueError:
                    if text is not None:
                        message = _text_in_numbers(self, name, cells, blank)
                        raise CommandLineError(message) from None
            if numbers is None:
                values = cells.astype(object)
                values[blank] = None
                columns.append(values)
                kinds.append(True)
                continue
            if np.isinf(numbers).any():
                infinite.append(name)
            columns.append(numbers)
            kinds.append(False)
        if infinite:
            raise CommandLineError(
                f"{self.path} has infinite values in the feature columns "
                f"{', '.join(infinite)}."
            )
        if not any(kinds):
            return np.column_stack(columns), kinds
        X = np.empty((len(self.rows), len(names)), dtype=object)
        for j, values in enumerate(columns):
            X[:, j] = values
        return X, kinds


def _text_in_numbers(table: Table, name: str, cells: np.ndarray, blank) -> str:
    """The error for a column of numbers in fit that holds text now."""
    for number, (cell, missing) in enumerate(
        zip(cells.tolist(), blank, strict=True), start=2
    ):
        if missing:
            continue
        try:
            float(cell)
        except ValueError:
            return (
                f"column {name} of {table.path} holds text ({cell!r} in row "
                f"{number}) where the model was trained on numbers."
            )
    raise AssertionError("no text cell")  # pragma: no cover


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


@dataclass
class TrainingTable:
    """The features and labels of a training CSV file.

    Examples
    --------
    >>> import numpy as np
    >>> data = TrainingTable(np.zeros((2, 2)), np.array([0, 1]), ["a", "b"],
    ...                      [False, True])
    >>> data.categorical
    ['b']
    """

    X: np.ndarray
    y: np.ndarray
    names: list[str]
    text: list[bool]

    @property
    def categorical(self) -> list[str]:
        """The columns read as text: the classifier's categorical columns."""
        return [n for n, t in zip(self.names, self.text, strict=True) if t]


def read_training_table(
    path: Path, target: str, categorical: Sequence[str] = ()
) -> TrainingTable:
    """Split a CSV file into features and the `target` labels.

    Parameters
    ----------
    path : pathlib.Path
        The CSV file.
    target : str
        Name of the label column.
    categorical : sequence of str, default=()
        Columns to read as text (categories) even where they look numeric.

    Returns
    -------
    TrainingTable
        Every other column as a feature (see `Table.features`), the labels,
        and which columns are text.
    """
    table = read_table(path)
    if target not in table.columns:
        raise CommandLineError(
            f"{path} has no column {target!r}; its columns are: "
            f"{', '.join(table.columns)}."
        )
    names = [name for name in table.columns if name != target]
    unknown = [name for name in categorical if name not in names]
    if unknown:
        what = "the target" if unknown == [target] else "no such feature column"
        raise CommandLineError(
            f"--categorical names {', '.join(unknown)}: {what} in {path}; its "
            f"feature columns are: {', '.join(names)}."
        )
    labels = table.column(target)
    missing = sum(cell.strip().lower() in MISSING for cell in labels)
    if missing:
        raise CommandLineError(
            f"the target column {target!r} of {path} has {missing} missing values."
        )
    y = _labels(labels)
    if len(set(y.tolist())) < 2:
        raise CommandLineError(
            f"the target column {target!r} of {path} holds a single class, "
            f"{y[0]!r}; a classifier needs at least two."
        )
    X, text = table.features(names, categorical=set(categorical))
    return TrainingTable(X, y, names, text)


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


#: The rows `fit --early-stopping` holds out without --validation-fraction:
#: what `QwertyClassifier` holds out (its help says so).
EARLY_STOPPING_FRACTION = 0.1


def _held_out(args: argparse.Namespace) -> float | None:
    """The fraction of the rows `fit` holds out, or None."""
    if args.validation_fraction is not None:
        return args.validation_fraction
    if args.classifier == "net" and args.early_stopping:
        return EARLY_STOPPING_FRACTION
    return None


def _split(y: np.ndarray, fraction: float, seed: int, path: Path):
    """Training and held-out row positions, as `validation_fraction` holds out.

    Stratified by class where the classes allow it, never a class's only row
    (`split_validation`); in file order.
    """
    import numpy as np

    from ..training import split_validation

    classes = np.unique(y, return_inverse=True)[1]
    try:
        train, valid, _, _ = split_validation(classes, None, fraction, seed)
    except ValueError:
        raise CommandLineError(
            f"cannot hold out {fraction:g} of the rows of {path}: every class has "
            "a single row. Use more rows per class or no --validation-fraction."
        ) from None
    return np.sort(train), np.sort(valid)


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
    clf = make_estimator(args)  # checks the options before reading any data
    data = read_training_table(args.data, args.target, args.categorical)
    import numpy as np

    if any(data.text):
        clf.set_params(categorical_features=list(np.flatnonzero(data.text)))
    fraction = _held_out(args)
    train = valid = None
    X, y = data.X, data.y
    fit_params = {}
    if fraction is not None:
        seed = clf.get_params()["random_state"]
        train, valid = _split(data.y, fraction, seed, args.data)
        X, y = data.X[train], data.y[train]
        if args.classifier == "net":
            # The held-out rows are the network's validation data (early
            # stopping, `valid_loss` in its history).
            fit_params["validation_data"] = (data.X[valid], data.y[valid])
    name = type(clf).__name__
    if not args.quiet and args.classifier != "net":
        print(f"training {name} ({_size(clf)}) ...", file=sys.stderr, flush=True)
        # Each batched run's progress: epochs, networks still training, time.
        clf.set_params(verbose=1)
    start = time.perf_counter()
    with failures_while_running():
        clf.fit(X, y, **fit_params)
    seconds = time.perf_counter() - start
    if args.classifier != "net":
        # The display was the command's; the saved model fits silently.
        clf.set_params(verbose=0)
    # What fitting on a table with these columns records: `predict` matches
    # the columns of new files by these names.
    clf.feature_names_in_ = np.asarray(data.names, dtype=object)
    _summary(clf, data, train, valid, seconds)
    path = _save(clf, args.model)
    print(f"Model saved to {path}")
    return 0


def _size(clf: Any) -> str:
    """How many networks a cv or ensemble fit trains, for the progress line."""
    params = clf.get_params()
    if "n_estimators" in params:
        return f"{params['n_estimators']} networks in batched runs"
    folds = params["cv"] if isinstance(params["cv"], int) else "the"
    return f"up to {params['n_candidates']} candidates x {folds} folds in batched runs"


def _summary(
    clf: Any,
    data: TrainingTable,
    train: np.ndarray | None,
    valid: np.ndarray | None,
    seconds: float,
) -> None:
    """Print what was trained and its accuracy on the training and held-out rows."""
    from qwertyclf.metrics import format_accuracy_table, per_class_accuracy

    def accuracy(rows):
        X, y = (data.X, data.y) if rows is None else (data.X[rows], data.y[rows])
        with _named_features():
            return per_class_accuracy(y, clf.predict(X), labels=clf.classes_)

    n_train = len(data.y) if train is None else len(train)
    held = "" if valid is None else f" ({len(valid)} more held out)"
    categorical = f" ({len(data.categorical)} categorical)" if data.categorical else ""
    epochs = f" for {clf.n_iter_} epochs" if hasattr(clf, "n_iter_") else ""
    print(
        f"Trained {type(clf).__name__} on {n_train} rows{held}, "
        f"{len(data.names)} features{categorical} and {len(clf.classes_)} classes"
        f"{epochs} in {seconds:.1f} s "
        f"({seconds_since_start():.1f} s since the command started)."
    )
    for line in _own_validation(clf):
        print(line)
    tables = [("Training", accuracy(train), n_train, "training rows")]
    if valid is not None:
        tables.append(("Validation", accuracy(valid), len(valid), "held-out rows"))
    for title, result, n, rows in tables:
        print(f"{title} accuracy: {result.overall:.1%} ({n} {rows})")
    for title, result, _, rows in tables:
        print(f"\n{title} accuracy per class ({rows}):")
        print(format_accuracy_table(result))
    print()


def _own_validation(clf: Any) -> list[str]:
    """What a cv or ensemble fit measured on the rows its networks held out."""
    import numpy as np

    if not hasattr(clf, "estimators_"):
        return []
    scores = [
        m.history_[m.best_epoch_ - 1, "valid_acc"]
        for m in clf.estimators_
        if "valid_acc" in m.history_[-1]
    ]
    lines = []
    if hasattr(clf, "best_params_"):
        best = clf.best_params_
        hidden = " ".join(map(str, best["hidden_layer_sizes"]))
        lines.append(
            f"Best of {len(clf.cv_results_['params'])} candidates: hidden "
            f"{hidden}, lr {best['lr']:g}, weight decay {best['weight_decay']:g}."
        )
        blended = len(
            {(m.hidden_layer_sizes, m.lr, m.weight_decay) for m in clf.estimators_}
        )
        if blended > 1:
            lines.append(
                f"Prediction blends {blended} candidates, weighted by greedy "
                "selection on the held-out rows."
            )
        if scores and len(scores) == len(clf.estimators_):
            lines.append(
                f"Cross-validated accuracy: {np.mean(scores):.1%} (mean of the "
                f"{len(scores)} fold networks it predicts with, each on the "
                "rows it held out)"
            )
    elif scores:
        lines.append(
            f"Members' own validation accuracy: {np.mean(scores):.1%} (mean of "
            f"{len(scores)}, each on the rows it held out for early stopping)"
        )
    return lines


def _save(clf: Any, path: Path) -> Path:
    """Write the fitted classifier with the library's `save_model`."""
    from qwertyclf import save_model

    try:
        return save_model(clf, path)
    except TypeError as exc:
        # A kind of classifier this version cannot write to a file.
        raise CommandFailed(
            f"cannot save the model: {describe_exception(exc)}"
        ) from None


def load(path: Path) -> Any:
    """A fitted model from a `.safetensors` file; one-line errors if it is not one."""
    check_readable(path, "a model file")
    from qwertyclf import load_model

    try:
        return load_model(path)
    except ValueError as exc:
        raise CommandLineError(describe_exception(exc)) from None


def model_features(clf: Any, table: Table) -> np.ndarray:
    """The columns of `table` that `clf` was trained on, in its order.

    A model trained on named columns takes those columns (others, such as the
    target, are ignored); one trained on an array takes every column, and
    their number must match. Each column is read as it was in fit: the
    columns the model's encoder (`encoder_.text`) says held text are read as
    text, so that codes such as "01" stay what they were; the others must
    hold numbers.

    Parameters
    ----------
    clf : QwertyClassifier, QwertyClassifierCV or QwertyEnsembleClassifier
        A fitted classifier.
    table : Table
        The rows to predict.

    Returns
    -------
    ndarray of shape (n_rows, n_features_in_)
        The features to pass to `clf.predict`.
    """
    names = getattr(clf, "feature_names_in_", None)
    encoder = getattr(clf, "encoder_", None)
    text = None if encoder is None else list(encoder.text)
    if text is None or len(text) != clf.n_features_in_:
        text = [False] * clf.n_features_in_
    if names is None:
        if len(table.columns) != clf.n_features_in_:
            raise CommandLineError(
                f"the model takes {clf.n_features_in_} feature columns but "
                f"{table.path} has {len(table.columns)}."
            )
        return table.features(table.columns, text)[0]
    names = [str(n) for n in names]
    missing = [n for n in names if n not in table.columns]
    if missing:
        others = [c for c in table.columns if c not in names]
        also = f"; {table.path} also has: {', '.join(others)}" if others else ""
        raise CommandLineError(
            f"{table.path} lacks the model's feature columns {', '.join(missing)} "
            f"(the model was trained on: {', '.join(names)}{also})."
        )
    return table.features(names, text)[0]


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
