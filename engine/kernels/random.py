"""torch's CPU sampling transforms, from raw Mersenne Twister words to values.

The words arrive as an int64 array (each holds one 32-bit draw); a double-precision value
takes two words, the first in the high half (torch's ``random64``).  Every rounding step
follows torch's CPU kernels as compiled for x86-64, where the compiler fuses a multiply
followed by an add into one fused multiply-add: ``_fma`` does the same, so the values are
bit-identical, not merely close.  torch's float32 normals of 16 values or more come from
its AVX2 kernel, which x86-64 CPUs since 2013 run; elsewhere (no AVX2, or ARM) torch takes
a scalar path and those values may differ from these in the last bit.  A kernel handed
fewer words than its output needs fills nothing (the warm-up compiles each kernel with a
one-word buffer).
"""

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from engine.kernels import kernel

F32 = np.float32
_MASK24 = (1 << 24) - 1
_MASK53 = (1 << 53) - 1
_TWO_PI = 2.0 * math.pi
_TWO_PI_F32 = F32(_TWO_PI)


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``fma``), for three floats of one type."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        t = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fma", [t], ir.FunctionType(t, [t, t, t]))
        return builder.call(fn, args)

    return a(a, b, c), codegen


def _njit_helper(fn):
    """A helper the kernels call (compiled into them, not registered on its own)."""
    return njit(cache=True, nogil=True, inline="always")(fn)


@_njit_helper
def _unit64(words, k):
    """The ``k``-th double in [0, 1): 53 bits of the word pair ``2k``, ``2k + 1``."""
    r = (np.uint64(words[2 * k]) << np.uint64(32)) | np.uint64(words[2 * k + 1])
    return float(r & np.uint64(_MASK53)) * (1.0 / (1 << 53))


@_njit_helper
def _unit32(words, k):
    """The ``k``-th float in [0, 1): the low 24 bits of word ``k``."""
    return F32(words[k] & _MASK24) * F32(1.0 / (1 << 24))


# torch's vectorised float normals use the Cephes-style ``log`` and ``sincos`` of
# avx_mathfun; these are the same polynomials, in the same order, in float32.
_LOG_P = (F32(7.0376836292e-2), F32(-1.1514610310e-1), F32(1.1676998740e-1),
          F32(-1.2420140846e-1), F32(1.4249322787e-1), F32(-1.6668057665e-1),
          F32(2.0000714765e-1), F32(-2.4999993993e-1), F32(3.3333331174e-1))
_LOG_Q1, _LOG_Q2 = F32(-2.12194440e-4), F32(0.693359375)
_SQRTHF = F32(0.707106781186547524)
_FOPI = F32(1.27323954473516)
_DP1, _DP2, _DP3 = F32(-0.78515625), F32(-2.4187564849853515625e-4), F32(-3.77489497744594108e-8)
_COS_P = (F32(2.443315711809948e-5), F32(-1.388731625493765e-3), F32(4.166664568298827e-2))
_SIN_P = (F32(-1.9515295891e-4), F32(8.3321608736e-3), F32(-1.6666654611e-1))
_HALF, _ONE = F32(0.5), F32(1.0)


@_njit_helper
def _logf(x):
    """log of a float32 in [2^-24, 1] (normal numbers only, as Box-Muller's ``1 - u``)."""
    m, e = math.frexp(x)
    x = F32(m)
    ef = F32(e)
    small = x < _SQRTHF
    tmp = x if small else F32(0.0)
    x = x - _ONE
    ef = ef - (_ONE if small else F32(0.0))
    x = x + tmp
    z = x * x
    y = _LOG_P[0]
    y = _fma(y, x, _LOG_P[1])
    y = _fma(y, x, _LOG_P[2])
    y = _fma(y, x, _LOG_P[3])
    y = _fma(y, x, _LOG_P[4])
    y = _fma(y, x, _LOG_P[5])
    y = _fma(y, x, _LOG_P[6])
    y = _fma(y, x, _LOG_P[7])
    y = _fma(y, x, _LOG_P[8])
    y = y * x
    y = _fma(y, z, ef * _LOG_Q1)
    y = _fma(-z, _HALF, y)
    x = x + y
    return _fma(ef, _LOG_Q2, x)


