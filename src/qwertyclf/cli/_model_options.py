"""Command-line options for `QwertyClassifier`'s hyperparameters.

Each option's default, help text and choices are not written out here: they
come from the hyperparameters' declarations in `qwertyclf._params`, which
imports only the standard library, so that `--help` and argument errors do
not import PyTorch, skorch or scikit-learn.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._params import PARAMETERS
from ._args import (
    CommandLineError,
    at_least_two,
    describe_exception,
    non_negative_float,
    non_negative_int,
    open_fraction,
    positive_float,
    positive_int,
    probability,
)

_FROM_ESTIMATOR = object()


@dataclass(frozen=True)
class ModelOption:
    """How one estimator parameter appears on the command line.

    `type` None with a boolean default makes an on/off flag; `choices=True` takes
    the allowed values from the parameter's declared options.
    """

    param: str
    flag: str
    type: Callable[[str], Any] | None = None
    nargs: str | None = None
    metavar: str | None = None
    choices: bool = False
    default: Any = _FROM_ESTIMATOR
    note: str = ""
    #: Help lists the choices only, where the declared help also describes
    #: values a command line cannot give (a class, say).
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
    unset: bool = False,
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
    unset : bool, default=False
        Leave the options that are not given None (their help still shows
        the `QwertyClassifier` default), so that a command can tell what was
        given; `model_params` fills in the defaults.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_model_options(parser)
    >>> args = parser.parse_args(["--hidden", "16", "8", "--epochs", "5"])
    >>> args.hidden_layer_sizes, args.max_epochs, args.activation
    ([16, 8], 5, 'relu')
    """
    group = parser.add_argument_group(title)
    for option in options:
        parameter = PARAMETERS[option.param]
        default = (
            parameter.default if option.default is _FROM_ESTIMATOR else option.default
        )
        if isinstance(default, tuple):
            default = list(default)
        note = (notes or {}).get(option.param, option.note)
        choices = (
            list(parameter.choices) if option.choices and parameter.choices else None
        )
        description = parameter.help
        if option.only_choices and choices:
            description = f"{option.param.replace('_', ' ').capitalize()}: " + (
                f"{', '.join(choices[:-1])} or {choices[-1]}."
            )
        help_text = _help_text(description, default, note)
        if option.type is None and isinstance(default, bool):
            group.add_argument(
                option.flag,
                dest=option.param,
                action="store_true",
                default=None if unset else False,
                help=help_text,
            )
            continue
        group.add_argument(
            option.flag,
            dest=option.param,
            type=option.type,
            nargs=option.nargs,
            metavar=option.metavar,
            default=None if unset else default,
            choices=choices,
            help=help_text,
        )


def model_params(
    args: argparse.Namespace, options: tuple[ModelOption, ...] = MODEL_OPTIONS
) -> dict[str, Any]:
    """The `QwertyClassifier` parameters given on the command line.

    Options left unset (None, see `add_model_options(unset=True)`) take the
    default their help shows.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_model_options(parser)
    >>> params = model_params(parser.parse_args(["--hidden", "4", "4"]))
    >>> params["hidden_layer_sizes"], params["random_state"]
    ((4, 4), 42)
    """
    params = {}
    for option in options:
        value = getattr(args, option.param)
        if value is None:
            value = (
                PARAMETERS[option.param].default
                if option.default is _FROM_ESTIMATOR
                else option.default
            )
        params[option.param] = value
    if "hidden_layer_sizes" in params:
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    return params


def given_params(
    args: argparse.Namespace, options: tuple[ModelOption, ...]
) -> dict[str, Any]:
    """The parameters of `options` given on the command line (not None).

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_model_options(parser, unset=True)
    >>> given_params(parser.parse_args(["--lr", "0.1", "--batch-norm"]), MODEL_OPTIONS)
    {'batch_norm': True, 'lr': 0.1}
    """
    params = {}
    for option in options:
        value = getattr(args, option.param, None)
        if value is not None:
            params[option.param] = (
                tuple(value) if option.param == "hidden_layer_sizes" else value
            )
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

    from ._progress import epoch_progress

    callbacks = None if args.quiet else [("progress", epoch_progress())]
    clf = QwertyClassifier(**model_params(args, options), callbacks=callbacks, **params)
    # The estimator's own validation, which fit would otherwise run first.
    _check_network(clf)
    return clf


#: `fit --classifier`: its choices and the class each trains.
CLASSIFIERS = {
    "net": "QwertyClassifier",
    "cv": "QwertyClassifierCV",
    "ensemble": "QwertyEnsembleClassifier",
}


@dataclass(frozen=True)
class KindOption:
    """An option of one `--classifier` only: a parameter of its own class.

    Written out here (the classes' docstrings are not parsed); a test checks
    that the defaults the help shows are the classes' own.
    """

    param: str
    flag: str
    type: Callable[[str], Any]
    metavar: str
    kind: str
    help: str


KIND_OPTIONS: tuple[KindOption, ...] = (
    KindOption(
        "n_candidates",
        "--n-candidates",
        positive_int,
        "N",
        "cv",
        "Configurations QwertyClassifierCV tries, its budget (default: 6).",
    ),
    KindOption(
        "cv",
        "--cv",
        at_least_two,
        "K",
        "cv",
        "Cross-validation folds of QwertyClassifierCV (default: 5).",
    ),
    KindOption(
        "n_estimators",
        "--n-estimators",
        positive_int,
        "N",
        "ensemble",
        "Networks QwertyEnsembleClassifier averages (default: 10).",
    ),
)

