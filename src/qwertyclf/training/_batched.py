"""K networks trained as one batched run: the batched engine.

A cross-validated search trains dozens of small networks that differ only in
a few numbers (learning rate, width, seed, training rows). Each of them spends
its time in per-step overhead, not arithmetic. `BatchedTrainer` stacks K such
networks: every layer's weights become one `(K, in, out)` tensor, a training
step gathers each model's mini-batch into a `(K, batch, features)` tensor,
runs the forward and backward passes as batched matrix products
(`torch.baddbmm`, `torch.bmm`) and updates all models with one batched
Adam/AdamW/SGD step.

Each model reproduces its serial run (`train_serial` of the same `FitSpec`):
it starts from the same weights, sees its rows in the same order (one
`torch.randperm` per epoch from a generator seeded like the serial one), the
same batches, the same loss and the same optimizer update. Models narrower
than the widest are zero-padded, and the padding is masked so it stays
exactly zero. A model whose epoch has fewer batches, or that early stopping
has finished, skips the update (its optimizer state does not move).

Networks with BatchEnsemble members (`batch_ensemble > 1`) train in runs of
their own, all with the same number of members, by `MemberBatchedTrainer`,
which `BatchedTrainer` becomes for them: the same run, with the member
layers' parameters, forward and backward passes of `MemberLayers`
(`_batched_members.py`). Networks with the "pbld" numerical embedding train
in runs of their own by `EmbeddedBatchedTrainer`
(`EmbeddedMemberBatchedTrainer` with members): the same run, with the
embedding's parameters in front of the layers' and its forward and
backward passes from `EmbeddingLayers` (`_batched_embedding.py`).

Only what the batched step can reproduce is batched (`batchable` says which
specs qualify, through the same fast-path switches and agreement checks as
the serial engine); anything else is trained serially by the caller.
"""

from __future__ import annotations

import contextlib
import math
import time

import numpy as np
import torch

from .._activations import ACTIVATIONS
from .._module import QwertyNet
from ._batched_embedding import EmbeddingLayers
from ._batched_members import MemberLayers
from ._fast_path import fused_adam_works, hand_written_gradients
from ._fused_step import fused_adam_update
from ._net import SparseRows, batch_sizes
from ._optimizers import optimizer_rule
from ._record import EpochRecord, epoch_means, size_groups
from ._runtime import (
    INFERENCE_CHUNK,
    collector_paused,
    diverged,
    one_thread,
    seeded,
)
from ._spec import FitSpec, best_epoch, check_converged
from ._state import ModelState
from ._stopping import StoppingRule

#: Bytes of gathered training data per epoch up to which a whole epoch is
#: gathered at once; larger runs gather batch by batch.
GATHER_EPOCH_BYTES = 2**26

#: Below this many activations per step (models x batch x widest layer), a
#: batched run uses one thread. Its steps are many small operations, where a
#: second thread costs far more than it saves, and much more again when
#: another process holds the other core.
PARALLEL_WORK = 2**22

#: Most (lr, weight_decay) pairs in a run for which Adam steps through torch's
#: fused kernel (one call per pair); more use the batched formula instead.
FUSED_MAX_CALLS = 8

#: Most models in a run for which the fused kernel is used: it costs a little
#: per model, the batched formula a little per element, and beyond this many
#: models the formula is faster.
FUSED_MAX_MODELS = 64


def batchable(spec: FitSpec) -> bool:
    """Whether the batched engine reproduces `spec`'s serial run.

    It does for networks without batch norm and dropout, with or without
    BatchEnsemble members, with the "pbld" numerical embedding or none
    (no callbacks, no verbose output), trained with
    Adam, AdamW or SGD, whose activation has a hand-written gradient that
    the fast-path check accepts for the spec's dtype and device (and that
    `fast_path(manual_gradients=False)` has not switched off).

    Examples
    --------
    >>> import torch
    >>> from qwertyclf.training import FitSpec
    >>> spec = FitSpec((8,), "relu", False, 0.0, torch.optim.Adam, 0.01, 0.0, 16,
    ...                5, True, None, False, 10, 1e-4, "float32",
    ...                torch.device("cpu"), 0)
    >>> batchable(spec)
    True
    """
    return bool(
        not spec.batch_norm
        and not spec.dropout
        and spec.numeric_embedding in (None, "pbld")
        and not spec.callbacks
        and not spec.verbose
        and optimizer_rule(spec.optimizer).batched
        and ACTIVATIONS[spec.activation].backward is not None
        and hand_written_gradients(
            spec.activation, getattr(torch, spec.dtype), spec.device
        )
    )


