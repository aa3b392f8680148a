"""What Ctrl-C (`KeyboardInterrupt`) during training leaves behind.

skorch's rule, which a direct `QwertyClassifier.fit` follows: an interrupt
stops training, and `fit` returns a usable, fitted model. Where many fits
make up one result (a search, `QwertyClassifierCV`, the ensemble, the
command line), stopping one of them early would give a wrong result that
looks right, so inside `interrupts_propagate()` the interrupt ends the whole
call instead.

Whatever a fit raises, an interrupt it re-raises or any error, the estimator
is left as it was before the call (`restored_on_failure`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools

_PROPAGATE = contextvars.ContextVar("qwertyclf_interrupts_propagate", default=False)


@contextlib.contextmanager
def interrupts_propagate():
    """Inside the block, an interrupted fit re-raises `KeyboardInterrupt`.

    Examples
    --------
    >>> with interrupts_propagate():
    ...     interrupts_propagating()
    True
    >>> interrupts_propagating()
    False
    """
    token = _PROPAGATE.set(True)
    try:
        yield
    finally:
        _PROPAGATE.reset(token)


def interrupts_propagating() -> bool:
    """Whether an interrupted fit must re-raise (see `interrupts_propagate`).

    Examples
    --------
    >>> interrupts_propagating()
    False
    """
    return _PROPAGATE.get()


@contextlib.contextmanager
def restored_on_failure(estimator):
    """If the block raises, give `estimator` back the attributes it had.

    A fresh estimator is left unfitted, a fitted one with its previous fit;
    the exception (an interrupt or any error) is re-raised. Attributes are
    restored as they were bound: an object the block changed in place must
    be copied by the block first (a warm start continues a copy of its net).

    Examples
    --------
    >>> class Model:
    ...     pass
    >>> model = Model()
    >>> try:
    ...     with restored_on_failure(model):
    ...         model.coef_ = 1.0
    ...         raise ValueError("bad validation data")
    ... except ValueError:
    ...     pass
    >>> hasattr(model, "coef_")
    False
    """
    before = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(before)
        raise


def unchanged_if_failed(fit):
    """Decorate a `fit` that changes nothing if it raises (interrupts included).

    Examples
    --------
    >>> class Model:
    ...     @unchanged_if_failed
    ...     def fit(self, X, y=None):
    ...         self.coef_ = 1.0
    ...         raise KeyboardInterrupt
    >>> model = Model()
    >>> try:
    ...     model.fit([[0.0]])
    ... except KeyboardInterrupt:
    ...     print(hasattr(model, "coef_"))
    False
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        with restored_on_failure(self):
            return fit(self, *args, **kwargs)

    return wrapper


def all_or_nothing(fit):
    """Decorate a `fit` made of many fits: Ctrl-C or an error changes nothing.

    Examples
    --------
    >>> class Search:
    ...     @all_or_nothing
    ...     def fit(self, X, y=None):
    ...         self.best_ = interrupts_propagating()
    ...         return self
    >>> Search().fit([[0.0]]).best_
    True
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        with interrupts_propagate(), restored_on_failure(self):
            return fit(self, *args, **kwargs)

    return wrapper
