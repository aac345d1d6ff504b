"""``Variable``: torch's pre-0.4 wrapper, kept so old tutorials run; it now makes a tensor."""

from __future__ import annotations

import warnings
from typing import Any

from engine.ops import creation
from engine.tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, other: Any) -> bool:  # every tensor is a Variable, as in torch
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """A leaf tensor sharing ``data``'s memory, detached from its graph; ``requires_grad``
    as given. ``volatile`` has no effect (use ``no_grad``).

    >>> from engine.autograd import Variable
    >>> v = Variable(engine.ones(2), requires_grad=True); v, isinstance(v, Variable)
    (tensor([1., 1.], requires_grad=True), True)
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = False,
                volatile: bool = False) -> Tensor:  # type: ignore[misc]
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use "
                          "`with engine.no_grad():` instead.", UserWarning, stacklevel=2)
        if data is None:
            data = creation.tensor([])
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        out = data.detach()
        out.requires_grad_(requires_grad)
        return out
