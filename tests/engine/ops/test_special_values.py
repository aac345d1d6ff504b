"""Special values against torch: inf/-inf/NaN through forward and backward, 0-size and 0-d
tensors, extreme magnitudes in the numerically delicate ops, integer inputs where floats are
expected, and non-contiguous (transposed, strided, expanded) inputs.

Every case is one expression ``fn(lib, *tensors)`` run with ``lib = engine`` and
``lib = torch`` on the same numpy arrays; outputs and leaf gradients are compared with NaN
equal to NaN.  When torch raises, the engine must raise too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import engine

INF, NAN = np.inf, np.nan
TOL = {np.dtype(np.float32): (1e-5, 1e-6), np.dtype(np.float64): (1e-12, 1e-12)}


def _np(t: Any) -> np.ndarray:
    return np.array(t.detach().numpy(), copy=True)


def _run(lib: Any, fn: Callable, arrays: list[np.ndarray], grad: bool,
         seed_grad: np.ndarray | None) -> tuple[np.ndarray, list]:
    leaves = [lib.tensor(a.copy(), requires_grad=grad and a.dtype.kind == "f")
              for a in arrays]
    res = fn(lib, *leaves)
    if not grad or not res.requires_grad:
        return _np(res), [None] * len(leaves)
    g = np.ones(tuple(res.shape), _np(res).dtype) if seed_grad is None else seed_grad
    res.backward(lib.tensor(g))
    return _np(res), [None if t.grad is None else _np(t.grad) for t in leaves]


def check(fn: Callable, *arrays: np.ndarray, grad: bool = True, rtol: float | None = None,
          seed_grad: np.ndarray | None = None) -> tuple[np.ndarray, list]:
    """Run ``fn`` in both libraries; values, dtypes and gradients must agree (NaN == NaN)."""
    arrays = [np.asarray(a) for a in arrays]
    try:
        want, want_g = _run(torch, fn, arrays, grad, seed_grad)
    except Exception as exc:  # noqa: BLE001 - torch refuses: so must the engine
        with pytest.raises(Exception) as info:  # noqa: B017, PT011
            _run(engine, fn, arrays, grad, seed_grad)
        assert type(info.value) in (type(exc), RuntimeError, TypeError, ValueError, IndexError)
        return None, []
    have, have_g = _run(engine, fn, arrays, grad, seed_grad)
    _same(have, want, "value", rtol)
    for i, (h, w) in enumerate(zip(have_g, want_g)):
        assert (h is None) == (w is None), f"grad {i}: engine {h}, torch {w}"
        if h is not None:
            _same(h, w, f"grad {i}", rtol)
    return have, have_g


def _same(have: np.ndarray, want: np.ndarray, what: str, rtol: float | None) -> None:
    assert have.shape == want.shape, f"{what}: shape {have.shape} vs torch {want.shape}"
    assert have.dtype == want.dtype, f"{what}: dtype {have.dtype} vs torch {want.dtype}"
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(have, want, err_msg=what)
        return
    r, a = TOL[want.dtype]
    # where both are non-finite they must be the same non-finite value
    np.testing.assert_array_equal(np.isnan(have), np.isnan(want), err_msg=f"{what}: NaN at")
    inf_w = np.isinf(want)
    np.testing.assert_array_equal(have[inf_w], want[inf_w], err_msg=f"{what}: inf")
    np.testing.assert_allclose(have, want, rtol=rtol or r, atol=a, equal_nan=True,
                               err_msg=what)


# ---------------------------------------------------------------- inf, -inf, NaN
SPECIAL = np.array([INF, -INF, NAN, 0.0, -0.0, 1.0, -2.5, 1e30, -1e30])

UNARY: dict[str, Callable] = {
    "neg": lambda lib, x: -x,
    "exp": lambda lib, x: x.exp(),
    "log": lambda lib, x: x.log(),
    "sqrt": lambda lib, x: x.sqrt(),
    "rsqrt": lambda lib, x: x.rsqrt(),
    "abs": lambda lib, x: x.abs(),
    "tanh": lambda lib, x: x.tanh(),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "relu": lambda lib, x: x.relu(),
    "reciprocal": lambda lib, x: x.reciprocal(),
    "sin": lambda lib, x: x.sin(),
    "cos": lambda lib, x: x.cos(),
    "square": lambda lib, x: x.square(),
    "log1p": lambda lib, x: x.log1p(),
    "expm1": lambda lib, x: x.expm1(),
    "clamp": lambda lib, x: x.clamp(-1.0, 1.0),
    "pow2": lambda lib, x: x ** 2,
    "pow_half": lambda lib, x: x ** 0.5,
    "pow_neg_half": lambda lib, x: x ** -0.5,
    "pow_1_5": lambda lib, x: x ** 1.5,
    "pow3": lambda lib, x: x ** 3,
    "pow_neg1": lambda lib, x: x ** -1,
    "pow_neg2": lambda lib, x: x ** -2,
    "pow_2_5": lambda lib, x: x ** 2.5,
    "rpow": lambda lib, x: 2.0 ** x,
    "scale": lambda lib, x: x * 3.0,
    "rdiv": lambda lib, x: 1.0 / x,
    "leaky_relu": lambda lib, x: lib.nn.functional.leaky_relu(x, 0.1),
    "gelu": lambda lib, x: lib.nn.functional.gelu(x),
    "gelu_tanh": lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda lib, x: lib.nn.functional.silu(x),
    "softplus": lambda lib, x: lib.nn.functional.softplus(x),
    "clone": lambda lib, x: x.clone(),
    "reshape": lambda lib, x: x.reshape(3, 3).T,
}

# Known differences from torch, each described in docs/reliability_engine.md.
UNARY_XFAIL: dict[str, str] = {}
# torch's float32 GELU kernels overflow: gelu(+inf) = NaN, NaN grads at +-3e38; the engine
# gives the float64 answers there, so these compare with torch run in float64
ORACLE_F64 = {"gelu", "gelu_tanh"}


def _names(table: dict, xfail: dict[str, str]) -> pytest.MarkDecorator:
    """Parametrize ``name`` over ``table``; the names in ``xfail`` are strict xfails."""
    return pytest.mark.parametrize("name", [
        pytest.param(n, marks=[pytest.mark.xfail(strict=True, reason=xfail[n])] if n in xfail
                     else []) for n in table])


FLOATS = pytest.mark.parametrize("dtype", ["float32", "float64"])


@FLOATS
@_names(UNARY, UNARY_XFAIL)
def test_unary_non_finite(name, dtype):
    x = SPECIAL.astype(dtype)
    if dtype == "float32":
        x = np.where(np.abs(x) == 1e30, np.float32(3e38) * np.sign(x), x).astype(dtype)
    if dtype == "float32" and name in ORACLE_F64:
        _check_against_f64(UNARY[name], x)
        return
    check(UNARY[name], x)


def _check_against_f64(fn: Callable, x: np.ndarray) -> None:
    have, have_g = _run(engine, fn, [x], True, None)
    want, want_g = _run(torch, fn, [x.astype(np.float64)], True, None)
    _same(have, want.astype(np.float32), "value", 1e-5)
    _same(have_g[0], want_g[0].astype(np.float32), "grad", 1e-5)


BINARY: dict[str, Callable] = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / b,
    "pow": lambda lib, a, b: a ** b,
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "minimum": lambda lib, a, b: lib.minimum(a, b),
    "where": lambda lib, a, b: lib.where(a > b, a, b),
    "matmul": lambda lib, a, b: a.reshape(9, 1) @ b.reshape(1, 9),
}
BINARY_XFAIL: dict[str, str] = {}


@_names(BINARY, BINARY_XFAIL)
def test_binary_non_finite(name):
    # every pair of special values, once as (a, b) with broadcasting: (9, 1) op (9,)
    a = np.repeat(SPECIAL[:, None], 1, axis=1)
    b = SPECIAL.copy()
    if name == "matmul":
        check(BINARY[name], SPECIAL, SPECIAL[::-1].copy())
    else:
        check(BINARY[name], a, b)


REDUCTIONS: dict[str, Callable] = {
    "sum": lambda lib, x: x.sum(dim=1),
    "mean": lambda lib, x: x.mean(dim=1),
    "sum_all": lambda lib, x: x.sum(),
    "amax": lambda lib, x: x.amax(dim=1),
    "amin": lambda lib, x: x.amin(dim=1),
    "max_dim": lambda lib, x: x.max(dim=1).values,
    "max_all": lambda lib, x: x.max(),
    "prod": lambda lib, x: x.prod(dim=1),
    "var": lambda lib, x: x.var(dim=1),
    "std": lambda lib, x: x.std(dim=1),
    "norm": lambda lib, x: x.norm(dim=1),
    "logsumexp": lambda lib, x: lib.logsumexp(x, dim=1),
    "softmax": lambda lib, x: lib.softmax(x, dim=1),
    "log_softmax": lambda lib, x: lib.log_softmax(x, dim=1),
    "cross_entropy": lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor([0, 1, 2, 0, 1, 2])),
}
# rows: all finite, one +inf, one -inf, one nan, +inf and -inf, all -inf
ROWS = np.array([[1.0, 2.0, 3.0], [1.0, INF, 3.0], [1.0, -INF, 3.0], [1.0, NAN, 3.0],
                 [INF, -INF, 0.0], [-INF, -INF, -INF]])
REDUCTION_XFAIL: dict[str, str] = {}


@FLOATS
@_names(REDUCTIONS, REDUCTION_XFAIL)
def test_reduction_non_finite(name, dtype):
    check(REDUCTIONS[name], ROWS.astype(dtype))


LOSSES: dict[str, Callable] = {
    "mse": lambda lib, x, t: lib.nn.functional.mse_loss(x, t),
    "l1": lambda lib, x, t: lib.nn.functional.l1_loss(x, t),
    "bce_logits": lambda lib, x, t: lib.nn.functional.binary_cross_entropy_with_logits(
        x, t, reduction="none"),
    "bce": lambda lib, x, t: lib.nn.functional.binary_cross_entropy(
        x.sigmoid(), t.clamp(0, 1), reduction="none"),
}
LOSS_XFAIL: dict[str, str] = {}


@_names(LOSSES, LOSS_XFAIL)
def test_loss_non_finite(name):
    x = SPECIAL.astype(np.float32)
    t = np.array([1.0, 0.0, 0.5, 1.0, 0.0, 0.5, 1.0, 0.0, 1.0], np.float32)
    check(LOSSES[name], x, t)


def test_nan_gradient_seed_propagates():
    """A NaN in the incoming gradient reaches exactly the leaves it flows to."""
    g = np.array([NAN, 1.0, 2.0])
    _, grads = check(lambda lib, a, b: a * 2 + b.sum(), np.ones(3), np.ones(3), seed_grad=g)
    assert np.isnan(grads[0][0]) and np.all(np.isfinite(grads[0][1:]))
    assert np.all(np.isnan(grads[1]))


# ---------------------------------------------------------------- 0-size tensors
EMPTY: dict[str, tuple[Callable, tuple]] = {
    "exp": (lambda lib, x: x.exp(), ((0,),)),
    "tanh_2x0": (lambda lib, x: x.tanh(), ((2, 0),)),
    "add_broadcast": (lambda lib, a, b: a + b, ((2, 0), (0,))),
    "mul_broadcast_1": (lambda lib, a, b: a * b, ((2, 0), (2, 1))),
    "sum": (lambda lib, x: x.sum(), ((0,),)),
    "sum_2x0": (lambda lib, x: x.sum(), ((2, 0),)),
    "mean": (lambda lib, x: x.mean(), ((0,),)),
    "mean_dim1": (lambda lib, x: x.mean(dim=1), ((2, 0),)),
    "sum_dim1": (lambda lib, x: x.sum(dim=1), ((2, 0),)),
    "sum_dim0": (lambda lib, x: x.sum(dim=0), ((2, 0),)),
    "prod": (lambda lib, x: x.prod(), ((0,),)),
    "norm": (lambda lib, x: x.norm(), ((2, 0),)),
    "logsumexp": (lambda lib, x: lib.logsumexp(x, dim=1), ((2, 0),)),
    "amax_raises": (lambda lib, x: x.amax(), ((0,),)),
    "max_raises": (lambda lib, x: x.max(), ((2, 0),)),
    "matmul_inner0": (lambda lib, a, b: a @ b, ((2, 0), (0, 3))),
    "matmul_outer0": (lambda lib, a, b: a @ b, ((0, 2), (2, 3))),
    "softmax": (lambda lib, x: lib.softmax(x, dim=1), ((2, 0),)),
    "softmax_dim0": (lambda lib, x: lib.softmax(x, dim=0), ((2, 0),)),
    "reshape": (lambda lib, x: x.reshape(0, 5), ((2, 0),)),
    "transpose": (lambda lib, x: x.T * 2, ((2, 0),)),
    "cat": (lambda lib, a, b: lib.cat([a, b], dim=1), ((2, 0), (2, 3))),
    "stack": (lambda lib, a, b: lib.stack([a, b]), ((2, 0), (2, 0))),
    "index_empty_slice": (lambda lib, x: x[1:1], ((3, 2),)),
    "expand": (lambda lib, x: x.expand(0, 3), ((1, 3),)),
    "mse": (lambda lib, a, b: lib.nn.functional.mse_loss(a, b), ((0,), (0,))),
    "bce_logits": (lambda lib, a, b: lib.nn.functional.binary_cross_entropy_with_logits(a, b),
                   ((0,), (0,))),
    "var": (lambda lib, x: x.var(), ((0,),)),
    "linear": (lambda lib, x, w: lib.nn.functional.linear(x, w), ((0, 3), (2, 3))),
}
EMPTY_XFAIL: dict[str, str] = {}


@FLOATS
@_names(EMPTY, EMPTY_XFAIL)
def test_zero_size(name, dtype):
    fn, shapes = EMPTY[name]
    arrays = [np.random.default_rng(1).uniform(-1, 1, s).astype(dtype) for s in shapes]
    check(fn, *arrays)


def test_empty_sum_is_zero_and_mean_is_nan():
    x = engine.zeros(0, requires_grad=True)
    s, m = x.sum(), x.mean()
    assert s.item() == 0.0 and np.isnan(m.item())
    (s + m).backward()
    assert x.grad.shape == (0,)


# ---------------------------------------------------------------- 0-d tensors
ZERO_D: dict[str, tuple[Callable, int]] = {  # name: (fn, number of 0-d operands)
    **{f"unary_{k}": (v, 1) for k, v in UNARY.items() if k != "reshape"},
    "add_with_matrix": (lambda lib, a, b: a + b.reshape(1, 1).expand(2, 3), 2),
    "mul": (lambda lib, a, b: a * b, 2),
    "div": (lambda lib, a, b: a / b, 2),
    "pow": (lambda lib, a, b: a.abs() ** b, 2),
    "maximum": (lambda lib, a, b: lib.maximum(a, b), 2),
    "sum": (lambda lib, x: x.sum(), 1),
    "sum_dim0": (lambda lib, x: x.sum(dim=0), 1),
    "mean_dim_keep": (lambda lib, x: x.mean(dim=-1, keepdim=True), 1),
    "amax": (lambda lib, x: x.amax(), 1),
    "max_dim": (lambda lib, x: x.max(dim=0).values, 1),
    "prod": (lambda lib, x: x.prod(), 1),
    "norm": (lambda lib, x: x.norm(), 1),
    "logsumexp": (lambda lib, x: lib.logsumexp(x, dim=0), 1),
    "softmax": (lambda lib, x: lib.softmax(x, dim=0), 1),
    "log_softmax": (lambda lib, x: lib.log_softmax(x, dim=-1), 1),
    "reshape": (lambda lib, x: x.reshape(1, 1), 1),
    "unsqueeze": (lambda lib, x: x.unsqueeze(0), 1),
    "expand": (lambda lib, x: x.expand(2, 3), 1),
    "view_back": (lambda lib, x: x.reshape(1).reshape(()), 1),
    "stack": (lambda lib, a, b: lib.stack([a, b * 2]), 2),
    "dot_then_stack": (lambda lib, a, b: lib.stack([a.reshape(1).dot(b.reshape(1))] * 2), 2),
    "mse": (lambda lib, a, b: lib.nn.functional.mse_loss(a, b), 2),
    "bce_logits": (lambda lib, a, b: lib.nn.functional.binary_cross_entropy_with_logits(
        a, b.sigmoid()), 2),
    "l1": (lambda lib, a, b: lib.nn.functional.l1_loss(a, b), 2),
    "where": (lambda lib, a, b: lib.where(a > b, a, b), 2),
    "clone_item": (lambda lib, x: x.clone() * x, 1),
}
ZERO_D_XFAIL: dict[str, str] = {}


@FLOATS
@_names(ZERO_D, ZERO_D_XFAIL)
def test_zero_d(name, dtype):
    fn, n = ZERO_D[name]
    arrays = [np.array(v, dtype) for v in (0.7, -1.3)[:n]]
    check(fn, *arrays)


# ---------------------------------------------------------------- extreme magnitudes
BIG = [1e4, -1e4, 88.0, -88.0, 89.0, -104.0, 1e30, -1e30, 0.0, 20.0, 30.0, -30.0]


def _logits(dtype: str) -> np.ndarray:
    return np.array(BIG, dtype)


EXTREME: dict[str, Callable] = {
    "bce_logits_target0": lambda lib, x: lib.nn.functional.binary_cross_entropy_with_logits(
        x, lib.zeros_like(x), reduction="none"),
    "bce_logits_target1": lambda lib, x: lib.nn.functional.binary_cross_entropy_with_logits(
        x, lib.ones_like(x), reduction="none"),
    "bce_logits_half_mean": lambda lib, x: lib.nn.functional.binary_cross_entropy_with_logits(
        x, lib.full_like(x, 0.5)),
    "log_softmax": lambda lib, x: lib.log_softmax(x, dim=0),
    "log_softmax_rows": lambda lib, x: lib.log_softmax(x.reshape(6, 2), dim=1),
    "softmax": lambda lib, x: lib.softmax(x, dim=0),
    "logsumexp": lambda lib, x: lib.logsumexp(x.reshape(4, 3), dim=1),
    "softplus": lambda lib, x: lib.nn.functional.softplus(x),
    "softplus_beta": lambda lib, x: lib.nn.functional.softplus(x, beta=2.0, threshold=5.0),
    "cross_entropy": lambda lib, x: lib.nn.functional.cross_entropy(
        x.reshape(4, 3), lib.tensor([0, 1, 2, 0])),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "tanh": lambda lib, x: x.tanh(),
    "silu": lambda lib, x: lib.nn.functional.silu(x),
    "gelu": lambda lib, x: lib.nn.functional.gelu(x),
    "bce_of_sigmoid": lambda lib, x: lib.nn.functional.binary_cross_entropy(
        x.sigmoid(), lib.full_like(x, 0.25), reduction="none"),
}
EXTREME_XFAIL: dict[str, str] = {}


@FLOATS
@_names(EXTREME, EXTREME_XFAIL)
def test_extreme_magnitudes(name, dtype):
    # float64 tolerance 1e-8: 1 - sigmoid(30) style cancellations differ in the last bits
    value, grads = check(EXTREME[name], _logits(dtype), rtol=1e-5 if dtype == "float32" else 1e-8)
    # where torch is finite, the engine is (check already compared inf/nan positions)
    assert value is not None and grads[0] is not None


@FLOATS
def test_bce_with_logits_stays_finite(dtype):
    """The issue's headline case, spelled out: huge logits give finite loss and grads."""
    x = engine.tensor(np.array([1e4, -1e4, 1e30, -1e30, 88.0, -88.0], dtype),
                      requires_grad=True)
    y = engine.tensor(np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0], dtype))
    loss = engine.nn.functional.binary_cross_entropy_with_logits(x, y)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad.numpy()))
    want = (np.array([1e4, 1e4, 1e30, 1e30, 88.0, 88.0]) / 6).astype(dtype)
    np.testing.assert_allclose(loss.item(), want.sum(), rtol=1e-6)


