"""A view's history rebuilt from its base's, once the base (or another view of it) was
modified in place: torch's ``AsStridedBackward0``.  Bound as ``_ViewInfo.current_fn`` by
``engine.ops.methods``, so the Tensor layer never imports an op."""

from __future__ import annotations

from typing import Any

from engine._base import messages
from engine.ops.shape import as_strided_node
from engine.tensor import Tensor, _ViewInfo


def current_fn(self: _ViewInfo, view: Tensor) -> Any:
    """The view's ``grad_fn``, rebuilt from the base's history if it is out of date."""
    version = view._vc[0]
    if version == self.version:
        return view._fn
    base = self.base
    if view._fn is None and not base._rg:
        self.version = version
        return None
    if self.no_grad:
        raise RuntimeError(messages.NO_GRAD_VIEW.format(
            "its base or another view of its base has been"))
    positions = self.positions(view)
    if positions is None:  # cut off from the base: keep the history it has
        self.version = version
        return view._fn
    fn = as_strided_node(base, positions) if base._rg else None
    was_leaf = view._fn is None
    view._set_history(fn, 0)
    view._rg = fn is not None or (was_leaf and view._rg)
    self.version = version
    return fn
