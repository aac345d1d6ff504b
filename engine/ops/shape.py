"""Shape ops: views (view, reshape, transpose, permute, squeeze, unsqueeze, expand),
basic indexing, clone and contiguous.

Views share their base's buffer and version counter, so an in-place change through
a view is seen by every saved-tensor check.  Their backward only moves data, so it
is plain numpy; reductions (expand's backward) use the Numba broadcast kernel.
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine._base import grad_mode
from engine._base.arrays import wrap_dim
from engine.graph import Node
from engine.kernels.indexing import scatter_add
from engine.ops.base import edge, flat, out, recording, sum_to, unbroadcast
from engine.ops.indexing import IndexBackward0, advanced_index
from engine.tensor import Tensor, _ViewInfo


def _view_out(a: Tensor, res: np.ndarray, node: Node | None) -> Tensor:
    """Wrap a view of ``a``: it shares the version counter and remembers its base (and
    whether grad mode was on), so in-place ops through it can update the base's history."""
    t = out(res, node)
    t._vc = a._vc
    if res.dtype.kind == "f":  # only these can ever take part in a graph
        enabled = grad_mode._state.enabled
        ax = a._x
        parent = ax.view if ax is not None else None
        base = a if parent is None else parent.base
        no_grad = not enabled or (parent is not None and parent.no_grad)
        t._extra().view = _ViewInfo(base, no_grad, a._vc[0])
    return t


class AsStridedBackward0(Node):
    """The history a view gets when its base's history changed after the view was made
    (an in-place op on the base or on another view of it): the view's gradient is
    scattered into the base's shape (``positions``: each element's flat offset there),
    as torch's ``as_strided`` backward does."""

    __slots__ = ("shape", "positions")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        size = int(np.prod(self.shape))
        return (scatter_add(flat(g), self.positions, size).reshape(self.shape),)

    apply_graph = IndexBackward0.apply_graph  # the same scatter, recorded


def as_strided_node(base: Tensor, positions: np.ndarray) -> AsStridedBackward0:
    """A view's rebuilt history: ``positions`` are its elements' flat offsets in ``base``."""
    node = AsStridedBackward0((edge(base),))
    node.shape = base._data.shape
    node.positions = positions
    return node


def _unary_node(cls: type, a: Tensor, **attrs: Any) -> Node | None:
    if not recording(a):
        return None
    node = cls((edge(a),))
    for k, v in attrs.items():
        setattr(node, k, v)
    return node


