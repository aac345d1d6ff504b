"""Advanced indexing (integer arrays, boolean masks): ``x[[0, 2]]``, ``x[x > 0]``."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.graph import Node
from engine.kernels.indexing import scatter_add
from engine.ops.base import edge, flat, out, recording
from engine.tensor import Tensor


class IndexBackward0(Node):
    __slots__ = ("shape", "positions")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        size = int(np.prod(self.shape))
        return (scatter_add(flat(g), self.positions, size).reshape(self.shape),)

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        size = int(np.prod(self.shape))
        full = scatter_add(flat(g._data), self.positions, size).reshape(self.shape)
        node = IndexBackwardBackward0((edge(g),)) if recording(g) else None
        if node is not None:
            node.positions, node.shape = self.positions, g._data.shape
        return (out(full, node),)


class IndexBackwardBackward0(Node):
    """Backward of the scatter-add: gather from the same positions."""

    __slots__ = ("positions", "shape")

    def apply(self, grads: list) -> tuple:
        return (flat(grads[0])[self.positions].reshape(self.shape),)

    def apply_graph(self, grads: list) -> tuple:
        return (advanced_index(grads[0].reshape(-1), self.positions).reshape(self.shape),)


def _np_index(index: Any) -> Any:
    items = index if isinstance(index, tuple) else (index,)
    conv = []
    for it in items:
        if isinstance(it, Tensor):
            it = it._data
        elif isinstance(it, list):
            it = np.asarray(it)
        if isinstance(it, np.ndarray) and it.dtype.kind not in "iub":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        conv.append(it)
    return tuple(conv) if isinstance(index, tuple) else conv[0]


def advanced_index(a: Tensor, index: Any) -> Tensor:
    """Gather by integer arrays or boolean masks (always a copy)."""
    idx = _np_index(index)
    try:
        res = a._data[idx]
    except IndexError as exc:
        raise IndexError(str(exc)) from None
    if not recording(a):
        return out(np.ascontiguousarray(res))
    node = IndexBackward0((edge(a),))
    node.shape = a._data.shape
    # Where each output element came from, as flat offsets into the input.
    node.positions = np.arange(a._data.size, dtype=np.int64).reshape(a._data.shape)[idx].ravel()
    node.save()  # torch saves the indices as tensors: a second backward is refused
    return out(np.ascontiguousarray(res), node)
