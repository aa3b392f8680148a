"""A lean `step()` for fused Adam and AdamW.

`torch.optim.Adam(fused=True).step()` spends most of its time, for a network
of a few hundred parameters, in Python: profiling hooks, grouping tensors by
device and re-reading the state of every parameter. The update itself is one
kernel. `lean_step` calls that same kernel with the same arguments, reading
the hyperparameters from `param_groups` and each parameter's `.grad` at every
step (so learning-rate schedulers, and callbacks that assign a new `.grad`,
still work) and the state tensors that the optimizer created on its first,
ordinary step. Anything it does not cover falls back to
`optimizer.step`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim import optimizer as _optimizer_module

from ._optimizers import optimizer_rule


def lean_step(
    optimizer: torch.optim.Optimizer, *, same_grads: bool = False
) -> Callable[[], None]:
    """Return a function that performs one update of `optimizer`.

    The function is bitwise equivalent to `optimizer.step()` and faster for
    fused Adam/AdamW without amsgrad, hooks or tensor learning rates; for any
    other optimizer it *is* `optimizer.step`.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The optimizer to step.
    same_grads : bool, default=False
        Promise that each parameter's `.grad` stays the same tensor (edited
        in place) between calls, so it is looked up once. By default it is
        read at every call, as `optimizer.step()` reads it: code between
        steps may assign a new tensor to `.grad`, or None.

    Returns
    -------
    step : callable
        Call it with no arguments after the gradients are set.

    Examples
    --------
    >>> import torch
    >>> w = torch.nn.Parameter(torch.ones(3))
    >>> opt = torch.optim.Adam([w], lr=0.1, fused=True)
    >>> step = lean_step(opt)
    >>> w.grad = torch.ones(3)
    >>> for _ in range(2):
    ...     step()
    >>> w.detach()
    tensor([0.8000, 0.8000, 0.8000])
    """
    if not _supported(optimizer):
        return optimizer.step
    lists = None

    def step() -> None:
        nonlocal lists
        if lists is None:
            if not all(
                p in optimizer.state
                for g in optimizer.param_groups
                for p in g["params"]
            ):
                optimizer.step()  # creates the state tensors
                return
            lists = [_group_lists(optimizer, group) for group in optimizer.param_groups]
        if same_grads:
            grads_of = [group_lists[1] for group_lists in lists]
        else:
            grads_of = [[p.grad for p in group_lists[0]] for group_lists in lists]
            if _any_none(grads_of):
                optimizer.step()  # it skips those parameters; this step would not
                return
        for group, (params, _, avgs, avg_sqs, steps), grads in zip(
            optimizer.param_groups, lists, grads_of, strict=True
        ):
            torch._foreach_add_(steps, 1)
            # torch < 2.6 has no `decoupled_weight_decay` key: AdamW was its
            # own class there.
            decoupled = group.get(
                "decoupled_weight_decay", isinstance(optimizer, torch.optim.AdamW)
            )
            fused_adam_update(
                decoupled,
                params,
                grads,
                avgs,
                avg_sqs,
                steps,
                lr=group["lr"],
                betas=group["betas"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                maximize=group["maximize"],
            )

    return step


def fused_adam_update(
    decoupled: bool,
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    avgs: list[torch.Tensor],
    avg_sqs: list[torch.Tensor],
    steps: list[torch.Tensor],
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    weight_decay: float = 0.0,
    eps: float = 1e-8,
    maximize: bool = False,
) -> None:
    """One Adam (or, `decoupled`, AdamW) update through torch's fused kernel.

    The one place the kernel is called: the lean step of a serial fit and the
    batched trainer both update through it. `steps` holds each parameter's
    step count, already advanced.

    Examples
    --------
    >>> import torch
    >>> w, g = torch.ones(3), torch.ones(3)
    >>> m, v, step = torch.zeros(3), torch.zeros(3), torch.tensor(1.0)
    >>> fused_adam_update(False, [w], [g], [m], [v], [step], lr=0.1)
    >>> w
    tensor([0.9000, 0.9000, 0.9000])
    """
    kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
    beta1, beta2 = betas
    kernel(
        params,
        grads,
        avgs,
        avg_sqs,
        [],
        steps,
        amsgrad=False,
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        weight_decay=weight_decay,
        eps=eps,
        maximize=maximize,
        grad_scale=None,
        found_inf=None,
    )


def _supported(optimizer) -> bool:
    if not optimizer_rule(type(optimizer)).adam:
        return False
    if not hasattr(torch, "_fused_adam_") or not hasattr(torch, "_fused_adamw_"):
        return False
    if optimizer._optimizer_step_pre_hooks or optimizer._optimizer_step_post_hooks:
        return False
    if (
        _optimizer_module._global_optimizer_pre_hooks
        or _optimizer_module._global_optimizer_post_hooks
    ):
        return False
    return all(
        group.get("fused")
        and not group["amsgrad"]
        and not group.get("capturable")
        and not group.get("differentiable")
        and not isinstance(group["lr"], torch.Tensor)
        and all(p.grad is not None for p in group["params"])
        for group in optimizer.param_groups
    )


def _any_none(lists) -> bool:
    # A plain loop: `None in tensors` would compare each tensor with None.
    for values in lists:
        for value in values:
            if value is None:
                return True
    return False


def _group_lists(optimizer, group):
    params = [p for p in group["params"]]
    states = [optimizer.state[p] for p in params]
    return (
        params,
        [p.grad for p in params],
        [s["exp_avg"] for s in states],
        [s["exp_avg_sq"] for s in states],
        [s["step"] for s in states],
    )
