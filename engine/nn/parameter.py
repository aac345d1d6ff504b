"""``Parameter``: a leaf tensor that a ``Module`` registers as one of its weights.

The engine's ops check ``type(t) is Tensor`` on their hot path, so a parameter is
a plain ``Tensor`` (with ``requires_grad=True``) that ``isinstance(p, Parameter)``
recognises; ``type(p)`` is ``Tensor``, unlike torch.
"""

from __future__ import annotations

import weakref
from typing import Any

from engine.tensor import Tensor, _wrap

_PARAMS: dict[int, weakref.ref] = {}


def _forget(key: int) -> Any:
    def callback(_ref: weakref.ref) -> None:
        if _PARAMS.get(key) is _ref:
            del _PARAMS[key]

    return callback


class _ParameterMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        ref = _PARAMS.get(id(obj))
        return ref is not None and ref() is obj

    def __call__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Tensor:
        from engine.creation import zeros

        src = zeros(0) if data is None else data
        if not isinstance(src, Tensor):
            raise TypeError(f"Parameter(): expected a Tensor, got {type(src).__name__}")
        t = _wrap(src._data)  # shares memory with ``data``, as torch's Parameter does
        t._vc = src._vc
        t.requires_grad = requires_grad
        key = id(t)
        _PARAMS[key] = weakref.ref(t, _forget(key))
        return t


class Parameter(metaclass=_ParameterMeta):
    """Mark a tensor as a module weight: ``self.w = nn.Parameter(engine.randn(3))``.

    >>> p = nn.Parameter(engine.zeros(2)); p.requires_grad, isinstance(p, nn.Parameter)
    (True, True)
    """


def is_parameter(obj: object) -> bool:
    """Whether ``obj`` was made by ``Parameter(...)``."""
    return isinstance(obj, Parameter)