#: How the network's options become QwertyClassifierCV parameters: the
#: parameter, and what the value becomes (one candidate, for a search space).
_CV_PARAMS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "hidden_layer_sizes": ("hidden_layer_sizes", lambda v: [tuple(v)]),
    "lr": ("lrs", lambda v: [v]),
    "weight_decay": ("weight_decays", lambda v: [v]),
    **{
        name: (name, lambda v: v)
        for name in (
            "activation",
            "batch_size",
            "max_epochs",
            "n_iter_no_change",
            "random_state",
            "device",
            "dtype",
        )
    },
}

#: The network's options QwertyClassifierCV has no use for, and why.
_CV_REFUSED = {
    "batch_norm": "QwertyClassifierCV's networks have no batch normalisation",
    "dropout": "QwertyClassifierCV's networks have no dropout",
    "optimizer": "QwertyClassifierCV always trains with AdamW",
    "early_stopping": (
        "QwertyClassifierCV always stops early, on each fold's held-out rows"
    ),
}


def add_classifier_options(parser: argparse.ArgumentParser) -> None:
    """Add `--classifier` and the options of one classifier only to `parser`."""
    group = parser.add_argument_group("classifier")
    group.add_argument(
        "--classifier",
        choices=list(CLASSIFIERS),
        default="net",
        help=(
            "What to train: net, one QwertyClassifier with the model options "
            "below; cv, QwertyClassifierCV, which tunes itself by "
            "cross-validation; ensemble, QwertyEnsembleClassifier, the average "
            "of several early-stopped networks. cv and ensemble scale numeric "
            "columns themselves and are the more accurate. (default: net)"
        ),
    )
    for option in KIND_OPTIONS:
        group.add_argument(
            option.flag,
            dest=option.param,
            type=option.type,
            metavar=option.metavar,
            default=None,
            help=f"With --classifier {option.kind}: {option.help}".replace("%", "%%"),
        )


def _flag(param: str) -> str:
    return next(o.flag for o in MODEL_OPTIONS + FIT_OPTIONS if o.param == param)


def make_estimator(args: argparse.Namespace, **params: Any) -> Any:
    """The classifier `fit --classifier` asks for, with the options given.

    For `net`, a `QwertyClassifier` as `make_classifier` builds it. For
    `ensemble`, the network options set the members (over the defaults of
    `QwertyEnsembleClassifier`'s own member, which apply to what is not
    given) and `--seed` the ensemble. For `cv`, `--hidden`, `--lr` and
    `--weight-decay` fix that part of the search to the value given, and
    the options it has no use for are refused. `--validation-fraction` is
    the command's own hold-out, not a parameter of the classifier.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed `fit` arguments (model options unset when not given).
    **params
        Further parameters of the classifier (`categorical_features`).

    Returns
    -------
    estimator
        Unfitted.

    Raises
    ------
    CommandLineError
        For an option the classifier does not take, or a setting it rejects.
    """
    kind = args.classifier
    for option in KIND_OPTIONS:
        if getattr(args, option.param) is not None and option.kind != kind:
            raise CommandLineError(
                f"{option.flag} applies to --classifier {option.kind} only "
                f"(this is --classifier {kind})."
            )
    # --validation-fraction is the command's own hold-out (see run_fit).
    options = tuple(
        o for o in MODEL_OPTIONS + FIT_OPTIONS if o.param != "validation_fraction"
    )
    if kind == "net":
        return make_classifier(args, options, **params)
    from qwertyclf._classifier import QwertyClassifier

    given = given_params(args, options)
    own = {
        o.param: getattr(args, o.param)
        for o in KIND_OPTIONS
        if o.kind == kind and getattr(args, o.param) is not None
    }
    seed = given.pop("random_state", model_params(args, options)["random_state"])
    if kind == "cv":
        refused = [p for p in given if p in _CV_REFUSED]
        if refused:
            raise CommandLineError(
                f"{', '.join(map(_flag, refused))} cannot be used with "
                f"--classifier cv: {'; '.join(_CV_REFUSED[p] for p in refused)}. "
                "Leave it out, or use --classifier net or ensemble."
            )
        _check_network(QwertyClassifier(**given))
        from qwertyclf._cv import QwertyClassifierCV

        mapped = {_CV_PARAMS[p][0]: _CV_PARAMS[p][1](v) for p, v in given.items()}
        return QwertyClassifierCV(**mapped, **own, random_state=seed, **params)
    from sklearn.base import clone

    from qwertyclf._ensemble import DEFAULT_MEMBER, QwertyEnsembleClassifier

    member = None
    if given:
        # Only what is given changes the ensemble's own member; with nothing
        # given, the ensemble keeps its rule for tables too small to hold out.
        member = clone(DEFAULT_MEMBER).set_params(**given)
        _check_network(member)
    return QwertyEnsembleClassifier(member, **own, random_state=seed, **params)


def _check_network(clf: Any) -> None:
    """Run a network's own checks of its settings; a usage error if they fail."""
    from qwertyclf._hyperparameters import check_params

    try:
        check_params(clf)
    except (ValueError, TypeError) as exc:
        raise CommandLineError(describe_exception(exc)) from None
