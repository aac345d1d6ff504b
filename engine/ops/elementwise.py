"""Arithmetic: + - * / ** (and ``square``), negation and ``atan2``, with broadcasting and
torch's type promotion."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine._base import dtypes, grad_mode
from engine._base.arrays import broadcast_shape
from engine.graph import Node
from engine.kernels import activation as ak
from engine.kernels import elementwise as ek
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
from engine.ops.selection import where
from engine.ops.unary import reciprocal
from engine.tensor import Tensor, _stale_view_requires_grad


def _prep(a: Tensor, b: Any, true_div: bool = False) -> tuple[np.ndarray, Any, np.dtype]:
    """Both operands' data cast to the promoted dtype; checks broadcastability."""
    ad = a._data
    tb = type(b)
    if (tb is float or tb is int) and ad.dtype.kind == "f":
        return ad, b, ad.dtype  # ``x * 2.0``: a Python number never changes a float dtype
    bd, bdt, b0 = scalar_or_data(b)
    if bdt is not None and bdt == ad.dtype:
        want = bdt
    else:
        want = dtypes.result_np_dtype(ad.dtype, ad.ndim == 0, bd, bdt, b0)
    if true_div and want.kind != "f":
        want = dtypes.DEFAULT.np
    if ad.dtype != want:
        ad = ad.astype(want)
    if bdt is None and want.kind in "iu":  # wraps around as in torch: uint8 tensor + -2
        bd = np.asarray(bd).astype(want)[()]
    if bdt is not None:
        if bdt != want:
            bd = bd.astype(want)
        if bd.shape != ad.shape:
            broadcast_shape(ad.shape, bd.shape)
    return ad, bd, want


def _prep_sum(a: Tensor, b: Any) -> tuple[np.ndarray, Any, bool]:
    """``_prep`` for + and -, plus whether numpy may warn (inf - inf): not with a finite
    number operand (the common ``x + 1``), which so skips the cost of ``np.errstate``."""
    ad, bd, _ = _prep(a, b)
    return ad, bd, isinstance(b, Tensor) or not math.isfinite(bd)


def _records_alone(a: Tensor) -> bool:
    """``recording(a, number)``: the number never requires grad."""
    return grad_mode._state.enabled and (
        a._rg or a._x is not None and _stale_view_requires_grad(a))


def _edges(a: Tensor, b: Any) -> tuple:
    return (edge(a), edge(b) if isinstance(b, Tensor) else (None, 0))


# ---------------------------------------------------------------- add / sub
class AddBackward0(Node):
    # ``other``: the Python number added (None for a tensor); the backward does not need
    # it, a compiled Plan replaying the forward does
    __slots__ = ("a", "b", "alpha", "other")
    fresh_grads = True

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        ga = None
        if fa is not None:
            shape, dtype = self.a
            # unbroadcast's own test, without its call when there is nothing to do
            ga = g if g.shape == shape and g.dtype == dtype else unbroadcast(g, shape, dtype)
        gb = None
        if fb is not None:
            gb = unbroadcast(g if self.alpha == 1 else ek.scale_bwd(flat(g), float(self.alpha))
                             .reshape(g.shape), *self.b)
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        ga = sum_to(g, *self.a) if fa is not None else None
        gb = sum_to(g * self.alpha if self.alpha != 1 else g, *self.b) if fb is not None else None
        return ga, gb


