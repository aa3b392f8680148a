"""Loss and accuracy per epoch, train vs validation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from qwertyclf.plotting import _style

_KEYS = ("train_loss", "valid_loss", "train_acc", "valid_acc")
# Hand-written training loops, like the one the qwerty data come from, often
# call the held-out split "test"; those keys are read as validation.
_ALIASES = {"test_loss": "valid_loss", "test_acc": "valid_acc"}


def trained_networks(estimator: Any) -> list[Any]:
    """The fitted networks with a `history_` that a fitted model predicts with.

    The model itself when it has a `history_` (the last step of a pipeline is
    looked at), else the members of an `estimators_` list that have one (the
    networks a `QwertyClassifierCV` or `QwertyEnsembleClassifier` averages);
    empty when there are none.
    """
    final = _style.final_step(estimator)
    if getattr(final, "history_", None) is not None:
        return [final]
    members = getattr(final, "estimators_", None)
    if (
        isinstance(members, list | tuple)
        and members
        and all(getattr(m, "history_", None) is not None for m in members)
    ):
        return list(members)
    return []


def _curves_from_history(history: Any) -> dict[str, np.ndarray | None]:
    """Epochs and the four curves from a skorch History or a dict of lists."""
    if isinstance(history, Mapping):
        data = {_ALIASES.get(k, k): v for k, v in history.items()}
        curves = {
            k: None if data.get(k) is None else np.asarray(data[k], dtype=float)
            for k in _KEYS
        }
        lengths = {k: len(v) for k, v in curves.items() if v is not None}
        if "epoch" in data:
            epochs = np.asarray(data["epoch"])
            lengths["epoch"] = len(epochs)
        else:
            epochs = np.arange(1, max(lengths.values(), default=0) + 1)
        if len(set(lengths.values())) > 1:
            raise ValueError(f"The history's lists differ in length: {lengths}.")
    else:
        # A skorch History is a list of per-epoch dicts; `history[:, key]` would
        # silently drop epochs without `key`, so read each epoch, NaN if missing.
        rows = list(history)
        if rows and not all(isinstance(row, Mapping) for row in rows):
            raise TypeError(
                "history must be a skorch History (a list of per-epoch dicts) or a "
                f"dict of lists; got {type(history).__name__}."
            )
        epochs = np.array([row.get("epoch", i + 1) for i, row in enumerate(rows)])
        curves = {}
        for key in _KEYS:
            values = [row.get(key, np.nan) for row in rows]
            has_any = any(row.get(key) is not None for row in rows)
            curves[key] = np.asarray(values, dtype=float) if has_any else None
    if curves["train_loss"] is None and curves["train_acc"] is None:
        raise ValueError(
            "The history records neither 'train_loss' nor 'train_acc'; nothing to "
            "plot. Pass the history_ of a fitted estimator or a dict of lists."
        )
    return {"epochs": epochs, **curves}


class TrainingCurvesDisplay:
    """Loss and accuracy per epoch, train vs validation, on two axes side by side.

    The usual figure of a training run. Build it with
    [`from_estimator`][qwertyclf.plotting.TrainingCurvesDisplay.from_estimator]
    (any fitted estimator with a skorch `history_`, such as `QwertyClassifier`) or
    [`from_history`][qwertyclf.plotting.TrainingCurvesDisplay.from_history]; all
    parameters are stored as attributes. Curves that were not recorded are `None`
    and not drawn; without accuracy curves only the loss axes is drawn.

    Parameters
    ----------
    epochs : ndarray of shape (n_epochs,)
        Epoch numbers (1-based), the x values.
    train_loss, valid_loss, train_acc, valid_acc : ndarray of shape (n_epochs,)
        The curves; `None` when not recorded, `nan` for a missing epoch.
    bayes_accuracy : float, default=None
        Bayes-optimal accuracy, drawn as a horizontal line on the accuracy axes.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The drawn curves, keyed "train_loss", "valid_loss", "train_acc",
        "valid_acc" (only those recorded).
    bayes_line_ : matplotlib Line2D or None
        The Bayes-accuracy line.
    axes_ : ndarray of matplotlib Axes
        The loss axes, then the accuracy axes (if any accuracy was recorded).
    bounding_ax_ : matplotlib Axes or None
        The single axes given as `ax` and split in two (hidden), else `None`.
    figure_ : matplotlib Figure
        Figure containing the axes.

    Examples
    --------
    >>> from qwertyclf.plotting import TrainingCurvesDisplay
    >>> results = {"train_loss": [1.0, 0.6, 0.4], "test_loss": [1.1, 0.7, 0.5],
    ...            "train_acc": [0.5, 0.8, 0.9], "test_acc": [0.5, 0.7, 0.85]}
    >>> disp = TrainingCurvesDisplay.from_history(results, bayes_accuracy=0.9)
    >>> sorted(disp.lines_), len(disp.axes_)
    (['train_acc', 'train_loss', 'valid_acc', 'valid_loss'], 2)
    """

    def __init__(
        self,
        *,
        epochs: np.ndarray,
        train_loss: np.ndarray | None = None,
        valid_loss: np.ndarray | None = None,
        train_acc: np.ndarray | None = None,
        valid_acc: np.ndarray | None = None,
        bayes_accuracy: float | None = None,
    ) -> None:
        self.epochs = epochs
        self.train_loss = train_loss
        self.valid_loss = valid_loss
        self.train_acc = train_acc
        self.valid_acc = valid_acc
        self.bayes_accuracy = bayes_accuracy

    def plot(
        self, *, ax: Any = None, line_kw: dict[str, Any] | None = None
    ) -> TrainingCurvesDisplay:
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of two Axes, default=None
            Where to draw: two axes (loss, accuracy); one axes, split in two side
            by side (or used as is when there is only a loss); or `None` for a new
            12 x 4 inch figure.
        line_kw : dict, default=None
            Keyword arguments for every `Axes.plot` call.

        Returns
        -------
        TrainingCurvesDisplay
            `self`, with the artists stored.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from qwertyclf.plotting import TrainingCurvesDisplay
        >>> disp = TrainingCurvesDisplay(
        ...     epochs=np.arange(1, 4), train_loss=np.array([0.9, 0.5, 0.3]),
        ...     train_acc=np.array([0.6, 0.8, 0.9]),
        ... )
        >>> fig, axes = plt.subplots(1, 2)
        >>> disp.plot(ax=axes).figure_ is fig
        True
        """
        has_acc = self.train_acc is not None or self.valid_acc is not None
        axes = self._panel_axes(ax, has_acc)

        line_kw = line_kw or {}
        epochs = np.asarray(self.epochs)
        self.lines_ = {}
        panels = [("loss", "Loss", axes[0])]
        if has_acc:
            panels.append(("acc", "Accuracy", axes[1]))
        for suffix, name, axis in panels:
            for split, label, color in (
                ("train", "Train", _style.PREDICTED_COLOR),
                ("valid", "Validation", "tab:orange"),
            ):
                key = f"{split}_{suffix}"
                values = getattr(self, key)
                if values is None:
                    continue
                style = {"color": color, "label": f"{label} {name.lower()}"}
                style.update(line_kw)
                (self.lines_[key],) = axis.plot(epochs, values, **style)
            axis.set(xlabel="Epoch", ylabel=name, title=f"{name} over epochs")

        self.bayes_line_ = None
        if has_acc and self.bayes_accuracy is not None:
            bayes = float(self.bayes_accuracy)
            self.bayes_line_ = axes[1].axhline(
                bayes, color="black", linestyle="--", label=f"Bayes ({bayes:.1%})"
            )
        for axis in axes:
            axis.legend()
        self.axes_ = axes
        self.figure_ = axes[0].figure
        return self

    def _panel_axes(self, ax: Any, has_acc: bool) -> np.ndarray:
        """Resolve `ax` into the loss axes and, if `has_acc`, the accuracy axes."""
        n_axes = 2 if has_acc else 1
        self.bounding_ax_ = None
        if ax is None:
            import matplotlib.pyplot as plt

            _, axes = plt.subplots(1, n_axes, figsize=(6 * n_axes, 4), squeeze=False)
            axes = axes.ravel()
        elif isinstance(ax, Sequence | np.ndarray):
            axes = np.asarray(ax, dtype=object).ravel()
            if len(axes) != n_axes:
                raise ValueError(
                    f"Expected {n_axes} axes (loss{', accuracy' if has_acc else ''}); "
                    f"got {len(axes)}."
                )
        elif n_axes == 1:
            axes = np.array([ax], dtype=object)
        else:
            from matplotlib.gridspec import GridSpecFromSubplotSpec

            # As PartialDependenceDisplay does: hide the given axes and share its
            # place between the loss and accuracy axes.
            self.bounding_ax_ = ax
            ax.set_axis_off()
            spec = GridSpecFromSubplotSpec(
                1, 2, subplot_spec=ax.get_subplotspec(), wspace=0.3
            )
            axes = np.array([ax.figure.add_subplot(s) for s in spec], dtype=object)
        return axes

    @classmethod
    def from_history(
        cls,
        history: Any,
        *,
        bayes_accuracy: float | None = None,
        ax: Any = None,
        **plot_kw: Any,
    ) -> TrainingCurvesDisplay:
        """Plot the curves recorded in a training history.

        Parameters
        ----------
        history : skorch History or dict of lists
            A skorch `History` (one dict per epoch with "epoch", "train_loss",
            "train_acc", "valid_loss", "valid_acc"), or a dict of per-epoch lists
            as a hand-written training loop returns them, where "test_loss" /
            "test_acc" are read as validation.
        bayes_accuracy : float, default=None
            Bayes-optimal accuracy to draw as a horizontal reference.
        ax : matplotlib Axes or sequence of two Axes, default=None
            See [`plot`][qwertyclf.plotting.TrainingCurvesDisplay.plot].
        **plot_kw
            Passed to [`plot`][qwertyclf.plotting.TrainingCurvesDisplay.plot].

        Returns
        -------
        TrainingCurvesDisplay
            The drawn display.

        Raises
        ------
        ValueError
            If the history records no training loss or accuracy, or its lists
            differ in length.

        Examples
        --------
        >>> from skorch.history import History
        >>> from qwertyclf.plotting import TrainingCurvesDisplay
        >>> history = History()
        >>> for epoch, loss in enumerate([0.9, 0.5], start=1):
        ...     history.new_epoch()
        ...     history.record("epoch", epoch)
        ...     history.record("train_loss", loss)
        >>> disp = TrainingCurvesDisplay.from_history(history)
        >>> disp.train_loss.tolist(), disp.valid_loss is None
        ([0.9, 0.5], True)
        """
        curves = _curves_from_history(history)
        disp = cls(bayes_accuracy=bayes_accuracy, **curves)
        return disp.plot(ax=ax, **plot_kw)

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        *,
        bayes_accuracy: float | None = None,
        ax: Any = None,
        **plot_kw: Any,
    ) -> TrainingCurvesDisplay:
        """Plot the training history of a fitted estimator.

        Parameters
        ----------
        estimator : fitted estimator or pipeline
            Any fitted estimator with a skorch-style `history_`, such as
            `QwertyClassifier`, or a `Pipeline` whose last step has one.
            `QwertyClassifierCV` and `QwertyEnsembleClassifier` predict with
            several networks, each with its own history: pass one of their
            `estimators_`.
        bayes_accuracy : float, default=None
            Bayes-optimal accuracy to draw as a horizontal reference.
        ax : matplotlib Axes or sequence of two Axes, default=None
            See [`plot`][qwertyclf.plotting.TrainingCurvesDisplay.plot].
        **plot_kw
            Passed to [`plot`][qwertyclf.plotting.TrainingCurvesDisplay.plot].

        Returns
        -------
        TrainingCurvesDisplay
            The drawn display.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If `estimator` is not fitted.
        ValueError
            If `estimator` (or its last step) has no `history_`, or has several
            networks with their own histories.

        Examples
        --------
        >>> from sklearn.base import BaseEstimator
        >>> from qwertyclf.plotting import TrainingCurvesDisplay
        >>> class Trained(BaseEstimator):
        ...     def fit(self):
        ...         self.history_ = [{"epoch": 1, "train_loss": 0.7, "train_acc": 0.6},
        ...                          {"epoch": 2, "train_loss": 0.4, "train_acc": 0.8}]
        ...         return self
        >>> disp = TrainingCurvesDisplay.from_estimator(Trained().fit())
        >>> disp.lines_["train_acc"].get_ydata().tolist()
        [0.6, 0.8]
        """
        check_is_fitted(estimator)
        final = _style.final_step(estimator)
        name = type(final).__name__
        if final is not estimator:
            name = f"The pipeline's last step, {name},"
        networks = trained_networks(estimator)
        if not networks:
            raise ValueError(
                f"{name} has no history_; training curves need an estimator that "
                "records one per epoch (e.g. QwertyClassifier), or use "
                "from_history."
            )
        if networks[0] is not final:
            where = "estimator[-1]" if final is not estimator else "estimator"
            raise ValueError(
                f"{name} has no history_ of its own: it predicts with "
                f"{len(networks)} network(s), each trained with its own history. "
                f"Plot one of them: TrainingCurvesDisplay.from_estimator("
                f"{where}.estimators_[0])."
            )
        return cls.from_history(
            final.history_, bayes_accuracy=bayes_accuracy, ax=ax, **plot_kw
        )
