"""Tables as they come: reading raw columns and encoding them for a network.

A user's table holds numbers, booleans, strings and categories, with missing
values in any of them. `read_table` takes it (a pandas or polars DataFrame,
or an array) and keeps each column's values and whether its dtype holds
categories. `TableEncoder.fit` learns, from the training rows, how each column
becomes network inputs, and `TableEncoder.transform` applies it:

* a numeric column gives one input, its missing values replaced by the
  column's training median, plus one missing-indicator input if the column
  had missing values in training; optionally robustly scaled and smoothly
  clipped (`preprocessing="robust"`);
* a categorical column gives one input per category (one-hot): every
  category seen in training, one for "missing" if training had missing
  values, and one for the pooled rare categories if `min_frequency` pooled
  any. A category unseen in training (or missing, where training had none)
  falls in the rare pool, or gives all zeros where there is none.

The one-hot inputs feed the network's first linear layer, whose weight column
for a category is that category's learned embedding (as wide as the layer).

A float array without missing values and without scaling passes through
unchanged: the encoder is then the identity, and the numbers a network
computes from it are those of an estimator without an encoder.

A sparse matrix (scipy CSR or CSC, matrix or array) is a table of numbers
and stays sparse (CSR): missing values (stored NaN) are imputed and flagged
as in a dense array, with the same medians, and `preprocessing="robust"`
scales without centring, since centring would fill in every zero (see
`TableEncoder.fit`). Its columns cannot be categorical.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.utils.validation import _check_sample_weight, check_array, validate_data

from ._scaling import robust_scaling, smooth_clip, weighted_percentile

#: Accepted values of the `preprocessing` parameter.
PREPROCESSING = ("robust", None)

#: `min_frequency` of `QwertyClassifierCV` and `QwertyEnsembleClassifier`:
#: a category needs this many training rows for an input of its own (one row
#: teaches nothing about any other: an identifier's values, for example).
RARE_CATEGORY_ROWS = 2

_FLOAT_DTYPES = (np.float64, np.float32)

#: How a plain numeric `X` is checked: float, missing values allowed, and
#: sparse matrices kept sparse (CSC is converted to CSR after the check).
_NUMERIC_CHECK = {
    "dtype": _FLOAT_DTYPES,
    "ensure_all_finite": "allow-nan",
    "accept_sparse": ("csr", "csc"),
}


@dataclass
class Table:
    """The columns of a table, read once.

    Parameters
    ----------
    numeric : ndarray or scipy.sparse CSR matrix of shape (n_rows, n_columns) or None
        The whole table as one float array (or sparse matrix), when every
        column is numeric.
    columns : list of ndarray or None
        Otherwise one array per column: float64 for a numeric column, object
        (str or None for missing) for a column of categories.
    text : ndarray of bool of shape (n_columns,)
        Whether each column's dtype holds categories (string, object, bool or
        pandas/polars categorical).
    names : ndarray of str or None
        The column names of a DataFrame.

    Examples
    --------
    >>> table = Table(numeric=np.zeros((3, 2)), columns=None,
    ...               text=np.zeros(2, dtype=bool), names=None)
    >>> table.n_rows, table.n_columns
    (3, 2)
    """

    numeric: np.ndarray | None
    columns: list | None
    text: np.ndarray
    names: np.ndarray | None

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        if self.numeric is not None:
            return self.numeric.shape[0]
        return len(self.columns[0]) if self.columns else 0

    @property
    def n_columns(self) -> int:
        """Number of columns."""
        return len(self.text)

    def column(self, j: int) -> np.ndarray:
        """The values of column `j` (a dense array)."""
        if sparse.issparse(self.numeric):
            return self.numeric[:, [j]].toarray().ravel()
        if self.numeric is not None:
            return self.numeric[:, j]
        return self.columns[j]

    def take(self, rows) -> Table:
        """The table's rows `rows` (an index array), as a new table."""
        if self.numeric is not None:
            return Table(self.numeric[rows], None, self.text, self.names)
        return Table(None, [c[rows] for c in self.columns], self.text, self.names)


def is_table_like(X) -> bool:
    """Whether `X` needs the column-by-column reading of `read_table`.

    True for a pandas or polars DataFrame with a column that is not plain
    numeric, and for an array of strings or objects.

    Examples
    --------
    >>> is_table_like(np.zeros((2, 2))), is_table_like(np.array([["a", 1]], object))
    (False, True)
    """
    frame = frame_kind(X)
    if frame == "pandas":
        return any(not _pandas_plain_number(dtype) for dtype in X.dtypes)
    if frame == "polars":
        return any(not dtype.is_numeric() for dtype in X.schema.values())
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        return False  # sparse: numbers, checked by scikit-learn's own check
    dtype = getattr(X, "dtype", None)
    if dtype is None and isinstance(X, (list, tuple)):
        try:
            dtype = np.asarray(X).dtype
        except ValueError:  # ragged: let scikit-learn's check explain
            return False
    return dtype is not None and np.dtype(dtype).kind in "OUSb"


