"""Reductions: sum and mean, prod, var/std, logsumexp and norm, over all elements or
chosen dims (max/min and their kin are in ``engine.ops.extrema``).

The forward is numpy.  For the backward of the row reductions the reduced dims are
moved to the end (``_Rows``), so each Numba kernel in ``engine.kernels.reduce`` sees
contiguous rows of length ``n`` with one incoming gradient (and one result) per row.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine._base import dtypes
from engine._base.arrays import wrap_dim
from engine.graph import Node
from engine.kernels import reduce as rk
from engine.ops.base import const, edge, expand_flat, flat, out, recording, saved_source, takes_out
from engine.ops.selection import where
from engine.tensor import Tensor, _wrap

Dims = int | Sequence[int] | None


# ---------------------------------------------------------------- sum / mean
def reduce_dims(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """``dim`` (None, an int or a sequence) as sorted, wrapped, distinct axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    wrapped = tuple(sorted(wrap_dim(d, ndim) for d in dims))
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"dim {wrapped[0]} appears multiple times in the list of dims")
    if ndim == 0:  # a 0-d tensor accepts dim 0 or -1 but has no axis to reduce
        return ()
    return wrapped or tuple(range(ndim))


class SumBackward0(Node):
    """Backward of a full sum: spread the scalar gradient over the input's shape."""

    __slots__ = ("shape", "kept", "divisor")

    def apply(self, grads: list) -> tuple:
        g = grads[0].reshape(self.kept)
        return (expand_flat(g, self.shape, self.divisor).reshape(self.shape),)

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0].reshape(self.kept).expand(self.shape)
        return (g / self.divisor if self.divisor != 1.0 else g,)


class SumBackward1(SumBackward0):
    __slots__ = ()


@takes_out(rule="dtype")
def sum(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False,  # noqa: A001
        dtype: dtypes.dtype | None = None) -> Tensor:
    """Sum of all elements, or over ``dim`` (an int or a tuple), keeping dims if asked.

    >>> x = engine.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> engine.sum(x), x.sum(dim=0)
    (tensor(10.), tensor([4., 6.]))
    >>> x.sum(1, keepdim=True)
    tensor([[3.],
            [7.]])
    """
    return _reduce(input, dim, keepdim, False, dtype)


class MeanBackward0(SumBackward0):
    __slots__ = ()


class MeanBackward1(SumBackward0):
    __slots__ = ()


@takes_out
def mean(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False,
         dtype: dtypes.dtype | None = None) -> Tensor:
    """Mean of all elements, or over ``dim``.

    >>> x = engine.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> engine.mean(x), x.mean(dim=1)
    (tensor(2.5000), tensor([1.5000, 3.5000]))
    """
    return _reduce(input, dim, keepdim, True, dtype)


def _reduce(a: Tensor, dim: int | Sequence[int] | None, keepdim: bool, mean: bool,
            dtype: dtypes.dtype | None) -> Tensor:
    x = a._data
    dims = reduce_dims(dim, x.ndim)
    if mean and x.dtype.kind != "f" and dtype is None:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {dtypes.from_np(x.dtype).name.capitalize()}")
    np_dtype = dtype.np if dtype is not None else (
        np.int64 if x.dtype.kind in "biu" else x.dtype)
    if dtype is not None:
        x = x.astype(np_dtype)
    count = 1
    for d in dims:
        count *= x.shape[d]
    # torch is silent on inf - inf and on the mean of nothing (NaN); numpy warns
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if mean and count == 0:
            res = np.sum(x, axis=dims, keepdims=keepdim, dtype=np_dtype) / 0
        else:
            res = (np.mean if mean else np.sum)(x, axis=dims, keepdims=keepdim, dtype=np_dtype)
    if not recording(a):
        return out(res)
    full = dim is None
    cls = (MeanBackward0 if full else MeanBackward1) if mean else (
        SumBackward0 if full else SumBackward1)
    node = cls((edge(a),))
    node.shape = x.shape
    node.kept = tuple(1 if i in dims else s for i, s in enumerate(x.shape))
    node.divisor = float(count) if mean else 1.0
    return out(res, node)


