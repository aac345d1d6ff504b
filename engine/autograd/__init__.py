"""``engine.autograd``: backward, grad, gradcheck and the stepwise ``backward_steps``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.autograd import functional
from engine.autograd.anomaly import detect_anomaly, set_detect_anomaly
from engine.autograd.engine import Step, backward_steps, run
from engine.autograd.function import Function, FunctionCtx
from engine.autograd.gradcheck import gradcheck
from engine.autograd.plan import Plan
from engine.graph import Node, RemovableHandle
from engine.ops.convert import cast
from engine.tensor import Tensor, _wrap

__all__ = ["Function", "FunctionCtx", "detect_anomaly", "set_detect_anomaly", "backward", "grad",
           "gradcheck", "backward_steps", "Step", "Node", "RemovableHandle", "functional", "Plan"]


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Sequence[Tensor] | None = None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the graph's leaves.

    >>> x = engine.tensor([1.0, 2.0], requires_grad=True)
    >>> engine.autograd.backward((x * x).sum()); x.grad      # as (x * x).sum().backward()
    tensor([2., 4.])
    >>> out = 3 * x
    >>> engine.autograd.backward(out, engine.ones_like(out), retain_graph=True); x.grad
    tensor([5., 7.])
    """
    if inputs is not None:
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
        for t in inputs:
            t.retain_grad()  # as torch: a non-leaf input keeps its .grad from now on
    run(tensors, grad_tensors, retain_graph, create_graph, inputs)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` w.r.t. ``inputs``, returned; no ``.grad`` is touched.

    >>> w = engine.tensor([1.0, 2.0], requires_grad=True)
    >>> engine.autograd.grad((w ** 2).sum(), [w]), w.grad
    ((tensor([2., 4.]),), None)
    """
    targets = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if not targets:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    captured = run(outputs, grad_outputs, retain_graph, create_graph, targets,
                   accumulate=False)
    result: list[Tensor | None] = []
    for i, (t, g) in enumerate(zip(targets, captured)):
        if g is None:
            if materialize_grads:
                from engine.ops.creation import zeros_like

                result.append(zeros_like(t))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior.")
            result.append(None)
        elif isinstance(g, Tensor):  # create_graph: a gradient with its own history
            result.append(g if g._data.dtype == t._data.dtype else cast(g, t._data.dtype))
        else:
            result.append(_wrap(g.astype(t._data.dtype, copy=False).reshape(t._data.shape)))
    return tuple(result)


