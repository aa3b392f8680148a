"""The early-stopping rule both engines follow.

A run with `early_stopping=True` watches the validation loss after each
epoch: an epoch improves on the best so far when its loss is below the best
minus `tol`; after `n_iter_no_change` epochs in a row without improvement
training stops, and the best epoch's weights are kept. This is skorch's
`EarlyStopping(monitor="valid_loss", threshold_mode="abs", load_best=True)`,
written once: the serial engine applies it through `RuleEarlyStopping`, a
skorch callback (so skorch's loop, its other callbacks and its attributes
stay as they were), and the batched engine keeps one `StoppingRule` per
model.
"""

from __future__ import annotations

import math
from copy import deepcopy

from skorch.callbacks import EarlyStopping


class StoppingRule:
    """Patience, tolerance and best epoch of one model's early stopping.

    Parameters
    ----------
    patience : int
        Epochs in a row without improvement after which training stops.
    tol : float
        Smallest decrease of the score that counts as an improvement.

    Examples
    --------
    >>> rule = StoppingRule(patience=2, tol=0.1)
    >>> [rule.update(epoch, loss) for epoch, loss in enumerate([1.0, 0.95, 0.8], 1)]
    [True, False, True]
    >>> rule.best_epoch, rule.stop
    (3, False)
    >>> rule.update(4, 0.8), rule.update(5, 0.75), rule.stop
    (False, False, True)
    """

    def __init__(self, patience: int, tol: float):
        self.patience = patience
        self.tol = tol
        self.threshold = math.inf
        self.misses = 0
        self.best_epoch: int | None = None

    def update(self, epoch: int, score: float) -> bool:
        """Record `epoch`'s score (lower is better); whether it is the new best."""
        if score < self.threshold:
            self.misses = 0
            self.threshold = score - self.tol
            self.best_epoch = epoch
            return True
        self.misses += 1
        return False

    @property
    def stop(self) -> bool:
        """Whether the last `patience` epochs did not improve."""
        return self.misses == self.patience


class RuleEarlyStopping(EarlyStopping):
    """skorch's `EarlyStopping` on `valid_loss` whose decisions `StoppingRule` makes.

    It is an `EarlyStopping` in every respect a caller sees (`misses_`,
    `dynamic_threshold_`, `best_epoch_`, `best_model_weights_`, the
    messages, the restore of the best weights at the end).

    Only for what the engine asks of it: `monitor="valid_loss"`,
    `threshold_mode="abs"` (its `threshold` is the rule's `tol`).

    Examples
    --------
    >>> stopper = RuleEarlyStopping(patience=5, threshold=1e-4, threshold_mode="abs")
    >>> isinstance(stopper, EarlyStopping), stopper.monitor
    (True, 'valid_loss')
    """

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.rule_ = StoppingRule(self.patience, self.threshold)

    def on_epoch_end(self, net, **kwargs):
        rule = self.rule_
        if rule.update(net.history[-1, "epoch"], net.history[-1, self.monitor]):
            self.dynamic_threshold_ = rule.threshold
            self.best_epoch_ = rule.best_epoch
            if self.load_best:
                self.best_model_weights_ = deepcopy(net.module_.state_dict())
        self.misses_ = rule.misses
        if rule.stop:
            if net.verbose:
                self._sink(
                    f"Stopping since {self.monitor} has not improved in the last "
                    f"{self.patience} epochs.",
                    verbose=net.verbose,
                )
            raise KeyboardInterrupt