def read_table(estimator, X, y=None, *, reset: bool) -> tuple[Table, np.ndarray | None]:
    """Check `X` (and `y`) as `validate_data` does, keeping categorical columns.

    Feature names and counts are recorded on (`reset=True`) or checked
    against (`reset=False`) `estimator` by scikit-learn's rules. A table of
    plain numbers goes through `validate_data` itself, missing values
    allowed and infinities refused.

    Parameters
    ----------
    estimator : estimator
        Receives or checks `n_features_in_` and `feature_names_in_`.
    X : array-like, pandas or polars DataFrame
        The table.
    y : array-like or None
        Labels, checked and returned as an array when given.
    reset : bool
        True in `fit`, False when predicting.

    Returns
    -------
    table : Table
        The columns.
    y : ndarray or None
        The checked labels.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> table, _ = read_table(BaseEstimator(), np.array([[1.0, np.nan]]), reset=True)
    >>> table.numeric.shape, table.text.tolist()
    ((1, 2), [False, False])
    """
    if not is_table_like(X):
        names = _frame_names(X)
        if y is None:
            X = validate_data(estimator, X, reset=reset, **_NUMERIC_CHECK)
        else:
            X, y = validate_data(estimator, X, y, reset=reset, **_NUMERIC_CHECK)
        X = _as_rows(X)
        return Table(X, None, np.zeros(X.shape[1], dtype=bool), names), y
    if y is None:
        validate_data(estimator, X, reset=reset, skip_check_array=True)
    else:
        validate_data(estimator, X, y, reset=reset, skip_check_array=True)
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"y must be 1-dimensional, got shape {y.shape}.")
    table = table_of(X)
    if y is not None and len(y) != table.n_rows:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{table.n_rows}, {len(y)}]"
        )
    return table, y


def table_of(X, *, input_name: str = "X") -> Table:
    """`X` read as a `Table`, without an estimator's feature-name bookkeeping.

    Parameters
    ----------
    X : array-like, pandas or polars DataFrame
        The table.
    input_name : str, default="X"
        Its name in error messages.

    Returns
    -------
    table : Table
        The columns.

    Examples
    --------
    >>> table_of(np.array([["a", 1.5]], dtype=object)).text.tolist()
    [True, False]
    """
    if not is_table_like(X):
        names = _frame_names(X)
        X = _as_rows(check_array(X, input_name=input_name, **_NUMERIC_CHECK))
        return Table(X, None, np.zeros(X.shape[1], dtype=bool), names)
    columns, text, names = _read_columns(X, input_name)
    n_rows = len(columns[0]) if columns else 0
    if n_rows < 1 or not columns:
        raise ValueError(
            f"Found array with {n_rows} sample(s) and {len(columns)} feature(s) "
            "while a minimum of 1 is required."
        )
    return Table(None, columns, text, names)


