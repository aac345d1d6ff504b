"""Losses of ``input`` against ``target`` element by element: mse_loss, huber_loss,
smooth_l1_loss, l1_loss and kl_div.

``mse_loss``, ``huber_loss`` and ``smooth_l1_loss`` share one node base (``_PairLoss``)
with a Numba backward kernel each (``engine.kernels.loss``); ``l1_loss`` and ``kl_div``
are built from other ops, the way torch builds them (so their grad_fn names are torch's).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from engine._base.arrays import broadcast_shape
from engine.graph import Node
from engine.kernels import loss as lk
from engine.ops.base import edge, expand_flat, flat, out, recording, sum_to, unbroadcast, unpack
from engine.ops.elementwise import div, mul, sub
from engine.ops.loss import REDUCTIONS, check_reduction, legacy_reduction, reduce_loss
from engine.ops.reduce import mean, sum  # noqa: A004 - the engine's ops, as torch names them
from engine.ops.selection import where
from engine.ops.unary import abs, exp, log  # noqa: A004
from engine.tensor import Tensor


# ---------------------------------------------------------------- mse / huber / smooth l1 / l1
class _PairLoss(Node):
    """A loss of ``input - target`` elementwise (broadcast, with torch's warning): the
    kernel gives the input's gradient, the target's is its negative."""

    __slots__ = ("reduction", "a", "b", "param")
    kernel: Any = None  # (g, x, y, [param,] denom) -> the input's gradient
    takes_param = False  # huber's delta and smooth_l1's beta reach the kernel

    def _kernel(self, g: np.ndarray, x: np.ndarray, y: np.ndarray, denom: float
                ) -> np.ndarray:
        if self.takes_param:
            return type(self).kernel(g, x, y, self.param, denom)
        return type(self).kernel(g, x, y, denom)

    def _slope(self, d: Tensor) -> Tensor:
        """d(loss)/d(input) from ``d = input - target``, in tensor ops (``apply_graph``)."""
        raise NotImplementedError

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        x, y = self.saved()
        shape = broadcast_shape(x.shape, y.shape)
        size = int(np.prod(shape))
        denom = float(size) if self.reduction == "mean" else 1.0
        gf = flat(np.ascontiguousarray(g, dtype=x.dtype))
        d = self._kernel(gf, expand_flat(x, shape), expand_flat(y, shape), denom)
        d = d.reshape(shape)
        (fx, _), (fy, _) = self.next_functions
        gx = unbroadcast(d, *self.a) if fx is not None else None
        gy = unbroadcast(-d, *self.b) if fy is not None else None
        return gx, gy

    def apply_graph(self, grads: list) -> tuple:
        x, y = unpack(self)
        size = int(np.prod(broadcast_shape(x._data.shape, y._data.shape)))
        d = self._slope(x - y) * grads[0]
        if self.reduction == "mean":
            d = d / float(size)
        (fx, _), (fy, _) = self.next_functions
        gx = sum_to(d, *self.a) if fx is not None else None
        gy = sum_to(-d, *self.b) if fy is not None else None
        return gx, gy


class MseLossBackward0(_PairLoss):
    __slots__ = ()
    kernel = staticmethod(lk.mse_bwd)

    def _slope(self, d: Tensor) -> Tensor:
        return d * 2


class HuberLossBackward0(_PairLoss):
    __slots__ = ()
    kernel = staticmethod(lk.huber_bwd)
    takes_param = True

    def _slope(self, d: Tensor) -> Tensor:
        return d.clamp(-self.param, self.param)


class SmoothL1LossBackward0(_PairLoss):
    __slots__ = ()
    kernel = staticmethod(lk.smooth_l1_bwd)
    takes_param = True

    def _slope(self, d: Tensor) -> Tensor:
        return (d / self.param).clamp(-1.0, 1.0)


def _pair_loss(input: Tensor, target: Tensor, reduction: str, name: str,  # noqa: A002
               each: Callable[[np.ndarray], np.ndarray], node_cls: type[_PairLoss],
               param: float = 0.0) -> Tensor:
    """``each(input - target)`` reduced, with ``node_cls`` as its grad_fn."""
    check_reduction(reduction)
    x, y = _check_pair(input, target, name, stacklevel=4)
    with np.errstate(all="ignore"):  # inf/NaN/empty inputs: torch's values, no warnings
        loss = reduce_loss(each(x - y).astype(x.dtype, copy=False), reduction)
    if not recording(input, target):
        return out(loss)
    node = node_cls((edge(input), edge(target)))
    node.reduction, node.param = reduction, param
    node.a, node.b = (x.shape, input._data.dtype), (y.shape, target._data.dtype)
    node.save_as((input, x), (target, y))
    return out(loss, node)


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,  # noqa: A002
             reduce: bool | None = None, reduction: str = "mean", weight: Tensor | None = None
             ) -> Tensor:
    """Mean (or sum, or elementwise) squared error; with ``weight`` (the input's shape) the
    mean divides by the summed weights, as torch's.

    >>> F.mse_loss(engine.tensor([1.0, 3.0]), engine.tensor([0.0, 0.0]))
    tensor(5.)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if weight is None:
        return _pair_loss(input, target, reduction, "mse_loss", np.square, MseLossBackward0)
    each = _pair_loss(input, target, "none", "mse_loss", np.square, MseLossBackward0)
    return _weighted(each, input, weight, reduction, by_weight=True)


def _weighted(each: Tensor, input: Tensor, weight: Tensor, reduction: str,  # noqa: A002
              by_weight: bool) -> Tensor:
    """The elementwise loss times ``weight``, reduced as torch's weighted losses are: the
    mean divides by the summed weights (``by_weight``) or by the element count."""
    if weight._data.shape != input._data.shape:
        raise ValueError("Weights and input must have the same size.")
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', "
                         "'mean', 'sum'.")
    each = mul(each, weight)
    if reduction == "none":
        return each
    if reduction == "sum":
        return sum(each)
    return div(sum(each), sum(weight)) if by_weight else mean(each)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean",  # noqa: A002
               delta: float = 1.0, weight: Tensor | None = None) -> Tensor:
    """Squared error ``0.5 d^2`` below ``delta``, linear ``delta (|d| - delta / 2)`` above;
    times ``weight`` if given (then the mean is over the elements, as torch's).

    >>> F.huber_loss(engine.tensor([0.5, 3.0]), engine.zeros(2), reduction="none")
    tensor([0.1250, 2.5000])
    """
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    half = 0.5 * delta

    def each(d: np.ndarray) -> np.ndarray:
        z = np.abs(d)
        return np.where(z < delta, 0.5 * z * z, delta * (z - half))

    if weight is None:
        return _pair_loss(input, target, reduction, "huber_loss", each, HuberLossBackward0,
                          float(delta))
    unweighted = _pair_loss(input, target, "none", "huber_loss", each, HuberLossBackward0,
                            float(delta))
    return _weighted(unweighted, input, weight, reduction, by_weight=False)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,  # noqa: A002
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` below ``beta``, ``|d| - beta / 2`` above; ``l1_loss`` at ``beta=0``
    (as torch, which then records ``l1_loss``'s graph).

    >>> F.smooth_l1_loss(engine.tensor([0.5, 3.0]), engine.zeros(2), reduction="none")
    tensor([0.1250, 2.5000])
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)

    def each(d: np.ndarray) -> np.ndarray:
        z = np.abs(d)
        return np.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)

    return _pair_loss(input, target, reduction, "smooth_l1_loss", each,
                      SmoothL1LossBackward0, float(beta))


def _check_pair(input: Tensor, target: Tensor, name: str,  # noqa: A002
                stacklevel: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Both operands as arrays of their common float type; torch's warning when they
    broadcast (``stacklevel`` reaches the caller of the public loss)."""
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{name}(): input and target must be Tensors")
    x, y = input._data, target._data
    if x.shape != y.shape:
        warnings.warn(f"Using a target size ({target.shape!r}) that is different to the input "
                      f"size ({input.shape!r}). This will likely lead to incorrect results due "
                      "to broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=stacklevel)
        broadcast_shape(x.shape, y.shape)
    want = np.promote_types(x.dtype, y.dtype)
    if want.kind != "f":
        raise RuntimeError(f"{name}: expected floating point tensors")
    return x.astype(want, copy=False), y.astype(want, copy=False)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,  # noqa: A002
            reduce: bool | None = None, reduction: str = "mean", weight: Tensor | None = None
            ) -> Tensor:
    """Mean absolute error, recorded as torch does: ``(input - target).abs().mean()``; with
    ``weight``, the weighted sum over the summed weights.

    >>> F.l1_loss(engine.tensor([1.0, -3.0]), engine.tensor([0.0, 0.0]))
    tensor(2.)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if weight is None:
        check_reduction(reduction)
    _check_pair(input, target, "l1_loss")
    loss = abs(sub(input, target))
    if weight is not None:
        return _weighted(loss, input, weight, reduction, by_weight=True)
    if reduction == "mean":
        return mean(loss)
    return sum(loss) if reduction == "sum" else loss


# ---------------------------------------------------------------- kl divergence
_KL_MEAN = ("reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.")


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,  # noqa: A002
           reduce: bool | None = None, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence of ``target`` from log-probabilities ``input``, built from engine ops
    as torch builds it: ``target * (log(target) - input)`` (0 where ``target`` is 0), or
    ``exp(target) * (target - input)`` when ``log_target``; ``'batchmean'`` divides the sum
    by the batch size.

    >>> p = engine.tensor([[0.5, 0.5]]); F.kl_div(p.log(), p, reduction="batchmean")
    tensor(0.)
    """
    if reduction == "mean" and size_average is None and reduce is None:
        warnings.warn(_KL_MEAN, UserWarning, stacklevel=2)  # (not when the old flags decide)
    reduction = legacy_reduction(size_average, reduce, reduction)
    if reduction not in (*REDUCTIONS, "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        each = mul(exp(target), sub(target, input))
    else:  # xlogy(target, target): 0 log 0 is 0 (quietly: the masked 0 * -inf is NaN)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_log_t = where(out(target._data == 0), 0.0, mul(target, log(target)))
        each = sub(t_log_t, mul(target, input))
    if reduction == "none":
        return each
    if reduction == "mean":
        return mean(each)
    total = sum(each)
    if reduction == "batchmean" and input._data.ndim:
        return div(total, input._data.shape[0])
    return total
