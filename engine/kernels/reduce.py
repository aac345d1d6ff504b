"""Backward kernels of reductions along the last axis.

The op wrapper moves the reduced dims to the end and makes the input contiguous,
so ``x`` is ``rows`` rows of length ``n`` and per-row values (the incoming
gradient, the result, the mean) are flat buffers with one entry per row.
"""

import math

import numpy as np

from engine.kernels import kernel


@kernel("reduce_more", "aaan")
def amax_bwd(g, x, res, n):
    """max/min/amax/amin: each row's gradient is shared evenly by its tied extremes."""
    out = np.zeros_like(x)
    for r in range(x.size // n):
        base = r * n
        count = 0
        for j in range(n):
            if x[base + j] == res[r]:
                count += 1
        if count:
            share = g[r] / count
            for j in range(n):
                if x[base + j] == res[r]:
                    out[base + j] = share
    return out


@kernel("reduce_more", "aan")
def prod_bwd(g, x, n):
    """d prod / d x_j = product of the other entries (prefix times suffix: exact at zeros)."""
    out = np.empty_like(x)
    for r in range(x.size // n):
        base = r * n
        acc = 1.0
        for j in range(n):
            out[base + j] = acc
            acc *= x[base + j]
        acc = 1.0
        for j in range(n - 1, -1, -1):
            out[base + j] = out[base + j] * acc * g[r]
            acc *= x[base + j]
    return out


@kernel("reduce_more", "aaans")
def var_bwd(g, x, mu, n, scale):
    """d var / d x_j = scale * (x_j - mean), scale = 2 / (n - correction)."""
    out = np.empty_like(x)
    for r in range(x.size // n):
        base = r * n
        k = g[r] * scale
        for j in range(n):
            out[base + j] = k * (x[base + j] - mu[r])
    return out


@kernel("reduce_more", "aa")
def std_to_var_grad(g, res):
    """g / (2 std), and 0 where std == 0 (torch's choice)."""
    out = np.empty_like(g)
    for i in range(g.size):
        out[i] = 0.0 if res[i] == 0 else g[i] / (2.0 * res[i])
    return out


@kernel("reduce_more", "aaan")
def logsumexp_bwd(g, x, res, n):
    out = np.empty_like(x)
    for r in range(x.size // n):
        base = r * n
        for j in range(n):
            out[base + j] = g[r] * math.exp(x[base + j] - res[r])
    return out


@kernel("reduce_more", "aaans")
def norm_bwd(g, x, res, n, p):
    """Vector p-norm: sign(x) |x|^(p-1) / norm^(p-1); ties share for p = inf; 0 at norm 0."""
    out = np.zeros_like(x)
    for r in range(x.size // n):
        base = r * n
        nr = res[r]
        if nr == 0 or p == 0:
            continue
        if math.isinf(p):
            count = 0
            for j in range(n):
                if abs(x[base + j]) == nr:
                    count += 1
            for j in range(n):
                v = x[base + j]
                if abs(v) == nr:
                    out[base + j] = g[r] * (1.0 if v > 0 else -1.0) / count
            continue
        for j in range(n):
            v = x[base + j]
            if v == 0:
                continue
            s = 1.0 if v > 0 else -1.0
            if p == 1.0:
                out[base + j] = g[r] * s
            elif p == 2.0:
                out[base + j] = g[r] * v / nr
            else:
                out[base + j] = g[r] * s * (abs(v) / nr) ** (p - 1.0)
    return out


@kernel("reduce_more", "ain")
def index_bwd(g, idx, n):
    """max/min along a dim: row r's gradient goes to column ``idx[r]`` only."""
    rows = idx.size
    out = np.zeros(rows * n, g.dtype)
    for r in range(rows):
        out[r * n + idx[r]] = g[r]
    return out
