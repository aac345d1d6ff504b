"""Backward kernels of the extra elementwise ops and activations.

Like ``elementwise``: flat C-contiguous buffers of one length in, a fresh buffer
out, torch's formulas including its choices at the edges (ties, thresholds), and each
an ``@elementwise_kernel`` (``engine.kernels._entry``) whose entry point runs serially on
small inputs and over blocks on two threads on large ones (the softmax kernels: blocks
of whole rows), with the same values.
"""

import math

from engine.kernels import kernel
from engine.kernels._entry import elementwise_kernel

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)


@elementwise_kernel("activation", "aa")
def sin_bwd(g, x, out):
    for i in range(g.size):
        out[i] = g[i] * math.cos(x[i])


@elementwise_kernel("activation", "aa")
def cos_bwd(g, x, out):
    for i in range(g.size):
        out[i] = -g[i] * math.sin(x[i])


@elementwise_kernel("activation", "aa")
def sinh_bwd(g, x, out):
    for i in range(g.size):
        out[i] = g[i] * math.cosh(x[i])


@elementwise_kernel("activation", "aa")
def cosh_bwd(g, x, out):
    for i in range(g.size):
        out[i] = g[i] * math.sinh(x[i])


# atan2(a, b): d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2), as torch's atan2_backward
@elementwise_kernel("activation", "aaa")
def atan2_bwd_a(g, a, b, out):
    for i in range(g.size):
        out[i] = g[i] * (b[i] / (a[i] * a[i] + b[i] * b[i]))


@elementwise_kernel("activation", "aaa")
def atan2_bwd_b(g, a, b, out):
    for i in range(g.size):
        out[i] = g[i] * (-a[i] / (a[i] * a[i] + b[i] * b[i]))


@elementwise_kernel("activation", "aa")
def log1p_bwd(g, x, out):
    for i in range(g.size):
        out[i] = g[i] / (x[i] + 1.0)


@elementwise_kernel("activation", "aa")
def expm1_bwd(g, res, out):
    for i in range(g.size):
        out[i] = g[i] * (res[i] + 1.0)


@elementwise_kernel("activation", "aa")
def rsqrt_bwd(g, res, out):
    """d/dx x**-0.5 = -0.5 * res**3."""
    for i in range(g.size):
        r = res[i]
        out[i] = -0.5 * g[i] * (r * r * r)


@elementwise_kernel("activation", "aass")
def clamp_bwd(g, x, lo, hi, out):
    """The gradient passes where lo <= x <= hi (bounds included, NaN blocked)."""
    for i in range(g.size):
        v = x[i]
        out[i] = g[i] if (v >= lo and v <= hi) else 0.0


@elementwise_kernel("activation", "aaa")
def pick_bwd(g, a, b, out):
    """Gradient of ``a`` in maximum(a, b): all where a > b, half on ties, else none."""
    for i in range(g.size):
        if a[i] > b[i]:
            out[i] = g[i]
        elif a[i] == b[i]:
            out[i] = g[i] / 2.0
        elif a[i] < b[i]:
            out[i] = 0.0
        else:  # NaN involved: torch passes the whole gradient
            out[i] = g[i]


@elementwise_kernel("activation", "aas")
def mask_bwd(g, m, keep, out):
    """``g`` where ``(m != 0) == (keep != 0)``, else 0: the two sides of ``where``."""
    want = keep != 0.0
    for i in range(g.size):
        out[i] = g[i] if (m[i] != 0.0) == want else 0.0


@elementwise_kernel("activation", "aas")
def leaky_relu_bwd(g, x, slope, out):
    for i in range(g.size):
        out[i] = g[i] if x[i] > 0 else g[i] * slope


@elementwise_kernel("activation", "aa")
def gelu_bwd(g, x, out):
    """Exact GELU: d/dx x * Phi(x) = Phi(x) + x * phi(x)."""
    for i in range(g.size):
        v = x[i]
        cdf = 0.5 * (1.0 + math.erf(v * _SQRT1_2))
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * v * v)
        out[i] = g[i] * (cdf + v * pdf)


@elementwise_kernel("activation", "aa")
def gelu_tanh_bwd(g, x, out):
    """GELU with the tanh approximation (``approximate='tanh'``)."""
    k = 0.044715
    for i in range(g.size):
        v = x[i]
        inner = _SQRT_2_PI * (v + k * v * v * v)
        t = math.tanh(inner)
        d_inner = _SQRT_2_PI * (1.0 + 3.0 * k * v * v)
        out[i] = g[i] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * d_inner)


@elementwise_kernel("activation", "aass")
def softplus_bwd(g, x, beta, threshold, out):
    """Above ``threshold`` softplus is linear, so the gradient passes unchanged."""
    for i in range(g.size):
        z = x[i] * beta
        if z > threshold:
            out[i] = g[i]
        else:
            e = math.exp(z)
            out[i] = g[i] * e / (e + 1.0)


@elementwise_kernel("activation", "aas")
def elu_bwd(g, x, alpha, out):
    """``alpha * exp(x)`` at and below 0 (torch's side for x == 0), 1 above."""
    for i in range(g.size):
        v = x[i]
        out[i] = g[i] * alpha * math.exp(v) if v <= 0 else g[i]


@elementwise_kernel("activation", "aa")
def silu_bwd(g, x, out):
    for i in range(g.size):
        v = x[i]
        s = 1.0 / (1.0 + math.exp(-v))
        out[i] = g[i] * (s * (1.0 + v * (1.0 - s)))


@elementwise_kernel("activation", "aan", rows=2)
def softmax_bwd(g, y, n, out):
    """Rows of length ``n``: y * (g - sum(g * y))."""
    for r in range(y.size // n):
        base = r * n
        acc = 0.0
        for j in range(n):
            acc += g[base + j] * y[base + j]
        for j in range(n):
            out[base + j] = y[base + j] * (g[base + j] - acc)


@elementwise_kernel("activation", "aan", rows=2)
def log_softmax_bwd(g, y, n, out):
    """Rows of length ``n``: g - exp(y) * sum(g)."""
    for r in range(y.size // n):
        base = r * n
        acc = 0.0
        for j in range(n):
            acc += g[base + j]
        for j in range(n):
            out[base + j] = g[base + j] - math.exp(y[base + j]) * acc


@elementwise_kernel("activation", "a")
def gelu_fwd(x, out):
    """Exact GELU, x * Phi(x), with the error function numpy lacks."""
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
