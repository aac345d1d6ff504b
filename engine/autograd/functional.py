"""``engine.autograd.functional``: Jacobian-vector products, Jacobians and Hessians of a
function, with ``torch.autograd.functional``'s signatures, shapes and errors.

Forward-mode products (``jvp``, ``hvp``) use the double-backward trick: the gradient
of a vector-Jacobian product with respect to its (zero) vector is a Jacobian-vector
product, so every op's ``create_graph`` support is all they need.

>>> from engine.autograd.functional import hessian
>>> hessian(lambda x: (x ** 3).sum(), engine.tensor([1.0, 2.0]))
tensor([[ 6.,  0.],
        [ 0., 12.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine._base.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from engine.autograd.loop import grad
from engine.ops.creation import zeros_like
from engine.ops.join import stack
from engine.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


# ---------------------------------------------------------------- helpers
def _tensors(x: Any, what: str, fn: str) -> tuple[bool, tuple[Tensor, ...]]:
    """(was it a tuple, the tensors as a tuple), refusing anything but tensors."""
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {what}"
            raise TypeError(f"The {what} given to {fn} must be either a Tensor or a tuple of "
                            f"Tensors but {where} has type {type(t)}.")
    return is_tuple, items


def _leaves(xs: tuple[Tensor, ...], create_graph: bool, need_graph: bool) -> tuple:
    """Fresh differentiable stand-ins for the inputs (still connected with create_graph)."""
    res = []
    for x in xs:
        if create_graph and x.requires_grad:
            res.append(x.view(x.shape))
        else:
            res.append(x.detach().requires_grad_(need_graph))
    return tuple(res)


def _finish(xs: tuple, create_graph: bool) -> tuple:
    if isinstance(xs[0], Tensor):
        return xs if create_graph else tuple(x.detach() for x in xs)
    return tuple(_finish(x, create_graph) for x in xs)


def _unpack(res: tuple, is_tuple: Any) -> Any:
    if isinstance(is_tuple, tuple):  # (outputs are a tuple, inputs are a tuple)
        if not is_tuple[1]:
            res = tuple(r[0] for r in res)
        return res if is_tuple[0] else res[0]
    return res if is_tuple else res[0]


def _check_v(v: tuple, other: tuple, other_is_tuple: bool) -> None:
    if len(v) != len(other):
        if other_is_tuple:
            raise RuntimeError(
                f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, other)):
        if a.shape != b.shape:
            pre = f"Entry {i} in " if other_is_tuple else ""
            raise RuntimeError(f"{pre}v has invalid size: should be {b.shape} but got {a.shape}.")


_STRICT_NO_GRAD = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The "
               "outputs must be computed in a differentiable manner from the input when "
               "running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of "
                   "the user-provided function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided "
                "function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).",
    "hessian": "The hessian of the user-provided function with respect to input {i} is "
               "independent of the input. This is not allowed in strict mode. You should "
               "ensure that your function is thrice differentiable and that the hessian "
               "depends on the inputs.",
}


def _strict_requires_grad(ts: tuple, kind: str, strict: bool) -> None:
    if not strict:
        return
    for i, t in enumerate(ts):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if not t.requires_grad:
            raise RuntimeError(_STRICT_NO_GRAD[kind].format(i=i))


def _grad(outputs: tuple, inputs: tuple, grad_outputs: tuple | None = None,
          create_graph: bool = False, retain_graph: bool | None = None) -> tuple:
    """``autograd.grad`` over the outputs that need grad; None for unused inputs."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gos = zip(*pairs)
    gos = None if all(g is None for g in gos) else list(gos)
    return grad(list(outs), list(inputs), gos, retain_graph=retain_graph,
                create_graph=create_graph, allow_unused=True)


_MISSING = {
    "back": "The output of the user-provided function is independent of input {i}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _zeros_for_none(grads: tuple, refs: tuple, strict: bool, create_graph: bool,
                    stage: str) -> tuple:
    res = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_MISSING[stage].format(i=i))
            g = zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode when "
                               "create_graph=True.")
        res.append(g)
    return tuple(res)


