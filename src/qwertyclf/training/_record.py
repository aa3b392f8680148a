"""The epoch record: a history row as skorch's loop and default callbacks write it.

Both engines record each epoch in the same row: one entry per mini-batch and
per validation chunk (`batch_entries`), the epoch means weighted by batch
size (`epoch_mean`, `epoch_means` for many models at once, with the same
arithmetic), and whether each score is the best so far (`BestScores`,
skorch's `*_best` flags). The serial engine writes them through skorch's
history and its scoring callbacks (`_net.py`), the batched engine builds the
whole row (`epoch_row`); a new history key is added here, once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from skorch.history import History

from ._runtime import collector_paused


def batch_entries(prefix: str, losses: Sequence[float], sizes: Sequence[int]) -> list:
    """The history's per-batch entries of one pass: loss and rows of each batch.

    Examples
    --------
    >>> batch_entries("train", [0.5, 0.25], [16, 4])[1]
    {'train_loss': 0.25, 'train_batch_size': 4}
    """
    loss_key, size_key = prefix + "_loss", prefix + "_batch_size"
    return [
        {loss_key: loss, size_key: size}
        for loss, size in zip(losses, sizes, strict=True)
    ]


def epoch_mean(scores: Sequence[float], sizes: Sequence[int]) -> np.float64:
    """The epoch's score: the batch scores' mean weighted by batch size.

    What skorch's `PassthroughScoring` records (`np.average`).

    Examples
    --------
    >>> float(epoch_mean([0.5, 0.25], [16, 4]))
    0.45
    """
    return np.average(scores, weights=sizes)


def size_groups(sizes: Sequence[Sequence[int]]) -> list:
    """Models grouped by their number of batches, with their batch sizes.

    A list of (model indices, (models, batches) array of batch sizes), one
    entry per distinct number of batches: the weights `epoch_means` takes.

    Examples
    --------
    >>> [(m.tolist(), w.tolist()) for m, w in size_groups([[2, 1], [3], [2, 2]])]
    [([0, 2], [[2, 1], [2, 2]]), ([1], [[3]])]
    """
    groups: dict = {}
    for k, row in enumerate(sizes):
        groups.setdefault(len(row), []).append(k)
    return [
        (np.array(members), np.array([sizes[k] for k in members]))
        for members in groups.values()
    ]


def epoch_means(values: np.ndarray, groups: list) -> np.ndarray:
    """Each model's `epoch_mean` of its row of `values`, for many models at once.

    The arithmetic of `np.average(row, weights=sizes)` (the product summed,
    divided by the summed weights, in float64), row by row, so each mean is
    bitwise the one a serial fit records; one call per group of
    `size_groups`, not per model.

    Examples
    --------
    >>> epoch_means(np.array([[0.5, 0.25], [1.0, 0.0]]), size_groups([[16, 4], [1, 1]]))
    array([0.45, 0.5 ])
    """
    means = np.empty(len(values))
    for members, weights in groups:
        part = values[members, : weights.shape[1]]
        means[members] = np.multiply(part, weights, dtype=np.float64).sum(
            1
        ) / weights.sum(1, dtype=np.float64)
    return means


def improves(score: float, best: float, *, higher: bool = False) -> bool:
    """Whether `score` is strictly better than `best`, as skorch's scorings decide.

    Examples
    --------
    >>> improves(0.3, 0.4), improves(0.4, 0.4), improves(0.9, 0.8, higher=True)
    (True, False, True)
    """
    return bool(score > best if higher else score < best)


class BestScores:
    """One model's best score of each name so far: skorch's `*_best` flags.

    Examples
    --------
    >>> best, row = BestScores(), {}
    >>> best.record(row, "valid_loss", 0.5)
    0.5
    >>> best.record(row, "valid_acc", 0.9, higher=True)
    0.9
    >>> row["valid_loss_best"], row["valid_acc_best"]
    (True, True)
    """

    def __init__(self):
        self.best: dict[str, float] = {}

    def record(self, row: dict, name: str, score: float, *, higher=False) -> float:
        """Write `score` and whether it is the best yet into `row`; return it."""
        best = self.best.get(name, -math.inf if higher else math.inf)
        is_best = improves(score, best, higher=higher)
        if is_best:
            self.best[name] = score
        row[name] = score
        row[name + "_best"] = is_best
        return score


def epoch_row(
    epoch: int,
    train_losses: Sequence[float] | None,
    train_sizes: Sequence[int],
    train_acc: float,
    duration: float,
    valid_losses: Sequence[float] | None = None,
    valid_sizes: Sequence[int] | None = None,
) -> dict:
    """The history row of one epoch, before its epoch scores are recorded.

    The keys a serial fit's row has by then: the batches (training, then
    validation), the epoch, the training accuracy, the batch counts and the
    duration. With `train_losses=None` the batches are left out (an empty
    list) for `add_batches` to fill later.

    Examples
    --------
    >>> row = epoch_row(1, [0.5], [16], 0.75, 0.01)
    >>> sorted(row)
    ['batches', 'dur', 'epoch', 'train_acc', 'train_batch_count']
    """
    row = {
        "batches": [],
        "epoch": epoch,
        "train_acc": train_acc,
        "train_batch_count": len(train_sizes),
    }
    if valid_sizes is not None:
        row["valid_batch_count"] = len(valid_sizes)
    row["dur"] = duration
    if train_losses is not None:
        add_batches(row, train_losses, train_sizes, valid_losses, valid_sizes)
    return row


def add_batches(row, train_losses, train_sizes, valid_losses=None, valid_sizes=None):
    """Write one epoch's per-batch entries (training, then validation) into `row`.

    Examples
    --------
    >>> row = epoch_row(1, None, [16, 4], 0.75, 0.01)
    >>> add_batches(row, [0.5, 0.25], [16, 4])
    >>> len(row["batches"]), row["batches"][1]["train_loss"]
    (2, 0.25)
    """
    row["batches"] += batch_entries("train", train_losses, train_sizes)
    if valid_sizes is not None:
        row["batches"] += batch_entries("valid", valid_losses, valid_sizes)


class EpochRecord:
    """One model's history as a batched run records it, epoch by epoch.

    Each epoch's row and its scores are written at once (`epoch`,
    `best.record`); its per-batch entries, many small dicts, are kept as
    arrays and written when the run ends (`history`), with Python's cyclic
    garbage collector paused (`collector_paused`).

    Parameters
    ----------
    train_sizes : list of int
        Rows of each training batch (the same every epoch).
    valid_sizes : list of int, default=None
        Rows of each validation chunk, or None without validation.

    Examples
    --------
    >>> record = EpochRecord([16, 4])
    >>> row = record.epoch(1, np.array([0.5, 0.25]), 0.75, 0.01)
    >>> record.best.record(row, "train_loss", 0.45)
    0.45
    >>> history = record.history()
    >>> history[-1, "train_loss"], len(history[-1, "batches"])
    (0.45, 2)
    """

    def __init__(self, train_sizes, valid_sizes=None):
        self.train_sizes = train_sizes
        self.valid_sizes = valid_sizes
        self.best = BestScores()
        self._history = History()
        self._pending: list = []

    def epoch(self, epoch, train_losses, train_acc, duration, valid_losses=None):
        """Append the row of `epoch` (its batches to come); return the row."""
        row = epoch_row(
            epoch, None, self.train_sizes, train_acc, duration, None, self.valid_sizes
        )
        self._history.append(row)
        self._pending.append((row, train_losses, valid_losses))
        return row

    def history(self) -> History:
        """The skorch `History`, every row with its per-batch entries."""
        if self._pending:
            with collector_paused():
                for row, train_losses, valid_losses in self._pending:
                    add_batches(
                        row,
                        np.asarray(train_losses).tolist(),
                        self.train_sizes,
                        valid_losses,
                        self.valid_sizes,
                    )
            self._pending = []
        return self._history
