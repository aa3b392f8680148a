"""The fast training path inside skorch.

skorch's generic loop pays, for every mini-batch, a `Dataset.__getitem__` per
row, a collate, a host sync for the loss, two history writes and a dispatch to
every callback. For small tabular networks that bookkeeping costs several
times the arithmetic. `QwertySkorchNet` is a `skorch.NeuralNetClassifier` that
keeps skorch's fit loop, default callbacks, history, checkpointing and
semantics, and runs an epoch over in-memory tensors faster:

* the data is converted to tensors once, on the target device
  (`TensorDataset`), and batches are slices of a seeded permutation
  (`TensorBatches`); sparse features stay sparse (`SparseRows`), and each
  batch's rows are made dense on their own;
* batch losses are kept on the device and written to the history once per
  epoch;
* callbacks are called per batch only when one of them does something there;
* plain MLPs are differentiated by hand (`PlainMLPStep`) and fused Adam is
  stepped by a lean call (`lean_step`), where `qwertyclf.training._fast_path` has
  checked that both compute what autograd and `optimizer.step()` would.

The fast epoch runs only where it computes what skorch's own `train_step`
would: the net's training methods not overridden, no fit parameters, one
module, criterion and optimizer. Anything else is skorch's loop, unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from skorch import NeuralNetClassifier
from skorch.callbacks import (
    BatchScoring,
    Callback,
    EarlyStopping,
    EpochScoring,
    PassthroughScoring,
    PrintLog,
)
from skorch.dataset import Dataset
from skorch.utils import TeeGenerator
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from .._module import Dropout, QwertyNet
from ._backprop import PlainMLPStep
from ._fast_path import ENABLED, lean_step_works, manual_gradients_work
from ._fused_step import lean_step
from ._optimizers import optimizer_rule
from ._record import batch_entries, epoch_mean, improves
from ._runtime import diverged

#: Data up to this size is shuffled by copying it in a new order once per
#: epoch (fastest for small data); larger data gathers each batch on its own,
#: so training never holds a second copy of it.
COPY_PER_EPOCH_BYTES = 2**24

_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")

#: Methods whose override by a subclass sends training through skorch's loop.
_TRAINING_METHODS = (
    "train_step",
    "train_step_single",
    "validation_step",
    "get_loss",
    "infer",
    "notify",
    "on_batch_begin",
    "on_batch_end",
    "on_grad_computed",
    "_zero_grad_optimizer",
    "_step_optimizer",
    "_set_training",
    "get_train_step_accumulator",
)

_FLOATS = (np.float32, np.float64)


class SparseRows:
    """A sparse matrix of features whose rows are made dense only when taken.

    Training data that stays sparse: indexed with row indices as a tensor
    would be (`rows[i]`, `rows[a:b]`, `rows[index]` for an index array or
    tensor of any shape), it returns those rows as a dense tensor of the
    matrix's dtype on `device`, shape `index.shape + (n_features,)`. Only
    the rows asked for are made dense: a batch, a validation chunk, never
    the whole matrix. `TensorDataset`, `TensorBatches` and `BatchedTrainer`
    take it where they take a feature tensor.

    Parameters
    ----------
    matrix : scipy.sparse matrix or array of shape (n_samples, n_features)
        Float32 or float64 features; held in CSR format (converted if it is
        in another format, shared if it is CSR already; never modified).
    device : str or torch.device, default="cpu"
        Where the dense rows go.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> rows = SparseRows(sp.csr_matrix(np.eye(4)))
    >>> rows.shape, rows.dtype
    (torch.Size([4, 4]), torch.float64)
    >>> rows[torch.tensor([2, 0])]
    tensor([[0., 0., 1., 0.],
            [1., 0., 0., 0.]], dtype=torch.float64)
    """

    ndim = 2

    def __init__(self, matrix, device="cpu"):
        if not sparse.issparse(matrix) or matrix.dtype not in _FLOATS:
            raise TypeError("SparseRows takes a float32 or float64 sparse matrix.")
        self.matrix = matrix if matrix.format == "csr" else matrix.tocsr()
        self.dtype = torch.from_numpy(np.empty(0, dtype=matrix.dtype)).dtype
        self.device = torch.device(device)
        self.shape = torch.Size(matrix.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def element_size(self) -> int:
        """Bytes per dense element."""
        return self.matrix.dtype.itemsize

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, slice):
            rows, shape = self.matrix[index], None
        else:
            if isinstance(index, torch.Tensor):
                index = index.cpu().numpy()
            index = np.asarray(index, dtype=np.intp)
            rows, shape = self.matrix[index.reshape(-1)], index.shape
        dense = torch.from_numpy(rows.toarray())
        if shape is not None:
            dense = dense.reshape(*shape, self.shape[1])
        return dense.to(self.device)


class TensorDataset(Dataset):
    """Features, encoded targets and optional row weights, held as tensors.

    Parameters
    ----------
    X : torch.Tensor or SparseRows of shape (n_samples, n_features)
        Features, already on the training device (or sparse, their batches
        made dense on the device one at a time).
    y : torch.Tensor of shape (n_samples,), default=None
        Class indices (int64).
    sample_weight : torch.Tensor of shape (n_samples,), default=None
        Row weights with mean 1, or None for unweighted data. Losses on
        weighted data are means of `weight * cross-entropy`.

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

    def tensors(self) -> list:
        """The tensors a batch is sliced from: X, then y and weights if present."""
        return [t for t in (self.X, self.y, self.sample_weight) if t is not None]