@dataclass
class TableEncoder:
    """How each column of a table becomes network inputs (see the module).

    Build it with `TableEncoder.fit`; all fields are fitted values.

    Parameters
    ----------
    n_features : int
        Number of input columns.
    categorical : tuple of int
        The columns encoded as categories, in order.
    text : tuple of bool
        Per column, whether its dtype held categories in fit (checked when
        predicting).
    fill : ndarray of float
        Per numeric column (in column order), the value replacing a missing
        one: its training median (0 for a column with no values).
    indicated : tuple of int
        Positions among the numeric columns that get a missing indicator.
    centre, scale : ndarray of float or None
        Robust scaling of the numeric columns, or None for none.
    categories : tuple of ndarray of str
        Per categorical column, the sorted categories with an input.
    missing_slot, other_slot : tuple of bool
        Per categorical column, whether it has an input for missing values,
        and one for pooled rare (and unseen) categories.

    Examples
    --------
    >>> X = np.array([["red", 1.0], ["blue", np.nan], ["red", 3.0]], dtype=object)
    >>> from sklearn.base import BaseEstimator
    >>> table, _ = read_table(BaseEstimator(), X, reset=True)
    >>> encoder = TableEncoder.fit(table)
    >>> encoder.transform(table)
    array([[1., 0., 0., 1.],
           [2., 1., 1., 0.],
           [3., 0., 0., 1.]])
    """

    n_features: int
    categorical: tuple
    text: tuple
    fill: np.ndarray
    indicated: tuple
    centre: np.ndarray | None
    scale: np.ndarray | None
    categories: tuple
    missing_slot: tuple
    other_slot: tuple

    @classmethod
    def fit(
        cls,
        table: Table,
        *,
        categorical_features="from_dtype",
        min_frequency=None,
        preprocessing=None,
        sample_weight=None,
    ) -> TableEncoder:
        """Learn the encoding of `table`'s columns.

        Parameters
        ----------
        table : Table
            The training rows.
        categorical_features : "from_dtype", None, or array-like, default="from_dtype"
            Which columns are categorical: as their dtypes say, none, a list
            of column names or indices, or a boolean mask.
        min_frequency : int, float or None, default=None
            Categories seen fewer times (an int) or in a smaller fraction of
            the rows (a float in (0, 1)) share one pooled input.
        preprocessing : {"robust", None}, default=None
            Robust scaling and smooth clipping of the numeric columns. A
            sparse table is scaled without centring, since centring would
            fill in its zeros: a column whose median is 0 (one with at least
            half its values 0, as one-hot and most count columns are) is
            scaled by its robust deviation, as in a dense array, and a
            column with another median by that median's absolute value plus
            its robust deviation, which brings its typical values within
            about +-1.
        sample_weight : ndarray of shape (n_rows,), default=None
            Non-negative row weights: every statistic (medians, quantiles,
            category counts) is that of the rows repeated by their weights, so
            a row of weight 0 counts as absent.

        Returns
        -------
        encoder : TableEncoder
            The fitted encoding.
        """
        check_encoding_params(categorical_features, min_frequency, preprocessing)
        is_categorical = _categorical_mask(categorical_features, table)
        for j in np.flatnonzero(table.text & ~is_categorical):
            raise ValueError(
                f"Column {_column_name(table.names, j)} holds categories or "
                "strings, but categorical_features does not list it. Add it to "
                "categorical_features, or convert it to numbers."
            )
        weight = None
        if sample_weight is not None:
            weight = np.asarray(sample_weight, dtype=np.float64)
            counted = np.flatnonzero(weight > 0)
            if len(counted) < table.n_rows:
                table, weight = table.take(counted), weight[counted]
        if sparse.issparse(table.numeric):
            if is_categorical.any():
                raise ValueError(
                    "categorical_features lists columns of a sparse X, whose "
                    "columns are numbers. Encode the categories first (for "
                    "example with OneHotEncoder), or pass X as a DataFrame."
                )
            return cls(
                table.n_columns,
                (),
                (False,) * table.n_columns,
                *_sparse_statistics(table.numeric, weight, preprocessing == "robust"),
                (),
                (),
                (),
            )
        numeric = [j for j in range(table.n_columns) if not is_categorical[j]]
        values = _numeric_block(table, numeric, dtype=np.float64)
        missing = np.isnan(values)
        fill = np.zeros(len(numeric))
        for i in range(len(numeric)):
            seen = ~missing[:, i]
            if not seen.any():
                continue
            if weight is None:
                fill[i] = np.median(values[seen, i])
            else:
                fill[i] = weighted_percentile(values[seen, i], weight[seen], (50,))[0]
        indicated = tuple(int(i) for i in np.flatnonzero(missing.any(axis=0)))
        centre = scale = None
        if preprocessing == "robust" and numeric:
            if missing.any():
                values = np.where(missing, fill, values)
            centre, scale = robust_scaling(values, weight)
        categorical = [int(j) for j in np.flatnonzero(is_categorical)]
        categories, missing_slot, other_slot = [], [], []
        total = table.n_rows if weight is None else weight.sum()
        threshold = _frequency_threshold(min_frequency, total)
        for j in categorical:
            strings, absent = _categories_of(table, j)
            kept, codes = np.unique(strings[~absent].astype(str), return_inverse=True)
            counts = np.bincount(
                codes,
                weights=None if weight is None else weight[~absent],
                minlength=len(kept),
            )
            rare = counts < threshold
            categories.append(kept[~rare])
            missing_slot.append(bool(absent.any()))
            other_slot.append(bool(rare.any()))
        return cls(
            n_features=table.n_columns,
            categorical=tuple(categorical),
            text=tuple(bool(t) for t in table.text),
            fill=fill,
            indicated=indicated,
            centre=centre,
            scale=scale,
            categories=tuple(categories),
            missing_slot=tuple(missing_slot),
            other_slot=tuple(other_slot),
        )

    @classmethod
    def identity_for(cls, n_features: int) -> TableEncoder:
        """The encoding of `n_features` numeric columns that changes nothing.

        Missing values are replaced by 0 (no medians are known).

        Examples
        --------
        >>> TableEncoder.identity_for(3).n_outputs
        3
        """
        return cls(
            n_features=n_features,
            categorical=(),
            text=(False,) * n_features,
            fill=np.zeros(n_features),
            indicated=(),
            centre=None,
            scale=None,
            categories=(),
            missing_slot=(),
            other_slot=(),
        )

    @property
    def identity(self) -> bool:
        """Whether a table without missing values passes through unchanged."""
        return not self.categorical and not self.indicated and self.centre is None

    @property
    def n_outputs(self) -> int:
        """Number of network inputs the encoding gives."""
        width = self.n_features - len(self.categorical) + len(self.indicated)
        for cats, miss, other in zip(
            self.categories, self.missing_slot, self.other_slot, strict=True
        ):
            width += len(cats) + miss + other
        return width

    @property
    def numeric(self) -> list[int]:
        """The numeric columns, in order."""
        categorical = set(self.categorical)
        return [j for j in range(self.n_features) if j not in categorical]

    def check(self, table: Table) -> None:
        """Refuse a table whose columns changed kind since fit.

        Parameters
        ----------
        table : Table
            Rows to predict on, read by `read_table` (which checked the
            column names and count).

        Raises
        ------
        ValueError
            If a column that held numbers in fit holds categories or strings,
            or the other way round (a column with only missing values fits
            either).
        """
        for j, (was, now) in enumerate(zip(self.text, table.text, strict=True)):
            if was == now:
                continue
            if was and bool(np.isnan(table.column(j)).all()):
                continue  # an all-missing column reads as float
            then, today = ("categories", "numbers") if was else ("numbers", "text")
            raise ValueError(
                f"Column {_column_name(table.names, j)} held {then} in fit but "
                f"holds {today} now. Pass the column with the kind of values "
                "it had in fit."
            )

    def transform(self, table: Table) -> np.ndarray:
        """The network inputs of `table`'s rows (a new array, or `X` itself).

        Parameters
        ----------
        table : Table
            Rows read by `read_table` and checked by `check`.

        Returns
        -------
        X : ndarray or scipy.sparse CSR matrix of shape (n_rows, n_outputs)
            Float inputs: the table's own array where the encoding is the
            identity and nothing is missing, float64 where categories are
            encoded, else the table's float dtype; sparse (CSR) for a sparse
            table.
        """
        if sparse.issparse(table.numeric):
            return self._transform_sparse(table.numeric)
        numeric = self.numeric
        dtype = np.float64 if table.numeric is None else table.numeric.dtype
        if self.identity and table.numeric is not None:
            X = table.numeric
            # A sum is NaN if X holds a NaN, and far cheaper than a mask of
            # X (it can be NaN otherwise too: infinities of both signs).
            if np.isnan(X.sum()):
                missing = np.isnan(X)
                if missing.any():
                    X = np.where(missing, self.fill.astype(X.dtype), X)
            return X
        values = _numeric_block(table, numeric, dtype=dtype)
        missing = np.isnan(values)
        if missing.any():
            values = np.where(missing, self.fill.astype(dtype), values)
        if self.centre is not None:
            values = smooth_clip(values, self.centre, self.scale).astype(dtype)
        if self.identity:
            return values
        out = np.zeros((table.n_rows, self.n_outputs), dtype=dtype)
        out[:, : len(numeric)] = values
        width = len(numeric) + len(self.indicated)
        out[:, len(numeric) : width] = missing[:, list(self.indicated)]
        rows = np.arange(table.n_rows)
        for j, cats, miss, other in zip(
            self.categorical,
            self.categories,
            self.missing_slot,
            self.other_slot,
            strict=True,
        ):
            strings, absent = _categories_of(table, j)
            codes = np.full(table.n_rows, -1)
            present = np.flatnonzero(~absent)
            if len(cats) and present.size:
                found = strings[present].astype(str)
                at = np.searchsorted(cats, found).clip(max=len(cats) - 1)
                hit = cats[at] == found
                codes[present[hit]] = at[hit]
            if miss:
                codes[absent] = len(cats)
            if other:
                codes[codes < 0] = len(cats) + miss
            known = codes >= 0
            out[rows[known], width + codes[known]] = 1.0
            width += len(cats) + miss + other
        return out

    def _transform_sparse(self, X):
        """`transform` of a sparse (CSR) table, whose result stays sparse.

        The same values as for the dense array: stored NaN replaced by the
        fill values, scaled where the encoding scales, and the missing
        indicators appended as sparse columns. `X` itself is not modified.
        """
        if self.categorical:
            raise ValueError(
                "This model one-hot encodes categorical columns, which a sparse "
                "X cannot hold. Pass the table the model was fitted on (a "
                "DataFrame or an object array)."
            )
        if self.centre is not None and np.any(self.centre != 0):
            raise ValueError(
                "This model centres its numeric inputs (preprocessing='robust', "
                "fitted on a dense X), and centring a sparse X would fill in all "
                "of its zeros. Pass X as a dense array (X.toarray()), or fit the "
                "model on sparse data."
            )
        missing = np.isnan(X.data)
        if missing.any() or self.centre is not None:
            X = X.copy()
        if missing.any():
            X.data[missing] = self.fill[X.indices[missing]]
        if self.centre is not None:
            at = X.indices
            X.data = smooth_clip(X.data, self.centre[at], self.scale[at]).astype(
                X.dtype
            )
        if not self.indicated:
            return X
        slot = np.full(self.n_features, -1)
        slot[list(self.indicated)] = np.arange(len(self.indicated))
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[missing]
        columns = slot[X.indices[missing]]
        flagged = columns >= 0
        indicators = sparse.csr_matrix(
            (
                np.ones(int(flagged.sum()), dtype=X.dtype),
                (rows[flagged], columns[flagged]),
            ),
            shape=(X.shape[0], len(self.indicated)),
        )
        return sparse.hstack([X, indicators], format="csr", dtype=X.dtype)

    def to_dict(self) -> dict:
        """The fitted values as plain JSON values (see `from_dict`)."""
        return {
            "n_features": self.n_features,
            "categorical": list(self.categorical),
            "text": list(self.text),
            "fill": self.fill.tolist(),
            "indicated": list(self.indicated),
            "centre": None if self.centre is None else self.centre.tolist(),
            "scale": None if self.scale is None else self.scale.tolist(),
            "categories": [c.tolist() for c in self.categories],
            "missing_slot": list(self.missing_slot),
            "other_slot": list(self.other_slot),
        }

    @classmethod
    def from_dict(
        cls, values, *, n_features: int, max_text: int, max_values: int
    ) -> TableEncoder:
        """Rebuild an encoder from `to_dict`'s values, checking every one.

        Parameters
        ----------
        values : dict
            What `to_dict` returned (read from an untrusted file).
        n_features : int
            The model's number of input columns.
        max_text : int
            Longest category allowed.
        max_values : int
            Most categories allowed in all.

        Returns
        -------
        encoder : TableEncoder
            The encoder.

        Raises
        ------
        ValueError
            If any value is not what `fit` produces; the message names it.
        """
        keys = {
            "n_features",
            "categorical",
            "text",
            "fill",
            "indicated",
            "centre",
            "scale",
            "categories",
            "missing_slot",
            "other_slot",
        }
        if not isinstance(values, dict) or set(values) != keys:
            raise ValueError(f"the encoder must be an object with keys {sorted(keys)}")
        if values["n_features"] != n_features or isinstance(values["n_features"], bool):
            raise ValueError(f"the encoder must describe {n_features} columns")
        categorical = _index_list(values["categorical"], n_features, "categorical")
        n_numeric = n_features - len(categorical)
        text = _flag_list(values["text"], n_features, "text")
        fill = _float_list(values["fill"], n_numeric, "fill")
        indicated = _index_list(values["indicated"], n_numeric, "indicated")
        centre = scale = None
        if values["centre"] is not None or values["scale"] is not None:
            centre = _float_list(values["centre"], n_numeric, "centre")
            scale = _float_list(values["scale"], n_numeric, "scale")
            if not (scale > 0).all():
                raise ValueError("the encoder's scale must be positive")
        categories = values["categories"]
        if not isinstance(categories, list) or len(categories) != len(categorical):
            raise ValueError("the encoder needs one category list per column")
        if sum(len(c) if isinstance(c, list) else 0 for c in categories) > max_values:
            raise ValueError(f"the encoder holds more than {max_values} categories")
        arrays = []
        for cats in categories:
            if not isinstance(cats, list) or not all(
                isinstance(c, str) and len(c) <= max_text for c in cats
            ):
                raise ValueError(
                    f"categories must be lists of strings of at most {max_text} "
                    "characters"
                )
            if any(a >= b for a, b in itertools.pairwise(cats)):
                raise ValueError("categories must be sorted and unique")
            arrays.append(np.array(cats, dtype=str))
        missing_slot = _flag_list(values["missing_slot"], len(categorical), "missing")
        other_slot = _flag_list(values["other_slot"], len(categorical), "other")
        return cls(
            n_features=n_features,
            categorical=categorical,
            text=text,
            fill=fill,
            indicated=indicated,
            centre=centre,
            scale=scale,
            categories=tuple(arrays),
            missing_slot=missing_slot,
            other_slot=other_slot,
        )


