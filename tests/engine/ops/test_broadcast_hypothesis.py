"""Property tests: binary ops on random broadcast-compatible shapes (up to 4 dims) and
sum/mean over random dims, values and gradients against torch."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine

SETTINGS = settings(deadline=None, max_examples=60, derandomize=True)
TOL = {"float32": {"rtol": 2e-5, "atol": 1e-5}, "float64": {"rtol": 1e-12, "atol": 1e-12}}

OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}

pair_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                min_side=1, max_side=3)


def _operand(rng, shape, dtype, positive):
    lo = 0.5 if positive else -2.0
    x = rng.uniform(lo, 2.0, shape)
    if not positive:  # keep divisors away from zero
        x = np.where(np.abs(x) < 0.25, 0.25, x)
    return x.astype(dtype)


def _check(e_out, t_out, e_in, t_in, dtype, seed):
    assert tuple(e_out.shape) == tuple(t_out.shape)
    assert str(e_out.dtype).split(".")[-1] == str(t_out.dtype).split(".")[-1]
    np.testing.assert_allclose(e_out.detach()._data, t_out.detach().numpy(), **TOL[dtype])
    g = np.asarray(np.random.default_rng(seed).standard_normal(tuple(t_out.shape)), dtype)
    e_out.backward(engine.tensor(g))
    t_out.backward(torch.tensor(g))
    for e, t in zip(e_in, t_in):
        assert e.grad.shape == tuple(t.grad.shape)
        np.testing.assert_allclose(e.grad._data, t.grad.numpy(), **TOL[dtype])


@SETTINGS
@given(shapes=pair_shapes, op=st.sampled_from(sorted(OPS)),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_binary_broadcast(shapes, op, dtype, seed):
    (sa, sb), _ = shapes
    rng = np.random.default_rng(seed)
    a = _operand(rng, sa, dtype, positive=op == "pow")
    b = _operand(rng, sb, dtype, positive=False)
    e_in = [engine.tensor(a, requires_grad=True), engine.tensor(b, requires_grad=True)]
    t_in = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
    _check(OPS[op](*e_in), OPS[op](*t_in), e_in, t_in, dtype, seed)


@st.composite
def reductions(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    nd = len(shape)
    if nd == 0 or draw(st.booleans()):
        dim = None if draw(st.booleans()) or nd == 0 else draw(st.integers(-nd, nd - 1))
    else:
        axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        dim = tuple(a - nd if draw(st.booleans()) else a for a in axes)  # mix negative dims
    return shape, dim, draw(st.booleans())


@SETTINGS
@given(spec=reductions(), red=st.sampled_from(["sum", "mean"]),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_reduction_dims(spec, red, dtype, seed):
    shape, dim, keepdim = spec
    x = np.random.default_rng(seed).uniform(-2.0, 2.0, shape).astype(dtype)
    e = engine.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    _check(getattr(e, red)(**kw), getattr(t, red)(**kw), [e], [t], dtype, seed)


@SETTINGS
@given(shapes=pair_shapes, seed=st.integers(0, 2**16))
def test_broadcast_then_reduce_chain(shapes, seed):
    """Broadcast forward, then a reduction: unbroadcast and expand kernels in one graph."""
    (sa, sb), _ = shapes
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, sa), rng.uniform(0.5, 2, sb)
    e_in = [engine.tensor(a, requires_grad=True), engine.tensor(b, requires_grad=True)]
    t_in = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]

    def f(x, y):
        return ((x * y - y) / y).exp().mean()

    _check(f(*e_in), f(*t_in), e_in, t_in, "float64", seed)
