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

Only what the batched step can reproduce is batched (`batchable` says which
specs qualify, through the same fast-path switches and agreement checks as
the serial engine); anything else is trained serially by the caller.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from skorch.history import History

from .._activations import ACTIVATIONS
from .._module import QwertyNet
from ._fast_path import fused_adam_works, hand_written_gradients
from ._fused_step import fused_adam_update
from ._net import SparseRows, batch_sizes
from ._runtime import INFERENCE_CHUNK, diverged, one_thread, seeded
from ._spec import FitSpec, best_epoch, check_converged
from ._state import ModelState

#: Optimizers the batched update reproduces, by class.
BATCHED_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)

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

# Adam's default betas and eps, as the serial fit uses them.
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


def batchable(spec: FitSpec) -> bool:
    """Whether the batched engine reproduces `spec`'s serial run.

    It does for plain networks (no batch norm, no dropout, no callbacks, no
    verbose output) trained with Adam, AdamW or SGD, whose activation has a
    hand-written gradient that the fast-path check accepts for the spec's
    dtype and device (and that `fast_path(manual_gradients=False)` has not
    switched off).

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
        and spec.batch_ensemble == 1
        and not spec.callbacks
        and not spec.verbose
        and spec.optimizer in BATCHED_OPTIMIZERS
        and ACTIVATIONS[spec.activation].backward is not None
        and hand_written_gradients(
            spec.activation, getattr(torch, spec.dtype), spec.device
        )
    )


def shared_settings(spec: FitSpec) -> tuple:
    """What must be equal for specs to train in one batched run.

    Models of one depth may differ in width, activation, learning rate,
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


