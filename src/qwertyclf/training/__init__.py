"""The training engine: what turns a `FitSpec` into a trained network.

Estimators (`qwertyclf.QwertyClassifier` and the classifiers and searches
built on it) validate their parameters and describe each run as a
`FitSpec`; the engine trains it and returns a `ModelState`. Two engines take
the same spec:

* `train_serial`: one network, in skorch's fit loop (`QwertySkorchNet`) with
  the fast epoch for in-memory tensors, hand-written gradients and the lean
  optimizer step where `fast_path` detection allows them;
* `BatchedTrainer`: K networks as one batched run, each ending where its
  serial run would.

Both follow one set of rules, each written once: which rows train and
validate and their weights (`fit_rows`), the optimizer table
(`OPTIMIZER_RULES`), early stopping (`StoppingRule`, applied in skorch's loop
by `RuleEarlyStopping`) and the history row (`EpochRecord` and the functions
of the epoch record).

Prediction is the engine's too: `predict_proba` and `predict_index` run a
fitted network over many rows in chunks, with the thread control and dtype
handling in one place.

The engine imports nothing from the estimator modules.
"""

from ._batched import BatchedTrainer, batchable, shared_settings
from ._data import (
    RunData,
    Weighting,
    as_dataset,
    as_tensor,
    check_n_classes,
    fit_rows,
    weighting,
)
from ._fast_path import fast_path
from ._inference import largest_value, predict_index, predict_proba
from ._net import (
    DivergenceGuard,
    QwertySkorchNet,
    SparseRows,
    TensorBatches,
    TensorDataset,
)
from ._optimizers import OPTIMIZER_RULES, OPTIMIZERS, OptimizerRule, optimizer_rule
from ._record import EpochRecord
from ._runtime import (
    INFERENCE_CHUNK,
    PREDICT_CHUNK,
    diverged,
    one_thread,
    seeded,
    training_threads,
)
from ._serial import build_net, continue_net, train_serial
from ._spec import (
    DEFAULT_VALIDATION_FRACTION,
    FitSpec,
    best_epoch,
    can_hold_out,
    check_converged,
    normalised,
    split_validation,
    validation_fraction,
)
from ._state import ModelState
from ._stopping import RuleEarlyStopping, StoppingRule

__all__ = [
    "DEFAULT_VALIDATION_FRACTION",
    "INFERENCE_CHUNK",
    "PREDICT_CHUNK",
    "OPTIMIZERS",
    "OPTIMIZER_RULES",
    "BatchedTrainer",
    "DivergenceGuard",
    "EpochRecord",
    "FitSpec",
    "ModelState",
    "OptimizerRule",
    "QwertySkorchNet",
    "RuleEarlyStopping",
    "RunData",
    "SparseRows",
    "StoppingRule",
    "TensorBatches",
    "TensorDataset",
    "Weighting",
    "as_dataset",
    "as_tensor",
    "batchable",
    "can_hold_out",
    "check_n_classes",
    "best_epoch",
    "build_net",
    "check_converged",
    "continue_net",
    "diverged",
    "fast_path",
    "fit_rows",
    "largest_value",
    "normalised",
    "one_thread",
    "optimizer_rule",
    "predict_index",
    "predict_proba",
    "seeded",
    "shared_settings",
    "split_validation",
    "train_serial",
    "training_threads",
    "validation_fraction",
    "weighting",
]


def __dir__() -> list[str]:
    """The public names, not the private modules and helpers behind them."""
    return sorted(__all__)
