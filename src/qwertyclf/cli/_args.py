"""What every command shares: errors, exit codes, argument types, file checks.

Only the standard library is imported here, and nothing from the rest of the
package, so the parser and every command module can build on it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

#: When the command started, as near as this package can tell (its first import).
STARTED = time.perf_counter()

PROG = "qwertyclf"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandLineError(Exception):
    """A mistake in the command line or its inputs; `main` reports it in one line.

    `main` prints it as `qwertyclf: error: ...` on stderr and returns exit
    code 2.

    Examples
    --------
    >>> from qwertyclf.cli import build_parser
    >>> build_parser().parse_args(["demo", "--epochs", "0"])
    Traceback (most recent call last):
    ...
    qwertyclf.cli._args.CommandLineError: argument --epochs: expected an integer >= 1...
    """

    exit_code = EXIT_USAGE


class CommandFailed(CommandLineError):
    """A command whose inputs were fine failed while running (exit code 1).

    Training that diverged, or a file that could not be written, for example.

    Examples
    --------
    >>> CommandFailed("disk full").exit_code
    1
    """

    exit_code = EXIT_FAILURE


class VersionAction(argparse.Action):
    """`--version`: print the package version, looked up only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        kwargs.setdefault("help", "show the version and exit")
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs
        )

    def __call__(self, parser, namespace, values, option_string=None):
        from qwertyclf import __version__

        print(f"{PROG} {__version__}")
        parser.exit()


class ArgumentParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line and do not exit."""

    def error(self, message: str) -> NoReturn:
        """Raise `CommandLineError` instead of printing the usage and exiting."""
        raise CommandLineError(f"{message} (see '{self.prog} --help')")


def seconds_since_start() -> float:
    """Seconds since the command started (since this module was imported).

    Examples
    --------
    >>> seconds_since_start() > 0
    True
    """
    return time.perf_counter() - STARTED


def number_type(convert, accept, expected: str):
    """An argparse `type` that parses with `convert` and checks with `accept`.

    Examples
    --------
    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an integer >= 1, got 0
    """
    noun = "an integer" if convert is int else "a number"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return parse


positive_int = number_type(int, lambda v: v >= 1, "an integer >= 1")
at_least_two = number_type(int, lambda v: v >= 2, "an integer >= 2")
non_negative_int = number_type(int, lambda v: v >= 0, "an integer >= 0")
positive_float = number_type(float, lambda v: 0 < v < float("inf"), "a number > 0")
non_negative_float = number_type(
    float, lambda v: 0 <= v < float("inf"), "a number >= 0"
)
open_fraction = number_type(float, lambda v: 0 < v < 1, "a number in (0, 1)")
probability = number_type(float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def describe_exception(exc: BaseException) -> str:
    r"""A one-line description of an exception, for `qwertyclf: error: ...`.

    Examples
    --------
    >>> describe_exception(FileNotFoundError(2, "No such file or directory", "x.csv"))
    'x.csv: No such file or directory'
    >>> describe_exception(ValueError("bad\n  value"))
    'bad value'
    """
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def check_readable(path: Path, what: str) -> None:
    """Raise `CommandLineError` unless `path` is an existing, readable file.

    Examples
    --------
    >>> check_readable(Path("no-such.csv"), "a CSV file")
    Traceback (most recent call last):
    ...
    qwertyclf.cli._args.CommandLineError: no-such.csv: no such file.
    """
    if path.is_dir():
        raise CommandLineError(f"{path} is a folder, not {what}.")
    if not path.exists():
        raise CommandLineError(f"{path}: no such file.")
    if not os.access(path, os.R_OK):
        raise CommandLineError(f"{path}: permission denied.")


def check_writable(path: Path) -> None:
    """Raise `CommandLineError` if `path` cannot be written (before a long run).

    Examples
    --------
    >>> check_writable(Path("no-such-folder") / "model.safetensors")
    Traceback (most recent call last):
    ...
    qwertyclf.cli._args.CommandLineError: cannot write ...: folder no-such-folder ...
    """
    folder = path.parent
    if path.is_dir():
        raise CommandLineError(f"{path} is a folder; give a file name.")
    if not folder.is_dir():
        raise CommandLineError(f"cannot write {path}: folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise CommandLineError(f"cannot write {path}: folder {folder} is read-only.")


@contextlib.contextmanager
def failures_while_running() -> Iterator[None]:
    """Turn the library's `ValueError` (training diverged, ...) into `CommandFailed`.

    Wraps the work of a command (fit, predict, export) whose inputs were
    checked: what goes wrong there is a failure while running, exit code 1.
    Other exceptions pass through, so a bug still shows its traceback.

    Examples
    --------
    >>> with failures_while_running():
    ...     raise ValueError("Training diverged: the loss is nan.")
    Traceback (most recent call last):
    ...
    qwertyclf.cli._args.CommandFailed: Training diverged: the loss is nan.
    """
    try:
        yield
    except ValueError as exc:
        raise CommandFailed(describe_exception(exc)) from None