class TensorBatches:
    """Iterate over a `TensorDataset` in contiguous mini-batches.

    With `shuffle=True` each pass draws a new row order from `generator`. Small
    data is gathered once in that order and batches are views of consecutive
    slices; large data, and sparse features (`SparseRows`), are gathered
    batch by batch, each sparse batch made dense on its own. Either way there
    is no per-row indexing and no collate, and the batches hold the same rows.

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

    def batch_sizes(self) -> list[int]:
        """Rows in each batch of one pass, in order."""
        return batch_sizes(len(self.dataset), self.batch_size, self.min_last)

    def __len__(self) -> int:
        return len(self.batch_sizes())

    def __iter__(self):
        tensors = self.dataset.tensors()
        sizes = self.batch_sizes()
        if isinstance(tensors[0], SparseRows):
            order = None
            if self.shuffle:  # the same draw as for dense features
                order = torch.randperm(len(self.dataset), generator=self.generator)
            batches = _gathered(tensors, sizes, order)
        elif not self.shuffle:
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


def batch_sizes(n: int, batch_size: int, min_last: int = 1) -> list[int]:
    """Rows in each of the consecutive batches that `n` rows make.

    Every batch has `batch_size` rows but the last; a last batch smaller
    than `min_last` joins the one before it.

    Examples
    --------
    >>> batch_sizes(10, 4), batch_sizes(9, 4, min_last=2)
    ([4, 4, 2], [4, 5])
    """
    full, rest = divmod(n, batch_size)
    sizes = [batch_size] * full + ([rest] if rest else [])
    if len(sizes) > 1 and sizes[-1] < min_last:
        last = sizes.pop()
        sizes[-1] += last
    return sizes


def _split(tensors, sizes):
    """Batches as views: one `split` per tensor makes all of them at once."""
    return zip(*(t.split(sizes) for t in tensors), strict=True)


def _gathered(tensors, sizes, order):
    """Batches taken one at a time, rows in `order` (None: as stored).

    Sparse features are made dense here, batch by batch.
    """
    start = 0
    for size in sizes:
        if order is None:
            rows = slice(start, start + size)
        else:
            rows = order[start : start + size]
        start += size
        yield tuple(
            t[rows]
            if isinstance(rows, slice) or isinstance(t, SparseRows)
            else t.index_select(0, rows.to(t.device))
            for t in tensors
        )


class QwertySkorchNet(NeuralNetClassifier):
    """A `skorch.NeuralNetClassifier` with a fast epoch for in-memory tensors.

    It is a `NeuralNetClassifier` in every respect (`initialize`, `fit`,
    `partial_fit`, criterion, default callbacks and history keys, callbacks
    such as `EarlyStopping`, `LRScheduler`, `Checkpoint`, `Freezer`,
    `ProgressBar`, `EpochScoring`, fit parameters, custom datasets and
    iterators); only the body of an epoch over arrays or tensors runs
    faster, where it provably computes what skorch's loop would. Besides
    skorch's keys, each epoch's history row has `train_acc`, the accuracy of
    the predictions made while training.

    Parameters
    ----------
    *args, **kwargs
        As for `skorch.NeuralNetClassifier`.
    seed : int, default=0
        Seeds the order of the training rows and the dropout masks of a
        `QwertyNet`.

    Examples
    --------
    >>> import numpy as np
    >>> from qwertyclf import QwertyNet
    >>> X = np.random.RandomState(0).normal(size=(40, 2)).astype("float32")
    >>> y = (X[:, 0] > 0).astype("int64")
    >>> net = QwertySkorchNet(QwertyNet, module__n_classes=2, max_epochs=2,
    ...                       criterion=torch.nn.CrossEntropyLoss,
    ...                       train_split=None, verbose=0).fit(X, y)
    >>> len(net.history), "train_loss" in net.history[-1]
    (2, True)
    """

    def __init__(self, *args, seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.seed = seed

    @property
    def _default_callbacks(self):
        # skorch's own defaults, except that the epoch table is only built
        # when it is shown: formatting it costs more than a whole epoch of a
        # small network.
        return [
            (name, _FAST_DEFAULTS.get(type(callback), _same)(callback))
            for name, callback in super()._default_callbacks
        ]

    def initialize(self):
        """Initialize module, optimizer, callbacks and the row-order generator."""
        super().initialize()
        self.generator_ = torch.Generator().manual_seed(self.seed)
        return self

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """Skorch's loop; records in `interrupted_` whether Ctrl-C ended it.

        skorch's `partial_fit` catches the `KeyboardInterrupt` (and still
        runs `on_train_end`); the flag lets the caller tell an interrupted
        fit from a finished one. skorch's `EarlyStopping` stops training by
        raising the same exception: that is a finished fit, not an interrupt.
        """
        self.interrupted_ = False
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            self.interrupted_ = not self._stopped_early()
            raise

    def _stopped_early(self) -> bool:
        """Whether an `EarlyStopping` callback has just ended training."""
        return any(
            isinstance(callback, EarlyStopping)
            and getattr(callback, "misses_", 0) >= callback.patience
            for _, callback in self.callbacks_
        )

    def _seed_dropout(self):
        """A `QwertyNet`'s dropout layers get their own generator, once."""
        for layer in self.module_.modules():
            if isinstance(layer, Dropout) and layer.generator is None:
                device = next(self.module_.parameters()).device
                layer.generator = torch.Generator(device).manual_seed(self.seed + 1)

    def __getstate__(self):
        state = super().__getstate__()
        if isinstance(state.get("generator_"), torch.Generator):
            state["generator_"] = state["generator_"].get_state().numpy()
        return state

    def __setstate__(self, state):
        saved = state.get("generator_")
        if isinstance(saved, np.ndarray):
            generator = torch.Generator()
            generator.set_state(torch.from_numpy(saved.copy()))
            state = {**state, "generator_": generator}
        super().__setstate__(state)

    def get_dataset(self, X, y=None):
        """Hold numeric arrays and tensors as a `TensorDataset`; else as skorch."""
        if (
            self.dataset is Dataset
            and not self.get_params_for("dataset")
            and _numeric(X)
            and (y is None or _numeric(y))
        ):
            X = torch.as_tensor(X, device=self.device)
            y = None if y is None else torch.as_tensor(y, device=self.device)
            return TensorDataset(X, y)
        return super().get_dataset(X, y)

    def get_iterator(self, dataset, training=False):
        """Slice a `TensorDataset` into batches; use skorch's loaders otherwise."""
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        plain = getattr(self, prefix) is DataLoader and set(kwargs) <= {
            "shuffle",
            "batch_size",
        }
        if not isinstance(dataset, TensorDataset) or not plain:
            if isinstance(dataset, TensorDataset) and dataset.sample_weight is not None:
                raise TypeError(
                    "Row weights are applied by the tensor batches only; they "
                    f"cannot be combined with a custom {prefix} or its options."
                )
            return super().get_iterator(dataset, training=training)
        batch_size = kwargs.get("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        if not training:
            return TensorBatches(dataset, batch_size=batch_size)
        has_batch_norm = any(
            isinstance(m, nn.modules.batchnorm._BatchNorm)
            for m in self.module_.modules()
        )
        return TensorBatches(
            dataset,
            batch_size=batch_size,
            shuffle=bool(kwargs.get("shuffle", False)),
            generator=self.generator_,
            min_last=2 if has_batch_norm else 1,
        )

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One pass over `iterator`, training or evaluating, recorded in history."""
        if iterator is None:
            return
        if training:
            self._seed_dropout()
        weighted = (
            isinstance(iterator, TensorBatches)
            and iterator.dataset.sample_weight is not None
        )
        if (
            isinstance(iterator, TensorBatches)
            and (ENABLED["tensor_epoch"] or weighted)
            and self._fast_epoch_allowed(iterator, fit_params)
        ):
            self._tensor_epoch(iterator, training, prefix)
            return
        if weighted:
            raise TypeError(
                "Row weights need the default training loop: no fit parameters, "
                "no overridden training methods and torch.nn.CrossEntropyLoss."
            )
        if not training:
            super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
            return
        hits = []

        def counting_step(batch, **params):
            step = step_fn(batch, **params)
            hits.append(_hits(step["y_pred"], batch[1]))
            return step

        super().run_single_epoch(
            iterator, training, prefix, counting_step, **fit_params
        )
        if hits and all(h is not None for h in hits):
            correct, total = map(sum, zip(*hits, strict=True))
            self.history.record("train_acc", correct / max(total, 1))

    # The fast epoch -------------------------------------------------------

    def _fast_epoch_allowed(self, iterator, fit_params) -> bool:
        """Whether the tensor epoch computes exactly what skorch's loop would."""
        if fit_params or iterator.dataset.y is None:
            return False
        if (self._modules, self._criteria, self._optimizers) != (
            ["module"],
            ["criterion"],
            ["optimizer"],
        ):
            return False
        if any(
            name in vars(self)
            or getattr(type(self), name) is not getattr(NeuralNetClassifier, name)
            for name in _TRAINING_METHODS
        ):
            return False
        weighted = iterator.dataset.sample_weight is not None
        return not weighted or _plain_cross_entropy(self.criterion_)

    def _tensor_epoch(self, iterator, training, prefix):
        """One pass over tensor batches; history written as skorch writes it."""
        hooks = self._batch_hooks(training)
        self._set_training(training)
        step = self._train_batch_fn(hooks) if training else None
        manual = training and step.manual
        grad_mode = torch.enable_grad() if training and not manual else torch.no_grad()
        outputs, targets, weights, losses = [], [], [], []
        with grad_mode:
            for batch in iterator:
                xb, yb = batch[0], batch[1]
                wb = batch[2] if len(batch) > 2 else None
                if hooks:
                    self.notify("on_batch_begin", batch=(xb, yb), training=training)
                if training:
                    logits, loss = step(xb, yb, wb)
                else:
                    logits = self.module_(xb)
                    loss = self._loss(logits, yb, wb)
                outputs.append(logits.detach())
                targets.append(yb)
                weights.append(wb)
                if hooks:
                    if loss is None:
                        loss = self._loss(outputs[-1], yb, wb)
                    self.history.record_batch(prefix + "_loss", loss.item())
                    self.history.record_batch(prefix + "_batch_size", len(yb))
                    self.notify(
                        "on_batch_end",
                        batch=(xb, yb),
                        training=training,
                        loss=loss,
                        y_pred=logits,
                    )
                else:
                    losses.append(None if loss is None else loss.detach())
        with torch.no_grad():
            if not hooks:
                sizes = iterator.batch_sizes()
                self._record_batches(prefix, sizes, outputs, targets, weights, losses)
            if training and outputs:
                correct, total = _hits(torch.cat(outputs), torch.cat(targets))
                self.history.record("train_acc", correct / total)
        self.history.record(prefix + "_batch_count", len(outputs))

    def _record_batches(self, prefix, sizes, outputs, targets, weights, losses):
        """Write one history batch per mini-batch, with one host sync."""
        missing = [i for i, loss in enumerate(losses) if loss is None]
        if missing:
            rows = _row_losses(
                torch.cat([outputs[i] for i in missing]),
                torch.cat([targets[i] for i in missing]),
                None
                if weights[missing[0]] is None
                else torch.cat([weights[i] for i in missing]),
            )
            means = _batch_means(rows, [sizes[i] for i in missing])
            for i, loss in zip(missing, means, strict=True):
                losses[i] = loss
        values = torch.stack(losses).tolist() if losses else []
        # What `new_batch` and `record_batch` write, without their lookups.
        self.history[-1]["batches"].extend(batch_entries(prefix, values, sizes))

    def _loss(self, logits, y, weight):
        """The batch loss, as `get_loss` computes it, weighted by `weight`."""
        if weight is None:
            return self.get_loss(logits, y, training=logits.requires_grad)
        return _row_losses(logits, y, weight).mean()

    def _batch_hooks(self, training) -> set[str]:
        """Batch-level hooks that some callback implements for this phase."""
        hooks = set()
        for _, callback in self.callbacks_:
            for hook in _BATCH_HOOKS:
                if not training and hook == "on_grad_computed":
                    continue
                method = getattr(type(callback), hook, None)
                if method is getattr(Callback, hook):
                    continue
                if hook == "on_batch_end" and _scoring_skips(callback, training):
                    continue
                hooks.add(hook)
        return hooks

    def _train_batch_fn(self, hooks):
        """Return `step(x, y, weight) -> (logits, loss or None)` for this epoch.

        Gradients come from `PlainMLPStep` or autograd, and the update from
        `lean_step` or `optimizer.step()`, whichever the configuration allows;
        optimizers that need a closure get one, as in skorch's `train_step`.
        """
        module, optimizer = self.module_, self.optimizer_
        params = list(module.parameters())
        for param in params:
            if not param.requires_grad:
                param.grad = None  # frozen: the optimizer must skip it
            elif param.grad is None and type(module) is QwertyNet:
                param.grad = torch.zeros_like(param)
        dtype, device = params[0].dtype, params[0].device
        single_evaluation = optimizer_rule(type(optimizer)).single_evaluation
        manual = (
            ENABLED["manual_gradients"]
            and single_evaluation
            and _plain_cross_entropy(self.criterion_)
            and PlainMLPStep.supports(module)
            and all(p.requires_grad for p in params)
            and manual_gradients_work(module.activation, dtype, device)
        )
        manual_step = PlainMLPStep(module) if manual else None
        keep_grads = type(module) is QwertyNet
        update = optimizer.step
        if (
            ENABLED["lean_step"]
            and keep_grads
            and all(p.grad is not None for p in params)
            and lean_step_works(optimizer)
        ):
            # Without per-batch callbacks nothing can assign a new `.grad`
            # between steps; with them, the step reads `.grad` every time.
            update = lean_step(optimizer, same_grads=not hooks)

        def manual_gradients(x, y, weight):
            # A callback may have assigned new `.grad` tensors (or None) since
            # the last batch: the gradients go where `.grad` now points.
            nonlocal manual_step
            if hooks and _grads_rebound(manual_step):
                manual_step = PlainMLPStep(module)
            return manual_step(x, y, weight)

        def notify_grads(x, y):
            if "on_grad_computed" in hooks:
                self.notify(
                    "on_grad_computed",
                    named_parameters=TeeGenerator(self.get_all_learnable_params()),
                    batch=(x, y),
                    training=True,
                )

        def gradients(x, y, weight):
            if manual_step is not None:  # runs under no_grad (see `manual`)
                return manual_gradients(x, y, weight), None
            optimizer.zero_grad(set_to_none=not keep_grads)
            logits = module(x)
            loss = self._loss(logits, y, weight)
            loss.backward()
            return logits, loss

        if not single_evaluation:

            def closure_step(x, y, weight):
                first = []

                def closure():
                    logits, loss = gradients(x, y, weight)
                    notify_grads(x, y)
                    first.append((logits, loss))
                    return loss

                optimizer.step(closure)
                return first[0]

            closure_step.manual = False
            return closure_step

        if manual_step is not None and "on_grad_computed" not in hooks:

            def manual_step_and_update(x, y, weight):
                logits = manual_gradients(x, y, weight)
                update()
                return logits, None

            manual_step_and_update.manual = True
            return manual_step_and_update

        def step(x, y, weight):
            logits, loss = gradients(x, y, weight)
            notify_grads(x, y)
            update()
            return logits, loss

        step.manual = manual_step is not None
        return step


class _QuietPrintLog(PrintLog):
    """skorch's `PrintLog` that skips building a table nobody will see."""

    def on_epoch_end(self, net, **kwargs):
        if self.sink is print and not net.verbose:
            return
        super().on_epoch_end(net, **kwargs)


class _EpochMean(PassthroughScoring):
    """skorch's `PassthroughScoring`, reading this epoch's batches directly.

    The same batch-size weighted mean, without the generic history lookups
    that cost more than an epoch of a small network.
    """

    def on_epoch_end(self, net, **kwargs):
        size_key = "train_batch_size" if self.on_train else "valid_batch_size"
        pairs = [
            (batch[size_key], batch[self.name])
            for batch in net.history[-1]["batches"]
            if self.name in batch and size_key in batch
        ]
        if not pairs:  # no batch of this kind: nothing to record
            return
        sizes, scores = zip(*pairs, strict=True)
        score = epoch_mean(scores, sizes)
        is_best = None
        if self.lower_is_better is not None:
            is_best = improves(score, self.best_score_, higher=not self.lower_is_better)
        if is_best:
            self.best_score_ = score
        net.history.record(self.name, score)
        if is_best is not None:
            net.history.record(self.name + "_best", bool(is_best))


def _grads_rebound(step: PlainMLPStep) -> bool:
    """Whether a parameter's `.grad` is no longer the tensor `step` fills."""
    for (weight, bias), (weight_grad, bias_grad) in zip(
        step.layers, step.grads, strict=True
    ):
        if weight.grad is not weight_grad or bias.grad is not bias_grad:
            return True
    return False


def _same(callback):
    return callback


#: skorch's default callbacks and their cheaper, equivalent versions.
_FAST_DEFAULTS = {
    PrintLog: lambda callback: _QuietPrintLog(**callback.get_params()),
    PassthroughScoring: lambda callback: _EpochMean(**callback.get_params()),
}


def _scoring_skips(callback, training) -> bool:
    """Whether a skorch scoring callback's `on_batch_end` returns at once here."""
    for cls in (EpochScoring, BatchScoring):
        if isinstance(callback, cls) and type(callback).on_batch_end is (
            cls.on_batch_end
        ):
            return callback.on_train != training
    return False


class MemberCrossEntropyLoss(nn.CrossEntropyLoss):
    """`torch.nn.CrossEntropyLoss` that also takes members' logits.

    Given (n, classes) logits it is `CrossEntropyLoss`. Given the logits of
    a network's BatchEnsemble members, (n, k, classes), it is the mean of
    the `k` members' losses (with the default mean reduction, class weights
    included: every member sees the same rows).

    Examples
    --------
    >>> logits, y = torch.randn(4, 3, 2), torch.tensor([0, 1, 1, 0])
    >>> loss = MemberCrossEntropyLoss()(logits, y)
    >>> members = [torch.nn.functional.cross_entropy(logits[:, j], y)
    ...            for j in range(3)]
    >>> torch.allclose(loss, torch.stack(members).mean())
    True
    """

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of `input`'s logits, or the mean of its members' losses."""
        if input.ndim == 3:
            input, target = _members_flat(input, target)
        return super().forward(input, target)


def _members_flat(logits, y):
    """Members' logits (n, k, C) as (n * k, C) rows, each row's label repeated."""
    return logits.flatten(0, 1), y.repeat_interleave(logits.shape[1])


def _row_losses(logits, y, weight=None) -> torch.Tensor:
    """Cross-entropy of each row, times its weight when there are weights.

    For members' logits (n, k, C), a row's loss is the mean of its members'.
    """
    if logits.ndim == 3:
        n, k = logits.shape[:2]
        rows = F.cross_entropy(*_members_flat(logits, y), reduction="none")
        rows = rows.view(n, k).mean(1)
    else:
        rows = F.cross_entropy(logits, y, reduction="none")
    return rows if weight is None else rows * weight


def _batch_means(rows: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """Mean of each consecutive run of `sizes` rows (one kernel for equal runs)."""
    n_equal = next((i for i, n in enumerate(sizes) if n != sizes[0]), len(sizes))
    head = rows[: n_equal * sizes[0]].view(n_equal, sizes[0]).mean(1)
    tail = rows[n_equal * sizes[0] :].split(sizes[n_equal:])
    return [*head.unbind(), *(part.mean() for part in tail)]


def _plain_cross_entropy(criterion) -> bool:
    """Whether `criterion` is a default `nn.CrossEntropyLoss`."""
    return (
        type(criterion) in (nn.CrossEntropyLoss, MemberCrossEntropyLoss)
        and criterion.weight is None
        and criterion.reduction == "mean"
        and criterion.ignore_index == -100
        and criterion.label_smoothing == 0.0
    )


def _numeric(data) -> bool:
    if isinstance(data, torch.Tensor):
        return True
    return isinstance(data, np.ndarray) and data.dtype.kind in "biuf"


def _hits(y_pred, y):
    """(correct, total) of class scores `y_pred` against labels `y`, if both fit.

    Members' logits (n, k, C) score by their mean probability.
    """
    if isinstance(y_pred, torch.Tensor) and y_pred.ndim == 3:
        y_pred = y_pred.softmax(-1).mean(1)
    if not (
        isinstance(y_pred, torch.Tensor)
        and isinstance(y, torch.Tensor)
        and y_pred.ndim == 2
        and y.ndim == 1
        and len(y) == len(y_pred)
    ):
        return None
    return (y_pred.argmax(1) == y.to(y_pred.device)).sum().item(), len(y)


class DivergenceGuard(Callback):
    """Stop training with a clear error once an epoch's loss is not finite.

    Examples
    --------
    >>> guard = DivergenceGuard()
    >>> isinstance(guard, Callback)
    True
    """

    def on_epoch_end(self, net, **kwargs):
        """Raise `ValueError` if this epoch's training loss is inf or nan."""
        loss = net.history[-1].get("train_loss", 0.0)
        if not np.isfinite(loss):
            raise diverged(
                f"the training loss is {loss} at epoch {len(net.history)}", net.lr
            )
