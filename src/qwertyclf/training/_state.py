"""`ModelState`: one trained network and what a model file records with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._module import QwertyNet


@dataclass
class ModelState:
    """Everything a model file holds, decoded.

    Parameters
    ----------
    params : dict
        Constructor arguments of the estimator (`get_params()`).
    classes : ndarray of shape (n_classes,)
        Sorted class labels.
    n_features_in : int
        Number of input features.
    feature_names_in : ndarray of str or None
        Column names seen in fit, if any.
    history : list of dict
        One row per epoch.
    n_iter : int
        Number of epochs trained.
    best_epoch : int
        Epoch (1-based) whose weights were kept.
    module : QwertyNet
        The network with its weights.
    net : QwertySkorchNet or None, default=None
        The skorch net that trained `module`, optimizer state included, when
        the state comes straight from the serial engine (a warm start
        continues it); None when it was read from a file or trained batched.
    optimizer_state : dict or None, default=None
        For a batched run: the per-parameter state of the model's optimizer
        (what `torch.optim.Optimizer.state_dict()["state"]` holds for
        `module.parameters()`, in order), so that a warm start continues it
        as it would continue the serial fit's optimizer.
    row_order_state : torch.Tensor or None, default=None
        For a batched run: the state of the generator that drew the model's
        row orders (a warm start goes on drawing from it).
    encoder : object or None, default=None
        The estimator's input encoding (`qwertyclf.TableEncoder`), which a
        model file stores beside the network; None for a file without one.

    The engines fill what training decides; `params` and `feature_names_in`
    are the estimator's (`dataclasses.replace`).

    Examples
    --------
    >>> import numpy as np
    >>> from qwertyclf import QwertyNet
    >>> state = ModelState(
    ...     params={}, classes=np.array([0, 1]), n_features_in=2,
    ...     feature_names_in=None, history=[{"epoch": 1}], n_iter=1,
    ...     best_epoch=1, module=QwertyNet(n_features=2, n_classes=2),
    ... )
    >>> state.net is None
    True
    """

    params: dict[str, Any]
    classes: np.ndarray
    n_features_in: int
    feature_names_in: np.ndarray | None
    history: list[dict]
    n_iter: int
    best_epoch: int
    module: QwertyNet
    net: Any = field(default=None, compare=False, repr=False)
    optimizer_state: dict | None = field(default=None, compare=False, repr=False)
    row_order_state: Any = field(default=None, compare=False, repr=False)
    encoder: Any = field(default=None, compare=False, repr=False)
