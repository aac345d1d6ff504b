"""Recorded forms of in-place writes (``fill_``, ``copy_``, ``x[i] = v``) for tensors in
a graph.  ``Tensor`` computes the out-of-place result here, then writes it into its
own buffer and takes over the history."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.graph import Node
from engine.ops.base import edge, out, recording, sum_to, unbroadcast
from engine.tensor import Tensor


class FillBackward2(Node):
    """Filling with a number: nothing flows back to the old value."""

    __slots__ = ("shape",)

    def apply(self, grads: list) -> tuple:
        return (None,)

    def apply_graph(self, grads: list) -> tuple:
        return (None,)


class FillBackward3(Node):
    """Filling with a 0-d tensor: its gradient is the sum of the incoming one."""

    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        return (None, np.asarray(unbroadcast(g, ())))

    def apply_graph(self, grads: list) -> tuple:
        return (None, grads[0].sum())


class ZeroBackward0(FillBackward2):
    __slots__ = ()


class CopyBackwards(Node):
    __slots__ = ("src_shape", "src_dtype")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        return (None, unbroadcast(g, self.src_shape, self.src_dtype))

    def apply_graph(self, grads: list) -> tuple:
        return (None, sum_to(grads[0], self.src_shape, self.src_dtype))


class CopySlices(Node):
    """``x[index] = value`` on a tensor in a graph."""

    __slots__ = ("index", "value_shape", "value_dtype")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        ga = gb = None
        if fa is not None:
            ga = g.copy()
            ga[self.index] = 0
        if fb is not None and self.value_shape is not None:
            gb = unbroadcast(np.ascontiguousarray(g[self.index]), self.value_shape,
                             self.value_dtype)
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        ga = gb = None
        if fa is not None:
            ga = g.clone()
            ga[self.index] = 0.0
        if fb is not None and self.value_shape is not None:
            gb = sum_to(g[self.index], self.value_shape, self.value_dtype)
        return ga, gb


def fill(a: Tensor, value: Any) -> Tensor:
    """The result of ``a.fill_(value)`` as a new tensor with its node."""
    res = np.empty_like(a._data)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(
                "fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value._data.ndim} dimensions.")
        res[...] = value._data
        if recording(value):
            return out(res, FillBackward3((edge(a), edge(value))))
        return out(res, FillBackward2((edge(a),)) if recording(a) else None)
    res[...] = value
    if not recording(a):
        return out(res)
    cls = ZeroBackward0 if value == 0 else FillBackward2
    return out(res, cls((edge(a),)))


def copy_from(a: Tensor, src: Any) -> Tensor:
    """The result of ``a.copy_(src)``."""
    s = src._data if isinstance(src, Tensor) else np.asarray(src)
    res = np.empty_like(a._data)
    res[...] = np.broadcast_to(s, res.shape)
    if not recording(a, src):
        return out(res)
    node = CopyBackwards((edge(a), edge(src) if isinstance(src, Tensor) else (None, 0)))
    node.src_shape, node.src_dtype = s.shape, s.dtype
    return out(res, node)


def setitem(a: Tensor, index: Any, value: Any) -> Tensor:
    """The result of ``a[index] = value``."""
    from engine.tensor import _np_index

    idx = _np_index(index)
    res = a._data.copy()
    is_t = isinstance(value, Tensor)
    res[idx] = value._data if is_t else value
    if not recording(a, value):
        return out(res)
    node = CopySlices((edge(a), edge(value) if is_t else (None, 0)))
    node.index = idx
    node.value_shape = value._data.shape if is_t else None
    node.value_dtype = value._data.dtype if is_t else None
    return out(res, node)
