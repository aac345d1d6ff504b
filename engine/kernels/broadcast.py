"""Broadcasting in both directions, for flat C-ordered buffers.

``sum_to``   reduces a gradient of the broadcast shape back to an input's shape.
``expand``   spreads a gradient of a reduced shape over the input's shape, divided
             by ``divisor`` (the backward of sum, and of mean with the count).
Both walk the large shape with an odometer; ``strides`` are the small array's
element strides laid over the large shape, 0 where it was broadcast.

``expand`` is the entry point the ops call: below ``buffers.PARALLEL_MIN`` elements it runs
``expand_serial``, from there ``expand_block``, the same odometer started afresh at each
block, over blocks on two threads into a pooled buffer (see ``engine.kernels.buffers``);
the values are the same.  (Not an ``@elementwise_kernel``: the output's size is an
argument, and a block needs its start ``lo``.)
"""

import numpy as np

from engine.kernels import buffers, kernel
from engine.kernels.buffers import empty


@kernel("broadcast", "aiin")
def sum_to(src, shape, strides, size):
    out = np.zeros(size, src.dtype)
    nd = shape.size
    # A bias-like input (its shape is the gradient's trailing dims) takes whole rows: a
    # plain loop the compiler vectorises, ~20x the odometer, adding in the same order.
    d = nd - 1
    acc = 1
    while d >= 0 and (strides[d] == acc or shape[d] == 1):
        acc *= shape[d]
        d -= 1
    rows = acc == size and size > 0
    for k in range(d + 1):
        if strides[k] != 0:
            rows = False
    if rows:
        for r in range(src.size // size):
            row = r * size
            for j in range(size):
                out[j] += src[row + j]
        return out
    idx = np.zeros(nd, np.int64)
    off = 0
    for i in range(src.size):
        out[off] += src[i]
        d = nd - 1
        while d >= 0:
            idx[d] += 1
            off += strides[d]
            if idx[d] < shape[d]:
                break
            off -= strides[d] * shape[d]
            idx[d] = 0
            d -= 1
    return out


@kernel("broadcast", "aiins", name="expand")
def expand_serial(src, shape, strides, size, divisor):
    out = np.empty(size, src.dtype)
    if size:
        expand_block(src, shape, strides, 0, divisor, out)
    return out


@kernel("block", "aiinsa")
def expand_block(src, shape, strides, lo, divisor, out):
    """Elements ``lo`` to ``lo + out.size`` of ``expand``'s result into ``out``: the same
    odometer, started at ``lo``."""
    if src.size == 1:
        for i in range(out.size):
            out[i] = src[0] / divisor
        return
    nd = shape.size
    idx = np.zeros(nd, np.int64)
    rem = lo
    off = 0
    for d in range(nd - 1, -1, -1):
        idx[d] = rem % shape[d]
        rem //= shape[d]
        off += idx[d] * strides[d]
    for i in range(out.size):
        out[i] = src[off] / divisor
        d = nd - 1
        while d >= 0:
            idx[d] += 1
            off += strides[d]
            if idx[d] < shape[d]:
                break
            off -= strides[d] * shape[d]
            idx[d] = 0
            d -= 1


def expand(src: np.ndarray, shape: np.ndarray, strides: np.ndarray, size: int,
           divisor: float) -> np.ndarray:
    """The entry point: ``expand_serial`` on small outputs, ``expand_block`` over blocks on
    two threads into a pooled buffer on large ones (looked up at call time, so a test spy
    sees the call)."""
    if size < buffers.PARALLEL_MIN:
        return expand_serial(src, shape, strides, size, divisor)
    out = empty(size, src.dtype)

    def part(lo: int, hi: int) -> None:
        expand_block(src, shape, strides, lo, divisor, out[lo:hi])

    buffers.run_blocks(part, size, buffers.BLOCK)
    return out