def fit_encoding(
    estimator, X, y, *, sample_weight=None
) -> tuple[TableEncoder, np.ndarray, np.ndarray]:
    """Read a training table, fit its encoding and encode it.

    The encoding parameters are the estimator's `categorical_features`,
    `min_frequency` and `preprocessing` (checked first). Records
    `n_features_in_` (and `feature_names_in_`) on `estimator`, as
    `validate_data` does in `fit`.

    Parameters
    ----------
    estimator : estimator
        The estimator being fitted.
    X : array-like, pandas or polars DataFrame
        Training table.
    y : array-like
        Labels.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights of the encoding's statistics (checked: non-negative).

    Returns
    -------
    encoder : TableEncoder
        The fitted encoding.
    X : ndarray
        The network inputs.
    y : ndarray
        The checked labels.

    Examples
    --------
    >>> from qwertyclf import QwertyClassifier
    >>> encoder, X, y = fit_encoding(QwertyClassifier(), [["a"], ["b"]], [0, 1])
    >>> X
    array([[1., 0.],
           [0., 1.]])
    """
    params = {
        "categorical_features": estimator.categorical_features,
        "min_frequency": estimator.min_frequency,
        "preprocessing": estimator.preprocessing,
    }
    check_encoding_params(**params)
    table, y = read_table(estimator, X, y, reset=True)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(
            sample_weight, np.empty(table.n_rows), ensure_non_negative=True
        )
    encoder = TableEncoder.fit(table, **params, sample_weight=sample_weight)
    return encoder, encoder.transform(table), y


