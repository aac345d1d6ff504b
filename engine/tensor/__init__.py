"""``engine.tensor``: the Tensor class (``core``) and its views' metadata (``views``)."""

from engine.tensor.core import (
    Size,
    Tensor,
    _init,
    _reset_grads,
    _stale_view_requires_grad,
    _wrap,
)
from engine.tensor.views import _ViewInfo

__all__ = ["Size", "Tensor", "_ViewInfo", "_init", "_reset_grads", "_stale_view_requires_grad",
           "_wrap"]
