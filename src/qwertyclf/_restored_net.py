"""A fitted skorch net rebuilt from stored weights, history and state.

A model trained by the batched engine, or read from a file, has its network's
weights and history (and, from the batched engine, its optimizer's
per-parameter state and the row-order generator's state), but no skorch net.

`restore_net` builds the net a serial fit would have built, initialises it
completely (module, criterion, optimizer, callbacks) and puts the stored
state in: the same kind of object, in the same state, as the net of a serial
fit. The batched runs use it.

`load_net` is for a model file, which a process often loads only to predict:
it builds the network alone, because building the first optimizer in a
process imports `torch._dynamo` (about two seconds). Its `RestoredNet`
builds the rest on first use, keeping the stored weights and history.
"""

from __future__ import annotations

import torch
from skorch.history import History
from torch import nn

from .training import FitSpec, QwertySkorchNet, build_net, seeded


def restore_net(
    spec: FitSpec,
    n_inputs: int,
    n_classes: int,
    module: nn.Module,
    history: list[dict],
    *,
    optimizer_state: dict | None = None,
    row_order_state: torch.Tensor | None = None,
) -> QwertySkorchNet:
    """The initialised net of `spec`, holding `module`'s weights and `history`.

    Parameters
    ----------
    spec : FitSpec
        The run the net was trained by (its seed seeds the row orders and
        dropout masks of a warm start, as in a fresh fit).
    n_inputs, n_classes : int
        The network's input and output widths.
    module : torch.nn.Module
        The trained network, whose parameters and buffers are copied.
    history : list of dict
        The stored history rows.
    optimizer_state : dict, default=None
        Per-parameter optimizer state (as in `torch.optim.Optimizer.
        state_dict()["state"]`); None leaves the optimizer fresh.
    row_order_state : torch.Tensor, default=None
        State of the generator of the training row orders; None leaves it
        seeded from `spec.seed`.

    Returns
    -------
    net : QwertySkorchNet
        Initialised, in evaluation mode.

    Examples
    --------
    >>> import torch
    >>> from qwertyclf import QwertyNet
    >>> spec = FitSpec((8,), "relu", False, 0.0, torch.optim.Adam, 0.01, 0.0, 16,
    ...                5, True, None, False, 10, 1e-4, "float32",
    ...                torch.device("cpu"), 0)
    >>> net = restore_net(spec, 2, 3, QwertyNet(), [{"epoch": 1}])
    >>> net.initialized_, len(net.history), type(net.optimizer_).__name__
    (True, 1, 'Adam')
    """
    net = build_net(spec, n_inputs, n_classes)
    # Seeded as a fresh fit initialises; the weights drawn are replaced below,
    # and the global random state is left as it was.
    with seeded(spec.seed, spec.device):
        net.initialize()
    net.module_.load_state_dict(module.state_dict())
    net.module_.eval()
    net.history = History(history)
    if optimizer_state is not None:
        stored = net.optimizer_.state_dict()
        stored["state"] = optimizer_state
        net.optimizer_.load_state_dict(stored)
    if row_order_state is not None:
        net.generator_.set_state(row_order_state)
    return net


class RestoredNet(QwertySkorchNet):
    """A `QwertySkorchNet` whose module and history were read from a file.

    Only the module exists at first: prediction needs nothing else. The
    criterion, optimizer and callbacks are built when training continues or
    when one of them is first asked for (skorch's `initialize`), and that
    first initialisation keeps the module's weights and the history instead
    of starting afresh. Build one with `load_net`.
    """

    def __getattr__(self, name):
        # Only reached for attributes that do not exist (yet).
        if name in ("criterion_", "optimizer_", "callbacks_") and (
            vars(self).get("initialized_") is False
        ):
            self.initialize()
            return getattr(self, name)
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )

    def initialized_instance(self, instance_or_cls, kwargs):
        """The stored module until the net is first initialised; else as skorch."""
        stored = vars(self).get("module_")
        first = not self.initialized_ and stored is not None
        if first and instance_or_cls is self.module:
            return stored
        return super().initialized_instance(instance_or_cls, kwargs)

    def initialize_history(self):
        """Keep the stored history on the first initialisation."""
        if not self.initialized_ and self.history_ is not None:
            return self
        return super().initialize_history()


def load_net(
    spec: FitSpec,
    n_inputs: int,
    n_classes: int,
    module: nn.Module,
    history: list[dict],
) -> RestoredNet:
    """A `RestoredNet` of `spec` holding `module` and `history`.

    Parameters
    ----------
    spec : FitSpec
        The run the net was trained by.
    n_inputs, n_classes : int
        The network's input and output widths.
    module : torch.nn.Module
        The network read from the file, on `spec`'s device.
    history : list of dict
        The stored history rows.

    Returns
    -------
    net : RestoredNet
        A net that predicts with `module` and builds its optimizer only when
        training continues.

    Examples
    --------
    >>> import torch
    >>> from qwertyclf import QwertyNet
    >>> spec = FitSpec((8,), "relu", False, 0.0, torch.optim.Adam, 0.01, 0.0, 16,
    ...                5, True, None, False, 10, 1e-4, "float32",
    ...                torch.device("cpu"), 0)
    >>> net = load_net(spec, 2, 3, QwertyNet(), [{"epoch": 1}])
    >>> len(net.history), "optimizer_" in vars(net)
    (1, False)
    """
    params = build_net(spec, n_inputs, n_classes).get_params(deep=False)
    # skorch lists this bookkeeping attribute among its parameters.
    params.pop("_params_to_validate", None)
    restored = RestoredNet(**params)
    restored.history = History(history)
    # Set directly, so that skorch registers the module in its own initialisation
    # step below, as it does for a module it builds.
    vars(restored)["module_"] = module
    restored._initialize_module()
    return restored