def encode(estimator, X, encoder: TableEncoder) -> np.ndarray:
    """The network inputs of rows to predict, checked against the fit.

    Parameters
    ----------
    estimator : estimator
        The fitted estimator (its `n_features_in_` and `feature_names_in_`
        are checked).
    X : array-like, pandas or polars DataFrame
        Rows to predict.
    encoder : TableEncoder
        The encoding fitted with the estimator.

    Returns
    -------
    X : ndarray
        The network inputs.

    Examples
    --------
    >>> from qwertyclf import QwertyClassifier
    >>> model = QwertyClassifier()
    >>> encoder, _, _ = fit_encoding(model, [["a"], ["b"]], [0, 1])
    >>> encode(model, [["b"], ["c"]], encoder)
    array([[0., 1.],
           [0., 0.]])
    """
    table, _ = read_table(estimator, X, reset=False)
    encoder.check(table)
    return encoder.transform(table)


def check_encoding_params(categorical_features, min_frequency, preprocessing) -> None:
    """Validate the encoding parameters an estimator takes.

    Raises
    ------
    ValueError
        Naming the parameter and what it accepts.

    Examples
    --------
    >>> check_encoding_params("from_dtype", 5, "robust")
    >>> check_encoding_params("from_dtype", -1, None)
    Traceback (most recent call last):
    ...
    ValueError: min_frequency must be None, an int >= 1 or a float in (0, 1), got -1.
    """
    if preprocessing not in PREPROCESSING:
        raise ValueError(
            f"preprocessing must be 'robust' or None, got {preprocessing!r}."
        )
    if min_frequency is not None and not (
        (
            isinstance(min_frequency, Integral)
            and not isinstance(min_frequency, bool)
            and min_frequency >= 1
        )
        or (
            isinstance(min_frequency, Real)
            and not isinstance(min_frequency, Integral)
            and 0 < min_frequency < 1
        )
    ):
        raise ValueError(
            "min_frequency must be None, an int >= 1 or a float in (0, 1), "
            f"got {min_frequency!r}."
        )
    if categorical_features is None or (
        isinstance(categorical_features, str) and categorical_features == "from_dtype"
    ):
        return
    if isinstance(categorical_features, str) or not isinstance(
        categorical_features, (Sequence, np.ndarray)
    ):
        raise ValueError(
            "categorical_features must be 'from_dtype', None, or a list of "
            f"column names or indices or a boolean mask, got {categorical_features!r}."
        )


