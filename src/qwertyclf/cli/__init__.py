"""The `qwertyclf` command: a demo of the library, and models for CSV files.

Four subcommands, each with its own `--help`:

- `qwertyclf demo` trains `QwertyClassifier` on the built-in qwerty data, prints
  its test accuracy per class next to the Bayes-optimal accuracy, and writes the
  diagnostic figures (PNG) and `metrics.json` into a folder.
- `qwertyclf fit DATA.csv --target COLUMN` trains on your own table and saves the
  model as a `.safetensors` file, which runs no code when loaded.
- `qwertyclf predict MODEL DATA.csv` writes the predictions (and with `--proba`
  the class probabilities) as CSV.
- `qwertyclf export MODEL OUT.onnx` converts a saved model to ONNX (needs the
  `onnx` extra).

The model options of `demo` and `fit` are generated from the declarations of
`QwertyClassifier`'s hyperparameters (`qwertyclf._params`). Reading the command
line imports neither PyTorch nor scikit-learn, so `--help` and mistakes in the
arguments answer at once.

Mistakes in the command line or its inputs (an unknown flag, a missing file, a
column that is not numeric, a file that is not a model) end with one line on
stderr, `qwertyclf: error: ...`, and exit code 2; a failure while running
(training that diverged, a file that cannot be written) is one such line and
exit code 1. Run it as `qwertyclf ...` or `python -m qwertyclf ...`; from
Python, `main([...])` returns the exit code.

Examples
--------
>>> from qwertyclf.cli import build_parser
>>> args = build_parser().parse_args(["demo", "--hidden", "16", "8", "--epochs", "5"])
>>> args.command, args.hidden_layer_sizes, args.max_epochs, args.lr
('demo', [16, 8], 5, 0.01)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .._interrupts import interrupts_propagate
from . import _demo, _tabular
from ._args import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    PROG,
    ArgumentParser,
    CommandLineError,
    VersionAction,
    describe_exception,
)

__all__ = ["CommandLineError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The `qwertyclf` argument parser, with its commands.

    Each command stores the function that runs it as `args.run`.

    Returns
    -------
    argparse.ArgumentParser
        A parser whose `error` raises `CommandLineError` rather than exiting.

    Examples
    --------
    >>> args = build_parser().parse_args(["predict", "model.safetensors", "x.csv"])
    >>> args.run.__name__, args.out, args.proba
    ('run_predict', None, False)
    """
    parser = ArgumentParser(
        prog=PROG,
        description=(
            "Neural-network classification of tabular data with qwertyclf: run "
            "the demo, fit and predict on your own CSV files, or export a model "
            "to ONNX."
        ),
        epilog="Run 'qwertyclf COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action=VersionAction)
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    _demo.add_command(commands)
    _tabular.add_fit_command(commands)
    _tabular.add_predict_command(commands)
    _tabular.add_export_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `qwertyclf` command line.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments after the program name; `sys.argv[1:]` when None.

    Returns
    -------
    int
        The exit code: 0 on success; 2 for a usage or input error and 1 for a
        failure while running, each reported as one `qwertyclf: error: ...`
        line on stderr; 130 when interrupted.

    Examples
    --------
    >>> main(["--version"])
    qwertyclf ...
    0
    """
    try:
        args = _parse_arguments(argv)
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else 0
    except CommandLineError as exc:
        return _report_error(str(exc), exc.exit_code)
    try:
        # Ctrl-C ends the command: no fit is cut short and then saved.
        with interrupts_propagate():
            return args.run(args)
    except CommandLineError as exc:
        return _report_error(str(exc), exc.exit_code)
    except BrokenPipeError:
        # Whoever read stdout went away (`qwertyclf predict ... | head`); not an
        # error of ours. Point stdout at /dev/null so the exit flush stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        # Reading or writing a file failed while the command ran.
        return _report_error(describe_exception(exc), EXIT_FAILURE)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; point unknown flags at the command's own help.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments after the program name; `sys.argv[1:]` when None.

    Returns
    -------
    argparse.Namespace
        The arguments, with `run`, the function of the chosen command.

    Raises
    ------
    CommandLineError
        For an unknown command or flag, or a bad or missing value.

    Examples
    --------
    >>> try:
    ...     _parse_arguments(["fit", "d.csv", "--target", "y", "--colour", "red"])
    ... except CommandLineError as exc:
    ...     print(exc)
    unrecognized arguments: --colour red (see 'qwertyclf fit --help')
    """
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        # argparse would report these from the top-level parser, whose help
        # does not list the command's options.
        raise CommandLineError(
            f"unrecognized arguments: {' '.join(unknown)} "
            f"(see '{PROG} {args.command} --help')"
        )
    return args


def _report_error(message: str, code: int) -> int:
    """Print `qwertyclf: error: message` on stderr; return the exit code."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def __dir__() -> list[str]:
    """The public names, not the private modules and helpers behind them."""
    return sorted(__all__)
