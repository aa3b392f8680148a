"""The PyTorch network behind `QwertyClassifier`."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from numbers import Integral, Real

import torch
from torch import nn

from ._activations import ACTIVATIONS as _REGISTRY

#: Hidden activation name -> the `torch.nn` module class that implements it.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    name: entry.module for name, entry in _REGISTRY.items()
}


class Dropout(nn.Dropout):
    """`torch.nn.Dropout` that can draw its masks from its own generator.

    With `generator` None (the default) it is exactly `torch.nn.Dropout`.
    Given a `torch.Generator` on the layer's device, training never touches
    torch's global random state, so fits running in parallel threads stay
    reproducible and leave the global state alone.

    Parameters
    ----------
    p : float, default=0.5
        Probability of zeroing an element.

    Examples
    --------
    >>> import torch
    >>> layer = Dropout(0.5)
    >>> layer.generator = torch.Generator().manual_seed(0)
    >>> out = layer(torch.ones(2, 4))
    >>> sorted(set(out.flatten().tolist())) in ([0.0, 2.0], [2.0], [0.0])
    True
    """

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Zero elements with probability `p` in training; identity in eval."""
        if self.generator is None or not self.training or self.p == 0:
            return super().forward(x)
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.generator)
        return x * mask.div_(keep)


def check_architecture(
    hidden_layer_sizes: Sequence[int] | int,
    activation: str,
    dropout: float,
) -> tuple[int, ...]:
    """Validate the hidden layers of a `QwertyNet`.

    Returns the hidden layer sizes as a tuple of ints; raises `ValueError` or
    `TypeError` naming the parameter to fix.

    Examples
    --------
    >>> check_architecture(8, "relu", 0.0)
    (8,)
    """
    if isinstance(hidden_layer_sizes, Integral):
        hidden_layer_sizes = (hidden_layer_sizes,)
    try:
        sizes = tuple(hidden_layer_sizes)
    except TypeError:
        raise TypeError(
            "hidden_layer_sizes must be an int or a sequence of ints, "
            f"got {hidden_layer_sizes!r}."
        ) from None
    for size in sizes:
        if not isinstance(size, Integral) or isinstance(size, bool) or size < 1:
            raise ValueError(
                "hidden_layer_sizes must hold positive ints (one per hidden layer), "
                f"got {hidden_layer_sizes!r}."
            )
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(
            f"Unknown activation {activation!r}; choose one of "
            f"{', '.join(sorted(ACTIVATIONS))}."
        )
    if not isinstance(dropout, Real) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a float in [0, 1), got {dropout!r}.")
    return tuple(int(size) for size in sizes)


class QwertyNet(nn.Sequential):
    """Multi-layer perceptron that maps features to raw class logits.

    Each hidden layer is `Linear`, then optionally `BatchNorm1d`, then the
    activation, then optionally `Dropout`. The output layer is a plain `Linear`
    with no activation: `torch.nn.CrossEntropyLoss` applies the log-softmax.
    The defaults build the qwerty network, `Linear(2, 8) -> ReLU -> Linear(8, 3)`.

    Parameters
    ----------
    n_features : int, default=2
        Number of input features.
    n_classes : int, default=3
        Number of output logits, one per class.
    hidden_layer_sizes : sequence of int, default=(8,)
        Width of each hidden layer. An empty tuple gives multinomial logistic
        regression (a single `Linear` layer).
    activation : str, default="relu"
        One of `"relu"`, `"leaky_relu"`, `"relu6"`, `"tanh"`, `"sigmoid"`,
        `"elu"`, `"gelu"`, `"selu"`, `"silu"`.
    batch_norm : bool, default=False
        Insert `BatchNorm1d` after each hidden `Linear`.
    dropout : float, default=0.0
        Dropout probability after each hidden activation (0 adds no layer).
    dtype : torch.dtype, default=None
        Parameter dtype (`torch.float32` when None).

    Examples
    --------
    >>> import torch
    >>> from qwertyclf import QwertyNet
    >>> net = QwertyNet()
    >>> net
    QwertyNet(
      (0): Linear(in_features=2, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=3, bias=True)
    )
    >>> net(torch.zeros(10, 2)).shape
    torch.Size([10, 3])
    """

    def __init__(
        self,
        n_features: int = 2,
        n_classes: int = 3,
        hidden_layer_sizes: Sequence[int] = (8,),
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
        dtype: torch.dtype | None = None,
    ) -> None:
        for name, value, low in (
            ("n_features", n_features, 1),
            ("n_classes", n_classes, 2),
        ):
            if not isinstance(value, Integral) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {value!r}.")
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}.")
        sizes = check_architecture(hidden_layer_sizes, activation, dropout)
        layers: list[nn.Module] = []
        width = n_features
        for size in sizes:
            layers.append(nn.Linear(width, size, dtype=dtype))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size, dtype=dtype))
            layers.append(ACTIVATIONS[activation]())
            if dropout:
                layers.append(Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_classes, dtype=dtype))
        super().__init__(*layers)
        self.n_features = n_features
        self.n_classes = n_classes
        self.hidden_layer_sizes = sizes
        self.activation = activation
        self.batch_norm = bool(batch_norm)
        self.dropout = float(dropout)

    def __getitem__(self, idx):
        # A slice of layers is not a whole QwertyNet: return a plain Sequential.
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)
