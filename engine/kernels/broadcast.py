"""Broadcasting in both directions, for flat C-ordered buffers.

``sum_to``   reduces a gradient of the broadcast shape back to an input's shape.
``expand``   spreads a gradient of a reduced shape over the input's shape, divided
             by ``divisor`` (the backward of sum, and of mean with the count).
Both walk the large shape with an odometer; ``strides`` are the small array's
element strides laid over the large shape, 0 where it was broadcast.
"""

import numpy as np

from engine.kernels import kernel


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


@kernel("broadcast", "aiins")
def expand(src, shape, strides, size, divisor):
    out = np.empty(size, src.dtype)
    nd = shape.size
    idx = np.zeros(nd, np.int64)
    off = 0
    for i in range(size):
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
    return out
