"""Kernels of the loss functions: binary_cross_entropy_with_logits (group "loss", plus its
forward's tail in group "forward"), and mse_loss, huber_loss, smooth_l1_loss,
binary_cross_entropy and nll_loss (group "loss_more").

Optional operands (``weight``, ``pos_weight``) arrive as empty arrays when absent,
so each kernel has one signature per dtype.  ``g`` has one element for the 'mean'
and 'sum' reductions, and one per input element (or row) for 'none'; ``denom`` is the
mean's divisor (1 for 'sum' and 'none').

``mse_bwd``, ``huber_bwd``, ``smooth_l1_bwd``, ``bce_bwd_input`` and ``bce_bwd_target``
are ``@elementwise_kernel``s (``engine.kernels._entry``): serial on small inputs, over
blocks on two threads into a pooled buffer the size of ``x`` on large ones, with the same
values.
"""

import math

import numpy as np

from engine.kernels import kernel
from engine.kernels._entry import elementwise_kernel


@kernel("loss", "aaaaas")
def bce_logits_bwd_input(g, x, y, w, pw, denom):
    out = np.empty_like(x)
    one_g = g.size == 1
    for i in range(x.size):
        xi = x[i]
        s = 1.0 / (1.0 + math.exp(-xi))
        if pw.size:
            t = pw[i] * y[i]
            d = (t + 1 - y[i]) * s - t
        else:
            d = s - y[i]
        d = d * (g[0] if one_g else g[i])
        if w.size:
            d = d * w[i]
        out[i] = d / denom
    return out


@kernel("loss", "aaaas")
def bce_logits_bwd_target(g, x, w, pw, denom):
    out = np.empty_like(x)
    one_g = g.size == 1
    for i in range(x.size):
        xi = x[i]
        if pw.size:
            # log_sigmoid(-x) - pos_weight * log_sigmoid(x), computed stably
            soft = math.log1p(math.exp(-abs(xi)))
            d = (min(-xi, 0.0) - soft) - pw[i] * (min(xi, 0.0) - soft)
        else:
            d = -xi
        d = d * (g[0] if one_g else g[i])
        if w.size:
            d = d * w[i]
        out[i] = d / denom
    return out


# Group "forward": a forward kernel, apart from the "loss" group's backward kernels.
@kernel("forward", "aaas")
def bce_logits_rest(x, y, soft, limit):
    """The rest of ``binary_cross_entropy_with_logits``' forward, given numpy's
    ``soft = log1p(exp(-|x|))``: ``(1 - y) * x - (min(x, 0) - soft)`` per element, each
    step rounded to the array's type exactly as numpy's ufuncs round it (so the values
    are numpy's, bit for bit), and whether summing them can neither overflow nor meet
    an inf or NaN (then the caller's reduction needs no ``np.errstate``)."""
    out = np.empty_like(x)
    one = np.float32(1.0)  # keeps float32 arithmetic in float32 (float64 stays float64)
    zero = np.float32(0.0)
    n = x.size
    big = 0.0
    finite = True
    for i in range(n):
        xi = x[i]
        m = xi if xi < zero or xi != xi else zero  # np.minimum(x, 0): NaN propagates
        v = (one - y[i]) * xi - (m - soft[i])
        out[i] = v
        a = abs(v)
        if a > big:
            big = a
        elif not a <= big:  # NaN
            finite = False
    return out, finite and n > 0 and big * n < limit


# ----------------------------------------------------------------------------- mse, bce, nll
@elementwise_kernel("loss_more", "aaas", like=1)
def mse_bwd(g, x, y, denom, out):
    """d/dx of (x - y)^2 summed and divided by ``denom``; the target's is its negative."""
    one_g = g.size == 1
    for i in range(x.size):
        out[i] = 2.0 * (x[i] - y[i]) * (g[0] if one_g else g[i]) / denom


@elementwise_kernel("loss_more", "aaass", like=1)
def huber_bwd(g, x, y, delta, denom, out):
    """d/dx of huber_loss: ``x - y`` clamped to ``[-delta, delta]`` (NaN stays NaN)."""
    one_g = g.size == 1
    for i in range(x.size):
        d = x[i] - y[i]
        if d < -delta:
            d = -delta
        elif d > delta:
            d = delta
        out[i] = d * (g[0] if one_g else g[i]) / denom


@elementwise_kernel("loss_more", "aaass", like=1)
def smooth_l1_bwd(g, x, y, beta, denom, out):
    """d/dx of smooth_l1_loss: ``(x - y) / beta`` clamped to ``[-1, 1]`` (NaN stays NaN)."""
    one_g = g.size == 1
    for i in range(x.size):
        d = x[i] - y[i]
        if d <= -beta:
            d = -1.0
        elif d >= beta:
            d = 1.0
        else:
            d = d / beta
        out[i] = d * (g[0] if one_g else g[i]) / denom


@elementwise_kernel("loss_more", "aaaas", like=1)
def bce_bwd_input(g, x, y, w, denom, out):
    """(x - y) / max(x (1 - x), eps), as torch clamps the denominator.

    torch's eps is 1e-12 rounded to float32 (9.99999996e-13), in both dtypes.
    """
    one_g = g.size == 1
    for i in range(x.size):
        d = (x[i] - y[i]) / max((1.0 - x[i]) * x[i], 9.999999960041972e-13)
        d = d * (g[0] if one_g else g[i])
        if w.size:
            d = d * w[i]
        out[i] = d / denom


@elementwise_kernel("loss_more", "aaas", like=1)
def bce_bwd_target(g, x, w, denom, out):
    """log(1 - x) - log(x), each log clamped at -100 as in the forward."""
    one_g = g.size == 1
    for i in range(x.size):
        lx = max(math.log(x[i]), -100.0) if x[i] > 0 else -100.0
        l1x = max(math.log(1.0 - x[i]), -100.0) if x[i] < 1 else -100.0
        d = (l1x - lx) * (g[0] if one_g else g[i])
        if w.size:
            d = d * w[i]
        out[i] = d / denom


@kernel("loss_more", "aain")
def pick_rows_bwd(g, coef, target, n):
    """nll_loss: row r gets ``coef[r] * g`` at column ``target[r]``, zeros elsewhere."""
    rows = target.size
    out = np.zeros(rows * n, g.dtype)
    one_g = g.size == 1
    for r in range(rows):
        out[r * n + target[r]] = coef[r] * (g[0] if one_g else g[r])
    return out
