"""Backward kernels of mse_loss, binary_cross_entropy and nll_loss.

``g`` has one element for the 'mean' and 'sum' reductions, one per element (or
row) for 'none'; ``denom`` is the mean's divisor (1 for 'sum' and 'none').

The elementwise ones are entry points like ``engine.kernels.elementwise``'s: the serial
kernel (kept as ``_name``) on small inputs, the twin over blocks on two threads into a
pooled buffer the size of ``x`` on large ones, with the same values.
"""

import math

import numpy as np

from engine.kernels import kernel
from engine.kernels.buffers import entry


@kernel("loss_more", "aaas")
def mse_bwd(g, x, y, denom):
    """d/dx of (x - y)^2 summed and divided by ``denom``; the target's is its negative."""
    out = np.empty_like(x)
    mse_bwd_large(g, x, y, denom, out)
    return out


@kernel("large", "aaasa")
def mse_bwd_large(g, x, y, denom, out):
    """``mse_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    one_g = g.size == 1
    for i in range(x.size):
        out[i] = 2.0 * (x[i] - y[i]) * (g[0] if one_g else g[i]) / denom


@kernel("loss_more", "aaaas")
def bce_bwd_input(g, x, y, w, denom):
    """(x - y) / max(x (1 - x), eps), as torch clamps the denominator.

    torch's eps is 1e-12 rounded to float32 (9.99999996e-13), in both dtypes.
    """
    out = np.empty_like(x)
    bce_bwd_input_large(g, x, y, w, denom, out)
    return out


@kernel("large", "aaaasa")
def bce_bwd_input_large(g, x, y, w, denom, out):
    """``bce_bwd_input`` into ``out`` (or a block of each: ``buffers.entry``)."""
    one_g = g.size == 1
    for i in range(x.size):
        d = (x[i] - y[i]) / max((1.0 - x[i]) * x[i], 9.999999960041972e-13)
        d = d * (g[0] if one_g else g[i])
        if w.size:
            d = d * w[i]
        out[i] = d / denom


@kernel("loss_more", "aaas")
def bce_bwd_target(g, x, w, denom):
    """log(1 - x) - log(x), each log clamped at -100 as in the forward."""
    out = np.empty_like(x)
    bce_bwd_target_large(g, x, w, denom, out)
    return out


@kernel("large", "aaasa")
def bce_bwd_target_large(g, x, w, denom, out):
    """``bce_bwd_target`` into ``out`` (or a block of each: ``buffers.entry``)."""
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


# ----------------------------------------------------------------------------- entry points
mse_bwd = entry(globals(), "mse_bwd", 3, like=1)  # noqa: F811 - kept as _mse_bwd
bce_bwd_input = entry(globals(), "bce_bwd_input", 4, like=1)  # noqa: F811 - kept as _bce_bwd_input
bce_bwd_target = entry(globals(), "bce_bwd_target", 3, like=1)  # noqa: F811 - kept as _bce_bwd_target
