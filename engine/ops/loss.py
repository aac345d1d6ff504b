"""Losses: binary_cross_entropy_with_logits (the tutorial's), binary_cross_entropy,
nll_loss and cross_entropy; and the reductions every loss shares (``check_reduction``,
``reduce_loss``).  The elementwise losses (mse, huber, l1, kl_div) are in
``engine.ops.pointwise_loss``.

``binary_cross_entropy_with_logits``, ``binary_cross_entropy`` and ``nll_loss`` have their
own nodes and Numba backward kernels (``engine.kernels.loss``); ``cross_entropy`` is built
from other ops, the way torch builds it.
"""

from __future__ import annotations

import warnings

import numpy as np

from engine._base import dtypes
from engine._base.arrays import broadcast_shape
from engine.graph import Node
from engine.kernels import loss as lk
from engine.ops.activation import log_softmax, softplus
from engine.ops.base import (
    const,
    edge,
    expand_flat,
    flat,
    out,
    recording,
    unpack,
)
from engine.ops.elementwise import add, div, mul, neg
from engine.ops.reduce import sum  # noqa: A004 - the engine's ops, as torch names them
from engine.ops.selection import where
from engine.tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")
_EMPTY: dict[np.dtype, np.ndarray] = {}


def absent(dtype: np.dtype) -> np.ndarray:
    """The empty array that tells a loss kernel an optional operand was not given."""
    if dtype not in _EMPTY:
        _EMPTY[dtype] = np.empty(0, dtype)
    return _EMPTY[dtype]


# ---------------------------------------------------------------- binary cross-entropy with logits
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


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,  # noqa: A002
                                     weight: Tensor | None = None, size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid plus binary cross-entropy in one numerically stable step.

    >>> z = engine.tensor([0.0, 0.0], requires_grad=True)
    >>> F.binary_cross_entropy_with_logits(z, engine.tensor([1.0, 0.0]))  # mean over elements
    tensor(0.6931, grad_fn=<BinaryCrossEntropyWithLogitsBackward0>)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
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


# Half the largest value of each float type: a sum of n terms below limit / n is finite.
_LIMIT = {np.dtype(t): float(np.finfo(t).max) / 2 for t in (np.float32, np.float64)}


def _reduce(each: np.ndarray, dt: np.dtype, mean: bool) -> np.ndarray:
    """Sum or mean of the elementwise loss as a 0-d array (np.add.reduce is what
    ndarray.sum and .mean run, without their Python layers)."""
    total = np.add.reduce(each, axis=None, dtype=dt)
    return np.asarray(total / each.size if mean else total, dtype=dt)