# ---------------------------------------------------------------- integer inputs
INT_OPS: dict[str, Callable] = {
    "exp": lambda lib, x: lib.exp(x),
    "log": lambda lib, x: lib.log(x),
    "sqrt": lambda lib, x: x.sqrt(),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "tanh": lambda lib, x: x.tanh(),
    "sin": lambda lib, x: x.sin(),
    "reciprocal": lambda lib, x: x.reciprocal(),
    "rsqrt": lambda lib, x: x.rsqrt(),
    "abs": lambda lib, x: x.abs(),
    "neg": lambda lib, x: -x,
    "relu": lambda lib, x: x.relu(),
    "square": lambda lib, x: x.square(),
    "sum": lambda lib, x: x.sum(),
    "prod": lambda lib, x: x.prod(),
    "mean_raises": lambda lib, x: x.mean(),
    "amax": lambda lib, x: x.amax(),
    "div_int": lambda lib, x: x / x,
    "add_float_scalar": lambda lib, x: x + 0.5,
    "mul_int_scalar": lambda lib, x: x * 3,
    "pow_int": lambda lib, x: x ** 2,
    "pow_float": lambda lib, x: x ** 0.5,
    "matmul": lambda lib, x: x.reshape(2, 2) @ x.reshape(2, 2),
    "softmax": lambda lib, x: lib.softmax(x, dim=0),
    "log_softmax": lambda lib, x: lib.log_softmax(x, dim=0),
    "logsumexp": lambda lib, x: lib.logsumexp(x, dim=0),
    "norm": lambda lib, x: x.norm(),
    "var": lambda lib, x: x.var(),
    "clamp": lambda lib, x: x.clamp(1, 2),
    "maximum": lambda lib, x: lib.maximum(x, 5 - x),
    "gelu": lambda lib, x: lib.nn.functional.gelu(x),
    "softplus": lambda lib, x: lib.nn.functional.softplus(x),
    "mse": lambda lib, x: lib.nn.functional.mse_loss(x, x),
    "bce_logits": lambda lib, x: lib.nn.functional.binary_cross_entropy_with_logits(x, x),
    "cat_with_float": lambda lib, x: lib.cat([x, lib.ones(2)]),
}
INT_XFAIL: dict[str, str] = {}