# ---------------------------------------------------------------- rows of a reduction
class _Rows:
    """``x`` with ``dims`` moved last, as contiguous rows, and the way back."""

    __slots__ = ("rows", "n", "perm", "moved_shape", "out_shape")

    def __init__(self, x: np.ndarray, dims: tuple[int, ...], keepdim: bool) -> None:
        if x.ndim == 0:
            dims = ()  # a 0-d tensor is one row of one element
        keep = [d for d in range(x.ndim) if d not in dims]
        self.perm = tuple(keep) + dims
        moved = np.transpose(x, self.perm) if x.ndim else x.reshape(1)
        self.moved_shape = moved.shape
        self.n = 1
        for d in dims:
            self.n *= x.shape[d]
        self.rows = np.ascontiguousarray(moved).reshape(-1, self.n) if self.n else \
            np.zeros((int(np.prod([x.shape[d] for d in keep])), 0), x.dtype)
        self.out_shape = tuple(1 if d in dims else s for d, s in enumerate(x.shape)) \
            if keepdim else tuple(x.shape[d] for d in keep)

    def back(self, gx: np.ndarray) -> np.ndarray:
        """A flat row-layout gradient, returned in the input's layout."""
        g = gx.reshape(self.moved_shape)
        if len(self.perm) == 0:
            return g.reshape(())
        return np.ascontiguousarray(np.transpose(g, np.argsort(self.perm)))


def _row_vals(a: np.ndarray) -> np.ndarray:
    """Per-row values (incoming gradient, result) as a flat contiguous buffer."""
    return np.ascontiguousarray(a).reshape(-1)


class _RowNode(Node):
    __slots__ = ("layout",)

    # -- tensor forms of the row layout, for ``apply_graph`` -----------------
    def rows_t(self, x: Tensor) -> Tensor:
        """The input tensor as (rows, n), reduced dims last (recorded)."""
        lay = self.layout
        if x._data.ndim == 0:
            return x.reshape(1, 1)
        moved = x.permute(*lay.perm) if lay.perm != tuple(range(len(lay.perm))) else x
        return moved.reshape(-1, lay.n)

    def back_t(self, gx: Tensor) -> Tensor:
        """A (rows, n) gradient back in the input's layout."""
        lay = self.layout
        g = gx.reshape(lay.moved_shape)
        if len(lay.perm) == 0:
            return g.reshape(())
        inv = tuple(int(i) for i in np.argsort(lay.perm))
        return g.permute(*inv) if inv != tuple(range(len(inv))) else g

    def result_t(self, vals: np.ndarray) -> Tensor:
        """The node's own output (saved per row) as a (rows, 1) tensor in the graph."""
        return _wrap(vals.reshape(self.layout.out_shape), True, self, 0).reshape(-1, 1)

    def spread(self, g: Tensor, coef: np.ndarray) -> tuple:
        """``g`` per row times a constant (rows, n) coefficient, in the input's layout."""
        return (self.back_t(g.reshape(-1, 1) * const(coef.astype(g._data.dtype))),)


# ---------------------------------------------------------------- prod
class ProdBackward0(_RowNode):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        (x,) = self.saved()
        lay = self.layout
        return (lay.back(rk.prod_bwd(_row_vals(grads[0]), flat(x), lay.n)),)

    def apply_graph(self, grads: list) -> tuple:
        lay = self.layout
        rows = self.rows_t(saved_source(self, 0))
        g = grads[0].reshape(-1, 1)
        if lay.n == 0:
            return (self.back_t(rows * 0.0),)
        if not (rows._data == 0).any():
            return (self.back_t(g * (rows.prod(1, keepdim=True) / rows)),)
        # with zeros: the product of the others, as a product over rows with a 1 on
        # the diagonal (exact, and differentiable again the same way)
        n = lay.n
        eye = const(np.eye(n, dtype=bool))
        others = where(eye, 1.0, rows.unsqueeze(1).expand(rows._data.shape[0], n, n))
        return (self.back_t(g * others.prod(2)),)


class ProdBackward1(ProdBackward0):
    __slots__ = ()


@takes_out(rule="dtype")
def prod(input: Tensor, dim: int | None = None, keepdim: bool = False,
         dtype: dtypes.dtype | None = None) -> Tensor:
    """Product of all elements, or along one ``dim``; exact gradients even with zeros.

    >>> engine.tensor([2.0, 3.0, 4.0]).prod()
    tensor(24.)
    """
    x = input._data
    if dtype is not None:
        x = x.astype(dtype.np)
    elif x.dtype.kind in "biu":
        x = x.astype(np.int64)
    dims = tuple(range(x.ndim)) if dim is None else ((wrap_dim(dim, x.ndim),) if x.ndim else ())
    lay = _Rows(x, dims, keepdim and dim is not None)
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 is NaN, as in torch
        res = np.prod(lay.rows, axis=1, dtype=x.dtype).reshape(lay.out_shape)
    if not recording(input) or x.dtype.kind != "f":
        return out(res)
    node = (ProdBackward0 if dim is None else ProdBackward1)((edge(input),))
    node.layout = lay
    node.save_as((input, lay.rows))
    return out(res, node)


