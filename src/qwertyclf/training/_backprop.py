"""Hand-written backpropagation for plain `Linear`/activation stacks.

For networks as small as the ones this library is about, one training step
costs far less arithmetic than bookkeeping, and the autograd engine's fixed
cost per `backward()` call is the largest single item. A stack of `Linear`
layers and elementwise activations has a short, exact gradient, so we compute
it with the same ATen kernels autograd would call, write it straight into each
parameter's `.grad`, and leave the update to the (unchanged) optimizer.

Networks with batch norm, dropout or other layers keep using autograd.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._activations import ACTIVATIONS
from .._module import QwertyNet


class PlainMLPStep:
    """Loss and parameter gradients of a plain `QwertyNet` without autograd.

    Use `supports` first: only `Linear` layers with an activation whose
    registry entry (`qwertyclf._activations`) has a derivative qualify (no
    batch norm, no dropout). Call it under `torch.no_grad()`: it replaces
    autograd, so nothing should be recorded for it.

    Parameters
    ----------
    module : QwertyNet
        The network whose parameters receive the gradients.

    Examples
    --------
    >>> import torch
    >>> from qwertyclf import QwertyNet
    >>> net = QwertyNet()
    >>> step = PlainMLPStep(net)
    >>> with torch.no_grad():
    ...     logits = step(torch.zeros(4, 2), torch.tensor([0, 1, 2, 0]))
    >>> net[0].weight.grad.shape
    torch.Size([8, 2])
    """

    def __init__(self, module: QwertyNet) -> None:
        linears = [layer for layer in module if isinstance(layer, nn.Linear)]
        for layer in linears:
            for param in (layer.weight, layer.bias):
                if param.grad is None:
                    param.grad = torch.zeros_like(param)
        # Plain tensors, looked up once: nn.Module attribute access is slow.
        self.layers = [(layer.weight, layer.bias) for layer in linears]
        self.grads = [(layer.weight.grad, layer.bias.grad) for layer in linears]
        entry = ACTIVATIONS[module.activation]
        self.forward_fn, self.backward_fn = entry.forward, entry.backward
        self._minus_ones: dict[int, torch.Tensor] = {}

    @staticmethod
    def supports(module: nn.Module) -> bool:
        """Whether `module` is a stack this class can differentiate by hand."""
        return (
            type(module) is QwertyNet
            and module.batch_ensemble == 1
            and module.numeric_embedding is None
            and not module.batch_norm
            and not module.dropout
            and ACTIVATIONS[module.activation].backward is not None
            and all(
                isinstance(layer, nn.Linear) or not list(layer.parameters())
                for layer in module
            )
        )

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Fill `.grad` of every parameter with the gradient of the batch loss.

        The loss is the mean cross-entropy over the batch, each row multiplied
        by `weight` when given. Returns the logits (the loss value itself is
        never needed for the gradient, so it is not computed here).
        """
        *hidden, (out_weight, out_bias) = self.layers
        inputs, pre_acts = [x], []
        h = x
        for weight_, bias in hidden:
            z = F.linear(h, weight_, bias)
            h = self.forward_fn(z)
            pre_acts.append(z)
            inputs.append(h)
        logits = F.linear(h, out_weight, out_bias)

        n = len(y)
        # d(mean weighted CE)/d logits = weight * (softmax - onehot) / n
        grad = torch.softmax(logits, 1).scatter_add_(
            1, y.unsqueeze(1), self._minus_one(n)
        )
        grad.mul_(1.0 / n if weight is None else weight.unsqueeze(1) / n)

        for i in range(len(self.layers) - 1, -1, -1):
            weight_grad, bias_grad = self.grads[i]
            torch.mm(grad.t(), inputs[i], out=weight_grad)
            torch.sum(grad, 0, out=bias_grad)
            if i:
                grad = self.backward_fn(
                    torch.mm(grad, self.layers[i][0]), pre_acts[i - 1], inputs[i]
                )
        return logits

    def _minus_one(self, n: int) -> torch.Tensor:
        """A cached `(n, 1)` column of -1 (batch sizes repeat every epoch)."""
        column = self._minus_ones.get(n)
        if column is None:
            like = self.layers[0][0]
            column = torch.full((n, 1), -1.0, dtype=like.dtype, device=like.device)
            self._minus_ones[n] = column
        return column
