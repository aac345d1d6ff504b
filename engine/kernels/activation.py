"""Backward kernels of the extra elementwise ops and activations.

Like ``elementwise``: flat C-contiguous buffers of one length in, a fresh buffer
out, torch's formulas including its choices at the edges (ties, thresholds).
"""

import math

import numpy as np

from engine.kernels import kernel

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)


@kernel("activation", "aa")
def sin_bwd(g, x):
    out = np.empty_like(g)
    for i in range(g.size):
        out[i] = g[i] * math.cos(x[i])
    return out


@kernel("activation", "aa")
def cos_bwd(g, x):
    out = np.empty_like(g)
    for i in range(g.size):
        out[i] = -g[i] * math.sin(x[i])
    return out


@kernel("activation", "aa")
def log1p_bwd(g, x):
    out = np.empty_like(g)
    for i in range(g.size):
        out[i] = g[i] / (x[i] + 1.0)
    return out


@kernel("activation", "aa")
def expm1_bwd(g, res):
    out = np.empty_like(g)
    for i in range(g.size):
        out[i] = g[i] * (res[i] + 1.0)
    return out


@kernel("activation", "aa")
def rsqrt_bwd(g, res):
    """d/dx x**-0.5 = -0.5 * res**3."""
    out = np.empty_like(g)
    for i in range(g.size):
        r = res[i]
        out[i] = -0.5 * g[i] * (r * r * r)
    return out


@kernel("activation", "aass")
def clamp_bwd(g, x, lo, hi):
    """The gradient passes where lo <= x <= hi (bounds included, NaN blocked)."""
    out = np.empty_like(g)
    for i in range(g.size):
        v = x[i]
        out[i] = g[i] if (v >= lo and v <= hi) else 0.0
    return out


@kernel("activation", "aaa")
def pick_bwd(g, a, b):
    """Gradient of ``a`` in maximum(a, b): all where a > b, half on ties, else none."""
    out = np.empty_like(g)
    for i in range(g.size):
        if a[i] > b[i]:
            out[i] = g[i]
        elif a[i] == b[i]:
            out[i] = g[i] / 2.0
        elif a[i] < b[i]:
            out[i] = 0.0
        else:  # NaN involved: torch passes the whole gradient
            out[i] = g[i]
    return out


@kernel("activation", "aas")
def mask_bwd(g, m, keep):
    """``g`` where ``(m != 0) == (keep != 0)``, else 0: the two sides of ``where``."""
    out = np.empty_like(g)
    want = keep != 0.0
    for i in range(g.size):
        out[i] = g[i] if (m[i] != 0.0) == want else 0.0
    return out


@kernel("activation", "aas")
def leaky_relu_bwd(g, x, slope):
    out = np.empty_like(g)
    for i in range(g.size):
        out[i] = g[i] if x[i] > 0 else g[i] * slope
    return out


@kernel("activation", "aa")
def gelu_bwd(g, x):
    """Exact GELU: d/dx x * Phi(x) = Phi(x) + x * phi(x)."""
    out = np.empty_like(g)
    for i in range(g.size):
        v = x[i]
        cdf = 0.5 * (1.0 + math.erf(v * _SQRT1_2))
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * v * v)
        out[i] = g[i] * (cdf + v * pdf)
    return out


@kernel("activation", "aa")
def gelu_tanh_bwd(g, x):
    """GELU with the tanh approximation (``approximate='tanh'``)."""
    out = np.empty_like(g)
    k = 0.044715
    for i in range(g.size):
        v = x[i]
        inner = _SQRT_2_PI * (v + k * v * v * v)
        t = math.tanh(inner)
        d_inner = _SQRT_2_PI * (1.0 + 3.0 * k * v * v)
        out[i] = g[i] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * d_inner)
    return out


@kernel("activation", "aass")
def softplus_bwd(g, x, beta, threshold):
    """Above ``threshold`` softplus is linear, so the gradient passes unchanged."""
    out = np.empty_like(g)
    for i in range(g.size):
        z = x[i] * beta
        if z > threshold:
            out[i] = g[i]
        else:
            e = math.exp(z)
            out[i] = g[i] * e / (e + 1.0)
    return out


@kernel("activation", "aa")
def silu_bwd(g, x):
    out = np.empty_like(g)
    for i in range(g.size):
        v = x[i]
        s = 1.0 / (1.0 + math.exp(-v))
        out[i] = g[i] * (s * (1.0 + v * (1.0 - s)))
    return out


@kernel("activation", "aan")
def softmax_bwd(g, y, n):
    """Rows of length ``n``: y * (g - sum(g * y))."""
    out = np.empty_like(g)
    for r in range(y.size // n):
        base = r * n
        acc = 0.0
        for j in range(n):
            acc += g[base + j] * y[base + j]
        for j in range(n):
            out[base + j] = y[base + j] * (g[base + j] - acc)
    return out


@kernel("activation", "aan")
def log_softmax_bwd(g, y, n):
    """Rows of length ``n``: g - exp(y) * sum(g)."""
    out = np.empty_like(g)
    for r in range(y.size // n):
        base = r * n
        acc = 0.0
        for j in range(n):
            acc += g[base + j]
        for j in range(n):
            out[base + j] = g[base + j] - math.exp(y[base + j]) * acc
    return out


@kernel("activation", "a")
def gelu_fwd(x):
    """Exact GELU, x * Phi(x), with the error function numpy lacks."""
    out = np.empty_like(x)
    for i in range(x.size):
        v = x[i]
        out[i] = v * 0.5 * (1.0 + math.erf(v * _SQRT1_2))
    return out
