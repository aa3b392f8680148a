"""The PyTorch network behind `QwertyClassifier`."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from numbers import Integral, Real

import torch
from torch import nn

from ._activations import ACTIVATIONS as _REGISTRY
from ._embeddings import NUMERIC_EMBEDDINGS

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


class BatchEnsembleLinear(nn.Module):
    """`k` linear layers sharing one weight matrix (BatchEnsemble).

    Member `j` computes `((x * r[j]) @ weight.T) * s[j] + bias[j]`: the
    weight is shared, the input scaling `r` (k, in), the output scaling `s`
    (k, out) and the bias (k, out) are the member's own. The weight and the
    bias start as those of a fresh `torch.nn.Linear` (every member's bias
    equal), `s` as ones, and `r` as ones or, with `random_signs`, as random
    signs +-1, which is what makes the members differ from the start (as in
    TabM, whose first layer alone gets random signs).

    Input is (n, k, in), or (n, in) given to every member; output is
    (n, k, out).

    Parameters
    ----------
    in_features, out_features : int
        Widths of each member's layer.
    k : int
        Number of members.
    random_signs : bool, default=False
        Start `r` as random signs instead of ones.
    dtype : torch.dtype, default=None
        Parameter dtype.

    Examples
    --------
    >>> import torch
    >>> layer = BatchEnsembleLinear(3, 5, 4, random_signs=True)
    >>> layer(torch.zeros(2, 3)).shape
    torch.Size([2, 4, 5])
    >>> sorted(set(layer.r.flatten().tolist())) in ([-1.0, 1.0], [1.0], [-1.0])
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        k: int,
        *,
        random_signs: bool = False,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        shared = nn.Linear(in_features, out_features, dtype=dtype)
        self.in_features = in_features
        self.out_features = out_features
        self.k = k
        self.weight = nn.Parameter(shared.weight.detach())
        self.r = nn.Parameter(torch.ones(k, in_features, dtype=dtype))
        self.s = nn.Parameter(torch.ones(k, out_features, dtype=dtype))
        self.bias = nn.Parameter(shared.bias.detach().expand(k, -1).clone())
        if random_signs:
            with torch.no_grad():
                self.r.bernoulli_(0.5).mul_(2).sub_(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each member's layer applied to its slice of `x` (or to all of `x`)."""
        if x.ndim == 2:
            x = x.unsqueeze(1)
        return torch.addcmul(self.bias, (x * self.r) @ self.weight.t(), self.s)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"k={self.k}"
        )


class EnsembleLinear(nn.Module):
    """`k` independent linear layers, one per member (the members' heads).

    Each member's weight and bias start as a fresh `torch.nn.Linear`'s
    would, drawn independently. Input is (n, k, in); output (n, k, out).

    Parameters
    ----------
    in_features, out_features : int
        Widths of each member's layer.
    k : int
        Number of members.
    dtype : torch.dtype, default=None
        Parameter dtype.

    Examples
    --------
    >>> import torch
    >>> EnsembleLinear(3, 2, 4)(torch.zeros(5, 4, 3)).shape
    torch.Size([5, 4, 2])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        k: int,
        *,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.k = k
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(
            torch.empty(k, in_features, out_features, dtype=dtype).uniform_(
                -bound, bound
            )
        )
        self.bias = nn.Parameter(
            torch.empty(k, out_features, dtype=dtype).uniform_(-bound, bound)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Member `j`'s layer applied to `x[:, j]`, for every `j`."""
        return torch.baddbmm(
            self.bias.unsqueeze(1), x.transpose(0, 1), self.weight
        ).transpose(0, 1)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"k={self.k}"
        )


class MemberBatchNorm1d(nn.BatchNorm1d):
    """`torch.nn.BatchNorm1d` over members' features (n, k, features).

    One set of statistics and affine parameters is shared by the `k` members.

    Examples
    --------
    >>> import torch
    >>> MemberBatchNorm1d(3)(torch.randn(4, 2, 3)).shape
    torch.Size([4, 2, 3])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise every member's features with the shared statistics."""
        return super().forward(x.flatten(0, 1)).view_as(x)


