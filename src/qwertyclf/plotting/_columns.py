"""The columns of a raw table as the displays in the plane read them.

A display in the plane draws two numeric columns of `X`, which may be a float
array or a raw table (a pandas or polars DataFrame with categorical, string,
boolean and missing values, as the classifiers take it). This module reads the
columns once, names them (the DataFrame's columns, else the estimator's
`feature_names_in_`), tells the numeric from the categorical ones, picks and
checks the two plotted ones, and, for the decision regions, builds the grid
rows of a slice: the two plotted columns vary and every other column is held
at one stated value, in the table's own type so that a fitted pipeline reads
the grid as it read `X`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from qwertyclf._table import Table, TableEncoder, frame_kind, table_of

#: How many fixed values the figure's note lists before "and n more".
NOTE_MAX_VALUES = 6
#: Characters per line of the note, about a 6-inch axes' width in x-small type.
NOTE_WIDTH = 60


@dataclass(frozen=True)
class Columns:
    """`X` as given, read column by column.

    Parameters
    ----------
    X : array-like or DataFrame
        The samples as given (kept to build grid rows of the same type).
    table : Table
        Its columns: float64 for a numeric one, text for a categorical one.
    names : list of str or None
        Column names: the DataFrame's, else the estimator's
        `feature_names_in_`.
    categorical : ndarray of bool of shape (n_columns,)
        Whether each column holds categories.
    """

    X: Any
    table: Table
    names: list[str] | None
    categorical: np.ndarray

    @property
    def n_columns(self) -> int:
        """Number of columns."""
        return self.table.n_columns

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return self.table.n_rows

    @property
    def numeric(self) -> list[int]:
        """Positions of the numeric columns."""
        return [int(j) for j in np.flatnonzero(~self.categorical)]

    def label(self, j: int) -> str:
        """Axis label of column `j`: its name, else "Feature j"."""
        return self.names[j] if self.names is not None else f"Feature {j}"

    def key(self, j: int) -> str | int:
        """Key of column `j` in `fixed_values`: its name, else its index."""
        return self.names[j] if self.names is not None else j

    def values(self, j: int) -> np.ndarray:
        """Numeric column `j` as float64 (NaN where missing)."""
        return np.asarray(self.table.column(j), dtype=np.float64)

    def original(self, row: int, j: int) -> Any:
        """The value of `X` at (`row`, `j`), as a plain Python value."""
        X = self.X
        if frame_kind(X) == "pandas":
            value = X.iloc[row, j]
        elif frame_kind(X) == "polars":
            value = X[row, j]
        else:
            value = np.asarray(X[row], dtype=object)[j]
        return value.item() if isinstance(value, np.generic) else value


def read_columns(X: ArrayLike, *, estimator: Any = None) -> Columns:
    """Read `X`'s columns, naming them and telling numeric from categorical.

    A column is categorical when its dtype holds categories (string, object,
    bool, category), or when `estimator` is a fitted qwertyclf classifier
    (not a pipeline) whose `encoder_` encodes it as categories.
    """
    table = table_of(X)
    names = None
    if table.names is not None:
        names = [str(c) for c in table.names]
    else:
        fitted_names = getattr(estimator, "feature_names_in_", None)
        if fitted_names is not None and len(fitted_names) == table.n_columns:
            names = [str(c) for c in fitted_names]
    categorical = np.asarray(table.text, dtype=bool).copy()
    encoder = getattr(estimator, "encoder_", None)
    if isinstance(encoder, TableEncoder) and encoder.n_features == table.n_columns:
        categorical[list(encoder.categorical)] = True
    return Columns(X=X, table=table, names=names, categorical=categorical)


def check_rows(columns: Columns, **ys: np.ndarray | None) -> None:
    """ValueError unless `X` and every non-None y have as many rows."""
    lengths = {"X": columns.n_rows}
    lengths.update({name: len(y) for name, y in ys.items() if y is not None})
    if len(set(lengths.values())) > 1:
        raise ValueError(f"Inconsistent numbers of samples: {lengths}.")


def plane_features(
    columns: Columns, features: Sequence[int | str] | None
) -> tuple[list[int], list[str]]:
    """Positions and axis labels of the two plotted (numeric) columns.

    `features` holds two column positions or names; `None` takes the first two
    numeric columns.
    """
    n_features = columns.n_columns
    if n_features < 2:
        raise ValueError(
            f"X has {n_features} feature(s); plotting it in the plane needs at "
            "least 2. Add a feature or use a display that does not need two."
        )
    numeric = columns.numeric
    if features is None:
        if len(numeric) < 2:
            raise ValueError(
                f"X has {len(numeric)} numeric feature(s) "
                f"({_listing(columns, numeric)}); plotting it in the plane needs "
                "at least 2 numeric ones: categorical columns cannot be axes."
            )
        features = numeric[:2]
    if isinstance(features, str | int) or len(features) != 2:
        raise ValueError(
            "features must be a pair of feature indices or column names, e.g. "
            f"(0, 1); got {features!r}."
        )
    indices = [_position(columns, f) for f in features]
    if indices[0] == indices[1]:
        raise ValueError(f"features must be two different features; got {features!r}.")
    for j in indices:
        if columns.categorical[j]:
            raise ValueError(
                f"Feature {columns.label(j)!r} is categorical; the axes of the "
                "plane must be numeric. Pass features= with two numeric "
                f"features of X: {_listing(columns, numeric)}."
            )
    return indices, [columns.label(j) for j in indices]


def points(columns: Columns, indices: list[int]) -> np.ndarray:
    """The samples in the two plotted columns, shape (n_samples, 2)."""
    return np.column_stack([columns.values(j) for j in indices])


def plane(
    X: ArrayLike,
    features: Sequence[int | str] | None,
    *,
    estimator: Any = None,
    **ys: np.ndarray | None,
) -> tuple[np.ndarray, list[str]]:
    """The samples in the two plotted columns and their axis labels.

    Checks that `X` has as many rows as each non-None labels array in `ys`.
    """
    columns = read_columns(X, estimator=estimator)
    indices, labels = plane_features(columns, features)
    check_rows(columns, **ys)
    return points(columns, indices), labels


def has_plane(columns: Columns) -> bool:
    """Whether `X` has two numeric columns to plot."""
    return len(columns.numeric) >= 2


@dataclass(frozen=True)
class Slice:
    """Where the grid of a decision-region plot holds the unplotted columns.

    Parameters
    ----------
    values : dict
        Per unplotted column position, the value it is held at (as in `X`).
    by : dict
        Per unplotted column position, how the value was chosen: "median",
        "most frequent" or "given".
    keys : dict
        Per unplotted column position, the comparable value in the `Table`'s
        representation (a float, or the category as text).
    """

    values: dict[int, Any]
    by: dict[int, str]
    keys: dict[int, Any]


def slice_at(
    columns: Columns,
    indices: list[int],
    feature_values: Mapping[int | str, Any] | ArrayLike | None,
) -> Slice:
    """The value of every unplotted column: given, else median / most frequent."""
    given = _given_values(columns, feature_values)
    values, by, keys = {}, {}, {}
    for j in range(columns.n_columns):
        if j in indices:
            continue
        if j in given:
            value = given[j]
            by[j] = "given"
            keys[j] = _table_key(columns, j, value)
        elif columns.categorical[j]:
            value, keys[j] = _most_frequent(columns, j)
            by[j] = "most frequent"
        else:
            column = columns.values(j)
            seen = column[~np.isnan(column)]
            value = float(np.median(seen)) if len(seen) else float("nan")
            by[j] = "median"
            keys[j] = value
        if not columns.categorical[j] and value is not None:
            value = float(value)
        values[j] = value
    return Slice(values=values, by=by, keys=keys)


def grid_rows(
    columns: Columns,
    indices: list[int],
    at: Slice,
    xx0: np.ndarray,
    xx1: np.ndarray,
) -> Any:
    """Grid rows of `X`'s type: plotted columns from the grid, the others fixed.

    A DataFrame gives a DataFrame with `X`'s column names and, for the fixed
    columns, `X`'s dtypes (so that categories stay categories); the plotted
    columns are float64. An array gives an array.
    """
    n = xx0.size
    plotted = {indices[0]: xx0.ravel(), indices[1]: xx1.ravel()}
    kind = frame_kind(columns.X)
    if kind == "pandas":
        import pandas as pd

        series = []
        for j in range(columns.n_columns):
            if j in plotted:
                series.append(pd.Series(plotted[j], dtype=np.float64))
            elif not columns.categorical[j]:
                series.append(pd.Series(np.full(n, at.values[j], dtype=np.float64)))
            else:
                dtype = columns.X.dtypes.iloc[j]
                series.append(_constant_series(at.values[j], n, dtype))
        frame = pd.concat(series, axis=1, ignore_index=True)
        frame.columns = columns.X.columns
        return frame
    if kind == "polars":
        import polars as pl

        data = []
        for j, (name, dtype) in enumerate(columns.X.schema.items()):
            if j in plotted or not columns.categorical[j]:
                value = plotted[j] if j in plotted else np.full(n, at.values[j])
                data.append(pl.Series(name, value, dtype=pl.Float64))
                continue
            try:
                data.append(pl.Series(name, [at.values[j]] * n, dtype=dtype))
            except (TypeError, ValueError, pl.exceptions.PolarsError):
                data.append(pl.Series(name, [at.values[j]] * n))
        return pl.DataFrame(data)
    if columns.table.numeric is not None:
        rows = np.empty((n, columns.n_columns), dtype=np.float64)
    else:
        rows = np.empty((n, columns.n_columns), dtype=object)
    for j in range(columns.n_columns):
        rows[:, j] = plotted[j] if j in plotted else at.values[j]
    return rows


def take_rows(rows: Any, start: int, stop: int) -> Any:
    """Rows `start:stop` of an array or a DataFrame."""
    if frame_kind(rows) == "pandas":
        return rows.iloc[start:stop]
    return rows[start:stop]


def slice_distance(columns: Columns, at: Slice) -> np.ndarray | None:
    """How far each sample lies from the slice; `None` when nothing is fixed.

    The root mean square, over the fixed columns, of each one's distance: for
    a numeric column, the difference in robust standard deviations (the
    interquartile range / 1.349, else the standard deviation); for a
    categorical one, 0 for the fixed category and 1 for any other. A missing
    value counts 1.
    """
    if not at.values:
        return None
    squares = np.zeros(columns.n_rows)
    for j, key in at.keys.items():
        column = columns.table.column(j)
        if columns.categorical[j]:
            if column.dtype.kind == "O":
                far = np.array([v != key for v in column], dtype=float)
            else:
                far = (column != key).astype(float)
        else:
            column = np.asarray(column, dtype=np.float64)
            far = np.abs(column - key) / _robust_scale(column)
            far[np.isnan(column)] = 1.0
            if key != key:  # held at NaN (a column with no values): no distance
                far[:] = 0.0
        squares += far**2
    return np.sqrt(squares / len(at.keys))


def slice_note(fixed_values: Mapping[Any, Any], fixed_by: Mapping[Any, str]) -> str:
    """The figure's note: where the other features are held, and the projection."""
    parts = []
    for key, value in list(fixed_values.items())[:NOTE_MAX_VALUES]:
        name = key if isinstance(key, str) else f"Feature {key}"
        by = fixed_by.get(key)
        parts.append(f"{name} = {_format(value)}" + (f" ({by})" if by else ""))
    extra = len(fixed_values) - NOTE_MAX_VALUES
    if extra > 0:
        parts.append(f"and {extra} more (see fixed_values)")
    lines = ["Slice: other features fixed at"]
    for i, part in enumerate(parts):
        part += "," if i < len(parts) - 1 else ""
        # Wrap between values, never inside one.
        if len(lines) > 1 and len(lines[-1]) + 1 + len(part) <= NOTE_WIDTH:
            lines[-1] += " " + part
        else:
            lines.append("  " + part)
    lines.append("Points are projected onto it, fainter the farther away.")
    return "\n".join(lines)


