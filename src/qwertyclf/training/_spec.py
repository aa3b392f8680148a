"""`FitSpec`: what an estimator asks of the engine, and the rules both engines share.

An estimator validates its hyperparameters, then describes one training run
as a `FitSpec`: the architecture, the optimizer settings, the epochs and
batches, early stopping, the precision, the device and the seed. The serial
engine (`train_serial`) and the batched one (`BatchedTrainer`) take it and
return a `ModelState`. The rules that decide what a run sees are written
once, here: the default validation fraction, the stratified validation
split, the normalisation of row weights, the convergence check and the
choice of the best epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from ._runtime import diverged

#: Fraction of the rows held out for early stopping when none is given.
DEFAULT_VALIDATION_FRACTION = 0.1


@dataclass(frozen=True)
class FitSpec:
    """One training run, as an estimator describes it to the engine.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Validated hidden widths.
    activation : str
        Hidden activation (a name from `qwertyclf._activations.ACTIVATIONS`).
    batch_norm : bool
        Batch normalisation after each hidden linear layer.
    dropout : float
        Dropout probability after each hidden activation.
    optimizer : type of torch.optim.Optimizer
        The optimizer class.
    lr, weight_decay : float
        Learning rate and weight decay.
    batch_size, max_epochs : int
        Rows per mini-batch and passes over the data.
    shuffle : bool
        A new row order every epoch.
    validation_fraction : float or None
        Fraction of the rows held out, already resolved: with early stopping
        and no fraction given it is `DEFAULT_VALIDATION_FRACTION`.
    early_stopping : bool
        Stop when the validation loss has not improved by `tol` for
        `n_iter_no_change` epochs; keep the best epoch's weights.
    n_iter_no_change : int
        Patience, in epochs.
    tol : float
        Smallest decrease of the validation loss that counts.
    dtype : {"float32", "float64"}
        Precision of the network.
    device : torch.device
        Where training runs.
    seed : int
        Seeds the weights, the row orders, dropout and the validation split.
    callbacks : tuple, default=()
        Extra skorch callbacks (the serial engine only).
    verbose : int, default=0
        skorch's per-epoch table (1) and progress bar (2).
    batch_ensemble : int, default=1
        Number of BatchEnsemble members in the network (1: the plain one).
    numeric_embedding : {"pbld", "plr"} or None, default=None
        The embedding of every input column in front of the hidden layers
        (None: none).

    Examples
    --------
    >>> import torch
    >>> spec = FitSpec(
    ...     hidden_layer_sizes=(8,), activation="relu", batch_norm=False,
    ...     dropout=0.0, optimizer=torch.optim.Adam, lr=0.01, weight_decay=0.0,
    ...     batch_size=16, max_epochs=100, shuffle=True,
    ...     validation_fraction=None, early_stopping=False, n_iter_no_change=10,
    ...     tol=1e-4, dtype="float32", device=torch.device("cpu"), seed=0,
    ... )
    >>> spec.widths(2, 3)
    (2, 8, 3)
    """

    hidden_layer_sizes: tuple[int, ...]
    activation: str
    batch_norm: bool
    dropout: float
    optimizer: type[torch.optim.Optimizer]
    lr: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    shuffle: bool
    validation_fraction: float | None
    early_stopping: bool
    n_iter_no_change: int
    tol: float
    dtype: str
    device: torch.device
    seed: int
    callbacks: tuple = field(default=(), compare=False)
    verbose: int = 0
    batch_ensemble: int = 1
    numeric_embedding: str | None = None

    def widths(self, n_features: int, n_classes: int) -> tuple[int, ...]:
        """Input, hidden and output widths of the network."""
        return (n_features, *self.hidden_layer_sizes, n_classes)


def validation_fraction(fraction: float | None, early_stopping: bool) -> float | None:
    """The fraction of rows a run holds out: early stopping needs some.

    Examples
    --------
    >>> validation_fraction(None, True), validation_fraction(None, False)
    (0.1, None)
    """
    if fraction is None and early_stopping:
        return DEFAULT_VALIDATION_FRACTION
    return fraction


def normalised(weight: np.ndarray | None) -> np.ndarray | None:
    """Row weights scaled to mean 1 (unchanged when they sum to zero or are None).

    Examples
    --------
    >>> normalised(np.array([1.0, 3.0]))
    array([0.5, 1.5])
    """
    if weight is None or weight.sum() <= 0:
        return weight
    return weight * (len(weight) / weight.sum())


def can_hold_out(y) -> bool:
    """Whether `split_validation` can hold out rows of `y`: a class has two.

    Every class keeps a training row, so rows of `y` can be held out unless
    each class has a single one.

    Examples
    --------
    >>> can_hold_out(np.array([0, 1] * 10)), can_hold_out(np.array([0] * 19 + [1]))
    (True, True)
    >>> can_hold_out(np.array([0, 1, 2]))
    False
    """
    return bool(len(np.unique(y)) < len(y))


def split_validation(
    y_enc: np.ndarray, weight: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Hold out `fraction` of the rows, stratified by class and seeded.

    Where no stratified split exists (a class with a single row, or fewer
    held-out rows than classes), one row of every class, drawn at random,
    stays in training and the held-out rows are drawn at random from the
    others: a rare class then costs stratification, not early stopping.

    Parameters
    ----------
    y_enc : ndarray of shape (n_samples,)
        Encoded classes.
    weight : ndarray of shape (n_samples,) or None
        Row weights.
    fraction : float
        Fraction held out (rounded up to whole rows).
    seed : int
        Seeds the split.

    Returns
    -------
    train, valid : ndarray of int
        Row positions, in the split's order.
    train_weight, valid_weight : ndarray or None
        The rows' weights; the validation weights normalised to mean 1, so
        `valid_loss` measures the loss that training minimises.

    Raises
    ------
    ValueError
        When every class has a single row: nothing can be held out.

    Examples
    --------
    >>> train, valid, _, _ = split_validation(np.array([0, 1] * 10), None, 0.2, 0)
    >>> len(train), len(valid)
    (16, 4)
    >>> y = np.array([0] * 9 + [1])  # class 1 has one row: it stays in training
    >>> train, valid, _, _ = split_validation(y, None, 0.2, 0)
    >>> len(train), len(valid), 9 in train
    (8, 2, True)
    """
    index = np.arange(len(y_enc))
    try:
        train, valid = train_test_split(
            index, test_size=fraction, stratify=y_enc, random_state=seed
        )
    except ValueError:
        train, valid = _split_keeping_every_class(y_enc, fraction, seed)
    if weight is None:
        return train, valid, None, None
    return train, valid, weight[train], normalised(weight[valid])


