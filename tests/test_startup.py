"""Importing the package and asking the command for help stay cheap."""

import subprocess
import sys

import pytest

import qwertyclf

HEAVY = ("torch", "sklearn", "skorch", "numpy", "scipy", "matplotlib", "pandas")


def imported_after(code):
    probe = (
        f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()[-1]


def test_importing_the_package_imports_no_heavy_library():
    assert imported_after("import qwertyclf") == "[]"


def test_help_imports_no_heavy_library():
    code = "from qwertyclf.cli import main\nmain(['--help'])"
    assert imported_after(code) == "[]"


def test_python_dash_m_runs_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "qwertyclf", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == f"qwertyclf {qwertyclf.__version__}\n"


@pytest.mark.parametrize("name", qwertyclf.__all__)
def test_every_public_name_resolves(name):
    assert getattr(qwertyclf, name) is not None
    assert name in dir(qwertyclf)


def test_public_names_are_the_real_objects():
    from qwertyclf._classifier import QwertyClassifier
    from qwertyclf._model_io import load_model

    assert qwertyclf.QwertyClassifier is QwertyClassifier
    assert qwertyclf.load_model is load_model


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        qwertyclf.Nope  # noqa: B018
    assert not hasattr(qwertyclf, "Nope")


def test_star_import():
    namespace = {}
    exec("from qwertyclf import *", namespace)
    assert {"QwertyClassifier", "load_model", "__version__"} <= set(namespace)
