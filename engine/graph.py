"""Graph nodes: the objects behind ``tensor.grad_fn``.

A node is created by each differentiable op.  Its public API is torch's:
``name()``, ``next_functions`` (``(node or None, input_nr)`` per input),
``register_hook``, ``register_prehook`` and ``metadata``.  Subclasses carry the
op's saved values and implement ``apply(grads) -> grads per input``, with numpy
arrays in and out; the autograd loop is the only caller.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine._base import grad_mode
from engine._base.hooks import HookDict, RemovableHandle, add_hook
from engine._base.messages import SECOND_BACKWARD, modified_message

if TYPE_CHECKING:
    import numpy as np

    from engine.tensor import Tensor

_seq = itertools.count()
_next_seq = _seq.__next__
_anomaly = grad_mode.anomaly  # the switches object itself is never replaced


class _Saved:
    """One tensor saved for backward: its buffer and the version it had then.

    ``tensor`` is the saved tensor itself, needed to differentiate the backward pass
    (``create_graph=True``), except when it is the saving node's own output: holding
    that would make a reference cycle, so it is rebuilt from ``data`` on demand
    (``engine.ops.base.unpack``, which turns saved values back into tensors).
    """

    __slots__ = ("data", "counter", "version", "producer", "output_nr", "tensor")

    def __init__(self, t: Tensor, node: Node, data: np.ndarray | None = None) -> None:
        self.data = t._data if data is None else data
        self.counter = t._vc
        self.version = t._vc[0]
        x = t._x  # the grad_fn property only for a view whose history may be out of date
        fn = t._fn if x is None or x.view is None or x.view.version == t._vc[0] else t.grad_fn
        self.producer = type(fn).__name__ if fn is not None else None
        self.output_nr = t._output_nr
        self.tensor = None if fn is node else t


class Node:
    """Base of every ``grad_fn`` class; the class name is what torch prints.

    >>> y = engine.tensor([1.0], requires_grad=True) * 2
    >>> y.grad_fn.name(), y.grad_fn.next_functions[0][0].name()
    ('MulBackward0', 'AccumulateGrad')
    """

    __slots__ = ("next_functions", "_saved", "_seq", "_released", "_pre_hooks", "_hooks",
                 "_tensor_hooks", "_retains", "_metadata", "__weakref__")
    num_outputs = 1
    # True when ``apply`` returns only new arrays or views of its incoming gradients
    # (never a saved value or other state), so a leaf may adopt a new one (engine._own).
    fresh_grads = False

    def __init__(self, next_functions: tuple) -> None:
        self.next_functions = next_functions
        self._seq = _next_seq()
        self._saved: tuple[_Saved, ...] | None = None
        self._released = False
        self._pre_hooks: HookDict | None = None
        self._hooks: HookDict | None = None
        self._tensor_hooks: dict[int, HookDict] | None = None
        self._retains: dict[int, weakref.ref] | None = None
        self._metadata: dict | None = None
        if _anomaly.enabled:
            grad_mode.record_forward_stack(self.metadata)

    # -- public API ---------------------------------------------------------
    def name(self) -> str:
        """The node's class name, e.g. ``'AddBackward0'``."""
        return type(self).__name__

    @property
    def metadata(self) -> dict:
        """A free-form dict for the user (kept as long as the node lives)."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def register_hook(self, fn: Callable) -> RemovableHandle:
        """``fn(grad_inputs, grad_outputs)`` runs after the node; it may return new grad_inputs."""
        if self._hooks is None:
            self._hooks = HookDict()
        return add_hook(self._hooks, fn)

    def register_prehook(self, fn: Callable) -> RemovableHandle:
        """``fn(grad_outputs)`` runs before the node; it may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = HookDict()
        return add_hook(self._pre_hooks, fn)

    @property
    def saved_tensors_released(self) -> bool:
        """True once a backward without ``retain_graph`` has freed the saved values."""
        return self._released

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {id(self):#x}>"

    def __call__(self, *grads: Any) -> Any:
        raise RuntimeError("graph nodes are run by the autograd engine; call .backward()")

    # -- for op implementations --------------------------------------------
    def save(self, *tensors: Tensor) -> None:
        """Keep tensors for backward, with their versions for the in-place check.

        Called with no tensor it still marks the node as holding state that a backward
        without ``retain_graph`` frees, so a second backward is refused: torch's nodes
        that keep a number as a saved tensor (``a * 2``) or own another node behave so.
        """
        self._saved = tuple([_Saved(t, self) for t in tensors]) if tensors else ()

    def save_as(self, *pairs: tuple[Tensor, np.ndarray]) -> None:
        """Like ``save``, but keep a converted buffer (e.g. cast for type promotion)."""
        self._saved = tuple([_Saved(t, self, d) for t, d in pairs])  # (list: faster)

    def saved(self) -> tuple:
        """The saved buffers (already checked by the engine before the pass started)."""
        return tuple([s.data for s in self._saved])  # a list is built faster than a genexpr

    def check_saved(self) -> None:
        """Raise torch's errors if the saved values were freed or modified in place."""
        if self._released:
            raise RuntimeError(SECOND_BACKWARD)
        for s in self._saved or ():
            if s.counter[0] != s.version:
                raise RuntimeError(modified_message(
                    self.name(), s.data, s.producer, s.output_nr, s.counter[0], s.version))

    def release(self) -> None:
        if self._saved is not None:
            self._saved = None
            self._released = True

    def apply(self, grads: list) -> tuple:  # pragma: no cover - abstract
        """Gradients for each input from the gradients of each output (numpy arrays)."""
        raise NotImplementedError

    def apply_graph(self, grads: list) -> tuple:
        """Like ``apply`` but with tensors and differentiable ops, for ``create_graph=True``."""
        raise NotImplementedError(
            f"{self.name()} cannot be differentiated twice yet (create_graph=True)")


class AccumulateGrad(Node):
    """The sink for a leaf tensor: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable: Tensor) -> None:
        Node.__init__(self, ())
        self.variable = variable

    def apply(self, grads: list) -> tuple:
        self.variable._accumulate(grads[0])
        return ()

    def apply_owned(self, grads: list) -> tuple:
        """``apply`` for a gradient buffer the pass owns alone: a new ``.grad`` adopts it."""
        self.variable._accumulate(grads[0], owned=True)
        return ()

    def apply_graph(self, grads: list) -> tuple:
        # With create_graph ``.grad`` gets a history, so it is replaced, never added into.
        # (Tensor methods only: this layer sits below the ops and imports none of them)
        v, g = self.variable, grads[0]
        if g._data.dtype != v._data.dtype:
            g = g.to(v.dtype)
        v._grad = g.clone() if v._grad is None else v._grad + g
        return ()
