"""Backward kernels of elementwise ops.

All take flat, C-contiguous buffers of one length (the op wrapper broadcasts and
flattens), return a fresh buffer, and follow torch's formulas, including its
choices at the edges (``x**0``, ``0**y``, relu at 0).

Each kernel ``name`` comes in two compiled forms: the loop that returns a fresh buffer
(registered as ``name``) and its twin ``name_large`` (group "large"), which writes into a
given one.  The module's ``name`` is the entry point the ops call: below
``buffers.PARALLEL_MIN`` elements it runs the first; above, the twin over blocks on two
threads into a pooled buffer (``engine.kernels.buffers``: no page faults, and never a
buffer anything else still references).  Both evaluate the very same expression per
element, so the path never changes a result.
"""

import math
from collections.abc import Callable

import numba
import numpy as np

from engine.kernels import REGISTRY, kernel
from engine.kernels.buffers import entry


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


@kernel("elementwise", "a")
def neg_bwd(g):
    out = np.empty_like(g)
    neg_bwd_large(g, out)
    return out


@kernel("large", "aa")
def neg_bwd_large(g, out):
    """``neg_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = -g[i]


@kernel("elementwise", "as")
def scale_bwd(g, s):
    """g * s: the backward of multiplying by a Python number."""
    out = np.empty_like(g)
    scale_bwd_large(g, s, out)
    return out


@kernel("large", "asa")
def scale_bwd_large(g, s, out):
    """``scale_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] * s


@kernel("elementwise", "as")
def div_scalar_bwd(g, s):
    """g / s: the backward of dividing by a Python number."""
    out = np.empty_like(g)
    div_scalar_bwd_large(g, s, out)
    return out


@kernel("large", "asa")
def div_scalar_bwd_large(g, s, out):
    """``div_scalar_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] / s


@kernel("elementwise", "aa")
def mul_bwd(g, other):
    out = np.empty_like(g)
    mul_bwd_large(g, other, out)
    return out


@kernel("large", "aaa")
def mul_bwd_large(g, other, out):
    """``mul_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] * other[i]


@kernel("elementwise", "aa")
def div_bwd_a(g, b):
    out = np.empty_like(g)
    div_bwd_a_large(g, b, out)
    return out


@kernel("large", "aaa")
def div_bwd_a_large(g, b, out):
    """``div_bwd_a`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] / b[i]


@kernel("elementwise", "aaa")
def div_bwd_b(g, a, b):
    out = np.empty_like(g)
    div_bwd_b_large(g, a, b, out)
    return out


@kernel("large", "aaaa")
def div_bwd_b_large(g, a, b, out):
    """``div_bwd_b`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = -g[i] * (a[i] / b[i]) / b[i]


@kernel("elementwise", "aas")
def pow_scalar_bwd(g, x, p):
    """d/dx x**p for a number p; zero when p == 0, as torch."""
    out = np.empty_like(g)
    pow_scalar_bwd_large(g, x, p, out)
    return out


@kernel("large", "aasa")
def pow_scalar_bwd_large(g, x, p, out):
    """``pow_scalar_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    if p == 0.0:
        out[:] = 0
        return
    for i in range(g.size):
        out[i] = g[i] * (p * _pow(x[i], p - 1.0))


@kernel("elementwise", "aaa")
def pow_base_bwd(g, x, y):
    """d/dx x**y for a tensor exponent; zero where y == 0."""
    out = np.empty_like(g)
    pow_base_bwd_large(g, x, y, out)
    return out


@kernel("large", "aaaa")
def pow_base_bwd_large(g, x, y, out):
    """``pow_base_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = 0.0 if y[i] == 0 else g[i] * (y[i] * x[i] ** (y[i] - 1))


@kernel("elementwise", "aaaa")
def pow_exp_bwd(g, x, y, res):
    """d/dy x**y = x**y * log(x); zero where x == 0 and y >= 0."""
    out = np.empty_like(g)
    pow_exp_bwd_large(g, x, y, res, out)
    return out


@kernel("large", "aaaaa")
def pow_exp_bwd_large(g, x, y, res, out):
    """``pow_exp_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        if x[i] == 0 and y[i] >= 0:
            out[i] = 0.0
        else:
            out[i] = g[i] * (res[i] * math.log(x[i]))


@kernel("elementwise", "aas")
def rpow_bwd(g, res, base):
    """d/dy base**y = base**y * log(base) for a number base.  For base 0 torch gives 0
    where y >= 0, i.e. where the result is 0 or 1, and inf * log(0) = -inf elsewhere."""
    out = np.empty_like(g)
    rpow_bwd_large(g, res, base, out)
    return out


@kernel("large", "aasa")
def rpow_bwd_large(g, res, base, out):
    """``rpow_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    lb = math.log(base) if base > 0 else (-math.inf if base == 0.0 else math.nan)
    for i in range(g.size):
        if base == 0.0 and res[i] <= 1.0:
            out[i] = 0.0
        else:
            out[i] = g[i] * (res[i] * lb)


@kernel("elementwise", "aa")
def exp_bwd(g, res):
    out = np.empty_like(g)
    exp_bwd_large(g, res, out)
    return out


@kernel("large", "aaa")
def exp_bwd_large(g, res, out):
    """``exp_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] * res[i]


@kernel("elementwise", "aa")
def log_bwd(g, x):
    out = np.empty_like(g)
    log_bwd_large(g, x, out)
    return out


@kernel("large", "aaa")
def log_bwd_large(g, x, out):
    """``log_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] / x[i]


@kernel("elementwise", "aa")
def sqrt_bwd(g, res):
    out = np.empty_like(g)
    sqrt_bwd_large(g, res, out)
    return out


@kernel("large", "aaa")
def sqrt_bwd_large(g, res, out):
    """``sqrt_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] / (2 * res[i])


@kernel("elementwise", "aa")
def abs_bwd(g, x):
    out = np.empty_like(g)
    abs_bwd_large(g, x, out)
    return out


@kernel("large", "aaa")
def abs_bwd_large(g, x, out):
    """``abs_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        v = x[i]
        # torch: g * sgn(x), and sgn(NaN) = 0
        out[i] = g[i] if v > 0 else (-g[i] if v < 0 else 0.0 * g[i])


@kernel("elementwise", "aa")
def sigmoid_bwd(g, res):
    out = np.empty_like(g)
    sigmoid_bwd_large(g, res, out)
    return out


@kernel("large", "aaa")
def sigmoid_bwd_large(g, res, out):
    """``sigmoid_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] * ((1 - res[i]) * res[i])


@kernel("elementwise", "aa")
def tanh_bwd(g, res):
    out = np.empty_like(g)
    tanh_bwd_large(g, res, out)
    return out


@kernel("large", "aaa")
def tanh_bwd_large(g, res, out):
    """``tanh_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = g[i] * (1 - res[i] * res[i])


@kernel("elementwise", "aa")
def relu_bwd(g, res):
    out = np.empty_like(g)
    relu_bwd_large(g, res, out)
    return out


@kernel("large", "aaa")
def relu_bwd_large(g, res, out):
    """``relu_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        # torch's threshold_backward: zero where x <= 0, so a NaN input keeps its gradient
        out[i] = 0.0 if res[i] <= 0 else g[i]


@kernel("elementwise", "aa")
def reciprocal_bwd(g, res):
    out = np.empty_like(g)
    reciprocal_bwd_large(g, res, out)
    return out


@kernel("large", "aaa")
def reciprocal_bwd_large(g, res, out):
    """``reciprocal_bwd`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(g.size):
        out[i] = -g[i] * (res[i] * res[i])



