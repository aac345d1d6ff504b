"""The ``Tensor`` methods, collected from the op families, and ``bind``, which attaches them.

``engine/__init__.py`` calls ``bind`` once, after every layer is imported (as tinygrad's
``tensor.py`` imports ``mlops`` after ``Function``): the Tensor layer imports no op, and
``backward`` comes from the autograd layer above this one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine.ops import (
    activation,
    convert,
    creation,
    elementwise,
    extrema,
    inplace,
    join,
    layers,
    linalg,
    random,
    reduce,
    selection,
    shape,
    unary,
    views,
)
from engine.ops.base import scalar_or_data
from engine.tensor import Tensor, _ViewInfo, _wrap


def _compare(ufunc: np.ufunc) -> Any:
    def op(self: Tensor, other: Any) -> Tensor:
        """Elementwise comparison (``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge``) with a
        tensor or number: a bool tensor, outside the graph.

        >>> x = engine.tensor([1.0, 2.0, 3.0]); x.lt(2), x.ge(engine.tensor([3.0, 2.0, 1.0]))
        (tensor([ True, False, False]), tensor([False,  True,  True]))
        """
        try:
            bd, _, _ = scalar_or_data(other)
        except TypeError:
            return NotImplemented
        return _wrap(np.asarray(ufunc(self._data, bd)))

    return op


def _reflected(fn: Any) -> Any:
    def op(a: Tensor, b: Any) -> Any:
        tb = type(b)  # a float or an int first: the common ``x * 2.0``
        if tb is not float and tb is not int and not isinstance(b, Tensor) and not isinstance(
                b, (int, float, bool, np.number)):
            return NotImplemented
        return fn(a, b)

    return op


def _rmatmul(a: Tensor, b: Any) -> Tensor:
    return linalg.matmul(b, a)


# The op families in layer order.  Each declares ``__all__`` (its ``engine.<name>``
# functions, star-imported by engine/__init__.py) and ``METHODS`` (its named ``Tensor``
# methods), so a new op is written in its family's module alone.
FAMILIES = (convert, unary, selection, elementwise, shape, reduce, extrema, join, linalg,
            activation, layers, inplace, creation, random)

# Python's operators: the same for every op, so they live here (without ``out=``'s wrapper,
# which an operator never needs).
_add, _sub, _mul, _div, _pow = (f.__wrapped__ for f in (
    elementwise.add, elementwise.sub, elementwise.mul, elementwise.div, elementwise.pow))
OPERATORS: dict[str, Any] = {
    "__add__": _reflected(_add), "__radd__": _reflected(_add),
    "__sub__": _reflected(_sub), "__rsub__": _reflected(elementwise.rsub),
    "__mul__": _reflected(_mul), "__rmul__": _reflected(_mul),
    "__truediv__": _reflected(_div), "__rtruediv__": _reflected(elementwise.rdiv),
    "__pow__": _reflected(_pow), "__rpow__": _reflected(elementwise.rpow),
    "__neg__": elementwise.neg.__wrapped__, "__abs__": unary.abs.__wrapped__,
    "__matmul__": linalg.matmul.__wrapped__, "__rmatmul__": _rmatmul,
    "__getitem__": shape.getitem, "__setitem__": inplace.assign,
    "__iadd__": inplace.add_, "__isub__": inplace.sub_, "__imul__": inplace.mul_,
    "__itruediv__": inplace.div_,
    # comparisons give bool tensors outside the graph
    "__eq__": _compare(np.equal), "__ne__": _compare(np.not_equal),
    "__lt__": _compare(np.less), "__le__": _compare(np.less_equal),
    "__gt__": _compare(np.greater), "__ge__": _compare(np.greater_equal),
    "eq": _compare(np.equal), "ne": _compare(np.not_equal), "lt": _compare(np.less),
    "le": _compare(np.less_equal), "gt": _compare(np.greater), "ge": _compare(np.greater_equal),
}


def table() -> dict[str, Any]:
    """Every ``Tensor`` method: the families' named methods, then the operators."""
    found: dict[str, Any] = {}
    for family in FAMILIES:
        clash = found.keys() & family.METHODS.keys()
        if clash:  # a second definition would silently replace the first
            raise RuntimeError(f"{family.__name__} redefines Tensor methods {sorted(clash)}")
        found.update(family.METHODS)
    return found | OPERATORS


def bind(backward: Callable[..., None]) -> None:
    """Attach the table to ``Tensor``, the view-history rebuild to ``_ViewInfo``, and
    ``Tensor.backward``, which hands off to ``backward`` (``engine.autograd.backward``)."""

    def backward_method(self: Tensor, gradient: Tensor | None = None,
                        retain_graph: bool | None = None, create_graph: bool = False,
                        inputs: Sequence[Tensor] | None = None) -> None:
        """Gradients of this tensor w.r.t. the graph leaves; see ``autograd.backward``.

        >>> x = engine.tensor([1.0, 2.0], requires_grad=True)
        >>> (x ** 2).sum().backward(); x.grad
        tensor([2., 4.])
        """
        backward(self, gradient, retain_graph, create_graph, inputs)

    backward_method.__name__ = backward_method.__qualname__ = "backward"
    for name, fn in {**table(), "backward": backward_method}.items():
        setattr(Tensor, name, fn)
    _ViewInfo.current_fn = views.current_fn