def _prepare_v(v: Any, against: tuple, against_tuple: bool, fn: str, create_graph: bool,
               none_msg: str) -> tuple | None:
    if v is None:
        if len(against) != 1 or against[0].numel() != 1:
            raise RuntimeError(none_msg)
        return None
    _, vs = _tensors(v, "v", fn)
    vs = _leaves(vs, create_graph, need_graph=False)
    _check_v(vs, against, against_tuple)
    return vs


_V_NONE_INPUT = ("The vector v can only be None if the input to the user-provided function is "
                 "a single Tensor with a single element.")


# ---------------------------------------------------------------- products
def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``.

    >>> from engine.autograd.functional import vjp
    >>> vjp(lambda x: (x ** 2).sum(1), engine.ones(2, 3), engine.tensor([1.0, 2.0]))
    (tensor([3., 3.]), tensor([[2., 2., 2.],
            [4., 4., 4.]]))
    """
    with enable_grad():
        in_tuple, xs = _tensors(inputs, "inputs", "vjp")
        xs = _leaves(xs, create_graph, need_graph=True)
        out_tuple, outs = _tensors(func(*xs), "outputs of the user-provided function", "vjp")
        _strict_requires_grad(outs, "outputs", strict)
        vs = _prepare_v(v, outs, out_tuple, "vjp", create_graph,
                        "The vector v can only be None if the user-provided function returns "
                        "a single Tensor with a single element.")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _zeros_for_none(_grad(outs, xs, vs, create_graph), xs, strict, create_graph,
                              "back")
    return (_unpack(_finish(outs, create_graph), out_tuple),
            _unpack(_finish(res, create_graph), in_tuple))


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-backward trick.

    >>> from engine.autograd.functional import jvp
    >>> jvp(lambda x: x ** 2, engine.tensor([1.0, 2.0]), engine.ones(2))
    (tensor([1., 4.]), tensor([2., 4.]))
    """
    with enable_grad():
        in_tuple, xs = _tensors(inputs, "inputs", "jvp")
        xs = _leaves(xs, create_graph, need_graph=True)
        vs = _prepare_v(v, xs, in_tuple, "jvp", create_graph, _V_NONE_INPUT)
        out_tuple, outs = _tensors(func(*xs), "outputs of the user-provided function", "jvp")
        _strict_requires_grad(outs, "outputs", strict)
        dummies = tuple(zeros_like(o).requires_grad_() for o in outs)
        g_in = _grad(outs, xs, dummies, create_graph=True)
        _strict_requires_grad(g_in, "grad_inputs", strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _zeros_for_none(_grad(g_in, dummies, vs, create_graph), outs, strict,
                              create_graph, "back_trick")
    return (_unpack(_finish(outs, create_graph), out_tuple),
            _unpack(_finish(res, create_graph), out_tuple))


def _single_output(out: Any, fn: str, strict: bool) -> Tensor:
    is_tuple, outs = _tensors(out, "outputs of the user-provided function", fn)
    _strict_requires_grad(outs, "outputs", strict)
    if is_tuple:
        raise RuntimeError(f"The function given to {fn} should return a single Tensor")
    if out.numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn} should contain "
                           "a single element")
    return out


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), v^T H)`` for a scalar function: a vector-Hessian product.

    >>> from engine.autograd.functional import vhp
    >>> vhp(lambda x: (x ** 3).sum(), engine.tensor([1.0, 2.0]), engine.ones(2))
    (tensor(9.), tensor([ 6., 12.]))
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), H v)`` for a scalar function, by the double-backward trick (equal to
    ``vhp`` for twice continuously differentiable functions, whose Hessian is symmetric).

    >>> from engine.autograd.functional import hvp
    >>> hvp(lambda x: (x ** 3).sum(), engine.tensor([1.0, 2.0]), engine.tensor([1.0, 0.0]))
    (tensor(9.), tensor([6., 0.]))
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func: Callable, inputs: Any, v: Any, create_graph: bool, strict: bool,
                     fn: str) -> tuple[Any, Any]:
    with enable_grad():
        in_tuple, xs = _tensors(inputs, "inputs", fn)
        xs = _leaves(xs, create_graph, need_graph=True)
        vs = _prepare_v(v, xs, in_tuple, fn, create_graph, _V_NONE_INPUT)
        out = _single_output(func(*xs), fn, strict)
        jac = _grad((out,), xs, create_graph=True)
        _strict_requires_grad(jac, "jacobian", strict)
        if fn == "hvp":
            dummies = tuple(zeros_like(x).requires_grad_() for x in xs)
            back = _grad(jac, xs, dummies, create_graph=True)
            _strict_requires_grad(jac, "hessian", strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        if fn == "hvp":
            res = _zeros_for_none(_grad(back, dummies, vs, create_graph), xs, strict,
                                  create_graph, "double_back_trick")
        else:
            res = _zeros_for_none(_grad(jac, xs, vs, create_graph), xs, strict, create_graph,
                                  "double_back")
    return (_finish((out,), create_graph)[0], _unpack(_finish(res, create_graph), in_tuple))


# ---------------------------------------------------------------- full matrices
def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of ``func`` at ``inputs``, one backward pass per output element.

    Each block has shape ``output.shape + input.shape``; blocks are nested as torch
    nests them (a tensor, a tuple per output or input, or a tuple of tuples).
    ``vectorize`` only changes how torch batches the work, so the result is the same.

    >>> from engine.autograd.functional import jacobian
    >>> jacobian(lambda x: x ** 2, engine.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or '
                             '"reverse-mode". Hint: If your function has more outputs than '
                             'inputs, "forward-mode" tends to be more performant. Otherwise, '
                             'prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        raise NotImplementedError("jacobian: the engine has no forward-mode AD; use "
                                  'strategy="reverse-mode"')
    with enable_grad():
        in_tuple, xs = _tensors(inputs, "inputs", "jacobian")
        xs = _leaves(xs, create_graph, need_graph=True)
        out_tuple, outs = _tensors(func(*xs), "outputs of the user-provided function",
                                   "jacobian")
        _strict_requires_grad(outs, "outputs", strict)
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                               "`vectorized=True` are not supported together. Please either "
                               "set `strict=False` or `vectorize=False`.")
        blocks = []
        for i, out in enumerate(outs):
            rows: list[list[Tensor]] = [[] for _ in xs]
            flat = out.reshape(-1)
            for j in range(out.numel()):
                row = _grad((flat[j],), xs, retain_graph=True, create_graph=create_graph)
                for k, (g, x) in enumerate(zip(row, xs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(
                                f"Output {i} of the user-provided function is independent of "
                                f"input {k}. This is not allowed in strict mode.")
                        g = zeros_like(x)
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError(
                            "The jacobian of the user-provided function is independent of "
                            f"input {i}. This is not allowed in strict mode when "
                            "create_graph=True.")
                    rows[k].append(g)
            blocks.append(tuple(
                _stack_rows(stack, r, x, out) for r, x in zip(rows, xs)))
        return _unpack(_finish(tuple(blocks), create_graph), (out_tuple, in_tuple))


def _stack_rows(stack: Callable, rows: list, x: Tensor, out: Tensor) -> Tensor:
    shape = tuple(out.shape) + tuple(x.shape)
    if not rows:  # an output without elements
        return zeros_like(x).reshape(-1)[:0].reshape(shape)
    return stack(rows, 0).view(shape)


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar ``func`` at ``inputs``: the Jacobian of its gradient.

    One input gives a tensor of shape ``input.shape * 2``; a tuple of inputs gives a
    tuple of tuples of blocks ``H[i][j]`` of shape ``inputs[i].shape + inputs[j].shape``.

    >>> from engine.autograd.functional import hessian
    >>> hessian(lambda x: (x ** 3).sum(), engine.tensor([1.0, 2.0]))
    tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    in_tuple, xs = _tensors(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar(*args: Tensor) -> Tensor:
        return _single_output(func(*args), "hessian", strict).squeeze()

    def gradient(*args: Tensor) -> tuple:
        jac = jacobian(scalar, args, create_graph=True)
        _strict_requires_grad(jac, "jacobian", strict)
        return jac

    res = jacobian(gradient, xs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _unpack(res, (in_tuple, in_tuple))