def _position(columns: Columns, feature: Any) -> int:
    """Column position of a feature given by index or name."""
    n_features = columns.n_columns
    if isinstance(feature, str):
        if columns.names is None or feature not in columns.names:
            known = "" if columns.names is None else f" Columns: {columns.names}."
            raise ValueError(
                f"Feature {feature!r} is not a column of X; pass a column name of "
                f"a DataFrame (or of the estimator's feature_names_in_) or an "
                f"integer index.{known}"
            )
        return columns.names.index(feature)
    if (
        isinstance(feature, int | np.integer)
        and not isinstance(feature, bool)
        and -n_features <= feature < n_features
    ):
        return int(feature) % n_features
    raise ValueError(
        f"Feature index {feature!r} is out of range for X with {n_features} "
        f"features; pick two indices in 0..{n_features - 1}."
    )


def _listing(columns: Columns, positions: list[int]) -> str:
    if not positions:
        return "none"
    return ", ".join(repr(columns.label(j)) for j in positions)


def _given_values(
    columns: Columns, feature_values: Mapping[int | str, Any] | ArrayLike | None
) -> dict[int, Any]:
    """The values the caller gave, by column position."""
    n_features = columns.n_columns
    if feature_values is None:
        return {}
    if isinstance(feature_values, Mapping):
        given = {}
        for key, value in feature_values.items():
            if isinstance(key, str) and columns.names is not None:
                position = columns.names.index(key) if key in columns.names else None
            elif isinstance(key, int | np.integer) and not isinstance(key, bool):
                position = (
                    int(key) % n_features if -n_features <= key < n_features else None
                )
            else:
                position = None
            if position is None:
                raise ValueError(
                    f"feature_values has the key {key!r}, which is not a feature "
                    f"of X; use feature indices 0..{n_features - 1} or column names."
                )
            given[position] = value
    else:
        row = np.asarray(feature_values, dtype=object)
        if row.shape != (n_features,):
            raise ValueError(
                f"feature_values has shape {row.shape}; pass one value per feature, "
                f"shape ({n_features},), or a dict {{feature index: value}}."
            )
        given = dict(enumerate(row.tolist()))
    for j, value in given.items():
        if not columns.categorical[j]:
            try:
                given[j] = float(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"feature_values gives {value!r} for the numeric feature "
                    f"{columns.label(j)!r}; pass a number."
                ) from None
    return given