def _categorical_mask(categorical_features, table: Table) -> np.ndarray:
    """Which columns are categorical, from the parameter and the table."""
    n = table.n_columns
    if categorical_features is None:
        return np.zeros(n, dtype=bool)
    if isinstance(categorical_features, str):  # "from_dtype"
        return table.text.copy()
    listed = np.asarray(categorical_features)
    if listed.size == 0:
        return np.zeros(n, dtype=bool)
    if listed.dtype.kind == "b":
        if listed.shape != (n,):
            raise ValueError(
                f"categorical_features as a boolean mask must have {n} entries, "
                f"one per column, got {listed.shape[0]}."
            )
        return listed.astype(bool)
    mask = np.zeros(n, dtype=bool)
    if listed.dtype.kind in "iu":
        if listed.min() < 0 or listed.max() >= n:
            raise ValueError(
                f"categorical_features holds column indices out of range for "
                f"{n} columns: {listed.tolist()}."
            )
        mask[listed] = True
        return mask
    if listed.dtype.kind in "UO":
        if table.names is None:
            raise ValueError(
                "categorical_features names columns, but X has no column names; "
                "pass column indices, or X as a DataFrame."
            )
        position = {name: j for j, name in enumerate(table.names)}
        unknown = [str(name) for name in listed if name not in position]
        if unknown:
            raise ValueError(
                f"categorical_features names columns that X does not have: "
                f"{unknown}. Its columns are {list(table.names)}."
            )
        mask[[position[name] for name in listed]] = True
        return mask
    raise ValueError(
        "categorical_features must list column names or indices, or be a "
        f"boolean mask, got {categorical_features!r}."
    )


