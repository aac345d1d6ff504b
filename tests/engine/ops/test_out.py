"""``out=`` against torch: the result written into ``out`` (resized with torch's warning when
its shape differs), ``out`` returned with its version bumped, and torch's errors for a
gradient-requiring argument and for a dtype the result can't be cast to."""

import warnings

import numpy as np
import pytest
import torch

import engine
from tests.engine._support.autograd_helpers import same_error

R = np.random.default_rng(0)
A, B = R.standard_normal((2, 3)), R.standard_normal((2, 3))
M, N = R.standard_normal((3, 4)), R.standard_normal((2, 3, 4))

CALLS = {  # name: (call(lib, out, *inputs), input arrays)
    "add": (lambda lib, o, a, b: lib.add(a, b, alpha=2, out=o), (A, B)),
    "sub": (lambda lib, o, a, b: lib.sub(a, b, out=o), (A, B)),
    "mul": (lambda lib, o, a, b: lib.mul(a, b, out=o), (A, B)),
    "div": (lambda lib, o, a, b: lib.div(a, b, out=o), (A, B)),
    "pow": (lambda lib, o, a: lib.pow(a, 2, out=o), (A,)),
    "neg": (lambda lib, o, a: lib.neg(a, out=o), (A,)),
    "square": (lambda lib, o, a: lib.square(a, out=o), (A,)),
    "exp": (lambda lib, o, a: lib.exp(a, out=o), (A,)),
    "tanh": (lambda lib, o, a: lib.tanh(a, out=o), (A,)),
    "atan2": (lambda lib, o, a, b: lib.atan2(a, b, out=o), (A, B)),
    "clamp": (lambda lib, o, a: lib.clamp(a, -0.5, 0.5, out=o), (A,)),
    "maximum": (lambda lib, o, a, b: lib.maximum(a, b, out=o), (A, B)),
    "where": (lambda lib, o, a, b: lib.where(a > 0, a, b, out=o), (A, B)),
    "sum": (lambda lib, o, a: lib.sum(a, 1, out=o), (A,)),
    "sum_keepdim": (lambda lib, o, a: lib.sum(a, dim=0, keepdim=True, out=o), (A,)),
    "mean": (lambda lib, o, a: lib.mean(a, (0, 1), out=o), (A,)),
    "prod": (lambda lib, o, a: lib.prod(a, 1, out=o), (A,)),
    "max": (lambda lib, o, a: lib.max(a, out=o), (A,)),
    "amin": (lambda lib, o, a: lib.amin(a, 0, out=o), (A,)),
    "logsumexp": (lambda lib, o, a: lib.logsumexp(a, 1, out=o), (A,)),
    "var": (lambda lib, o, a: lib.var(a, 1, out=o), (A,)),
    "gather": (lambda lib, o, a: lib.gather(a, 1, lib.tensor([[2, 0], [1, 1]]), out=o), (A,)),
    "cat": (lambda lib, o, a, b: lib.cat([a, b], out=o), (A, B)),
    "stack": (lambda lib, o, a, b: lib.stack([a, b], 1, out=o), (A, B)),
    "mm": (lambda lib, o, a, m: lib.mm(a, m, out=o), (A, M)),
    "matmul": (lambda lib, o, a, m: lib.matmul(a, m, out=o), (A, M)),
    "bmm": (lambda lib, o, n: lib.bmm(n, n.transpose(1, 2), out=o), (N,)),
    "mv": (lambda lib, o, a, b: lib.mv(a, b[0], out=o), (A, B)),
    "dot": (lambda lib, o, a, b: lib.dot(a[0], b[0], out=o), (A, B)),
    "addmm": (lambda lib, o, a, m: lib.addmm(a[:, :1], a, m[:, :1], out=o), (A, M)),
}
MATRIX = {"mm", "matmul", "bmm", "mv", "dot", "addmm", "gather"}  # (and gather) out's dtype


def _inputs(lib, arrays, dtype="float64", requires_grad=False):
    return [lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=requires_grad)
            for a in arrays]