# ---------------------------------------------------------------- shared checks
def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """``reduction`` from torch's deprecated ``size_average``/``reduce`` flags when either is
    given (with torch's warning), else ``reduction`` itself."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    legacy = ("mean" if size_average else "sum") if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{legacy}' instead.", UserWarning, stacklevel=3)
    return legacy


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def reduce_loss(loss: np.ndarray, reduction: str) -> np.ndarray:
    with np.errstate(all="ignore"):  # the mean of nothing is NaN, inf - inf too: quietly
        if reduction == "mean":
            return np.asarray(loss.sum(dtype=loss.dtype) / loss.dtype.type(loss.size)
                              if loss.size else np.array(np.nan, loss.dtype))
        if reduction == "sum":
            return np.asarray(loss.sum(dtype=loss.dtype))
    return loss


# ---------------------------------------------------------------- binary cross-entropy
class BinaryCrossEntropyBackward0(Node):
    __slots__ = ("reduction", "weight")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        x, y = self.saved()
        shape, dt = x.shape, x.dtype
        denom = float(x.size) if self.reduction == "mean" else 1.0
        w = expand_flat(self.weight.astype(dt, copy=False), shape) \
            if self.weight is not None else absent(dt)
        gf = flat(np.ascontiguousarray(g, dtype=dt))
        (fx, _), (fy, _) = self.next_functions
        gx = lk.bce_bwd_input(gf, flat(x), flat(y), w, denom).reshape(shape) \
            if fx is not None else None
        gy = lk.bce_bwd_target(gf, flat(x), w, denom).reshape(shape) if fy is not None else None
        return gx, gy

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        x, y = unpack(self)
        dt = x._data.dtype
        scale = g if self.weight is None else g * const(self.weight.astype(dt))
        if self.reduction == "mean":
            scale = scale / float(x._data.size)
        (fx, _), (fy, _) = self.next_functions
        gx = gy = None
        if fx is not None:
            gx = (x - y) / (x * (1 - x)).clamp(min=1e-12) * scale
        if fy is not None:
            gy = ((-x).log1p() - x.log()) * scale
        return gx, gy


def binary_cross_entropy(input: Tensor, target: Tensor,  # noqa: A002
                         weight: Tensor | None = None, size_average: bool | None = None,
                         reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy between probabilities ``input`` and ``target``.

    Logs are clamped at -100, as in torch, so ``input`` of exactly 0 or 1 stays finite.

    >>> F.binary_cross_entropy(engine.tensor([0.5]), engine.tensor([1.0]))
    tensor(0.6931)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x, y = input._data, target._data
    if x.shape != y.shape:
        raise ValueError(f"Using a target size ({target.shape!r}) that is different to the "
                         f"input size ({input.shape!r}) is deprecated. Please ensure they have "
                         "the same size.")
    if x.dtype.kind != "f":
        raise RuntimeError("binary_cross_entropy: expected a floating point input")
    if x.size and (np.any(x < 0) or np.any(x > 1) or np.any(np.isnan(x))):
        raise RuntimeError("all elements of input should be between 0 and 1")
    y = y.astype(x.dtype, copy=False)
    w = weight._data if weight is not None else None
    if w is not None and broadcast_shape(w.shape, x.shape) != x.shape:
        raise RuntimeError(f"weight of shape {list(w.shape)} cannot be broadcast to the input's "
                           f"shape {list(x.shape)}")
    with np.errstate(divide="ignore"):
        lx = np.maximum(np.log(x), -100)
        l1x = np.maximum(np.log1p(-x), -100)
    loss = -(y * lx + (1 - y) * l1x)
    if w is not None:
        loss = loss * w
    loss = reduce_loss(loss.astype(x.dtype, copy=False), reduction)
    if not recording(input, target):
        return out(loss)
    node = BinaryCrossEntropyBackward0((edge(input), edge(target)))
    node.reduction, node.weight = reduction, w
    node.save_as((input, x), (target, y))
    return out(loss, node)


# ---------------------------------------------------------------- nll / cross-entropy
class NllLossBackward0(Node):
    """Row r's gradient lands on its target class, scaled by ``-w[t] / denom``."""

    # ``replay``: (target tensor, ignore_index, reduction, weighted) for a compiled Plan,
    # which recomputes the loss from the target's current values
    __slots__ = ("coef", "target", "shape", "moved_shape", "cdim", "replay")

    def apply(self, grads: list) -> tuple:
        g = np.ascontiguousarray(grads[0])
        c = self.moved_shape[-1]
        gr = lk.pick_rows_bwd(flat(g), self.coef.astype(g.dtype, copy=False), self.target, c)
        gr = gr.reshape(self.moved_shape)
        if self.cdim is not None:
            gr = np.ascontiguousarray(np.moveaxis(gr, -1, self.cdim))
        return (gr.reshape(self.shape),)

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        rows, c = self.target.size, self.moved_shape[-1]
        coef = np.zeros((rows, c), g._data.dtype)
        coef[np.arange(rows), self.target] = self.coef
        gr = (g.reshape(-1, 1) if g._data.ndim else g) * const(coef)
        gr = gr.reshape(self.moved_shape)
        if self.cdim is not None:
            nd = len(self.moved_shape)
            gr = gr.permute(0, nd - 1, *range(1, nd - 1))
        return (gr.reshape(self.shape),)