def _split_keeping_every_class(
    y_enc: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out rows at random, leaving one row of every class in training."""
    if not can_hold_out(y_enc):
        raise ValueError(
            f"Cannot hold out validation_fraction={fraction} of the rows: every "
            "class has a single row, which training needs. Pass "
            "validation_data=(X_val, y_val) or use more samples per class."
        )
    order = np.random.RandomState(seed).permutation(len(y_enc))
    _, kept = np.unique(y_enc[order], return_index=True)
    spare = np.delete(order, kept)
    valid = spare[: int(np.ceil(fraction * len(y_enc)))]
    return order[~np.isin(order, valid)], valid


def best_epoch(history: Sequence[dict], stopped_at: int | None = None) -> int:
    """The epoch (1-based) whose weights a run keeps.

    The epoch early stopping restored if it did (`stopped_at`), else the one
    with the lowest validation loss, or training loss without validation.

    Examples
    --------
    >>> best_epoch([{"train_loss": 0.5}, {"train_loss": 0.3}, {"train_loss": 0.4}])
    2
    """
    if stopped_at is not None:
        return int(stopped_at)
    key = "valid_loss" if "valid_loss" in history[-1] else "train_loss"
    losses = [row.get(key, np.inf) for row in history]
    return int(np.argmin(losses)) + 1


def check_converged(loss: float, finite: bool, n_classes: int, lr: float) -> None:
    """Refuse a run whose training blew up.

    A mean cross-entropy 100 times that of a uniform guess, or non-finite
    outputs, only happen when training diverged.

    Examples
    --------
    >>> check_converged(0.3, True, 3, 0.01)
    >>> check_converged(float("nan"), True, 3, 0.01)
    Traceback (most recent call last):
    ...
    ValueError: Training diverged: ...
    """
    if finite and loss <= 100 * math.log(n_classes):
        return
    raise diverged(
        f"the last epoch's training loss is {loss:.3g} and the network's outputs "
        f"are {'finite' if finite else 'not finite'}",
        lr,
    )
