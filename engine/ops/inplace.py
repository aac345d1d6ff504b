"""In-place writes: ``zero_``, ``fill_``, ``copy_``, ``add_``/``sub_``/``mul_``/``div_`` and
``x[i] = v``, bound as Tensor methods by ``engine.ops.methods``.

torch's checks come first (``check_inplace``).  A write that records computes the
out-of-place result with its node, then writes it into the tensor's own buffer and takes
over the history (``_inplace``); through a view, the base gets a ``CopySlices``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine._base import dtypes, grad_mode, messages
from engine._base.arrays import broadcast_shape
from engine.graph import AccumulateGrad, Node
from engine.ops import elementwise
from engine.ops.base import const, edge, out, recording, sum_to, unbroadcast
from engine.ops.indexing import advanced_index
from engine.tensor import Tensor, _wrap

# How far up a chain of single-input nodes a view's leaf base is looked for.
VIEW_DEPTH = 64


# ---------------------------------------------------------------- recorded forms of the writes
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


class CopyBackwards(Node):
    __slots__ = ("src_shape", "src_dtype")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        return (_zeros_for_old(self, g), unbroadcast(g, self.src_shape, self.src_dtype))

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        return (_zeros_for_old(self, g), sum_to(g, self.src_shape, self.src_dtype))


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


def setitem(a: Tensor, index: Any, value: Any) -> Tensor:
    """The result of ``a[index] = value``."""
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


# ---------------------------------------------------------------- the Tensor methods
def check_inplace(self: Tensor, view: bool = False, other: Any = None) -> None:
    """torch's refusals before an in-place write: into a leaf that requires grad, into
    a view of one, into a view made under no_grad when the write would be recorded,
    and into memory that several elements share (an expanded view).

    ``view``: the write goes through a view taken first (``x[0] = v``); ``other``: the
    value written or combined in (it may require grad).
    """
    if grad_mode._state.enabled:
        info = self._x.view if self._x is not None else None
        if info is not None and info.no_grad and (
                self._rg or info.base._rg or isinstance(other, Tensor) and other._rg):
            raise RuntimeError(messages.NO_GRAD_VIEW.format("is being"))
        if self._rg:
            if info is not None and info.base._rg and info.base._fn is None:
                raise RuntimeError(messages.VIEW_OF_LEAF_INPLACE)
            if self.grad_fn is None:
                raise RuntimeError(
                    messages.VIEW_OF_LEAF_INPLACE if view else messages.LEAF_INPLACE)
            if info is None and self._data.base is not None and _leaf_base(self):
                raise RuntimeError(messages.VIEW_OF_LEAF_INPLACE)
    data = self._data
    if not data.flags.writeable and 0 in data.strides and data.size > 1:
        raise RuntimeError(messages.OVERLAP)


def _leaf_base(self: Tensor) -> Tensor | None:
    """The leaf requiring grad this tensor is a view of, if any.

    Views share their base's version counter, so the leaf is found by walking up
    the single-input nodes to an AccumulateGrad whose variable shares ``_vc``.
    """
    node = self.grad_fn
    for _ in range(VIEW_DEPTH):
        if node is None or len(node.next_functions) != 1:
            return None
        node = node.next_functions[0][0]
        if type(node) is AccumulateGrad:
            leaf = node.variable
            return leaf if leaf._vc is self._vc and leaf._rg else None
    return None


def _inplace(self: Tensor, result: Tensor) -> Tensor:
    """Write an out-of-place ``result`` into this tensor and take over its history."""
    data = self._data
    res = result._data
    if res.dtype != data.dtype and not dtypes.can_cast(res.dtype, data.dtype):
        raise RuntimeError(
            f"result type {dtypes.from_np(res.dtype).scalar_name} can't be cast to "
            f"the desired output type {dtypes.from_np(data.dtype).scalar_name}")
    if res.shape != data.shape:
        raise RuntimeError(
            f"output with shape {list(data.shape)} doesn't match the broadcast shape "
            f"{list(res.shape)}")
    fn = result._fn
    info = self._x.view if self._x is not None else None
    positions = info.positions(self) if info is not None and fn is not None else None
    data[...] = res
    self._vc[0] += 1
    if fn is None:
        return self
    if positions is not None:
        # Through a view: the base takes a CopySlices over its old history, and the
        # view's own history is rebuilt from the base's (torch's rebase_history).
        base = info.base
        base._set_history(view_copy_slices(base, fn, positions, data.shape), 0)
        base._rg = True
        info.version = -1
        self._rg = True
        self.grad_fn  # noqa: B018 - rebuilds the view's history now, as torch does
        return self
    self._set_history(fn, result._output_nr)
    self._rg = True
    return self


def _recording_copy(self: Tensor) -> Tensor:
    """A snapshot of this tensor with its history, for in-place ops that record."""
    return _wrap(self._data.copy(), self._rg, self.grad_fn, self._output_nr)


def _records(self: Tensor, other: Any = None) -> bool:
    return grad_mode._state.enabled and (
        self._rg or (isinstance(other, Tensor) and other._rg))


def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place and return self (``w.grad.zero_()``).

    >>> engine.ones(2).zero_()
    tensor([0., 0.])
    """
    if self._x is None and not self._rg:  # a plain tensor (``w.grad``): fill_'s checks
        data = self._data  # reduce to the overlap one, and nothing can be recorded
        if not data.flags.writeable and 0 in data.strides and data.size > 1:
            raise RuntimeError(messages.OVERLAP)
        data.fill(0)
        self._vc[0] += 1
        return self
    return fill_(self, 0)


