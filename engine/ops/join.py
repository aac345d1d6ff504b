"""Joining and splitting: cat, stack, split, chunk, unbind, repeat and gather.

``split``/``chunk``/``unbind`` record one node with several outputs (torch's
``SplitBackward0`` etc.); the engine buffers a gradient per output and the node
fills the missing ones with zeros.  Backward passes only move data (numpy),
except repeat's tile sum (Numba ``sum_to``) and gather's scatter-add (Numba).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine._base import dtypes
from engine._base.arrays import wrap_dim
from engine.graph import Node
from engine.kernels.indexing import scatter_add
from engine.ops.base import const, edge, flat, out, recording, takes_out, unbroadcast
from engine.ops.convert import cast
from engine.ops.indexing import advanced_index
from engine.ops.shape import select, slice_dim
from engine.tensor import Tensor


def _common_dtype(ts: Sequence[Tensor]) -> np.dtype:
    want = ts[0]._data.dtype
    for t in ts[1:]:
        d = t._data.dtype
        if d != want:
            want = dtypes.result_np_dtype(want, False, None, d, False)
    return want


# ---------------------------------------------------------------- cat / stack
class CatBackward0(Node):
    __slots__ = ("dim", "sizes", "dtypes")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        bounds = np.cumsum(self.sizes)[:-1]
        parts = np.split(g, bounds, axis=self.dim)
        return tuple(None if f is None else np.ascontiguousarray(p, dtype=dt)
                     for (f, _), p, dt in zip(self.next_functions, parts, self.dtypes))

    def apply_graph(self, grads: list) -> tuple:
        g, res, start = grads[0], [], 0
        for (f, _), size, dt in zip(self.next_functions, self.sizes, self.dtypes):
            if f is not None:
                res.append(cast(slice_dim(g, self.dim, slice(start, start + size)), dt))
            else:
                res.append(None)
            start += size
        return tuple(res)


# cat/stack(out=): torch names cat for both
_CAT_OUT = "engine.cat(): input types can't be cast to the desired output type {out}"


@takes_out(message=_CAT_OUT, error=TypeError)
def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing ``dim`` (with torch's dtype promotion).

    >>> engine.cat([engine.ones(2), engine.zeros(1)])
    tensor([1., 1., 0.])
    """
    ts = _check_seq(tensors, "cat")
    ts_used = [t for t in ts if not (t._data.ndim == 1 and t._data.size == 0)] or ts
    nd = ts_used[0]._data.ndim
    if nd == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = wrap_dim(dim, nd)
    want = _common_dtype(ts_used)
    ref = ts_used[0]._data.shape
    for i, t in enumerate(ts_used):
        s = t._data.shape
        if len(s) != nd:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and "
                               f"{len(s)}")
        for k in range(nd):
            if k != d and s[k] != ref[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {ref[k]} but got size {s[k]} for tensor "
                                   f"number {i} in the list.")
    res = np.concatenate([t._data.astype(want, copy=False) for t in ts_used], axis=d)
    if not recording(*ts_used):
        return out(res)
    node = CatBackward0(tuple(edge(t) for t in ts_used))
    node.dim = d
    node.sizes = [t._data.shape[d] for t in ts_used]
    node.dtypes = [t._data.dtype for t in ts_used]
    return out(res, node)


class StackBackward0(Node):
    __slots__ = ("dim", "dtypes")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        return tuple(None if f is None else
                     # (asarray, not ascontiguousarray: that makes a 0-d piece 1-d)
                     np.asarray(np.take(g, i, axis=self.dim), dtype=dt, order="C")
                     for i, ((f, _), dt) in enumerate(zip(self.next_functions, self.dtypes)))

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        return tuple(None if f is None else cast(select(g, self.dim, i), dt)
                     for i, ((f, _), dt) in enumerate(zip(self.next_functions, self.dtypes)))