def _run(lib, name, out, **kw):
    call, arrays = CALLS[name]
    return call(lib, out, *_inputs(lib, arrays, **kw))


def _plain(lib, name):
    return CALLS[name][0](lib, None, *_inputs(lib, CALLS[name][1]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CALLS))
def test_out_of_the_right_shape_is_written_in_place(name, dtype):
    shape = tuple(_plain(torch, name).shape)
    results = []
    for lib in (engine, torch):
        o = lib.zeros(shape, dtype=getattr(lib, dtype))
        buffer, version = o.numpy(), o._version
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no resize, so no warning
            got = _run(lib, name, o, dtype=dtype)
        assert got is o and o._version == version + 1
        assert np.shares_memory(o.numpy(), buffer)
        results.append(o.numpy())
    np.testing.assert_allclose(*results, rtol=2e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_values_match_the_call_without_out(name):
    o = engine.zeros(0, dtype=engine.float64)
    got = _run(engine, name, o)
    np.testing.assert_allclose(got.numpy(), _plain(torch, name).numpy(), rtol=1e-12, atol=1e-12)
    assert got is o and tuple(o.shape) == tuple(_plain(torch, name).shape)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_wrong_shape_is_resized_with_torchs_warning(name):
    messages = []
    for lib in (engine, torch):
        o = lib.zeros(7, dtype=lib.float64)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = _run(lib, name, o)
        assert got is o and tuple(o.shape) == tuple(_plain(torch, name).shape)
        assert [w.category for w in caught] == [UserWarning]
        messages.append(str(caught[0].message).replace("torch.", "engine."))
    assert messages[1].startswith(messages[0])  # torch adds where in its C++ it was raised


def test_an_empty_out_is_resized_silently():
    for lib in (engine, torch):
        o = lib.zeros(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lib.add(lib.ones(3), 1, out=o)
        assert o.tolist() == [2.0, 2.0, 2.0]


def test_out_may_be_an_input_or_a_view():
    for lib in (engine, torch):
        x = lib.ones(3)
        assert lib.add(x, x, out=x) is x and x.tolist() == [2.0, 2.0, 2.0]
        base = lib.zeros(4)
        lib.mul(lib.ones(2), 3, out=base[1:3])
        assert base.tolist() == [0.0, 3.0, 3.0, 0.0]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_an_argument_that_requires_grad_refuses(name):
    shape = tuple(_plain(torch, name).shape)
    same_error(lambda: _run(engine, name, engine.zeros(shape, dtype=engine.float64),
                            requires_grad=True),
               lambda: _run(torch, name, torch.zeros(shape, dtype=torch.float64),
                            requires_grad=True))
    same_error(lambda: _run(engine, name, engine.zeros(shape, dtype=engine.float64,
                                                       requires_grad=True)),
               lambda: _run(torch, name, torch.zeros(shape, dtype=torch.float64,
                                                     requires_grad=True)))


def test_under_no_grad_arguments_that_require_grad_are_fine():
    for lib in (engine, torch):
        with lib.no_grad():
            o = lib.zeros(2, requires_grad=True)
            lib.add(lib.ones(2, requires_grad=True), 1, out=o)
        assert o.requires_grad and o.tolist() == [2.0, 2.0]


CASTING = {"sum", "sum_keepdim", "prod"}  # they compute in out's dtype, whatever it is


# (torch lets neg write a float32 result into an int64 out, but not a float64 one into int32)
@pytest.mark.parametrize("name", sorted(set(CALLS) - CASTING - {"neg"}))
@pytest.mark.parametrize("target", ["int64", "int32", "bool"])
def test_a_float_result_cannot_go_into_an_integer_out(name, target):
    shape = tuple(_plain(torch, name).shape)
    same_error(lambda: _run(engine, name, engine.zeros(shape, dtype=getattr(engine, target)),
                            dtype="float32"),
               lambda: _run(torch, name, torch.zeros(shape, dtype=getattr(torch, target)),
                            dtype="float32"))


@pytest.mark.parametrize("name", sorted(CASTING))
def test_sum_and_prod_compute_in_outs_dtype(name):
    for target in ("int32", "int64", "float32"):
        e, t = (_run(lib, name, lib.zeros(0, dtype=getattr(lib, target)))
                for lib in (engine, torch))
        assert e.dtype is getattr(engine, target)
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)


@pytest.mark.parametrize(("src", "dst"), [("float64", "float32"), ("float32", "float64"),
                                          ("int32", "float32"), ("bool", "int8")])
def test_casts_torch_allows(src, dst):
    values = []
    for lib in (engine, torch):
        o = lib.zeros(2, dtype=getattr(lib, dst))
        lib.add(lib.ones(2, dtype=getattr(lib, src)), lib.ones(2, dtype=getattr(lib, src)),
                out=o)
        assert str(o.dtype).split(".")[-1] == dst
        values.append(o.tolist())
    assert values[0] == values[1]
    same_error(lambda: engine.add(engine.ones(2, dtype=engine.int64), 1,
                                  out=engine.zeros(2, dtype=engine.bool)),
               lambda: torch.add(torch.ones(2, dtype=torch.int64), 1,
                                 out=torch.zeros(2, dtype=torch.bool)))


@pytest.mark.parametrize("name", sorted(MATRIX | {"amin", "clamp", "where"}))
@pytest.mark.parametrize("target", ["float32", "int64"])
def test_some_ops_want_outs_of_their_own_dtype(name, target):
    shape = tuple(_plain(torch, name).shape)
    same_error(lambda: _run(engine, name, engine.zeros(shape, dtype=getattr(engine, target))),
               lambda: _run(torch, name, torch.zeros(shape, dtype=getattr(torch, target))))


def test_methods_and_operators_still_work_without_out():
    x = engine.ones(2)
    assert (x + x).tolist() == x.add(x).tolist() == [2.0, 2.0]
    assert x.sum(0).item() == 2.0 and (x @ x).item() == 2.0


FACTORIES = {
    "zeros": lambda lib, o, **kw: lib.zeros(2, 3, out=o, **kw),
    "ones": lambda lib, o, **kw: lib.ones((2, 3), out=o, **kw),
    "full": lambda lib, o, **kw: lib.full((2, 3), 1.5, out=o, **kw),
    "eye": lambda lib, o, **kw: lib.eye(3, out=o, **kw),
    "arange": lambda lib, o, **kw: lib.arange(1, 6, 2, out=o, **kw),
    "linspace": lambda lib, o, **kw: lib.linspace(0, 1, 5, out=o, **kw),
    "logspace": lambda lib, o, **kw: lib.logspace(0, 1, 5, out=o, **kw),
    "empty": lambda lib, o, **kw: lib.empty(2, 3, out=o, **kw),
}


@pytest.mark.parametrize("target", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories_fill_out_in_its_dtype(name, target):
    got = []
    for lib in (engine, torch):
        o = lib.ones(2, dtype=getattr(lib, target))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert FACTORIES[name](lib, o) is o
        assert len(caught) == (name == "arange")  # torch warns about the resize for arange
        assert str(o.dtype).split(".")[-1] == target
        got.append((tuple(o.shape), o.numpy() if name != "empty" else 0))
    assert got[0][0] == got[1][0]
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-6)  # logspace: pow's last bit


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories_refuse_a_dtype_other_than_outs(name):
    same_error(lambda: FACTORIES[name](engine, engine.ones(2), dtype=engine.float64),
               lambda: FACTORIES[name](torch, torch.ones(2), dtype=torch.float64))


@pytest.mark.parametrize("name", sorted(set(FACTORIES) - {"empty"}))  # torch: "cannot resize"
def test_factories_refuse_an_out_that_requires_grad(name):
    same_error(lambda: FACTORIES[name](engine, engine.ones(2, requires_grad=True)),
               lambda: FACTORIES[name](torch, torch.ones(2, requires_grad=True)))
