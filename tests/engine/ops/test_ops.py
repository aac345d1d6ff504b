"""Every op in op_cases.CASES and op_cases.TORCH_CASES against torch, in float32 and float64.

For each case and dtype: forward values, shape and dtype; the gradient of every
input for a random upstream gradient; the grad_fn name and its next_functions chain.
A separate table checks torch's type promotion rules, gradients included.  The later
ops (issue 3's ``TORCH_CASES``) also get finite-difference gradchecks in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import engine
from engine.autograd import gradcheck
from tests.engine._support.op_cases import (
    CASES,
    TORCH_CASES,
    TORCH_ERRORS,
    ZERO_D_OUTPUT_CASES,
    Arg,
    Case,
    make_inputs,
    nnf,
    render_chain,
    torch_case_inputs,
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


# ---------------------------------------------------------------- the later ops (issue 3)
ORACLE_DTYPES = {"float32": (engine.float32, torch.float32, 2e-4, 1e-5),
                 "float64": (engine.float64, torch.float64, 1e-9, 1e-11)}



def _tuple(res: Any) -> tuple:
    return tuple(res) if isinstance(res, (tuple, list)) else (res,)


@pytest.mark.parametrize("dt", list(ORACLE_DTYPES))
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
def test_matches_torch(case: Case, dt: str) -> None:
    edt, tdt, rtol, atol = ORACLE_DTYPES[dt]
    rtol, atol = rtol * case.tol, atol * case.tol
    arrays = torch_case_inputs(case)
    ex = [engine.tensor(a, dtype=edt, requires_grad=True) for a in arrays]
    tx = [torch.tensor(a, dtype=tdt, requires_grad=True) for a in arrays]
    eo, to = _tuple(case.fn(engine, *ex)), _tuple(case.fn(torch, *tx))
    assert len(eo) == len(to)
    for e, t in zip(eo, to):
        assert e.dtype.name == str(t.dtype).removeprefix("torch.")
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=rtol,
                                   atol=atol)
    if case.grad_fn is not None:
        assert type(to[0].grad_fn).__name__ == case.grad_fn  # the table is right
        assert eo[0].grad_fn.name() == case.grad_fn
    rng = np.random.default_rng(7)
    seeds = [rng.standard_normal(t.shape) for t in to]
    engine.autograd.backward(list(eo), [engine.tensor(s, dtype=edt) for s in seeds])
    torch.autograd.backward(list(to), [torch.tensor(s, dtype=tdt) for s in seeds])
    for e, t in zip(ex, tx):
        assert (e.grad is None) == (t.grad is None)
        if t.grad is not None:
            assert e.grad.dtype == edt
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", [c for c in TORCH_CASES if c.gradcheck], ids=lambda c: c.id)
def test_gradcheck(case: Case) -> None:
    xs = [engine.tensor(a, dtype=engine.float64, requires_grad=True)
          for a in torch_case_inputs(case)]

    def fn(*args: Any) -> Any:
        return case.fn(engine, *args)

    assert gradcheck(fn, xs, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_split_is_one_node_with_many_outputs() -> None:
    x = engine.randn(5, 2, requires_grad=True)
    parts = x.split(2)
    assert [p.shape[0] for p in parts] == [2, 2, 1]
    assert all(p.grad_fn is parts[0].grad_fn for p in parts)
    assert parts[0].grad_fn.num_outputs == 3
    assert [p._output_nr for p in parts] == [0, 1, 2]
    (parts[2] * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0]] * 4 + [[3, 3]])


def test_max_dim_returns_values_and_indices() -> None:
    a = np.array([[1.0, 5.0, 5.0], [7.0, 2.0, 7.0]])
    res = engine.tensor(a).max(dim=1)
    ref = torch.tensor(a).max(dim=1)
    assert res.values.tolist() == ref.values.tolist()
    assert res.indices.tolist() == ref.indices.tolist()
    assert res.indices.dtype == engine.int64
    vals, idx = engine.tensor(a).min(0, keepdim=True)
    assert idx.tolist() == torch.tensor(a).min(0, keepdim=True).indices.tolist()


def test_argmax_argmin() -> None:
    a = np.array([[1.0, 5.0, 2.0], [7.0, 2.0, 0.0]])
    e, t = engine.tensor(a), torch.tensor(a)
    assert e.argmax().item() == t.argmax().item()
    assert e.argmax(1).tolist() == t.argmax(1).tolist()
    assert e.argmin(0, keepdim=True).tolist() == t.argmin(0, keepdim=True).tolist()
    assert engine.argmax(e, dim=0).grad_fn is None


def test_max_of_two_tensors_is_maximum() -> None:
    x, y = engine.tensor([1.0, 4.0], requires_grad=True), engine.tensor([2.0, 3.0])
    assert engine.max(x, y).grad_fn.name() == "MaximumBackward0"


def test_dropout_train_and_eval() -> None:
    engine.manual_seed(0)
    x = engine.ones(1000, dtype=engine.float64, requires_grad=True)
    y = engine.nn.functional.dropout(x, p=0.25)
    assert y.grad_fn.name() == "MulBackward0"
    kept = y.detach().numpy() != 0
    assert 0.65 < kept.mean() < 0.85
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())
    assert engine.nn.functional.dropout(x, 0.5, training=False) is x
    assert (engine.nn.functional.dropout(x, 1.0).detach().numpy() == 0).all()
    engine.manual_seed(0)
    again = engine.nn.functional.dropout(x, p=0.25)
    np.testing.assert_array_equal(again.detach().numpy(), y.detach().numpy())


@pytest.mark.parametrize("name", sorted(TORCH_ERRORS))
def test_errors_match_torch_wording(name: str) -> None:
    with pytest.raises(Exception) as want:
        TORCH_ERRORS[name](torch)
    with pytest.raises(type(want.value)) as got:
        TORCH_ERRORS[name](engine)
    assert str(got.value) == str(want.value)


def test_no_graph_under_no_grad() -> None:
    x = engine.randn(3, 4, requires_grad=True)
    with engine.no_grad():
        for case in TORCH_CASES[:10]:
            assert _tuple(case.fn(engine, *[x] * len(case.shapes)))[0].grad_fn is None


def test_int_inputs_follow_torch_dtypes() -> None:
    i = np.array([[1, 5, 2], [3, 0, 4]])
    for fn in (lambda lib, t: t.prod(), lambda lib, t: t.max(), lambda lib, t: lib.cat([t, t]),
               lambda lib, t: t.repeat(2, 1), lambda lib, t: t.clamp(1, 3)):
        e, t = fn(engine, engine.tensor(i)), fn(torch, torch.tensor(i))
        assert e.tolist() == t.tolist()
        assert e.dtype.name == str(t.dtype).removeprefix("torch.")


def test_new_kernels_are_registered_and_compile_for_both_dtypes() -> None:
    from engine import warmup
    from engine.kernels import REGISTRY

    groups = {"activation", "reduce_more", "loss_more", "optim"}
    mine = [k for k in REGISTRY if k.group in groups]
    assert {k.group for k in mine} == groups
    names = {k.name for k in mine}
    assert {"softmax_bwd", "log_softmax_bwd", "amax_bwd", "prod_bwd", "sgd_step",
            "adam_step", "pick_rows_bwd", "gelu_fwd", "gelu_bwd"} <= names
    for k in mine:
        for dtype in (np.float32, np.float64):
            warmup._compile(k, dtype)


def test_zero_dim_inputs() -> None:
    for fn in (lambda lib, x: x.max(), lambda lib, x: x.prod(), lambda lib, x: x.norm(),
               lambda lib, x: x.logsumexp(0), lambda lib, x: nnf(lib).softmax(x, 0),
               lambda lib, x: x.amax(), lambda lib, x: x.clamp(0, 1)):
        e = engine.tensor(0.5, dtype=engine.float64, requires_grad=True)
        t = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        eo, to = fn(engine, e), fn(torch, t)
        assert eo.shape == tuple(to.shape)
        np.testing.assert_allclose(eo.item(), to.item())
        eo.backward()
        to.backward()
        np.testing.assert_allclose(e.grad.item(), t.grad.item())


def test_import_engine_loads_no_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, engine, engine.nn, engine.optim; "
            "engine.nn.Linear(2, 2); print('torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["maximum", "cat", "stack", "where"])
def test_mixed_dtypes_promote_and_grads_keep_input_dtypes(name: str) -> None:
    fns = {"maximum": lambda lib, x, y: lib.maximum(x, y),
           "cat": lambda lib, x, y: lib.cat([x, y]),
           "stack": lambda lib, x, y: lib.stack([x, y]),
           "where": lambda lib, x, y: lib.where(x > 0, x, y)}
    a, b = np.random.default_rng(5).standard_normal((2, 3))
    ex = (engine.tensor(a, dtype=engine.float32, requires_grad=True),
          engine.tensor(b, dtype=engine.float64, requires_grad=True))
    tx = (torch.tensor(a, dtype=torch.float32, requires_grad=True),
          torch.tensor(b, dtype=torch.float64, requires_grad=True))
    eo, to = fns[name](engine, *ex), fns[name](torch, *tx)
    assert eo.dtype == engine.float64 and to.dtype == torch.float64
    (eo * eo).sum().backward()
    (to * to).sum().backward()
    for e, t in zip(ex, tx):
        assert e.grad.dtype.name == str(t.grad.dtype).removeprefix("torch.")
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-6)