@takes_out(message=_CAT_OUT, error=TypeError)
def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new ``dim``.

    >>> engine.stack([engine.ones(2), engine.zeros(2)]).shape
    engine.Size([2, 2])
    """
    ts = _check_seq(tensors, "stack")
    shape = ts[0]._data.shape
    for i, t in enumerate(ts):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t._data.shape)} at entry {i}")
    d = wrap_dim(dim, len(shape) + 1)
    want = _common_dtype(ts)
    res = np.stack([t._data.astype(want, copy=False) for t in ts], axis=d)
    if not recording(*ts):
        return out(res)
    node = StackBackward0(tuple(edge(t) for t in ts))
    node.dim = d
    node.dtypes = [t._data.dtype for t in ts]
    return out(res, node)


def _check_seq(tensors: Any, name: str) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise RuntimeError(f"{name}(): expected a non-empty list of Tensors")
    return list(tensors)


# ---------------------------------------------------------------- split / chunk / unbind
class SplitBackward0(Node):
    """One node, one output per piece; pieces without a gradient count as zeros."""

    __slots__ = ("num_outputs", "dim", "shapes")

    def apply(self, grads: list) -> tuple:
        dt = next(g.dtype for g in grads if g is not None)
        parts = [np.zeros(s, dt) if g is None else g for g, s in zip(grads, self.shapes)]
        return (np.concatenate(parts, axis=self.dim),)

    def apply_graph(self, grads: list) -> tuple:
        return (cat(self._parts(grads), self.dim),)

    def _parts(self, grads: list) -> list:
        dt = next(g._data.dtype for g in grads if g is not None)
        return [const(np.zeros(s, dt)) if g is None else g for g, s in zip(grads, self.shapes)]


class SplitWithSizesBackward0(SplitBackward0):
    __slots__ = ()


def split(tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
          ) -> tuple[Tensor, ...]:
    """Views of ``tensor`` cut along ``dim``: equal pieces of a size, or a list of sizes.

    >>> [p.shape[0] for p in engine.arange(5).split(2)]
    [2, 2, 1]
    """
    x = tensor._data
    d = wrap_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else [0]
        cls = SplitBackward0
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
        cls = SplitWithSizesBackward0
    bounds = np.cumsum(sizes)[:-1]
    return _pieces(tensor, np.split(x, bounds, axis=d), cls, d)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of ``ceil(n / chunks)`` (the last may be smaller).

    >>> len(engine.ones(5).chunk(2))
    2
    """
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    n = input._data.shape[wrap_dim(dim, input._data.ndim)]
    return split(input, max(-(-n // chunks), 1), dim)


class UnbindBackward0(SplitBackward0):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        dt = next(g.dtype for g in grads if g is not None)
        parts = [np.zeros(s, dt) if g is None else g for g, s in zip(grads, self.shapes)]
        return (np.stack(parts, axis=self.dim),)

    def apply_graph(self, grads: list) -> tuple:
        return (stack(self._parts(grads), self.dim),)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, that dim removed.

    >>> [t.tolist() for t in engine.tensor([[1, 2], [3, 4]]).unbind(1)]
    [[1, 3], [2, 4]]
    """
    x = input._data
    d = wrap_dim(dim, x.ndim)
    return _pieces(input, [np.take(x, i, axis=d) for i in range(x.shape[d])], UnbindBackward0, d)


def _pieces(a: Tensor, views: list[np.ndarray], cls: type, d: int) -> tuple[Tensor, ...]:
    node = None
    if recording(a):
        node = cls((edge(a),))
        node.num_outputs = len(views)
        node.dim = d
        node.shapes = [v.shape for v in views]
    res = []
    for i, v in enumerate(views):
        t = out(v, node, i)
        t._vc = a._vc  # views share the base's version counter
        res.append(t)
    return tuple(res)


# ---------------------------------------------------------------- repeat / gather
class RepeatBackward0(Node):
    __slots__ = ("shape", "reps", "padded")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        inter: list[int] = []
        small: list[int] = []
        for r, s in zip(self.reps, self.padded):
            inter += [r, s]
            small += [1, s]
        g = unbroadcast(np.ascontiguousarray(g).reshape(inter), tuple(small))
        return (g.reshape(self.shape),)

    def apply_graph(self, grads: list) -> tuple:
        inter: list[int] = []
        for r, s in zip(self.reps, self.padded):
            inter += [r, s]
        tiles = tuple(range(0, len(inter), 2))
        g = grads[0].reshape(inter)
        return ((g.sum(tiles) if tiles else g).reshape(self.shape),)


def repeat(a: Tensor, *sizes: Any) -> Tensor:
    """Tile ``a`` ``sizes[i]`` times along each dim (leading new dims allowed).

    >>> engine.tensor([1, 2]).repeat(2)
    tensor([1, 2, 1, 2])
    """
    reps = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (list, tuple)) \
        else tuple(int(s) for s in sizes)
    x = a._data
    if len(reps) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    padded = (1,) * (len(reps) - x.ndim) + x.shape
    res = np.tile(x.reshape(padded), reps)
    if not recording(a):
        return out(res)
    node = RepeatBackward0((edge(a),))
    node.shape, node.reps, node.padded = x.shape, reps, padded
    return out(res, node)


class GatherBackward0(Node):
    __slots__ = ("shape", "positions")

    def apply(self, grads: list) -> tuple:
        g = np.ascontiguousarray(grads[0])
        size = int(np.prod(self.shape))
        return (scatter_add(flat(g), self.positions, size).reshape(self.shape),)

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        size = int(np.prod(self.shape))
        full = scatter_add(flat(np.ascontiguousarray(g._data)), self.positions, size)
        node = None
        if recording(g):
            node = ScatterAddBackward0((edge(g),))
            node.positions, node.shape = self.positions, g._data.shape
        return (out(full.reshape(self.shape), node),)


class ScatterAddBackward0(Node):
    """The recorded scatter-add of gather's gradient: its own backward gathers back."""

    __slots__ = ("positions", "shape")

    def apply(self, grads: list) -> tuple:
        return (np.ascontiguousarray(grads[0]).reshape(-1)[self.positions].reshape(self.shape),)

    def apply_graph(self, grads: list) -> tuple:
        return (advanced_index(grads[0].reshape(-1), self.positions).reshape(self.shape),)


@takes_out(rule="same")
def gather(input: Tensor, dim: int, index: Tensor, *,  # noqa: A002
           sparse_grad: bool = False) -> Tensor:
    """``out[i][j] = a[i][index[i][j]]`` for ``dim=1`` (and likewise for other dims).

    The gradient scatter-adds, so repeated indices accumulate; it is always dense (the
    engine has no sparse tensors, so ``sparse_grad=True`` refuses).

    >>> engine.tensor([[1, 2], [3, 4]]).gather(1, engine.tensor([[1], [0]]))
    tensor([[2],
            [3]])
    """
    if sparse_grad:
        raise NotImplementedError("gather(sparse_grad=True): JitGrad has no sparse tensors")
    x = input._data
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype != np.int64:
        raise RuntimeError("gather(): Expected dtype int64 for index")
    d = wrap_dim(dim, x.ndim)
    if idx.ndim != x.ndim and not (idx.ndim <= 1 and x.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input "
                           "tensor")
    for k in range(idx.ndim):
        if k != d and idx.shape[k] > x.shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(idx.shape)} to be smaller than self {list(x.shape)} "
                               f"apart from dimension {d}")
    n = x.shape[d] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise RuntimeError(f"index {int(idx.max())} is out of bounds for dimension {d} with "
                           f"size {n}")
    idx = np.where(idx < 0, idx + n, idx)
    crop = tuple(slice(None) if k == d else slice(0, idx.shape[k]) for k in range(x.ndim))
    # a 0-d input has one element: every (valid) index picks it
    res = np.take_along_axis(x[crop], idx, axis=d) if x.ndim else \
        np.broadcast_to(x, idx.shape).copy()
    if not recording(input):
        return out(np.asarray(res, order="C"))
    node = GatherBackward0((edge(input),))
    node.shape = x.shape
    grid = np.arange(x.size, dtype=np.int64).reshape(x.shape)
    pos = np.take_along_axis(grid[crop], idx, axis=d) if x.ndim else \
        np.zeros(idx.shape, np.int64)
    node.positions = np.ascontiguousarray(pos).reshape(-1)
    return out(np.asarray(res, order="C"), node)

concat = cat  # torch's alias


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["cat", "chunk", "concat", "gather", "split", "stack", "unbind"]
METHODS = {"split": split, "chunk": chunk, "unbind": unbind, "repeat": repeat, "gather": gather}
