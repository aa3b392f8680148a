"""Batched runs of networks with BatchEnsemble members (`batch_ensemble > 1`).

A `QwertyNet` with `k` members has, in each hidden layer, one weight matrix
`W` shared by the members and each member's own input scaling `r`, output
scaling `s` and bias `b` (`BatchEnsembleLinear`): member `j` computes
`((h * r[j]) @ W) * s[j] + b[j]`, where the first layer's `h` is the input
row given to every member. Its output layer is one linear layer per member
(`EnsembleLinear`); a network without hidden layers has a
`BatchEnsembleLinear` there instead.

`MemberLayers` is what `BatchedTrainer` needs to train K such networks (one
`k` for all) as one run; `MemberBatchedTrainer` (in `_batched.py`) is the
two together. The flat parameter buffer holds each layer's
parameters in the module's order, activations carry a member axis
((K, k, batch, width)), the loss is the serial fit's (the mean over members
of each member's cross-entropy, times the row weight), and the gradients of
`W`, `r`, `s` and `b` are written by hand. Everything else, the optimizer
update included, is `BatchedTrainer`'s: it treats the members' parameters
like any other, as the serial optimizer does (weight decay included).
Validation, early stopping and the finite-output check read the members'
mean probability, as `MeanOfMembers` gives it in evaluation mode.
"""

from __future__ import annotations

import math

import torch


