"""Elementwise selection: ``clamp``, ``maximum``, ``minimum`` and ``where``.

Each op is a numpy forward below its node; the node's ``apply`` calls the paired
Numba kernel in ``engine.kernels.activation``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine._base import dtypes
from engine._base.arrays import broadcast_shape
from engine.graph import Node
from engine.kernels import activation as ak
from engine.ops.base import (
    const,
    edge,
    expand_flat,
    flat,
    operand_meta,
    out,
    recording,
    scalar_or_data,
    sum_to,
    takes_out,
    unbroadcast,
    unpack,
)
from engine.tensor import Tensor


# ---------------------------------------------------------------- clamp
class ClampBackward1(Node):
    __slots__ = ("lo", "hi")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (x,) = self.saved()
        return (ak.clamp_bwd(flat(g), flat(x), self.lo, self.hi).reshape(g.shape),)

    def apply_graph(self, grads: list) -> tuple:
        x = unpack(self)[0]._data
        return (where(const((x >= self.lo) & (x <= self.hi)), grads[0], 0.0),)


@takes_out(rule="same", message="Found dtype {out} but expected {res}")
def clamp(input: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Limit values to ``[min, max]`` (either bound may be None); bounds are numbers.

    The gradient passes where ``min <= x <= max``.

    >>> engine.tensor([-2.0, 0.5, 3.0]).clamp(-1, 1)
    tensor([-1.0000,  0.5000,  1.0000])
    """
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    for bound in (min, max):
        if isinstance(bound, Tensor):
            raise TypeError("clamp(): tensor bounds are not supported; use maximum/minimum")
    x = input._data
    res = x
    if x.dtype.kind != "f" and any(isinstance(b, float) for b in (min, max)):
        x = x.astype(dtypes.DEFAULT.np)
    if min is not None:
        res = np.maximum(x, np.asarray(min, x.dtype))
    if max is not None:
        res = np.minimum(res if min is not None else x, np.asarray(max, x.dtype))
    if not recording(input):
        return out(np.asarray(res))
    node = ClampBackward1((edge(input),))
    # the bounds as the forward saw them, in x's dtype: float32(-0.3) must pass at -0.3
    node.lo = -np.inf if min is None else float(np.asarray(min, x.dtype))
    node.hi = np.inf if max is None else float(np.asarray(max, x.dtype))
    node.save_as((input, x))
    return out(np.asarray(res), node)


# ---------------------------------------------------------------- two inputs
def _promote(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.dtype]:
    """Both operands' data, cast to torch's promoted dtype."""
    if not isinstance(a, Tensor):
        a, b = b, a
        swapped = True
    else:
        swapped = False
    ad = a._data
    bd, bdt, b0 = scalar_or_data(b)
    want = dtypes.result_np_dtype(ad.dtype, ad.ndim == 0, bd, bdt, b0)
    ad = ad.astype(want, copy=False)
    bd = np.asarray(bd, dtype=want)
    return (bd, ad, want) if swapped else (ad, bd, want)


def _edge(t: Any) -> tuple:
    return edge(t) if isinstance(t, Tensor) else (None, 0)


class MaximumBackward0(Node):
    __slots__ = ("a", "b")
    larger = True

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        x, y = self.saved()
        shape = g.shape
        xf, yf, gf = expand_flat(x, shape), expand_flat(y, shape), flat(g)
        if not type(self).larger:
            xf, yf = yf, xf
        ga = unbroadcast(ak.pick_bwd(gf, xf, yf).reshape(shape), *self.a) \
            if fa is not None else None
        gb = unbroadcast(ak.pick_bwd(gf, yf, xf).reshape(shape), *self.b) \
            if fb is not None else None
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        x, y = (t._data for t in unpack(self))
        if not type(self).larger:
            x, y = y, x
        ga = sum_to(g * const(_pick(x, y, g._data)), *self.a) if fa is not None else None
        gb = sum_to(g * const(_pick(y, x, g._data)), *self.b) if fb is not None else None
        return ga, gb


