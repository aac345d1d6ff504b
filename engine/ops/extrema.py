"""Extremes: max/min (whole or along a dim, with indices), amax/amin and argmax/argmin.

The forward is numpy; the backward sends each row's gradient to its extreme element(s)
through the row layout of ``engine.ops.reduce``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from engine._base import messages
from engine._base.arrays import wrap_dim
from engine.kernels import reduce as rk
from engine.ops.base import const, edge, flat, out, recording, takes_out
from engine.ops.reduce import Dims, _row_vals, _RowNode, _Rows, reduce_dims
from engine.ops.selection import maximum, minimum, where
from engine.tensor import Tensor


class MaxResult(NamedTuple):
    """``(values, indices)`` returned by ``max``/``min`` along a dim, like torch's."""

    values: Tensor
    indices: Tensor


# ---------------------------------------------------------------- max / min / amax / amin
class AmaxBackward0(_RowNode):
    """Ties share the gradient evenly (also torch's rule for a whole-tensor max)."""

    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        x, res = self.saved()
        lay = self.layout
        g = _row_vals(grads[0].astype(x.dtype, copy=False))
        r = _row_vals(res)
        gx = rk.amax_bwd(g, flat(x), r, lay.n)
        if lay.n and np.isnan(r).any():
            gx = self._nan_rows(gx, g, x, r, lay.n)
        return (lay.back(gx),)

    def apply_graph(self, grads: list) -> tuple:
        x, res = self.saved()
        mask = self._mask(x, res[:, None])
        with np.errstate(invalid="ignore", divide="ignore"):
            coef = mask / mask.sum(axis=1, keepdims=True)
        return self.spread(grads[0], coef)

    @staticmethod
    def _mask(x: np.ndarray, r: np.ndarray) -> np.ndarray:
        return x == r

    @staticmethod
    def _nan_rows(gx: np.ndarray, g: np.ndarray, x: np.ndarray, r: np.ndarray,
                  n: int) -> np.ndarray:
        """amax/amin of a row holding NaN (torch's grad / count * mask, count 0): NaN."""
        rows = gx.reshape(-1, n)
        rows[np.isnan(r)] = np.nan
        return gx


class AminBackward0(AmaxBackward0):
    __slots__ = ()


class MaxBackward1(AmaxBackward0):
    """Whole-tensor max/min: a NaN result shares the gradient among the NaN entries."""

    __slots__ = ()

    @staticmethod
    def _mask(x: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(r), np.isnan(x), x == r)

    @staticmethod
    def _nan_rows(gx: np.ndarray, g: np.ndarray, x: np.ndarray, r: np.ndarray,
                  n: int) -> np.ndarray:
        rows, xs = gx.reshape(-1, n), x.reshape(-1, n)
        for i in np.flatnonzero(np.isnan(r)):
            mask = np.isnan(xs[i])
            rows[i] = np.where(mask, g[i] / mask.sum(), 0)
        return gx


class MinBackward1(MaxBackward1):
    __slots__ = ()


class MaxBackward0(_RowNode):
    """Along a dim: the gradient goes to the returned index only."""

    __slots__ = ("idx",)

    def apply(self, grads: list) -> tuple:
        lay = self.layout
        gx = rk.index_bwd(_row_vals(grads[0]), self.idx, lay.n)
        return (lay.back(gx),)

    def apply_graph(self, grads: list) -> tuple:
        lay, g = self.layout, grads[0]
        hit = np.zeros((self.idx.size, lay.n), bool)
        hit[np.arange(self.idx.size), self.idx] = True
        return (self.back_t(where(const(hit), g.reshape(-1, 1), 0.0)),)


class MinBackward0(MaxBackward0):
    __slots__ = ()


