"""Numerical embeddings: each input column turned into a few learned features.

A `QwertyNet` with `numeric_embedding` set puts one of these layers in front
of its first hidden layer. Each maps every input column on its own (no
weight mixes two columns) to a handful of features built from periodic
functions of the column's value, so that the network can pick up effects
that change quickly or repeatedly along one column, which a first linear
layer followed by a ReLU finds hard (Gorishniy et al., "On Embeddings for
Numerical Features in Tabular Deep Learning", 2022).

The two kinds, with their reference defaults as module constants:

- "pbld" (RealMLP's periodic-bias-linear-DenseNet embedding, pytabkit's
  RealMLP-TD default): per column, `cos(2 pi w x + b)` for
  `PBLD_FREQUENCIES` frequencies `w` (drawn from N(0, `PBLD_SIGMA`^2)) and
  phases `b` (uniform in [-pi, pi]), then a linear map to `PBLD_DIMS`
  features, with the column's value itself appended: `PBLD_DIMS + 1`
  inputs per column.
- "plr" (periodic, linear, ReLU, as `rtdl_num_embeddings.PeriodicEmbeddings`
  with `lite=False`): per column, `cos(2 pi c x)` and `sin(2 pi c x)` for
  `PLR_FREQUENCIES` frequencies `c` (drawn from N(0, `PLR_SIGMA`^2),
  truncated at 3 sigma), then a linear map to `PLR_DIMS` features and a
  ReLU: `PLR_DIMS` inputs per column.

Every parameter (frequencies, phases, the per-column linear maps) is
trained with the rest of the network, with the same learning rate and
weight decay (RealMLP scales the embedding's learning rate by 0.1; here
there is one learning rate).
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: "pbld": frequencies per column (pytabkit's `plr_hidden_1` in RealMLP-TD).
PBLD_FREQUENCIES = 16
#: "pbld": standard deviation of the initial frequencies (`plr_sigma`).
PBLD_SIGMA = 0.1
#: "pbld": learned features per column, besides the value itself
#: (`plr_hidden_2` = 4 counts the value).
PBLD_DIMS = 3
#: "plr": frequencies per column (`n_frequencies` of `PeriodicEmbeddings`).
PLR_FREQUENCIES = 48
#: "plr": standard deviation of the initial frequencies
#: (`frequency_init_scale`).
PLR_SIGMA = 0.01
#: "plr": features per column (`d_embedding`).
PLR_DIMS = 24


class _ColumnwiseLinear(nn.Module):
    """One linear map per column: (n, columns, inputs) -> (n, columns, outputs).

    Weight and bias start uniform in +-1/sqrt(inputs), as `torch.nn.Linear`'s
    bounds.
    """

    def __init__(self, columns: int, inputs: int, outputs: int, dtype) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(inputs)
        self.weight = nn.Parameter(
            torch.empty(columns, inputs, outputs, dtype=dtype).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(
            torch.empty(columns, outputs, dtype=dtype).uniform_(-bound, bound)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # Columns as the batch dimension of one batched matrix product.
        return torch.baddbmm(
            self.bias.unsqueeze(1), z.transpose(0, 1), self.weight
        ).transpose(0, 1)


class _ColumnEmbedding(nn.Module):
    """What the embeddings share: their description in the module's repr."""

    columns: int
    out_features: int

    def extra_repr(self) -> str:
        return f"columns={self.columns}, out_features={self.out_features}"


class PBLDEmbedding(_ColumnEmbedding):
    """RealMLP's periodic-bias-linear-DenseNet embedding of every column.

    Column `j` of `x` gives `cos(2 pi frequencies[j] x_j + phases[j])`
    (`PBLD_FREQUENCIES` values), mapped by its own linear layer to
    `PBLD_DIMS` features; the output is every column's features followed by
    `x` itself, `(n, columns * (PBLD_DIMS + 1))`.

    Parameters
    ----------
    columns : int
        Number of input columns.
    dtype : torch.dtype, default=None
        Parameter dtype.

    Examples
    --------
    >>> import torch
    >>> layer = PBLDEmbedding(3)
    >>> layer.out_features, layer(torch.zeros(5, 3)).shape
    (12, torch.Size([5, 12]))
    """

    def __init__(self, columns: int, *, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.columns = columns
        self.out_features = columns * (PBLD_DIMS + 1)
        frequencies = torch.empty(columns, PBLD_FREQUENCIES, dtype=dtype)
        # A network built on the meta device (a model file's shapes) holds
        # no values to draw, and normal_ there imports torch._dynamo.
        if not frequencies.is_meta:
            frequencies.normal_(0.0, PBLD_SIGMA)
        self.frequencies = nn.Parameter(frequencies)
        self.phases = nn.Parameter(
            torch.empty(columns, PBLD_FREQUENCIES, dtype=dtype).uniform_(
                -math.pi, math.pi
            )
        )
        self.linear = _ColumnwiseLinear(columns, PBLD_FREQUENCIES, PBLD_DIMS, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every column's learned features, then `x` itself."""
        z = torch.cos(
            torch.addcmul(
                self.phases, x.unsqueeze(-1), self.frequencies, value=2 * math.pi
            )
        )
        return torch.cat([self.linear(z).flatten(1), x], dim=1)


class PLREmbedding(_ColumnEmbedding):
    """Periodic, linear, ReLU embedding of every column (PLR).

    Column `j` of `x` gives `cos(2 pi c x_j)` and `sin(2 pi c x_j)` for its
    `PLR_FREQUENCIES` frequencies `c`, mapped by its own linear layer to
    `PLR_DIMS` features and passed through a ReLU; the output is
    `(n, columns * PLR_DIMS)`.

    Parameters
    ----------
    columns : int
        Number of input columns.
    dtype : torch.dtype, default=None
        Parameter dtype.

    Examples
    --------
    >>> import torch
    >>> layer = PLREmbedding(3)
    >>> layer.out_features, layer(torch.zeros(5, 3)).shape
    (72, torch.Size([5, 72]))
    """

    def __init__(self, columns: int, *, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.columns = columns
        self.out_features = columns * PLR_DIMS
        self.frequencies = nn.Parameter(
            torch.empty(columns, PLR_FREQUENCIES, dtype=dtype)
        )
        nn.init.trunc_normal_(
            self.frequencies, 0.0, PLR_SIGMA, a=-3 * PLR_SIGMA, b=3 * PLR_SIGMA
        )
        self.linear = _ColumnwiseLinear(columns, 2 * PLR_FREQUENCIES, PLR_DIMS, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every column's features, after the ReLU."""
        angles = (2 * math.pi) * x.unsqueeze(-1) * self.frequencies
        z = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
        return torch.relu(self.linear(z)).flatten(1)


#: `numeric_embedding` name -> the layer class that implements it.
NUMERIC_EMBEDDINGS: dict[str, type[nn.Module]] = {
    "pbld": PBLDEmbedding,
    "plr": PLREmbedding,
}
