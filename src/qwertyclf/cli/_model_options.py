"""Command-line options for `QwertyClassifier`'s hyperparameters.

The options are not written out by hand: each one's default, help text and, where
the docstring lists them, its choices come from `QwertyClassifier.__init__` and the
class docstring. They are read from the source with `ast`, so that `--help` and
argument errors do not import PyTorch, skorch or scikit-learn.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ._args import (
    non_negative_float,
    non_negative_int,
    open_fraction,
    positive_float,
    positive_int,
    probability,
)

_ESTIMATOR_MODULE = "qwertyclf._classifier"
_ESTIMATOR = "QwertyClassifier"
_FROM_ESTIMATOR = object()


@dataclass(frozen=True)
class ModelOption:
    """How one estimator parameter appears on the command line.

    `type` None with a boolean default makes an on/off flag; `choices=True` takes
    the allowed values from the quoted names in the parameter's docstring.
    """

    param: str
    flag: str
    type: Callable[[str], Any] | None = None
    nargs: str | None = None
    metavar: str | None = None
    choices: bool = False
    default: Any = _FROM_ESTIMATOR
    note: str = ""
    #: Help lists the choices only, where the docstring also describes values
    #: a command line cannot give (a class, say).
    only_choices: bool = False


#: The hyperparameters `demo` and `fit` both take, in `--help` order.
MODEL_OPTIONS: tuple[ModelOption, ...] = (
    ModelOption("hidden_layer_sizes", "--hidden", positive_int, "+", "N"),
    ModelOption("activation", "--activation", metavar="NAME", choices=True),
    ModelOption("batch_norm", "--batch-norm"),
    ModelOption("dropout", "--dropout", probability, metavar="P"),
    ModelOption(
        "optimizer", "--optimizer", metavar="NAME", choices=True, only_choices=True
    ),
    ModelOption("lr", "--lr", positive_float, metavar="LR"),
    ModelOption("weight_decay", "--weight-decay", non_negative_float, metavar="W"),
    ModelOption("batch_size", "--batch-size", positive_int, metavar="N"),
    ModelOption("max_epochs", "--epochs", positive_int, metavar="N"),
    # A command line is reproducible unless asked otherwise.
    ModelOption("random_state", "--seed", non_negative_int, metavar="N", default=42),
    ModelOption("device", "--device", metavar="NAME"),
    ModelOption("dtype", "--dtype", metavar="NAME", choices=True),
)

#: Training on a table of one's own can also hold out data and stop early.
FIT_OPTIONS: tuple[ModelOption, ...] = (
    ModelOption(
        "validation_fraction", "--validation-fraction", open_fraction, None, "F"
    ),
    ModelOption("early_stopping", "--early-stopping"),
    ModelOption("n_iter_no_change", "--n-iter-no-change", positive_int, metavar="N"),
)


@dataclass(frozen=True)
class _Parameter:
    default: Any
    type_line: str
    description: str


@lru_cache(maxsize=1)
def estimator_parameters() -> dict[str, _Parameter]:
    """Each `QwertyClassifier` parameter's default, type line and description.

    Read from the source of the estimator's module, which is not imported.

    Returns
    -------
    dict
        Parameter name to its default value, docstring type line and
        description (one line).

    Examples
    --------
    >>> estimator_parameters()["lr"].default
    0.01
    >>> estimator_parameters()["lr"].description
    'Learning rate.'
    """
    spec = importlib.util.find_spec(_ESTIMATOR_MODULE)
    if spec is None or spec.origin is None:  # pragma: no cover - broken install
        raise ImportError(f"cannot find {_ESTIMATOR_MODULE}")
    with open(spec.origin, encoding="utf-8") as file:
        tree = ast.parse(file.read(), filename=spec.origin)
    cls = next(
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node.name == _ESTIMATOR
    )
    init = next(
        node
        for node in cls.body
        if isinstance(node, ast.FunctionDef) and node.name == "__init__"
    )
    arguments = init.args
    positional = arguments.posonlyargs + arguments.args
    defaults: dict[str, Any] = {}
    for arg, node in zip(
        positional[len(positional) - len(arguments.defaults) :],
        arguments.defaults,
        strict=True,
    ):
        defaults[arg.arg] = ast.literal_eval(node)
    for arg, node in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        if node is not None:
            defaults[arg.arg] = ast.literal_eval(node)
    documented = _docstring_parameters(ast.get_docstring(cls) or "")
    return {
        name: _Parameter(default, *documented.get(name, ("", "")))
        for name, default in defaults.items()
    }


def _docstring_parameters(docstring: str) -> dict[str, tuple[str, str]]:
    r"""`{name: (type line, description)}` from a numpy-style Parameters section.

    Examples
    --------
    >>> doc = "Parameters\n----------\nlr : float, default=0.1\n    Step size.\n"
    >>> _docstring_parameters(doc)
    {'lr': ('float, default=0.1', 'Step size.')}
    """
    lines = docstring.splitlines()
    try:
        start = lines.index("Parameters") + 2
    except ValueError:
        return {}
    result: dict[str, tuple[str, str]] = {}
    name = None
    for line in lines[start:]:
        if line and not line.startswith(" "):
            if " : " not in line:  # the next section's title
                break
            name, type_line = line.split(" : ", 1)
            result[name] = (type_line.strip(), "")
        elif name is not None and line.strip():
            type_line, description = result[name]
            result[name] = (type_line, f"{description} {line.strip()}".strip())
    return result


def _choices(parameter: _Parameter) -> list[str] | None:
    """The quoted names in a parameter's docstring, the values it accepts.

    Examples
    --------
    >>> _choices(_Parameter("float32", '{"float32", "float64"}', "Precision."))
    ['float32', 'float64']
    """
    names = re.findall(r'"([\w.]+)"', f"{parameter.type_line} {parameter.description}")
    return list(dict.fromkeys(names)) or None


def _help_text(description: str, default: Any, note: str) -> str:
    """Docstring prose made fit for `--help`: flags, no backticks, `%` escaped.

    Examples
    --------
    >>> _help_text("Only with `early_stopping=True`.", 3, "")
    'Only with --early-stopping. (default: 3)'
    """
    text = description
    for option in MODEL_OPTIONS + FIT_OPTIONS:
        text = text.replace(f"`{option.param}=True`", option.flag)
        text = text.replace(f"`{option.param}`", option.flag)
    text = text.replace("`", "")
    if note:
        text = f"{text} {note}"
    if default is not None and default is not False:
        if isinstance(default, (tuple, list)):
            shown = " ".join(map(str, default)) or "none"
        else:
            shown = str(default)
        text = f"{text} (default: {shown})"
    return text.replace("%", "%%")


def add_model_options(
    parser: argparse.ArgumentParser,
    options: tuple[ModelOption, ...] = MODEL_OPTIONS,
    *,
    title: str = "model",
    notes: dict[str, str] | None = None,
) -> None:
    """Add one option per estimator parameter in `options` to `parser`.

    Each option stores its value under the parameter's own name, so
    `model_params(args)` can pass them on to `QwertyClassifier`.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.
    options : tuple of ModelOption, default=MODEL_OPTIONS
        Which parameters, and how they are parsed.
    title : str, default="model"
        Title of the group in `--help`.
    notes : dict of str to str, default=None
        Extra help for some parameters of this command, by parameter name.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_model_options(parser)
    >>> args = parser.parse_args(["--hidden", "16", "8", "--epochs", "5"])
    >>> args.hidden_layer_sizes, args.max_epochs, args.activation
    ([16, 8], 5, 'relu')
    """
    parameters = estimator_parameters()
    group = parser.add_argument_group(title)
    for option in options:
        parameter = parameters[option.param]
        default = (
            parameter.default if option.default is _FROM_ESTIMATOR else option.default
        )
        if isinstance(default, tuple):
            default = list(default)
        note = (notes or {}).get(option.param, option.note)
        choices = _choices(parameter) if option.choices else None
        description = parameter.description
        if option.only_choices and choices:
            description = f"{option.param.replace('_', ' ').capitalize()}: " + (
                f"{', '.join(choices[:-1])} or {choices[-1]}."
            )
        help_text = _help_text(description, default, note)
        if option.type is None and isinstance(default, bool):
            group.add_argument(
                option.flag, dest=option.param, action="store_true", help=help_text
            )
            continue
        group.add_argument(
            option.flag,
            dest=option.param,
            type=option.type,
            nargs=option.nargs,
            metavar=option.metavar,
            default=default,
            choices=choices,
            help=help_text,
        )


def model_params(
    args: argparse.Namespace, options: tuple[ModelOption, ...] = MODEL_OPTIONS
) -> dict[str, Any]:
    """The `QwertyClassifier` parameters given on the command line.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_model_options(parser)
    >>> params = model_params(parser.parse_args(["--hidden", "4", "4"]))
    >>> params["hidden_layer_sizes"], params["random_state"]
    ((4, 4), 42)
    """
    params = {option.param: getattr(args, option.param) for option in options}
    if "hidden_layer_sizes" in params:
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    return params


def make_classifier(
    args: argparse.Namespace,
    options: tuple[ModelOption, ...] = MODEL_OPTIONS,
    **params: Any,
) -> Any:
    """A `QwertyClassifier` with the hyperparameters given on the command line.

    Its settings are checked here, before any data is read or any training
    starts, so that a bad value (`--device tpu`) is a usage error.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments with the values of `options`, and `quiet`.
    options : tuple of ModelOption, default=MODEL_OPTIONS
        Which parameters to take from `args`.
    **params
        Further `QwertyClassifier` parameters.

    Returns
    -------
    QwertyClassifier
        Unfitted; with a progress display on stderr unless `--quiet`.

    Raises
    ------
    CommandLineError
        If the estimator rejects a setting.
    """
    from qwertyclf._classifier import QwertyClassifier

    from ._args import CommandLineError, describe_exception
    from ._progress import epoch_progress

    callbacks = None if args.quiet else [("progress", epoch_progress())]
    clf = QwertyClassifier(**model_params(args, options), callbacks=callbacks, **params)
    try:
        # The estimator's own validation, which fit would otherwise run first.
        clf._check_params()
    except (ValueError, TypeError) as exc:
        raise CommandLineError(describe_exception(exc)) from None
    return clf
