"""Every op in op_cases.CASES against torch, in float32 and float64.

For each case and dtype: forward values, shape and dtype; the gradient of every
input for a random upstream gradient; the grad_fn name and its next_functions chain.
A separate table checks torch's type promotion rules, gradients included.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from tests.engine._support.op_cases import (
    CASES,
    ZERO_D_OUTPUT_CASES,
    Arg,
    make_inputs,
    render_chain,
)

DTYPES = ["float32", "float64"]
TOL = {"float32": {"rtol": 1e-5, "atol": 1e-6}, "float64": {"rtol": 1e-12, "atol": 1e-12}}

params = pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
dtypes = pytest.mark.parametrize("dtype", DTYPES)


def tol(dtype: str, scale: float = 1.0) -> dict[str, float]:
    return {k: v * scale for k, v in TOL[dtype].items()}


def dtype_name(t) -> str:
    """'float32' for both engine.float32 and torch.float32."""
    return str(t.dtype).split(".")[-1]


def build(args: tuple[Arg, ...], arrays: list[np.ndarray]):
    """The same operands as engine and as torch tensors."""
    e_in, t_in = [], []
    for a, x in zip(args, arrays):
        rg = a.grad and x.dtype.kind == "f"
        e_in.append(engine.tensor(x, requires_grad=rg))
        t_in.append(torch.tensor(x, requires_grad=rg))
    return e_in, t_in


def run(case, dtype: str, seed_offset: int = 0):
    e_in, t_in = build(case.args, make_inputs(case, dtype, seed_offset))
    return e_in, t_in, case.engine_fn(*e_in), case.torch_fn(*t_in)


def as_np(t) -> np.ndarray:
    return np.asarray(t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach()._data)


def assert_close(actual, expected, dtype: str, scale: float = 1.0, what: str = "") -> None:
    a, e = as_np(actual), as_np(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch's {e.shape}"
    np.testing.assert_allclose(a, e, err_msg=what, **tol(dtype, scale))


def backward_both(e_out, t_out, seed: int) -> None:
    """Backward through both graphs with one random upstream gradient."""
    g = np.random.default_rng(seed).standard_normal(tuple(t_out.shape))
    g = g.astype(as_np(t_out).dtype)
    e_out.backward(engine.tensor(g))
    t_out.backward(torch.tensor(g))


# ---------------------------------------------------------------- the op table
@params
@dtypes
def test_forward(case, dtype):
    _, _, e_out, t_out = run(case, dtype)
    assert isinstance(e_out, engine.Tensor)
    assert tuple(e_out.shape) == tuple(t_out.shape)
    assert dtype_name(e_out) == dtype_name(t_out)
    assert_close(e_out, t_out, dtype, case.tol, "forward")


@params
@dtypes
def test_backward(case, dtype):
    e_in, t_in, e_out, t_out = run(case, dtype)
    assert e_out.requires_grad == t_out.requires_grad
    backward_both(e_out, t_out, case.seed + 1)
    checked = 0
    for i, (e, t) in enumerate(zip(e_in, t_in)):
        if t.grad is None:
            assert e.grad is None, f"input {i} got a gradient torch does not give"
            continue
        assert e.grad is not None, f"input {i} got no gradient"
        assert dtype_name(e.grad) == dtype_name(t.grad), f"input {i} gradient dtype"
        assert_close(e.grad, t.grad, dtype, case.tol, f"gradient of input {i}")
        checked += 1
    assert checked == sum(a.grad for a in case.args)


@params
@dtypes
def test_grad_fn(case, dtype):
    _, _, e_out, t_out = run(case, dtype)
    expected = case.expected_grad_fn(dtype)
    torch_name = None if t_out.grad_fn is None else type(t_out.grad_fn).__name__
    assert torch_name == expected, "the table disagrees with torch"
    engine_name = None if e_out.grad_fn is None else type(e_out.grad_fn).__name__
    assert engine_name == expected
    assert render_chain(e_out.grad_fn) == render_chain(t_out.grad_fn)
    if case.chain is not None:
        assert render_chain(e_out.grad_fn) == case.chain


@params
def test_grad_mode_off_records_nothing(case):
    e_in, _ = build(case.args, make_inputs(case, "float64"))
    with engine.no_grad():
        res = case.engine_fn(*e_in)
    assert res.grad_fn is None
    if res is not e_in[0]:  # ops returning their input unchanged keep its flag
        assert not res.requires_grad


# ---------------------------------------------------------------- type promotion
# (id, fn(lib, *xs), operands as (shape, dtype, domain), expected result dtype)
PROMOTION = [
    ("f32+f64-0d", lambda lib, a, b: a + b, [((3,), "float32"), ((), "float64")], "float32"),
    ("f64-0d*f32", lambda lib, a, b: a * b, [((), "float64"), ((2, 3), "float32")], "float32"),
    ("f32+f64", lambda lib, a, b: a + b, [((3,), "float32"), ((3,), "float64")], "float64"),
    ("f32-0d+f64-0d", lambda lib, a, b: a - b, [((), "float32"), ((), "float64")], "float64"),
    ("f64/f32-bcast", lambda lib, a, b: a / b, [((2, 3), "float64"), ((3,), "float32")],
     "float64"),
    ("int*pyfloat", lambda lib, a: a * 2.5, [((3,), "int64")], "float32"),
    ("pyfloat-int", lambda lib, a: 1.5 - a, [((3,), "int64")], "float32"),
    ("int+pyint", lambda lib, a: a + 2, [((3,), "int64")], "int64"),
    ("int*np.float64", lambda lib, a: a * np.float64(2.5), [((3,), "int64")], "float32"),
    ("f32*np.float64", lambda lib, a: a * np.float64(2.5), [((3,), "float32")], "float32"),
    ("f32/np.int64", lambda lib, a: a / np.int64(2), [((3,), "float32")], "float32"),
    ("int/int", lambda lib, a, b: a / b, [((3,), "int64"), ((3,), "int64")], "float32"),
    ("int/pyint", lambda lib, a: a / 2, [((3,), "int64")], "float32"),
    ("int-0d/int", lambda lib, a, b: a / b, [((), "int64"), ((3,), "int64")], "float32"),
    ("int+int-0d", lambda lib, a, b: a + b, [((3,), "int64"), ((), "int64")], "int64"),
    ("f32*int", lambda lib, a, b: a * b, [((3,), "float32"), ((3,), "int64")], "float32"),
    ("int*f32", lambda lib, a, b: a * b, [((2, 3), "int64"), ((3,), "float32")], "float32"),
    ("f64-int", lambda lib, a, b: a - b, [((3,), "float64"), ((3,), "int64")], "float64"),
    ("int-0d*f32", lambda lib, a, b: a * b, [((), "int64"), ((3,), "float32")], "float32"),
    ("f32-0d*int", lambda lib, a, b: a * b, [((), "float32"), ((3,), "int64")], "float32"),
    ("f64-0d*int", lambda lib, a, b: a * b, [((), "float64"), ((3,), "int64")], "float64"),
    ("f32-0d+int-0d", lambda lib, a, b: a + b, [((), "float32"), ((), "int64")], "float32"),
    ("bool+pyint", lambda lib, a: a + 1, [((3,), "bool")], "int64"),
    ("bool*pyfloat", lambda lib, a: a * 0.5, [((3,), "bool")], "float32"),
    ("bool*f64", lambda lib, a, b: a * b, [((3,), "bool"), ((3,), "float64")], "float64"),
    ("int**2", lambda lib, a: a ** 2, [((3,), "int64")], "int64"),
    ("int**half", lambda lib, a: a ** 0.5, [((3,), "int64")], "float32"),
    ("2**int", lambda lib, a: 2 ** a, [((3,), "int64")], "int64"),
    ("f32**f64-0d", lambda lib, a, b: a ** b, [((3,), "float32"), ((), "float64")], "float32"),
    ("exp(int)", lambda lib, a: lib.exp(a), [((3,), "int64")], "float32"),
    ("sqrt(int)", lambda lib, a: a.sqrt(), [((3,), "int64")], "float32"),
    ("abs(int)", lambda lib, a: a.abs(), [((3,), "int64")], "int64"),
    ("relu(int)", lambda lib, a: lib.relu(a), [((3,), "int64")], "int64"),
    ("sum(int)", lambda lib, a: a.sum(), [((3,), "int64")], "int64"),
    ("sum(bool)", lambda lib, a: a.sum(0), [((2, 3), "bool")], "int64"),
    ("sum-dtype", lambda lib, a: a.sum(dtype=lib.float64), [((3,), "float32")], "float64"),
    ("mean-dtype", lambda lib, a: a.mean(1, dtype=lib.float64), [((2, 3), "float32")], "float64"),
    ("to-int", lambda lib, a: a.to(lib.int64), [((3,), "float64")], "int64"),
    ("long", lambda lib, a: a.long(), [((3,), "float32")], "int64"),
    ("int.float", lambda lib, a: a.float(), [((3,), "int64")], "float32"),
    ("int.double", lambda lib, a: a.double(), [((3,), "int64")], "float64"),
    ("f32@f32", lambda lib, a, b: a @ b, [((2, 3), "float32"), ((3,), "float32")], "float32"),
]


def _promotion_inputs(specs):
    rng = np.random.default_rng(7)
    arrays = []
    for shape, dt in specs:
        vals = rng.integers(1, 4, shape) if dt != "bool" else rng.integers(0, 2, shape)
        if dt.startswith("float"):
            vals = rng.uniform(0.5, 2.0, shape)
        arrays.append(np.asarray(vals).astype(dt))
    return arrays


@pytest.mark.parametrize("pid,fn,specs,expected", PROMOTION, ids=[p[0] for p in PROMOTION])
def test_type_promotion(pid, fn, specs, expected):
    args = tuple(Arg(s, dtype=d) for s, d in specs)
    e_in, t_in = build(args, _promotion_inputs(specs))
    e_out, t_out = fn(engine, *e_in), fn(torch, *t_in)
    assert dtype_name(t_out) == expected, "the table disagrees with torch"
    assert dtype_name(e_out) == expected
    assert tuple(e_out.shape) == tuple(t_out.shape)
    scale = "float32" if expected in ("float32", "int64", "bool") else "float64"
    assert_close(e_out, t_out, "float32" if scale == "float32" else "float64",
                 what="forward")
    if not t_out.requires_grad:
        assert not e_out.requires_grad
        return
    backward_both(e_out, t_out, 11)
    for i, (e, t) in enumerate(zip(e_in, t_in)):
        if t.grad is None:
            assert e.grad is None
            continue
        assert dtype_name(e.grad) == dtype_name(t.grad), f"input {i} gradient dtype"
        assert_close(e.grad, t.grad, "float32", what=f"gradient of input {i}")


@pytest.mark.parametrize("case", [c for c in CASES if c.id in ZERO_D_OUTPUT_CASES],
                         ids=lambda c: c.id)
def test_backward_0d_output_implicit_gradient(case):
    """The same 0-d-output ops with the implicit gradient of 1 (no explicit root grad)."""
    e_in, t_in, e_out, t_out = run(case, "float64")
    e_out.backward()
    t_out.backward()
    for e, t in zip(e_in, t_in):
        assert_close(e.grad, t.grad, "float64", what="gradient")


def test_explicit_0d_root_gradient_keeps_its_shape():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = x.sum()
    seen = []
    y.grad_fn.register_prehook(lambda grads: seen.append(tuple(grads[0].shape)))
    y.backward(engine.tensor(3.0))
    assert seen == [()]


# ---------------------------------------------------------------- one-off checks
def test_repeated_index_accumulates():
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad._data, [3.0, 0.0, 1.0])


def test_shared_input_gradients_add():
    x = engine.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    (x * x + x @ x).sum().backward()
    xt = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    (xt * xt + xt @ xt).sum().backward()
    np.testing.assert_allclose(x.grad._data, xt.grad.numpy(), rtol=1e-6)


def test_pow_zero_base_gradients_match_torch():
    """torch's edge choices for x**y at x == 0: zero where y >= 0, infinite below."""
    xs = np.array([0.0, 0.0, 2.0, 0.0, 0.0, -2.0])
    ys = np.array([2.0, 0.0, 0.0, 0.5, -1.0, 0.5])
    e_in, t_in = build((Arg((6,)), Arg((6,))), [xs, ys])
    backward_both(e_in[0] ** e_in[1], t_in[0] ** t_in[1], 3)
    for e, t in zip(e_in, t_in):
        np.testing.assert_array_equal(as_np(e.grad), t.grad.numpy())