def shared_settings(spec: FitSpec) -> tuple:
    """What must be equal for specs to train in one batched run.

    Models of one depth, one number of BatchEnsemble members and one
    numerical embedding may differ in width, activation, learning rate,
    weight decay and seed (and in their rows and row weights).

    Examples
    --------
    >>> import dataclasses, torch
    >>> from qwertyclf.training import FitSpec
    >>> spec = FitSpec((8,), "relu", False, 0.0, torch.optim.Adam, 0.01, 0.0, 16,
    ...                5, True, None, False, 10, 1e-4, "float32",
    ...                torch.device("cpu"), 0)
    >>> other = dataclasses.replace(spec, lr=0.1, hidden_layer_sizes=(16,))
    >>> shared_settings(spec) == shared_settings(other)
    True
    """
    return (
        len(spec.hidden_layer_sizes),
        spec.batch_ensemble,
        spec.numeric_embedding,
        spec.optimizer,
        spec.batch_size,
        spec.max_epochs,
        spec.shuffle,
        spec.validation_fraction,
        spec.early_stopping,
        spec.n_iter_no_change if spec.early_stopping else None,
        spec.tol if spec.early_stopping else None,
        spec.dtype,
        str(spec.device),
    )


class BatchedTrainer:
    """Train K stacked plain MLPs together, one `FitSpec` and `RunData` each.

    Parameters
    ----------
    X : torch.Tensor or SparseRows of shape (n_samples, n_features)
        All rows, on the training device, in the training dtype; sparse
        rows are made dense one batch (of every model) at a time.
    y : torch.Tensor of shape (n_samples,)
        Encoded class indices.
    classes : ndarray of shape (n_classes,)
        Class labels (one output logit each), recorded in the states.
    specs : list of FitSpec
        One per model; `batchable`, with equal `shared_settings`. Specs with
        `batch_ensemble > 1` make the trainer a `MemberBatchedTrainer`.
    data : list of RunData
        Each model's rows; all have validation rows or none do.
    on_epoch : callable, default=None
        Called after each epoch as `on_epoch(epoch, max_epochs, n_running,
        n_models)`: the epochs done, the most the run trains, the models
        still training (early stopping and divergence end models at
        different epochs) and the models in the run. For a progress
        display; it must not change the run.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from qwertyclf.training import FitSpec, RunData
    >>> X = torch.randn(30, 2)
    >>> y = (X[:, 0] > 0).long()
    >>> specs = [FitSpec((4,), "relu", False, 0.0, torch.optim.Adam, 0.01, 0.0,
    ...                  16, 2, True, None, False, 10, 1e-4, "float32",
    ...                  torch.device("cpu"), seed) for seed in (0, 1)]
    >>> data = [RunData(train=np.arange(30))] * 2
    >>> trainer = BatchedTrainer(X=X, y=y, classes=np.array([0, 1]),
    ...                          specs=specs, data=data)
    >>> [state.n_iter for state in trainer.run()]
    [2, 2]
    """

    #: Whether `_step` passes the gradient at the first layer's input (the
    #: rows, (K, batch, in)) to `_input_grad`: only a layer in front of the
    #: first one needs it.
    input_grads = False

    def __new__(cls, *, specs, **kwargs):
        # Networks with members or an embedding: the subclass that trains them.
        if cls is BatchedTrainer and specs:
            cls = _TRAINERS[(specs[0].batch_ensemble > 1, specs[0].numeric_embedding)]
        return super().__new__(cls)

    def __init__(self, *, X, y, classes, specs, data, on_epoch=None):
        self.X = X
        self.y = y
        self.classes = classes
        self.n_classes = len(classes)
        self.specs = list(specs)
        self.data = list(data)
        self.on_epoch = on_epoch

    def run(self) -> list:
        """Train; per model, a `ModelState` or the exception its run raised."""
        t = self.specs[0]
        widths = [self.X.shape[1], *self._max_hidden(), self.n_classes]
        work = t.batch_size * len(self.specs) * max(widths) * t.batch_ensemble
        threads = one_thread() if work < PARALLEL_WORK else contextlib.nullcontext()
        # The run keeps what it records (histories, per-epoch arrays) and makes
        # no reference cycles: full collections would only walk the process.
        with threads, torch.no_grad(), collector_paused():
            self._init_params()
            self._train()
            return self._results()

    def _max_hidden(self):
        return [
            max(s.hidden_layer_sizes[i] for s in self.specs)
            for i in range(self._depth())
        ]

    def _depth(self):
        return len(self.specs[0].hidden_layer_sizes)

    def _init_params(self):
        """Stack the initial weights of each model's `QwertyNet`."""
        sizes = [self.X.shape[1], *self._max_hidden(), self.n_classes]
        shapes = [(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
        self._allocate(shapes)
        self.activations = self._activation_table()
        self.masks = self._padding_masks(shapes)
        self._copy_initial_weights()
        self._init_optimizer()

    def _allocate(self, shapes):
        """One flat (K, P) buffer of parameters, one of gradients, and views.

        The optimizer update is then a handful of operations on the buffer;
        `layers` and `grads` hold each layer's parameter views into it (here
        (weight, bias); see `_param_shapes`).
        """
        K = len(self.specs)
        self.param_shapes = self._param_shapes(shapes)
        n_params = sum(
            math.prod(shape) for layer in self.param_shapes for shape in layer
        )
        self.flat = torch.zeros(K, n_params, dtype=self.X.dtype, device=self.X.device)
        self.grad = torch.zeros_like(self.flat)
        self.layers = self._layer_views(self.flat)
        self.grads = self._layer_views(self.grad)

    def _param_shapes(self, shapes):
        """Per layer of (in, out) `shapes`, its parameters' shapes in a model.

        A (in, out) weight, transposed from `torch.nn.Linear`'s, and a
        (1, out) bias.
        """
        return [((i, o), (1, o)) for i, o in shapes]

    def _layer_views(self, buffer):
        """Each layer's parameters in `buffer`, as (K, *shape) views.

        In `param_shapes` order: here a (K, in, out) weight and a (K, 1, out)
        bias per layer.
        """
        K = len(self.specs)
        views = []
        offset = 0
        for layer in self.param_shapes:
            tensors = []
            for shape in layer:
                size = math.prod(shape)
                tensors.append(buffer[:, offset : offset + size].view(K, *shape))
                offset += size
            views.append(tuple(tensors))
        return views

    def _activation_table(self):
        """(activation, selector) pairs: each applies to the models it selects.

        With one activation the selector is None. Where each activation's
        models are consecutive (a grid's candidates usually are), selectors
        are slices of the model axis, and each activation runs on its own
        models only. Otherwise each activation is applied to every model and
        kept where selected: x * 1 + y * 0 is exactly x, so mixing is exact.
        """
        names = sorted({spec.activation for spec in self.specs})
        if len(names) == 1:
            return [(ACTIVATIONS[names[0]], None)]
        runs = _consecutive([spec.activation for spec in self.specs])
        if runs is not None:
            return [(ACTIVATIONS[name], part) for name, part in runs]
        return [
            (
                ACTIVATIONS[name],
                torch.tensor(
                    [[[float(spec.activation == name)]] for spec in self.specs],
                    dtype=self.X.dtype,
                    device=self.X.device,
                ),
            )
            for name in names
        ]

    def _padding_masks(self, shapes):
        """Per hidden layer, a (K, 1, width) mask of each model's real units.

        Padded units must stay zero. With act(0) = 0 they do on their own
        (their outgoing weights are zero, so no gradient reaches them), and
        the mask is None; otherwise their outputs are masked.
        """
        zero = torch.zeros(1, dtype=self.X.dtype)
        masks = []
        for layer in range(len(shapes) - 1):
            widths = {spec.hidden_layer_sizes[layer] for spec in self.specs}
            if len(widths) == 1 or all(
                entry.forward(zero).item() == 0 for entry, _ in self.activations
            ):
                masks.append(None)
                continue
            mask = torch.zeros(
                len(self.specs),
                1,
                shapes[layer][1],
                dtype=self.X.dtype,
                device=self.X.device,
            )
            for k, spec in enumerate(self.specs):
                mask[k, 0, : spec.hidden_layer_sizes[layer]] = 1
            masks.append(mask)
        return masks

    def _copy_initial_weights(self):
        """Build each model's seeded `QwertyNet` and copy its weights in."""
        X, device = self.X, self.X.device
        self.nets = []
        views = self._layer_views(self.flat)
        for k, spec in enumerate(self.specs):
            with seeded(spec.seed, device):
                net = QwertyNet(
                    n_features=X.shape[1],
                    n_classes=self.n_classes,
                    hidden_layer_sizes=spec.hidden_layer_sizes,
                    activation=spec.activation,
                    dtype=X.dtype,
                    batch_ensemble=spec.batch_ensemble,
                    numeric_embedding=spec.numeric_embedding,
                )
            self.nets.append(net)
            params = list(net.parameters())
            for view, param in zip(
                self._unpadded(views, k, params), params, strict=True
            ):
                view.copy_(param)

    def _init_optimizer(self):
        """Adam's moments, per-model lr and weight decay, and the fused kernel.

        The fused kernel is used where the serial engine's detection says it
        agrees with `torch.optim` for this optimizer, dtype and device, with
        one call per (lr, weight decay) group.
        """
        K, dtype, device = len(self.specs), self.X.dtype, self.X.device
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)
        self.host_steps = np.zeros(K, dtype=np.int64)
        self.lr = torch.tensor([[s.lr] for s in self.specs], dtype=dtype, device=device)
        self.wd = torch.tensor(
            [[s.weight_decay] for s in self.specs], dtype=dtype, device=device
        )
        self.optimizer = optimizer_rule(self.specs[0].optimizer)
        self.fused = None
        hyper = {}
        for k, spec in enumerate(self.specs):
            hyper.setdefault((spec.lr, spec.weight_decay), []).append(k)
        if (
            self.optimizer.adam
            and device.type in ("cpu", "cuda")
            and len(hyper) <= FUSED_MAX_CALLS
            and K <= FUSED_MAX_MODELS
            and fused_adam_works(self.optimizer.cls, dtype, device)
        ):
            self.fused = list(hyper.items())
        self._plans: dict = {}
        self.any_decay = any(s.weight_decay for s in self.specs)

    def _train(self):
        t, X, y = self.specs[0], self.X, self.y
        K = len(self.specs)
        dtype, device = X.dtype, X.device
        bs = t.batch_size
        n_train = np.array([len(s.train) for s in self.data])
        n_pad = int(math.ceil(n_train.max() / bs) * bs)
        n_batches = n_pad // bs
        # 1 / (length of the batch the position falls in), 0 on padding.
        position = np.arange(n_pad)
        inv_len = np.zeros((K, n_pad))
        for k, n in enumerate(n_train):
            starts = (position[:n] // bs) * bs
            inv_len[k, :n] = 1.0 / np.minimum(bs, n - starts)
        inv_len = torch.as_tensor(inv_len, dtype=dtype)
        real = torch.as_tensor(position[None, :] < n_train[:, None])
        real_f = real.to(dtype=dtype, device=device)
        self._init_records(n_train)
        # Sparse rows are made dense batch by batch, never a whole epoch.
        gather_epoch = (
            not isinstance(X, SparseRows)
            and K * n_pad * X.shape[1] * X.element_size() <= GATHER_EPOCH_BYTES
        )
        # Models with a batch at each step, on the host (for the update).
        active_steps = [n_train > b * bs for b in range(n_batches)]
        shuffle = self._row_order(n_train, n_pad)
        one_hot = torch.empty(K, n_pad, self.n_classes, dtype=dtype, device=device)
        for epoch in range(1, t.max_epochs + 1):
            start = time.time()
            index, row_weight = next(shuffle)
            coef = (inv_len * row_weight).to(device)
            index = index.to(device)
            targets = y[index]
            if gather_epoch:
                data = X[index]
            one_hot.zero_().scatter_(2, targets.unsqueeze(2), 1.0)
            outputs = []
            # Each batch's columns, as views made in one call per tensor.
            parts = zip(
                data.split(bs, 1) if gather_epoch else index.split(bs, 1),
                one_hot.split(bs, 1),
                coef.unsqueeze(2).split(bs, 1),
                self._epoch_updates(active_steps),
                strict=True,
            )
            for rows, target, cb, update in parts:
                xb = rows if gather_epoch else X[rows]
                outputs.append(self._step(xb, target, cb))
                self._update(update)
            # Each batch's loss (mean of weight x cross-entropy) and the
            # epoch's accuracy, as the serial fit records them, with one
            # transfer per epoch.
            ce, predicted = self._row_scores(outputs, targets)
            # float64 holds each float32 loss exactly, as Python floats do.
            losses = (ce * coef).view(K, n_batches, bs).sum(2).cpu().double().numpy()
            hits = ((predicted == targets) * real_f).sum(1, dtype=torch.float64)
            acc = (hits / torch.as_tensor(n_train, device=device)).tolist()
            valid = self._validate() if self.data[0].valid is not None else None
            duration = time.time() - start
            self._record_epoch(epoch, losses, acc, valid, duration)
            if self.on_epoch is not None:
                self.on_epoch(epoch, t.max_epochs, int(K - self.finished.sum()), K)
            if self.finished.all():
                break
        if t.early_stopping:
            # Like skorch's EarlyStopping(load_best=True): keep the best epoch.
            self.flat.copy_(self.best_flat)

    def _row_scores(self, outputs, targets):
        """Each training row's cross-entropy and predicted class, (K, rows).

        From the logits `_step` returned for the epoch's batches (`outputs`).
        """
        logits = torch.cat(outputs, 1)
        ce = torch.logsumexp(logits, 2) - logits.gather(
            2, targets.unsqueeze(2)
        ).squeeze(2)
        return ce, logits.argmax(2)

    def _init_records(self, n_train):
        """Empty histories and early-stopping state, one per model.

        Also each model's batch sizes, training and validation: the same
        every epoch.
        """
        K = len(self.specs)
        self.train_sizes = [
            batch_sizes(int(n), self.specs[0].batch_size) for n in n_train
        ]
        self.valid_sizes = [
            None if s.valid is None else batch_sizes(len(s.valid), INFERENCE_CHUNK)
            for s in self.data
        ]
        self.train_weights = size_groups(self.train_sizes)
        self.valid_weights = (
            None if self.data[0].valid is None else size_groups(self.valid_sizes)
        )
        self.records = [
            EpochRecord(train, valid)
            for train, valid in zip(self.train_sizes, self.valid_sizes, strict=True)
        ]
        self.generators = [torch.Generator().manual_seed(s.seed) for s in self.specs]
        self.failed: list[Exception | None] = [None] * K
        self.finished = np.zeros(K, dtype=bool)
        t = self.specs[0]
        self.stopping = [StoppingRule(t.n_iter_no_change, t.tol) for _ in range(K)]
        self.best_flat = self.flat.clone() if self.specs[0].early_stopping else None

    def _row_order(self, n_train, n_pad):
        """Yield, per epoch, each model's rows in order and their weights.

        Each model shuffles with its own generator, seeded with its spec's
        seed, as long as it trains (a finished model's generator stays where
        its serial fit leaves it). Positions past a model's rows are padding:
        index 0, weight 0.
        """
        K, dtype = len(self.specs), self.X.dtype
        train_rows = [torch.as_tensor(s.train, dtype=torch.long) for s in self.data]
        weights = [
            None
            if s.weight is None
            else torch.as_tensor(np.asarray(s.weight, dtype=np.float64))
            for s in self.data
        ]
        row_weight = torch.zeros(K, n_pad, dtype=dtype)
        for k, w in enumerate(weights):
            if w is None:  # the same every epoch
                row_weight[k, : n_train[k]] = 1.0
        while True:
            index = torch.zeros(K, n_pad, dtype=torch.long)
            for k in range(K):
                if self.finished[k]:
                    continue
                n = n_train[k]
                if self.specs[0].shuffle:
                    order = torch.randperm(n, generator=self.generators[k])
                else:
                    order = torch.arange(n)
                torch.index_select(train_rows[k], 0, order, out=index[k, :n])
                w = weights[k]
                if w is not None:
                    row_weight[k, :n] = w[order]
            yield index, row_weight

    def _record_epoch(self, epoch, losses, acc, valid, duration):
        """Write the epoch into each running model's history, as skorch does.

        The same row a serial fit writes: one entry per mini-batch and per
        validation chunk, the epoch means, and whether each score is the
        best yet. A model whose loss is not finite fails with the serial
        fit's error; with early stopping, a model whose validation loss
        stopped improving finishes. `losses` is a (models, batches) array.
        """
        t = self.specs[0]
        train_means = epoch_means(losses, self.train_weights)
        valid_means = None
        if valid is not None:
            width = max(len(sizes) for sizes in self.valid_sizes)
            scores = np.zeros((len(valid), width))
            for k, (chunks, _) in enumerate(valid):
                scores[k, : len(chunks)] = chunks
            valid_means = epoch_means(scores, self.valid_weights)
        for k in np.flatnonzero(~self.finished):
            record = self.records[k]
            valid_scores = valid_acc = None
            if valid is not None:
                valid_scores, valid_acc = valid[k]
            row = record.epoch(
                epoch,
                losses[k, : len(record.train_sizes)],
                acc[k],
                duration,
                valid_scores,
            )
            best = record.best
            loss = best.record(row, "train_loss", train_means[k])
            if not math.isfinite(loss):
                self._fail(
                    k,
                    diverged(
                        f"the training loss is {loss} at epoch {epoch}",
                        self.specs[k].lr,
                    ),
                )
                continue
            if valid is not None:
                score = valid_means[k]
                best.record(row, "valid_loss", score)
                best.record(row, "valid_acc", valid_acc, higher=True)
                if t.early_stopping:
                    self._early_stopping(k, epoch, score)

    def _activate(self, z, mask):
        """Hidden activation of each model; also what its derivative needs."""
        outputs = []
        if isinstance(self.activations[0][1], slice):
            outputs = [entry.forward(z[part]) for entry, part in self.activations]
            h = torch.cat(outputs)
            return (h if mask is None else h * mask), outputs
        h = None
        for entry, select in self.activations:
            a = entry.forward(z)
            outputs.append(a)
            part = a if select is None else a * select
            h = part if h is None else h + part
        if mask is not None:
            h = h * mask
        return h, outputs

    def _activation_grad(self, g, z, outputs, mask):
        if isinstance(self.activations[0][1], slice):
            grad = torch.cat(
                [
                    entry.backward(g[part], z[part], a)
                    for (entry, part), a in zip(self.activations, outputs, strict=True)
                ]
            )
            return grad if mask is None else grad * mask
        grad = None
        for (entry, select), a in zip(self.activations, outputs, strict=True):
            part = entry.backward(g, z, a)
            if select is not None:
                part = part * select
            grad = part if grad is None else grad + part
        return grad if mask is None else grad * mask

    def _step(self, xb, target, coef):
        """Forward and hand-written backward pass; fills `self.grad`.

        `target` holds the batch's one-hot labels (K, batch, classes) and
        `coef` its row coefficients (K, batch, 1): weight / batch length, 0
        on padding. Returns the logits.
        """
        h = xb
        inputs, pre, outputs = [xb], [], []
        *hidden, (w_out, b_out) = self.layers
        for (w, b), mask in zip(hidden, self.masks, strict=True):
            z = torch.baddbmm(b, h, w)
            h, out = self._activate(z, mask)
            pre.append(z)
            outputs.append(out)
            inputs.append(h)
        logits = torch.baddbmm(b_out, h, w_out)
        # d(weighted mean CE)/d logits = weight * (softmax - onehot) / n. A
        # softmax over the short class axis is much faster on CPU when that
        # axis is not the innermost one.
        # (Subtracting the one-hot labels is exact: x - 1 and x - 0.)
        grad = torch.softmax(logits.transpose(1, 2), 1).transpose(1, 2)
        grad.sub_(target).mul_(coef)
        for i in range(len(self.layers) - 1, -1, -1):
            w_grad, b_grad = self.grads[i]
            # Into contiguous results, then copied: a product written straight
            # into a strided view of the flat buffer is several times slower.
            w_grad.copy_(torch.bmm(inputs[i].transpose(1, 2), grad))
            b_grad.copy_(grad.sum(1, keepdim=True))
            if i:
                g = torch.bmm(grad, self.layers[i][0].transpose(1, 2))
                grad = self._activation_grad(
                    g, pre[i - 1], outputs[i - 1], self.masks[i - 1]
                )
        if self.input_grads:
            self._input_grad(torch.bmm(grad, self.layers[0][0].transpose(1, 2)))
        return logits

    def _epoch_updates(self, active_steps):
        """Each step's optimizer update in this epoch, for `_update`.

        `active_steps` says which models have a batch at each step; of
        those, the models still training are updated (models finish only
        between epochs). Each distinct set of models is worked out once.
        """
        running = ~self.finished
        plans = []
        for active in active_steps:
            active = active & running
            key = active.tobytes()
            plan = self._plans.get(key)
            if plan is None:
                plan = self._plans[key] = self._plan_update(active)
            plans.append(plan)
        return plans

    def _plan_update(self, active):
        """The update of the models in the boolean mask `active`, or None."""
        if not active.any():
            return None
        if self.fused is None:
            return slice(None) if active.all() else np.flatnonzero(active)
        # Models with as many batches per epoch share a step count.
        counts: dict = {}
        calls = []
        for (lr, wd), members in self.fused:
            parts: dict = {}
            for k in members:
                if active[k]:
                    parts.setdefault(len(self.train_sizes[k]), []).append(k)
            for n_batches, rows in parts.items():
                if n_batches not in counts:
                    counts[n_batches] = (
                        rows[0],
                        torch.zeros((), dtype=torch.float32, device=self.flat.device),
                    )
                count = counts[n_batches][1]
                calls.append((lr, wd, [count] * len(rows), self._row_lists(rows)))
        return np.flatnonzero(active), list(counts.values()), calls

    def _update(self, plan):
        """One optimizer step, as `_epoch_updates` planned it (others unchanged)."""
        if plan is None:
            return
        if self.fused is not None:
            self._fused_update(*plan)
        else:
            self._apply_update(plan)

    def _fused_update(self, rows, counts, calls):
        """Adam/AdamW through torch's fused kernel, one call per (lr, decay).

        The kernel `torch.optim.Adam(fused=True)` runs, on each model's row
        of the flat buffers: the serial update exactly, not just its formula.
        Models whose step counts agree share one step tensor (the kernel
        only reads it): models with as many batches per epoch have been
        active at the same steps (a finished model never is again), so
        their counts agree, and each of `calls` takes such models only.
        `counts` holds each step tensor with a model whose count it holds.
        """
        self.host_steps[rows] += 1
        for first, count in counts:
            count.fill_(float(self.host_steps[first]))
        rule = self.optimizer
        for lr, wd, steps, (params, grads, avgs, avg_sqs) in calls:
            fused_adam_update(
                rule.decoupled_decay,
                params,
                grads,
                avgs,
                avg_sqs,
                steps,
                lr=lr,
                betas=rule.betas,
                weight_decay=wd,
                eps=rule.eps,
            )

    def _row_lists(self, rows):
        return tuple(
            [t[k] for k in rows]
            for t in (self.flat, self.grad, self.exp_avg, self.exp_avg_sq)
        )

    def _apply_update(self, rows):
        """Batched Adam/AdamW/SGD update of the models at `rows`.

        The formulas are those of `torch.optim.Adam`/`AdamW`/`SGD` (default
        betas and eps, no momentum), with each model's own learning rate,
        weight decay and step count.
        """
        everyone = isinstance(rows, slice)
        if not everyone:
            index = torch.as_tensor(rows, device=self.flat.device)
        pick = (lambda t: t) if everyone else (lambda t: t.index_select(0, index))
        flat, grad, lr, wd = (
            pick(self.flat),
            pick(self.grad),
            pick(self.lr),
            pick(self.wd),
        )
        rule = self.optimizer
        if not rule.adam:  # SGD without momentum
            flat.sub_(lr * (grad + wd * flat))
        else:
            (beta1, beta2), eps = rule.betas, rule.eps
            avg, avg_sq = pick(self.exp_avg), pick(self.exp_avg_sq)
            if rule.decoupled_decay:
                flat.mul_(1 - lr * wd)
            elif self.any_decay:
                grad = grad + wd * flat
            self.host_steps[rows] += 1
            steps = self.host_steps[rows]
            if steps.min() == steps.max():
                # Bias corrections as Python floats when the counts agree.
                step = int(steps.max())
                step_size = lr / (1 - beta1**step)
                bias2_sqrt = math.sqrt(1 - beta2**step)
            else:
                steps = torch.as_tensor(steps, dtype=flat.dtype, device=flat.device)
                step_size = lr / (1 - beta1**steps).unsqueeze(1)
                bias2_sqrt = (1 - beta2**steps).sqrt().unsqueeze(1)
            avg.lerp_(grad, 1 - beta1)
            avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = avg_sq.sqrt().div_(bias2_sqrt).add_(eps)
            flat.addcdiv_(avg * step_size, denom, value=-1)
            if not everyone:
                self.exp_avg.index_copy_(0, index, avg)
                self.exp_avg_sq.index_copy_(0, index, avg_sq)
        if not everyone:
            self.flat.index_copy_(0, index, flat)

    def _validate(self):
        """Each model's validation scores, as the serial fit computes them.

        Per model: the loss on each chunk of its validation rows (the
        batches a serial fit validates in, `valid_sizes`) and the accuracy.
        """
        X, y = self.X, self.y
        K = len(self.specs)
        device = X.device
        n_valid = np.array([len(s.valid) for s in self.data])
        n_max = int(n_valid.max())
        index = torch.zeros(K, n_max, dtype=torch.long)
        weight = torch.zeros(K, n_max, dtype=X.dtype)
        for k, s in enumerate(self.data):
            index[k, : n_valid[k]] = torch.as_tensor(s.valid)
            w = s.valid_weight
            weight[k, : n_valid[k]] = 1.0 if w is None else torch.as_tensor(w)
        index, weight = index.to(device), weight.to(device)
        real = (torch.arange(n_max)[None, :] < torch.as_tensor(n_valid)[:, None]).to(
            device
        )
        loss_sums = []
        hits = torch.zeros(K, dtype=torch.float64, device=device)
        for start in range(0, n_max, INFERENCE_CHUNK):
            cols = slice(start, start + INFERENCE_CHUNK)
            logits = self._forward(X[index[:, cols]])
            yb = y[index[:, cols]]
            ce = torch.logsumexp(logits, 2) - logits.gather(2, yb.unsqueeze(2)).squeeze(
                2
            )
            mask = real[:, cols]
            loss_sums.append((ce * weight[:, cols]).sum(1, dtype=torch.float64))
            hits += ((logits.argmax(2) == yb) & mask).sum(1, dtype=torch.float64)
        loss_sums = torch.stack(loss_sums, 1).tolist()
        acc = (hits / torch.as_tensor(n_valid, device=device)).tolist()
        out = []
        for totals, sizes, accuracy in zip(
            loss_sums, self.valid_sizes, acc, strict=True
        ):
            chunks = zip(totals[: len(sizes)], sizes, strict=True)
            out.append(([total / size for total, size in chunks], accuracy))
        return out

    def _forward(self, h):
        *hidden, (w_out, b_out) = self.layers
        for (w, b), mask in zip(hidden, self.masks, strict=True):
            h, _ = self._activate(torch.baddbmm(b, h, w), mask)
        return torch.baddbmm(b_out, h, w_out)

    def _early_stopping(self, k, epoch, score):
        """The serial fit's early stopping (`StoppingRule`) for model `k`."""
        rule = self.stopping[k]
        if rule.update(epoch, score):
            self.best_flat[k] = self.flat[k]
        if rule.stop:
            self.finished[k] = True

    def _fail(self, k, exc):
        self.failed[k] = exc
        self.finished[k] = True

    def _results(self):
        out = []
        n_classes = self.n_classes
        finite = self._finite_outputs()
        views = self._layer_views(self.flat)
        with torch.no_grad():
            for k, spec in enumerate(self.specs):
                if self.failed[k] is not None:
                    out.append(self.failed[k])
                    continue
                net = self.nets[k].to(self.X.device)
                params = list(net.parameters())
                for param, value in zip(
                    params, self._unpadded(views, k, params), strict=True
                ):
                    param.copy_(value)
                history = self.records[k].history()
                try:
                    check_converged(
                        history[-1, "train_loss"], finite[k], n_classes, spec.lr
                    )
                except ValueError as exc:
                    out.append(exc)
                    continue
                out.append(
                    ModelState(
                        params={},
                        classes=self.classes,
                        n_features_in=self.X.shape[1],
                        feature_names_in=None,
                        history=history,
                        n_iter=len(history),
                        best_epoch=best_epoch(history, self.stopping[k].best_epoch),
                        module=net,
                        optimizer_state=self._optimizer_state(k, params),
                        row_order_state=self.generators[k].get_state(),
                    )
                )
        return out

    def _unpadded(self, views, k, params):
        """Model `k`'s part of `views`, shaped and ordered as `params`.

        `views` are a buffer's `_layer_views`, which hold weights transposed
        and zero-padded; `params` are the model's `QwertyNet` parameters
        (weight, bias of each layer). The results are views: reading or
        writing them reads or writes the buffer.
        """
        tensors = []
        for (w, b), weight in zip(views, params[::2], strict=True):
            out_f, in_f = weight.shape
            tensors += [w[k, :in_f, :out_f].t(), b[k, 0, :out_f]]
        return tensors

    def _optimizer_state(self, k, params):
        """Model `k`'s optimizer state, keyed as its serial optimizer keys it.

        SGD without momentum keeps no state; Adam and AdamW keep a step
        count and the two moments of each parameter.
        """
        if not self.optimizer.adam:
            return {}
        step = torch.tensor(float(self.host_steps[k]), dtype=torch.float32)
        moments = zip(
            self._unpadded(self._layer_views(self.exp_avg), k, params),
            self._unpadded(self._layer_views(self.exp_avg_sq), k, params),
            strict=True,
        )
        # Contiguous, as the parameters are: the fused kernel pairs elements
        # by memory position, not by index.
        return {
            i: {
                "step": step.clone(),
                "exp_avg": avg.clone(memory_format=torch.contiguous_format),
                "exp_avg_sq": avg_sq.clone(memory_format=torch.contiguous_format),
            }
            for i, (avg, avg_sq) in enumerate(moments)
        }

    def _finite_outputs(self):
        """Whether each model's logits on its first 1024 training rows are finite."""
        n = min(1024, min(len(s.train) for s in self.data))
        index = torch.as_tensor(
            np.stack([s.train[:n] for s in self.data]), device=self.X.device
        )
        with torch.no_grad():
            logits = self._forward(self.X[index])
        return torch.isfinite(logits).flatten(1).all(1).tolist()


class MemberBatchedTrainer(MemberLayers, BatchedTrainer):
    """`BatchedTrainer` for networks with `k > 1` BatchEnsemble members.

    `BatchedTrainer` becomes one when its specs have `batch_ensemble > 1`
    (all the same); its parameters and results are `BatchedTrainer`'s, the
    layers' arithmetic `MemberLayers`'.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from qwertyclf.training import FitSpec, RunData
    >>> X = torch.randn(30, 2)
    >>> y = (X[:, 0] > 0).long()
    >>> specs = [FitSpec((4,), "relu", False, 0.0, torch.optim.Adam, 0.01, 0.0,
    ...                  16, 2, True, None, False, 10, 1e-4, "float32",
    ...                  torch.device("cpu"), seed, batch_ensemble=3)
    ...          for seed in (0, 1)]
    >>> trainer = BatchedTrainer(X=X, y=y, classes=np.array([0, 1]), specs=specs,
    ...                          data=[RunData(train=np.arange(30))] * 2)
    >>> type(trainer).__name__, [state.n_iter for state in trainer.run()]
    ('MemberBatchedTrainer', [2, 2])
    """


class EmbeddedBatchedTrainer(EmbeddingLayers, BatchedTrainer):
    """`BatchedTrainer` for networks with the "pbld" numerical embedding.

    `BatchedTrainer` becomes one when its specs have
    `numeric_embedding="pbld"` and one member (all of them); its
    hidden layers, update and results are `BatchedTrainer`'s, the
    embedding's parameters and arithmetic `EmbeddingLayers`'.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from qwertyclf.training import FitSpec, RunData
    >>> X = torch.randn(30, 2)
    >>> y = (X[:, 0] > 0).long()
    >>> specs = [FitSpec((4,), "relu", False, 0.0, torch.optim.Adam, 0.01, 0.0,
    ...                  16, 2, True, None, False, 10, 1e-4, "float32",
    ...                  torch.device("cpu"), seed, numeric_embedding="pbld")
    ...          for seed in (0, 1)]
    >>> trainer = BatchedTrainer(X=X, y=y, classes=np.array([0, 1]), specs=specs,
    ...                          data=[RunData(train=np.arange(30))] * 2)
    >>> type(trainer).__name__, [state.n_iter for state in trainer.run()]
    ('EmbeddedBatchedTrainer', [2, 2])
    """


class EmbeddedMemberBatchedTrainer(EmbeddingLayers, MemberLayers, BatchedTrainer):
    """`BatchedTrainer` for networks with the "pbld" embedding and members.

    The embedding's parameters and arithmetic are `EmbeddingLayers`', the
    member layers' `MemberLayers`', the rest `BatchedTrainer`'s.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from qwertyclf.training import FitSpec, RunData
    >>> X = torch.randn(30, 2)
    >>> y = (X[:, 0] > 0).long()
    >>> specs = [FitSpec((4,), "relu", False, 0.0, torch.optim.Adam, 0.01, 0.0,
    ...                  16, 2, True, None, False, 10, 1e-4, "float32",
    ...                  torch.device("cpu"), seed, batch_ensemble=3,
    ...                  numeric_embedding="pbld") for seed in (0, 1)]
    >>> trainer = BatchedTrainer(X=X, y=y, classes=np.array([0, 1]), specs=specs,
    ...                          data=[RunData(train=np.arange(30))] * 2)
    >>> type(trainer).__name__, [state.n_iter for state in trainer.run()]
    ('EmbeddedMemberBatchedTrainer', [2, 2])
    """


#: (members?, numeric_embedding) -> the trainer class of such networks.
_TRAINERS = {
    (False, None): BatchedTrainer,
    (True, None): MemberBatchedTrainer,
    (False, "pbld"): EmbeddedBatchedTrainer,
    (True, "pbld"): EmbeddedMemberBatchedTrainer,
}


def _consecutive(names):
    """Each name with the slice of consecutive positions it holds, or None.

    None when some name's positions are not consecutive.

    Examples
    --------
    >>> _consecutive(["relu", "relu", "tanh"])
    [('relu', slice(0, 2, None)), ('tanh', slice(2, 3, None))]
    >>> _consecutive(["relu", "tanh", "relu"]) is None
    True
    """
    runs = []
    for i, name in enumerate(names):
        if runs and runs[-1][0] == name:
            runs[-1][2] = i + 1
        else:
            runs.append([name, i, i + 1])
    if len({name for name, _, _ in runs}) < len(runs):
        return None
    return [(name, slice(start, stop)) for name, start, stop in runs]
