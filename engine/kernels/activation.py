"""Backward kernels of the extra elementwise ops and activations.

Like ``elementwise``: flat C-contiguous buffers of one length in, a fresh buffer
out, torch's formulas including its choices at the edges (ties, thresholds).  And like
there, each ``name`` the ops call is an entry point (``buffers.entry``): the serial kernel
(kept as ``_name``) on small inputs, its twin ``name_large`` over blocks on two threads
into a pooled buffer on large ones (the softmax kernels: blocks of whole rows), with the
same values.
"""

import math

import numpy as np

from engine.kernels import kernel
from engine.kernels.buffers import entry

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)


@kernel("activation", "aa")
def sin_bwd(g, x):
    out = np.empty_like(g)
    sin_bwd_large(g, x, out)
    return out


@kernel("large", "aaa")
def sin_bwd_large(g, x, out):
    """``sin_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] * math.cos(x[i])


@kernel("activation", "aa")
def cos_bwd(g, x):
    out = np.empty_like(g)
    cos_bwd_large(g, x, out)
    return out


@kernel("large", "aaa")
def cos_bwd_large(g, x, out):
    """``cos_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = -g[i] * math.sin(x[i])


@kernel("activation", "aa")
def log1p_bwd(g, x):
    out = np.empty_like(g)
    log1p_bwd_large(g, x, out)
    return out


@kernel("large", "aaa")
def log1p_bwd_large(g, x, out):
    """``log1p_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] / (x[i] + 1.0)


@kernel("activation", "aa")
def expm1_bwd(g, res):
    out = np.empty_like(g)
    expm1_bwd_large(g, res, out)
    return out


@kernel("large", "aaa")
def expm1_bwd_large(g, res, out):
    """``expm1_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] * (res[i] + 1.0)


@kernel("activation", "aa")
def rsqrt_bwd(g, res):
    """d/dx x**-0.5 = -0.5 * res**3."""
    out = np.empty_like(g)
    rsqrt_bwd_large(g, res, out)
    return out


@kernel("large", "aaa")
def rsqrt_bwd_large(g, res, out):
    """``rsqrt_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        r = res[i]
        out[i] = -0.5 * g[i] * (r * r * r)


@kernel("activation", "aass")
def clamp_bwd(g, x, lo, hi):
    """The gradient passes where lo <= x <= hi (bounds included, NaN blocked)."""
    out = np.empty_like(g)
    clamp_bwd_large(g, x, lo, hi, out)
    return out


@kernel("large", "aassa")
def clamp_bwd_large(g, x, lo, hi, out):
    """``clamp_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        v = x[i]
        out[i] = g[i] if (v >= lo and v <= hi) else 0.0


@kernel("activation", "aaa")
def pick_bwd(g, a, b):
    """Gradient of ``a`` in maximum(a, b): all where a > b, half on ties, else none."""
    out = np.empty_like(g)
    pick_bwd_large(g, a, b, out)
    return out


@kernel("large", "aaaa")
def pick_bwd_large(g, a, b, out):
    """``pick_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        if a[i] > b[i]:
            out[i] = g[i]
        elif a[i] == b[i]:
            out[i] = g[i] / 2.0
        elif a[i] < b[i]:
            out[i] = 0.0
        else:  # NaN involved: torch passes the whole gradient
            out[i] = g[i]


@kernel("activation", "aas")
def mask_bwd(g, m, keep):
    """``g`` where ``(m != 0) == (keep != 0)``, else 0: the two sides of ``where``."""
    out = np.empty_like(g)
    mask_bwd_large(g, m, keep, out)
    return out


@kernel("large", "aasa")
def mask_bwd_large(g, m, keep, out):
    """``mask_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    want = keep != 0.0
    for i in range(g.size):
        out[i] = g[i] if (m[i] != 0.0) == want else 0.0


@kernel("activation", "aas")
def leaky_relu_bwd(g, x, slope):
    out = np.empty_like(g)
    leaky_relu_bwd_large(g, x, slope, out)
    return out


@kernel("large", "aasa")
def leaky_relu_bwd_large(g, x, slope, out):
    """``leaky_relu_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] if x[i] > 0 else g[i] * slope


@kernel("activation", "aa")
def gelu_bwd(g, x):
    """Exact GELU: d/dx x * Phi(x) = Phi(x) + x * phi(x)."""
    out = np.empty_like(g)
    gelu_bwd_large(g, x, out)
    return out


@kernel("large", "aaa")
def gelu_bwd_large(g, x, out):
    """``gelu_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        v = x[i]
        cdf = 0.5 * (1.0 + math.erf(v * _SQRT1_2))
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * v * v)
        out[i] = g[i] * (cdf + v * pdf)


@kernel("activation", "aa")
def gelu_tanh_bwd(g, x):
    """GELU with the tanh approximation (``approximate='tanh'``)."""
    out = np.empty_like(g)
    gelu_tanh_bwd_large(g, x, out)
    return out