@takes_out
def add(input: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """input + alpha * other, elementwise with broadcasting.

    >>> engine.add(engine.tensor([1.0, 2.0]), engine.tensor([10.0, 20.0]), alpha=2)
    tensor([21., 42.])
    """
    tb = type(other)
    ad = input._data
    if (tb is float or tb is int) and ad.dtype.kind == "f" and math.isfinite(other):
        # ``x + 0.5``: _prep_sum's answer (no promotion, nothing to warn about), inline
        res = ad + other if alpha == 1 else ad + alpha * other
        if not _records_alone(input):
            return out(res)
        node = AddBackward0((edge(input), (None, 0)))
        node.a, node.b, node.alpha, node.other = (ad.shape, ad.dtype), None, alpha, other
        return out(res, node)
    ad, bd, may_warn = _prep_sum(input, other)
    if not may_warn:
        res = ad + bd if alpha == 1 else ad + alpha * bd
    else:
        with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf is NaN, silently
            res = ad + bd if alpha == 1 else ad + alpha * bd
    if recording(input, other):
        node = AddBackward0(_edges(input, other))
        node.a, node.b, node.alpha = operand_meta(input), operand_meta(other), alpha
        node.other = None if isinstance(other, Tensor) else other
        return out(res, node)
    return out(res)


class SubBackward0(AddBackward0):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        ga = unbroadcast(g, *self.a) if fa is not None else None
        gb = None
        if fb is not None:
            gb = unbroadcast(ek.scale_bwd(flat(g), -float(self.alpha)).reshape(g.shape), *self.b)
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        ga = sum_to(g, *self.a) if fa is not None else None
        gb = sum_to(g * -self.alpha, *self.b) if fb is not None else None
        return ga, gb


@takes_out
def sub(input: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """input - alpha * other, elementwise with broadcasting.

    >>> engine.sub(engine.tensor([5.0, 6.0]), 1)
    tensor([4., 5.])
    """
    if input._data.dtype == np.bool_ or (isinstance(other, Tensor)
                                         and other._data.dtype == np.bool_):
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    ad, bd, may_warn = _prep_sum(input, other)
    if not may_warn:
        res = ad - bd if alpha == 1 else ad - alpha * bd
    else:
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN, silently
            res = ad - bd if alpha == 1 else ad - alpha * bd
    if recording(input, other):
        node = SubBackward0(_edges(input, other))
        node.a, node.b, node.alpha = operand_meta(input), operand_meta(other), alpha
        node.other = None if isinstance(other, Tensor) else other
        return out(res, node)
    return out(res)


class RsubBackward1(Node):
    __slots__ = ("alpha", "other")  # other: the number the tensor is taken from

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        return (ek.scale_bwd(flat(g), -float(self.alpha)).reshape(g.shape),)

    def apply_graph(self, grads: list) -> tuple:
        return (grads[0] * -self.alpha,)


def rsub(a: Tensor, b: Any, alpha: float = 1) -> Tensor:
    """b - alpha * a, for a Python number b (``1 - x``)."""
    ad, bd, _ = _prep(a, b)
    res = bd - ad if alpha == 1 else bd - alpha * ad
    if recording(a):
        node = RsubBackward1((edge(a),))
        node.alpha, node.other = alpha, b
        return out(res, node)
    return out(res)


# ---------------------------------------------------------------- mul / div
class MulBackward0(Node):
    __slots__ = ("a", "b", "scalar")
    fresh_grads = True

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        if self.b is None:  # times a Python number
            return (ek.scale_bwd(g.reshape(-1), float(self.scalar)).reshape(g.shape),)
        (fa, _), (fb, _) = self.next_functions
        saved = self.saved()  # (a if b needs grad) + (b if a needs grad)
        shape = g.shape
        ga = gb = None
        if fa is not None:
            ga = unbroadcast(ek.mul_bwd(flat(g), expand_flat(saved[-1], shape)).reshape(shape),
                             *self.a)
        if fb is not None:
            gb = unbroadcast(ek.mul_bwd(flat(g), expand_flat(saved[0], shape)).reshape(shape),
                             *self.b)
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        if self.b is None:
            return (g * self.scalar,)
        (fa, _), (fb, _) = self.next_functions
        saved = unpack(self)
        ga = sum_to(g * saved[-1], *self.a) if fa is not None else None
        gb = sum_to(g * saved[0], *self.b) if fb is not None else None
        return ga, gb


@takes_out
def mul(input: Tensor, other: Any) -> Tensor:
    """input * other, elementwise with broadcasting.

    >>> engine.mul(engine.tensor([[1.0], [2.0]]), engine.tensor([1.0, 3.0]))
    tensor([[1., 3.],
            [2., 6.]])
    """
    tb = type(other)
    ad = input._data
    if (tb is float or tb is int) and ad.dtype.kind == "f":  # ``x * 2.0``, _prep inline
        res = ad * other
        if not _records_alone(input):
            return out(res)
        node = MulBackward0((edge(input), (None, 0)))
        node.a, node.b, node.scalar = None, None, other
        node._saved = ()  # node.save(): a number kept as a saved tensor, one backward only
        return out(res, node)
    ad, bd, _ = _prep(input, other)
    res = ad * bd
    if recording(input, other):
        node = MulBackward0(_edges(input, other))
        if isinstance(other, Tensor):
            node.a, node.b = operand_meta(input), operand_meta(other)
            keep = []
            if other._rg:
                keep.append((input, ad))
            if input._rg:
                keep.append((other, bd))
            node.save_as(*keep)
        else:
            node.a, node.b, node.scalar = None, None, bd
            node.save()  # torch keeps the number as a saved tensor: one backward only
        return out(res, node)
    return out(res)


class DivBackward0(Node):
    __slots__ = ("a", "b", "scalar")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        if self.b is None:
            return (ek.div_scalar_bwd(flat(g), self.scalar).reshape(g.shape),)
        (fa, _), (fb, _) = self.next_functions
        saved = self.saved()  # b, then a if b needs grad
        shape = g.shape
        bf = expand_flat(saved[0], shape)
        ga = gb = None
        if fa is not None:
            ga = unbroadcast(ek.div_bwd_a(flat(g), bf).reshape(shape), *self.a)
        if fb is not None:
            gb = unbroadcast(ek.div_bwd_b(flat(g), expand_flat(saved[1], shape), bf)
                             .reshape(shape), *self.b)
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        if self.b is None:
            return (g / self.scalar,)
        (fa, _), (fb, _) = self.next_functions
        saved = unpack(self)
        b = saved[0]
        ga = sum_to(g / b, *self.a) if fa is not None else None
        gb = sum_to(-g * (saved[1] / b) / b, *self.b) if fb is not None else None
        return ga, gb


class DivBackward2(Node):
    """A rounded division: its gradient is zero wherever it is defined, as torch's."""

    __slots__ = ("a", "b")

    def apply(self, grads: list) -> tuple:
        return tuple(None if fn is None else np.zeros(*meta) for (fn, _), meta in
                     zip(self.next_functions, (self.a, self.b)))

    def apply_graph(self, grads: list) -> tuple:
        return tuple(None if g is None else const(g) for g in self.apply(grads))


def _rounded(ad: np.ndarray, bd: Any, mode: str) -> np.ndarray:
    """``ad / bd`` rounded down (``floor``) or toward zero (``trunc``), in their dtype."""
    if ad.dtype.kind == "f":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.floor_divide(ad, bd) if mode == "floor" else np.trunc(ad / bd)
    if np.any(np.asarray(bd) == 0):
        raise RuntimeError("ZeroDivisionError")
    q = np.floor_divide(ad, bd)
    if mode == "trunc":  # floor rounds the negative quotients with a remainder one too far
        q = q + ((np.remainder(ad, bd) != 0) & ((ad < 0) != (np.asarray(bd) < 0)))
    return np.asarray(q, ad.dtype)


@takes_out
def div(input: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """input / other: true division (integer inputs give float32, as torch), or rounded
    down (``rounding_mode="floor"``) or toward zero (``"trunc"``) in the promoted dtype.

    >>> engine.div(engine.tensor([1, 3]), 2), engine.div(engine.tensor([-7, 7]), 2, rounding_mode="trunc")
    (tensor([0.5000, 1.5000]), tensor([-3,  3]))
    """  # noqa: E501 - a doctest line
    if rounding_mode is not None:
        if rounding_mode not in ("trunc", "floor"):
            raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or "
                               f"'floor' but found '{rounding_mode}'")
        ad, bd, _ = _prep(input, other)
        res = _rounded(ad, bd, rounding_mode)
        if not recording(input, other):
            return out(res)
        node = DivBackward2(_edges(input, other))
        node.a, node.b = operand_meta(input), operand_meta(other)
        return out(res, node)
    ad, bd, _ = _prep(input, other, true_div=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = ad / bd
    if recording(input, other):
        node = DivBackward0(_edges(input, other))
        if isinstance(other, Tensor):
            node.a, node.b = operand_meta(input), operand_meta(other)
            node.save_as((other, bd), (input, ad)) if other._rg else node.save_as((other, bd))
        else:
            node.a, node.b, node.scalar = None, None, bd
            node.save()  # as for mul: torch refuses a second backward
        return out(res, node)
    return out(res)


def rdiv(a: Tensor, b: Any) -> Tensor:
    """b / a for a Python number b: recorded as reciprocal then multiply, as torch does."""
    return mul(reciprocal(a), b)


# ---------------------------------------------------------------- neg / pow
class NegBackward0(Node):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        return (ek.neg_bwd(flat(g)).reshape(g.shape),)

    def apply_graph(self, grads: list) -> tuple:
        return (-grads[0],)


@takes_out
def neg(input: Tensor) -> Tensor:
    """-a.

    >>> engine.neg(engine.tensor([1.0, -2.0]))
    tensor([-1.,  2.])
    """
    if input._data.dtype == np.bool_:
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead.")
    res = -input._data
    return out(res, NegBackward0((edge(input),))) if recording(input) else out(res)


class PowBackward0(Node):
    """x ** p for a Python number p."""

    __slots__ = ("p",)

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (x,) = self.saved()
        return (ek.pow_scalar_bwd(flat(g), flat(x), float(self.p)).reshape(g.shape),)

    def apply_graph(self, grads: list) -> tuple:
        (x,) = unpack(self)
        if self.p == 0:  # a constant zero, with no history, as torch returns
            return (const(np.zeros_like(grads[0]._data)),)
        return (grads[0] * (self.p * x ** (self.p - 1)),)


class PowBackward1(Node):
    """x ** y for two tensors."""

    __slots__ = ("a", "b")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        x, y, res = self.saved()
        shape = g.shape
        xf, yf = expand_flat(x, shape), expand_flat(y, shape)
        ga = gb = None
        if fa is not None:
            ga = unbroadcast(ek.pow_base_bwd(flat(g), xf, yf).reshape(shape), *self.a)
        if fb is not None:
            gb = unbroadcast(ek.pow_exp_bwd(flat(g), xf, yf, flat(res)).reshape(shape), *self.b)
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        x, y, res = unpack(self)
        ga = gb = None
        if fa is not None:
            ga = sum_to(where(y == 0, 0.0, g * (y * x ** (y - 1))), *self.a)
        if fb is not None:
            # torch's mask: 0 ** y for y >= 0 has no log term
            skip = const((x._data == 0) & (y._data >= 0))
            gb = sum_to(where(skip, 0.0, g * (res * x.log())), *self.b)
        return ga, gb


class PowBackward2(Node):
    """p ** y for a Python number p."""

    __slots__ = ("base",)

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (res,) = self.saved()
        return (ek.rpow_bwd(flat(g), flat(res), float(self.base)).reshape(g.shape),)

    def apply_graph(self, grads: list) -> tuple:
        (res,) = unpack(self)
        if self.base == 0:
            return (where(const(np.isfinite(res._data)), 0.0, grads[0] * (res * -np.inf)),)
        return (grads[0] * (res * float(np.log(self.base))),)


def _power(x: np.ndarray, p: Any) -> np.ndarray:
    """x ** p for a number p, with torch's shortcuts for float tensors (sqrt for 0.5, rsqrt
    for -0.5, products for 2, 3, -1, -2): they differ from pow() at -inf and -0.0."""
    if x.dtype.kind != "f":
        return np.power(x, p)
    if p == 0.5:
        return np.sqrt(x)
    if p == -0.5:
        return np.reciprocal(np.sqrt(x))
    if p == 2:
        return x * x
    if p == 3:
        return x * x * x
    if p == -1:
        return np.reciprocal(x)
    if p == -2:
        return np.reciprocal(x * x)
    return np.power(x, p)


@takes_out
def pow(input: Tensor, exponent: Any) -> Tensor:  # noqa: A001 - torch's name
    """input ** exponent, for a number or tensor exponent.

    >>> engine.pow(engine.tensor([2.0, 3.0]), 2)
    tensor([4., 9.])
    >>> engine.tensor([2.0]) ** engine.tensor([3.0])
    tensor([8.])
    """
    ad, bd, _ = _prep(input, exponent)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        res = _power(ad, bd) if not isinstance(exponent, Tensor) else np.power(ad, bd)
    if not recording(input, exponent):
        return out(res)
    if not isinstance(exponent, Tensor):
        node = PowBackward0((edge(input),))
        node.p = bd
        node.save_as((input, ad))
        return out(res, node)
    node = PowBackward1(_edges(input, exponent))
    node.a, node.b = operand_meta(input), operand_meta(exponent)
    result = out(res, node)
    node.save_as((input, ad), (exponent, bd), (result, res))
    return result


def rpow(a: Tensor, base: Any) -> Tensor:
    """base ** a for a Python number base (``2 ** x``)."""
    ad, bd, _ = _prep(a, base)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        res = np.power(bd, ad)
    if not recording(a):
        return out(res)
    node = PowBackward2((edge(a),))
    node.base = bd
    result = out(res, node)
    node.save(result)
    return result


@takes_out(name="pow")  # torch computes it as pow and names pow in its errors
def square(input: Tensor) -> Tensor:
    """``a * a``, recorded as ``a ** 2`` (``PowBackward0``) as torch does.

    >>> engine.square(engine.tensor([3.0]))
    tensor([9.])
    """
    return pow(input, 2)


# ---------------------------------------------------------------- atan2
class Atan2Backward0(Node):
    __slots__ = ("a", "b")
    fresh_grads = True

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        x, y = self.saved()
        shape = g.shape
        xf, yf = expand_flat(x, shape), expand_flat(y, shape)
        ga = gb = None
        if fa is not None:
            ga = unbroadcast(ak.atan2_bwd_a(flat(g), xf, yf).reshape(shape), *self.a)
        if fb is not None:
            gb = unbroadcast(ak.atan2_bwd_b(flat(g), xf, yf).reshape(shape), *self.b)
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        x, y = unpack(self)
        norm = x * x + y * y
        ga = sum_to(g * (y / norm), *self.a) if fa is not None else None
        gb = sum_to(g * (-x / norm), *self.b) if fb is not None else None
        return ga, gb


@takes_out
def atan2(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 - torch's name
    """The angle of the point (other, input) in radians, elementwise with broadcasting:
    arctan(input / other) in the right quadrant.

    >>> engine.atan2(engine.tensor([1.0, -1.0]), engine.tensor([1.0, 1.0]))
    tensor([ 0.7854, -0.7854])
    """
    if not isinstance(other, Tensor):
        raise TypeError("atan2(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    ad, bd, _ = _prep(input, other, true_div=True)
    with np.errstate(all="ignore"):
        res = np.arctan2(ad, bd)
    if not recording(input, other):
        return out(res)
    node = Atan2Backward0(_edges(input, other))
    node.a, node.b = operand_meta(input), operand_meta(other)
    node.save_as((input, ad), (other, bd))
    return out(res, node)


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["add", "atan2", "div", "mul", "neg", "pow", "square", "sub"]
METHODS = {name: globals()[name] for name in __all__}
