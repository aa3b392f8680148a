"""The serial engine: one `FitSpec` trained by skorch's loop with the fast epoch."""

from __future__ import annotations

import copy

import numpy as np
import torch
from skorch.callbacks import ProgressBar
from skorch.helper import predefined_split
from torch import nn

from .._interrupts import interrupts_propagating
from .._module import QwertyNet
from ._net import (
    DivergenceGuard,
    MemberCrossEntropyLoss,
    QwertySkorchNet,
    TensorDataset,
)
from ._optimizers import optimizer_rule
from ._runtime import INFERENCE_CHUNK, seeded, training_threads
from ._spec import FitSpec, best_epoch, check_converged
from ._state import ModelState
from ._stopping import RuleEarlyStopping


def build_net(spec: FitSpec, n_features: int, n_classes: int) -> QwertySkorchNet:
    """The (uninitialised) skorch net that trains `spec`'s network.

    Examples
    --------
    >>> import torch
    >>> from qwertyclf.training import FitSpec
    >>> spec = FitSpec((8,), "relu", False, 0.0, torch.optim.Adam, 0.01, 0.0, 16,
    ...                5, True, None, False, 10, 1e-4, "float32",
    ...                torch.device("cpu"), 0)
    >>> type(build_net(spec, 2, 3)).__name__
    'QwertySkorchNet'
    """
    extra = {}
    if optimizer_rule(spec.optimizer).fused and spec.device.type in ("cpu", "cuda"):
        extra["optimizer__fused"] = True
    return QwertySkorchNet(
        QwertyNet,
        module__n_features=n_features,
        module__n_classes=n_classes,
        module__hidden_layer_sizes=spec.hidden_layer_sizes,
        module__activation=spec.activation,
        module__batch_norm=spec.batch_norm,
        module__dropout=spec.dropout,
        module__dtype=getattr(torch, spec.dtype),
        module__batch_ensemble=spec.batch_ensemble,
        module__numeric_embedding=spec.numeric_embedding,
        # Members' logits need their mean loss; one network's, the plain one.
        criterion=(
            nn.CrossEntropyLoss if spec.batch_ensemble == 1 else MemberCrossEntropyLoss
        ),
        optimizer=spec.optimizer,
        iterator_valid__batch_size=INFERENCE_CHUNK,
        train_split=None,
        device=spec.device,
        seed=spec.seed,
        **_training_params(spec),
        **extra,
    )


def train_serial(
    spec: FitSpec,
    train: TensorDataset,
    valid: TensorDataset | None,
    classes: np.ndarray,
    *,
    net: QwertySkorchNet | None = None,
    epochs: int | None = None,
) -> ModelState:
    """Train `spec`'s network on `train` (a new one, or `net` continued).

    Parameters
    ----------
    spec : FitSpec
        The run.
    train, valid : TensorDataset
        Training rows and held-out rows (or None), on the device, in the
        spec's dtype, row weights normalised.
    classes : ndarray of shape (n_classes,)
        Class labels, recorded in the state.
    net : QwertySkorchNet, default=None
        A fitted net to continue with the spec's training settings (its
        optimizer keeps its state), or None for a new network.
    epochs : int, default=None
        Epochs to train; None is `spec.max_epochs`.

    Returns
    -------
    state : ModelState
        The trained network, its history and the net itself (`state.net`).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from qwertyclf.training import FitSpec
    >>> spec = FitSpec((8,), "relu", False, 0.0, torch.optim.Adam, 0.01, 0.0, 16,
    ...                3, True, None, False, 10, 1e-4, "float32",
    ...                torch.device("cpu"), 0)
    >>> data = TensorDataset(torch.randn(40, 2), torch.arange(40) % 2)
    >>> train_serial(spec, data, None, np.array([0, 1])).n_iter
    3
    """
    n_features, n_classes = train.X.shape[1], len(classes)
    if net is None:
        net = build_net(spec, n_features, n_classes)
        with seeded(spec.seed, spec.device):
            net.initialize()
    else:
        continue_net(net, spec)
    net.set_params(train_split=predefined_split(valid) if valid else None)
    try:
        with training_threads(spec.batch_size, spec.widths(n_features, n_classes)):
            net.partial_fit(train, epochs=spec.max_epochs if epochs is None else epochs)
    finally:
        # Do not keep a reference to the validation data in the fitted model.
        net.set_params(train_split=None)
    if getattr(net, "interrupted_", False):
        _end_interrupted(net)
    module = net.module_
    with torch.inference_mode():
        module.eval()
        finite = bool(torch.isfinite(module(train.X[:1024])).all())
    check_converged(net.history[-1, "train_loss"], finite, n_classes, net.lr)
    stopper = dict(net.callbacks_).get("early_stopping")
    history = net.history
    return ModelState(
        params={},
        classes=classes,
        n_features_in=n_features,
        feature_names_in=None,
        history=history,
        n_iter=len(history),
        best_epoch=best_epoch(history, getattr(stopper, "best_epoch_", None)),
        module=module,
        net=net,
    )


def _end_interrupted(net: QwertySkorchNet) -> None:
    """After Ctrl-C: keep the finished epochs, or re-raise.

    The epoch that was cut short has no scores, so its row is dropped: the
    history and `n_iter_` count finished epochs (the weights are those of
    the moment of the interrupt, or the best epoch's with early stopping).
    With no finished epoch, or inside `interrupts_propagate()`, the
    interrupt is raised again.
    """
    if len(net.history) and "train_loss" not in net.history[-1]:
        del net.history[-1]
    if interrupts_propagating() or not len(net.history):
        raise KeyboardInterrupt


def continue_net(net: QwertySkorchNet, spec: FitSpec) -> None:
    """Apply `spec`'s training settings to a fitted net, keeping its optimizer.

    scikit-learn's rule for continued training: the current hyperparameters
    apply; skorch updates the optimizer's param groups in place and keeps
    its state.
    """
    if "optimizer_" not in vars(net):
        net.initialize()  # a loaded model has only its module so far
    params = _training_params(spec)
    # skorch's set_params refuses iterator options on an initialized net;
    # they are plain attributes read at the start of each fit.
    net.iterator_train__shuffle = params.pop("iterator_train__shuffle")
    net.callbacks = params.pop("callbacks")
    net.set_params(**params)
    net.initialize_callbacks()


def _training_params(spec: FitSpec) -> dict:
    """The skorch settings that a warm start may change between fits."""
    return {
        "lr": spec.lr,
        "optimizer__weight_decay": spec.weight_decay,
        "batch_size": spec.batch_size,
        "max_epochs": spec.max_epochs,
        "iterator_train__shuffle": bool(spec.shuffle),
        "callbacks": _callbacks(spec),
        "verbose": spec.verbose,
    }


def _callbacks(spec: FitSpec) -> list:
    """Fresh callbacks for one fit: the user's, then early stopping etc."""
    callbacks = [("divergence_guard", DivergenceGuard())]
    callbacks += [copy.deepcopy(cb) for cb in spec.callbacks]
    if spec.early_stopping:
        callbacks.append(
            (
                "early_stopping",
                RuleEarlyStopping(
                    monitor="valid_loss",
                    patience=spec.n_iter_no_change,
                    threshold=spec.tol,
                    threshold_mode="abs",
                    load_best=True,
                    sink=print if spec.verbose else _silent,
                ),
            )
        )
    if spec.verbose >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    return callbacks


def _silent(*args, **kwargs):
    """A print replacement that prints nothing."""