@kernel("large", "aaa")
def gelu_tanh_bwd_large(g, x, out):
    """``gelu_tanh_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    k = 0.044715
    for i in range(g.size):
        v = x[i]
        inner = _SQRT_2_PI * (v + k * v * v * v)
        t = math.tanh(inner)
        d_inner = _SQRT_2_PI * (1.0 + 3.0 * k * v * v)
        out[i] = g[i] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * d_inner)


@kernel("activation", "aass")
def softplus_bwd(g, x, beta, threshold):
    """Above ``threshold`` softplus is linear, so the gradient passes unchanged."""
    out = np.empty_like(g)
    softplus_bwd_large(g, x, beta, threshold, out)
    return out


@kernel("large", "aassa")
def softplus_bwd_large(g, x, beta, threshold, out):
    """``softplus_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        z = x[i] * beta
        if z > threshold:
            out[i] = g[i]
        else:
            e = math.exp(z)
            out[i] = g[i] * e / (e + 1.0)


@kernel("activation", "aa")
def silu_bwd(g, x):
    out = np.empty_like(g)
    silu_bwd_large(g, x, out)
    return out


@kernel("large", "aaa")
def silu_bwd_large(g, x, out):
    """``silu_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        v = x[i]
        s = 1.0 / (1.0 + math.exp(-v))
        out[i] = g[i] * (s * (1.0 + v * (1.0 - s)))


@kernel("activation", "aan")
def softmax_bwd(g, y, n):
    """Rows of length ``n``: y * (g - sum(g * y))."""
    out = np.empty_like(g)
    softmax_bwd_large(g, y, n, out)
    return out


@kernel("large", "aana")
def softmax_bwd_large(g, y, n, out):
    """``softmax_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for r in range(y.size // n):
        base = r * n
        acc = 0.0
        for j in range(n):
            acc += g[base + j] * y[base + j]
        for j in range(n):
            out[base + j] = y[base + j] * (g[base + j] - acc)


@kernel("activation", "aan")
def log_softmax_bwd(g, y, n):
    """Rows of length ``n``: g - exp(y) * sum(g)."""
    out = np.empty_like(g)
    log_softmax_bwd_large(g, y, n, out)
    return out


@kernel("large", "aana")
def log_softmax_bwd_large(g, y, n, out):
    """``log_softmax_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for r in range(y.size // n):
        base = r * n
        acc = 0.0
        for j in range(n):
            acc += g[base + j]
        for j in range(n):
            out[base + j] = g[base + j] - math.exp(y[base + j]) * acc


@kernel("activation", "a")
def gelu_fwd(x):
    """Exact GELU, x * Phi(x), with the error function numpy lacks."""
    out = np.empty_like(x)
    gelu_fwd_large(x, out)
    return out


@kernel("large", "aa")
def gelu_fwd_large(x, out):
    """``gelu_fwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(x.size):
        v = x[i]
        out[i] = v * 0.5 * (1.0 + math.erf(v * _SQRT1_2))


@kernel("activation", "aa")
def sigmoid_tail(res, one):
    """``res = 1 / (1 + res)`` in place, in ``res``'s own precision (``one[0]`` is a 1 of
    its dtype): the values of numpy's ``add(res, 1)`` then ``reciprocal(res)`` (IEEE
    addition and division, rounded once each), in one pass.  The sigmoid forward's tail."""
    c = one[0]
    for i in range(res.size):
        res[i] = c / (res[i] + c)


# ----------------------------------------------------------------------------- entry points
sin_bwd = entry(globals(), "sin_bwd", 1)  # noqa: F811 - the kernel is kept as _sin_bwd
cos_bwd = entry(globals(), "cos_bwd", 1)  # noqa: F811 - the kernel is kept as _cos_bwd
log1p_bwd = entry(globals(), "log1p_bwd", 1)  # noqa: F811 - the kernel is kept as _log1p_bwd
expm1_bwd = entry(globals(), "expm1_bwd", 1)  # noqa: F811 - the kernel is kept as _expm1_bwd
rsqrt_bwd = entry(globals(), "rsqrt_bwd", 1)  # noqa: F811 - the kernel is kept as _rsqrt_bwd
clamp_bwd = entry(globals(), "clamp_bwd", 3)  # noqa: F811 - the kernel is kept as _clamp_bwd
pick_bwd = entry(globals(), "pick_bwd", 2)  # noqa: F811 - the kernel is kept as _pick_bwd
mask_bwd = entry(globals(), "mask_bwd", 2)  # noqa: F811 - the kernel is kept as _mask_bwd
leaky_relu_bwd = entry(globals(), "leaky_relu_bwd", 2)  # noqa: F811 - the kernel is kept as _leaky_relu_bwd
gelu_bwd = entry(globals(), "gelu_bwd", 1)  # noqa: F811 - the kernel is kept as _gelu_bwd
gelu_tanh_bwd = entry(globals(), "gelu_tanh_bwd", 1)  # noqa: F811 - the kernel is kept as _gelu_tanh_bwd
softplus_bwd = entry(globals(), "softplus_bwd", 3)  # noqa: F811 - the kernel is kept as _softplus_bwd
silu_bwd = entry(globals(), "silu_bwd", 1)  # noqa: F811 - the kernel is kept as _silu_bwd
softmax_bwd = entry(globals(), "softmax_bwd", 2, rows=2)  # noqa: F811 - the kernel is kept as _softmax_bwd
log_softmax_bwd = entry(globals(), "log_softmax_bwd", 2, rows=2)  # noqa: F811 - the kernel is kept as _log_softmax_bwd
gelu_fwd = entry(globals(), "gelu_fwd", 0)  # noqa: F811 - the kernel is kept as _gelu_fwd
