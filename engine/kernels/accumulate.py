"""Gradient accumulation: adding gradients that meet at a node, and into ``.grad``.

As in ``engine.kernels.elementwise``, ``add_out`` and ``copy`` are ``@elementwise_kernel``
entry points: the serial kernel below ``buffers.PARALLEL_MIN`` elements, else the block
kernel over blocks on two threads into a pooled buffer.  ``accumulate_`` works in place,
so one kernel, ``accumulate_block``, serves both paths: the entry point runs it on the
whole buffers or over blocks of ``dst`` and ``src``.
"""

import numpy as np

from engine.kernels import buffers, kernel
from engine.kernels._entry import elementwise_kernel


@kernel("accumulate", "aa", name="accumulate_")
def accumulate_block(dst, src):
    """dst += src, in place (``.grad`` keeps its identity across backward calls)."""
    for i in range(dst.size):
        dst[i] += src[i]


def accumulate_(dst: np.ndarray, src: np.ndarray) -> None:
    """The entry point: the kernel, over blocks on two threads for large buffers (looked up
    at call time, so a test spy sees the call)."""
    if dst.size < buffers.PARALLEL_MIN:
        accumulate_block(dst, src)
        return

    def part(lo: int, hi: int) -> None:
        accumulate_block(dst[lo:hi], src[lo:hi])

    buffers.run_blocks(part, dst.size, buffers.BLOCK)


@elementwise_kernel("accumulate", "aa")
def add_out(a, b, out):
    """a + b into a fresh buffer (two paths of the graph meeting at one input)."""
    for i in range(a.size):
        out[i] = a[i] + b[i]


@elementwise_kernel("accumulate", "a")
def copy(src, out):
    """A private copy of a gradient, so no two ``.grad`` tensors share memory."""
    for i in range(src.size):
        out[i] = src[i]