def test_abs_and_relu_gradient_at_zero():
    for name in ("abs", "relu"):
        e = engine.tensor([0.0, -1.0, 2.0], requires_grad=True)
        t = torch.tensor([0.0, -1.0, 2.0], requires_grad=True)
        getattr(e, name)().sum().backward()
        getattr(t, name)().sum().backward()
        np.testing.assert_array_equal(e.grad._data, t.grad.numpy(), err_msg=name)


def test_sqrt_and_log_at_zero_follow_torch():
    e = engine.tensor([0.0, 4.0], dtype=engine.float64, requires_grad=True)
    t = torch.tensor([0.0, 4.0], dtype=torch.float64, requires_grad=True)
    (e.sqrt() + e.log()).sum().backward()
    (t.sqrt() + t.log()).sum().backward()
    np.testing.assert_array_equal(e.grad._data, t.grad.numpy())


@pytest.mark.parametrize("arg", ["weight", "pos_weight"])
def test_bce_refuses_weights_that_require_grad(arg):
    """torch has no derivative for weight/pos_weight: it refuses instead of dropping it."""
    messages = []
    for lib in (engine, torch):
        x = lib.zeros(2, 3, requires_grad=True)
        extra = {arg: lib.ones(3, requires_grad=True)}
        with pytest.raises(RuntimeError) as info:
            lib.nn.functional.binary_cross_entropy_with_logits(x, lib.ones(2, 3), **extra)
        messages.append(str(info.value))
        with lib.no_grad():  # outside grad mode nothing is recorded, so it is allowed
            lib.nn.functional.binary_cross_entropy_with_logits(x, lib.ones(2, 3), **extra)
    assert messages[0] == messages[1]


