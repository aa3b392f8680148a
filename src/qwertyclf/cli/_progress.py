"""Training progress on stderr, one update per epoch.

The display itself (a bar on a terminal, plain lines elsewhere) is
`qwertyclf._progress.EpochBar`, which the batched runs of the cv and
ensemble classifiers show as well (their `verbose`).
"""

from __future__ import annotations

from typing import Any

from ._args import seconds_since_start


def epoch_progress(every: float = 0.1) -> Any:
    """A skorch callback that shows training progress on stderr, once per epoch.

    On a terminal it is a progress bar (tqdm) over the epochs, with the latest
    losses and accuracies beside it. Elsewhere (a log file, a pipe) it prints one
    plain line every `every` of the epochs and after the last one, ending with
    the seconds since the command started, the same clock as the command's
    summary.

    skorch's own `ProgressBar` counts batches and needs the per-batch hooks; an
    epoch-level display keeps `QwertyClassifier`'s fast epoch loop.

    Parameters
    ----------
    every : float, default=0.1
        Fraction of the epochs between two lines when stderr is not a terminal.

    Returns
    -------
    skorch.callbacks.Callback
        A fresh callback (it holds no state until training begins).
    """
    from skorch.callbacks import Callback

    from qwertyclf._progress import EpochBar

    class EpochProgress(Callback):
        def __init__(self, every: float = 0.1) -> None:
            self.every = every

        def on_train_begin(self, net, X=None, y=None, **kwargs):
            # The display (and stderr) is made here, not in __init__: the
            # classifier deep-copies its callbacks, and streams cannot be copied.
            self.display_ = EpochBar(
                net.max_epochs,
                every=self.every,
                clock=seconds_since_start,
                clock_note=" since start",
                prefix_desc=False,
            )

        def on_epoch_end(self, net, **kwargs):
            row = net.history[-1]
            self.display_.update(
                self.display_.done + 1,
                lambda short: epoch_summary(row, short=short),
            )

        def on_train_end(self, net, X=None, y=None, **kwargs):
            self.display_.close()
            # The fitted net keeps its callbacks: no stream left in them.
            self.display_ = None

    return EpochProgress(every)


def epoch_summary(row: dict[str, Any], *, short: bool = False) -> str:
    """The losses and accuracies of one epoch of a skorch history, in one line.

    With `short`, only the training loss and the last accuracy recorded
    (validation if any, else training).

    Examples
    --------
    >>> row = {"train_loss": 0.51, "train_acc": 0.8, "valid_acc": 0.9}
    >>> epoch_summary(row)
    'loss 0.5100  acc 80.0%  valid acc 90.0%'
    >>> epoch_summary(row, short=True)
    'loss 0.5100  valid acc 90.0%'
    """
    if short:
        keys = ["train_loss", "valid_acc" if "valid_acc" in row else "train_acc"]
    else:
        keys = ["train_loss", "train_acc", "valid_loss", "valid_acc"]
    return "  ".join(_format_stat(key, row[key]) for key in keys if key in row)


def _format_stat(key: str, value: float) -> str:
    """`train_loss` → `loss 0.1234`, `valid_acc` → `valid acc 95.0%`.

    Examples
    --------
    >>> _format_stat("valid_acc", 0.95)
    'valid acc 95.0%'
    """
    split, stat = key.split("_")
    label = "" if split == "train" else f"{split} "
    number = f"{value:.1%}" if stat == "acc" else f"{value:.4f}"
    return f"{label}{stat} {number}"
