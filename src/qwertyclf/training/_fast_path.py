"""When the fast training step may replace skorch's ordinary one.

Inside the fast epoch over tensor batches (`qwertyclf.training._net`), two
pieces are optimisations that must compute what `loss.backward()` and
`optimizer.step()` would:

* hand-written gradients (`qwertyclf.training._backprop.PlainMLPStep`), built on ATen
  backward kernels;
* a lean call of the fused Adam/AdamW kernel (`qwertyclf.training._fused_step`),
  built on private torch entry points and optimizer state keys.

Private entry points change between torch releases, so each piece is checked
once per process and configuration by running it beside the ordinary code on
a tiny problem. If it is missing, raises or disagrees, that piece is switched
off for that configuration, with one `logging` debug line, and training takes
the ordinary path. `fast_path` switches pieces off by hand (used by the tests
and the benchmark's ablation).
"""

from __future__ import annotations

import contextlib
import logging
import threading

import torch
from torch.nn import functional as F

from .._module import QwertyNet
from ._backprop import PlainMLPStep
from ._fused_step import lean_step
from ._optimizers import optimizer_rule

logger = logging.getLogger("qwertyclf")

#: Which pieces of the fast path may run (all by default).
ENABLED = {"tensor_epoch": True, "manual_gradients": True, "lean_step": True}

_checked: dict[tuple, bool] = {}
_lock = threading.Lock()


@contextlib.contextmanager
def fast_path(
    *, tensor_epoch: bool = True, manual_gradients: bool = True, lean_step: bool = True
):
    """Switch pieces of the fast training step off inside the block.

    Parameters
    ----------
    tensor_epoch : bool, default=True
        Allow the fast epoch over tensor batches; False runs skorch's own
        epoch loop (over the same batches) for unweighted data.
    manual_gradients : bool, default=True
        Allow hand-written gradients; False uses autograd for every network.
    lean_step : bool, default=True
        Allow the lean fused-Adam call; False calls `optimizer.step()`.

    Examples
    --------
    >>> with fast_path(manual_gradients=False):
    ...     ENABLED["manual_gradients"]
    False
    >>> ENABLED["manual_gradients"]
    True
    """
    previous = dict(ENABLED)
    ENABLED.update(
        tensor_epoch=tensor_epoch,
        manual_gradients=manual_gradients,
        lean_step=lean_step,
    )
    try:
        yield
    finally:
        ENABLED.update(previous)


def manual_gradients_work(activation: str, dtype: torch.dtype, device) -> bool:
    """Whether hand-written gradients match autograd for this configuration.

    Examples
    --------
    >>> manual_gradients_work("relu", torch.float32, torch.device("cpu"))
    True
    """
    key = ("manual", activation, dtype, torch.device(device).type)
    return _checked_once(key, lambda: _check_manual(activation, dtype, device))


def lean_step_works(optimizer: torch.optim.Optimizer) -> bool:
    """Whether the lean step updates like `optimizer.step()` for this optimizer.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.ones(3))
    >>> lean_step_works(torch.optim.Adam([w], fused=True))
    True
    """
    group = optimizer.param_groups[0]
    param = group["params"][0]
    key = ("lean", type(optimizer), param.dtype, param.device.type)
    return _checked_once(
        key, lambda: _check_lean(type(optimizer), param.dtype, param.device)
    )


def fused_adam_works(optimizer_cls: type, dtype: torch.dtype, device) -> bool:
    """Whether the fused Adam/AdamW kernel updates like `optimizer.step()`.

    The same check, switch and cache as `lean_step_works`: the batched
    trainer asks it before it updates through the kernel.

    Examples
    --------
    >>> fused_adam_works(torch.optim.Adam, torch.float32, torch.device("cpu"))
    True
    >>> with fast_path(lean_step=False):
    ...     fused_adam_works(torch.optim.Adam, torch.float32, torch.device("cpu"))
    False
    """
    if not ENABLED["lean_step"]:
        return False
    device = torch.device(device)
    key = ("lean", optimizer_cls, dtype, device.type)
    return _checked_once(key, lambda: _check_lean(optimizer_cls, dtype, device))


def hand_written_gradients(activation: str, dtype: torch.dtype, device) -> bool:
    """Whether hand-written gradients may be used (switch on and check passed).

    Examples
    --------
    >>> hand_written_gradients("relu", torch.float64, "cpu")
    True
    """
    return ENABLED["manual_gradients"] and manual_gradients_work(
        activation, dtype, device
    )


def _checked_once(key, check) -> bool:
    with _lock:
        if key not in _checked:
            try:
                ok, why = check()
            except Exception as exc:  # any failure means: do not use it
                ok, why = False, f"{type(exc).__name__}: {exc}"
            if not ok:
                logger.debug(
                    "qwertyclf fast path: %s disabled for %s (%s); using the "
                    "ordinary path.",
                    key[0],
                    key[1:],
                    why,
                )
            _checked[key] = ok
        return _checked[key]


def _tiny_problem(dtype, device):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(7, 3, generator=generator, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    w = torch.rand(7, generator=generator, dtype=torch.float64) + 0.5
    return x.to(device, dtype), y.to(device), w.to(device, dtype)


def _seeded_net(activation, dtype, device) -> QwertyNet:
    """A small `QwertyNet` with weights drawn from a generator of its own.

    It is built on the meta device (no initialisation runs) and filled from a
    local generator, so the check reads, seeds and advances no global
    generator: a fit on any device, in any thread, keeps the random state it
    had. (`torch.manual_seed` would reseed every CUDA and MPS generator too.)
    """
    with torch.device("meta"):
        net = QwertyNet(3, 3, (4, 5), activation, dtype=dtype)
    net = net.to_empty(device=device)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in net.parameters():
            draw = torch.rand(param.shape, generator=generator, dtype=torch.float64)
            param.copy_(draw - 0.5)
    return net


def _check_manual(activation, dtype, device):
    x, y, w = _tiny_problem(dtype, device)
    net = _seeded_net(activation, dtype, device)
    if not PlainMLPStep.supports(net):
        return False, "no derivative for this activation"
    tol = 1e-4 if dtype != torch.float64 else 1e-10
    for weight in (None, w):
        net.zero_grad(set_to_none=True)
        losses = F.cross_entropy(net(x), y, reduction="none")
        (losses if weight is None else losses * weight).mean().backward()
        expected = [p.grad.clone() for p in net.parameters()]
        with torch.no_grad():
            PlainMLPStep(net)(x, y, weight)
        got = [p.grad for p in net.parameters()]
        if not all(
            torch.allclose(a, b, rtol=tol, atol=tol)
            for a, b in zip(got, expected, strict=True)
        ):
            return False, "gradients differ from autograd"
    return True, ""


def _check_lean(optimizer_cls, dtype, device):
    if not optimizer_rule(optimizer_cls).adam:
        return False, "not fused Adam/AdamW"
    x, _, _ = _tiny_problem(dtype, device)
    params = [torch.nn.Parameter(x.clone()) for _ in range(2)]
    optimizers = [
        optimizer_cls([p], lr=0.1, weight_decay=0.1, fused=True) for p in params
    ]
    for p in params:
        p.grad = torch.zeros_like(p)
    update = lean_step(optimizers[1])
    for i in range(3):
        for p in params:
            p.grad.fill_(0.5 - i)  # in place, as training writes gradients
        optimizers[0].step()
        update()
    if not torch.equal(params[0], params[1]):
        return False, "the lean step differs from optimizer.step()"
    return True, ""
