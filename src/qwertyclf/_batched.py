"""Many `QwertyClassifier` fits as batched runs of the engine.

`fit_batched` is the estimator side of `qwertyclf.training.BatchedTrainer`:
it validates the data once, asks each estimator for its `FitSpec`, works out
each model's rows and row weights by the rules a serial fit follows, groups
the models that can share a run, and turns each trained `ModelState` back
into a fitted `QwertyClassifier`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from scipy import sparse
from sklearn.base import clone
from sklearn.utils.multiclass import check_classification_targets

from ._classifier import (
    QwertyClassifier,
    check_params,
    fit_spec,
    restore,
)
from ._labels import encode_labels
from ._progress import batched_run_progress
from ._table import TableEncoder, read_table
from .training import (
    BatchedTrainer,
    RunData,
    as_tensor,
    batchable,
    check_n_classes,
    fit_rows,
    shared_settings,
)

#: Upper bound on models trained in one batched run (larger requests are
#: split into runs of at most this many, to bound memory).
MAX_MODELS_PER_RUN = 4096


def batch_key(estimator) -> tuple | None:
    """What must be equal for estimators to train in one batched run.

    Models of one depth, one number of BatchEnsemble members
    (`batch_ensemble`) and one `numeric_embedding` may differ in width,
    activation, learning rate, weight decay, class weights and seed.
    Returns None for estimators the batched trainer cannot reproduce
    exactly: anything but a plain `QwertyClassifier`, `warm_start`, or a
    spec that `qwertyclf.training.batchable` refuses (batch norm, dropout,
    custom callbacks, an optimizer other than Adam/AdamW/SGD, an activation
    without a hand-written gradient, verbose output,
    `numeric_embedding="plr"`).

    Parameters
    ----------
    estimator : estimator
        An unfitted estimator.

    Returns
    -------
    key : tuple or None
        Hashable key; estimators with equal keys may share a run.

    Examples
    --------
    >>> from qwertyclf import QwertyClassifier
    >>> batch_key(QwertyClassifier(lr=0.1)) == batch_key(QwertyClassifier(lr=0.5))
    True
    >>> batch_key(QwertyClassifier(dropout=0.2)) is None
    True
    """
    if type(estimator) is not QwertyClassifier or estimator.warm_start:
        return None
    try:
        spec = fit_spec(estimator, check_params(estimator), seed=0)
    except (ValueError, TypeError):
        return None
    if not batchable(spec):
        return None
    return shared_settings(spec)


def fit_batched(
    estimators: Sequence[QwertyClassifier],
    X,
    y,
    train_rows: Sequence[np.ndarray] | None = None,
    *,
    sample_weight=None,
    valid_rows: Sequence[np.ndarray] | None = None,
    max_models: int = MAX_MODELS_PER_RUN,
    verbose: int = 0,
    progress_label: str = "batched run",
    progress_bar: bool | None = None,
) -> list[QwertyClassifier | Exception]:
    """Fit K estimators, each on its own rows, as batched runs.

    Model `k` ends as `clone(estimators[k]).fit(X[train_rows[k]],
    y[train_rows[k]], sample_weight=sample_weight[train_rows[k]])` would:
    same initial weights, same batches, same updates (exactly so up to
    floating-point summation order). Estimators are grouped by `batch_key`,
    by the classes in their rows and by their input encoding (fitted once
    for each set of training rows and encoding parameters); each group
    trains as one run.

    Parameters
    ----------
    estimators : sequence of QwertyClassifier
        Unfitted estimators for which `batch_key` is not None. They are not
        modified; fitted copies are returned.
    X : array-like or DataFrame of shape (n_samples, n_features)
        All rows any model trains on, as `QwertyClassifier.fit` takes them.
    y : array-like of shape (n_samples,)
        Class labels.
    train_rows : sequence of int arrays, default=None
        Row indices of each model's training data, in order; None trains
        every model on all rows.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights, taken at each model's rows.
    valid_rows : sequence of int arrays, default=None
        Row indices each model is validated on (and early-stopped on, with
        `early_stopping=True`) instead of a `validation_fraction` of its
        training rows: a fold's held-out rows, for example.
    max_models : int, default=4096
        Largest number of models in one run; bigger groups are split.
    verbose : int, default=0
        0 is silent; 1 or more shows each run's progress on stderr (epochs
        done, models still training, elapsed time; `qwertyclf._progress`).
    progress_label : str, default="batched run"
        The runs' label in the progress display, numbered when there are
        several.
    progress_bar : bool, default=None
        Whether the display is a bar; None draws one when stderr is a
        terminal, plain lines otherwise.

    Returns
    -------
    fitted : list
        For each estimator, a fitted `QwertyClassifier`, or the exception its
        fit raised (for example a divergence error).

    Examples
    --------
    >>> from qwertyclf import QwertyClassifier
    >>> from qwertyclf.datasets import make_qwerty
    >>> X, y = make_qwerty(20, random_state=0)
    >>> models = [QwertyClassifier(lr=lr, max_epochs=5, random_state=0)
    ...           for lr in (0.01, 0.05)]
    >>> fitted = fit_batched(models, X, y)
    >>> [m.n_iter_ for m in fitted]
    [5, 5]
    """
    if len(estimators) == 0:
        return []
    # Validated once, as a serial fit validates its data; every model records
    # the same n_features_in_ (and feature_names_in_).
    checked = clone(estimators[0])
    table, y = read_table(checked, X, y, reset=True)
    check_classification_targets(y)
    if train_rows is None:
        train_rows = [np.arange(len(y))] * len(estimators)
    if len(train_rows) != len(estimators):
        raise ValueError("train_rows must hold one index array per estimator.")
    if valid_rows is None:
        valid_rows = [None] * len(estimators)
    elif len(valid_rows) != len(estimators):
        raise ValueError("valid_rows must hold one index array per estimator.")
    results: list = [None] * len(estimators)
    groups: dict = {}
    encoders = _Encodings(table, sample_weight)
    for k, (est, rows) in enumerate(zip(estimators, train_rows, strict=True)):
        key = batch_key(est)
        if key is None:
            raise ValueError(f"{est!r} cannot be trained in a batched run.")
        rows = np.asarray(rows, dtype=np.intp)
        classes = np.unique(y[rows])
        inputs = encoders.fit(k, est, rows)
        groups.setdefault((key, tuple(classes.tolist()), inputs), []).append(k)
    n_runs = sum(-(-len(members) // max_models) for members in groups.values())
    labels = iter(
        [progress_label]
        if n_runs == 1
        else [f"{progress_label} {i}/{n_runs}" for i in range(1, n_runs + 1)]
    )
    for (_, classes, inputs), members in groups.items():
        classes = np.asarray(classes, dtype=y.dtype)
        X = encoders.inputs(inputs)
        for start in range(0, len(members), max_models):
            chunk = members[start : start + max_models]
            label = next(labels)
            fitted = _fit_group(
                [estimators[k] for k in chunk],
                [encoders.of[k] for k in chunk],
                X,
                y,
                classes,
                [np.asarray(train_rows[k], dtype=np.intp) for k in chunk],
                [valid_rows[k] for k in chunk],
                sample_weight,
                checked,
                progress=(label, progress_bar) if verbose else None,
            )
            for k, result in zip(chunk, fitted, strict=True):
                results[k] = result
    return results


class _Encodings:
    """The models' input encodings, each fitted once per rows and parameters.

    Models whose encoding changes nothing in the table (a float array without
    missing values, no scaling) share the table itself as their inputs.
    """

    def __init__(self, table, sample_weight):
        self.table = table
        self.weight = (
            None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        )
        self.of: dict[int, TableEncoder] = {}  # model index -> its encoding
        self._fitted: dict = {}
        self._inputs: dict = {}
        numeric = table.numeric
        # A sparse table's missing values are among its stored ones.
        values = numeric.data if sparse.issparse(numeric) else numeric
        self._plain = numeric is not None and not np.isnan(values).any()

    def fit(self, k, estimator, rows) -> int | None:
        """Fit model `k`'s encoding; return the key of its network inputs."""
        params = (
            repr(estimator.categorical_features),
            repr(estimator.min_frequency),
            estimator.preprocessing,
        )
        key = (params, rows.tobytes())
        if key not in self._fitted:
            self._fitted[key] = TableEncoder.fit(
                self.table.take(rows),
                categorical_features=estimator.categorical_features,
                min_frequency=estimator.min_frequency,
                preprocessing=estimator.preprocessing,
                sample_weight=None if self.weight is None else self.weight[rows],
            )
        encoder = self.of[k] = self._fitted[key]
        if encoder.identity and self._plain:
            return None
        self._inputs.setdefault(id(encoder), encoder)
        return id(encoder)

    def inputs(self, key) -> np.ndarray:
        """The network inputs of every row under the encoding `key`."""
        if key is None:
            return self.table.numeric
        return self._inputs[key].transform(self.table)