@_names(INT_OPS, INT_XFAIL)
def test_int_inputs(name):
    check(INT_OPS[name], np.array([1, 2, 3, 4], np.int64), grad=False)


def test_exp_of_int_is_float32():
    y = engine.exp(engine.tensor([0, 1, 2]))
    assert y.dtype == engine.float32
    np.testing.assert_allclose(y.numpy(), np.exp([0, 1, 2]).astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: engine.tensor([1, 2], requires_grad=True),
    lambda: engine.tensor([1, 2]).requires_grad_(),
    lambda: setattr(engine.tensor([True, False]), "requires_grad", True),
    lambda: engine.ones(2, dtype=engine.int64, requires_grad=True),
])
def test_requires_grad_on_int_raises(make):
    with pytest.raises(RuntimeError, match="floating point"):
        make()


# ---------------------------------------------------------------- non-contiguous inputs
VIEWS: dict[str, Callable] = {  # a (4, 6) leaf -> a non-contiguous operand
    "T": lambda x: x.T,                           # (6, 4)
    "step": lambda x: x[:, ::2],                  # (4, 3)
    "rev_rows": lambda x: x[1::2].T,              # (6, 2)
    "expand": lambda x: x[:, :1].expand(4, 5),    # (4, 5), stride 0
    "permute3": lambda x: x.reshape(2, 2, 6).permute(2, 0, 1)[:, 1],  # (6, 2)
}
VIEW_OPS: dict[str, Callable] = {
    "exp": lambda lib, v: v.exp(),
    "sigmoid": lambda lib, v: v.sigmoid(),
    "gelu": lambda lib, v: lib.nn.functional.gelu(v),
    "softplus": lambda lib, v: lib.nn.functional.softplus(v),
    "silu": lambda lib, v: lib.nn.functional.silu(v),
    "leaky_relu": lambda lib, v: lib.nn.functional.leaky_relu(v, 0.2),
    "clamp": lambda lib, v: v.clamp(-0.5, 0.5),
    "square": lambda lib, v: v.square(),
    "add_self_T": lambda lib, v: v + v[:1],
    "mul_bcast": lambda lib, v: v * v[:, :1],
    "maximum": lambda lib, v: lib.maximum(v, v * 0.5),
    "sum_dim0": lambda lib, v: v.sum(dim=0),
    "mean_dim1": lambda lib, v: v.mean(dim=1),
    "amax": lambda lib, v: v.amax(dim=1),
    "max_dim": lambda lib, v: v.max(dim=0).values,
    "prod": lambda lib, v: v.prod(dim=1),
    "var": lambda lib, v: v.var(dim=0),
    "std": lambda lib, v: v.std(dim=1),
    "norm": lambda lib, v: v.norm(dim=1),
    "logsumexp": lambda lib, v: lib.logsumexp(v, dim=1),
    "softmax": lambda lib, v: lib.softmax(v, dim=1),
    "log_softmax0": lambda lib, v: lib.log_softmax(v, dim=0),
    "matmul_left": lambda lib, v: v @ v.T,
    "matmul_right": lambda lib, v: v.T @ v,
    "mv": lambda lib, v: v @ v[0],
    "linear": lambda lib, v: lib.nn.functional.linear(v, v, v[:, 0]),
    "mse": lambda lib, v: lib.nn.functional.mse_loss(v, v.detach() * 0.5),
    "l1": lambda lib, v: lib.nn.functional.l1_loss(v, v.detach() * 0.5),
    "bce_logits": lambda lib, v: lib.nn.functional.binary_cross_entropy_with_logits(
        v, v.detach().sigmoid()),
    "bce": lambda lib, v: lib.nn.functional.binary_cross_entropy(
        v.sigmoid(), v.detach().tanh().abs()),
    "cross_entropy": lambda lib, v: lib.nn.functional.cross_entropy(
        v, lib.zeros(v.shape[0], dtype=lib.int64)),
    "cat": lambda lib, v: lib.cat([v, v * 2], dim=1),
    "stack": lambda lib, v: lib.stack([v, v], dim=2),
    "reshape": lambda lib, v: v.reshape(-1),
    "gather": lambda lib, v: v.gather(1, lib.zeros(v.shape[0], 1, dtype=lib.int64)),
    "repeat": lambda lib, v: v.repeat(2, 1),
    "index": lambda lib, v: v[[0, 0, 1]],
    "where": lambda lib, v: lib.where(v > 0, v, v * v),
}
VIEW_XFAIL: dict[str, str] = {}


