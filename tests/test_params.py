"""Each hyperparameter is declared once, in `qwertyclf._params`, and read from there."""

import inspect
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.utils._param_validation import InvalidParameterError

import qwertyclf
from qwertyclf import QwertyClassifier
from qwertyclf._activations import ACTIVATIONS
from qwertyclf._batched import fit_batched
from qwertyclf._hyperparameters import (
    OPTIMIZERS,
    PARAMETER_CONSTRAINTS,
    check_params,
    validate_constraints,
)
from qwertyclf._params import (
    ACTIVATION_NAMES,
    OPTIMIZER_NAMES,
    PARAMETERS,
    defaults,
)

PACKAGE = Path(qwertyclf.__file__).parent
HEAVY = ("torch", "sklearn", "skorch", "numpy", "scipy")


def test_the_declarations_are_the_estimators_parameters():
    signature = inspect.signature(QwertyClassifier.__init__)
    names = [name for name in signature.parameters if name != "self"]
    assert list(PARAMETERS) == names
    assert defaults() == QwertyClassifier().get_params()
    assert list(QwertyClassifier._parameter_constraints) == names
    assert QwertyClassifier._parameter_constraints is PARAMETER_CONSTRAINTS
    # Every default passes its own constraints and the estimator's checks.
    validate_constraints(defaults(), "QwertyClassifier")
    assert check_params(QwertyClassifier()) == torch.device("cpu")


def test_the_named_choices_are_the_registries():
    assert list(ACTIVATION_NAMES) == list(ACTIVATIONS)
    assert list(OPTIMIZER_NAMES) == list(OPTIMIZERS)
    assert PARAMETERS["activation"].choices == ACTIVATION_NAMES
    assert PARAMETERS["optimizer"].choices == OPTIMIZER_NAMES


def test_the_declared_help_is_the_docstrings():
    doc = " ".join(QwertyClassifier.__doc__.split())
    for name, param in PARAMETERS.items():
        assert " ".join(param.help.split()).rstrip(".") in doc, name


@pytest.mark.parametrize("name", list(PARAMETERS))
def test_every_parameter_is_validated_with_its_declared_message(name):
    # A value of no accepted type: booleans, verbose, class_weight, device
    # and the rest are all refused by their constraints, before any fit.
    value = object()
    clf = QwertyClassifier(**{name: value})
    with pytest.raises(InvalidParameterError) as refused:
        check_params(clf)
    assert str(refused.value) == PARAMETERS[name].refusal(value)
    assert isinstance(refused.value, ValueError)
    assert isinstance(refused.value, TypeError)
    # scikit-learn's hook gives the same message.
    with pytest.raises(InvalidParameterError, match=re.escape(str(refused.value))):
        clf._validate_params()


def test_ints_are_not_bools():
    for name in ("batch_size", "max_epochs", "n_iter_no_change"):
        with pytest.raises(ValueError, match=f"{name} must be an int >= 1"):
            check_params(QwertyClassifier(**{name: True}))
    # verbose takes a bool, as scikit-learn's estimators do.
    check_params(QwertyClassifier(verbose=True))


