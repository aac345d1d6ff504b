"""Gradient accumulation: adding gradients that meet at a node, and into ``.grad``.

As in ``engine.kernels.elementwise``, ``add_out`` and ``copy`` are entry points: the
serial kernel below ``buffers.PARALLEL_MIN`` elements, else the ``_large`` twin over
blocks on two threads into a pooled buffer.  ``accumulate_`` works in place, so its
large path runs the same kernel over blocks of ``dst`` and ``src``.
"""

import numpy as np

from engine.kernels import buffers, kernel
from engine.kernels.buffers import entry


@kernel("accumulate", "aa")
def accumulate_(dst, src):
    """dst += src, in place (``.grad`` keeps its identity across backward calls)."""
    for i in range(dst.size):
        dst[i] += src[i]


@kernel("accumulate", "aa")
def add_out(a, b):
    """a + b into a fresh buffer (two paths of the graph meeting at one input)."""
    out = np.empty_like(a)
    add_out_large(a, b, out)
    return out


@kernel("large", "aaa")
def add_out_large(a, b, out):
    """``add_out`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(a.size):
        out[i] = a[i] + b[i]


@kernel("accumulate", "a")
def copy(src):
    """A private copy of a gradient, so no two ``.grad`` tensors share memory."""
    out = np.empty_like(src)
    copy_large(src, out)
    return out


@kernel("large", "aa")
def copy_large(src, out):
    """``copy`` into ``out`` (or a block of each: ``buffers.entry``)."""
    for i in range(src.size):
        out[i] = src[i]


# ----------------------------------------------------------------------------- entry points
add_out = entry(globals(), "add_out", 1)  # noqa: F811 - the kernel is kept as _add_out
copy = entry(globals(), "copy", 0)  # noqa: F811 - the kernel is kept as _copy
_accumulate_ = accumulate_


def accumulate_(dst: np.ndarray, src: np.ndarray) -> None:  # noqa: F811 - kept as _accumulate_
    """The entry point: the kernel, over blocks on two threads for large buffers (looked up
    at call time, so a test spy sees the call)."""
    if dst.size < buffers.PARALLEL_MIN:
        _accumulate_(dst, src)
        return

    def part(lo: int, hi: int) -> None:
        _accumulate_(dst[lo:hi], src[lo:hi])

    buffers.run_blocks(part, dst.size, buffers.BLOCK)