@pytest.mark.parametrize("view", sorted(VIEWS))
@_names(VIEW_OPS, VIEW_XFAIL)
def test_non_contiguous_inputs(name, view):
    x = np.random.default_rng(3).uniform(-1.5, 1.5, (4, 6)).astype(np.float32)
    check(lambda lib, leaf: VIEW_OPS[name](lib, VIEWS[view](leaf)), x, rtol=2e-5)


@pytest.mark.parametrize("view", ["T", "step"])
def test_non_contiguous_numpy_leaf(view):
    """A leaf made from a strided numpy array (from_numpy shares it) trains like torch."""
    base = np.random.default_rng(4).standard_normal((4, 6))
    arr = base.T if view == "T" else base[:, ::2]
    e = engine.from_numpy(arr).requires_grad_()
    t = torch.from_numpy(arr).requires_grad_()
    for lib, leaf in ((engine, e), (torch, t)):
        (lib.softmax(leaf @ leaf.T, dim=1) * leaf.sum(1, keepdim=True)).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@FLOATS
def test_clamp_passes_gradient_at_its_own_bound(dtype):
    """A value already clamped to a bound sits exactly on it (in its dtype): clamping it
    again passes the gradient, as torch does (found by tools/fuzz.py)."""
    _, grads = check(lambda lib, x: x.clamp(min=-0.3).clamp(min=-0.3, max=0.7).clamp(max=0.7),
                     np.array([-1.8, -0.3, 0.1, 0.7, 2.0], dtype))
    np.testing.assert_array_equal(grads[0], np.array([0, 1, 1, 1, 0], dtype))