def _sizes(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _infer(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


# ---------------------------------------------------------------- reshape family
class ViewBackward0(Node):
    __slots__ = ("shape",)

    def apply(self, grads: list) -> tuple:
        return (grads[0].reshape(self.shape),)

    def apply_graph(self, grads: list) -> tuple:
        return (grads[0].reshape(self.shape),)


def view(a: Tensor, *shape: Any) -> Tensor:
    """The same data seen with another shape (no copy; the tensor must be contiguous).

    >>> engine.arange(6).view(2, -1)
    tensor([[0, 1, 2],
            [3, 4, 5]])
    """
    new = _infer(_sizes(shape), a._data.size)
    res = _no_copy_reshape(a._data, new)
    if res is None:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    return _view_out(a, res, _unary_node(ViewBackward0, a, shape=a._data.shape))


class UnsafeViewBackward0(ViewBackward0):
    __slots__ = ()


class ReshapeAliasBackward0(ViewBackward0):
    __slots__ = ()


class CloneBackward0(Node):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        return (grads[0],)

    def apply_graph(self, grads: list) -> tuple:
        return (grads[0],)


def clone(input: Tensor) -> Tensor:
    """A copy with its own buffer, still connected to the graph.

    >>> engine.clone(engine.ones(2, requires_grad=True))
    tensor([1., 1.], grad_fn=<CloneBackward0>)
    """
    return out(np.array(input._data, order="C", copy=True), _unary_node(CloneBackward0, input))


def _no_copy_reshape(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """``x`` seen with ``shape`` by new strides alone, or None when that needs a copy."""
    try:
        return np.reshape(x, shape, copy=False)
    except ValueError:
        return None


def _unsafe_view(a: Tensor, shape: tuple[int, ...]) -> Tensor:
    """A reshape of a fresh buffer, recorded as torch's ``_unsafe_view``."""
    return out(a._data.reshape(shape), _unary_node(UnsafeViewBackward0, a, shape=a._data.shape))


def contiguous(a: Tensor) -> Tensor:
    """``a`` itself when already C-contiguous, else a recorded copy.

    >>> x = engine.zeros(2, 3); x.contiguous() is x, x.t().contiguous() is x.t()
    (True, False)
    """
    return a if a._data.flags.c_contiguous else clone(a)


def reshape(input: Tensor, *shape: Any) -> Tensor:
    """``view`` when contiguous, a strided alias when the strides allow it, otherwise copy
    then view (recorded as torch records each case).

    >>> engine.reshape(engine.arange(6), (3, 2))
    tensor([[0, 1],
            [2, 3],
            [4, 5]])
    >>> engine.arange(6).reshape(-1, 3).shape
    engine.Size([2, 3])
    """
    new = _infer(_sizes(shape), input._data.size)
    if input._data.flags.c_contiguous or input._data.size <= 1:
        return _view_out(input, input._data.reshape(new),
                         _unary_node(ViewBackward0, input, shape=input._data.shape))
    res = _no_copy_reshape(input._data, new)
    if res is not None:  # strided, but the new shape fits the strides: torch's _reshape_alias
        return _view_out(input, res,
                         _unary_node(ReshapeAliasBackward0, input, shape=input._data.shape))
    return _unsafe_view(clone(input), new)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one.

    >>> x = engine.zeros(2, 3, 4); engine.flatten(x).shape, x.flatten(1).shape
    (engine.Size([24]), engine.Size([2, 12]))
    """
    shape = input._data.shape
    if not shape:
        return reshape(input, 1)
    s, e = wrap_dim(start_dim, len(shape)), wrap_dim(end_dim, len(shape))
    if s == e:
        return input
    mid = 1
    for d in shape[s:e + 1]:
        mid *= d
    return reshape(input, shape[:s] + (mid,) + shape[e + 1:])


# ---------------------------------------------------------------- transposes
class TransposeBackward0(Node):
    __slots__ = ("d0", "d1")

    def apply(self, grads: list) -> tuple:
        return (np.swapaxes(grads[0], self.d0, self.d1),)

    def apply_graph(self, grads: list) -> tuple:
        return (grads[0].transpose(self.d0, self.d1),)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view).

    >>> engine.transpose(engine.zeros(2, 3, 4), 0, 2).shape
    engine.Size([4, 3, 2])
    """
    nd = input._data.ndim
    d0, d1 = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    res = np.swapaxes(input._data, d0, d1) if nd else input._data
    return _view_out(input, res, _unary_node(TransposeBackward0, input, d0=d0, d1=d1))


class PermuteBackward0(Node):
    __slots__ = ("inverse",)

    def apply(self, grads: list) -> tuple:
        return (np.transpose(grads[0], self.inverse),)

    def apply_graph(self, grads: list) -> tuple:
        return (grads[0].permute(*self.inverse),)


def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder dims (a view).

    >>> engine.permute(engine.zeros(2, 3, 4), (2, 0, 1)).shape
    engine.Size([4, 2, 3])
    """
    nd = input._data.ndim
    perm = tuple(wrap_dim(d, nd) for d in _sizes(dims))
    if sorted(perm) != list(range(nd)):
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal "
            f"to len(dims) = {len(perm)}" if len(perm) != nd else "permute(): duplicate dims")
    inverse = tuple(int(i) for i in np.argsort(perm))
    return _view_out(input, np.transpose(input._data, perm),
                     _unary_node(PermuteBackward0, input, inverse=inverse))


class TBackward0(Node):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        return (grads[0].T,)

    def apply_graph(self, grads: list) -> tuple:
        return (grads[0].t(),)


def t(input: Tensor) -> Tensor:
    """Transpose a matrix (``<= 2`` dims).

    >>> engine.t(engine.tensor([[1, 2, 3]]))
    tensor([[1],
            [2],
            [3]])
    """
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input._data.ndim}D")
    return _view_out(input, input._data.T, _unary_node(TBackward0, input))


def T(a: Tensor) -> Tensor:  # noqa: N802 - torch's property name
    """All dims reversed (torch records it as a permute); the ``Tensor.T`` property.

    >>> engine.tensor([[1, 2], [3, 4]]).T
    tensor([[1, 3],
            [2, 4]])
    """
    nd = a._data.ndim
    if nd != 2:
        warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their "
                      "shape is deprecated; use x.mT or x.permute(...)", UserWarning,
                      stacklevel=3)
    return permute(a, *range(nd - 1, -1, -1))


def mT(a: Tensor) -> Tensor:  # noqa: N802
    """Transpose the last two dims; the ``Tensor.mT`` property.

    >>> engine.zeros(5, 2, 3).mT.shape
    engine.Size([5, 3, 2])
    """
    if a._data.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {a._data.ndim}-D tensor.")
    return transpose(a, -2, -1)


# ---------------------------------------------------------------- squeeze / unsqueeze / expand
class SqueezeBackward0(ViewBackward0):
    __slots__ = ()


class SqueezeBackward1(ViewBackward0):
    __slots__ = ()


class SqueezeBackward2(ViewBackward0):
    __slots__ = ()


class SqueezeBackward4(ViewBackward0):
    """Recorded by matmul's in-place ``squeeze_`` of a 1-D operand's result, as in torch."""

    __slots__ = ()


def squeeze(input: Tensor, dim: int | Sequence[int] | None = None, _cls: type | None = None
            ) -> Tensor:
    """Drop dims of size 1 (all, one, or a tuple of them).

    >>> x = engine.zeros(1, 2, 1); engine.squeeze(x).shape, x.squeeze(0).shape
    (engine.Size([2]), engine.Size([2, 1]))
    """
    shape = input._data.shape
    if dim is None:
        cls, dims = SqueezeBackward0, tuple(range(len(shape)))
    elif isinstance(dim, int):
        cls, dims = SqueezeBackward1, (wrap_dim(dim, len(shape)),)
    else:
        cls, dims = SqueezeBackward2, tuple(wrap_dim(d, len(shape)) for d in dim)
    new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return _view_out(input, input._data.reshape(new), _unary_node(_cls or cls, input, shape=shape))


class UnsqueezeBackward0(ViewBackward0):
    __slots__ = ()


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at ``dim``.

    >>> engine.unsqueeze(engine.tensor([1, 2]), 0), engine.tensor([1, 2]).unsqueeze(-1).shape
    (tensor([[1, 2]]), engine.Size([2, 1]))
    """
    nd = input._data.ndim + 1
    d = wrap_dim(dim, nd)
    # basic indexing with None: the same view as np.expand_dims, ~20x cheaper on tiny arrays
    return _view_out(input, input._data[(slice(None),) * d + (None,)],
                     _unary_node(UnsqueezeBackward0, input, shape=input._data.shape))


class ExpandBackward0(Node):
    __slots__ = ("shape",)

    def apply(self, grads: list) -> tuple:
        return (unbroadcast(grads[0], self.shape),)

    def apply_graph(self, grads: list) -> tuple:
        return (sum_to(grads[0], self.shape),)


def expand(a: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` without copying; -1 keeps a dim.

    >>> engine.expand(engine.tensor([[1], [2]]), 2, 3)
    tensor([[1, 1, 1],
            [2, 2, 2]])
    >>> engine.ones(1, 3).expand(4, -1).shape
    engine.Size([4, 3])
    """
    shape = a._data.shape
    want = _sizes(sizes)
    if len(want) < len(shape):
        raise RuntimeError(
            f"expand(engine.{a.dtype.tensor_type}{{{list(shape)}}}, size={list(want)}): the "
            "number of sizes provided must be greater or equal to the number of dimensions "
            "in the tensor")
    pad = (1,) * (len(want) - len(shape)) + shape
    new = tuple(p if w == -1 else w for p, w in zip(pad, want))
    for i, (p, w) in enumerate(zip(pad, new)):
        if p != w and p != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({w}) must match the existing size ({p}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(want)}.  Tensor sizes: "
                f"{list(shape)}")
    return _view_out(a, np.broadcast_to(a._data, new),
                     _unary_node(ExpandBackward0, a, shape=shape))


# ---------------------------------------------------------------- basic indexing
class SelectBackward0(Node):
    __slots__ = ("shape", "dim", "index")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        full = np.zeros(self.shape, g.dtype)
        full[(slice(None),) * self.dim + (self.index,)] = g
        return (full,)

    def apply_graph(self, grads: list) -> tuple:
        index = (slice(None),) * self.dim + (self.index,)
        return (_embed(grads[0], self.shape, index, SelectBackwardBackward0),)


class SliceBackward0(Node):
    __slots__ = ("shape", "dim", "slice")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        full = np.zeros(self.shape, g.dtype)
        full[(slice(None),) * self.dim + (self.slice,)] = g
        return (full,)

    def apply_graph(self, grads: list) -> tuple:
        index = (slice(None),) * self.dim + (self.slice,)
        return (_embed(grads[0], self.shape, index, SliceBackwardBackward0),)


class AliasBackward0(CloneBackward0):
    __slots__ = ()


class _EmbedBackward(Node):
    """Backward of placing a gradient inside zeros: read the same place back."""

    __slots__ = ("index",)

    def apply(self, grads: list) -> tuple:
        return (np.ascontiguousarray(grads[0][self.index]),)

    def apply_graph(self, grads: list) -> tuple:
        return (getitem(grads[0], self.index),)


class SelectBackwardBackward0(_EmbedBackward):
    __slots__ = ()


class SliceBackwardBackward0(_EmbedBackward):
    __slots__ = ()


def _embed(g: Tensor, shape: tuple[int, ...], index: tuple, cls: type) -> Tensor:
    """Zeros of ``shape`` with ``g`` written at ``index``, recorded (create_graph)."""
    full = np.zeros(shape, g._data.dtype)
    full[index] = g._data
    return out(full, _unary_node(cls, g, index=index))


def select(a: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, that dim removed (``x[i]``)."""
    shape = a._data.shape
    if not shape:
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    d = wrap_dim(dim, len(shape))
    size = shape[d]
    if not -size <= index < size:
        raise IndexError(
            f"index {index} is out of bounds for dimension {d} with size {size}")
    i = index % size
    res = a._data[(slice(None),) * d + (i, Ellipsis)]  # a 0-d result stays a view
    return _view_out(a, res, _unary_node(SelectBackward0, a, shape=shape, dim=d, index=i))


def slice_dim(a: Tensor, dim: int, sl: slice) -> Tensor:
    """Elements ``sl`` along ``dim`` (``x[1:3]``)."""
    shape = a._data.shape
    if sl.step is not None and sl.step <= 0:
        raise ValueError("step must be greater than zero")
    res = a._data[(slice(None),) * dim + (sl,)]
    return _view_out(a, res, _unary_node(SliceBackward0, a, shape=shape, dim=dim, slice=sl))


def getitem(a: Tensor, index: Any) -> Tensor:
    """``a[index]``: basic indexing is recorded step by step as torch does (Select,
    Slice, Unsqueeze); integer arrays and boolean masks go to ``advanced_index``."""
    items = index if isinstance(index, tuple) else (index,)
    if any(_is_advanced(it) for it in items):
        return _mixed_index(a, items)
    nd = a._data.ndim
    if nd == 0 and not isinstance(index, tuple):  # torch's messages for x[0], x[0:1]
        if isinstance(index, slice):
            raise IndexError("slice() cannot be applied to a 0-dim tensor.")
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            return select(a, 0, int(index))
    consumed = sum(1 for it in items if it is not None and it is not Ellipsis)
    if consumed > nd:
        raise IndexError(f"too many indices for tensor of dimension {nd}")
    if sum(1 for it in items if it is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    expanded: list[Any] = []
    for it in items:
        expanded.extend([slice(None)] * (nd - consumed) if it is Ellipsis else [it])
    result, dim = a, 0
    for it in expanded:
        if it is None:
            result = unsqueeze(result, dim)
            dim += 1
        elif isinstance(it, slice):
            if it != slice(None):  # a bare ':' records nothing, like torch
                result = slice_dim(result, dim, it)
            dim += 1
        else:
            result = select(result, dim, int(it))
    if result is a:  # ``x[:]`` records a Slice, ``x[...]`` an Alias
        if nd and any(isinstance(it, slice) for it in items):
            return slice_dim(a, 0, slice(None))
        return _alias(a)
    return result


def _is_advanced(it: Any) -> bool:
    """An integer array/list or a boolean mask (not an int, slice, None or Ellipsis)."""
    if it is None or it is Ellipsis or isinstance(it, (int, slice, np.integer)):
        return False
    return not (isinstance(it, Tensor) and it._data.ndim == 0 and it._data.dtype.kind == "i")


def _mixed_index(a: Tensor, items: tuple) -> Tensor:
    """Advanced indexing as torch records it: the basic items (ints, slices, None) are
    applied first as Select/Slice/Unsqueeze, then one ``index`` gathers with the arrays.
    (So ``x[0, :, [0, 1]]`` has torch's shape, not numpy's.)"""

    def width(it: Any) -> int:  # input dims an item consumes
        if it is None or it is Ellipsis:
            return 0
        if _is_advanced(it):
            arr = it._data if isinstance(it, Tensor) else np.asarray(it)
            return arr.ndim if arr.dtype == np.bool_ else 1
        return 1

    nd = a._data.ndim
    expanded: list[Any] = []
    for it in items:
        if it is Ellipsis:
            expanded.extend([slice(None)] * (nd - builtins.sum(width(i) for i in items)))
        else:
            expanded.append(it)
    result, dim, rest = a, 0, []
    for it in expanded:
        if it is None:
            result = unsqueeze(result, dim)
            rest.append(slice(None))
            dim += 1
        elif isinstance(it, slice):
            if it != slice(None):
                result = slice_dim(result, dim, it)
            rest.append(slice(None))
            dim += 1
        elif _is_advanced(it):
            rest.append(it)
            dim += width(it)
        else:
            result = select(result, dim, int(it))
    return advanced_index(result, tuple(rest))


def _alias(a: Tensor) -> Tensor:
    return _view_out(a, a._data.view(), _unary_node(AliasBackward0, a))


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["clone", "expand", "flatten", "permute", "reshape", "squeeze", "t", "transpose",
           "unsqueeze"]
METHODS = {name: globals()[name] for name in __all__} | {
    "view": view, "contiguous": contiguous, "T": property(T), "mT": property(mT)}