class NllLoss2DBackward0(NllLossBackward0):
    """The same node for inputs with spatial dims (N, C, d1, ...), named as torch does."""

    __slots__ = ()


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
             size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices under log-probabilities ``input``.

    ``mean`` divides by the summed weights of the non-ignored targets.

    >>> F.nll_loss(engine.tensor([[-1.0, -2.0]]), engine.tensor([1]))
    tensor(2.)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x, t = input._data, target._data
    if t.dtype != np.int64 and t.dtype != np.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{dtypes.from_np(t.dtype).scalar_name}")
    if x.ndim < 1 or (x.ndim >= 2 and t.shape != (x.shape[0],) + x.shape[2:]) or \
            (x.ndim == 1 and t.ndim != 0):
        raise ValueError(f"Expected input batch_size ({x.shape[0] if x.ndim else 0}) to match "
                         f"target batch_size ({t.shape[0] if t.ndim else 0}).")
    moved, cdim = _class_rows(x)
    c = moved.shape[-1]
    rows = moved.reshape(-1, c)
    tf = t.reshape(-1).astype(np.int64)
    ignored = tf == ignore_index
    bad = (~ignored) & ((tf < 0) | (tf >= c))
    if bad.any():
        raise IndexError(f"Target {int(tf[bad][0])} is out of bounds.")
    if weight is None and not ignored.any():
        # the common case: every weight is 1, so -w * picked is -picked and the weights sum
        # to the row count exactly (the same floats as the general path below)
        safe = tf
        wt = np.ones(tf.shape[0], x.dtype)
        per = -rows[np.arange(rows.shape[0]), safe]
    else:
        safe = np.where(ignored, 0, tf)
        w = weight._data.astype(x.dtype) if weight is not None else np.ones(c, x.dtype)
        wt = np.where(ignored, 0, w[safe]).astype(x.dtype)
        per = (-wt * rows[np.arange(rows.shape[0]), safe]).astype(x.dtype)
    if reduction == "none":
        loss = per.reshape(t.shape)
        coef = -wt
    elif reduction == "sum":
        loss = np.asarray(per.sum(dtype=x.dtype))
        coef = -wt
    else:
        total = wt.sum(dtype=x.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = np.asarray(per.sum(dtype=x.dtype) / total, dtype=x.dtype)
            # an ignored target gets no gradient, even when all are ignored (0 / 0)
            coef = np.where(ignored, 0, -wt / total).astype(x.dtype)
    if not recording(input):
        return out(loss)
    node = (NllLoss2DBackward0 if x.ndim >= 3 else NllLossBackward0)((edge(input),))
    node.coef, node.target, node.cdim = np.ascontiguousarray(coef), safe, cdim
    node.shape, node.moved_shape = x.shape, moved.shape
    node.replay = (target, ignore_index, reduction, weight is not None)
    return out(loss, node)


def _class_rows(x: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Input of shape (C,), (N, C) or (N, C, d1, ...) as rows of C (and the class dim)."""
    if x.ndim == 1:
        return x.reshape(1, -1), None
    if x.ndim == 2:
        return x, None
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)), 1


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits ``input`` against class indices or class probabilities.

    Built as torch builds it: ``log_softmax`` then ``nll_loss`` for indices; with
    ``label_smoothing`` or probability targets it adds the smoothing terms from
    engine ops.

    >>> F.cross_entropy(engine.tensor([[2.0, 0.0]]), engine.tensor([0]))
    tensor(0.1269)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    x = input._data
    cdim = 0 if x.ndim == 1 else 1
    c = x.shape[cdim]
    lsm = log_softmax(input, cdim)
    wshape = tuple(c if d == cdim else 1 for d in range(x.ndim))
    w_view = out(weight._data.reshape(wshape)) if weight is not None else None
    if target._data.dtype.kind == "f" and target._data.shape == x.shape:  # class probabilities
        tgt = target
        if label_smoothing > 0:
            tgt = add(mul(target, 1 - label_smoothing), label_smoothing / c)
        prod = mul(lsm, tgt)
        if w_view is not None:
            prod = mul(prod, w_view)
        if reduction == "none":
            return neg(sum(prod, cdim))
        total = neg(sum(prod))
        return div(total, x.size / c) if reduction == "mean" else total
    nll = nll_loss(lsm, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return nll
    smooth = neg(sum(mul(lsm, w_view) if w_view is not None else lsm, cdim))
    ignore = out(target._data == ignore_index)
    smooth = where(ignore, 0.0, smooth)
    if reduction == "mean":
        keep = target._data != ignore_index
        if weight is not None:
            denom = float(weight._data[target._data[keep]].sum())
        else:
            denom = float(keep.sum())
        ret = div(sum(smooth), denom)
    elif reduction == "sum":
        ret = sum(smooth)
    else:
        ret = smooth
    return add(mul(nll, 1 - label_smoothing), mul(ret, label_smoothing / c))