def _most_frequent(columns: Columns, j: int) -> tuple[Any, Any]:
    """The most frequent value of categorical column `j` (as in `X`) and its key.

    Ties go to the first in sorted order; a column of missing values only is
    held at `None`.
    """
    column = columns.table.column(j)
    if column.dtype.kind == "O":
        seen = np.array([v is not None for v in column], dtype=bool)
    else:
        seen = ~np.isnan(column)
    if not seen.any():
        return None, None if column.dtype.kind == "O" else float("nan")
    kept, counts = np.unique(column[seen], return_counts=True)
    key = kept[int(np.argmax(counts))]
    row = int(np.flatnonzero(seen & (column == key))[0])
    key = key.item() if isinstance(key, np.generic) else key
    return columns.original(row, j), key


def _table_key(columns: Columns, j: int, value: Any) -> Any:
    """`value` as the `Table` holds column `j`: float, or category text."""
    if not columns.categorical[j] or columns.table.column(j).dtype.kind != "O":
        try:
            return float(value)
        except (TypeError, ValueError):
            return float("nan")
    if _missing(value):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return True


def _robust_scale(column: np.ndarray) -> float:
    seen = column[~np.isnan(column)]
    if len(seen) == 0:
        return 1.0
    q25, q75 = np.percentile(seen, [25, 75])
    for scale in ((q75 - q25) / 1.349, np.std(seen)):
        if scale > 0:
            return float(scale)
    return 1.0


def _constant_series(value: Any, n: int, dtype: Any) -> Any:
    """`n` copies of `value` in `dtype`, or in pandas' own choice if it cannot."""
    import pandas as pd

    try:
        return pd.Series([value] * n, dtype=dtype)
    except (TypeError, ValueError):
        return pd.Series([value] * n)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if value is None:
        return "missing"
    return str(value)