# ---------------------------------------------------------------- edge cases of single ops
def _r(*shape: int) -> np.ndarray:
    return np.random.default_rng(sum(shape) + len(shape)).uniform(0, 1, shape)


# (the cases marked "fixed" failed before this test file: see docs/reliability_engine.md)
def _f(lib: Any) -> Any:
    return lib.nn.functional


def _t(lib: Any, values: list) -> Any:
    """A float64 constant (class weights, targets) in ``lib``."""
    return lib.tensor(values, dtype=lib.float64)


IGNORED = [-100, -100]
EDGE: dict[str, tuple[Callable, list]] = {
    # cross-entropy / nll variants
    "ce_empty_batch": (lambda lib, x: _f(lib).cross_entropy(x, lib.zeros(0, dtype=lib.int64)),
                       [np.zeros((0, 3))]),
    "ce_ignore_index": (lambda lib, x: _f(lib).cross_entropy(x, lib.tensor([0, -100, 2])),
                        [_r(3, 3)]),
    "ce_all_ignored": (lambda lib, x: _f(lib).cross_entropy(x, lib.tensor(IGNORED)),
                       [_r(2, 3)]),  # fixed: grad was NaN (0/0), torch gives 0
    "ce_weight": (lambda lib, x: _f(lib).cross_entropy(x, lib.tensor([0, 1, 2]),
                                                       weight=_t(lib, [1.0, 2.0, 3.0])),
                  [_r(3, 3)]),
    "ce_label_smoothing": (lambda lib, x: _f(lib).cross_entropy(
        x, lib.tensor([0, 1, 2]), label_smoothing=0.1), [_r(3, 3)]),
    "ce_3d": (lambda lib, x: _f(lib).cross_entropy(x, lib.tensor([[0, 1], [2, 0]])),
              [_r(2, 3, 2)]),
    "ce_1d": (lambda lib, x: _f(lib).cross_entropy(x, lib.tensor(1)), [_r(3)]),
    "ce_probabilities": (lambda lib, x: _f(lib).cross_entropy(x, x.detach().softmax(1)),
                         [_r(3, 3)]),
    "nll_sum": (lambda lib, x: _f(lib).nll_loss(x, lib.tensor([0, 1, 2]), reduction="sum"),
                [_r(3, 3)]),
    # reductions
    "logsumexp_empty": (lambda lib, x: lib.logsumexp(x, dim=1), [np.zeros((2, 0))]),
    "logsumexp_inf": (lambda lib, x: lib.logsumexp(x, dim=0), [np.array([INF, INF])]),
    "logsumexp_two_dims": (lambda lib, x: lib.logsumexp(x, dim=(0, 2)), [_r(2, 3, 2)]),
    "prod_two_zeros": (lambda lib, x: x.prod(), [np.array([0.0, 2.0, 0.0, 3.0])]),
    "prod_one_zero": (lambda lib, x: x.prod(dim=1), [np.array([[0.0, 2.0], [3.0, 4.0]])]),
    "norm_inf": (lambda lib, x: x.norm(p=float("inf")), [np.array([1.0, -3.0, 3.0])]),
    "norm_1_at_zero": (lambda lib, x: x.norm(p=1), [np.array([0.0, -3.0, 3.0])]),
    "norm_2_of_zeros": (lambda lib, x: x.norm(), [np.zeros(3)]),
    "norm_3": (lambda lib, x: x.norm(p=3, dim=0), [_r(3, 2) - 0.5]),
    "norm_0": (lambda lib, x: x.norm(p=0) + x.sum(), [_r(3, 2) - 0.5]),  # fixed: no grad
    "norm_half": (lambda lib, x: x.norm(p=0.5), [np.array([0.0, 1.0, 2.0])]),
    "var_correction_0": (lambda lib, x: x.var(dim=1, correction=0), [_r(3, 4)]),
    "std_of_constant": (lambda lib, x: x.std(), [np.ones(4)]),
    "var_single": (lambda lib, x: x.var(dim=1), [_r(3, 1)]),
    "amax_two_dims_tied": (lambda lib, x: x.amax(dim=(0, 1)),
                           [np.array([[1.0, 3.0], [3.0, 0.0]])]),
    "min_dim_tied": (lambda lib, x: x.min(dim=1).values, [np.array([[1.0, 1.0], [3.0, 0.0]])]),
    # joins and indexing
    "gather_repeated": (lambda lib, x: x.gather(1, lib.tensor([[0, 0, 1], [2, 2, 2]])),
                        [_r(2, 3)]),
    "gather_0d": (lambda lib, x: x.gather(0, lib.tensor([0, 0])),
                  [np.array(2.0)]),  # fixed: IndexError on a 0-d input
    "split_unused_piece": (lambda lib, x: x.split(2)[1] * 3, [_r(5)]),
    "chunk": (lambda lib, x: x.chunk(3, dim=1)[2].exp(), [_r(2, 7)]),
    "unbind": (lambda lib, x: x.unbind(1)[0] + x.unbind(1)[2], [_r(2, 3)]),
    "repeat_more_dims": (lambda lib, x: x.repeat(2, 1, 3), [_r(2, 3)]),
    "repeat_0d": (lambda lib, x: x.repeat(3), [np.array(1.5)]),
    "cat_legacy_empty": (lambda lib, x: lib.cat([x, lib.zeros(0, dtype=lib.float64)]),
                         [_r(2, 3)]),
    "cat_mixed_dtype": (lambda lib, x: lib.cat([x, x.float()]), [_r(2, 3)]),
    "stack_negative_dim": (lambda lib, x: lib.stack([x, x * 2], dim=-1), [_r(2, 3)]),
    # elementwise with ties and NaN
    "maximum_ties": (lambda lib, x: lib.maximum(x, x.detach()), [_r(3)]),
    "maximum_nan": (lambda lib, x: lib.maximum(x, _t(lib, [NAN, 1.0, 2.0])), [_r(3)]),
    "where_scalar": (lambda lib, x: lib.where(x > 0.5, x, 0.0), [_r(4)]),
    "where_broadcast": (lambda lib, x: lib.where(x > 0.5, x, x[:1]), [_r(3, 4)]),
    "clamp_int_bounds": (lambda lib, x: x.clamp(0, 1), [np.array([-1.0, 0.5, 2.0])]),
    "rsqrt_at_zero": (lambda lib, x: x.rsqrt(), [np.array([0.0, -0.0, 4.0])]),
    "log1p_at_minus_one": (lambda lib, x: x.log1p(), [np.array([-1.0, -2.0, 4.0])]),
    "sin_inf": (lambda lib, x: x.sin(), [np.array([INF])]),
    # layers and activations
    "addmm": (lambda lib, x: lib.addmm(x[0], x, x.T), [_r(3, 3)]),
    "linear_3d": (lambda lib, x: _f(lib).linear(x, x[0]), [_r(2, 3, 3)]),
    "linear_1d": (lambda lib, x: _f(lib).linear(x[0, 0], x[0], x[0, 0]), [_r(2, 3, 3)]),
    "softmax_all_neg_inf": (lambda lib, x: lib.softmax(x, dim=1),
                            [np.array([[-INF, -INF], [0.0, -INF]])]),
    "log_softmax_neg_inf": (lambda lib, x: lib.log_softmax(x, dim=1), [np.array([[0.0, -INF]])]),
    "softmax_dtype": (lambda lib, x: lib.softmax(x, dim=0, dtype=lib.float64),
                      [_r(3).astype(np.float32)]),
    "leaky_relu_negative_slope": (lambda lib, x: _f(lib).leaky_relu(x, -0.5),
                                  [np.array([0.0, 1.0, -1.0])]),
    "gelu_tanh_at_zero": (lambda lib, x: _f(lib).gelu(x, approximate="tanh"),
                          [np.array([0.0, 1.0, -1.0])]),
    "softplus_negative_beta": (lambda lib, x: _f(lib).softplus(x, beta=-1.0),
                               [np.array([0.0, 30.0, -30.0])]),
    "silu_inplace": (lambda lib, x: _f(lib).silu(x * 1, inplace=True),
                     [np.array([0.0, 30.0, -30.0])]),
    "dropout_eval": (lambda lib, x: _f(lib).dropout(x, 0.5, training=False), [_r(3)]),
    "dropout_p0": (lambda lib, x: _f(lib).dropout(x, 0.0), [_r(3)]),
    "dropout_p1": (lambda lib, x: _f(lib).dropout(x, 1.0), [_r(3)]),
    # losses
    "bce_weight": (lambda lib, x: _f(lib).binary_cross_entropy(
        x.sigmoid(), lib.full_like(x, 0.3), weight=_t(lib, [1.0, 2.0, 3.0])), [_r(2, 3)]),
    "bce_at_exact_0_and_1": (lambda lib, x: _f(lib).binary_cross_entropy(
        x, _t(lib, [1.0, 0.0, 1.0])), [np.array([0.0, 1.0, 1.0])]),  # fixed: eps
    "bce_logits_pos_weight": (lambda lib, x: _f(lib).binary_cross_entropy_with_logits(
        x, lib.full_like(x, 0.3), pos_weight=_t(lib, [1.0, 2.0, 3.0])), [_r(2, 3)]),
    "mse_broadcast_target": (lambda lib, x: _f(lib).mse_loss(x, x[:1].detach()), [_r(2, 3)]),
    "l1_sum_at_zero": (lambda lib, x: _f(lib).l1_loss(x, x.detach() * 0, reduction="sum"),
                       [np.array([0.0, 1.0, -1.0])]),
}