def _fit_group(
    estimators,
    encoders,
    X,
    y,
    classes,
    train_rows,
    valid_rows,
    sample_weight,
    checked,
    progress=None,
):
    """Train one group (equal `batch_key` and classes) as one run.

    `progress`, if not None, is the (label, bar) of the run's progress
    display (see `fit_batched`).
    """
    models = [clone(est) for est in estimators]
    first = models[0]
    if len(classes) < 2:
        try:
            check_n_classes(classes)
        except ValueError as exc:
            return [exc] * len(models)
    device = check_params(first)
    # Rows whose class is not in this group's classes belong to no model's
    # training rows; they are encoded as class 0 and never read.
    present = np.isin(y, classes)
    y_enc = np.zeros(len(y), dtype=np.int64)
    y_enc[present] = encode_labels(y[present], classes, name="y", what="classes")
    specs, data, failed = [], [], {}
    for k, (model, rows, valid) in enumerate(
        zip(models, train_rows, valid_rows, strict=True)
    ):
        model.classes_ = classes
        model.n_features_in_ = checked.n_features_in_
        if hasattr(checked, "feature_names_in_"):
            model.feature_names_in_ = checked.feature_names_in_
        model.device_ = device
        try:
            spec = fit_spec(model, device)
            data.append(run_data(model, spec, y, y_enc, rows, valid, sample_weight))
            specs.append(spec)
        except ValueError as exc:
            # What the serial fit of this model alone would raise.
            failed[k] = exc
    states = []
    if specs:
        bar = on_epoch = None
        if progress is not None:
            label, draw = progress
            bar, on_epoch = batched_run_progress(
                label, len(specs), specs[0].max_epochs, bar=draw
            )
        try:
            states = BatchedTrainer(
                X=as_tensor(X, device, first.dtype),
                y=torch.as_tensor(y_enc, dtype=torch.long, device=device),
                classes=classes,
                specs=specs,
                data=data,
                on_epoch=on_epoch,
            ).run()
        finally:
            if bar is not None:
                bar.close()
    states = iter(states)
    out = []
    for k, model in enumerate(models):
        result = failed[k] if k in failed else next(states)
        if not isinstance(result, Exception):
            # The same fitted state a model file restores.
            restore(
                model,
                dataclasses.replace(
                    result,
                    params=model.get_params(),
                    n_features_in=checked.n_features_in_,
                    feature_names_in=getattr(model, "feature_names_in_", None),
                    encoder=encoders[k],
                ),
            )
            result = model
        out.append(result)
    return out


def run_data(model, spec, y, y_enc, rows, valid, sample_weight) -> RunData:
    """Training and validation rows and row weights of one model of a run.

    `qwertyclf.training.fit_rows` with the model's class weights and its
    spec's held-out fraction and seed: what a serial fit of the model on
    rows `rows` (validated on rows `valid`, if given) would train on.

    Examples
    --------
    >>> import numpy as np
    >>> from qwertyclf import QwertyClassifier
    >>> y = np.array([0, 1] * 10)
    >>> model = QwertyClassifier(validation_fraction=0.2, random_state=0)
    >>> model.classes_ = np.array([0, 1])
    >>> data = run_data(model, fit_spec(model), y, y, np.arange(20), None, None)
    >>> len(data.train), len(data.valid)
    (16, 4)
    """
    return fit_rows(
        y,
        y_enc,
        len(model.classes_),
        class_weight=model.class_weight,
        sample_weight=sample_weight,
        rows=rows,
        valid=valid,
        fraction=spec.validation_fraction,
        seed=spec.seed,
    )