def _as_rows(X):
    """A checked `X`, sparse columns (CSC) turned into sparse rows (CSR).

    Duplicate entries of a sparse `X` are summed (in a copy), as its dense
    array sums them, so that each value is scaled once.
    """
    if not sparse.issparse(X):
        return X
    if X.format != "csr":
        X = X.tocsr()
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def _sparse_statistics(X, weight, robust: bool) -> tuple:
    """`fill`, `indicated`, `centre` and `scale` of a sparse table's columns.

    Computed from each column's stored values and its number (or weight) of
    implicit zeros, never from a dense copy: the statistics of the dense
    array, that is the median of the values present (exactly `np.median`'s
    without weights), and with `robust`, the quartiles and the standard
    deviation of the column with its missing values filled in (up to
    rounding). With `robust`, the centre is 0 (see `TableEncoder.fit`).
    """
    X = X.tocsc()
    n_rows, n_columns = X.shape
    data = X.data.astype(np.float64)
    weighted = weight is not None
    weight = np.ones(n_rows) if weight is None else weight
    entry_weight = weight[X.indices]
    total = weight.sum()
    missing = np.isnan(data)
    columns = np.repeat(np.arange(n_columns), np.diff(X.indptr))
    indicated = tuple(int(j) for j in np.unique(columns[missing]))
    fill = np.zeros(n_columns)
    for j in range(n_columns):
        part = slice(X.indptr[j], X.indptr[j + 1])
        seen = ~missing[part]
        values, weights = data[part][seen], entry_weight[part][seen]
        implicit = _implicit_weight(total, entry_weight[part])
        if not weighted:
            fill[j] = _median_with_zeros(values, X.shape[0] - (part.stop - part.start))
        elif len(values) or implicit > 0:
            fill[j] = weighted_percentile(
                np.r_[values, 0.0], np.r_[weights, implicit], (50,)
            )[0]
    if not robust:
        return fill, indicated, None, None
    data[missing] = fill[columns[missing]]
    centre, scale = np.zeros(n_columns), np.ones(n_columns)
    for j in range(n_columns):
        part = slice(X.indptr[j], X.indptr[j + 1])
        values, weights = data[part], entry_weight[part]
        implicit = _implicit_weight(total, weights)
        median, q25, q75 = weighted_percentile(
            np.r_[values, 0.0], np.r_[weights, implicit], (50, 25, 75)
        )
        mean = np.dot(weights, values) / total
        squares = np.dot(weights, (values - mean) ** 2) + implicit * mean**2
        deviation = (q75 - q25) / 1.349
        deviation = deviation if deviation > 0 else np.sqrt(squares / total)
        scale[j] = abs(median) + deviation
        if not scale[j] > 0:
            scale[j] = 1.0
    return fill, indicated, centre, scale


