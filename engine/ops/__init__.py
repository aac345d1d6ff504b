"""Op families, and their binding to ``Tensor`` methods and operators."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.ops import arithmetic, indexing, linalg, loss, reduce, shape, unary
from engine.ops.base import scalar_or_data
from engine.tensor import Tensor, _wrap


def _compare(ufunc: np.ufunc) -> Any:
    def op(a: Tensor, b: Any) -> Tensor:
        try:
            bd, _, _ = scalar_or_data(b)
        except TypeError:
            return NotImplemented
        return _wrap(np.asarray(ufunc(a._data, bd)))

    return op


def _reflected(fn: Any) -> Any:
    def op(a: Tensor, b: Any) -> Any:
        if type(b) is not Tensor and not isinstance(b, (int, float, bool, np.number)):
            return NotImplemented
        return fn(a, b)

    return op


def _rmatmul(a: Tensor, b: Any) -> Tensor:
    return linalg.matmul(b, a)


_METHODS: dict[str, Any] = {
    # arithmetic
    "add": arithmetic.add, "sub": arithmetic.sub, "mul": arithmetic.mul,
    "div": arithmetic.div, "neg": arithmetic.neg, "pow": arithmetic.pow,
    "__add__": _reflected(arithmetic.add), "__radd__": _reflected(arithmetic.add),
    "__sub__": _reflected(arithmetic.sub), "__rsub__": _reflected(arithmetic.rsub),
    "__mul__": _reflected(arithmetic.mul), "__rmul__": _reflected(arithmetic.mul),
    "__truediv__": _reflected(arithmetic.div), "__rtruediv__": _reflected(arithmetic.rdiv),
    "__pow__": _reflected(arithmetic.pow), "__rpow__": _reflected(arithmetic.rpow),
    "__neg__": arithmetic.neg, "__matmul__": linalg.matmul, "__rmatmul__": _rmatmul,
    "__iadd__": Tensor.add_, "__isub__": Tensor.sub_, "__imul__": Tensor.mul_,
    "__itruediv__": Tensor.div_,
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
}


def _to(a: Tensor, dtype: Any = None, *args: Any, **kwargs: Any) -> Tensor:
    """Convert to ``dtype`` (a copy recorded in the graph); devices other than cpu refuse."""
    from engine import dtypes

    target = kwargs.get("dtype", dtype)
    if isinstance(target, str):
        if target != "cpu":
            raise RuntimeError(f"the engine runs on the CPU only; got device {target!r}")
        return a
    if target is None or not isinstance(target, dtypes.dtype):
        return a
    return _cast(a, target)


class ToCopyBackward0(shape.CloneBackward0):
    __slots__ = ("dtype",)

    def apply(self, grads: list) -> tuple:
        return (grads[0].astype(self.dtype),)


def _cast(a: Tensor, target: Any) -> Tensor:
    from engine.ops.base import edge, out, recording

    if a._data.dtype == target.np:
        return a
    res = a._data.astype(target.np)
    if recording(a) and target.is_floating_point:
        node = ToCopyBackward0((edge(a),))
        node.dtype = a._data.dtype
        return out(res, node)
    return out(res)


def _caster(name: str) -> Any:
    def cast(a: Tensor) -> Tensor:
        from engine import dtypes

        return _cast(a, getattr(dtypes, name))

    cast.__name__ = name
    return cast


_METHODS.update({"to": _to, "float": _caster("float32"), "double": _caster("float64"),
                 "long": _caster("int64"), "bool": _caster("bool_")})

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)

__all__ = ["arithmetic", "indexing", "linalg", "loss", "reduce", "shape", "unary"]
