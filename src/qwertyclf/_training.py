"""The fast training path inside skorch.

skorch's generic loop pays, for every mini-batch, a `Dataset.__getitem__` per
row, a collate, a host sync for the loss, two history writes and a dispatch to
every callback. For small tabular networks that bookkeeping costs several
times the arithmetic. `QwertySkorchNet` keeps skorch's fit loop, history,
callbacks and checkpointing, and replaces only what happens inside an epoch:

* the data is converted to tensors once, on the target device
  (`TensorDataset`), and batches are slices of a seeded permutation
  (`TensorBatches`);
* losses and hits are accumulated on the device, with one host sync per epoch;
* callbacks are called per batch only when one of them defines a batch hook;
* plain MLPs are differentiated by hand (`PlainMLPStep`), others by autograd.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EpochTimer, PrintLog
from skorch.dataset import Dataset
from skorch.utils import TeeGenerator
from torch import nn
from torch.nn import functional as F

from ._backprop import PlainMLPStep
from ._fused_step import lean_step

#: Rows per forward pass when nothing is being learned (validation, predict).
INFERENCE_CHUNK = 8192

#: Below this many activations per batch (rows x widest layer), a training
#: step runs on one thread: waking a second one costs more than it saves, and
#: far more when another process holds the other core.
SMALL_BATCH_WORK = 2**16

#: Data up to this size is shuffled by copying it in a new order once per
#: epoch (fastest for small data); larger data gathers each batch on its own,
#: so training never holds a second copy of it.
COPY_PER_EPOCH_BYTES = 2**24

_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")


@contextlib.contextmanager
def training_threads(batch_size: int, widths: Sequence[int]):
    """Run the block with one intra-op thread if the batches are small.

    Parameters
    ----------
    batch_size : int
        Rows per training batch.
    widths : sequence of int
        Input, hidden and output widths of the network.

    Examples
    --------
    >>> import torch
    >>> with training_threads(16, (2, 8, 3)):
    ...     torch.get_num_threads()
    1
    """
    previous = torch.get_num_threads()
    small = batch_size * max(widths) < SMALL_BATCH_WORK
    if small and previous != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def diverged(what: str, lr: float) -> ValueError:
    """The error for a training run that blew up, with what to try instead.

    Examples
    --------
    >>> print(diverged("the training loss is nan", 10.0))
    Training diverged: the training loss is nan. Lower the learning rate (lr=10.0), ...
    """
    return ValueError(
        f"Training diverged: {what}. Lower the learning rate (lr={lr}), scale the "
        "features (for example with StandardScaler in a Pipeline) or add weight "
        "decay."
    )


class TensorDataset(Dataset):
    """Features, encoded targets and optional row weights, held as tensors.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        Features, already on the training device.
    y : torch.Tensor of shape (n_samples,), default=None
        Class indices (int64).
    sample_weight : torch.Tensor of shape (n_samples,), default=None
        Row weights with mean 1, or None for unweighted training.

    Examples
    --------
    >>> import torch
    >>> data = TensorDataset(torch.zeros(5, 2), torch.zeros(5, dtype=torch.long))
    >>> len(data), data[0][1].item()
    (5, 0)
    """

    def __init__(self, X, y=None, sample_weight=None):
        super().__init__(X, y, length=len(X))
        self.sample_weight = sample_weight

    def __getitem__(self, i):
        y = self.y[i] if self.y is not None else torch.zeros((), dtype=torch.long)
        return self.X[i], y

    def tensors(self) -> list[torch.Tensor]:
        """The tensors a batch is sliced from: X, then y and weights if present."""
        return [t for t in (self.X, self.y, self.sample_weight) if t is not None]


class TensorBatches:
    """Iterate over a `TensorDataset` in contiguous mini-batches.

    With `shuffle=True` each pass draws a new row order from `generator`. Small
    data is gathered once in that order and batches are views of consecutive
    slices; large data is gathered batch by batch. Either way there is no
    per-row indexing and no collate.

    Parameters
    ----------
    dataset : TensorDataset
        The data to iterate over.
    batch_size : int
        Rows per batch; the last batch may be smaller.
    shuffle : bool, default=False
        Draw a new row order for every pass.
    generator : torch.Generator, default=None
        Source of the row orders (CPU generator).
    min_last : int, default=1
        A last batch smaller than this joins the one before it (batch norm
        cannot train on a single row).

    Examples
    --------
    >>> import torch
    >>> data = TensorDataset(torch.arange(10.0).reshape(5, 2),
    ...                      torch.arange(5))
    >>> [len(xb) for xb, yb in TensorBatches(data, batch_size=2)]
    [2, 2, 1]
    """

    def __init__(self, dataset, batch_size, shuffle=False, generator=None, min_last=1):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.min_last = min_last

    def _sizes(self) -> list[int]:
        n, size = len(self.dataset), self.batch_size
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
        if len(sizes) > 1 and sizes[-1] < self.min_last:
            sizes[-2] += sizes.pop()
        return sizes

    def __len__(self) -> int:
        return len(self._sizes())

    def __iter__(self):
        tensors = self.dataset.tensors()
        sizes = self._sizes()
        if not self.shuffle:
            batches = _split(tensors, sizes)
        else:
            order = torch.randperm(len(self.dataset), generator=self.generator)
            order = order.to(tensors[0].device)
            if sum(t.nbytes for t in tensors) <= COPY_PER_EPOCH_BYTES:
                batches = _split([t.index_select(0, order) for t in tensors], sizes)
            else:
                batches = (
                    tuple(t.index_select(0, rows) for t in tensors)
                    for rows in order.split(sizes)
                )
        if self.dataset.y is not None:
            yield from batches
        else:
            # skorch unpacks every batch as (X, y).
            for (xb,) in batches:
                yield xb, None


def _split(tensors, sizes):
    """Batches as views: one `split` per tensor makes all of them at once."""
    return zip(*(t.split(sizes) for t in tensors), strict=True)


class QwertySkorchNet(NeuralNetClassifier):
    """A `skorch.NeuralNetClassifier` with a fast epoch for tensor data.

    Everything skorch offers stays: `initialize`, `fit`, `partial_fit`,
    history, callbacks (`EarlyStopping`, `LRScheduler`, `Checkpoint`,
    `ProgressBar`, `EpochScoring`, ...). Only the body of an epoch over a
    `TensorDataset` is replaced; other data goes through skorch unchanged.

    Each epoch records `train_loss`, `train_acc` (mean cross-entropy and
    accuracy over the epoch's batches) and, with validation data,
    `valid_loss` and `valid_acc`, plus `*_loss_best` flags as skorch does.

    Parameters
    ----------
    *args, **kwargs
        As for `skorch.NeuralNetClassifier`.
    seed : int, default=0
        Seed of the generator that orders the training rows.

    Examples
    --------
    >>> import numpy as np
    >>> from qwertyclf import QwertyNet
    >>> X = np.random.RandomState(0).normal(size=(40, 2)).astype("float32")
    >>> y = (X[:, 0] > 0).astype("int64")
    >>> net = QwertySkorchNet(QwertyNet, module__n_classes=2, max_epochs=2,
    ...                       train_split=None, verbose=0).fit(X, y)
    >>> len(net.history)
    2
    """

    def __init__(self, *args, seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.seed = seed

    @property
    def _default_callbacks(self):
        # Losses and accuracies are recorded by `run_single_epoch` itself. The
        # epoch table is only built when it is shown: formatting it costs more
        # than a whole epoch of a small network.
        callbacks = [("epoch_timer", EpochTimer())]
        if self.verbose:
            callbacks.append(("print_log", PrintLog()))
        return callbacks

    def initialize(self):
        """Initialize module, optimizer, callbacks and the row-order generator."""
        super().initialize()
        self.generator_ = torch.Generator().manual_seed(self.seed)
        return self

    def get_dataset(self, X, y=None):
        """Wrap arrays and tensors in a `TensorDataset`; defer the rest to skorch."""
        if isinstance(X, Dataset):
            return X
        if isinstance(X, (np.ndarray, torch.Tensor)) and X.dtype != object:
            dtype = next(self.module_.parameters()).dtype
            X = torch.as_tensor(X, dtype=dtype, device=self.device)
            if y is not None:
                y = torch.as_tensor(y, dtype=torch.long, device=self.device)
            return TensorDataset(X, y)
        return super().get_dataset(X, y)

    def get_iterator(self, dataset, training=False):
        """Slice `TensorDataset`s into batches; use skorch's loaders otherwise."""
        if not isinstance(dataset, TensorDataset):
            return super().get_iterator(dataset, training=training)
        if training:
            has_batch_norm = any(
                isinstance(m, nn.modules.batchnorm._BatchNorm)
                for m in self.module_.modules()
            )
            return TensorBatches(
                dataset,
                batch_size=self.batch_size,
                shuffle=self.get_params_for("iterator_train").get("shuffle", False),
                generator=self.generator_,
                min_last=2 if has_batch_norm else 1,
            )
        return TensorBatches(dataset, batch_size=max(self.batch_size, INFERENCE_CHUNK))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Mean cross-entropy of logits `y_pred` against class indices."""
        return F.cross_entropy(y_pred, torch.as_tensor(y_true, device=y_pred.device))

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One pass over `iterator`, training or evaluating, then record stats."""
        if not isinstance(iterator, TensorBatches):
            super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
            self._record_from_batches(prefix)
            return
        hooks = self._callback_hooks()
        module = self.module_
        module.train(training)
        step = self._train_batch_fn() if training else None
        if not training:
            grad_mode = torch.inference_mode()
        elif step.manual:
            grad_mode = torch.no_grad()
        else:
            grad_mode = torch.enable_grad()
        # Logits stay on the device; loss and accuracy are computed once, at
        # the end of the epoch, from all of them.
        outputs, targets = [], []
        with grad_mode:
            for batch in iterator:
                xb, yb = batch[0], batch[1]
                if hooks:
                    self.notify("on_batch_begin", batch=batch, training=training)
                logits = step(batch, hooks) if training else module(xb)
                outputs.append(logits.detach())
                targets.append(yb)
                if hooks:
                    batch_loss = F.cross_entropy(outputs[-1], yb)
                    self.history.record_batch(prefix + "_loss", batch_loss.item())
                    self.history.record_batch(prefix + "_batch_size", len(yb))
                    self.notify(
                        "on_batch_end",
                        batch=batch,
                        training=training,
                        loss=batch_loss,
                        y_pred=logits,
                    )
        with torch.inference_mode():
            logits, y = torch.cat(outputs), torch.cat(targets)
            loss, hits = torch.stack(
                [
                    F.cross_entropy(logits, y).double(),
                    (logits.argmax(1) == y).sum().double(),
                ]
            ).tolist()
        acc = hits / len(y)
        if training and not math.isfinite(loss):
            raise diverged(
                f"the training loss is {loss} at epoch {len(self.history)}", self.lr
            )
        if not hooks:
            # skorch's history promises a batch entry per epoch; one entry
            # summarises the whole pass.
            self.history.new_batch()
            self.history.record_batch(prefix + "_loss", loss)
            self.history.record_batch(prefix + "_batch_size", len(y))
        self.history.record(prefix + "_batch_count", len(outputs))
        self._record_epoch_stat(prefix + "_loss", loss, best=True)
        self._record_epoch_stat(prefix + "_acc", acc)

    def _record_from_batches(self, prefix):
        """Epoch mean of the per-batch losses skorch's generic loop recorded."""
        batches = [b for b in self.history[-1, "batches"] if prefix + "_loss" in b]
        if batches:
            total = sum(
                b[prefix + "_loss"] * b[prefix + "_batch_size"] for b in batches
            )
            size = sum(b[prefix + "_batch_size"] for b in batches)
            self._record_epoch_stat(prefix + "_loss", total / size, best=True)

    def _record_epoch_stat(self, key, value, best=False):
        self.history.record(key, value)
        if best:
            past = [row[key] for row in self.history[:-1] if key in row]
            self.history.record(key + "_best", not past or value < min(past))

    def _callback_hooks(self) -> set[str]:
        """Names of the batch-level hooks that some callback implements."""
        return {
            hook
            for _, callback in self.callbacks_
            for hook in _BATCH_HOOKS
            if getattr(type(callback), hook, None) is not getattr(Callback, hook)
        }

    def _train_batch_fn(self):
        """Return `step(batch, hooks) -> logits` for this module.

        `step.manual` tells whether it differentiates by hand (and so runs
        under `torch.no_grad`) or through autograd.
        """
        module = self.module_
        for param in module.parameters():
            if param.grad is None:
                param.grad = torch.zeros_like(param)
        manual = PlainMLPStep(module) if PlainMLPStep.supports(module) else None
        update = lean_step(self.optimizer_)
        zero_grad = self.optimizer_.zero_grad

        def step(batch, hooks):
            xb, yb = batch[0], batch[1]
            weight = batch[2] if len(batch) > 2 else None
            if manual is not None:
                logits = manual(xb, yb, weight)
            else:
                # Gradients are zeroed in place, not freed, so `update` can
                # keep referring to the same tensors.
                zero_grad(set_to_none=False)
                logits = module(xb)
                losses = F.cross_entropy(logits, yb, reduction="none")
                (losses if weight is None else losses * weight).mean().backward()
            if "on_grad_computed" in hooks:
                self.notify(
                    "on_grad_computed",
                    named_parameters=TeeGenerator(self.get_all_learnable_params()),
                    batch=batch,
                )
            update()
            return logits

        step.manual = manual is not None
        return step
