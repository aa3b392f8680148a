"""Per-class accuracy and a plain-text accuracy table.

A classifier is best judged by its accuracy on each class next to the overall
accuracy; [`per_class_accuracy`][qwertyclf.metrics.per_class_accuracy] computes both
for labels of any type, and
[`format_accuracy_table`][qwertyclf.metrics.format_accuracy_table] turns the result
into the table the command line prints, optionally next to a reference such as the
Bayes-optimal accuracy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import precision_recall_fscore_support
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.multiclass import unique_labels

from qwertyclf._reference import as_key, reference_overall, reference_per_class

__all__ = ["PerClassAccuracy", "format_accuracy_table", "per_class_accuracy"]


class PerClassAccuracy(Mapping):
    """Accuracy per class, with the overall accuracy and the class supports.

    A read-only mapping from class label to the fraction of that class's samples
    that were predicted correctly (the recall of the class), as returned by
    [`per_class_accuracy`][qwertyclf.metrics.per_class_accuracy]. Iterating yields
    the labels in `classes` order; `dict(result)` gives a plain dictionary.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        Class labels, in display order.
    accuracy : array-like of shape (n_classes,)
        Accuracy of each class; `nan` for a class without samples in `y_true`.
    support : array-like of shape (n_classes,)
        Number of samples of each class in `y_true`.
    overall : float
        Fraction of all samples predicted correctly.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        Class labels.
    accuracy : ndarray of shape (n_classes,)
        Accuracy per class, aligned with `classes`.
    support : ndarray of shape (n_classes,)
        Samples per class, aligned with `classes`.
    overall : float
        Overall accuracy.

    Examples
    --------
    >>> from qwertyclf.metrics import PerClassAccuracy
    >>> acc = PerClassAccuracy(["cat", "dog"], [1.0, 0.5], [2, 2], overall=0.75)
    >>> acc["dog"], acc.overall
    (0.5, 0.75)
    >>> dict(acc)
    {'cat': 1.0, 'dog': 0.5}
    """

    def __init__(
        self,
        classes: ArrayLike,
        accuracy: ArrayLike,
        support: ArrayLike,
        overall: float,
    ) -> None:
        self.classes = np.asarray(classes)
        self.accuracy = np.asarray(accuracy, dtype=float)
        self.support = np.asarray(support, dtype=int)
        self.overall = float(overall)
        if not (len(self.classes) == len(self.accuracy) == len(self.support)):
            raise ValueError(
                "classes, accuracy and support must have the same length; got "
                f"{len(self.classes)}, {len(self.accuracy)} and {len(self.support)}."
            )
        # Python scalars as keys, so that `acc[3]` and `acc["a"]` work whatever
        # numpy dtype the labels came in.
        self._index = {label: i for i, label in enumerate(self.classes.tolist())}

    def __getitem__(self, label: Any) -> float:
        return float(self.accuracy[self._index[as_key(label)]])

    def __iter__(self) -> Iterator[Any]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        per_class = ", ".join(f"{k!r}: {v:.4g}" for k, v in self.items())
        return (
            f"PerClassAccuracy(overall={self.overall:.4g}, per_class={{{per_class}}})"
        )

    def __str__(self) -> str:
        return format_accuracy_table(self)


def per_class_accuracy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    labels: ArrayLike | None = None,
) -> PerClassAccuracy:
    """Accuracy on each class and overall.

    The accuracy of class `c` is the fraction of samples whose true label is `c`
    that were predicted as `c`, also called the recall of `c`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, of any type (ints, strings, ...).
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like of shape (n_classes,), default=None
        Classes to report, in this order. By default the sorted union of the labels
        in `y_true` and `y_pred`. A class absent from `y_true` gets accuracy `nan`
        and support 0.

    Returns
    -------
    PerClassAccuracy
        Mapping from label to accuracy, with `overall`, `accuracy` (array) and
        `support` attributes.

    Raises
    ------
    ValueError
        If `y_true` and `y_pred` differ in length, are empty, or `labels` is empty.

    Examples
    --------
    >>> from qwertyclf.metrics import per_class_accuracy
    >>> acc = per_class_accuracy([3, 3, 5, 7], [3, 5, 5, 7])
    >>> acc
    PerClassAccuracy(overall=0.75, per_class={3: 0.5, 5: 1, 7: 1})
    >>> acc[3], acc.support.tolist()
    (0.5, [2, 1, 1])
    """
    y_true = column_or_1d(y_true, dtype=None)
    y_pred = column_or_1d(y_pred, dtype=None)
    check_consistent_length(y_true, y_pred)
    if len(y_true) == 0:
        raise ValueError("y_true and y_pred are empty; need at least one sample.")
    classes = unique_labels(y_true, y_pred) if labels is None else np.asarray(labels)
    if classes.ndim != 1 or len(classes) == 0:
        raise ValueError("labels must be a non-empty 1d array of class labels.")

    # A class's accuracy is its recall; an absent class has none (nan).
    _, accuracy, _, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, average=None, zero_division=np.nan
    )
    overall = float(np.mean(y_true == y_pred))
    return PerClassAccuracy(classes, accuracy, support, overall=overall)


def format_accuracy_table(
    accuracy: PerClassAccuracy,
    *,
    reference: Any = None,
    reference_name: str = "Bayes",
    digits: int = 1,
) -> str:
    """Format per-class accuracy as a plain-text table.

    One row per class with its support and accuracy, then an `overall` row; with a
    `reference`, an extra column shows it next to each value.

    Parameters
    ----------
    accuracy : PerClassAccuracy
        Result of [`per_class_accuracy`][qwertyclf.metrics.per_class_accuracy].
    reference : PerClassAccuracy, mapping, array-like or float, default=None
        Reference accuracy to compare with, such as the Bayes-optimal one: a
        mapping label → accuracy, an array aligned with `accuracy.classes`, an
        object with `per_class` and/or `overall` attributes, or a single number
        (shown on the overall row only).
    reference_name : str, default="Bayes"
        Header of the reference column.
    digits : int, default=1
        Decimals of the percentages.

    Returns
    -------
    str
        The table, without a trailing newline.

    Examples
    --------
    >>> from qwertyclf.metrics import format_accuracy_table, per_class_accuracy
    >>> acc = per_class_accuracy(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    >>> print(format_accuracy_table(acc, reference={"a": 0.9, "b": 0.95}))
    class    support  accuracy   Bayes
    a              2     50.0%   90.0%
    b              2    100.0%   95.0%
    overall        4     75.0%       -
    """
    classes = accuracy.classes
    ref_per_class = reference_per_class(reference, classes)
    ref_overall = reference_overall(reference)
    has_ref = ref_per_class is not None or ref_overall is not None

    def pct(value: float | None) -> str:
        if value is None or np.isnan(value):
            return "-"
        return f"{100 * value:.{digits}f}%"

    header = ["class", "support", "accuracy"]
    rows = []
    for i, label in enumerate(classes.tolist()):
        row = [str(label), str(accuracy.support[i]), pct(accuracy.accuracy[i])]
        if has_ref:
            row.append(pct(None if ref_per_class is None else ref_per_class[i]))
        rows.append(row)
    overall = ["overall", str(accuracy.support.sum()), pct(accuracy.overall)]
    if has_ref:
        header.append(reference_name)
        overall.append(pct(ref_overall))
    rows.append(overall)

    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
    widths = [max(w, 8) for w in widths]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append(" ".join(cells).rstrip())
    return "\n".join(lines)


def __dir__() -> list[str]:
    """The public names, not the private modules and helpers behind them."""
    return sorted(__all__)
