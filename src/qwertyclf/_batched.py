"""Many `QwertyClassifier` fits trained as one batched run.

A cross-validated search trains dozens of small networks that differ only in
a few numbers (learning rate, width, seed, training rows). Each of them spends
its time in per-step overhead, not arithmetic. `fit_batched` stacks K such
networks: every layer's weights become one `(K, in, out)` tensor, a training
step gathers each model's mini-batch into a `(K, batch, features)` tensor,
runs the forward and backward passes as batched matrix products
(`torch.baddbmm`, `torch.bmm`) and updates all models with one batched
Adam/AdamW/SGD step.

Each model reproduces its serial fit: it starts from the weights
`QwertyClassifier(random_state=r)` would build, sees its rows in the same
order (one `torch.randperm` per epoch from a generator seeded like the serial
one), the same batches, the same loss and the same optimizer update. Models
narrower than the widest are zero-padded, and the padding is masked so it
stays exactly zero. A model whose epoch has fewer batches, or that early
stopping has finished, skips the update (its optimizer state does not move).

Only what the batched step can reproduce is batched (`batch_key` says which
estimators qualify); anything else is fitted by the caller the ordinary way.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data
from skorch.history import History

from ._activations import ACTIVATIONS
from ._classifier import (
    _FLOAT_DTYPES,
    QwertyClassifier,
    _check_optimizer,
    _stratified_split,
    _to_tensor,
)
from ._module import QwertyNet, check_architecture
from ._persistence import ModelState
from ._training import INFERENCE_CHUNK, diverged, seeded

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

#: Upper bound on models trained in one batched run (larger requests are
#: split into runs of at most this many, to bound memory).
MAX_MODELS_PER_RUN = 4096

#: Most (lr, weight_decay) pairs in a run for which Adam steps through torch's
#: fused kernel (one call per pair); more use the batched formula instead.
FUSED_MAX_CALLS = 8

#: Most models in a run for which the fused kernel is used: it costs a little
#: per model, the batched formula a little per element, and beyond this many
#: models the formula is faster.
FUSED_MAX_MODELS = 64

# Adam's default betas and eps, as the serial fit uses them.
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


def batch_key(estimator) -> tuple | None:
    """What must be equal for estimators to train in one batched run.

    Models of one depth may differ in width, activation, learning rate,
    weight decay, class weights and seed. Returns None for estimators the
    batched trainer cannot reproduce exactly:
    anything but a plain `QwertyClassifier`, batch norm, dropout, custom
    callbacks, an optimizer other than Adam/AdamW/SGD, an activation without
    a hand-written gradient, `warm_start` or verbose output.

    Parameters
    ----------
    estimator : estimator
        An unfitted estimator.

    Returns
    -------
    key : tuple or None
        Hashable key; estimators with equal keys may share a run.

    Examples
    --------
    >>> from qwertyclf import QwertyClassifier
    >>> batch_key(QwertyClassifier(lr=0.1)) == batch_key(QwertyClassifier(lr=0.5))
    True
    >>> batch_key(QwertyClassifier(dropout=0.2)) is None
    True
    """
    if type(estimator) is not QwertyClassifier:
        return None
    p = estimator.get_params(deep=False)
    try:
        estimator._check_params()
        optimizer = _check_optimizer(p["optimizer"])
        hidden = check_architecture(p["hidden_layer_sizes"], p["activation"], 0.0)
    except (ValueError, TypeError):
        return None
    if (
        p["batch_norm"]
        or p["dropout"]
        or p["callbacks"]
        or p["warm_start"]
        or p["verbose"]
        or optimizer not in BATCHED_OPTIMIZERS
        or ACTIVATIONS[p["activation"]].backward is None
    ):
        return None
    fraction = p["validation_fraction"]
    if fraction is None and p["early_stopping"]:
        fraction = 0.1
    return (
        len(hidden),
        optimizer,
        int(p["batch_size"]),
        int(p["max_epochs"]),
        bool(p["shuffle"]),
        fraction,
        bool(p["early_stopping"]),
        int(p["n_iter_no_change"]) if p["early_stopping"] else None,
        float(p["tol"]) if p["early_stopping"] else None,
        p["dtype"],
        str(estimator._check_params()),
    )


def fit_batched(
    estimators: Sequence[QwertyClassifier],
    X,
    y,
    train_rows: Sequence[np.ndarray] | None = None,
    *,
    sample_weight=None,
    max_models: int = MAX_MODELS_PER_RUN,
) -> list[QwertyClassifier | Exception]:
    """Fit K estimators, each on its own rows, as batched runs.

    Model `k` ends as `clone(estimators[k]).fit(X[train_rows[k]],
    y[train_rows[k]], sample_weight=sample_weight[train_rows[k]])` would:
    same initial weights, same batches, same updates (exactly so up to
    floating-point summation order). Estimators are grouped by `batch_key`
    and by the classes in their rows; each group trains as one run.

    Parameters
    ----------
    estimators : sequence of QwertyClassifier
        Unfitted estimators for which `batch_key` is not None. They are not
        modified; fitted copies are returned.
    X : array-like of shape (n_samples, n_features)
        All rows any model trains on.
    y : array-like of shape (n_samples,)
        Class labels.
    train_rows : sequence of int arrays, default=None
        Row indices of each model's training data, in order; None trains
        every model on all rows.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights, taken at each model's rows.
    max_models : int, default=4096
        Largest number of models in one run; bigger groups are split.

    Returns
    -------
    fitted : list
        For each estimator, a fitted `QwertyClassifier`, or the exception its
        fit raised (for example a divergence error).

    Examples
    --------
    >>> from qwertyclf import QwertyClassifier
    >>> from qwertyclf.datasets import make_qwerty
    >>> X, y = make_qwerty(20, random_state=0)
    >>> models = [QwertyClassifier(lr=lr, max_epochs=5, random_state=0)
    ...           for lr in (0.01, 0.05)]
    >>> fitted = fit_batched(models, X, y)
    >>> [m.n_iter_ for m in fitted]
    [5, 5]
    """
    if len(estimators) == 0:
        return []
    # Validated once, as a serial fit validates its data; every model records
    # the same n_features_in_ (and feature_names_in_).
    checked = clone(estimators[0])
    X, y = validate_data(checked, X, y, dtype=_FLOAT_DTYPES)
    check_classification_targets(y)
    if train_rows is None:
        train_rows = [np.arange(len(y))] * len(estimators)
    if len(train_rows) != len(estimators):
        raise ValueError("train_rows must hold one index array per estimator.")
    results: list = [None] * len(estimators)
    groups: dict = {}
    for k, (est, rows) in enumerate(zip(estimators, train_rows, strict=True)):
        key = batch_key(est)
        if key is None:
            raise ValueError(f"{est!r} cannot be trained in a batched run.")
        rows = np.asarray(rows, dtype=np.intp)
        classes = np.unique(y[rows])
        groups.setdefault((key, tuple(classes.tolist())), []).append(k)
    for (_, classes), members in groups.items():
        classes = np.asarray(classes, dtype=y.dtype)
        for start in range(0, len(members), max_models):
            chunk = members[start : start + max_models]
            fitted = _fit_group(
                [estimators[k] for k in chunk],
                X,
                y,
                classes,
                [np.asarray(train_rows[k], dtype=np.intp) for k in chunk],
                sample_weight,
                checked,
            )
            for k, result in zip(chunk, fitted, strict=True):
                results[k] = result
    return results


def _fit_group(estimators, X, y, classes, train_rows, sample_weight, checked):
    """Train one group (equal `batch_key` and classes) as one run."""
    models = [clone(est) for est in estimators]
    first = models[0]
    if len(classes) < 2:
        try:
            first._check_n_classes(classes)
        except ValueError as exc:
            return [exc] * len(models)
    device = first._check_params()
    dtype = first.dtype
    y_enc = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    specs, failed = [], {}
    for k, (model, rows) in enumerate(zip(models, train_rows, strict=True)):
        model.classes_ = classes
        model.n_features_in_ = checked.n_features_in_
        if hasattr(checked, "feature_names_in_"):
            model.feature_names_in_ = checked.feature_names_in_
        model.device_ = device
        try:
            specs.append(_model_spec(model, X, y, y_enc, rows, sample_weight))
        except ValueError as exc:
            # What the serial fit of this model alone would raise.
            failed[k] = exc
    trained = []
    if specs:
        trainer = BatchedTrainer(
            X=_to_tensor(X, device, dtype),
            y=torch.as_tensor(y_enc, dtype=torch.long, device=device),
            n_classes=len(classes),
            specs=specs,
            template=first,
        )
        trained = trainer.run()
    trained = iter(trained)
    results = [failed[k] if k in failed else next(trained) for k in range(len(models))]
    out = []
    for model, result in zip(models, results, strict=True):
        if isinstance(result, Exception):
            out.append(result)
            continue
        module, history, best_epoch = result
        # The same fitted state a model file restores.
        model._restore(
            ModelState(
                params=model.get_params(),
                classes=classes,
                n_features_in=model.n_features_in_,
                feature_names_in=getattr(model, "feature_names_in_", None),
                history=history,
                n_iter=len(history),
                best_epoch=best_epoch,
                module=module,
            )
        )
        out.append(model)
    return out


def _model_spec(model, X, y, y_enc, rows, sample_weight):
    """Seed, training and validation rows and row weights of one model."""
    seed = model._seed()
    sw = None if sample_weight is None else np.asarray(sample_weight)[rows]
    weight, _ = model._sample_weight(X[rows], y[rows], sw)
    fraction = model.validation_fraction
    if fraction is None and model.early_stopping:
        fraction = 0.1
    train, valid, valid_weight = rows, None, None
    if fraction is not None:
        train, valid, _, _, weight, valid_weight = _stratified_split(
            rows, y_enc[rows], weight, fraction, seed
        )
        if valid_weight is not None and valid_weight.sum() > 0:
            valid_weight = valid_weight * (len(valid_weight) / valid_weight.sum())
    hidden = check_architecture(model.hidden_layer_sizes, model.activation, 0.0)
    return {
        "seed": seed,
        "train": train,
        "valid": valid,
        "weight": weight,
        "valid_weight": valid_weight,
        "hidden": hidden,
        "activation": model.activation,
        "lr": float(model.lr),
        "weight_decay": float(model.weight_decay),
    }


class BatchedTrainer:
    """Train K stacked plain MLPs together; the engine behind `fit_batched`.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        All rows, on the training device, in the training dtype.
    y : torch.Tensor of shape (n_samples,)
        Encoded class indices.
    n_classes : int
        Number of output logits.
    specs : list of dict
        Per model: `seed`, `train` (row indices, in order), `valid` (row
        indices or None), `weight` and `valid_weight` (row weights or None),
        `hidden` (hidden widths), `activation`, `lr`, `weight_decay`.
    template : QwertyClassifier
        Supplies what all models share: optimizer, batch size,
        epochs, shuffling, early stopping, dtype.

    Examples
    --------
    >>> import torch
    >>> from qwertyclf import QwertyClassifier
    >>> X = torch.randn(30, 2)
    >>> y = (X[:, 0] > 0).long()
    >>> specs = [dict(seed=s, train=torch.arange(30).numpy(), valid=None,
    ...               weight=None, valid_weight=None, hidden=(4,),
    ...               activation="relu", lr=0.01, weight_decay=0.0)
    ...          for s in (0, 1)]
    >>> trainer = BatchedTrainer(X=X, y=y, n_classes=2, specs=specs,
    ...                          template=QwertyClassifier(max_epochs=2))
    >>> [len(history) for _, history, _ in trainer.run()]
    [2, 2]
    """

    def __init__(self, *, X, y, n_classes, specs, template):
        self.X = X
        self.y = y
        self.n_classes = n_classes
        self.specs = specs
        self.template = template

    def run(self) -> list:
        """Train; per model, `(QwertyNet, history, best_epoch)` or an exception."""
        t = self.template
        widths = [self.X.shape[1], *self._max_hidden(), self.n_classes]
        work = t.batch_size * len(self.specs) * max(widths)
        with _threads(one=work < PARALLEL_WORK), torch.no_grad():
            self._init_params()
            self._train()
            return self._results()

    def _max_hidden(self):
        return [max(s["hidden"][i] for s in self.specs) for i in range(self._depth())]

    def _depth(self):
        return len(self.specs[0]["hidden"])

    def _init_params(self):
        """Stack the initial weights of each model's `QwertyNet`."""
        t, X = self.template, self.X
        K = len(self.specs)
        dtype, device = X.dtype, X.device
        sizes = [X.shape[1], *self._max_hidden(), self.n_classes]
        shapes = [(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
        n_params = sum(i * o + o for i, o in shapes)
        # One flat buffer per model holds all its parameters, so the optimizer
        # update is a handful of operations on a (K, P) tensor.
        self.flat = torch.zeros(K, n_params, dtype=dtype, device=device)
        self.grad = torch.zeros_like(self.flat)
        self.layers, self.grads = [], []
        offset = 0
        for i, o in shapes:
            w = slice(offset, offset + i * o)
            b = slice(offset + i * o, offset + i * o + o)
            offset += i * o + o
            self.layers.append(
                (self.flat[:, w].view(K, i, o), self.flat[:, b].view(K, 1, o))
            )
            self.grads.append(
                (self.grad[:, w].view(K, i, o), self.grad[:, b].view(K, 1, o))
            )
        # Each activation in the run is applied to every model and kept where
        # selected: x * 1 + y * 0 is exactly x, so mixing is exact.
        names = sorted({spec["activation"] for spec in self.specs})
        self.activations = [
            (
                ACTIVATIONS[name],
                None
                if len(names) == 1
                else torch.tensor(
                    [[[float(spec["activation"] == name)]] for spec in self.specs],
                    dtype=dtype,
                    device=device,
                ),
            )
            for name in names
        ]
        # Padded units must stay zero. With act(0) = 0 they do on their own
        # (their outgoing weights are zero, so no gradient reaches them);
        # otherwise their outputs are masked.
        zero = torch.zeros(1, dtype=dtype)
        self.masks = []
        for layer in range(len(shapes) - 1):
            widths = {spec["hidden"][layer] for spec in self.specs}
            if len(widths) == 1 or all(
                entry.forward(zero).item() == 0 for entry, _ in self.activations
            ):
                self.masks.append(None)
                continue
            mask = torch.zeros(K, 1, shapes[layer][1], dtype=dtype, device=device)
            for k, spec in enumerate(self.specs):
                mask[k, 0, : spec["hidden"][layer]] = 1
            self.masks.append(mask)
        self.nets = []
        for k, spec in enumerate(self.specs):
            with seeded(spec["seed"], device):
                net = QwertyNet(
                    n_features=X.shape[1],
                    n_classes=self.n_classes,
                    hidden_layer_sizes=spec["hidden"],
                    activation=spec["activation"],
                    dtype=dtype,
                )
            self.nets.append(net)
            linears = [m for m in net if isinstance(m, torch.nn.Linear)]
            for (weight, bias), linear in zip(self.layers, linears, strict=True):
                out_f, in_f = linear.weight.shape
                weight[k, :in_f, :out_f] = linear.weight.t().to(device)
                bias[k, 0, :out_f] = linear.bias.to(device)
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)
        self.host_steps = np.zeros(K, dtype=np.int64)
        self.lr = torch.tensor(
            [[s["lr"]] for s in self.specs], dtype=dtype, device=device
        )
        self.wd = torch.tensor(
            [[s["weight_decay"]] for s in self.specs], dtype=dtype, device=device
        )
        self.optimizer = _check_optimizer(t.optimizer)
        self.fused = None
        hyper = {}
        for k, spec in enumerate(self.specs):
            hyper.setdefault((spec["lr"], spec["weight_decay"]), []).append(k)
        if (
            self.optimizer in (torch.optim.Adam, torch.optim.AdamW)
            and hasattr(torch, "_fused_adam_")
            and device.type in ("cpu", "cuda")
            and len(hyper) <= FUSED_MAX_CALLS
            and K <= FUSED_MAX_MODELS
        ):
            self.fused = list(hyper.items())
            self._fused_calls = {}
        self._minus_ones = {}
        self.any_decay = any(s["weight_decay"] for s in self.specs)

    def _train(self):
        t, X, y = self.template, self.X, self.y
        K = len(self.specs)
        dtype, device = X.dtype, X.device
        bs = t.batch_size
        n_train = np.array([len(s["train"]) for s in self.specs])
        n_pad = int(math.ceil(n_train.max() / bs) * bs)
        n_batches = n_pad // bs
        generators = [torch.Generator().manual_seed(s["seed"]) for s in self.specs]
        train_rows = [torch.as_tensor(s["train"], dtype=torch.long) for s in self.specs]
        weights = [
            None
            if s["weight"] is None
            else torch.as_tensor(np.asarray(s["weight"], dtype=np.float64))
            for s in self.specs
        ]
        # 1 / (length of the batch the position falls in), 0 on padding.
        position = np.arange(n_pad)
        inv_len = np.zeros((K, n_pad))
        for k, n in enumerate(n_train):
            starts = (position[:n] // bs) * bs
            inv_len[k, :n] = 1.0 / np.minimum(bs, n - starts)
        inv_len = torch.as_tensor(inv_len, dtype=dtype)
        row_weight = torch.zeros(K, n_pad, dtype=dtype)
        real = torch.as_tensor(position[None, :] < n_train[:, None])
        real_f = real.to(dtype=dtype, device=device)
        has_valid = self.specs[0]["valid"] is not None
        self.histories = [History() for _ in range(K)]
        self.failed: list[Exception | None] = [None] * K
        self.finished = np.zeros(K, dtype=bool)
        self.best_epoch = [None] * K
        self.threshold = np.full(K, np.inf)
        self.misses = np.zeros(K, dtype=int)
        self.best_flat = self.flat.clone() if t.early_stopping else None
        gather_epoch = K * n_pad * X.shape[1] * X.element_size() <= GATHER_EPOCH_BYTES
        # Models with a batch at each step, on the host (for the update).
        active_steps = [n_train > b * bs for b in range(n_batches)]
        for epoch in range(1, t.max_epochs + 1):
            start = time.time()
            index = torch.zeros(K, n_pad, dtype=torch.long)
            coef = torch.zeros(K, n_pad, dtype=dtype)
            for k in range(K):
                n = n_train[k]
                if t.shuffle:
                    order = torch.randperm(n, generator=generators[k])
                else:
                    order = torch.arange(n)
                index[k, :n] = train_rows[k][order]
                w = weights[k]
                row_weight[k, :n] = 1.0 if w is None else w[order]
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
            # Loss (mean of weight x cross-entropy) and accuracy over the
            # epoch's rows, once, as the serial fit records them.
            logits = torch.cat(outputs, 1)
            ce = torch.logsumexp(logits, 2) - logits.gather(
                2, targets.unsqueeze(2)
            ).squeeze(2)
            loss_sum = (ce * row_weight.to(device)).sum(1, dtype=torch.float64)
            hits = ((logits.argmax(2) == targets) * real_f).sum(1, dtype=torch.float64)
            duration = time.time() - start
            loss = (loss_sum / torch.as_tensor(n_train, device=device)).tolist()
            acc = (hits / torch.as_tensor(n_train, device=device)).tolist()
            if has_valid:
                valid_loss, valid_acc = self._validate()
            for k in range(K):
                if self.finished[k]:
                    continue
                h = self.histories[k]
                h.new_epoch()
                h.record("epoch", epoch)
                h.new_batch()
                h.record_batch("train_loss", loss[k])
                h.record_batch("train_batch_size", int(n_train[k]))
                h.record("train_batch_count", math.ceil(n_train[k] / bs))
                _record(h, "train_loss", loss[k], best=True)
                _record(h, "train_acc", acc[k])
                if not math.isfinite(loss[k]):
                    self._fail(
                        k,
                        diverged(
                            f"the training loss is {loss[k]} at epoch {epoch}",
                            self.specs[k]["lr"],
                        ),
                    )
                    continue
                if has_valid:
                    _record(h, "valid_loss", valid_loss[k], best=True)
                    _record(h, "valid_acc", valid_acc[k])
                h.record("dur", duration)
                if t.early_stopping:
                    self._early_stopping(k, epoch, valid_loss[k])
            if self.finished.all():
                break
        if t.early_stopping:
            # Like skorch's EarlyStopping(load_best=True): keep the best epoch.
            self.flat.copy_(self.best_flat)

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
        kernel = (
            torch._fused_adamw_
            if self.optimizer is torch.optim.AdamW
            else torch._fused_adam_
        )
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
                kernel(
                    params,
                    grads,
                    avgs,
                    avg_sqs,
                    [],
                    [count] * len(params),
                    amsgrad=False,
                    lr=lr,
                    beta1=_BETA1,
                    beta2=_BETA2,
                    weight_decay=wd,
                    eps=_EPS,
                    maximize=False,
                    grad_scale=None,
                    found_inf=None,
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
        """Mean cross-entropy and accuracy of each model on its validation rows."""
        X, y = self.X, self.y
        K = len(self.specs)
        device = X.device
        n_valid = np.array([len(s["valid"]) for s in self.specs])
        n_max = int(n_valid.max())
        index = torch.zeros(K, n_max, dtype=torch.long)
        weight = torch.zeros(K, n_max, dtype=X.dtype)
        for k, s in enumerate(self.specs):
            index[k, : n_valid[k]] = torch.as_tensor(s["valid"])
            w = s["valid_weight"]
            weight[k, : n_valid[k]] = 1.0 if w is None else torch.as_tensor(w)
        index, weight = index.to(device), weight.to(device)
        real = (torch.arange(n_max)[None, :] < torch.as_tensor(n_valid)[:, None]).to(
            device
        )
        loss_sum = torch.zeros(K, dtype=torch.float64, device=device)
        hits = torch.zeros(K, dtype=torch.float64, device=device)
        for start in range(0, n_max, INFERENCE_CHUNK):
            cols = slice(start, start + INFERENCE_CHUNK)
            logits = self._forward(X[index[:, cols]])
            yb = y[index[:, cols]]
            ce = torch.logsumexp(logits, 2) - logits.gather(2, yb.unsqueeze(2)).squeeze(
                2
            )
            mask = real[:, cols]
            loss_sum += (ce * weight[:, cols]).sum(1, dtype=torch.float64)
            hits += ((logits.argmax(2) == yb) & mask).sum(1, dtype=torch.float64)
        n = torch.as_tensor(n_valid, device=device)
        return (loss_sum / n).tolist(), (hits / n).tolist()

    def _forward(self, h):
        *hidden, (w_out, b_out) = self.layers
        for (w, b), mask in zip(hidden, self.masks, strict=True):
            h, _ = self._activate(torch.baddbmm(b, h, w), mask)
        return torch.baddbmm(b_out, h, w_out)

    def _early_stopping(self, k, epoch, score):
        """skorch-style `EarlyStopping` on `valid_loss`, absolute threshold."""
        t = self.template
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
                linears = [m for m in net if isinstance(m, torch.nn.Linear)]
                for linear, (w, b) in zip(linears, self.layers, strict=True):
                    out_f, in_f = linear.weight.shape
                    linear.weight.copy_(w[k, :in_f, :out_f].t())
                    linear.bias.copy_(b[k, 0, :out_f])
                history = self.histories[k]
                loss = history[-1, "train_loss"]
                if not finite[k] or loss > 100 * math.log(n_classes):
                    # The serial fit's final divergence check.
                    out.append(
                        diverged(
                            f"the last epoch's training loss is {loss:.3g} and the "
                            "network's outputs are "
                            f"{'finite' if finite[k] else 'not finite'}",
                            spec["lr"],
                        )
                    )
                    continue
                best = self.best_epoch[k]
                if best is None:
                    key = "valid_loss" if "valid_loss" in history[-1] else "train_loss"
                    losses = [row.get(key, np.inf) for row in history]
                    best = int(np.argmin(losses)) + 1
                out.append((net, history, int(best)))
        return out

    def _finite_outputs(self):
        """Whether each model's logits on its first 1024 training rows are finite."""
        n = min(1024, min(len(s["train"]) for s in self.specs))
        index = torch.as_tensor(
            np.stack([s["train"][:n] for s in self.specs]), device=self.X.device
        )
        with torch.no_grad():
            logits = self._forward(self.X[index])
        return torch.isfinite(logits).flatten(1).all(1).tolist()


@contextlib.contextmanager
def _threads(*, one: bool):
    """Run the block on one intra-op thread if `one` (the count is restored)."""
    previous = torch.get_num_threads()
    if one and previous != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _record(history, key, value, best=False):
    history.record(key, value)
    if best:
        past = [row[key] for row in history[:-1] if key in row]
        history.record(key + "_best", not past or value < min(past))
