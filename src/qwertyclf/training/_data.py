"""The data front-end: from checked inputs to the rows and row weights of a run.

Every fit, serial or batched, direct or inside a search, the CV or the
ensemble, describes what its network trains and validates on through
`fit_rows`: which rows train, which validate (a given set of rows, or a
stratified `validation_fraction` of the training rows), and the weight of
each. The weighting rule is written once, in `Weighting`: a row's weight is
its sample weight times its class's weight, scaled to mean 1 over the rows
weighed together, for validation rows exactly as for training rows, however
the validation rows were given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import _check_sample_weight

from ._inference import largest_value
from ._net import SparseRows, TensorDataset
from ._spec import normalised, split_validation


def check_n_classes(classes, owner: str = "QwertyClassifier") -> None:
    """Refuse training data of fewer than two classes.

    Examples
    --------
    >>> check_n_classes(np.array([0, 1]))
    >>> check_n_classes(np.array(["a"]))
    Traceback (most recent call last):
    ...
    ValueError: QwertyClassifier needs samples of at least 2 classes ...
    """
    if len(classes) < 2:
        raise ValueError(
            f"{owner} needs samples of at least 2 classes in the "
            f"data, but the data contains only 1 class: {classes[0]!r}."
        )


@dataclass(frozen=True)
class Weighting:
    """The weight of each row of a run: sample weight times class weight, mean 1.

    Parameters
    ----------
    class_weights : ndarray of shape (n_classes,) or None
        Weight of each encoded class (None: every class weighs 1). Computed
        from the training rows (`weighting`) and applied to validation rows
        alike.

    Examples
    --------
    >>> rule = Weighting(np.array([1.0, 3.0]))
    >>> rule(np.array([0, 1, 1]))
    array([0.42857143, 1.28571429, 1.28571429])
    >>> rule(np.array([0, 1]), np.array([3.0, 1.0]))
    array([1., 1.])
    """

    class_weights: np.ndarray | None = None

    def __call__(self, y_enc: np.ndarray, sample_weight=None) -> np.ndarray | None:
        """The weights of rows of classes `y_enc`, with their `sample_weight`.

        None when every row counts the same (the fastest path); weights that
        sum to zero are returned unscaled.
        """
        if self.class_weights is None:
            return normalised(sample_weight)
        weight = self.class_weights[y_enc]
        if sample_weight is not None:
            weight = sample_weight * weight
        return normalised(weight)


def weighting(
    class_weight, y: np.ndarray, y_enc: np.ndarray, n_classes: int
) -> Weighting:
    """The weighting rule of a run whose training rows have labels `y`.

    Parameters
    ----------
    class_weight : dict, "balanced" or None
        As `QwertyClassifier` takes it; "balanced" counts the classes of `y`.
    y : ndarray of shape (n_samples,)
        Training labels.
    y_enc : ndarray of shape (n_samples,)
        The same labels encoded (indices into the run's classes).
    n_classes : int
        Classes of the run; a class absent from `y` weighs 1.

    Examples
    --------
    >>> weighting("balanced", np.array(["a", "b", "b"]), np.array([0, 1, 1]), 2)
    Weighting(class_weights=array([1.5 , 0.75]))
    """
    if class_weight is None:
        return Weighting()
    per_class = np.ones(n_classes)
    per_class[y_enc] = compute_sample_weight(class_weight, y)
    return Weighting(per_class)


@dataclass
class RunData:
    """The rows one model of a run trains and validates on.

    Parameters
    ----------
    train : ndarray of int
        Training row indices into the run's `X`, in order.
    valid : ndarray of int or None
        Validation row indices.
    weight, valid_weight : ndarray or None
        Row weights (mean 1) of the training and validation rows.
    weighting : Weighting, default=Weighting()
        The rule that gave them, for validation rows given apart from `X`.

    Examples
    --------
    >>> import numpy as np
    >>> RunData(train=np.arange(10)).valid is None
    True
    """

    train: np.ndarray
    valid: np.ndarray | None = None
    weight: np.ndarray | None = None
    valid_weight: np.ndarray | None = None
    weighting: Weighting = Weighting()


def fit_rows(
    y: np.ndarray,
    y_enc: np.ndarray,
    n_classes: int,
    *,
    class_weight=None,
    sample_weight=None,
    rows: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    fraction: float | None = None,
    seed: int = 0,
) -> RunData:
    """What one model trains and validates on, and the weight of each row.

    The one front-end of every fit: the training rows' weights (sample
    weight times class weight, mean 1), the validation rows, given (`valid`)
    or held out (a stratified `fraction` of the training rows, seeded by
    `seed`), and their weights by the same rule (`Weighting`).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels of all rows.
    y_enc : ndarray of shape (n_samples,)
        The labels encoded: indices into the run's `n_classes` classes.
    n_classes : int
        Classes of the run.
    class_weight : dict, "balanced" or None, default=None
        Class weights, "balanced" counted over the training rows.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights of all rows.
    rows : ndarray of int, default=None
        The model's rows (None: all); with `fraction`, the validation rows
        are held out of them.
    valid : ndarray of int, default=None
        Validation rows given by the caller (a fold's held-out rows).
    fraction : float, default=None
        Fraction of `rows` held out when `valid` is None.
    seed : int, default=0
        Seeds the held-out split.

    Returns
    -------
    data : RunData
        Row indices into `y` and their weights (None where every row counts
        the same).

    Examples
    --------
    >>> y = np.array([0, 1] * 10)
    >>> data = fit_rows(y, y, 2, class_weight={0: 1.0, 1: 3.0}, fraction=0.2)
    >>> len(data.train), len(data.valid), data.valid_weight
    (16, 4, array([0.5, 1.5, 0.5, 1.5]))
    """
    train_sw = sample_weight
    if rows is None:
        rows = np.arange(len(y_enc))
    else:
        rows = np.asarray(rows, dtype=np.intp)
        if sample_weight is not None:
            train_sw = np.asarray(sample_weight)[rows]
    if train_sw is not None:
        # The training rows' weights are checked: all zero is refused.
        train_sw = _check_sample_weight(
            train_sw, rows, dtype=np.float64, ensure_non_negative=True
        )
    rule = weighting(class_weight, y[rows], y_enc[rows], n_classes)
    weight = rule(y_enc[rows], train_sw)
    if weight is not None and weight.sum() <= 0:
        raise ValueError(
            "Sample weights must contain at least one non-zero weight; "
            "all rows have weight zero."
        )
    if valid is not None:
        valid = np.asarray(valid, dtype=np.intp)
        valid_sw = None
        if sample_weight is not None:
            valid_sw = np.asarray(sample_weight, dtype=np.float64)[valid]
        return RunData(rows, valid, weight, rule(y_enc[valid], valid_sw), rule)
    if fraction is None:
        return RunData(rows, weight=weight, weighting=rule)
    train, held, weight, valid_weight = split_validation(
        y_enc[rows], weight, fraction, seed
    )
    return RunData(rows[train], rows[held], weight, valid_weight, rule)


def _as_float(X, dtype: str):
    """A C-contiguous, writable view or copy of `X` with the given dtype.

    A sparse `X` stays sparse (CSR), converted to `dtype` if it has another.
    """
    if sparse.issparse(X):
        converted = X.astype(dtype, copy=False)
        converted = converted if converted.format == "csr" else converted.tocsr()
        values = converted.data
    else:
        converted = np.asarray(X, dtype=dtype, order="C")
        values = converted
    # X is finite (validated), so an infinity here is a float32 overflow.
    if values.size and not np.isfinite(values.min() + values.max()):
        raise ValueError(
            f"X holds values up to {largest_value(X):.3g}, beyond the {dtype} "
            "range the network computes in. Scale the features (for example "
            "with StandardScaler) or use dtype='float64'."
        )
    if sparse.issparse(converted) or converted.flags.writeable:
        return converted
    return converted.copy()


def as_tensor(X, device: torch.device, dtype: str):
    """`X` as a tensor on `device`; a sparse `X` as `SparseRows` (kept sparse).

    The rows a run trains on, in the precision it computes in. An infinity
    the conversion makes (a float32 overflow) is refused with what to do.

    Examples
    --------
    >>> as_tensor(np.eye(2), torch.device("cpu"), "float32").dtype
    torch.float32
    """
    if sparse.issparse(X):
        return SparseRows(_as_float(X, dtype), device=device)
    return torch.from_numpy(_as_float(X, dtype)).to(device)


def as_dataset(X, y_enc, weight, device: torch.device, dtype: str) -> TensorDataset:
    """Rows, encoded labels and row weights (or None) as one run's dataset.

    Examples
    --------
    >>> cpu = torch.device("cpu")
    >>> data = as_dataset(np.eye(2), np.array([0, 1]), None, cpu, "float64")
    >>> data.X.dtype, data.y.dtype, data.sample_weight
    (torch.float64, torch.int64, None)
    """
    return TensorDataset(
        as_tensor(X, device, dtype),
        torch.as_tensor(y_enc, dtype=torch.long, device=device),
        None if weight is None else as_tensor(weight, device, dtype),
    )
