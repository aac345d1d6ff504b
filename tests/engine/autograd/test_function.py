"""``engine.autograd.Function`` against ``torch.autograd.Function``.

Each custom op is defined once per library by a factory taking ``lib``, so the engine
and torch versions have the same body.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import engine
from tests.engine._support.autograd_helpers import function_of, same_error

LIBS = (engine, torch)


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach().numpy())


def cube(lib: Any) -> type:
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2

    return Cube


def exp_fn(lib: Any) -> type:
    """Saves its output, as torch's own exp does."""

    class MyExp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

    return MyExp


def scale_shift(lib: Any) -> type:
    """Tensor and non-tensor arguments, two outputs, and a record of needs_input_grad."""

    class ScaleShift(lib.autograd.Function):
        seen: list = []

        @staticmethod
        def forward(ctx, x, k, y, label="unused"):
            ctx.k = k
            ScaleShift.seen.append(ctx.needs_input_grad)
            ctx.save_for_backward(x, None, y)
            return x * k + y, x * y

        @staticmethod
        def backward(ctx, g1, g2):
            x, none, y = ctx.saved_tensors
            assert none is None
            return g1 * ctx.k + g2 * y, None, g1 + g2 * x, None

    return ScaleShift


def data(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.5, 1.5, shape)


def test_forward_backward_and_grad_fn_name() -> None:
    res = []
    for lib in LIBS:
        x = lib.tensor(data(2, 3), requires_grad=True)
        y = cube(lib).apply(x)
        assert type(y.grad_fn).__name__ == "CubeBackward"
        assert y.grad_fn.name() == "CubeBackward"
        y.backward(lib.ones(2, 3, dtype=lib.float64))
        res.append((y, x.grad))
    for e, t in zip(*res):
        np.testing.assert_allclose(_np(e), _np(t), rtol=1e-12)


def test_needs_input_grad_non_tensor_args_and_two_outputs() -> None:
    res, seen = [], []
    for lib in LIBS:
        fn = scale_shift(lib)
        x = lib.tensor(data(3), requires_grad=True)
        y = lib.tensor(data(3, seed=1))
        a, b = fn.apply(x, 2.5, y, "label")
        assert a.grad_fn is b.grad_fn
        (a * b).sum().backward()
        y.requires_grad_()
        a, b = fn.apply(x, 2.5, y)
        (a + b * b).sum().backward()
        res.append((x.grad, y.grad))
        seen.append(fn.seen)
    assert seen[0] == seen[1] == [(True, False, False, False), (True, False, True)]
    for e, t in zip(*res):
        np.testing.assert_allclose(_np(e), _np(t), rtol=1e-12)


def test_saving_an_output() -> None:
    res = []
    for lib in LIBS:
        x = lib.tensor(data(4), requires_grad=True)
        y = exp_fn(lib).apply(x)
        (y * y).sum().backward()
        res.append(x.grad)
    np.testing.assert_allclose(_np(res[0]), _np(res[1]), rtol=1e-12)


def test_mark_non_differentiable() -> None:
    got = []

    def forward(ctx, x):
        idx = x.argmax()
        doubled = x * 2
        ctx.mark_non_differentiable(idx, doubled)
        return x * 3, idx, doubled

    def backward(ctx, g, g_idx, g_doubled):
        got.append((_np(g_idx).tolist(), _np(g_doubled).tolist()))
        return g * 3

    for lib in LIBS:
        x = lib.tensor([1.0, 4.0, 2.0], requires_grad=True)
        v, i, d = function_of(lib, forward, backward).apply(x)
        assert v.requires_grad and not i.requires_grad and not d.requires_grad
        assert i.grad_fn is None and d.grad_fn is None
        v.sum().backward()
        assert _np(x.grad).tolist() == [3.0, 3.0, 3.0]
    assert got[0] == got[1]  # zeros for the outputs without a gradient


def test_set_materialize_grads_false_passes_none() -> None:
    seen = []

    def forward(ctx, x):
        ctx.set_materialize_grads(False)
        return x * 2, x * 3

    def backward(ctx, g1, g2):
        seen.append((g1 is None, g2 is None))
        total = None
        for g, k in ((g1, 2), (g2, 3)):
            if g is not None:
                total = g * k if total is None else total + g * k
        return total

    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, b = function_of(lib, forward, backward).apply(x)
        a.sum().backward()
        b.sum().backward()  # nothing saved: a second pass is allowed, as in torch
        assert _np(x.grad).tolist() == [5.0, 5.0]
    assert seen[:2] == seen[2:] == [(False, True), (True, False)]


@pytest.mark.parametrize("body", ["too-many", "too-few", "number", "not-a-variable",
                                  "bad-shape"])
def test_backward_result_errors_match_torch(body) -> None:
    def run(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                return {"too-many": (g, None, g), "too-few": (g,), "number": (3.0, None),
                        "not-a-variable": (g, g), "bad-shape": (g.sum(), None)}[body]

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        Bad.apply(x, 2.0).sum().backward()

    same_error(lambda: run(engine), lambda: run(torch))


def test_broadcast_gradient_is_summed_and_cast_like_torch() -> None:
    res = []
    for lib in LIBS:
        wide = function_of(lib, lambda ctx, x: x * 2,
                           lambda ctx, g: (g * 2).expand(3, 2).double())
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (wide.apply(x * 1.0) * 1.0).sum().backward()
        res.append(x.grad)
    assert str(res[0].dtype).split(".")[-1] == str(res[1].dtype).split(".")[-1] == "float32"
    np.testing.assert_array_equal(_np(res[0]), _np(res[1]))


def test_second_backward_without_retain_graph_fails() -> None:
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = cube(lib).apply(x).sum()
        y.backward()
        y.backward()

    same_error(lambda: run(engine), lambda: run(torch))


def test_retain_graph_allows_a_second_backward() -> None:
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = cube(engine).apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(_np(x.grad), [6.0, 24.0])


def test_in_place_change_of_a_saved_tensor_fails() -> None:
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a = x * 1
        y = cube(lib).apply(a)
        a.mul_(2)
        y.sum().backward()

    same_error(lambda: run(engine), lambda: run(torch), upto="expected version 0 instead.")


def test_create_graph_through_a_custom_function() -> None:
    res = []
    for lib in LIBS:
        x = lib.tensor(data(3), requires_grad=True)
        y = cube(lib).apply(x.sin()) + exp_fn(lib).apply(x) * x
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), x)
        res.append((g, h))
    for e, t in zip(*res):
        np.testing.assert_allclose(_np(e), _np(t), rtol=1e-12)


def test_gradcheck_on_custom_functions() -> None:
    x = engine.tensor(data(2, 3), requires_grad=True)
    y = engine.tensor(data(2, 3, seed=2), requires_grad=True)
    assert engine.autograd.gradcheck(cube(engine).apply, (x,))
    assert engine.autograd.gradcheck(exp_fn(engine).apply, (x,))
    assert engine.autograd.gradcheck(lambda a, b: scale_shift(engine).apply(a, 0.5, b), (x, y))


def test_no_node_without_grad() -> None:
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0])
        assert cube(lib).apply(x).grad_fn is None
        with lib.no_grad():
            assert cube(lib).apply(x.requires_grad_()).grad_fn is None
