"""Custom differentiable operations, as ``torch.autograd.Function``.

Subclass ``Function`` (its docstring has an example), write ``forward`` and ``backward``,
and call ``apply``; the node it records is named after the class (``CubeBackward``).

The context object *is* the graph node (as in torch): ``ctx.needs_input_grad``,
``ctx.save_for_backward``, ``ctx.saved_tensors``, ``ctx.mark_non_differentiable``,
``ctx.set_materialize_grads``; anything else may be stored on it freely.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine._base import grad_mode
from engine.graph import Node
from engine.ops.base import edge, sum_to, unpack
from engine.tensor import Tensor, _wrap


class FunctionCtx(Node):
    """The backward node of one ``Function.apply`` call, also handed to ``forward``.

    >>> class Scale(engine.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x, k):
    ...         ctx.k = k                   # any attribute can be kept for backward
    ...         return x * k
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         return g * ctx.k, None
    >>> y = Scale.apply(engine.ones(2, requires_grad=True), 3.0)
    >>> y.grad_fn.name(), y.grad_fn.k, y.grad_fn.needs_input_grad
    ('ScaleBackward', 3.0, (True, False))
    """

    __slots__ = ("num_outputs", "needs_input_grad", "_tensors", "_holes", "_non_diff",
                 "_materialize", "_fn", "_outputs_meta", "_inputs_meta", "__dict__")

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep tensors for ``backward``; modifying them in place afterwards is an error."""
        self._tensors = tensors

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        if self._holes is None:  # still inside forward
            return tuple(self._tensors)
        self.check_saved()
        found = iter(unpack(self) if self._saved else ())
        return tuple(None if hole else next(found) for hole in self._holes)

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        self._non_diff = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        """With False, ``backward`` receives None for outputs that got no gradient."""
        self._materialize = bool(value)

    def apply(self, grads: list) -> tuple:
        args = [_wrap(g) if g is not None else g for g in grads]
        with grad_mode.no_grad():
            res = self._call_backward(args)
        return tuple(None if r is None else r._data for r in res)

    def apply_graph(self, grads: list) -> tuple:
        with grad_mode.enable_grad():
            return self._call_backward(list(grads))

    def _call_backward(self, grads: list) -> tuple:
        args = []
        for g, (shape, dtype) in zip(grads, self._outputs_meta):
            if g is None and self._materialize:
                g = _wrap(np.zeros(shape, dtype))
            args.append(g)
        res = self._fn.backward(self, *args)
        res = res if isinstance(res, tuple) else (res,)
        n = len(self.next_functions)
        if len(res) != n:
            if len(res) > n and all(r is None for r in res[n:]):
                res = res[:n]
            else:
                raise RuntimeError(
                    f"function {self.name()} returned an incorrect number of gradients "
                    f"(expected {n}, got {len(res)})")
        return tuple(self._checked(i, r) for i, r in enumerate(res))

    def _checked(self, i: int, r: Any) -> Tensor | None:
        """Input ``i``'s gradient validated as torch does: a tensor (or None) for a tensor
        input, summed down from a broadcast shape and cast to the input's dtype."""
        if r is not None and not isinstance(r, Tensor):
            raise RuntimeError(f"expected Variable or None (got {type(r).__name__})")
        meta = self._inputs_meta[i]
        if meta is None:
            if r is not None:
                raise RuntimeError(
                    f"function {self.name()} returned a gradient different than None at "
                    f"position {i + 1}, but the corresponding forward input was not a Variable")
            return None
        if r is None or self.next_functions[i][0] is None:
            return None
        shape, dtype = meta
        got = r._data.shape
        if got != shape:
            pad = (1,) * (len(got) - len(shape)) + shape
            if len(shape) > len(got) or any(a != b and a != 1 for a, b in zip(pad, got)):
                raise RuntimeError(
                    f"Function {self.name()} returned an invalid gradient at index {i} - got "
                    f"{list(got)} but expected shape compatible with {list(shape)}")
        return sum_to(r, shape, dtype)


class Function:
    """Base class for user-defined ops: write ``forward`` and ``backward``, call ``apply``.

    >>> class Cube(engine.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * g
    >>> x = engine.tensor([1.0, 2.0], requires_grad=True)
    >>> y = Cube.apply(x); y
    tensor([1., 8.], grad_fn=<CubeBackward>)
    >>> y.sum().backward(); x.grad
    tensor([ 3., 12.])
    """

    _node_cls: type[FunctionCtx]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # torch names the node class after the function: ``MyFunc`` -> ``MyFuncBackward``.
        cls._node_cls = type(f"{cls.__name__}Backward", (FunctionCtx,), {"__slots__": ()})

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Any) -> Any:
        raise NotImplementedError("You must implement the backward function for custom "
                                  "autograd.Function.")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` without recording, then connect its outputs to one node."""
        if cls is Function:
            raise RuntimeError("Function.apply must be called on a subclass")
        is_t = [isinstance(a, Tensor) for a in args]
        needs = tuple(t and a.requires_grad for t, a in zip(is_t, args))
        record = grad_mode.is_grad_enabled() and any(needs)
        ctx = cls._node_cls(tuple(edge(a) if t else (None, 0) for t, a in zip(is_t, args))
                            if record else ())
        ctx.needs_input_grad = needs
        ctx._inputs_meta = tuple((a._data.shape, a._data.dtype) if t else None
                                 for t, a in zip(is_t, args))
        ctx._tensors, ctx._holes, ctx._non_diff = (), None, set()
        ctx._materialize, ctx._fn = True, cls
        with grad_mode.no_grad():
            result = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        if not record:
            return result
        inputs = {id(a) for a, t in zip(args, is_t) if t}
        wrapped = []
        nr = 0
        metas = []
        for o in outs:
            if not isinstance(o, Tensor):
                wrapped.append(o)
                continue
            if id(o) in inputs:  # forward returned an input: give the output its own identity
                o = _wrap(o._data)
            differentiable = id(o) not in ctx._non_diff and o._data.dtype.kind == "f"
            if differentiable:
                o.grad_fn, o._output_nr, o._rg = ctx, nr, True
            metas.append((o._data.shape, o._data.dtype))
            nr += 1
            wrapped.append(o)
        ctx.num_outputs = nr
        ctx._outputs_meta = tuple(metas)
        saved = ctx._tensors
        ctx._holes = tuple(t is None for t in saved)
        if not all(ctx._holes):  # nothing saved: nothing to free, backward may run again
            ctx.save(*(t for t in saved if t is not None))
        ctx._tensors = ()
        return wrapped[0] if single else tuple(wrapped)