@pytest.mark.parametrize("name", sorted(EDGE))
def test_edge_cases(name):
    fn, arrays = EDGE[name]
    check(fn, *arrays)


# ---------------------------------------------------------------- no numpy warnings leak
# torch computes inf - inf, 0 / 0 or the mean of nothing silently; numpy warns.  The engine
# should not print numpy's RuntimeWarnings at its users.
NUMPY_WARNING = ("numpy RuntimeWarning escapes: the numpy call in {} is not wrapped in "
                 "np.errstate, while torch computes the same value silently")
QUIET: dict[str, tuple[Callable, str | None]] = {
    "mean_of_empty": (lambda: engine.zeros(0).mean(), None),
    "sum_inf_minus_inf": (lambda: engine.tensor([INF, -INF]).sum(), None),
    "sub_inf": (lambda: engine.tensor([INF]) - engine.tensor([INF]), None),
    "dot_inf_zero": (lambda: engine.tensor([INF, 1.0]).dot(engine.tensor([0.0, 1.0])), None),
    "bce_logits_inf": (lambda: engine.nn.functional.binary_cross_entropy_with_logits(
        engine.tensor([INF, -INF]), engine.tensor([0.5, 0.5])), None),
    "mse_empty": (lambda: engine.nn.functional.mse_loss(engine.zeros(0), engine.zeros(0)), None),
    "mse_inf": (lambda: engine.nn.functional.mse_loss(engine.tensor([INF]),
                                                      engine.tensor([INF])), None),
    "log_softmax_all_neg_inf": (lambda: engine.log_softmax(engine.tensor([-INF, -INF]), 0),
                                None),
    "var_with_inf": (lambda: engine.tensor([INF, 1.0]).var(), None),
    "prod_inf_zero": (lambda: engine.tensor([INF, 0.0]).prod(), None),
    "gelu_tanh_inf": (lambda: engine.nn.functional.gelu(engine.tensor([INF, -INF]),
                                                        approximate="tanh"), None),
    "silu_inf": (lambda: engine.nn.functional.silu(engine.tensor([-INF])), None),
    "softmax_empty": (lambda: engine.softmax(engine.zeros(2, 0), 1), None),
}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=[] if where is None else [
        pytest.mark.xfail(strict=True, reason=NUMPY_WARNING.format(where))])
    for n, (_, where) in QUIET.items()])
def test_no_numpy_warnings(name):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        QUIET[name][0]()


@pytest.mark.parametrize("name", ["abs", "relu", "pow_half", "pow_neg_half", "pow3"])
def test_create_graph_gradient_at_special_values_matches_torch(name):
    """The differentiable backward formulas (create_graph) agree with torch at inf/NaN/-0."""
    x = SPECIAL.astype(np.float64)
    grads = []
    for lib in (engine, torch):
        t = lib.tensor(x.copy(), requires_grad=True)
        (g,) = lib.autograd.grad(UNARY[name](lib, t).sum(), t, create_graph=True)
        grads.append(_np(g))
    _same(grads[0], grads[1], "grad", None)