class MeanOfMembers(nn.Module):
    """The members' combined prediction, as logits.

    In training mode it passes the members' logits (n, k, classes) through,
    so that the loss can average the members' losses. In eval mode it
    returns `log(mean_j softmax(logits[:, j]))`, shape (n, classes): its
    softmax is the mean of the members' probabilities, so anything that
    takes the softmax of a network's logits reads the ensemble's
    probabilities.

    Examples
    --------
    >>> import torch
    >>> logits = torch.tensor([[[0.0, 2.0], [0.0, -2.0]]])
    >>> MeanOfMembers().eval()(logits).softmax(1)
    tensor([[0.5000, 0.5000]])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Members' logits in training; log of their mean probability in eval."""
        if self.training:
            return x
        return torch.logsumexp(x.log_softmax(-1), dim=1) - math.log(x.shape[1])


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
    batch_ensemble : int, default=1
        Number of BatchEnsemble members (as in TabM). 1 builds the plain
        network above. With `k > 1` the hidden layers are
        `BatchEnsembleLinear` layers (one weight matrix shared by the `k`
        members, each with its own input and output scalings and bias; the
        first layer's input scalings start as random signs, the others as
        ones), the output layer is an `EnsembleLinear` (one head per member)
        and a final `MeanOfMembers` gives the members' logits (n, k, classes)
        in training mode and the log of their mean probability (n, classes)
        in eval mode. Batch normalisation statistics are shared by the
        members.
    numeric_embedding : {"pbld", "plr"} or None, default=None
        None builds the network above. Otherwise its first layer embeds
        every input column on its own (`qwertyclf._embeddings`): "pbld" is
        RealMLP's periodic-bias-linear-DenseNet embedding (`PBLDEmbedding`,
        4 inputs per column), "plr" the periodic-linear-ReLU one
        (`PLREmbedding`, 24 inputs per column); the first hidden layer takes
        its output.

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

    #: Networks pickled before the embeddings existed have none.
    numeric_embedding: str | None = None

    def __init__(
        self,
        n_features: int = 2,
        n_classes: int = 3,
        hidden_layer_sizes: Sequence[int] = (8,),
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
        dtype: torch.dtype | None = None,
        batch_ensemble: int = 1,
        numeric_embedding: str | None = None,
    ) -> None:
        for name, value, low in (
            ("n_features", n_features, 1),
            ("n_classes", n_classes, 2),
            ("batch_ensemble", batch_ensemble, 1),
        ):
            if not isinstance(value, Integral) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {value!r}.")
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}.")
        sizes = check_architecture(hidden_layer_sizes, activation, dropout)
        k = int(batch_ensemble)
        layers: list[nn.Module] = []
        width = n_features
        if numeric_embedding is not None:
            if numeric_embedding not in NUMERIC_EMBEDDINGS:
                raise ValueError(
                    f"Unknown numeric_embedding {numeric_embedding!r}; choose "
                    f"None or one of {', '.join(sorted(NUMERIC_EMBEDDINGS))}."
                )
            embedding = NUMERIC_EMBEDDINGS[numeric_embedding](n_features, dtype=dtype)
            layers.append(embedding)
            width = embedding.out_features
        hidden_start = len(layers)
        for size in sizes:
            if k == 1:
                layers.append(nn.Linear(width, size, dtype=dtype))
            else:
                first = len(layers) == hidden_start
                layers.append(
                    BatchEnsembleLinear(width, size, k, random_signs=first, dtype=dtype)
                )
            if batch_norm:
                norm = nn.BatchNorm1d if k == 1 else MemberBatchNorm1d
                layers.append(norm(size, dtype=dtype))
            layers.append(ACTIVATIONS[activation]())
            if dropout:
                layers.append(Dropout(dropout))
            width = size
        if k == 1:
            layers.append(nn.Linear(width, n_classes, dtype=dtype))
        elif not sizes:
            # No hidden layer: the members' own layers see the input directly.
            layers.append(
                BatchEnsembleLinear(width, n_classes, k, random_signs=True, dtype=dtype)
            )
        else:
            layers.append(EnsembleLinear(width, n_classes, k, dtype=dtype))
        if k > 1:
            layers.append(MeanOfMembers())
        super().__init__(*layers)
        self.n_features = n_features
        self.n_classes = n_classes
        self.hidden_layer_sizes = sizes
        self.activation = activation
        self.batch_norm = bool(batch_norm)
        self.dropout = float(dropout)
        self.batch_ensemble = k
        self.numeric_embedding = numeric_embedding

    def __getitem__(self, idx):
        # A slice of layers is not a whole QwertyNet: return a plain Sequential.
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)