def fill_(self: Tensor, value: float | Tensor) -> Tensor:
    """Set every element to ``value`` in place and return self.

    >>> engine.zeros(2).fill_(1.5)
    tensor([1.5000, 1.5000])
    """
    check_inplace(self, other=value)
    if _records(self, value):
        return _inplace(self, fill(self, value))
    self._data[...] = value._data if isinstance(value, Tensor) else value
    self._vc[0] += 1
    return self


def copy_(self: Tensor, src: Tensor) -> Tensor:
    """Copy ``src``'s values (broadcast) into this tensor and return self.

    >>> engine.zeros(2, 2).copy_(engine.tensor([1.0, 2.0]))
    tensor([[1., 2.],
            [1., 2.]])
    """
    check_inplace(self, other=src)
    if _records(self, src):
        return _inplace(self, copy_from(self, src))
    self._data[...] = src._data if isinstance(src, Tensor) else src
    self._vc[0] += 1
    return self


def add_(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """In-place ``self += alpha * other``.

    >>> engine.ones(2).add_(engine.tensor([1.0, 2.0]), alpha=2)
    tensor([3., 5.])
    """
    return _binary_inplace(self, "add", other, alpha)


def sub_(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """In-place ``self -= alpha * other``.

    >>> engine.ones(2).sub_(0.5)
    tensor([0.5000, 0.5000])
    """
    return _binary_inplace(self, "sub", other, alpha)


def mul_(self: Tensor, other: Any) -> Tensor:
    """In-place ``self *= other``.

    >>> engine.tensor([1.0, 2.0]).mul_(3)
    tensor([3., 6.])
    """
    return _binary_inplace(self, "mul", other, 1)


def div_(self: Tensor, other: Any) -> Tensor:
    """In-place ``self /= other``.

    >>> engine.tensor([1.0, 2.0]).div_(4)
    tensor([0.2500, 0.5000])
    """
    return _binary_inplace(self, "div", other, 1)


def _binary_inplace(self: Tensor, op: str, other: Any, alpha: float) -> Tensor:
    check_inplace(self, other=other)
    records = _records(self, other)
    if not records and alpha == 1 and op in _UFUNCS and _ufunc_inplace(
            self, _UFUNCS[op], other):
        return self
    fn = getattr(elementwise, op)
    args = (other, alpha) if op in ("add", "sub") else (other,)
    if records:
        return _inplace(self, fn(_recording_copy(self), *args))
    with grad_mode.no_grad():
        return _inplace(self, fn(self.detach(), *args))


def assign(self: Tensor, index: Any, value: Any) -> None:
    check_inplace(self, view=_takes_view(index), other=value)
    if _records(self, value):
        _inplace(self, setitem(_recording_copy(self), index, value))
        return
    self._data[_np_index(index)] = value._data if isinstance(value, Tensor) else value
    self._vc[0] += 1


_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply}


def _ufunc_inplace(t: Tensor, ufunc: np.ufunc, other: Any) -> bool:
    """An unrecorded ``t += other`` (``-=``, ``*=``) written straight into ``t``'s buffer,
    as torch does, without the out-of-place result and its copy (``p -= lr * p.grad``).
    Only for a float tensor and an operand that neither changes the dtype nor broadcasts
    ``t``; False leaves every other case (and its errors) to the general path."""
    data = t._data
    if data.dtype.kind != "f":
        return False
    if isinstance(other, Tensor):
        od = other._data
        if od.dtype != data.dtype or (od.shape != data.shape and _broadcast(
                data.shape, od.shape) != data.shape):
            return False
    elif type(other) is float or type(other) is int:
        od = other
    else:
        return False
    if ufunc is np.multiply or type(od) is not np.ndarray and math.isfinite(od):
        ufunc(data, od, out=data)
    else:  # as the out-of-place ops: inf - inf is NaN, silently
        with np.errstate(invalid="ignore", over="ignore"):
            ufunc(data, od, out=data)
    t._vc[0] += 1
    return True


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return broadcast_shape(a, b)
    except RuntimeError:
        return None


def _np_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index


def _takes_view(index: Any) -> bool:
    """Whether torch indexes a view first for ``x[index] = v`` (an int, part slice or None)."""
    for i in index if isinstance(index, tuple) else (index,):
        if i is None or isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            return True
        if isinstance(i, slice) and i != slice(None):
            return True
        if isinstance(i, Tensor) and i._data.ndim == 0 and i._data.dtype.kind in "iu":
            return True
    return False


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = []
METHODS = {"zero_": zero_, "fill_": fill_, "copy_": copy_, "add_": add_, "sub_": sub_,
           "mul_": mul_, "div_": div_}
