"""`QwertyClassifier`'s hyperparameters, each declared once.

Every hyperparameter has one `Param` entry in `PARAMETERS`: its default, the
values it accepts (its constraints, in the vocabulary of scikit-learn's
`_parameter_constraints`, as plain data), the message that refuses any
other value, a one-line help text, and how a model file stores it. The
estimator builds its `_parameter_constraints` and its validation from these
entries, the model-file codec encodes and decodes each value by its `stored`
kind, a warm start compares the parameters marked `fixed_on_warm_start`, and
the command line takes its defaults, choices and help from here.

Only the standard library is imported, so that the command line's `--help`
reads this table without importing PyTorch, skorch or scikit-learn.

The constraint vocabulary, turned into scikit-learn's by the estimator:

- `Interval(type, left, right, closed)`: numbers in a range; `type` "int"
  (an integer, never a bool) or "real" (any real number); NaN never fits;
- `Options(values)`: one of the given strings;
- "boolean" (a bool), "array-like", "dict", "list", "tuple", "str", "int" (an
  integer, never a bool), "class" (any class), "random_state" (None, a seed
  or a `RandomState`), "device" (a device name or a `torch.device`), and
  None (the value None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The hidden activations; `qwertyclf._activations.ACTIVATIONS` implements
#: each (a test checks that both list the same names, in the same order).
ACTIVATION_NAMES = (
    "relu",
    "leaky_relu",
    "relu6",
    "tanh",
    "sigmoid",
    "elu",
    "gelu",
    "selu",
    "silu",
)
#: The optimizers known by name (the estimator maps each to its torch class).
OPTIMIZER_NAMES = ("adam", "adamw", "sgd", "rmsprop")
#: The numerical embeddings; `qwertyclf._embeddings.NUMERIC_EMBEDDINGS`
#: implements each (a test checks that both list the same names).
NUMERIC_EMBEDDING_NAMES = ("pbld", "plr")
#: The precisions a network computes in.
DTYPE_NAMES = ("float32", "float64")


@dataclass(frozen=True)
class Interval:
    """Numbers in a range, as scikit-learn's `Interval` constraint.

    Parameters
    ----------
    type : {"int", "real"}
        "int" takes integers but not bools; "real" takes any real number.
    left, right : float or None
        Bounds; None is unbounded.
    closed : {"left", "right", "both", "neither"}
        Which bounds belong to the range.

    Examples
    --------
    >>> Interval("int", 1, None, "left")
    Interval(type='int', left=1, right=None, closed='left')
    """

    type: str
    left: float | None
    right: float | None
    closed: str


@dataclass(frozen=True)
class Options:
    """One of a few strings, as scikit-learn's `StrOptions` constraint.

    Examples
    --------
    >>> "adam" in Options(("adam", "sgd")).values
    True
    """

    values: tuple[str, ...]


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its default, what it accepts, how it is stored.

    Parameters
    ----------
    default : object
        The value `QwertyClassifier()` has.
    constraints : tuple
        The values accepted, in the vocabulary of this module's docstring;
        a value fitting any one of them passes. Checks that need several
        parameters or a library (the device, the optimizer class, the
        weights of a class-weight dict) follow in the estimator.
    message : str
        What refuses a value that fits no constraint; `{value!r}` and
        `{choices}` (the `Options` values, sorted) are filled in.
    help : str
        One line for the command line's `--help` (the docstring's
        description, or its first sentence).
    stored : str, default="value"
        How a model file holds the value: "value" (a JSON number, text or
        null), "flag", "count", "sizes", "class_weight", "code" (never
        stored: null), "optimizer", "seed", "device" or "columns".
    fixed_on_warm_start : bool, default=False
        A warm start refuses to change it (it describes the fitted network).

    Examples
    --------
    >>> PARAMETERS["batch_size"].default
    16
    >>> PARAMETERS["batch_size"].refusal(0)
    'batch_size must be an int >= 1, got 0.'
    """

    default: Any
    constraints: tuple
    message: str
    help: str
    stored: str = "value"
    fixed_on_warm_start: bool = False

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The strings its `Options` constraint lists, in declared order."""
        for constraint in self.constraints:
            if isinstance(constraint, Options):
                return constraint.values
        return None

    def refusal(self, value: Any) -> str:
        """The message that refuses `value`."""
        return self.message.format(
            value=value, choices=", ".join(sorted(self.choices or ()))
        )


def _flag(default: bool, name: str, help: str, **kwargs: Any) -> Param:
    return Param(
        default,
        ("boolean",),
        f"{name} must be True or False, got {{value!r}}.",
        help,
        stored="flag",
        **kwargs,
    )


def _positive_int(default: int, name: str, help: str) -> Param:
    return Param(
        default,
        (Interval("int", 1, None, "left"),),
        f"{name} must be an int >= 1, got {{value!r}}.",
        help,
    )


def _non_negative_float(default: float, name: str, help: str) -> Param:
    return Param(
        default,
        (Interval("real", 0, None, "left"),),
        f"{name} must be a finite float >= 0, got {{value!r}}.",
        help,
    )


#: Every hyperparameter of `QwertyClassifier`, in the order of its `__init__`.
PARAMETERS: dict[str, Param] = {
    "hidden_layer_sizes": Param(
        (8,),
        ("int", "array-like"),
        "hidden_layer_sizes must be an int or a sequence of ints, got {value!r}.",
        "Width of each hidden layer; `()` gives multinomial logistic regression.",
        stored="sizes",
        fixed_on_warm_start=True,
    ),
    "activation": Param(
        "relu",
        (Options(ACTIVATION_NAMES),),
        "Unknown activation {value!r}; choose one of {choices}.",
        'Hidden activation: `"relu"`, `"leaky_relu"`, `"relu6"`, `"tanh"`, '
        '`"sigmoid"`, `"elu"`, `"gelu"`, `"selu"` or `"silu"`.',
        fixed_on_warm_start=True,
    ),
    "batch_norm": _flag(
        False,
        "batch_norm",
        "Add batch normalisation after each hidden linear layer.",
        fixed_on_warm_start=True,
    ),
    "dropout": Param(
        0.0,
        (Interval("real", 0, 1, "left"),),
        "dropout must be a float in [0, 1), got {value!r}.",
        "Dropout probability after each hidden activation.",
        fixed_on_warm_start=True,
    ),
    "optimizer": Param(
        "adam",
        (Options(OPTIMIZER_NAMES), "class"),
        "Unknown optimizer {value!r}; choose one of {choices} or pass a "
        "torch.optim.Optimizer subclass.",
        '`"adam"`, `"adamw"`, `"sgd"`, `"rmsprop"`, or a subclass of '
        "`torch.optim.Optimizer` taking `lr` and `weight_decay`.",
        stored="optimizer",
        fixed_on_warm_start=True,
    ),
    # Zero passes the constraint, to be refused with its own message (the
    # estimator's check): "lr must be > 0".
    "lr": _non_negative_float(0.01, "lr", "Learning rate."),
    "weight_decay": _non_negative_float(
        0.0, "weight_decay", "L2 penalty passed to the optimizer."
    ),
    "batch_size": _positive_int(
        16,
        "batch_size",
        "Rows per mini-batch; the last batch of an epoch may be smaller.",
    ),
    "max_epochs": _positive_int(
        100,
        "max_epochs",
        "Number of passes over the training data (fewer with early stopping).",
    ),
    "shuffle": _flag(True, "shuffle", "Draw a new row order for every epoch."),
    "validation_fraction": Param(
        None,
        (None, Interval("real", 0, 1, "neither")),
        "validation_fraction must be None or a float in (0, 1), got {value!r}.",
        "Fraction of the training data held out (stratified, seeded) to monitor "
        "`valid_loss` / `valid_acc`. With `early_stopping=True` and no "
        "validation data it defaults to 0.1.",
    ),
    "early_stopping": _flag(
        False,
        "early_stopping",
        "Stop when the validation loss has not improved by `tol` for "
        "`n_iter_no_change` epochs, and keep the weights of the best epoch.",
    ),
    "n_iter_no_change": _positive_int(
        10, "n_iter_no_change", "Patience of early stopping, in epochs."
    ),
    "tol": _non_negative_float(
        1e-4,
        "tol",
        "Smallest decrease of the validation loss that counts as improvement.",
    ),
    "class_weight": Param(
        None,
        (None, Options(("balanced",)), "dict"),
        "class_weight must be None, 'balanced' or a dict of class -> weight, "
        "got {value!r}.",
        "Weights of the classes in the loss, as in scikit-learn.",
        stored="class_weight",
    ),
    "callbacks": Param(
        None,
        (None, "list", "tuple"),
        "callbacks must be a list of skorch callbacks or (name, callback) pairs.",
        "Extra callbacks (instances or `(name, callback)` pairs); each fit uses "
        "fresh copies.",
        stored="code",
    ),
    "device": Param(
        "cpu",
        ("device",),
        "Unknown device {value!r}; use 'cpu', 'cuda', 'cuda:N' or 'auto'.",
        '`"cpu"`, `"cuda"`, `"cuda:N"` or `"auto"` (CUDA when available).',
        stored="device",
        fixed_on_warm_start=True,
    ),
    "dtype": Param(
        "float32",
        (Options(DTYPE_NAMES),),
        "dtype must be 'float32' or 'float64', got {value!r}.",
        "Floating-point precision of the network and the data it sees. float64 "
        "is slower, and exact enough that results do not depend on the order "
        "in which rows are summed.",
        fixed_on_warm_start=True,
    ),
    "random_state": Param(
        None,
        ("random_state",),
        "{value!r} cannot be used to seed a numpy.random.RandomState instance: "
        "random_state must be None, an int from 0 to 2**32 - 1 or a RandomState.",
        "Seeds weight initialisation, shuffling, dropout and the validation "
        "split. The global NumPy and PyTorch random states are left untouched.",
        stored="seed",
    ),
    "verbose": Param(
        0,
        (Interval("int", 0, None, "left"), "boolean"),
        "verbose must be an int >= 0, got {value!r}.",
        "0 is silent, 1 prints a table row per epoch, 2 adds a progress bar.",
        stored="count",
    ),
    "warm_start": _flag(
        False,
        "warm_start",
        "Continue from the fitted weights on the next call to `fit`, with the "
        "current `lr`, `weight_decay`, `batch_size`, `max_epochs`, `shuffle`, "
        "`callbacks`, early stopping and `verbose` (the optimizer keeps its "
        "state).",
    ),
    "categorical_features": Param(
        "from_dtype",
        (None, Options(("from_dtype",)), "array-like"),
        "categorical_features must be 'from_dtype', None, or a list of column "
        "names or indices or a boolean mask, got {value!r}.",
        "Which columns of `X` are categorical, as in scikit-learn's "
        "`HistGradientBoostingClassifier`.",
        stored="columns",
    ),
    "min_frequency": Param(
        None,
        (None, Interval("int", 1, None, "left"), Interval("real", 0, 1, "neither")),
        "min_frequency must be None, an int >= 1 or a float in (0, 1), got {value!r}.",
        "Categories that occur fewer times in fit (an int), or in a smaller "
        "fraction of the rows (a float in (0, 1)), share one input, which "
        "categories unseen in fit also use.",
    ),
    "preprocessing": Param(
        None,
        (None, Options(("robust",))),
        "preprocessing must be 'robust' or None, got {value!r}.",
        'None feeds numeric columns as they are; "robust" centres each on its '
        "median, divides it by its robust deviation and bounds it smoothly to "
        "about +-3 (see `QwertyClassifierCV`); a sparse `X` is not centred, "
        'since that would fill in its zeros (see the guide "Your own table").',
    ),
    "batch_ensemble": Param(
        1,
        (Interval("int", 1, None, "left"),),
        "batch_ensemble must be an int >= 1, got {value!r}.",
        "Number of BatchEnsemble members (as in TabM) in the one network: they "
        "share every hidden weight matrix, each with its own scalings, biases "
        "and output layer; training averages their losses, prediction their "
        "probabilities. 1 is the plain network.",
        stored="count",
        fixed_on_warm_start=True,
    ),
    "numeric_embedding": Param(
        None,
        (None, Options(NUMERIC_EMBEDDING_NAMES)),
        "numeric_embedding must be None or one of {choices}, got {value!r}.",
        "None feeds the input columns to the first hidden layer as they are; "
        '"pbld" (RealMLP\'s periodic-bias-linear-DenseNet embedding) or "plr" '
        "(periodic, linear, ReLU) first turns every input column on its own "
        "into a few learned periodic features.",
        fixed_on_warm_start=True,
    ),
}


def defaults() -> dict[str, Any]:
    """Every hyperparameter's default, by name.

    Examples
    --------
    >>> defaults()["lr"], defaults()["hidden_layer_sizes"]
    (0.01, (8,))
    """
    return {name: param.default for name, param in PARAMETERS.items()}
