"""The optimizers the engine knows, in one table.

What either engine, the fast path and the estimator need to know about an
optimizer class is a field of its `OptimizerRule`: the name an estimator
accepts for it, whether torch has a fused kernel for it, whether its
`step()` evaluates no closure, whether it is Adam (whose fused kernel the
lean step and the batched update call) with decoupled weight decay (AdamW),
whether the batched engine reproduces its update, and the betas and eps
both engines use. A new optimizer is one row here (and, if the batched
engine is to train it, its update in `training/_batched.py`).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class OptimizerRule:
    """What the engine knows about one optimizer class.

    Parameters
    ----------
    cls : type of torch.optim.Optimizer
        The optimizer.
    name : str or None, default=None
        The name `QwertyClassifier(optimizer=...)` accepts for it (None: the
        class itself must be passed).
    fused : bool, default=False
        torch has a single-kernel update for it on CPU and CUDA
        (`fused=True`), which the serial engine asks for.
    single_evaluation : bool, default=True
        Its `step()` evaluates no closure: computing the gradient and then
        calling `step()` is what `step(closure)` does.
    adam : bool, default=False
        Adam's update (moments `exp_avg`, `exp_avg_sq`), through torch's fused
        Adam kernel in the lean step and the batched engine.
    decoupled_decay : bool, default=False
        Weight decay applied to the weights, not added to the gradient (AdamW).
    batched : bool, default=False
        The batched engine reproduces its update (with its defaults: Adam's
        betas and eps, SGD without momentum).

    Examples
    --------
    >>> rule = optimizer_rule(torch.optim.AdamW)
    >>> rule.name, rule.decoupled_decay, rule.betas, rule.eps
    ('adamw', True, (0.9, 0.999), 1e-08)
    """

    cls: type
    name: str | None = None
    fused: bool = False
    single_evaluation: bool = True
    adam: bool = False
    decoupled_decay: bool = False
    batched: bool = False

    @property
    def betas(self) -> tuple[float, float] | None:
        """The class's default betas (what a serial fit uses), or None."""
        return _defaults(self.cls).get("betas")

    @property
    def eps(self) -> float | None:
        """The class's default eps (what a serial fit uses), or None."""
        return _defaults(self.cls).get("eps")


@functools.cache
def _defaults(cls) -> dict:
    """The default arguments of `cls`'s constructor (read once per class)."""
    return {
        name: parameter.default
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


_optim = torch.optim

#: Every optimizer the engine knows; any other `torch.optim.Optimizer`
#: subclass trains through skorch's own loop (with a closure).
OPTIMIZER_RULES: tuple[OptimizerRule, ...] = (
    OptimizerRule(_optim.Adam, "adam", fused=True, adam=True, batched=True),
    OptimizerRule(
        _optim.AdamW,
        "adamw",
        fused=True,
        adam=True,
        decoupled_decay=True,
        batched=True,
    ),
    OptimizerRule(_optim.SGD, "sgd", fused=True, batched=True),
    OptimizerRule(_optim.RMSprop, "rmsprop"),
    OptimizerRule(_optim.Adagrad),
    OptimizerRule(_optim.Adamax),
    OptimizerRule(_optim.NAdam),
    OptimizerRule(_optim.RAdam),
    OptimizerRule(_optim.Adadelta),
)

#: The optimizers an estimator accepts by name.
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    rule.name: rule.cls for rule in OPTIMIZER_RULES if rule.name is not None
}

_BY_CLASS = {rule.cls: rule for rule in OPTIMIZER_RULES}

#: What the engine assumes of an optimizer it does not know.
_UNKNOWN = OptimizerRule(object, single_evaluation=False)


def optimizer_rule(cls: type) -> OptimizerRule:
    """The rule of optimizer class `cls` (a conservative one if it is unknown).

    Examples
    --------
    >>> optimizer_rule(torch.optim.SGD).batched
    True
    >>> optimizer_rule(torch.optim.LBFGS).single_evaluation
    False
    """
    return _BY_CLASS.get(cls, _UNKNOWN)
