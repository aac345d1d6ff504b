"""Conversions between element types: ``to``, ``float``, ``double``, ``long``, ``bool``."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine._base import dtypes
from engine.graph import Node
from engine.ops.base import edge, out, recording
from engine.tensor import Tensor


class ToCopyBackward0(Node):
    __slots__ = ("dtype",)

    def apply(self, grads: list) -> tuple:
        return (grads[0].astype(self.dtype),)

    def apply_graph(self, grads: list) -> tuple:
        return (cast(grads[0], self.dtype),)


def to(a: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``to(dtype)``, ``to("cpu", dtype)``, ``to(other)`` or ``to(dtype=...)``: convert
    (a copy recorded in the graph); devices other than cpu refuse.

    >>> x = engine.tensor([1.0, 2.0]); x.to(engine.float64), x.to("cpu", engine.int64)
    (tensor([1., 2.], dtype=engine.float64), tensor([1, 2]))
    """
    target = kwargs.get("dtype")
    for arg in args + ((kwargs["device"],) if "device" in kwargs else ()):
        if isinstance(arg, str):
            if arg != "cpu":
                raise RuntimeError(f"the engine runs on the CPU only; got device {arg!r}")
        elif isinstance(arg, Tensor):  # to(other): other's dtype
            target = arg.dtype
        elif isinstance(arg, dtypes.dtype):
            target = arg
    if target is None:
        return a
    return _cast(a, target)


def cast(a: Tensor, np_dtype: np.dtype) -> Tensor:
    """``a`` converted to a numpy dtype, recorded in the graph."""
    return _cast(a, dtypes.from_np(np.dtype(np_dtype)))


def _cast(a: Tensor, target: dtypes.dtype) -> Tensor:
    if a._data.dtype == target.np:
        return a
    res = a._data.astype(target.np)
    if recording(a) and target.is_floating_point:
        node = ToCopyBackward0((edge(a),))
        node.dtype = a._data.dtype
        return out(res, node)
    return out(res)


def caster(name: str) -> Any:
    """The ``float()``/``double()``/... method converting to the dtype called ``name``."""

    def convert(a: Tensor) -> Tensor:
        """Convert to the dtype the method is named after: ``float``, ``double``, ``long``
        or ``bool`` (a recorded copy between float dtypes).

        >>> x = engine.tensor([0.0, 1.5]); x.double()
        tensor([0.0000, 1.5000], dtype=engine.float64)
        >>> x.long(), x.bool(), x.long().float()
        (tensor([0, 1]), tensor([False,  True]), tensor([0., 1.]))
        """
        return _cast(a, getattr(dtypes, name))

    convert.__name__ = name
    return convert


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = []
METHODS = {"to": to, "float": caster("float32"), "double": caster("float64"),
           "long": caster("int64"), "bool": caster("bool_")}
