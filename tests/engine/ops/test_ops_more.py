"""Issue 3's extra ops against torch: values, gradients and grad_fn names in float32 and
float64, plus finite-difference gradchecks in float64.

Each case is written once as ``fn(lib, *tensors)`` and run with ``lib`` = engine and
``lib`` = torch, so both sides evaluate the same expression.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

import engine
from engine.autograd import gradcheck

DOMAINS: dict[str, Callable[[np.random.Generator, tuple], np.ndarray]] = {
    "real": lambda r, s: r.uniform(-2.0, 2.0, s),
    "pos": lambda r, s: r.uniform(0.5, 2.0, s),
    "unit": lambda r, s: r.uniform(0.05, 0.95, s),
    # well separated values: no ties, no kinks within gradcheck's step
    "spread": lambda r, s: (r.permutation(int(np.prod(s))).reshape(s) - 3.3) * 0.37,
}
IDX = np.array([[0, 2], [1, 1], [3, 0]])  # gather index for a (3, 4) input, with a repeat
TARGET = np.array([0, 3, 1, 2, 3])


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable[..., Any]
    shapes: tuple[tuple[int, ...], ...]
    grad_fn: str | None
    domain: str = "real"
    fixed: tuple[Any, ...] | None = None  # explicit float inputs instead of random ones
    gradcheck: bool = True
    tol: float = 1.0
    extra: dict = field(default_factory=dict)


def nnf(lib: Any) -> Any:
    return lib.nn.functional


CASES = [
    # elementwise
    Case("sin", lambda lib, x: lib.sin(x), ((3, 4),), "SinBackward0"),
    Case("cos", lambda lib, x: x.cos(), ((3, 4),), "CosBackward0"),
    Case("log1p", lambda lib, x: lib.log1p(x), ((3, 4),), "Log1PBackward0", domain="pos"),
    Case("expm1", lambda lib, x: x.expm1(), ((3, 4),), "Expm1Backward0"),
    Case("rsqrt", lambda lib, x: lib.rsqrt(x), ((3, 4),), "RsqrtBackward0", domain="pos"),
    Case("square", lambda lib, x: lib.square(x), ((3, 4),), "PowBackward0"),
    Case("clamp", lambda lib, x: x.clamp(-0.5, 0.7), ((3, 4),), "ClampBackward1",
         domain="spread"),
    Case("clamp_min", lambda lib, x: lib.clamp(x, min=0.1), ((3, 4),), "ClampBackward1",
         domain="spread"),
    Case("clamp_max", lambda lib, x: x.clamp(max=0.1), ((3, 4),), "ClampBackward1",
         domain="spread"),
    Case("maximum", lambda lib, x, y: lib.maximum(x, y), ((3, 4), (4,)), "MaximumBackward0"),
    Case("minimum", lambda lib, x, y: lib.minimum(x, y), ((3, 1), (4,)), "MinimumBackward0"),
    Case("maximum_ties", lambda lib, x, y: lib.maximum(x, y), (), "MaximumBackward0",
         fixed=([1.0, 2.0, 3.0], [1.0, 5.0, 0.0]), gradcheck=False),
    Case("minimum_ties", lambda lib, x, y: lib.minimum(x, y), (), "MinimumBackward0",
         fixed=([1.0, 2.0, 3.0], [1.0, 5.0, 0.0]), gradcheck=False),
    Case("where", lambda lib, x, y: lib.where(x > 0, x, y), ((3, 4), (4,)), "WhereBackward0"),
    Case("where_scalar", lambda lib, x: lib.where(x > 0, x, 0.0), ((3, 4),), "WhereBackward0",
         domain="spread"),
    # activations
    Case("leaky_relu", lambda lib, x: nnf(lib).leaky_relu(x, 0.2), ((3, 4),), "LeakyReluBackward0",
         domain="spread"),
    Case("gelu", lambda lib, x: nnf(lib).gelu(x), ((3, 4),), "GeluBackward0"),
    Case("gelu_tanh", lambda lib, x: nnf(lib).gelu(x, approximate="tanh"), ((3, 4),),
         "GeluBackward0"),
    Case("softplus", lambda lib, x: nnf(lib).softplus(x, beta=2.0, threshold=3.0), ((3, 4),),
         "SoftplusBackward0", domain="spread"),
    Case("silu", lambda lib, x: nnf(lib).silu(x), ((3, 4),), "SiluBackward0"),
    Case("relu", lambda lib, x: nnf(lib).relu(x), ((3, 4),), "ReluBackward0", domain="spread"),
    Case("sigmoid", lambda lib, x: nnf(lib).sigmoid(x), ((3, 4),), "SigmoidBackward0"),
    Case("tanh", lambda lib, x: nnf(lib).tanh(x), ((3, 4),), "TanhBackward0"),
    Case("softmax", lambda lib, x: nnf(lib).softmax(x, dim=0), ((3, 4),), "SoftmaxBackward0"),
    Case("softmax_3d", lambda lib, x: x.softmax(1), ((2, 3, 4),), "SoftmaxBackward0"),
    Case("log_softmax", lambda lib, x: nnf(lib).log_softmax(x, dim=-1), ((3, 4),),
         "LogSoftmaxBackward0"),
    # reductions
    Case("max_all", lambda lib, x: x.max(), ((3, 4),), "MaxBackward1", domain="spread"),
    Case("max_all_ties", lambda lib, x: lib.max(x), (), "MaxBackward1",
         fixed=([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0]],), gradcheck=False),
    Case("min_all", lambda lib, x: x.min(), ((3, 4),), "MinBackward1", domain="spread"),
    Case("max_dim", lambda lib, x: x.max(dim=1).values, ((3, 4),), "MaxBackward0",
         domain="spread"),
    Case("max_dim_ties", lambda lib, x: lib.max(x, 1, keepdim=True)[0], (), "MaxBackward0",
         fixed=([[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]],), gradcheck=False),
    Case("min_dim", lambda lib, x: x.min(0)[0], ((3, 4),), "MinBackward0", domain="spread"),
    Case("amax", lambda lib, x: x.amax(1), ((3, 4),), "AmaxBackward0", domain="spread"),
    Case("amax_ties", lambda lib, x: lib.amax(x, (0, 1)), (), "AmaxBackward0",
         fixed=([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0]],), gradcheck=False),
    Case("amin_keepdim", lambda lib, x: x.amin(0, keepdim=True), ((3, 4),), "AminBackward0",
         domain="spread"),
    Case("prod_all", lambda lib, x: x.prod(), ((2, 3),), "ProdBackward0"),
    Case("prod_dim", lambda lib, x: lib.prod(x, 1), ((3, 4),), "ProdBackward1"),
    Case("prod_zeros", lambda lib, x: x.prod(1, keepdim=True), (), "ProdBackward1",
         fixed=([[1.0, 0.0, 3.0], [0.0, 2.0, 0.0], [2.0, 3.0, 4.0]],)),
    Case("var", lambda lib, x: x.var(), ((3, 4),), "VarBackward0"),
    Case("var_dim", lambda lib, x: lib.var(x, 1, keepdim=True), ((3, 4),), "VarBackward0"),
    Case("var_unbiased_false", lambda lib, x: x.var(0, unbiased=False), ((3, 4),),
         "VarBackward0"),
    Case("var_correction", lambda lib, x: x.var((0, 2), correction=2), ((3, 2, 4),),
         "VarBackward0"),
    Case("std", lambda lib, x: x.std(), ((3, 4),), "StdBackward0"),
    Case("std_dim", lambda lib, x: lib.std(x, 0, correction=0), ((3, 4),), "StdBackward0"),
    Case("logsumexp", lambda lib, x: x.logsumexp(1), ((3, 4),), "LogsumexpBackward0"),
    Case("logsumexp_dims", lambda lib, x: lib.logsumexp(x, (0, 2), keepdim=True), ((2, 3, 4),),
         "LogsumexpBackward0"),
    Case("norm", lambda lib, x: x.norm(), ((3, 4),), "LinalgVectorNormBackward0"),
    Case("norm_dim", lambda lib, x: lib.norm(x, dim=1), ((3, 4),), "LinalgVectorNormBackward0"),
    Case("norm_p1", lambda lib, x: x.norm(p=1, dim=0), ((3, 4),), "LinalgVectorNormBackward0",
         domain="spread"),
    Case("norm_p3", lambda lib, x: x.norm(p=3), ((3, 4),), "LinalgVectorNormBackward0"),
    Case("norm_inf", lambda lib, x: x.norm(p=float("inf"), dim=1), ((3, 4),),
         "LinalgVectorNormBackward0", domain="spread"),
    # shape
    Case("cat", lambda lib, x, y: lib.cat([x, y], dim=1), ((3, 2), (3, 4)), "CatBackward0"),
    Case("cat_neg_dim", lambda lib, x, y: lib.cat((x, y), -3), ((1, 2, 3), (2, 2, 3)),
         "CatBackward0"),
    Case("stack", lambda lib, x, y: lib.stack([x, y], 1), ((3, 4), (3, 4)), "StackBackward0"),
    Case("split", lambda lib, x: x.split(2, dim=1), ((3, 5),), "SplitBackward0"),
    Case("split_sizes", lambda lib, x: lib.split(x, [1, 2], 0), ((3, 4),),
         "SplitWithSizesBackward0"),
    Case("split_partial", lambda lib, x: x.split(2)[1], ((5, 2),), "SplitBackward0"),
    Case("chunk", lambda lib, x: x.chunk(3, dim=1), ((2, 7),), "SplitBackward0"),
    Case("unbind", lambda lib, x: x.unbind(1), ((2, 3),), "UnbindBackward0"),
    Case("repeat", lambda lib, x: x.repeat(2, 1, 3), ((3, 4),), "RepeatBackward0"),
    Case("gather", lambda lib, x: x.gather(1, lib.tensor(IDX)), ((3, 4),), "GatherBackward0"),
    Case("gather_dim0", lambda lib, x: lib.gather(x, 0, lib.tensor([[2, 0, 2]])), ((3, 4),),
         "GatherBackward0"),
    # layers and losses
    Case("linear", lambda lib, x, w, b: nnf(lib).linear(x, w, b), ((5, 3), (4, 3), (4,)),
         "AddmmBackward0"),
    Case("linear_nobias", lambda lib, x, w: nnf(lib).linear(x, w), ((5, 3), (4, 3)), "MmBackward0"),
    Case("linear_3d", lambda lib, x, w, b: nnf(lib).linear(x, w, b), ((2, 5, 3), (4, 3), (4,)),
         "ViewBackward0"),
    Case("mse_loss", lambda lib, x, y: nnf(lib).mse_loss(x, y), ((3, 4), (3, 4)),
         "MseLossBackward0"),
    Case("mse_loss_none", lambda lib, x, y: nnf(lib).mse_loss(x, y, reduction="none"),
         ((3, 4), (3, 4)), "MseLossBackward0"),
    Case("mse_loss_sum", lambda lib, x, y: nnf(lib).mse_loss(x, y, reduction="sum"),
         ((3, 4), (3, 4)), "MseLossBackward0"),
    Case("l1_loss", lambda lib, x, y: nnf(lib).l1_loss(x, y), ((3, 4), (3, 4)), "MeanBackward0",
         domain="spread"),
    Case("l1_loss_none", lambda lib, x, y: nnf(lib).l1_loss(x, y, reduction="none"),
         ((3, 4), (3, 4)), "AbsBackward0", domain="spread"),
    Case("bce", lambda lib, x, y: nnf(lib).binary_cross_entropy(x, y), ((3, 4), (3, 4)),
         "BinaryCrossEntropyBackward0", domain="unit"),
    Case("bce_weight_sum", lambda lib, x, y: nnf(lib).binary_cross_entropy(
        x, y, weight=lib.tensor([1.0, 2.0, 0.5, 3.0], dtype=x.dtype), reduction="sum"),
        ((3, 4), (3, 4)), "BinaryCrossEntropyBackward0", domain="unit"),
    Case("bce_with_logits", lambda lib, x, y: nnf(lib).binary_cross_entropy_with_logits(x, y),
         ((3, 4), (3, 4)), "BinaryCrossEntropyWithLogitsBackward0"),
    Case("nll_loss", lambda lib, x: nnf(lib).nll_loss(x, lib.tensor(TARGET)), ((5, 4),),
         "NllLossBackward0"),
    Case("nll_loss_weight_ignore", lambda lib, x: nnf(lib).nll_loss(
        x, lib.tensor([0, 3, -100, 2, 3]), weight=lib.tensor([1.0, 2.0, 3.0, 0.5], dtype=x.dtype)),
        ((5, 4),), "NllLossBackward0"),
    Case("nll_loss_none", lambda lib, x: nnf(lib).nll_loss(x, lib.tensor(TARGET), reduction="none"),
         ((5, 4),), "NllLossBackward0"),
    Case("cross_entropy", lambda lib, x: nnf(lib).cross_entropy(x, lib.tensor(TARGET)), ((5, 4),),
         "NllLossBackward0"),
    Case("cross_entropy_sum_ignore", lambda lib, x: nnf(lib).cross_entropy(
        x, lib.tensor([1, -1, 0, -1, 3]), ignore_index=-1, reduction="sum"), ((5, 4),),
        "NllLossBackward0"),
    Case("cross_entropy_1d", lambda lib, x: nnf(lib).cross_entropy(x, lib.tensor(2)), ((4,),),
         "NllLossBackward0"),
    Case("cross_entropy_2d", lambda lib, x: nnf(lib).cross_entropy(
        x, lib.tensor([[[0, 1], [2, 1]]])),
         ((1, 3, 2, 2),), "NllLoss2DBackward0"),
    Case("cross_entropy_smoothing", lambda lib, x: nnf(lib).cross_entropy(
        x, lib.tensor([0, 3, -100, 2, 3]), label_smoothing=0.2), ((5, 4),), "AddBackward0"),
    Case("cross_entropy_smoothing_weight_none", lambda lib, x: nnf(lib).cross_entropy(
        x, lib.tensor(TARGET), weight=lib.tensor([1.0, 2.0, 3.0, 0.5], dtype=x.dtype),
        label_smoothing=0.1, reduction="none"), ((5, 4),), "AddBackward0"),
    Case("cross_entropy_probs_none", lambda lib, x, t: nnf(lib).cross_entropy(
        x, t, reduction="none"), ((5, 4), (5, 4)), "NegBackward0", domain="unit"),
    # torch records DivBackward1 (division by a number); the engine's div is DivBackward0
    Case("cross_entropy_probs_mean", lambda lib, x, t: nnf(lib).cross_entropy(
        x, t, label_smoothing=0.3), ((5, 4), (5, 4)), None, domain="unit"),
]

DTYPES = {"float32": (engine.float32, torch.float32, 2e-4, 1e-5),
          "float64": (engine.float64, torch.float64, 1e-9, 1e-11)}


def _inputs(case: Case) -> list[np.ndarray]:
    if case.fixed is not None:
        return [np.array(a, dtype=np.float64) for a in case.fixed]
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    return [DOMAINS[case.domain](rng, s) for s in case.shapes]


def _tuple(res: Any) -> tuple:
    return tuple(res) if isinstance(res, (tuple, list)) else (res,)


@pytest.mark.parametrize("dt", list(DTYPES))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matches_torch(case: Case, dt: str) -> None:
    edt, tdt, rtol, atol = DTYPES[dt]
    rtol, atol = rtol * case.tol, atol * case.tol
    arrays = _inputs(case)
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


@pytest.mark.parametrize("case", [c for c in CASES if c.gradcheck], ids=lambda c: c.id)
def test_gradcheck(case: Case) -> None:
    xs = [engine.tensor(a, dtype=engine.float64, requires_grad=True) for a in _inputs(case)]

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


def test_errors_match_torch_wording() -> None:
    x = engine.randn(3, 4)
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        x.clamp()
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension"):
        engine.cat([x, engine.randn(2, 3)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        engine.stack([x, engine.randn(4, 3)])
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum"):
        x.split([1, 1])
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        engine.nn.functional.nll_loss(x, engine.tensor([0, 7, 1]))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        engine.nn.functional.binary_cross_entropy(x, engine.rand(3, 4))


def test_no_graph_under_no_grad() -> None:
    x = engine.randn(3, 4, requires_grad=True)
    with engine.no_grad():
        for case in CASES[:10]:
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
