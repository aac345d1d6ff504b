"""Backward of advanced indexing: scatter-add into the input's flat buffer.

Repeated indices add up, which is what makes ``x[[0, 0]]`` give a gradient of 2.
"""

import numpy as np

from engine.kernels import kernel


@kernel("indexing", "ain")
def scatter_add(g, positions, size):
    out = np.zeros(size, g.dtype)
    for i in range(g.size):
        out[positions[i]] += g[i]
    return out