@_njit_helper
def _sincosf(x):
    """(sin, cos) of a float32 ``x >= 0`` (Box-Muller's angle is never negative)."""
    j = int(x * _FOPI)
    j = (j + 1) & ~1
    y = F32(j)
    x = _fma(y, _DP1, x)
    x = _fma(y, _DP2, x)
    x = _fma(y, _DP3, x)
    z = x * x
    c = _fma(_fma(_COS_P[0], z, _COS_P[1]), z, _COS_P[2])
    c = c * z
    c = _fma(c, z, -(z * _HALF))
    c = c + _ONE
    s = _fma(_fma(_SIN_P[0], z, _SIN_P[1]), z, _SIN_P[2])
    s = s * z
    s = _fma(s, x, x)
    sin, cos = (s, c) if j & 2 == 0 else (c, s)
    if j & 4:
        sin = -sin
    if (~(j - 2)) & 4:
        cos = -cos
    return sin, cos


@kernel("random", "wass")
def uniform_fill(words, out, low, high):
    """``out[i] = u * (high - low) + low`` (one rounding) with u uniform in [0, 1):
    one word per float32, two per float64."""
    if out.itemsize == 4:
        if words.size < out.size:
            return
        lo, span = F32(low), F32(high) - F32(low)
        for i in range(out.size):
            out[i] = _fma(_unit32(words, i), span, lo)
    else:
        if words.size < 2 * out.size:
            return
        for i in range(out.size):
            out[i] = _fma(_unit64(words, i), high - low, low)


@kernel("random", "wass")
def normal_fill(words, out, mean, std):
    """torch's normals for 16 values or more: uniforms first, then Box-Muller on each block
    of 16 (``u1 = 1 - x[j]``, ``u2 = x[j + 8]``); when the size is not a multiple of 16
    the last 16 values are drawn again from the trailing words and transformed anew."""
    n = out.size
    per = 1 if out.itemsize == 4 else 2
    tail = 16 if n % 16 else 0
    if n < 16 or words.size < per * (n + tail):
        return
    if out.itemsize == 4:
        block = np.empty(16, np.float32)
        for i in range(n):
            out[i] = _unit32(words, i)
        mean32, std32 = F32(mean), F32(std)
        for start in range(0, n - 15 + tail, 16):
            last = start >= n - 15
            base = n - 16 if last else start
            for j in range(16):
                block[j] = _unit32(words, n + j) if last else out[base + j]
            for j in range(8):
                radius = math.sqrt(F32(-2.0) * _logf(_ONE - block[j]))
                sin, cos = _sincosf(_TWO_PI_F32 * block[j + 8])
                out[base + j] = _fma(radius * cos, std32, mean32)
                out[base + j + 8] = _fma(radius * sin, std32, mean32)
    else:
        block64 = np.empty(16, np.float64)
        for i in range(n):
            out[i] = _unit64(words, i)
        for start in range(0, n - 15 + tail, 16):
            last = start >= n - 15
            base = n - 16 if last else start
            for j in range(16):
                block64[j] = _unit64(words, n + j) if last else out[base + j]
            for j in range(8):
                radius = math.sqrt(-2.0 * math.log(1.0 - block64[j]))
                theta = _TWO_PI * block64[j + 8]
                out[base + j] = _fma(radius * math.cos(theta), std, mean)
                out[base + j + 8] = _fma(radius * math.sin(theta), std, mean)


@kernel("random", "wa")
def normal_pairs(words, out):
    """torch's one-at-a-time normals (fewer than 16 values): each pair of doubles
    ``u1, u2`` gives ``r cos`` and ``r sin`` (unscaled) with ``r = sqrt(-2 log1p(-u2))``
    and angle ``2 pi u1``; torch keeps the sine for the next draw."""
    if words.size < 2 * out.size:
        return
    for k in range(out.size // 2):
        u1, u2 = _unit64(words, 2 * k), _unit64(words, 2 * k + 1)
        radius = math.sqrt(-2.0 * math.log1p(-u2))
        theta = _TWO_PI * u1
        out[2 * k] = radius * math.cos(theta)
        out[2 * k + 1] = radius * math.sin(theta)


@kernel("random", "aass")
def scale_shift(z, out, mean, std):
    """``out = z * std + mean`` rounded once, as torch's scalar normal returns a sample."""
    for i in range(min(z.size, out.size)):
        out[i] = _fma(np.float64(z[i]), np.float64(std), np.float64(mean))


@kernel("random", "wa")
def shuffle(words, out):
    """torch's ``randperm``: a Fisher-Yates pass that swaps ``out[i]`` with
    ``out[i + word % (n - i)]`` for each ``i`` but the last (in place, in any float
    array: float64 holds every index up to 2^53 exactly)."""
    n = out.size
    if words.size < n - 1:
        return
    for i in range(n - 1):
        z = i + words[i] % (n - i)
        out[i], out[z] = out[z], out[i]
