"""Losses: ``binary_cross_entropy_with_logits`` (the tutorial's loss)."""

from __future__ import annotations

import numpy as np

from engine._base.arrays import broadcast_shape
from engine.graph import Node
from engine.kernels import loss as lk
from engine.ops.base import const, edge, expand_flat, out, recording, unpack
from engine.tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")
_EMPTY: dict[np.dtype, np.ndarray] = {}


def absent(dtype: np.dtype) -> np.ndarray:
    """The empty array that tells a loss kernel an optional operand was not given."""
    if dtype not in _EMPTY:
        _EMPTY[dtype] = np.empty(0, dtype)
    return _EMPTY[dtype]


class BinaryCrossEntropyWithLogitsBackward0(Node):
    __slots__ = ("reduction", "weight", "pos_weight")
    fresh_grads = True

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        s = self._saved  # (already checked by the engine before the pass started)
        x, y = s[0].data, s[1].data
        shape = x.shape
        denom = float(x.size) if self.reduction == "mean" else 1.0
        dt = x.dtype
        w = expand_flat(self.weight.astype(dt, copy=False), shape) \
            if self.weight is not None else absent(dt)
        pw = expand_flat(self.pos_weight.astype(dt, copy=False), shape) \
            if self.pos_weight is not None else absent(dt)
        gf = (g if g.dtype == dt else g.astype(dt)).reshape(-1)
        xf = x.reshape(-1)
        (fx, _), (fy, _) = self.next_functions
        gx = lk.bce_logits_bwd_input(gf, xf, y.reshape(-1), w, pw, denom).reshape(shape) \
            if fx is not None else None
        gy = lk.bce_logits_bwd_target(gf, xf, w, pw, denom).reshape(shape) \
            if fy is not None else None
        return gx, gy

    def apply_graph(self, grads: list) -> tuple:
        from engine.ops.activation import softplus

        g = grads[0]
        x, y = unpack(self)
        dt = x._data.dtype
        denom = float(x._data.size) if self.reduction == "mean" else 1.0
        w = const(self.weight.astype(dt)) if self.weight is not None else None
        pw = const(self.pos_weight.astype(dt)) if self.pos_weight is not None else None
        (fx, _), (fy, _) = self.next_functions
        gx = gy = None
        if fx is not None:
            d = x.sigmoid() - y if pw is None else (pw * y + 1 - y) * x.sigmoid() - pw * y
            d = d * g if w is None else d * g * w
            gx = d / denom if denom != 1.0 else d
        if fy is not None:
            # log_sigmoid(-x) - pw * log_sigmoid(x), with log_sigmoid(v) = -softplus(-v)
            d = -x if pw is None else pw * softplus(-x) - softplus(x)
            d = d * g if w is None else d * g * w
            gy = d / denom if denom != 1.0 else d
        return gx, gy


# Half the largest value of each float type: a sum of n terms below limit / n is finite.
_LIMIT = {np.dtype(t): float(np.finfo(t).max) / 2 for t in (np.float32, np.float64)}


def _reduce(each: np.ndarray, dt: np.dtype, mean: bool) -> np.ndarray:
    """Sum or mean of the elementwise loss as a 0-d array (np.add.reduce is what
    ndarray.sum and .mean run, without their Python layers)."""
    total = np.add.reduce(each, axis=None, dtype=dt)
    return np.asarray(total / each.size if mean else total, dtype=dt)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,  # noqa: A002
                                     weight: Tensor | None = None, size_average: None = None,
                                     reduce: None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid plus binary cross-entropy in one numerically stable step.

    >>> z = engine.tensor([0.0, 0.0], requires_grad=True)
    >>> F.binary_cross_entropy_with_logits(z, engine.tensor([1.0, 0.0]))  # mean over elements
    tensor(0.6931, grad_fn=<BinaryCrossEntropyWithLogitsBackward0>)
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError("binary_cross_entropy_with_logits(): input and target must be Tensors")
    extras = weight is not None or pos_weight is not None
    for name, extra in (("weight", weight), ("pos_weight", pos_weight)) if extras else ():
        if extra is not None and recording(extra):  # torch has no gradient for these
            raise RuntimeError(
                f"The function 'binary_cross_entropy_with_logits' is not differentiable with "
                f"respect to argument '{name}'. This input cannot have requires_grad True.")
    x, y = input._data, target._data
    if x.shape != y.shape:
        raise ValueError(f"Target size ({target.shape!r}) must be the same as input size "
                         f"({input.shape!r})")
    if x.dtype.kind != "f":
        raise RuntimeError(f"binary_cross_entropy_with_logits: expected a floating point input, "
                           f"got {input.dtype}")
    if y.dtype != x.dtype:
        y = y.astype(x.dtype)
    w = weight._data if weight is not None else None
    pw = pos_weight._data if pos_weight is not None else None
    for name, extra in (("weight", w), ("pos_weight", pw)) if extras else ():
        if extra is not None and broadcast_shape(extra.shape, x.shape) != x.shape:
            raise RuntimeError(f"{name} of shape {list(extra.shape)} cannot be broadcast to the "
                               f"input's shape {list(x.shape)}")
    dt = x.dtype
    if not extras and x.flags.c_contiguous and y.flags.c_contiguous:  # (the kernel's layout)
        # numpy's exp and log1p (vectorized), then the rest of the formula and the check
        # for the reduction in one Numba pass: numpy's values, bit for bit, in fewer calls
        flat_x = x.reshape(-1)
        soft = np.abs(flat_x)  # exp(-|x|) is in [0, 1]: nothing here can overflow
        np.negative(soft, out=soft)
        np.exp(soft, out=soft)
        np.log1p(soft, out=soft)
        each, ok = lk.bce_logits_rest(flat_x, y.reshape(-1), soft,
                                      _LIMIT.get(dt) or float(np.finfo(dt).max) / 2)
        if reduction == "none":
            loss = each.reshape(x.shape)
        elif ok:  # finite, and no overflow possible: numpy has nothing to warn about
            loss = _reduce(each, dt, reduction == "mean")
        else:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                loss = _reduce(each, dt, reduction == "mean")
    else:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # inf - inf: NaN
            log_sig = np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))
            if pw is not None:
                log_sig = log_sig * ((pw - 1) * y + 1)
            loss = (1 - y) * x - log_sig
            if w is not None:
                loss = loss * w
            if reduction != "none":
                loss = _reduce(loss, dt, reduction == "mean")
        loss = np.asarray(loss, dtype=dt)
    if not recording(input, target):
        return out(loss)
    node = BinaryCrossEntropyWithLogitsBackward0((edge(input), edge(target)))
    node.reduction = reduction
    node.weight, node.pos_weight = w, pw
    node.save_as((input, x), (target, y))
    return out(loss, node)
