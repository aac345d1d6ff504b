"""``Plan``: a training step captured once and replayed in one Numba call.

A training loop rebuilds the same graph every iteration.  ``Plan(loss_fn, optimizer)``
runs the first steps eagerly (``loss_fn()``, ``zero_grad``, ``backward``, ``step``);
when two consecutive steps built the same graph from the same tensors, it lowers
that graph to a program for the interpreter in ``engine.kernels.interpreter`` and from then
on each call runs forward, backward and the optimizer update in a single call.
``lowering`` turns the graph into instructions, ``program`` lays them out in one arena
and replays them; each optimizer describes its own update (``_plan_update``).

What a compiled call guarantees is what the eager step would have done: the same
loss, the same ``.grad`` values (computed by the same backward kernels), the same
parameter updates.  Before each call a few cheap guards check that the step can
still be replayed (grad mode on, anomaly detection off, no tensor's data, grad or
``requires_grad`` replaced, no hook added, the optimizer's groups unchanged); if one
fails the plan drops its program and goes back to eager steps, capturing again.

Limits, by design of a replay: Python control flow inside ``loss_fn`` is not seen
(two equal captures in a row are taken as the structure), and graphs with ops the
interpreter does not know stay eager (``plan.reason`` says why).  While compiled,
the tensors the step reads and writes live in one block of memory (their values
are unchanged): update inputs in place (``x.copy_(batch)``) to feed new data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine._base import grad_mode
from engine.plan.lowering import LoweringError, _Lowering
from engine.plan.program import _BAD_DATA, _Program
from engine.tensor import Tensor

__all__ = ["Plan"]


class Plan:
    """A training step, compiled after two identical eager steps into one Numba call.

    ``plan()`` does what ``optimizer.zero_grad(); loss = loss_fn(); loss.backward();
    optimizer.step()`` does and returns the loss (detached).  Without an optimizer it
    is ``loss = loss_fn(); loss.backward()``: gradients accumulate as usual.

    >>> x, y = engine.ones(5), engine.zeros(3)
    >>> w = engine.full((5, 3), 0.1, requires_grad=True); b = engine.zeros(3, requires_grad=True)
    >>> opt = engine.optim.SGD([w, b], lr=0.5)
    >>> step = engine.autograd.Plan(
    ...     lambda: F.binary_cross_entropy_with_logits(x @ w + b, y), opt)
    >>> [round(step().item(), 4) for _ in range(4)], step.compiled
    ([0.9741, 0.6338, 0.4404, 0.3275], True)
    >>> step.ops[:4]
    ['MM', 'ADD', 'BCE', 'ZERO']
    """

    def __init__(self, loss_fn: Callable[[], Tensor], optimizer: Any = None) -> None:
        self._fn = loss_fn
        self._optimizer = optimizer
        self._program: _Program | None = None
        self._last: tuple | None = None
        self.reason: str | None = "not captured yet: the first two steps run eagerly"

    @property
    def compiled(self) -> bool:
        """Whether the next call can run as one compiled step."""
        return self._program is not None

    @property
    def ops(self) -> list[str]:
        """The compiled program's instructions, by name ([] while eager)."""
        return list(self._program.ops) if self._program is not None else []

    def __call__(self) -> Tensor:
        prog = self._program
        if prog is not None:
            if grad_mode._state.enabled and not grad_mode.anomaly.enabled:
                loss = prog.run()
                if loss is _BAD_DATA:  # the eager step raises the error eager code would
                    return self._eager()
                if loss is not None:
                    return loss
            self._program = None
            self.reason = "a guard failed (a tensor, grad mode or the optimizer changed)"
        return self._eager()

    def _eager(self) -> Tensor:
        loss = self._fn()
        if not isinstance(loss, Tensor):
            raise TypeError(f"Plan: loss_fn must return a Tensor, got {type(loss).__name__}")
        low = None
        if grad_mode._state.enabled and not grad_mode.anomaly.enabled and loss._rg:
            try:
                low = _Lowering(loss)
            except LoweringError as e:
                self.reason = str(e)
                self._last = None
        opt = self._optimizer
        if opt is not None:
            opt.zero_grad()
        loss.backward()
        if opt is not None:
            opt.step()
        if low is not None:
            key = (low.signature, [v.tensor for v in (*low.leaves, *low.inputs)] + low.targets)
            last, self._last = self._last, key
            if last is not None and last[0] == key[0] and len(last[1]) == len(key[1]) and all(
                    a is b for a, b in zip(last[1], key[1])):
                try:
                    self._program = _Program(low, opt)
                    self.reason = None
                    self._last = None
                except LoweringError as e:
                    self.reason = str(e)
            else:
                self.reason = "waiting for a second identical step"
        return loss.detach()
