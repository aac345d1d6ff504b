"""Backward kernels of elementwise ops.

All take flat, C-contiguous buffers of one length (the op wrapper broadcasts and
flattens), return a fresh buffer, and follow torch's formulas, including its
choices at the edges (``x**0``, ``0**y``, relu at 0).

Each is an ``@elementwise_kernel`` (``engine.kernels._entry``): the loop below fills
``out``, and the name the ops call is the entry point that runs it serially on small
inputs and over blocks on two threads into a pooled buffer on large ones.
"""

import math

import numba

from engine.kernels._entry import elementwise_kernel


@numba.njit(cache=True, inline="always", error_model="numpy")
def _pow(x, e):
    """x ** e with torch's shortcuts for common exponents (sqrt for 0.5, rsqrt for -0.5,
    products for 2, 3, -1, -2), which differ from pow() at -inf and -0.0.  ``x ** 1`` is
    ``x`` exactly (as pow() gives it), without pow()'s cost."""
    if e == 1.0:
        return x
    if e == 2.0:
        return x * x
    if e == 3.0:
        return x * x * x
    if e == 0.5:
        return math.sqrt(x) if x >= 0 or x != x else math.nan
    if e == -0.5:
        return 1.0 / math.sqrt(x) if x >= 0 or x != x else math.nan
    if e == -1.0:
        return 1.0 / x
    if e == -2.0:
        return 1.0 / (x * x)
    return x ** e


@elementwise_kernel("elementwise", "a")
def neg_bwd(g, out):
    for i in range(g.size):
        out[i] = -g[i]


@elementwise_kernel("elementwise", "as")
def scale_bwd(g, s, out):
    """g * s: the backward of multiplying by a Python number."""
    for i in range(g.size):
        out[i] = g[i] * s


@elementwise_kernel("elementwise", "as")
def div_scalar_bwd(g, s, out):
    """g / s: the backward of dividing by a Python number."""
    for i in range(g.size):
        out[i] = g[i] / s


@elementwise_kernel("elementwise", "aa")
def mul_bwd(g, other, out):
    for i in range(g.size):
        out[i] = g[i] * other[i]


@elementwise_kernel("elementwise", "aa")
def div_bwd_a(g, b, out):
    for i in range(g.size):
        out[i] = g[i] / b[i]


@elementwise_kernel("elementwise", "aaa")
def div_bwd_b(g, a, b, out):
    for i in range(g.size):
        out[i] = -g[i] * (a[i] / b[i]) / b[i]


@elementwise_kernel("elementwise", "aas")
def pow_scalar_bwd(g, x, p, out):
    """d/dx x**p for a number p; zero when p == 0, as torch."""
    if p == 0.0:
        out[:] = 0
        return
    for i in range(g.size):
        out[i] = g[i] * (p * _pow(x[i], p - 1.0))


@elementwise_kernel("elementwise", "aaa")
def pow_base_bwd(g, x, y, out):
    """d/dx x**y for a tensor exponent; zero where y == 0."""
    for i in range(g.size):
        out[i] = 0.0 if y[i] == 0 else g[i] * (y[i] * x[i] ** (y[i] - 1))


@elementwise_kernel("elementwise", "aaaa")
def pow_exp_bwd(g, x, y, res, out):
    """d/dy x**y = x**y * log(x); zero where x == 0 and y >= 0."""
    for i in range(g.size):
        if x[i] == 0 and y[i] >= 0:
            out[i] = 0.0
        else:
            out[i] = g[i] * (res[i] * math.log(x[i]))


@elementwise_kernel("elementwise", "aas")
def rpow_bwd(g, res, base, out):
    """d/dy base**y = base**y * log(base) for a number base.  For base 0 torch gives 0
    where y >= 0, i.e. where the result is 0 or 1, and inf * log(0) = -inf elsewhere."""
    lb = math.log(base) if base > 0 else (-math.inf if base == 0.0 else math.nan)
    for i in range(g.size):
        if base == 0.0 and res[i] <= 1.0:
            out[i] = 0.0
        else:
            out[i] = g[i] * (res[i] * lb)


@elementwise_kernel("elementwise", "aa")
def exp_bwd(g, res, out):
    for i in range(g.size):
        out[i] = g[i] * res[i]


@elementwise_kernel("elementwise", "aa")
def log_bwd(g, x, out):
    for i in range(g.size):
        out[i] = g[i] / x[i]


@elementwise_kernel("elementwise", "aa")
def sqrt_bwd(g, res, out):
    for i in range(g.size):
        out[i] = g[i] / (2 * res[i])


@elementwise_kernel("elementwise", "aa")
def abs_bwd(g, x, out):
    for i in range(g.size):
        v = x[i]
        # torch: g * sgn(x), and sgn(NaN) = 0
        out[i] = g[i] if v > 0 else (-g[i] if v < 0 else 0.0 * g[i])


@elementwise_kernel("elementwise", "aa")
def sigmoid_bwd(g, res, out):
    for i in range(g.size):
        out[i] = g[i] * ((1 - res[i]) * res[i])


@elementwise_kernel("elementwise", "aa")
def tanh_bwd(g, res, out):
    for i in range(g.size):
        out[i] = g[i] * (1 - res[i] * res[i])


@elementwise_kernel("elementwise", "aa")
def relu_bwd(g, res, out):
    for i in range(g.size):
        # torch's threshold_backward: zero where x <= 0, so a NaN input keeps its gradient
        out[i] = 0.0 if res[i] <= 0 else g[i]


@elementwise_kernel("elementwise", "aa")
def reciprocal_bwd(g, res, out):
    for i in range(g.size):
        out[i] = -g[i] * (res[i] * res[i])
