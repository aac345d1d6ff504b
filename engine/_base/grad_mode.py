"""Gradient-tracking modes, per thread as in torch: ``no_grad``, ``enable_grad``,
``set_grad_enabled``, ``is_grad_enabled``."""

from __future__ import annotations

import functools
import threading
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    enabled = True


_state = _State()


class _Anomaly:
    """Anomaly detection switches (see ``engine.autograd.anomaly``); global, as torch's."""

    enabled = False
    check_nan = True


anomaly = _Anomaly()


def record_forward_stack(metadata: dict) -> None:
    """Keep where the forward op was called (minus the engine's own frames), for anomaly
    detection's warning; called by every graph node made while it is on."""
    metadata["traceback_"] = traceback.format_stack()[:-3]


def is_grad_enabled() -> bool:
    """Whether operations record a graph in the current thread.

    >>> with engine.no_grad():
    ...     print(engine.is_grad_enabled())
    False
    """
    return _state.enabled


class _GradMode:
    """Base for the mode objects: a context manager and a decorator."""

    _mode: bool

    def __enter__(self) -> None:
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._prev

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__._fresh(self):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    @staticmethod
    def _fresh(ctx: _GradMode) -> _GradMode:
        clone = object.__new__(type(ctx))
        clone._mode = ctx._mode
        return clone


class _NoParamMode(_GradMode):
    """A mode that also decorates without parentheses: ``@no_grad`` as ``@no_grad()``."""

    def __new__(cls, orig_func: Callable | None = None) -> Any:
        self = super().__new__(cls)
        return self if orig_func is None else self(orig_func)


class no_grad(_NoParamMode):  # noqa: N801
    """Disable graph recording inside a ``with`` block or a decorated function.

    >>> x = engine.ones(2, requires_grad=True)
    >>> with engine.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    _mode = False


class enable_grad(_NoParamMode):  # noqa: N801
    """Re-enable graph recording inside a ``no_grad`` region.

    >>> x = engine.ones(2, requires_grad=True)
    >>> with engine.no_grad(), engine.enable_grad():
    ...     y = x * 2
    >>> y.requires_grad
    True
    """

    _mode = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """Set recording on or off: as a plain call, a context manager or a decorator.

    >>> x = engine.ones(2, requires_grad=True)
    >>> with engine.set_grad_enabled(False):
    ...     y = x * 2
    >>> y.requires_grad, engine.is_grad_enabled()
    (False, True)
    """

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __enter__(self) -> None:
        pass  # already switched in __init__, like torch

    def __call__(self, fn: F) -> F:
        _state.enabled = self._prev  # used as a decorator: undo the eager switch
        return super().__call__(fn)

    @staticmethod
    def _fresh(ctx: _GradMode) -> _GradMode:
        clone = object.__new__(set_grad_enabled)
        clone._mode = ctx._mode
        clone._prev = _state.enabled
        _state.enabled = clone._mode
        return clone