@dataclass
class RunData:
    """The rows one model of a batched run trains and validates on.

    Parameters
    ----------
    train : ndarray of int
        Training row indices into the run's `X`, in order.
    valid : ndarray of int or None
        Validation row indices.
    weight, valid_weight : ndarray or None
        Row weights (mean 1) of the training and validation rows.

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
        One per model; `batchable`, with equal `shared_settings`.
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
    >>> from qwertyclf.training import FitSpec
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
        work = t.batch_size * len(self.specs) * max(widths)
        threads = one_thread() if work < PARALLEL_WORK else contextlib.nullcontext()
        with threads, torch.no_grad():
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
        `layers` and `grads` hold each layer's (weight, bias) views into it.
        """
        K = len(self.specs)
        self.shapes = shapes
        n_params = sum(i * o + o for i, o in shapes)
        self.flat = torch.zeros(K, n_params, dtype=self.X.dtype, device=self.X.device)
        self.grad = torch.zeros_like(self.flat)
        self.layers = self._layer_views(self.flat)
        self.grads = self._layer_views(self.grad)

    def _layer_views(self, buffer):
        """Each layer's (K, in, out) weight and (K, 1, out) bias in `buffer`."""
        K = len(self.specs)
        views = []
        offset = 0
        for i, o in self.shapes:
            w = slice(offset, offset + i * o)
            b = slice(offset + i * o, offset + i * o + o)
            offset += i * o + o
            views.append((buffer[:, w].view(K, i, o), buffer[:, b].view(K, 1, o)))
        return views

    def _activation_table(self):
        """(activation, selector) pairs: each applies to the models it selects.

        Each activation in the run is applied to every model and kept where
        selected: x * 1 + y * 0 is exactly x, so mixing is exact. With one
        activation the selector is None.
        """
        names = sorted({spec.activation for spec in self.specs})
        if len(names) == 1:
            return [(ACTIVATIONS[names[0]], None)]
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
        for k, spec in enumerate(self.specs):
            with seeded(spec.seed, device):
                net = QwertyNet(
                    n_features=X.shape[1],
                    n_classes=self.n_classes,
                    hidden_layer_sizes=spec.hidden_layer_sizes,
                    activation=spec.activation,
                    dtype=X.dtype,
                )
            self.nets.append(net)
            params = list(net.parameters())
            for view, param in zip(
                self._unpadded(self.layers, k, params), params, strict=True
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
        self.optimizer = self.specs[0].optimizer
        self.fused = None
        hyper = {}
        for k, spec in enumerate(self.specs):
            hyper.setdefault((spec.lr, spec.weight_decay), []).append(k)
        if (
            self.optimizer in (torch.optim.Adam, torch.optim.AdamW)
            and device.type in ("cpu", "cuda")
            and len(hyper) <= FUSED_MAX_CALLS
            and K <= FUSED_MAX_MODELS
            and fused_adam_works(self.optimizer, dtype, device)
        ):
            self.fused = list(hyper.items())
            self._fused_calls = {}
        self._minus_ones = {}
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
        for epoch in range(1, t.max_epochs + 1):
            start = time.time()
            index, row_weight = next(shuffle)
            coef = (inv_len * row_weight).to(device)
            index = index.to(device)
            targets = y[index]
            if gather_epoch:
                data = X[index]
            outputs = []
            for b in range(n_batches):
                cols = slice(b * bs, (b + 1) * bs)
                xb = data[:, cols] if gather_epoch else X[index[:, cols]]
                outputs.append(self._step(xb, targets[:, cols], coef[:, cols]))
                self._update(active_steps[b])
            # Each batch's loss (mean of weight x cross-entropy) and the
            # epoch's accuracy, as the serial fit records them, with one
            # transfer per epoch.
            logits = torch.cat(outputs, 1)
            ce = torch.logsumexp(logits, 2) - logits.gather(
                2, targets.unsqueeze(2)
            ).squeeze(2)
            # float64 holds each float32 loss exactly, as Python floats do.
            losses = (ce * coef).view(K, n_batches, bs).sum(2).cpu().double().numpy()
            hits = ((logits.argmax(2) == targets) * real_f).sum(1, dtype=torch.float64)
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
        self.train_weights = _size_groups(self.train_sizes)
        self.valid_weights = (
            None if self.data[0].valid is None else _size_groups(self.valid_sizes)
        )
        self.histories = [History() for _ in range(K)]
        self.best_scores = [{} for _ in range(K)]
        self.generators = [torch.Generator().manual_seed(s.seed) for s in self.specs]
        self.failed: list[Exception | None] = [None] * K
        self.finished = np.zeros(K, dtype=bool)
        self.best_epoch = [None] * K
        self.threshold = np.full(K, np.inf)
        self.misses = np.zeros(K, dtype=int)
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
                index[k, :n] = train_rows[k][order]
                w = weights[k]
                row_weight[k, :n] = 1.0 if w is None else w[order]
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
        train_means = _weighted_means(losses, self.train_weights)
        valid_means = None
        if valid is not None:
            width = max(len(sizes) for sizes in self.valid_sizes)
            scores = np.zeros((len(valid), width))
            for k, (chunks, _) in enumerate(valid):
                scores[k, : len(chunks)] = chunks
            valid_means = _weighted_means(scores, self.valid_weights)
        for k in np.flatnonzero(~self.finished):
            sizes = self.train_sizes[k]
            batches = [
                {"train_loss": loss, "train_batch_size": size}
                for loss, size in zip(
                    losses[k, : len(sizes)].tolist(), sizes, strict=True
                )
            ]
            row = {
                "batches": batches,
                "epoch": epoch,
                "train_acc": acc[k],
                "train_batch_count": len(sizes),
            }
            if valid is not None:
                valid_scores, valid_acc = valid[k]
                valid_sizes = self.valid_sizes[k]
                batches += [
                    {"valid_loss": loss, "valid_batch_size": size}
                    for loss, size in zip(valid_scores, valid_sizes, strict=True)
                ]
                row["valid_batch_count"] = len(valid_sizes)
            row["dur"] = duration
            self.histories[k].append(row)
            # Epoch means weighted by batch size, as skorch's
            # PassthroughScoring takes them (np.average's arithmetic, for all
            # models at once).
            loss = self._score(k, row, "train_loss", train_means[k])
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
                self._score(k, row, "valid_loss", score)
                self._score(k, row, "valid_acc", valid_acc, higher=True)
                if t.early_stopping:
                    self._early_stopping(k, epoch, score)

    def _score(self, k, row, name, score, *, higher=False):
        """Record `score` and whether it is model `k`'s best yet.

        As skorch's scoring callbacks do: "best" is strictly lower (or
        `higher`) than every earlier epoch's score.
        """
        best = self.best_scores[k].get(name, -math.inf if higher else math.inf)
        is_best = bool(score > best if higher else score < best)
        if is_best:
            self.best_scores[k][name] = score
        row[name] = score
        row[name + "_best"] = is_best
        return score

    def _activate(self, z, mask):
        """Hidden activation of each model; also what its derivative needs."""
        outputs = []
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
        grad = None
        for (entry, select), a in zip(self.activations, outputs, strict=True):
            part = entry.backward(g, z, a)
            if select is not None:
                part = part * select
            grad = part if grad is None else grad + part
        return grad if mask is None else grad * mask

    def _step(self, xb, yb, coef):
        """Forward and hand-written backward pass; fills `self.grad`."""
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
        grad = torch.softmax(logits.transpose(1, 2), 1).transpose(1, 2)
        grad.scatter_add_(2, yb.unsqueeze(2), self._minus_one(grad))
        grad.mul_(coef.unsqueeze(2))
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
        return logits

    def _minus_one(self, like):
        """A cached (K, batch, 1) tensor of -1 (batch sizes repeat)."""
        n = like.shape[1]
        column = self._minus_ones.get(n)
        if column is None:
            column = torch.full_like(like[..., :1], -1.0)
            self._minus_ones[n] = column
        return column

    def _update(self, active):
        """One optimizer step for the models in `active` (others unchanged)."""
        active = active & ~self.finished
        if self.fused is not None:
            self._fused_update(active)
        elif active.all():
            self._apply_update(slice(None))
        elif active.any():
            self._apply_update(np.flatnonzero(active))

    def _fused_update(self, active):
        """Adam/AdamW through torch's fused kernel, one call per (lr, decay).

        The kernel `torch.optim.Adam(fused=True)` runs, on each model's row
        of the flat buffers: the serial update exactly, not just its formula.
        Models whose step counts agree share one step tensor (the kernel
        only reads it).
        """
        self.host_steps[active] += 1
        key = active.tobytes()
        calls = self._fused_calls.get(key)
        if calls is None:
            calls = []
            for (lr, wd), members in self.fused:
                rows = np.array([k for k in members if active[k]], dtype=np.intp)
                if len(rows):
                    calls.append((lr, wd, rows, self._row_lists(rows)))
            self._fused_calls[key] = calls
        decoupled = self.optimizer is torch.optim.AdamW
        for lr, wd, rows, lists in calls:
            steps = self.host_steps[rows]
            if steps.min() == steps.max():
                parts = [(lists, int(steps[0]))]
            else:
                parts = [
                    (self._row_lists(rows[steps == step]), int(step))
                    for step in np.unique(steps)
                ]
            for (params, grads, avgs, avg_sqs), step in parts:
                count = torch.tensor(
                    float(step), dtype=torch.float32, device=self.flat.device
                )
                fused_adam_update(
                    decoupled,
                    params,
                    grads,
                    avgs,
                    avg_sqs,
                    [count] * len(params),
                    lr=lr,
                    betas=(_BETA1, _BETA2),
                    weight_decay=wd,
                    eps=_EPS,
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
        if self.optimizer is torch.optim.SGD:
            flat.sub_(lr * (grad + wd * flat))
        else:
            avg, avg_sq = pick(self.exp_avg), pick(self.exp_avg_sq)
            if self.optimizer is torch.optim.AdamW:
                flat.mul_(1 - lr * wd)
            elif self.any_decay:
                grad = grad + wd * flat
            self.host_steps[rows] += 1
            steps = self.host_steps[rows]
            if steps.min() == steps.max():
                # Bias corrections as Python floats when the counts agree.
                step = int(steps.max())
                step_size = lr / (1 - _BETA1**step)
                bias2_sqrt = math.sqrt(1 - _BETA2**step)
            else:
                steps = torch.as_tensor(steps, dtype=flat.dtype, device=flat.device)
                step_size = lr / (1 - _BETA1**steps).unsqueeze(1)
                bias2_sqrt = (1 - _BETA2**steps).sqrt().unsqueeze(1)
            avg.lerp_(grad, 1 - _BETA1)
            avg_sq.mul_(_BETA2).addcmul_(grad, grad, value=1 - _BETA2)
            denom = avg_sq.sqrt().div_(bias2_sqrt).add_(_EPS)
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
        """skorch-style `EarlyStopping` on `valid_loss`, absolute threshold."""
        t = self.specs[0]
        if score < self.threshold[k]:
            self.misses[k] = 0
            self.threshold[k] = score - t.tol
            self.best_epoch[k] = epoch
            self.best_flat[k] = self.flat[k]
        else:
            self.misses[k] += 1
        if self.misses[k] == t.n_iter_no_change:
            self.finished[k] = True

    def _fail(self, k, exc):
        self.failed[k] = exc
        self.finished[k] = True

    def _results(self):
        out = []
        n_classes = self.n_classes
        finite = self._finite_outputs()
        with torch.no_grad():
            for k, spec in enumerate(self.specs):
                if self.failed[k] is not None:
                    out.append(self.failed[k])
                    continue
                net = self.nets[k].to(self.X.device)
                params = list(net.parameters())
                for param, value in zip(
                    params, self._unpadded(self.layers, k, params), strict=True
                ):
                    param.copy_(value)
                history = self.histories[k]
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
                        best_epoch=best_epoch(history, self.best_epoch[k]),
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
        if self.optimizer is torch.optim.SGD:
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


def _size_groups(sizes):
    """Models grouped by their number of batches, with their batch sizes.

    A list of (model indices, (models, batches) array of batch sizes), one
    entry per distinct number of batches: the weights `_weighted_means`
    takes.
    """
    groups = {}
    for k, row in enumerate(sizes):
        groups.setdefault(len(row), []).append(k)
    return [
        (np.array(members), np.array([sizes[k] for k in members]))
        for members in groups.values()
    ]


def _weighted_means(values, groups):
    """Each model's batch-size weighted mean of its row of `values`.

    The arithmetic of `np.average(row, weights=sizes)` (the product summed,
    divided by the summed weights, in float64), row by row, so each mean is
    bitwise the one a serial fit records; one call per group, not per model.
    """
    means = np.empty(len(values))
    for members, weights in groups:
        part = values[members, : weights.shape[1]]
        means[members] = np.multiply(part, weights, dtype=np.float64).sum(
            1
        ) / weights.sum(1, dtype=np.float64)
    return means
