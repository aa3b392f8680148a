"""`save_model` and `load_model`: model files as functions of the package.

They sit above the estimator, which reads and writes its state through
`qwertyclf._persistence`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._classifier import QwertyClassifier
from ._cv import QwertyClassifierCV
from ._ensemble import QwertyEnsembleClassifier
from ._persistence import read_kind

#: The classes a model file can hold, by the kind the file names.
_CLASSES = {
    None: QwertyClassifier,
    "QwertyClassifierCV": QwertyClassifierCV,
    "QwertyEnsembleClassifier": QwertyEnsembleClassifier,
}

Model = QwertyClassifier | QwertyClassifierCV | QwertyEnsembleClassifier


def save_model(estimator: Model, path: str | os.PathLike) -> Path:
    """Write a fitted classifier to `path` (a `.safetensors` file).

    The same as `estimator.save(path)`: a `QwertyClassifier`, a
    `QwertyClassifierCV` or a `QwertyEnsembleClassifier`, each as one file.

    Parameters
    ----------
    estimator : QwertyClassifier, QwertyClassifierCV or QwertyEnsembleClassifier
        A fitted classifier.
    path : str or path-like
        Where to write the file.

    Returns
    -------
    path : pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.datasets import make_blobs
    >>> from qwertyclf import QwertyClassifier, load_model
    >>> X, y = make_blobs(60, random_state=0)
    >>> clf = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
    >>> _ = save_model(clf, path)
    >>> bool((load_model(path).predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    if not isinstance(estimator, tuple(_CLASSES.values())):
        raise TypeError(
            "save_model writes a QwertyClassifier, QwertyClassifierCV or "
            f"QwertyEnsembleClassifier, got {type(estimator).__name__}. Pickle "
            "other estimators (see the guide on saving models)."
        )
    return estimator.save(path)


def load_model(path: str | os.PathLike, *, device: str | None = None) -> Model:
    """Read a classifier written by `save_model` or a classifier's `save`.

    The file says which class it holds; the result is of that class.

    The file may come from anyone: nothing in it is run, and every value is
    checked before anything is built, so a damaged or hostile file fails
    quickly, with little memory, and with a message that names the problem.

    Parameters
    ----------
    path : str or path-like
        A file written by `save_model`.
    device : str, default=None
        Where to put the network (every member's, for the CV and the
        ensemble). None uses the saved device when it is available here,
        otherwise the CPU.

    Returns
    -------
    estimator : QwertyClassifier, QwertyClassifierCV or QwertyEnsembleClassifier
        A fitted classifier that predicts exactly as the saved one did.

    Raises
    ------
    FileNotFoundError
        If there is no file at `path`.
    ValueError
        If the file is not a qwertyclf model file, is damaged, holds values
        no fit produces, or was written by a newer version of the format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.datasets import make_blobs
    >>> from qwertyclf import QwertyClassifier
    >>> X, y = make_blobs(60, random_state=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
    >>> _ = QwertyClassifier(max_epochs=3).fit(X, y).save(path)
    >>> load_model(path).classes_
    array([0, 1, 2])
    """
    return _CLASSES[read_kind(path)].load(path, device=device)