# ----------------------------------------------------------------------------- entry points
# Each ``name`` below becomes the serial-or-blocks entry point (buffers.entry); the
# serial kernel stays reachable as ``_name``.
def _entry(name: str) -> Callable:
    return entry(globals(), name, len(KERNEL_SIGS[name]) - 1)


KERNEL_SIGS = {k.name: k.sig for k in REGISTRY if k.group == "elementwise"}


neg_bwd = _entry("neg_bwd")  # noqa: F811 - the serial kernel is kept as _name
scale_bwd = _entry("scale_bwd")  # noqa: F811 - the serial kernel is kept as _name
div_scalar_bwd = _entry("div_scalar_bwd")  # noqa: F811 - the serial kernel is kept as _name
mul_bwd = _entry("mul_bwd")  # noqa: F811 - the serial kernel is kept as _name
div_bwd_a = _entry("div_bwd_a")  # noqa: F811 - the serial kernel is kept as _name
div_bwd_b = _entry("div_bwd_b")  # noqa: F811 - the serial kernel is kept as _name
pow_scalar_bwd = _entry("pow_scalar_bwd")  # noqa: F811 - the serial kernel is kept as _name
pow_base_bwd = _entry("pow_base_bwd")  # noqa: F811 - the serial kernel is kept as _name
pow_exp_bwd = _entry("pow_exp_bwd")  # noqa: F811 - the serial kernel is kept as _name
rpow_bwd = _entry("rpow_bwd")  # noqa: F811 - the serial kernel is kept as _name
exp_bwd = _entry("exp_bwd")  # noqa: F811 - the serial kernel is kept as _name
log_bwd = _entry("log_bwd")  # noqa: F811 - the serial kernel is kept as _name
sqrt_bwd = _entry("sqrt_bwd")  # noqa: F811 - the serial kernel is kept as _name
abs_bwd = _entry("abs_bwd")  # noqa: F811 - the serial kernel is kept as _name
sigmoid_bwd = _entry("sigmoid_bwd")  # noqa: F811 - the serial kernel is kept as _name
tanh_bwd = _entry("tanh_bwd")  # noqa: F811 - the serial kernel is kept as _name
relu_bwd = _entry("relu_bwd")  # noqa: F811 - the serial kernel is kept as _name
reciprocal_bwd = _entry("reciprocal_bwd")  # noqa: F811 - the serial kernel is kept as _name
