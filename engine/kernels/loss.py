"""Backward kernels of the loss functions.

Optional operands (``weight``, ``pos_weight``) arrive as empty arrays when absent,
so each kernel has one signature per dtype.  ``g`` has one element for the 'mean'
and 'sum' reductions, and one per input element for 'none'.
"""

import math

import numpy as np

from engine.kernels import kernel


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
