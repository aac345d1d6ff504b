"""Recorded forms of in-place writes (``fill_``, ``copy_``, ``x[i] = v``) for tensors in
a graph.  ``Tensor`` computes the out-of-place result here, then writes it into its
own buffer and takes over the history."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.graph import Node
from engine.ops.base import const, edge, out, recording, sum_to, unbroadcast
from engine.tensor import Tensor


def _zeros_for_old(node: Node, g: Any) -> Any:
    """The gradient of an overwritten value: zeros, as torch sends (None if unused)."""
    if node.next_functions[0][0] is None:
        return None
    if isinstance(g, Tensor):
        return const(np.zeros(g._data.shape, g._data.dtype))
    return np.zeros(g.shape, g.dtype)


class FillBackward2(Node):
    """Filling with a number: the old value gets a zero gradient."""

    __slots__ = ("shape",)

    def apply(self, grads: list) -> tuple:
        return (_zeros_for_old(self, grads[0]),)

    def apply_graph(self, grads: list) -> tuple:
        return (_zeros_for_old(self, grads[0]),)


class FillBackward3(Node):
    """Filling with a 0-d tensor: its gradient is the sum of the incoming one."""

    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        return (_zeros_for_old(self, g), np.asarray(unbroadcast(g, ())))

    def apply_graph(self, grads: list) -> tuple:
        return (_zeros_for_old(self, grads[0]), grads[0].sum())


class ZeroBackward0(FillBackward2):
    __slots__ = ()


class CopyBackwards(Node):
    __slots__ = ("src_shape", "src_dtype")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        return (_zeros_for_old(self, g), unbroadcast(g, self.src_shape, self.src_dtype))

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        return (_zeros_for_old(self, g), sum_to(g, self.src_shape, self.src_dtype))


class CopySlices(Node):
    """A write into part of a tensor in a graph, in torch's two forms.

    ``x[index] = value`` (``fn`` is None): the written part's gradient goes to ``value``
    and the rest to the old ``x``.  An in-place op on a view of ``x`` (``fn`` is that op's
    node, ``positions`` the view's flat offsets in ``x``): the view's part of the gradient
    runs through ``fn``, whose result for the view's old value replaces that part; the
    rest of ``x``'s gradient passes unchanged.  ``fn``'s other inputs are this node's.
    Like torch's, the node lets go of ``fn`` after a backward without ``retain_graph``,
    so a second backward through it is refused.
    """

    __slots__ = ("index", "value_shape", "value_dtype", "fn", "positions", "view_shape")

    def check_saved(self) -> None:
        Node.check_saved(self)
        if self.fn is not None:
            self.fn.check_saved()

    def release(self) -> None:
        Node.release(self)
        if self.fn is not None:
            self.fn.release()

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        if self.fn is not None:
            return self._apply_view(g)
        (fa, _), (fb, _) = self.next_functions
        ga = gb = None
        if fa is not None:
            ga = g.copy()
            ga[self.index] = 0
        if fb is not None and self.value_shape is not None:
            gb = unbroadcast(np.ascontiguousarray(g[self.index]), self.value_shape,
                             self.value_dtype)
        return ga, gb

    def _apply_view(self, g: np.ndarray) -> tuple:
        g = np.array(g, order="C")  # a fresh copy: the base's gradient is built in it
        part = g.reshape(-1)
        res = self.fn.apply([part[self.positions].reshape(self.view_shape)])
        ga = None
        if self.next_functions[0][0] is not None:
            part[self.positions] = 0 if res[0] is None else res[0].reshape(-1)
            ga = g
        return (ga, *res[1:])

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        if self.fn is not None:
            return self._apply_view_graph(g)
        (fa, _), (fb, _) = self.next_functions
        ga = gb = None
        if fa is not None:
            ga = g.clone()
            ga[self.index] = 0.0
        if fb is not None and self.value_shape is not None:
            gb = sum_to(g[self.index], self.value_shape, self.value_dtype)
        return ga, gb

    def _apply_view_graph(self, g: Tensor) -> tuple:
        from engine.ops.indexing import advanced_index

        flat_g = g.reshape(-1)
        res = self.fn.apply_graph([advanced_index(flat_g, self.positions)
                                   .reshape(self.view_shape)])
        ga = None
        if self.next_functions[0][0] is not None:
            part = 0.0 if res[0] is None else res[0].reshape(-1)
            ga = setitem(flat_g, self.positions, part).reshape(g._data.shape)
        return (ga, *res[1:])


def view_copy_slices(base: Tensor, fn: Node, positions: np.ndarray,
                     view_shape: tuple[int, ...]) -> CopySlices:
    """The node an in-place op on a view gives its base: ``fn`` is the op's node, whose
    first input (the view's old value) is replaced by the base's old history."""
    node = CopySlices((edge(base), *fn.next_functions[1:]))
    node.index = node.value_shape = node.value_dtype = None
    node.fn, node.positions, node.view_shape = fn, positions, view_shape
    node.save()  # holds ``fn``: freed by backward, as torch frees it
    return node


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
    node.save()  # nothing to keep, but torch refuses a second backward through it
    node.fn = node.positions = node.view_shape = None
    node.index = idx
    node.value_shape = value._data.shape if is_t else None
    node.value_dtype = value._data.dtype if is_t else None
    return out(res, node)