def _pick(a: np.ndarray, b: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The share of ``a`` in maximum(a, b): 1 above, 1/2 on ties, 0 below, 1 with NaN."""
    with np.errstate(invalid="ignore"):
        share = np.where(a < b, 0.0, np.where(a == b, 0.5, 1.0))
    return np.broadcast_to(share, g.shape).astype(g.dtype)


class MinimumBackward0(MaximumBackward0):
    __slots__ = ()
    larger = False


def _extreme(a: Tensor, b: Tensor, cls: type, fn: np.ufunc) -> Tensor:
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{cls.__name__[:7].lower()}(): arguments must be Tensors")
    ad, bd, _ = _promote(a, b)
    broadcast_shape(ad.shape, bd.shape)
    res = fn(ad, bd)
    if not recording(a, b):
        return out(res)
    node = cls((edge(a), edge(b)))
    node.a, node.b = operand_meta(a), operand_meta(b)
    node.save_as((a, ad), (b, bd))
    return out(res, node)


@takes_out
def maximum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise larger of two tensors; on ties each side gets half the gradient.

    >>> engine.maximum(engine.tensor([1.0, 5.0]), engine.tensor([3.0, 2.0]))
    tensor([3., 5.])
    """
    return _extreme(input, other, MaximumBackward0, np.maximum)


@takes_out
def minimum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise smaller of two tensors; on ties each side gets half the gradient.

    >>> engine.minimum(engine.tensor([1.0, 5.0]), engine.tensor([3.0, 2.0]))
    tensor([1., 2.])
    """
    return _extreme(input, other, MinimumBackward0, np.minimum)


class WhereBackward0(Node):
    __slots__ = ("a", "b", "mask")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        shape = g.shape
        m, gf = expand_flat(self.mask.astype(g.dtype), shape), flat(g)
        ga = unbroadcast(ak.mask_bwd(gf, m, 1.0).reshape(shape), *self.a) \
            if fa is not None else None
        gb = unbroadcast(ak.mask_bwd(gf, m, 0.0).reshape(shape), *self.b) \
            if fb is not None else None
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        m = const(self.mask)
        ga = sum_to(where(m, g, 0.0), *self.a) if fa is not None else None
        gb = sum_to(where(m, 0.0, g), *self.b) if fb is not None else None
        return ga, gb


@takes_out(rule="same", message="Expected out type to be {res} but got {out}")
def where(condition: Tensor, input: Any, other: Any) -> Tensor:  # noqa: A002
    """``input`` where ``condition`` holds, else ``other`` (tensors or numbers).

    >>> x = engine.tensor([-1.0, 2.0]); engine.where(x > 0, x, 0.0)
    tensor([0., 2.])
    """
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {dtypes.from_np(cond.dtype).name.capitalize()}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("where(): at least one of input and other must be a Tensor")
    ad, bd, _ = _promote(input, other)
    broadcast_shape(broadcast_shape(cond.shape, ad.shape), bd.shape)
    res = np.where(cond, ad, bd)
    if not recording(input, other):
        return out(res)
    node = WhereBackward0((_edge(input), _edge(other)))
    node.a = operand_meta(input) or (ad.shape, ad.dtype)
    node.b = operand_meta(other) or (bd.shape, bd.dtype)
    node.mask = cond
    return out(res, node)

clip = clamp  # torch's alias


def _where_method(a: Tensor, condition: Tensor, other: Any) -> Tensor:
    """``a.where(condition, other)``: torch's method order for ``where``.

    >>> x = engine.tensor([-1.0, 2.0]); x.where(x > 0, 0.0)
    tensor([0., 2.])
    """
    return where(condition, a, other)


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["clamp", "clip", "maximum", "minimum", "where"]
METHODS = {"clamp": clamp, "clip": clamp, "maximum": maximum, "minimum": minimum,
           "where": _where_method}