# ---------------------------------------------------------------- var / std
class VarBackward0(_RowNode):
    __slots__ = ("scale",)

    def apply(self, grads: list) -> tuple:
        x, mu = self.saved()
        lay = self.layout
        g = _row_vals(grads[0])
        return (lay.back(rk.var_bwd(g, flat(x), mu, lay.n, self.scale)),)

    def apply_graph(self, grads: list) -> tuple:
        rows = self.rows_t(saved_source(self, 0))
        g = self._var_grad(grads[0].reshape(-1, 1))
        return (self.back_t(g * self.scale * (rows - rows.mean(1, keepdim=True))),)

    def _var_grad(self, g: Tensor) -> Tensor:
        return g


class StdBackward0(VarBackward0):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        x, mu, res = self.saved()
        lay = self.layout
        g = rk.std_to_var_grad(_row_vals(grads[0]), res)
        return (lay.back(rk.var_bwd(g, flat(x), mu, lay.n, self.scale)),)

    def _var_grad(self, g: Tensor) -> Tensor:
        res = self.saved()[2]
        std = self.result_t(res)
        return where(const(res[:, None] == 0), 0.0, g / (std * 2))


def _var(a: Tensor, dim: Any, unbiased: bool | None, keepdim: bool, correction: float | None,
         std: bool) -> Tensor:
    if isinstance(dim, bool):  # var(x, False): the legacy ``unbiased`` positional
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    x = a._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"{'std' if std else 'var'} and var_mean only support floating "
                           f"point and complex dtypes")
    lay = _Rows(x, reduce_dims(dim, x.ndim), keepdim)
    rows = lay.rows
    if lay.n:
        # the mean taken relative to each row's first entry: a constant row then has its
        # mean exactly and a variance of exactly 0 (torch's Welford pass gives that too, and
        # std's gradient is 0 there, not garbage from a rounded 1e-8 deviation)
        first = rows[:, :1]
        with np.errstate(invalid="ignore", over="ignore"):
            mu = (first[:, 0] + (rows - first).mean(axis=1, dtype=x.dtype)).astype(x.dtype)
    else:
        mu = np.full(rows.shape[0], np.nan, x.dtype)
    denom = builtins.max(lay.n - correction, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (((rows - mu[:, None]) ** 2).sum(axis=1) / denom).astype(x.dtype)
        vals = np.sqrt(v) if std else v
    res = vals.reshape(lay.out_shape)
    if not recording(a):
        return out(res)
    node = (StdBackward0 if std else VarBackward0)((edge(a),))
    node.layout = lay
    node.scale = 2.0 / denom if denom else math.inf
    result = out(res, node)
    if std:
        node.save_as((a, rows), (a, mu), (result, vals))
    else:
        node.save_as((a, rows), (a, mu))
    return result


@takes_out
def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Variance over ``dim`` (all by default) divided by ``N - correction``.

    ``correction`` defaults to 1 (Bessel); ``unbiased=False`` means 0.

    >>> engine.tensor([1.0, 2.0, 3.0, 4.0]).var()
    tensor(1.6667)
    """
    return _var(input, dim, unbiased, keepdim, correction, std=False)


@takes_out
def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Standard deviation, the square root of ``var`` (same arguments).

    >>> engine.tensor([1.0, 2.0, 3.0, 4.0]).std(correction=0)
    tensor(1.1180)
    """
    return _var(input, dim, unbiased, keepdim, correction, std=True)


# ---------------------------------------------------------------- logsumexp / norm
class LogsumexpBackward0(_RowNode):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        x, res = self.saved()
        lay = self.layout
        return (lay.back(rk.logsumexp_bwd(_row_vals(grads[0]), flat(x), res, lay.n)),)

    def apply_graph(self, grads: list) -> tuple:
        rows = self.rows_t(saved_source(self, 0))
        res = self.result_t(self.saved()[1])
        return (self.back_t(grads[0].reshape(-1, 1) * (rows - res).exp()),)


@takes_out(message="logsumexp(): Expected floating point type for result tensor, but got: {out}")
def logsumexp(input: Tensor, dim: Dims, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed with the max subtracted.

    >>> engine.tensor([0.0, 0.0]).logsumexp(0)
    tensor(0.6931)
    """
    x = input._data
    if x.dtype.kind != "f":
        x = x.astype(dtypes.DEFAULT.np)
    lay = _Rows(x, reduce_dims(dim, x.ndim), keepdim)
    rows = lay.rows
    m = np.max(rows, axis=1) if lay.n else np.full(rows.shape[0], -np.inf, x.dtype)
    m = np.where(np.isinf(m), 0, m).astype(x.dtype)
    with np.errstate(divide="ignore", over="ignore"):
        vals = (np.log(np.exp(rows - m[:, None]).sum(axis=1)) + m).astype(x.dtype)
    res = vals.reshape(lay.out_shape)
    if not recording(input):
        return out(res)
    node = LogsumexpBackward0((edge(input),))
    node.layout = lay
    node.save_as((input, rows), (input, vals))
    return out(res, node)


class LinalgVectorNormBackward0(_RowNode):
    __slots__ = ("p",)

    def apply(self, grads: list) -> tuple:
        if self.p == 0:  # counting non-zeros has no gradient: torch sends none
            return (None,)
        x, res = self.saved()
        lay = self.layout
        return (lay.back(rk.norm_bwd(_row_vals(grads[0]), flat(x), res, lay.n, self.p)),)

    def apply_graph(self, grads: list) -> tuple:
        """torch's ``norm_backward``, case by case, in tensor ops."""
        p = self.p
        xd, vals = self.saved()
        g = grads[0].reshape(-1, 1)
        sign = np.sign(xd)
        if p == 0:
            return (self.back_t(g * const(np.zeros_like(xd))),)
        if p == 1:
            return self.spread(grads[0], sign)
        if math.isinf(p):
            ab = np.abs(xd)
            mask = (ab == vals[:, None]) | np.isnan(ab)
            with np.errstate(invalid="ignore", divide="ignore"):
                coef = sign * mask / mask.sum(axis=1, keepdims=True)
            return self.spread(grads[0], coef)
        x = self.rows_t(saved_source(self, 0))
        norm = self.result_t(vals)
        zero = const(vals[:, None] == 0)
        if p == 2:
            return (self.back_t(g * where(zero, 0.0, x / norm)),)
        if p < 1:
            scaled = where(const(xd == 0), 0.0, const(sign) * x.abs() ** (p - 1))
            return (self.back_t(scaled * g * norm ** (1 - p)),)
        scaled = const(sign) * x.abs() ** (p - 1) if p < 2 else x * x.abs() ** (p - 2)
        return (self.back_t(scaled * where(zero, 0.0, g / norm ** (p - 1))),)


def norm(input: Tensor, p: float | str | None = "fro", dim: Dims = None, keepdim: bool = False,
         dtype: dtypes.dtype | None = None) -> Tensor:
    """Vector p-norm over ``dim`` (all elements by default); ``'fro'`` is the 2-norm.

    >>> engine.tensor([3.0, 4.0]).norm()
    tensor(5.)
    """
    if p is None or p == "fro":
        p = 2.0
    if isinstance(p, str):
        raise RuntimeError(f"norm(): only vector p-norms and 'fro' are supported, got {p!r}")
    p = float(p)
    x = input._data
    if dtype is not None:
        x = x.astype(dtype.np)
    if x.dtype.kind != "f":
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {dtypes.from_np(x.dtype).name.capitalize()}")
    lay = _Rows(x, reduce_dims(dim, x.ndim), keepdim)
    ab = np.abs(lay.rows)
    if p == math.inf:
        vals = ab.max(axis=1) if lay.n else np.zeros(ab.shape[0], x.dtype)
    elif p == -math.inf:
        vals = ab.min(axis=1)
    elif p == 0:
        vals = (ab != 0).sum(axis=1).astype(x.dtype)
    elif p == 1:
        vals = ab.sum(axis=1)
    elif p == 2:
        vals = np.sqrt((ab * ab).sum(axis=1))
    else:
        vals = (ab ** p).sum(axis=1) ** (1.0 / p)
    vals = vals.astype(x.dtype)
    res = vals.reshape(lay.out_shape)
    if not recording(input):
        return out(res)
    node = LinalgVectorNormBackward0((edge(input),))
    node.layout, node.p = lay, p
    node.save_as((input, lay.rows), (input, vals))
    return out(res, node)


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["logsumexp", "mean", "norm", "prod", "std", "sum", "var"]
METHODS = {name: globals()[name] for name in __all__}