def test_the_declarations_import_only_the_standard_library():
    probe = (
        "import sys\nimport qwertyclf._params\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"


# --- no behaviour from source text --------------------------------------------

_SOURCELESS = """
import ast, builtins, inspect

def refuse(*args, **kwargs):
    raise OSError("no source in this installation")

inspect.getsource = inspect.getsourcelines = inspect.getsourcefile = refuse
ast.parse = refuse
real_open = builtins.open

def open_without_sources(file, *args, **kwargs):
    if str(file).endswith(".py"):
        raise OSError(f"no source in this installation: {file}")
    return real_open(file, *args, **kwargs)

builtins.open = open_without_sources
from qwertyclf.cli import build_parser, main

fit = build_parser().parse_args(["fit", "d.csv", "--target", "y"])
print(fit.lr, fit.activation, fit.hidden_layer_sizes)
main(["demo", "--help"])
"""


def test_the_command_line_builds_without_source_files():
    result = subprocess.run(
        [sys.executable, "-c", _SOURCELESS], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "None None None"  # fit leaves unset what is not given
    help_text = " ".join(result.stdout.split())
    assert "--activation NAME" in help_text
    assert 'Hidden activation: "relu", "leaky_relu", "relu6"' in help_text
    assert "Optimizer: adam, adamw, sgd or rmsprop." in help_text
    assert "Learning rate. (default: 0.01)" in help_text


def test_no_behaviour_is_read_from_source_text():
    # Behaviour comes from declarations, never from parsing source files or
    # docstrings (a wheel may ship without sources, `python -OO` drops
    # docstrings).
    forbidden = re.compile(
        r"^\s*(import ast\b|from ast import)|inspect\.getsource|inspect\.getdoc"
        r"|get_docstring|__doc__",
        re.M,
    )
    found = [
        f"{path.relative_to(PACKAGE)}: {match[0].strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for match in forbidden.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


# --- restored nets ------------------------------------------------------------


def _optimizer_view(net):
    optimizer = net.optimizer_
    groups = [
        {k: v for k, v in group.items() if k != "params"}
        for group in optimizer.param_groups
    ]
    sizes = [
        [tuple(p.shape) for p in group["params"]] for group in optimizer.param_groups
    ]
    state = {
        tuple(net.module_.state_dict()).index(name): sorted(optimizer.state[p])
        for name, p in net.module_.named_parameters()
    }
    return type(optimizer), groups, sizes, state


def test_a_batched_fit_leaves_the_net_a_serial_fit_leaves():
    X, y = make_blobs(90, centers=3, random_state=0)
    params = {"max_epochs": 3, "random_state": 0, "dtype": "float64"}
    serial = QwertyClassifier(**params).fit(X, y)
    (batched,) = fit_batched([QwertyClassifier(**params)], X, y)
    for clf in (serial, batched):
        assert "optimizer_" in vars(clf.net_)
    assert type(batched.net_) is type(serial.net_)
    assert batched.net_.initialized_ is serial.net_.initialized_ is True
    assert _optimizer_view(batched.net_) == _optimizer_view(serial.net_)
    for name in ("criterion_", "callbacks_", "generator_"):
        assert type(getattr(batched.net_, name)) is type(getattr(serial.net_, name))
    assert [type(cb) for _, cb in batched.net_.callbacks_] == [
        type(cb) for _, cb in serial.net_.callbacks_
    ]
    assert batched.net_.history is batched.history_
    assert len(batched.history_) == len(serial.history_) == 3
    assert np.allclose(batched.predict_proba(X), serial.predict_proba(X))
    # Both continue the same way: their optimizers hold the same state.
    for clf in (serial, batched):
        clf.set_params(warm_start=True, max_epochs=2).fit(X, y)
    assert _optimizer_view(batched.net_) == _optimizer_view(serial.net_)
    assert np.allclose(batched.predict_proba(X), serial.predict_proba(X))


def test_a_loaded_model_builds_the_fitted_optimizer_when_training(tmp_path):
    X, y = make_blobs(90, centers=3, random_state=0)
    fitted = QwertyClassifier(max_epochs=3, random_state=0, optimizer="sgd").fit(X, y)
    loaded = QwertyClassifier.load(fitted.save(tmp_path / "m.safetensors"))
    # A file holds no optimizer state: the optimizer is built fresh, with the
    # fitted one's class and settings, when training continues.
    fitted_type, fitted_groups, fitted_sizes, _ = _optimizer_view(fitted.net_)
    loaded_type, loaded_groups, loaded_sizes, state = _optimizer_view(loaded.net_)
    assert (loaded_type, loaded_groups, loaded_sizes) == (
        fitted_type,
        fitted_groups,
        fitted_sizes,
    )
    assert loaded.net_.initialized_
    assert all(keys == [] for keys in state.values())