def _check_nonempty(x: np.ndarray, name: str, dims: tuple[int, ...],
                    explicit: bool = True) -> None:
    """torch's rules: a whole-tensor reduction of an empty tensor has no value; along given
    dims only a zero-size reduced dim does (other empty dims just give an empty result)."""
    if not explicit:
        if x.size == 0:
            raise (IndexError if name.startswith("arg") else RuntimeError)(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument.")
        return
    for d in dims:
        if x.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _extreme_all(a: Tensor, dims: tuple[int, ...], keepdim: bool, largest: bool,
                 cls: type, explicit: bool = False) -> Tensor:
    x = a._data
    name = ("a" if cls in (AmaxBackward0, AminBackward0) else "") + ("max" if largest else "min")
    _check_nonempty(x, name, dims, explicit)
    lay = _Rows(x, dims, keepdim)
    vals = (np.max if largest else np.min)(lay.rows, axis=1)
    res = vals.reshape(lay.out_shape)
    if not recording(a):
        return out(res)
    node = cls((edge(a),))
    node.layout = lay
    node.save_as((a, lay.rows), (a, vals))
    return out(res, node)


def _extreme(a: Tensor, dim: Any, keepdim: bool, largest: bool) -> Tensor | MaxResult:
    if isinstance(dim, Tensor):  # max(a, b): the elementwise form
        return (maximum if largest else minimum)(a, dim)
    x = a._data
    if dim is None:
        return _extreme_all(a, tuple(range(x.ndim)), False, largest,
                            MaxBackward1 if largest else MinBackward1)
    d = wrap_dim(dim, x.ndim)
    dims = (d,) if x.ndim else ()
    _check_nonempty(x, "max" if largest else "min", dims)
    lay = _Rows(x, dims, keepdim)
    idx = (np.argmax if largest else np.argmin)(lay.rows, axis=1).astype(np.int64)
    vals = lay.rows[np.arange(lay.rows.shape[0]), idx]
    indices = out(idx.reshape(lay.out_shape))
    if not recording(a):
        return MaxResult(out(vals.reshape(lay.out_shape)), indices)
    node = (MaxBackward0 if largest else MinBackward0)((edge(a),))
    node.layout, node.idx = lay, idx
    return MaxResult(out(vals.reshape(lay.out_shape), node), indices)


@takes_out(message=messages.CAN_CAST)
def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor | MaxResult:  # noqa: A001
    """The largest element; with ``dim``, ``(values, indices)`` along it.

    A whole-tensor max shares its gradient evenly among tied maxima; along a dim
    the gradient goes to the returned index.  ``max(a, b)`` is ``maximum``.

    >>> engine.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1).indices
    tensor([1, 0])
    """
    return _extreme(input, dim, keepdim, True)


@takes_out(message=messages.CAN_CAST)
def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor | MaxResult:  # noqa: A001
    """The smallest element; with ``dim``, ``(values, indices)`` along it.

    >>> x = engine.tensor([[3.0, 1.0], [2.0, 5.0]])
    >>> engine.min(x)
    tensor(1.)
    >>> values, indices = x.min(dim=1); values, indices
    (tensor([1., 2.]), tensor([1, 0]))
    """
    return _extreme(input, dim, keepdim, False)


# amax/amin(out=): torch wants out of the input's dtype
_OUT_LIKE_INPUT = ("Expected the dtype for input and out to match, but got {res} for input's "
                   "dtype and {out} for out's dtype.")


@takes_out(rule="same", message=_OUT_LIKE_INPUT)
def amax(input: Tensor, dim: Dims = (), keepdim: bool = False) -> Tensor:
    """Largest values over ``dim`` (all dims by default); ties share the gradient evenly.

    >>> engine.tensor([[1.0, 5.0], [7.0, 2.0]]).amax(0)
    tensor([7., 5.])
    """
    return _extreme_all(input, reduce_dims(dim, input._data.ndim), keepdim, True, AmaxBackward0,
                        _given(dim))


@takes_out(rule="same", message=_OUT_LIKE_INPUT)
def amin(input: Tensor, dim: Dims = (), keepdim: bool = False) -> Tensor:
    """Smallest values over ``dim`` (all dims by default).

    >>> x = engine.tensor([[3.0, 1.0], [2.0, 5.0]])
    >>> engine.amin(x), x.amin(dim=0)
    (tensor(1.), tensor([2., 1.]))
    """
    return _extreme_all(input, reduce_dims(dim, input._data.ndim), keepdim, False, AminBackward0,
                        _given(dim))


def _given(dim: Dims) -> bool:
    """Whether amax/amin were given dims (``()`` and None mean all of them)."""
    return dim is not None and not (isinstance(dim, (tuple, list)) and len(dim) == 0)


def _arg(a: Tensor, dim: int | None, keepdim: bool, largest: bool) -> Tensor:
    x = a._data
    fn = np.argmax if largest else np.argmin
    if dim is None:
        _check_nonempty(x, "argmax" if largest else "argmin", (), explicit=False)
        res = np.asarray(fn(x.reshape(-1)), np.int64)
        return out(res.reshape((1,) * x.ndim) if keepdim else res)
    d = wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return out(np.asarray(0, np.int64))
    _check_nonempty(x, "argmax" if largest else "argmin", (d,))
    return out(np.asarray(fn(x, axis=d, keepdims=keepdim), np.int64))


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (of the flattened tensor without ``dim``); no gradient.

    >>> engine.tensor([1.0, 5.0, 2.0]).argmax()
    tensor(1)
    """
    return _arg(input, dim, keepdim, True)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (of the flattened tensor, or along ``dim``).

    >>> x = engine.tensor([[3.0, 1.0], [2.0, 5.0]])
    >>> engine.argmin(x), x.argmin(dim=1)
    (tensor(1), tensor([1, 0]))
    """
    return _arg(input, dim, keepdim, False)


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["amax", "amin", "argmax", "argmin", "max", "min"]
METHODS = {name: globals()[name] for name in __all__}
