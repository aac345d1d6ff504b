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