class MemberLayers:
    """`BatchedTrainer`'s layer methods for networks with BatchEnsemble members.

    A mixin, placed before `BatchedTrainer` (`MemberBatchedTrainer`): the
    parameter layout, the forward and hand-written backward passes, the
    rows' scores and the evaluation-mode logits of networks with `k > 1`
    members. See `MemberBatchedTrainer` for an example.
    """

    def _param_shapes(self, shapes):
        """Per layer, its parameters' shapes in a model, in the module's order.

        A `BatchEnsembleLinear` (every hidden layer, and the output layer of
        a network without hidden layers): the shared (in, out) weight, then
        `r` (k, 1, in), `s` (k, 1, out) and the bias (k, 1, out). An
        `EnsembleLinear` output layer: the members' (k, in, out) weights and
        (k, 1, out) biases.
        """
        k = self.specs[0].batch_ensemble
        out = [((i, o), (k, 1, i), (k, 1, o), (k, 1, o)) for i, o in shapes]
        if len(shapes) > 1:
            i, o = shapes[-1]
            out[-1] = ((k, i, o), (k, 1, o))
        return out

    def _activation_table(self):
        # Model selectors broadcast over the member axis too.
        return [
            (entry, select if not isinstance(select, torch.Tensor) else select[:, None])
            for entry, select in super()._activation_table()
        ]

    def _padding_masks(self, shapes):
        return [
            None if mask is None else mask[:, None]
            for mask in super()._padding_masks(shapes)
        ]

    def _unpadded(self, views, k, params):
        """Model `k`'s part of `views`, shaped and ordered as `params`.

        As `BatchedTrainer._unpadded`, for the member layers' parameters:
        `BatchEnsembleLinear` (weight (out, in), r, s, bias) and
        `EnsembleLinear` (weight (k, in, out), bias).
        """
        tensors = []
        start = 0
        for layer in views:
            if len(layer) == 4:
                w, r, s, b = layer
                out_f, in_f = params[start].shape
                tensors += [
                    w[k, :in_f, :out_f].t(),
                    r[k, :, 0, :in_f],
                    s[k, :, 0, :out_f],
                    b[k, :, 0, :out_f],
                ]
            else:
                w, b = layer
                _, in_f, out_f = params[start].shape
                tensors += [w[k, :, :in_f, :out_f], b[k, :, 0, :out_f]]
            start += len(layer)
        return tensors

    def _layers_forward(self, x, keep=True):
        """Logits (K, k, n, C) of the members of every model for rows `x`.

        Also, with `keep`, what the backward pass needs: each layer's input,
        and for each `BatchEnsembleLinear` its scaled input and product;
        each hidden layer's pre-activation and what its derivative needs.
        """
        h = x.unsqueeze(1)  # every member reads the same row
        saved, pre, outputs = [], [], []
        *hidden, last = self.layers
        for layer, mask in zip(hidden, self.masks, strict=True):
            u, v, z = _member_linear(h, layer)
            if keep:
                saved.append((h, u, v))
            h, out = self._activate(z, mask)
            if keep:
                pre.append(z)
                outputs.append(out)
        if len(last) == 4:
            u, v, logits = _member_linear(h, last)
            saved.append((h, u, v))
        else:
            w, b = last
            K, k, n, width = h.shape
            logits = torch.baddbmm(
                b.reshape(K * k, 1, -1),
                h.reshape(K * k, n, width),
                w.reshape(K * k, width, -1),
            ).view(K, k, n, -1)
            saved.append((h, None, None))
        return logits, saved, pre, outputs

    def _step(self, xb, target, coef):
        """Forward and hand-written backward pass; fills `self.grad`.

        The loss of a batch is the serial one: the mean over the rows of
        `weight x mean over members of the member's cross-entropy`.
        """
        logits, saved, pre, outputs = self._layers_forward(xb)
        K, k, n, _ = logits.shape
        # d loss / d member logits = weight * (softmax - onehot) / (n * k).
        # `target` and `coef` as in `BatchedTrainer._step`.
        grad = torch.softmax(logits.transpose(2, 3), 2).transpose(2, 3)
        grad.sub_(target.unsqueeze(1)).mul_(coef.unsqueeze(1) / k)
        for i in range(len(self.layers) - 1, -1, -1):
            h, u, v = saved[i]
            # Into contiguous results, then copied (see BatchedTrainer._step).
            if u is None:  # EnsembleLinear
                w, _ = self.layers[i]
                w_grad, b_grad = self.grads[i]
                w_grad.copy_(torch.matmul(h.transpose(2, 3), grad))
                b_grad.copy_(grad.sum(2, keepdim=True))
                if i:
                    g = torch.matmul(grad, w.transpose(2, 3))
            else:  # BatchEnsembleLinear: z = (h * r) @ W * s + b
                w, r, s, _ = self.layers[i]
                w_grad, r_grad, s_grad, b_grad = self.grads[i]
                b_grad.copy_(grad.sum(2, keepdim=True))
                s_grad.copy_((grad * v).sum(2, keepdim=True))
                g_v = (grad * s).reshape(K, k * n, -1)
                w_grad.copy_(torch.bmm(u.reshape(K, k * n, -1).transpose(1, 2), g_v))
                g_u = torch.bmm(g_v, w.transpose(1, 2)).view(K, k, n, -1)
                r_grad.copy_((g_u * h).sum(2, keepdim=True))
                if i or self.input_grads:
                    g = g_u * r
            if i:
                grad = self._activation_grad(
                    g, pre[i - 1], outputs[i - 1], self.masks[i - 1]
                )
        if self.input_grads:
            # Every member reads the same rows: their gradients add up.
            self._input_grad(g.sum(1))
        return logits

    def _row_scores(self, outputs, targets):
        """Each row's loss and predicted class, as the serial fit scores them.

        The loss is the mean of the members' cross-entropies; the prediction,
        the class of the members' highest mean probability.
        """
        logits = torch.cat(outputs, 2)
        K, k, n, _ = logits.shape
        picked = logits.gather(3, targets[:, None, :, None].expand(K, k, n, 1))
        ce = (torch.logsumexp(logits, 3) - picked.squeeze(3)).mean(1)
        return ce, logits.softmax(-1).mean(1).argmax(2)

    def _forward(self, h):
        """Logits whose softmax is the members' mean probability, (K, n, C).

        `log(mean_j softmax(member j's logits))`, as `MeanOfMembers` gives
        them in evaluation mode.
        """
        logits = self._layers_forward(h, keep=False)[0]
        return torch.logsumexp(logits.log_softmax(-1), dim=1) - math.log(
            logits.shape[1]
        )


def _member_linear(h, layer):
    """`BatchEnsembleLinear` of every model: (h * r), its product with W, z.

    `h` is (K, k, n, in), or (K, 1, n, in) for rows every member reads.
    """
    w, r, s, b = layer
    u = h * r
    K, k, n, width = u.shape
    v = torch.bmm(u.reshape(K, k * n, width), w).view(K, k, n, -1)
    return u, v, torch.addcmul(b, v, s)
