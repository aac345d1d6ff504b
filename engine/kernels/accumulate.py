"""Gradient accumulation: adding gradients that meet at a node, and into ``.grad``."""

import numpy as np

from engine.kernels import kernel


@kernel("accumulate", "aa")
def accumulate_(dst, src):
    """dst += src, in place (``.grad`` keeps its identity across backward calls)."""
    for i in range(dst.size):
        dst[i] += src[i]


@kernel("accumulate", "aa")
def add_out(a, b):
    """a + b into a fresh buffer (two paths of the graph meeting at one input)."""
    out = np.empty_like(a)
    for i in range(a.size):
        out[i] = a[i] + b[i]
    return out


@kernel("accumulate", "a")
def copy(src):
    """A private copy of a gradient, so no two ``.grad`` tensors share memory."""
    out = np.empty_like(src)
    for i in range(src.size):
        out[i] = src[i]
    return out