def _edge_grads(fn, values, dtype="float64"):
    """Gradients of fn at edge values, engine and torch (nan/inf included)."""
    e = engine.tensor(np.array(values, dtype), requires_grad=True)
    t = torch.tensor(np.array(values, dtype), requires_grad=True)
    e_out, t_out = fn(engine, e), fn(torch, t)
    np.testing.assert_array_equal(as_np(e_out), t_out.detach().numpy())
    e_out.sum().backward()
    t_out.sum().backward()
    return e.grad._data, t.grad.numpy()


@pytest.mark.parametrize("expr", [
    lambda lib, x: x ** 0.5,
    lambda lib, x: x ** -1.0,
    lambda lib, x: x ** 2,
    lambda lib, x: 0.0 ** x,
    lambda lib, x: (-2.0) ** x,
    lambda lib, x: x / 0.0,
    lambda lib, x: 1.0 / x,
    lambda lib, x: x.reciprocal(),
    lambda lib, x: x.sqrt(),
    lambda lib, x: x.log(),
], ids=["sqrt-pow", "inv-pow", "square", "zero-rpow", "neg-rpow", "div-by-zero", "rdiv",
        "reciprocal", "sqrt", "log"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_values_follow_torch(expr, dtype):
    """inf/nan gradients at 0 and at negative inputs are torch's, not an exception."""
    e, t = _edge_grads(expr, [0.0, 1.0, -1.0, 2.5, -0.5], dtype)
    np.testing.assert_array_equal(e, t)
