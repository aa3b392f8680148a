"""The hidden activations a `QwertyNet` can use, in one registry.

Each entry names the `torch.nn` module that builds the layer and, where the
activation has a short closed-form derivative, the functions the hand-written
training step (`qwertyclf.training._backprop`) uses. An activation without them is still
fully supported; its networks are differentiated by autograd. Adding an
activation means adding one entry here: the network, the estimator's
validation, the fast path and the command line all read this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

aten = torch.ops.aten


@dataclass(frozen=True)
class Activation:
    """One hidden activation.

    Parameters
    ----------
    module : type of torch.nn.Module
        Layer class, built with no arguments.
    forward : callable, default=None
        `forward(z) -> a`, the same function as the layer, for the
        hand-written step.
    backward : callable, default=None
        `backward(grad_a, z, a) -> grad_z`; None means autograd only.

    Examples
    --------
    >>> ACTIVATIONS["relu"].module
    <class 'torch.nn.modules.activation.ReLU'>
    >>> ACTIVATIONS["selu"].backward is None
    True
    """

    module: type[nn.Module]
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None
    backward: Callable[..., torch.Tensor] | None = None


def _elu_backward(grad, z, a):
    return aten.elu_backward(grad, 1.0, 1.0, 1.0, True, a)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(
        nn.ReLU, torch.relu, lambda g, z, a: aten.threshold_backward(g, a, 0)
    ),
    "leaky_relu": Activation(
        nn.LeakyReLU,
        F.leaky_relu,
        lambda g, z, a: aten.leaky_relu_backward(g, z, 0.01, False),
    ),
    "relu6": Activation(
        nn.ReLU6, F.relu6, lambda g, z, a: aten.hardtanh_backward(g, z, 0.0, 6.0)
    ),
    "tanh": Activation(nn.Tanh, torch.tanh, lambda g, z, a: aten.tanh_backward(g, a)),
    "sigmoid": Activation(
        nn.Sigmoid, torch.sigmoid, lambda g, z, a: aten.sigmoid_backward(g, a)
    ),
    "elu": Activation(nn.ELU, F.elu, _elu_backward),
    "gelu": Activation(nn.GELU, F.gelu, lambda g, z, a: aten.gelu_backward(g, z)),
    "selu": Activation(nn.SELU),
    "silu": Activation(nn.SiLU, F.silu, lambda g, z, a: aten.silu_backward(g, z)),
}
