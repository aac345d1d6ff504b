"""``Parameter``: a leaf tensor that a ``Module`` registers as one of its weights."""

from __future__ import annotations

from typing import Any

from engine.ops.creation import zeros
from engine.tensor import Tensor, _init


class Parameter(Tensor):
    """A tensor marked as a module weight; it shares memory with the tensor it wraps.

    >>> p = nn.Parameter(engine.zeros(2)); p.requires_grad, isinstance(p, nn.Parameter)
    (True, True)
    """

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        src = zeros(0) if data is None else data
        if not isinstance(src, Tensor):
            raise TypeError(f"Parameter(): expected a Tensor, got {type(src).__name__}")
        p = Tensor.__new__(cls)
        _init(p, src._data, None, 0, src._vc)
        p.requires_grad = requires_grad
        return p

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass  # everything happens in __new__

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)
