"""``engine.autograd.functional`` against ``torch.autograd.functional``: values, shapes,
how results nest (tensor, tuple, tuple of tuples), create_graph and strict mode."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.autograd.functional as tf

import engine
import engine.autograd.functional as ef
from tests.engine._support.autograd_helpers import same_error

RTOL, ATOL = 1e-10, 1e-12
DATA = {
    "a": np.random.default_rng(0).uniform(0.5, 1.5, (2, 3)),
    "b": np.random.default_rng(1).uniform(-1.0, 1.0, (3,)),
    "s": np.array([0.7]),
}


def inputs(lib: Any, *names: str, requires_grad: bool = False) -> tuple:
    return tuple(lib.tensor(DATA[n], requires_grad=requires_grad) for n in names)


def one_out(lib, a):
    return (a.exp() * a.sin()).sum(1)


def two_in(lib, a, b):
    return lib.tanh(a @ b) * b.sum()


def two_out(lib, a, b):
    return (a * a).sum(0) + b, lib.sigmoid(a).prod()


def scalar(lib, a, b):
    return (lib.tanh(a) ** 3).sum() + (a.sum(0) * b.exp()).sum() + (b ** 4).sum()


def scalar1(lib, a):
    return (a.exp() * a.cos()).sum() + a.prod()


def _np(x: Any) -> np.ndarray:
    return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x.detach().numpy())


def assert_same(e: Any, t: Any) -> None:
    """Same nesting, shapes and values (engine result vs torch result)."""
    assert isinstance(e, tuple) == isinstance(t, tuple), (type(e), type(t))
    if isinstance(t, tuple):
        assert len(e) == len(t)
        for a, b in zip(e, t):
            assert_same(a, b)
        return
    assert tuple(e.shape) == tuple(t.shape)
    assert e.requires_grad == t.requires_grad
    np.testing.assert_allclose(_np(e), _np(t), rtol=RTOL, atol=ATOL)


def both(call: Any) -> None:
    """``call(lib, module)`` with (engine, ef) and (torch, tf) gives the same result."""
    assert_same(call(engine, ef), call(torch, tf))


def bind(fn: Any, lib: Any) -> Any:
    return lambda *xs: fn(lib, *xs)


# ---------------------------------------------------------------- vjp / jvp
def test_vjp_single_input_single_output() -> None:
    both(lambda lib, m: m.vjp(bind(one_out, lib), *inputs(lib, "a"), lib.ones(2)))


def test_vjp_tuple_inputs() -> None:
    both(lambda lib, m: m.vjp(bind(two_in, lib), inputs(lib, "a", "b"),
                              lib.tensor([1.0, -2.0], dtype=lib.float64)))


def test_vjp_tuple_outputs_and_scalar_v_none() -> None:
    both(lambda lib, m: m.vjp(bind(two_out, lib), inputs(lib, "a", "b"),
                              (lib.ones(3, dtype=lib.float64), lib.tensor(2.0, dtype=lib.float64))))
    both(lambda lib, m: m.vjp(bind(scalar1, lib), inputs(lib, "a")[0]))


def test_jvp_single_and_tuple() -> None:
    v = np.random.default_rng(2).standard_normal((2, 3))
    both(lambda lib, m: m.jvp(bind(one_out, lib), inputs(lib, "a")[0], lib.tensor(v)))
    both(lambda lib, m: m.jvp(bind(two_out, lib), inputs(lib, "a", "b"),
                              (lib.tensor(v), lib.ones(3, dtype=lib.float64))))
    both(lambda lib, m: m.jvp(lambda x: x.exp() * 2, inputs(lib, "s")[0]))


# ---------------------------------------------------------------- jacobian / hessian
@pytest.mark.parametrize("fn,names", [(one_out, "a"), (two_in, "ab"), (two_out, "ab"),
                                      (lambda lib, a: (a.exp(), a.sum()), "a")],
                         ids=["tensor", "tuple-in", "tuple-both", "tuple-out"])
def test_jacobian_nesting_and_values(fn, names) -> None:
    def call(lib, m):
        xs = inputs(lib, *names)
        return m.jacobian(bind(fn, lib), xs if len(xs) > 1 else xs[0])

    both(call)


def test_jacobian_vectorize_flag_and_unused_input() -> None:
    both(lambda lib, m: m.jacobian(lambda a, b: a.exp(), inputs(lib, "a", "b"), vectorize=True))
    both(lambda lib, m: m.jacobian(lambda a, b: a.exp(), inputs(lib, "a", "b")))


def test_hessian_single_and_tuple() -> None:
    both(lambda lib, m: m.hessian(bind(scalar1, lib), inputs(lib, "a")[0]))
    both(lambda lib, m: m.hessian(bind(scalar, lib), inputs(lib, "a", "b")))


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hvp_vhp(name) -> None:
    va = np.random.default_rng(4).standard_normal((2, 3))
    vb = np.random.default_rng(5).standard_normal(3)
    both(lambda lib, m: getattr(m, name)(bind(scalar, lib), inputs(lib, "a", "b"),
                                         (lib.tensor(va), lib.tensor(vb))))
    both(lambda lib, m: getattr(m, name)(bind(scalar1, lib), inputs(lib, "a")[0],
                                         lib.tensor(va)))


# ---------------------------------------------------------------- create_graph
@pytest.mark.parametrize("what", ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"])
def test_create_graph_results_are_differentiable(what) -> None:
    v = np.random.default_rng(6).standard_normal((2, 3))
    res = []
    for lib, m in ((engine, ef), (torch, tf)):
        (a,) = inputs(lib, "a", requires_grad=True)
        f = bind(scalar1, lib) if what in ("hessian", "hvp", "vhp") else bind(one_out, lib)
        args = {"vjp": (lib.ones(2, dtype=lib.float64),), "jvp": (lib.tensor(v),),
                "hvp": (lib.tensor(v),), "vhp": (lib.tensor(v),)}.get(what, ())
        out = getattr(m, what)(f, a, *args, create_graph=True)
        r = out[1] if isinstance(out, tuple) else out
        assert r.requires_grad
        (g,) = lib.autograd.grad((r * r).sum(), a)
        res.append((r, g))
    for e, t in zip(*res):
        np.testing.assert_allclose(_np(e), _np(t), rtol=1e-9, atol=1e-11)


def test_results_are_detached_without_create_graph() -> None:
    (a,) = inputs(engine, "a", requires_grad=True)
    out, g = ef.vjp(bind(one_out, engine), a, engine.ones(2))
    assert not out.requires_grad and not g.requires_grad
    assert not ef.hessian(bind(scalar1, engine), a).requires_grad


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("call", [
    lambda lib, m: m.vjp(bind(one_out, lib), inputs(lib, "a")[0]),
    lambda lib, m: m.vjp(bind(one_out, lib), inputs(lib, "a")[0], lib.ones(3)),
    lambda lib, m: m.jvp(bind(two_out, lib), inputs(lib, "a", "b"), (lib.ones(2, 3),)),
    lambda lib, m: m.jvp(bind(one_out, lib), inputs(lib, "a")[0]),
    lambda lib, m: m.hvp(bind(one_out, lib), inputs(lib, "a")[0], lib.ones(2, 3)),
    lambda lib, m: m.vhp(bind(two_out, lib), inputs(lib, "a", "b"),
                         (lib.ones(2, 3), lib.ones(3))),
    lambda lib, m: m.hessian(lambda a: (a.sum(), a.sum()), inputs(lib, "a")[0]),
    lambda lib, m: m.vjp(lambda a: a, [inputs(lib, "a")[0]], lib.ones(2, 3)),
    lambda lib, m: m.vjp(lambda a, b: a.exp().sum(), inputs(lib, "a", "b"), strict=True),
    lambda lib, m: m.jacobian(lambda a, b: a.exp(), inputs(lib, "a", "b"), strict=True),
    lambda lib, m: m.jacobian(lambda a: lib.ones(2), inputs(lib, "a")[0], strict=True),
    lambda lib, m: m.hessian(lambda a: a.sum(), inputs(lib, "a")[0], strict=True),
    lambda lib, m: m.jvp(lambda a: lib.ones(2) * 1.0, inputs(lib, "s")[0], strict=True),
], ids=["v-none-vector", "v-shape", "v-length", "jvp-v-none", "hvp-not-scalar",
        "vhp-not-scalar", "hessian-tuple", "list-inputs", "strict-unused",
        "strict-jacobian-unused", "strict-no-grad", "strict-linear-hessian", "strict-jvp"])
def test_errors_match_torch(call) -> None:
    same_error(lambda: call(engine, ef), lambda: call(torch, tf))
