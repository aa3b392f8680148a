"""Pytest plugin that runs skorch's own tests against QwertyClassifier's net.

Loaded with ``-p qwertyclf_swap`` (this directory on ``PYTHONPATH``). It
always records every test's outcome (``--outcomes PATH``, JSON). With
``--swap-net`` it also replaces ``skorch.NeuralNetClassifier`` by the class of
``QwertyClassifier(max_epochs=1).fit(X, y).net_`` before any test module is
imported. ``--swap-net=renamed`` swaps in a subclass of skorch's class that
adds nothing but that class's name: tests that fail with it fail because of
the name (a repr or message that spells out ``NeuralNetClassifier``), not
because of anything the net does.

How skorch's tests get their classifier, and how each way is covered:

* ``net_cls`` fixtures and test bodies do ``from skorch import
  NeuralNetClassifier`` when they run, and some modules do it at import time
  (during collection, after ``pytest_configure``): both read the package
  attribute, which is swapped.
* ``skorch.classifier.NeuralNetClassifier`` itself is left alone on purpose:
  skorch's methods call ``super(NeuralNetClassifier, self)``, which looks the
  name up in that module, so rebinding it would make ``fit`` and ``__init__``
  recurse. Test modules that bound the original class to a global of their
  own are rebound after collection instead.
* To show that the swap took effect, every instantiation of a skorch net is
  recorded per test; a test that builds a plain ``NeuralNetClassifier``
  while the swap is on is reported as a leak.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

_state: dict = {"original": None, "swapped": None, "current": None, "built": {}}


def pytest_addoption(parser):
    """Add ``--swap-net`` and ``--outcomes``."""
    group = parser.getgroup("qwertyclf", "skorch suite against QwertyClassifier")
    group.addoption(
        "--swap-net",
        nargs="?",
        const="ours",
        choices=["ours", "renamed"],
        help="replace skorch.NeuralNetClassifier by QwertyClassifier's net class "
        "(ours), or by a plain subclass that only carries its name (renamed)",
    )
    group.addoption(
        "--outcomes", metavar="PATH", help="write every test's outcome to PATH (JSON)"
    )


def fitted_net_class() -> type:
    """The class of the net that a fitted `QwertyClassifier` keeps as `net_`."""
    from qwertyclf import QwertyClassifier

    X = np.random.RandomState(0).normal(size=(20, 2)).astype(np.float32)
    y = np.arange(20) % 2
    return type(QwertyClassifier(max_epochs=1).fit(X, y).net_)


def renamed_plain_class(name: str, base: type) -> type:
    """A subclass of `base` that changes nothing but the class name.

    It is a global of this module, so that pickling finds it.
    """
    renamed = type(name, (base,), {"__module__": __name__, "__qualname__": name})
    globals()[name] = renamed
    return renamed


def pytest_configure(config):
    """Swap the class (with ``--swap-net``) and start recording outcomes."""
    import skorch
    from skorch.net import NeuralNet

    original = skorch.NeuralNetClassifier
    _state["original"] = original
    swap = config.getoption("swap_net")
    if swap:
        swapped = fitted_net_class()
        if not issubclass(swapped, original):
            raise pytest.UsageError(
                f"{swapped!r} is not a subclass of skorch.NeuralNetClassifier"
            )
        if swap == "renamed":
            swapped = renamed_plain_class(swapped.__name__, original)
        _state["swapped"] = swapped
        skorch.NeuralNetClassifier = swapped

    # Record which net classes each test instantiates (unpickling and copies
    # included). No class in NeuralNet's hierarchy defines __new__.
    def recording_new(cls, *args, **kwargs):
        if _state["current"] is not None:
            _state["built"].setdefault(_state["current"], set()).add(cls)
        return object.__new__(cls)

    NeuralNet.__new__ = recording_new
    config.pluginmanager.register(_Recorder(config.getoption("outcomes")))


def pytest_unconfigure(config):
    """Undo the swap and the instantiation recorder."""
    import skorch
    from skorch.net import NeuralNet

    if _state["original"] is not None:
        skorch.NeuralNetClassifier = _state["original"]
    if "__new__" in vars(NeuralNet):
        del NeuralNet.__new__


def pytest_collection_modifyitems(items):
    """Rebind module globals that still hold the original class."""
    original, swapped = _state["original"], _state["swapped"]
    if swapped is None:
        return
    for module in {item.module for item in items if getattr(item, "module", None)}:
        for name, value in list(vars(module).items()):
            if value is original:
                setattr(module, name, swapped)


def _cuda_only(item) -> bool:
    """Whether a test only means something on a CUDA device."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "cuda" in callspec.id:
        return True
    return any(
        "cuda" in str(mark.kwargs.get("reason", "")).lower()
        for mark in item.iter_markers("skipif")
    )


class _Recorder:
    """Collects each test's outcome, first error and the nets it built."""

    def __init__(self, path):
        self.path = path
        self.results: dict[str, dict] = {}
        self.cuda_only: set[str] = set()

    def pytest_collection_modifyitems(self, items):
        self.cuda_only = {item.nodeid for item in items if _cuda_only(item)}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        _state["current"] = item.nodeid
        try:
            return (yield)
        finally:
            _state["current"] = None

    def pytest_collectreport(self, report):
        if report.failed:
            self.results[report.nodeid] = {
                "outcome": "failed",
                "when": "collect",
                "message": _message(report),
                "text": report.longreprtext[-6000:],
            }

    def pytest_runtest_logreport(self, report):
        entry = self.results.setdefault(report.nodeid, {"outcome": "passed"})
        if entry["outcome"] == "failed":
            return
        if report.failed:
            entry.update(
                outcome="failed",
                when=report.when,
                message=_message(report),
                crash=_crash(report),
                text=report.longreprtext[-6000:],
            )
        elif report.skipped and report.when == "setup":
            entry["outcome"] = "skipped"

    def pytest_sessionfinish(self, session):
        if not self.path:
            return
        original, swapped = _state["original"], _state["swapped"]
        for nodeid, entry in self.results.items():
            built = _state["built"].get(nodeid, set())
            entry["cuda_only"] = nodeid in self.cuda_only
            entry["built_swapped"] = swapped is not None and swapped in built
            entry["built_original"] = original in built
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "swapped": None if swapped is None else _name(swapped),
                    "results": self.results,
                },
                f,
                indent=1,
            )


def _name(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _message(report) -> str:
    """The error line of a failed report."""
    crash = getattr(report.longrepr, "reprcrash", None)
    line = crash.message if crash is not None else str(report.longrepr)
    return line.strip()[:2000]


def _crash(report) -> str | None:
    """Where a failed report's exception was raised, as ``path:line``."""
    crash = getattr(report.longrepr, "reprcrash", None)
    return None if crash is None else f"{crash.path}:{crash.lineno}"