def _median_with_zeros(values: np.ndarray, n_zeros: int) -> float:
    """`np.median` of `values` and `n_zeros` zeros, without making the zeros.

    0 where there are no values at all, as for a dense column.
    """
    n = len(values) + n_zeros
    if n == 0:
        return 0.0
    ordered = np.sort(values)
    n_negative = int(np.searchsorted(ordered, 0.0, side="left"))

    def kth(k):
        if k < n_negative:
            return ordered[k]
        if k < n_negative + n_zeros:
            return 0.0
        return ordered[k - n_zeros]

    if n % 2:
        return float(kth(n // 2))
    # np.median's arithmetic for an even count: the mean of the middle two.
    return float(np.mean(np.array([kth(n // 2 - 1), kth(n // 2)])))


def _implicit_weight(total: float, stored: np.ndarray) -> float:
    """Weight of a sparse column's implicit zeros: all rows' less its stored ones."""
    return max(float(total - stored.sum()), 0.0)


def _frequency_threshold(min_frequency, total: float) -> float:
    """Least count (or total weight) of a category with an input of its own."""
    if min_frequency is None:
        return 0
    if isinstance(min_frequency, Integral):
        return int(min_frequency)
    return min_frequency * total


def _numeric_block(table: Table, numeric: list[int], *, dtype) -> np.ndarray:
    """The numeric columns as one float array (NaN for missing)."""
    if table.numeric is not None:
        block = (
            table.numeric[:, numeric]
            if len(numeric) < table.n_columns
            else (table.numeric)
        )
        return block.astype(dtype, copy=False)
    block = np.empty((table.n_rows, len(numeric)), dtype=dtype)
    for i, j in enumerate(numeric):
        column = table.columns[j]
        if column.dtype.kind == "O":
            raise ValueError(
                f"Column {_column_name(table.names, j)} holds categories or "
                "strings where the model expects numbers."
            )
        block[:, i] = column
    return block


def _categories_of(table: Table, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Column `j` as text (an object array) and its missing-value mask."""
    column = table.column(j)
    if column.dtype.kind == "O":
        absent = np.array([v is None for v in column], dtype=bool)
        return column, absent
    absent = np.isnan(column)
    return _text_column(column.tolist()), absent


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    # pandas.NA, NaT and numpy's NaT: not equal to themselves, or of no truth value.
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return True


def _text_column(values) -> np.ndarray:
    """An object array of str, None where a value is missing."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if _is_missing(v):
            out[i] = None
        elif isinstance(v, (float, np.floating)) and float(v).is_integer():
            out[i] = str(int(v))
        else:
            out[i] = str(v)
    return out


def frame_kind(X) -> str | None:
    """The kind of DataFrame `X` is: "pandas", "polars", or None.

    Examples
    --------
    >>> frame_kind(np.zeros((2, 2))) is None
    True
    """
    module = type(X).__module__.split(".")[0]
    if module == "pandas" and hasattr(X, "dtypes") and hasattr(X, "columns"):
        return "pandas"
    if module == "polars" and hasattr(X, "schema"):
        return "polars"
    return None


def _frame_names(X) -> np.ndarray | None:
    """A DataFrame's column names as strings, else None."""
    if frame_kind(X) is None:
        return None
    return np.asarray([str(c) for c in X.columns], dtype=object)


def _pandas_plain_number(dtype) -> bool:
    return getattr(dtype, "kind", "O") in "iuf"


def _read_columns(X, input_name: str) -> tuple[list, np.ndarray, np.ndarray | None]:
    """Per column: its values (float64 or object of str/None) and whether text."""
    frame = frame_kind(X)
    columns, text = [], []
    if frame == "pandas":
        names = np.asarray([str(c) for c in X.columns], dtype=object)
        for j in range(X.shape[1]):
            series = X.iloc[:, j]
            if _pandas_plain_number(series.dtype):
                columns.append(
                    _finite(
                        series.to_numpy(dtype=np.float64, na_value=np.nan), input_name
                    )
                )
                text.append(False)
            elif str(series.dtype) == "category":
                labels = _text_column(series.cat.categories.to_numpy(dtype=object))
                codes = series.cat.codes.to_numpy()
                values = np.empty(len(codes), dtype=object)
                values[codes >= 0] = labels[codes[codes >= 0]]
                columns.append(values)
                text.append(True)
            elif series.dtype.kind == "M" or series.dtype.kind == "m":
                raise TypeError(
                    f"Column {names[j]!r} holds dates or durations "
                    f"({series.dtype}); convert it to numbers (for example days "
                    "since a reference date) or to categories first."
                )
            else:
                columns.append(_text_column(series.to_numpy(dtype=object)))
                text.append(True)
        return columns, np.array(text, dtype=bool), names
    if frame == "polars":
        names = np.asarray(list(X.columns), dtype=object)
        for j, dtype in enumerate(X.schema.values()):
            series = X.to_series(j)
            if dtype.is_numeric():
                numbers = series.cast(float).to_numpy().astype(np.float64)
                columns.append(_finite(numbers, input_name))
                text.append(False)
            elif dtype.is_temporal():
                raise TypeError(
                    f"Column {names[j]!r} holds dates or durations ({dtype}); "
                    "convert it to numbers or to categories first."
                )
            else:
                columns.append(_text_column(series.to_list()))
                text.append(True)
        return columns, np.array(text, dtype=bool), names
    array = np.asarray(X, dtype=object)
    if array.ndim != 2:
        raise ValueError(
            f"Expected a 2D array, got an array of shape {array.shape}. Reshape "
            "your data with array.reshape(-1, 1) for a single feature."
        )
    for j in range(array.shape[1]):
        values = array[:, j]
        is_text = [isinstance(v, (str, bool, np.bool_)) for v in values]
        if any(is_text):
            numbers = [v for v, t in zip(values, is_text, strict=True) if not t]
            if not all(_is_missing(v) for v in numbers):
                word = next(v for v, t in zip(values, is_text, strict=True) if t)
                raise ValueError(
                    f"Column {j} of {input_name} mixes numbers and strings (such "
                    f"as {word!r}). Pass a column of numbers, or of categories "
                    "(strings) only; in a DataFrame, a column's dtype says which."
                )
            columns.append(_text_column(values))
            text.append(True)
            continue
        try:
            numbers = np.array(
                [np.nan if _is_missing(v) else v for v in values], dtype=np.float64
            )
        except (TypeError, ValueError):
            raise ValueError(
                f"Column {j} of {input_name} holds values that are neither "
                "numbers nor strings."
            ) from None
        columns.append(_finite(numbers, input_name))
        text.append(False)
    return columns, np.array(text, dtype=bool), None


def _finite(numbers: np.ndarray, input_name: str) -> np.ndarray:
    """`numbers`, refused if they hold an infinity (missing values are NaN)."""
    if np.isinf(numbers).any():
        raise ValueError(
            f"Input {input_name} contains infinity or a value too large for "
            "dtype('float64')."
        )
    return numbers


def _column_name(names, j: int) -> str:
    return repr(str(names[j])) if names is not None else str(j)


def _index_list(values, bound: int, what: str) -> tuple:
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v < bound
        for v in values
    ):
        raise ValueError(f"the encoder's {what} must be column positions below {bound}")
    if any(a >= b for a, b in itertools.pairwise(values)):
        raise ValueError(f"the encoder's {what} must be sorted and unique")
    return tuple(values)


def _flag_list(values, length: int, what: str) -> tuple:
    if (
        not isinstance(values, list)
        or len(values) != length
        or not all(isinstance(v, bool) for v in values)
    ):
        raise ValueError(f"the encoder's {what} must be {length} booleans")
    return tuple(values)


def _float_list(values, length: int, what: str) -> np.ndarray:
    if (
        not isinstance(values, list)
        or len(values) != length
        or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        )
    ):
        raise ValueError(f"the encoder's {what} must be {length} numbers")
    array = np.array(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"the encoder's {what} must be finite")
    return array
