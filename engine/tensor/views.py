"""What a view remembers of its base (torch's view meta), and where its elements lie in
the base's memory.  The rebuild of a stale view's history is an op: ``engine.ops.views``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.tensor.core import Tensor


class _ViewInfo:
    """What a view remembers of its base, for in-place ops through it (torch's view meta).

    ``base`` is the tensor owning the memory (never itself a view); ``no_grad`` whether
    the view was made with grad mode off; ``version`` the version counter's value when
    the view's ``grad_fn`` was last set.  When the shared counter has moved on (the base
    or another view of it was modified in place), the view's history is rebuilt from the
    base's current one as an ``AsStridedBackward0``, which is what torch does; that
    rebuild is ``current_fn(view)``, an op bound here by ``engine.ops.methods``.
    """

    __slots__ = ("base", "no_grad", "version")

    def __init__(self, base: Tensor, no_grad: bool, version: int) -> None:
        self.base = base
        self.no_grad = no_grad
        self.version = version

    def positions(self, view: Tensor) -> np.ndarray | None:
        """The view's elements as flat (C-order) offsets into the base, or None when the
        view no longer lies in the base's memory (``.data`` was reassigned)."""
        return _positions(self.base._data, view._data)


def _positions(base: np.ndarray, view: np.ndarray) -> np.ndarray | None:
    """Flat C-order indices into ``base`` of each element of ``view`` (same memory)."""
    if view.size == 0:
        return np.zeros(0, np.int64)
    item = base.itemsize
    if view.dtype != base.dtype or not np.may_share_memory(base, view):
        return None
    start = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    offsets = _byte_offsets(view) + start
    if base.flags.c_contiguous:
        pos = offsets // item
        ok = (offsets % item == 0) & (pos >= 0) & (pos < base.size)
        return pos.reshape(-1) if ok.all() else None
    where = _byte_offsets(base).reshape(-1)
    order = np.argsort(where, kind="stable")
    found = np.searchsorted(where[order], offsets.reshape(-1))
    found = np.minimum(found, where.size - 1)
    if not (where[order][found] == offsets.reshape(-1)).all():
        return None
    return order[found].astype(np.int64)


def _byte_offsets(a: np.ndarray) -> np.ndarray:
    """The byte offset of each element of ``a`` from its first one."""
    off = np.zeros(a.shape, np.int64)
    for d, (n, st) in enumerate(zip(a.shape, a.strides)):
        shape = [1] * a.ndim
        shape[d] = n
        off = off + (np.arange(n, dtype=np.int64) * st).reshape(shape)
    return off
