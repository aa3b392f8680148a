"""Progress over the epochs of a training run, on stderr.

One display for every place that shows training progress: the command
line's single fits (a skorch callback in `qwertyclf.cli`) and the batched
runs of `QwertyClassifierCV`, `QwertyEnsembleClassifier` and the batched
searches (`verbose=1`). On a terminal it is a tqdm bar over the epochs; in a
log file or a pipe, one plain line every tenth of the epochs and one after
the last. Nothing here imports the rest of the package, so the estimators
and the command line can both build on it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from numbers import Integral
from typing import TextIO


def check_verbose(verbose) -> int:
    """`verbose` as an int, or a `ValueError` naming it.

    Parameters
    ----------
    verbose : int or bool
        0 is silent, 1 or more shows progress.

    Returns
    -------
    int
        The value as a plain int.

    Examples
    --------
    >>> check_verbose(True), check_verbose(2)
    (1, 2)
    >>> check_verbose(-1)
    Traceback (most recent call last):
    ...
    ValueError: verbose must be an int >= 0 (0 is silent, 1 shows progress), got -1.
    """
    if not isinstance(verbose, Integral) or verbose < 0:
        raise ValueError(
            "verbose must be an int >= 0 (0 is silent, 1 shows progress), "
            f"got {verbose!r}."
        )
    return int(verbose)


class EpochBar:
    """Progress over the epochs of one run: a bar on a terminal, lines elsewhere.

    Parameters
    ----------
    total : int
        Most epochs of the run.
    desc : str, default="training"
        What trains: the bar's label, and the start of each plain line.
    every : float, default=0.1
        Fraction of the epochs between two plain lines.
    stream : file-like, default=None
        Where to write; None is `sys.stderr` at the time of the call.
    bar : bool, default=None
        Whether to draw a tqdm bar; None draws one when `stream` is a
        terminal. Plain lines are for logs and for several processes
        writing to one terminal.
    clock : callable, default=None
        Seconds to show at the end of each plain line; None counts from
        the creation of the bar.
    clock_note : str, default=" elapsed"
        Words after the seconds, as in `(2.5 s elapsed)`.
    prefix_desc : bool, default=True
        Whether plain lines start with `desc` and a colon.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> bar = EpochBar(20, desc="run", stream=out, clock=lambda: 1.25)
    >>> for epoch in range(1, 6):
    ...     bar.update(epoch, lambda short: "3/4 models training")
    >>> bar.close()
    >>> print(out.getvalue(), end="")
    run: epoch  2/20  3/4 models training  (1.2 s elapsed)
    run: epoch  4/20  3/4 models training  (1.2 s elapsed)
    run: epoch  5/20  3/4 models training  (1.2 s elapsed)
    """

    def __init__(
        self,
        total: int,
        *,
        desc: str = "training",
        every: float = 0.1,
        stream: TextIO | None = None,
        bar: bool | None = None,
        clock: Callable[[], float] | None = None,
        clock_note: str = " elapsed",
        prefix_desc: bool = True,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.total = int(total)
        self.desc = desc
        self.step = max(1, round(self.total * every))
        self.done = 0
        self.printed = 0
        self.note: Callable[[bool], str] | None = None
        if clock is None:
            start = time.perf_counter()
            clock = lambda: time.perf_counter() - start  # noqa: E731
        self.clock = clock
        self.clock_note = clock_note
        self.prefix = f"{desc}: " if prefix_desc else ""
        if bar is None:
            isatty = getattr(self.stream, "isatty", None)
            bar = bool(isatty is not None and isatty())
        self.bar = None
        if bar:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc=desc, unit="epoch", file=self.stream)

    def update(self, done: int, note: Callable[[bool], str]) -> None:
        """`done` epochs of `total` are over.

        Parameters
        ----------
        done : int
            Epochs done so far.
        note : callable
            `note(short)` is what to show beside the count (`short` for the
            bar, which must keep its width); called only when shown.
        """
        self.note = note
        if self.bar is not None:
            # Short, so that the bar keeps its width in an 80-column terminal.
            self.bar.set_postfix_str(note(True), refresh=False)
            self.bar.update(done - self.done)
            self.done = done
        else:
            self.done = done
            if done % self.step == 0 or done == self.total:
                self._print_line()

    def close(self) -> None:
        """End the display; a run that stopped between two lines prints its last."""
        if self.bar is not None:
            self.bar.close()
        elif self.done != self.printed and self.note is not None:
            self._print_line()

    def _print_line(self) -> None:
        width = len(str(self.total))
        print(
            f"{self.prefix}epoch {self.done:>{width}}/{self.total}  "
            f"{self.note(False)}  ({self.clock():.1f} s{self.clock_note})",
            file=self.stream,
            flush=True,
        )
        self.printed = self.done


def batched_run_progress(desc: str, n_models: int, max_epochs: int, **kwargs):
    """An `EpochBar` for a batched run, and the `on_epoch` callback that feeds it.

    The callback takes what `qwertyclf.training.BatchedTrainer` reports
    after each epoch: `on_epoch(epoch, max_epochs, n_running, n_models)`,
    where `n_running` counts the models still training (early stopping
    ends models at different epochs).

    Parameters
    ----------
    desc : str
        The run's label.
    n_models : int
        Models in the run.
    max_epochs : int
        Most epochs of the run.
    **kwargs
        More `EpochBar` arguments (`stream`, `bar`, `clock`).

    Returns
    -------
    bar : EpochBar
        To close once the run is over.
    on_epoch : callable
        The callback for the trainer.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> bar, on_epoch = batched_run_progress("run", 4, 2, stream=out,
    ...                                      clock=lambda: 0.5)
    >>> on_epoch(1, 2, 4, 4); on_epoch(2, 2, 1, 4); bar.close()
    >>> print(out.getvalue(), end="")
    run: epoch 1/2  4/4 models training  (0.5 s elapsed)
    run: epoch 2/2  1/4 models training  (0.5 s elapsed)
    """
    bar = EpochBar(max_epochs, desc=desc, **kwargs)

    def on_epoch(epoch: int, total: int, n_running: int, n_models: int) -> None:
        bar.update(epoch, lambda short: _running(n_running, n_models, short))

    return bar, on_epoch


def _running(n_running: int, n_models: int, short: bool) -> str:
    """`3/8 models training`, or `3/8 training` for the bar.

    Examples
    --------
    >>> _running(3, 8, False), _running(1, 1, True)
    ('3/8 models training', '1/1 training')
    """
    what = "" if short else (" model" if n_models == 1 else " models")
    return f"{n_running}/{n_models}{what} training"
