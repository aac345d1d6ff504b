"""The one table of ``Tensor`` methods and operators, and ``bind``, which attaches them.

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
    elementwise,
    extrema,
    inplace,
    join,
    linalg,
    reduce,
    selection,
    shape,
    unary,
    views,
)
from engine.ops.base import scalar_or_data
from engine.tensor import Tensor, _ViewInfo, _wrap


def _compare(ufunc: np.ufunc) -> Any:
    def op(a: Tensor, b: Any) -> Tensor:
        """Elementwise comparison (``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge``) with a
        tensor or number: a bool tensor, outside the graph.

        >>> x = engine.tensor([1.0, 2.0, 3.0]); x.lt(2), x.ge(engine.tensor([3.0, 2.0, 1.0]))
        (tensor([ True, False, False]), tensor([False,  True,  True]))
        """
        try:
            bd, _, _ = scalar_or_data(b)
        except TypeError:
            return NotImplemented
        return _wrap(np.asarray(ufunc(a._data, bd)))

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


def _where_method(a: Tensor, condition: Tensor, other: Any) -> Tensor:
    """``a.where(condition, other)``: torch's method order for ``where``.

    >>> x = engine.tensor([-1.0, 2.0]); x.where(x > 0, 0.0)
    tensor([0., 2.])
    """
    return selection.where(condition, a, other)


_METHODS: dict[str, Any] = {
    # elementwise arithmetic
    "add": elementwise.add, "sub": elementwise.sub, "mul": elementwise.mul,
    "div": elementwise.div, "neg": elementwise.neg, "pow": elementwise.pow,
    "__add__": _reflected(elementwise.add), "__radd__": _reflected(elementwise.add),
    "__sub__": _reflected(elementwise.sub), "__rsub__": _reflected(elementwise.rsub),
    "__mul__": _reflected(elementwise.mul), "__rmul__": _reflected(elementwise.mul),
    "__truediv__": _reflected(elementwise.div), "__rtruediv__": _reflected(elementwise.rdiv),
    "__pow__": _reflected(elementwise.pow), "__rpow__": _reflected(elementwise.rpow),
    "__neg__": elementwise.neg, "__matmul__": linalg.matmul, "__rmatmul__": _rmatmul,
    # in place
    "zero_": inplace.zero_, "fill_": inplace.fill_, "copy_": inplace.copy_,
    "add_": inplace.add_, "sub_": inplace.sub_, "mul_": inplace.mul_, "div_": inplace.div_,
    "__setitem__": inplace.assign,
    "__iadd__": inplace.add_, "__isub__": inplace.sub_, "__imul__": inplace.mul_,
    "__itruediv__": inplace.div_,
    # comparisons give bool tensors outside the graph
    "__eq__": _compare(np.equal), "__ne__": _compare(np.not_equal),
    "__lt__": _compare(np.less), "__le__": _compare(np.less_equal),
    "__gt__": _compare(np.greater), "__ge__": _compare(np.greater_equal),
    "eq": _compare(np.equal), "ne": _compare(np.not_equal), "lt": _compare(np.less),
    "le": _compare(np.less_equal), "gt": _compare(np.greater), "ge": _compare(np.greater_equal),
    # unary
    "exp": unary.exp, "log": unary.log, "sqrt": unary.sqrt, "abs": unary.abs,
    "__abs__": unary.abs, "sigmoid": unary.sigmoid, "tanh": unary.tanh, "relu": unary.relu,
    "reciprocal": unary.reciprocal,
    # reductions
    "sum": reduce.sum, "mean": reduce.mean,
    # shape
    "view": shape.view, "reshape": shape.reshape, "flatten": shape.flatten,
    "transpose": shape.transpose, "permute": shape.permute, "t": shape.t,
    "squeeze": shape.squeeze, "unsqueeze": shape.unsqueeze, "expand": shape.expand,
    "clone": shape.clone, "contiguous": shape.contiguous, "__getitem__": shape.getitem,
    "T": property(shape.T), "mT": property(shape.mT),
    # linear algebra
    "matmul": linalg.matmul, "mm": linalg.mm, "mv": linalg.mv, "dot": linalg.dot,
    "bmm": linalg.bmm,
    # conversions
    "to": convert.to, "float": convert.caster("float32"), "double": convert.caster("float64"),
    "long": convert.caster("int64"), "bool": convert.caster("bool_"),
    # more elementwise ops, activations, reductions and joins
    "sin": unary.sin, "cos": unary.cos, "log1p": unary.log1p, "expm1": unary.expm1,
    "rsqrt": unary.rsqrt, "square": elementwise.square,
    "clamp": selection.clamp, "clip": selection.clamp,
    "maximum": selection.maximum, "minimum": selection.minimum,
    "where": _where_method,
    "softmax": activation.softmax, "log_softmax": activation.log_softmax,
    "max": extrema.max, "min": extrema.min, "amax": extrema.amax, "amin": extrema.amin,
    "argmax": extrema.argmax, "argmin": extrema.argmin,
    "prod": reduce.prod, "var": reduce.var, "std": reduce.std,
    "logsumexp": reduce.logsumexp, "norm": reduce.norm,
    "split": join.split, "chunk": join.chunk, "unbind": join.unbind,
    "repeat": join.repeat, "gather": join.gather,
}


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
    for name, fn in {**_METHODS, "backward": backward_method}.items():
        setattr(Tensor, name, fn)
    _ViewInfo.current_fn = views.current_fn
