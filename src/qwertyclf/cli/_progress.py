"""Training progress on stderr, one update per epoch."""

from __future__ import annotations

import sys
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

    class EpochProgress(Callback):
        def __init__(self, every: float = 0.1) -> None:
            self.every = every

        def on_train_begin(self, net, X=None, y=None, **kwargs):
            # stderr is looked up here, not stored in __init__: the classifier
            # deep-copies its callbacks, and streams cannot be copied.
            stream = sys.stderr
            self.total_ = net.max_epochs
            self.step_ = max(1, round(self.total_ * self.every))
            self.done_ = 0
            self.bar_ = None
            if stream.isatty():
                from tqdm import tqdm

                self.bar_ = tqdm(
                    total=self.total_, desc="training", unit="epoch", file=stream
                )

        def on_epoch_end(self, net, **kwargs):
            self.done_ += 1
            row = net.history[-1]
            if self.bar_ is not None:
                # Short, so that the bar keeps its width in an 80-column terminal.
                self.bar_.set_postfix_str(epoch_summary(row, short=True), refresh=False)
                self.bar_.update(1)
            elif self.done_ % self.step_ == 0 or self.done_ == self.total_:
                self._print_line(epoch_summary(row))

        def on_train_end(self, net, X=None, y=None, **kwargs):
            if self.bar_ is not None:
                self.bar_.close()
            elif self.done_ % self.step_ and self.done_ != self.total_:
                # Stopped early, between two lines.
                self._print_line(epoch_summary(net.history[-1]))

        def _print_line(self, summary: str) -> None:
            width = len(str(self.total_))
            print(
                f"epoch {self.done_:>{width}}/{self.total_}  {summary}  "
                f"({seconds_since_start():.1f} s since start)",
                file=sys.stderr,
                flush=True,
            )

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
