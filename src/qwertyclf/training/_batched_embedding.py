"""Batched runs of networks with the "pbld" numerical embedding.

A `QwertyNet` with `numeric_embedding="pbld"` starts with a `PBLDEmbedding`:
for every column `j`, `z = cos(2 pi frequencies[j] x_j + phases[j])`, then
the column's own linear map `y_j = z @ weight[j] + bias[j]`, and the first
hidden layer reads every column's `y_j` followed by `x` itself.

`EmbeddingLayers` is what `BatchedTrainer` needs to train K such networks
(one set of columns for all) as one run; `EmbeddedBatchedTrainer` (in
`_batched.py`) is the two together, and `EmbeddedMemberBatchedTrainer` the
two with `MemberLayers`, for networks with BatchEnsemble members (every
member reads the one embedding). The embedding's four parameters come
first in the flat parameter buffer, as they come first in the module, so the
optimizer update and the optimizer state treat them as the serial optimizer
does (weight decay included). The forward pass computes the embedding of
every model's batch, the hidden layers are `BatchedTrainer`'s, and the
gradient reaching the first hidden layer's input is carried back through the
embedding by hand. The embedding has the same width in every model: the
hidden layers' padding is unchanged.
"""

from __future__ import annotations

import math

import torch

from .._embeddings import PBLD_DIMS, PBLD_FREQUENCIES

#: Rows embedded at once when scoring (validation, the finite-output check):
#: the embedding holds `PBLD_FREQUENCIES` values per column of each row.
EMBED_CHUNK = 1024


class EmbeddingLayers:
    """`BatchedTrainer`'s layer methods for networks with the "pbld" embedding.

    A mixin, placed before `BatchedTrainer` (`EmbeddedBatchedTrainer`): the
    embedding's parameters in the flat buffer, its forward pass in front of
    the hidden layers, and its hand-written backward pass from the gradient
    at the first hidden layer's output. `layers` and `grads` hold the layers
    after the embedding, as in a plain run; `embedding` and
    `embedding_grads` the embedding's (frequencies, phases, weight, bias),
    as (K, C, F), (K, C, F), (K, C, F, D) and (K, C, D) views. See
    `EmbeddedBatchedTrainer` for an example.
    """

    def _param_shapes(self, shapes):
        """The embedding's parameters, then the layers', whose first is wider.

        The first hidden layer (or the output layer) reads `C * (D + 1)`
        inputs, for `C` columns and `D = PBLD_DIMS`.
        """
        (columns, out), *rest = shapes
        embedding = (
            (columns, PBLD_FREQUENCIES),
            (columns, PBLD_FREQUENCIES),
            (columns, PBLD_FREQUENCIES, PBLD_DIMS),
            (columns, PBLD_DIMS),
        )
        return [
            embedding,
            *super()._param_shapes([(columns * (PBLD_DIMS + 1), out), *rest]),
        ]

    def _allocate(self, shapes):
        super()._allocate(shapes)
        self.embedding, *self.layers = self.layers
        self.embedding_grads, *self.grads = self.grads

    def _unpadded(self, views, k, params):
        """Model `k`'s part of `views` (a buffer's `_layer_views`), as `params`.

        The embedding's parameters have no padding; the layers after it are
        `BatchedTrainer._unpadded`'s.
        """
        embedding, *layers = views
        return [
            *(view[k] for view in embedding),
            *super()._unpadded(layers, k, params[len(embedding) :]),
        ]

    def _embed(self, x):
        """Every model's embedding of its rows `x` (K, n, C).

        Returns the first layer's input (K, n, C * (D + 1)), and what the
        backward pass needs: the values column by column (K, C, n), the
        angles `2 pi w x + b` and their cosines, both (K, C, n, F).
        """
        frequencies, phases, weight, bias = self.embedding
        K, n, C = x.shape
        # Columns ahead of rows: each column's linear map is then one
        # batched matrix product over (model, column) pairs. (The values laid
        # out so, the angles are too.)
        columns = x.transpose(1, 2).contiguous()
        angles = torch.addcmul(
            phases.unsqueeze(2),
            columns.unsqueeze(3),
            frequencies.unsqueeze(2),
            value=2 * math.pi,
        )
        z = torch.cos(angles)
        y = torch.baddbmm(
            bias.reshape(K * C, 1, PBLD_DIMS),
            z.view(K * C, n, PBLD_FREQUENCIES),
            weight.reshape(K * C, PBLD_FREQUENCIES, PBLD_DIMS),
        )
        features = y.view(K, C, n, PBLD_DIMS).transpose(1, 2).reshape(K, n, -1)
        return torch.cat([features, x], dim=2), columns, angles, z

    def _step(self, xb, target, coef):
        """`BatchedTrainer._step` of the embedded rows, then the embedding's."""
        h, *self._saved = self._embed(xb)
        return super()._step(h, target, coef)

    input_grads = True

    def _input_grad(self, g):
        """The embedding's gradients, from the first layer's input gradient.

        The first `C * D` columns of `g` (K, n, C * (D + 1)) are the
        gradient at the embedding's output (the appended values have no
        parameter before them).
        """
        columns, angles, z = self._saved
        self._saved = None
        weight = self.embedding[2]
        g_freq, g_phase, g_weight, g_bias = self.embedding_grads
        K, C, n = columns.shape
        g_y = (
            g[..., : C * PBLD_DIMS]
            .reshape(K, n, C, PBLD_DIMS)
            .transpose(1, 2)
            .reshape(K * C, n, PBLD_DIMS)
        )
        g_bias.copy_(g_y.sum(1).view(K, C, PBLD_DIMS))
        z_rows = z.view(K * C, n, PBLD_FREQUENCIES)
        g_weight.copy_(
            torch.bmm(z_rows.transpose(1, 2), g_y).view(K, C, *g_weight.shape[2:])
        )
        w = weight.reshape(K * C, PBLD_FREQUENCIES, PBLD_DIMS)
        g_z = torch.bmm(g_y, w.transpose(1, 2)).view(K, C, n, PBLD_FREQUENCIES)
        # d cos(a) / da = -sin(a); d a / d w = 2 pi x, d a / d b = 1. The
        # minus sign is taken after the sums (exact: negation only flips
        # the sign bit of every term).
        minus_g_a = torch.sin(angles).mul_(g_z)
        g_phase.copy_(minus_g_a.sum(2).neg_())
        minus_g_a.mul_(columns.unsqueeze(3)).mul_(2 * math.pi)
        g_freq.copy_(minus_g_a.sum(2).neg_())

    def _forward(self, h):
        """Logits of every model for rows `h` (K, n, C), embedded in chunks."""
        return torch.cat(
            [
                super(EmbeddingLayers, self)._forward(self._embed(part)[0])
                for part in h.split(EMBED_CHUNK, 1)
            ],
            1,
        )
