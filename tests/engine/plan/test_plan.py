"""``engine.autograd.Plan``: a compiled training step must do exactly what the eager
step does.  Every scenario runs three ways - torch's eager loop, the engine's eager
loop, and the plan - and compares losses, parameters, gradients and optimizer state
after every step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import engine.nn.functional as F  # noqa: N812
from engine.autograd import Plan

DTYPES = {"float32": (np.float32, 2e-5), "float64": (np.float64, 1e-11)}


def _net(lib: Any, fn: Any, kind: str, dtype: np.dtype, shapes: tuple[int, ...], seed: int
         ) -> tuple[Callable[[], Any], list[Any], list[Any]]:
    """A loss function over leaves made from the same numbers in ``lib``; returns
    (loss_fn, parameters, inputs)."""
    rng = np.random.default_rng(seed)

    def t(a: np.ndarray, grad: bool = False) -> Any:
        return lib.tensor(a.astype(dtype), requires_grad=grad)

    if kind == "tutorial":  # the tutorial network: x @ w + b, BCE with logits
        n_in, n_out = shapes
        x, y = t(np.ones(n_in)), t(np.zeros(n_out))
        w, b = t(rng.standard_normal((n_in, n_out)), True), t(rng.standard_normal(n_out), True)
        return (lambda: fn.binary_cross_entropy_with_logits(lib.matmul(x, w) + b, y)), \
            [w, b], [x, y]
    batch, n_in, hidden, n_out = shapes
    x = t(rng.standard_normal((batch, n_in)))
    w1 = t(rng.standard_normal((hidden, n_in)) / np.sqrt(n_in), True)
    b1 = t(rng.standard_normal(hidden) * 0.1, True)
    w2 = t(rng.standard_normal((n_out, hidden)) / np.sqrt(hidden), True)
    b2 = t(rng.standard_normal(n_out) * 0.1, True)
    act = {"mlp_relu": fn.relu, "mlp_tanh": lib.tanh, "mlp_sigmoid": lib.sigmoid}[kind]
    if kind == "mlp_sigmoid":  # BCE on 0/1 targets
        y = t((rng.random((batch, n_out)) > 0.5).astype(float))

        def loss() -> Any:
            return fn.binary_cross_entropy_with_logits(
                fn.linear(act(fn.linear(x, w1, b1)), w2, b2), y, reduction="sum")
    else:  # regression
        y = t(rng.standard_normal((batch, n_out)))

        def loss() -> Any:
            return fn.mse_loss(fn.linear(act(fn.linear(x, w1, b1)), w2, b2), y)
    return loss, [w1, b1, w2, b2], [x, y]


def _run(way: str, kind: str, dtype: np.dtype, shapes: tuple[int, ...], steps: int,
         opt_kw: dict | None, feed: bool = False, seed: int = 0, optim: str = "SGD"
         ) -> dict[str, list]:
    lib, fn = (torch, torch.nn.functional) if way == "torch" else (engine, F)
    loss_fn, params, inputs = _net(lib, fn, kind, dtype, shapes, seed)
    opt = getattr(lib.optim, optim)(params, **opt_kw) if opt_kw is not None else None
    keys = {"SGD": ("momentum_buffer",) if opt_kw and opt_kw.get("momentum") else (),
            "Adam": ("exp_avg", "exp_avg_sq"), "AdamW": ("exp_avg", "exp_avg_sq")}[optim]
    if opt_kw and opt_kw.get("amsgrad"):
        keys += ("max_exp_avg_sq",)
    plan = Plan(loss_fn, opt) if way == "plan" else None
    rng = np.random.default_rng(seed + 1)
    out: dict[str, list] = {"loss": [], "params": [], "grads": [], "bufs": []}
    for _ in range(steps):
        if feed:  # a new batch, written into the input tensor in place
            with lib.no_grad():
                inputs[0].copy_(lib.tensor(rng.standard_normal(inputs[0].shape).astype(dtype)))
        loss = plan() if plan is not None else _eager_step(loss_fn, opt)
        out["loss"].append(loss.item())
        out["params"].append([p.detach().numpy().copy() for p in params])
        out["grads"].append([p.grad.numpy().copy() for p in params])
        out["bufs"].append([opt.state[p][k].numpy().copy() for p in params for k in keys])
        if optim != "SGD":
            out["bufs"][-1].append(np.array([float(opt.state[p]["step"]) for p in params]))
    if plan is not None:
        out["plan"] = [plan]
    return out


def _eager_step(loss_fn: Callable[[], Any], opt: Any) -> Any:
    """What a plan call replaces: zero_grad, forward, backward, step."""
    if opt is not None:
        opt.zero_grad()
    loss = loss_fn()
    loss.backward()
    if opt is not None:
        opt.step()
    return loss


def _same(got: dict, want: dict, tol: float) -> None:
    np.testing.assert_allclose(got["loss"], want["loss"], rtol=tol, atol=tol)
    for key in ("params", "grads", "bufs"):
        for step, (g, w) in enumerate(zip(got[key], want[key])):
            for a, b in zip(g, w):
                np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{key} {step}")
                assert a.dtype == b.dtype


OPTIONS = [
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.5, "dampening": 0.3, "maximize": True},
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt_kw", OPTIONS, ids=lambda kw: "-".join(kw))
@pytest.mark.parametrize("kind,shapes", [
    ("tutorial", (5, 3)),
    ("mlp_relu", (8, 4, 16, 3)),
    ("mlp_tanh", (6, 3, 5, 2)),
    ("mlp_sigmoid", (4, 2, 8, 1)),
    ("mlp_relu", (32, 20, 64, 10)),  # products large enough for numpy's BLAS
])
def test_training_matches_torch_and_eager(kind: str, shapes: tuple, opt_kw: dict,
                                           dtype: str) -> None:
    np_dtype, tol = DTYPES[dtype]
    want = _run("torch", kind, np_dtype, shapes, 8, opt_kw, feed=kind != "tutorial")
    eager = _run("engine", kind, np_dtype, shapes, 8, opt_kw, feed=kind != "tutorial")
    got = _run("plan", kind, np_dtype, shapes, 8, opt_kw, feed=kind != "tutorial")
    plan = got["plan"][0]
    assert plan.compiled, plan.reason
    assert plan.ops[-1] == "SGD"
    assert ("BLAS" in plan.ops) == (np.prod(shapes[:3]) > 4096 and kind != "tutorial")
    _same(got, want, tol)
    _same(got, eager, tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optim,opt_kw", [
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.9), "weight_decay": 0.1, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "maximize": True, "eps": 1e-6}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.05}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
], ids=lambda v: v if isinstance(v, str) else "-".join(v))
@pytest.mark.parametrize("kind,shapes", [("tutorial", (5, 3)), ("mlp_relu", (8, 4, 16, 3))])
def test_adam_matches_torch_and_eager(kind: str, shapes: tuple, optim: str, opt_kw: dict,
                                      dtype: str) -> None:
    np_dtype, tol = DTYPES[dtype]
    runs = [_run(way, kind, np_dtype, shapes, 8, opt_kw, feed=kind != "tutorial", optim=optim)
            for way in ("torch", "engine", "plan")]
    assert runs[2]["plan"][0].compiled and runs[2]["plan"][0].ops[-1] == "ADAM"
    _same(runs[2], runs[0], tol)
    _same(runs[2], runs[1], tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_without_optimizer_gradients_accumulate(dtype: str) -> None:
    np_dtype, tol = DTYPES[dtype]
    want = _run("torch", "mlp_relu", np_dtype, (5, 3, 4, 2), 5, None)
    got = _run("plan", "mlp_relu", np_dtype, (5, 3, 4, 2), 5, None)
    assert got["plan"][0].compiled
    _same(got, want, tol)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 40), n_in=st.integers(1, 30), hidden=st.integers(1, 70),
       n_out=st.integers(1, 12), kind=st.sampled_from(["mlp_relu", "mlp_tanh", "mlp_sigmoid"]))
def test_shapes_match_eager(batch: int, n_in: int, hidden: int, n_out: int, kind: str) -> None:
    """Shapes on both sides of the interpreter's loop/BLAS switch for matrix products."""
    shapes = (batch, n_in, hidden, n_out)
    kw = {"lr": 0.01, "momentum": 0.9}
    want = _run("engine", kind, np.float64, shapes, 4, kw, feed=True)
    got = _run("plan", kind, np.float64, shapes, 4, kw, feed=True)
    assert got["plan"][0].compiled
    _same(got, want, 1e-10)


def _tutorial(dtype: type = np.float32) -> tuple[Plan, Any, Any, Any, Any, Any]:
    loss_fn, (w, b), (x, y) = _net(engine, F, "tutorial", dtype, (5, 3), 0)
    opt = engine.optim.SGD([w, b], lr=0.1, momentum=0.9)
    return Plan(loss_fn, opt), opt, w, b, x, loss_fn


def _eager_twin(steps_before: int, extra: Callable[[Any, Any, Any, Any], None]) -> list:
    """The same tutorial run eagerly: ``steps_before`` steps, ``extra(w, b, x, opt)``,
    three more steps; the losses after ``extra``."""
    loss_fn, (w, b), (x, _) = _net(engine, F, "tutorial", np.float32, (5, 3), 0)
    opt = engine.optim.SGD([w, b], lr=0.1, momentum=0.9)
    for _ in range(steps_before):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()
    extra(w, b, x, opt)
    out = []
    for _ in range(3):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


def test_compiles_after_two_identical_steps() -> None:
    plan, *_ = _tutorial()
    assert not plan.compiled and "eager" in plan.reason
    plan()
    assert not plan.compiled and "second identical step" in plan.reason
    plan()
    assert plan.compiled and plan.reason is None
    assert plan.ops == ["MM", "ADD", "BCE", "ZERO", "ZERO", "SEED", "B_BCE", "B_ADD", "B_MM",
                        "SGD", "SGD"]


@pytest.mark.parametrize("change", ["assign_data", "hook", "requires_grad", "lr", "zero_grad",
                                    "in_place_input", "new_group"])
def test_guards_fall_back_and_stay_correct(change: str) -> None:
    """After any change between steps, the next steps equal an eager run with that change."""
    calls = []

    def apply(w: Any, b: Any, x: Any, opt: Any) -> None:
        if change == "assign_data":
            w.data = w.detach() * 0.5
        elif change == "hook":
            w.register_hook(lambda g: calls.append(1))
        elif change == "requires_grad":
            x.requires_grad_()
        elif change == "lr":
            opt.param_groups[0]["lr"] = 0.3
        elif change == "zero_grad":
            opt.zero_grad(set_to_none=True)
        elif change == "in_place_input":
            with engine.no_grad():
                x.mul_(2.0)
        elif change == "new_group":
            opt.add_param_group({"params": [engine.zeros(1, requires_grad=True)]})

    want = _eager_twin(4, apply)
    n_hooked = len(calls)
    plan, opt, w, b, x, _ = _tutorial()
    for _ in range(4):
        plan()
    assert plan.compiled
    apply(w, b, x, opt)
    got = [plan().item() for _ in range(3)]
    np.testing.assert_allclose(got, want, rtol=2e-5)
    if change == "hook":
        assert len(calls) - n_hooked == 3 and not plan.compiled  # hooks run: eager steps
    elif change in ("lr", "zero_grad", "in_place_input"):
        assert plan.compiled  # these are data, not structure: the program stays


def test_eager_under_no_grad_raises_as_eager() -> None:
    plan, *_ = _tutorial()
    plan(), plan()
    with engine.no_grad(), pytest.raises(RuntimeError, match="does not require grad"):
        plan()
    assert not plan.compiled


def test_anomaly_mode_runs_eagerly() -> None:
    plan, *_ = _tutorial()
    plan(), plan()
    with pytest.warns(UserWarning, match="Anomaly Detection"), engine.autograd.detect_anomaly():
        loss = plan()
    assert not plan.compiled and loss.grad_fn is None


@pytest.mark.parametrize("make,reason", [
    (lambda lib, x, w: (x @ w).sin().sum(), "SinBackward0 is not an op the plan interpreter"),
    (lambda lib, x, w: ((x @ w) + lib.ones(3)).sum(), "AddBackward0: input 1 does not require"),
    (lambda lib, x, w: (x @ w).pow(3).sum(), "PowBackward0 is not an op the plan"),
])
def test_unsupported_graphs_stay_eager_and_say_why(make: Callable, reason: str) -> None:
    x = engine.ones(5)
    w = engine.full((5, 3), 0.1, requires_grad=True)
    tw = torch.full((5, 3), 0.1, requires_grad=True)
    opt, topt = engine.optim.SGD([w], lr=0.1), torch.optim.SGD([tw], lr=0.1)
    plan = Plan(lambda: make(engine, x, w), opt)
    for _ in range(4):
        loss = plan()
        topt.zero_grad()
        tloss = make(torch, torch.ones(5), tw)
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-5, atol=1e-5)
    assert not plan.compiled and reason in plan.reason
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_value_computed_inside_the_step_keeps_it_eager() -> None:
    """``x * 2`` made inside loss_fn is a new tensor each step: replaying it would read a
    stale copy, so the plan never compiles and in-place input changes are seen."""
    x = engine.ones(5)
    w = engine.full((5, 3), 0.1, requires_grad=True)
    plan = Plan(lambda: F.mse_loss(engine.matmul((x * 2).unsqueeze(0), w), engine.zeros(1, 3)))
    for _ in range(3):
        plan()
    assert not plan.compiled
    with engine.no_grad():
        x.fill_(3.0)
    before = w.grad.clone()
    plan()
    tw = torch.full((5, 3), 0.1, requires_grad=True)
    torch.nn.functional.mse_loss(torch.full((1, 5), 6.0) @ tw, torch.zeros(1, 3)).backward()
    np.testing.assert_allclose((w.grad - before).numpy(), tw.grad.numpy(), rtol=1e-6)


def test_other_optimizers_stay_eager() -> None:
    class MySGD(engine.optim.SGD):  # a subclass may change what step() does
        pass

    loss_fn, params, _ = _net(engine, F, "tutorial", np.float32, (5, 3), 0)
    plan = Plan(loss_fn, MySGD(params, lr=0.01))
    for _ in range(3):
        plan()
    assert not plan.compiled and "the optimizer MySGD" in plan.reason


def test_loading_optimizer_state_recaptures() -> None:
    plan, opt, w, *_ = _tutorial()
    for _ in range(3):
        plan()
    saved = opt.state_dict()
    plan()
    opt.load_state_dict(saved)
    assert plan() is not None and not plan.compiled  # the loaded buffers are used, eagerly
    plan()
    assert plan.compiled


def test_versions_grads_and_state_as_eager() -> None:
    plan, opt, w, b, *_ = _tutorial()
    eager_fn, (ew, eb), _ = _net(engine, F, "tutorial", np.float32, (5, 3), 0)
    eopt = engine.optim.SGD([ew, eb], lr=0.1, momentum=0.9)
    for _ in range(5):
        plan()
        eopt.zero_grad()
        eager_fn().backward()
        eopt.step()
    assert w._version == ew._version and b._version == eb._version
    assert w.grad is not None and w.grad.grad_fn is None and not w.grad.requires_grad
    assert set(opt.state) == {w, b}
    np.testing.assert_array_equal(opt.state[w]["momentum_buffer"].numpy(),
                                  eopt.state[ew]["momentum_buffer"].numpy())
    held = w.grad
    opt.zero_grad()  # set_to_none, as torch
    assert w.grad is None
    plan()
    assert w.grad is held  # the plan's gradient buffer is back, refilled


def test_loss_fn_must_return_a_tensor() -> None:
    with pytest.raises(TypeError, match="loss_fn must return a Tensor, got float"):
        Plan(lambda: 1.0)()


_GRAPH = st.fixed_dictionaries({
    "rows": st.integers(1, 6), "dim": st.integers(1, 6),
    # the first op has parameters, so every graph has something to differentiate
    "ops": st.tuples(st.sampled_from(["linear", "mm"]), st.integers(1, 5)).flatmap(
        lambda first: st.lists(st.tuples(st.sampled_from(
            ["linear", "mm", "relu", "sigmoid", "tanh", "scale", "add_self", "add_row",
             "sub_param", "mul_self", "mul_row", "exp_tanh", "log_abs", "sqrt_abs",
             "recip_exp", "one_minus"]), st.integers(1, 5)), max_size=5).map(
                 lambda rest: [first, *rest])),
    "loss": st.sampled_from(["sum", "mean", "mse", "bce", "ce"]),
})


def _random_graph(spec: dict, seed: int) -> tuple[Callable, list, Any]:
    """A composition of the ops a plan lowers, over one input batch ``x``."""
    rng = np.random.default_rng(seed)
    rows, dim = spec["rows"], spec["dim"]
    x = engine.tensor(rng.standard_normal((rows, dim)))
    params: list = []

    def param(*shape: int) -> Any:
        params.append(engine.tensor(rng.standard_normal(shape) * 0.5, requires_grad=True))
        return params[-1]

    made: dict = {}  # parameters and the target are made once, outside the step

    def loss_fn() -> Any:
        v, width = x, dim
        for i, (op, new) in enumerate(spec["ops"]):
            if i not in made and op in ("linear", "mm", "add_row", "sub_param", "mul_row"):
                shapes = {"linear": [(new, width), (new,)], "mm": [(width, new)],
                          "add_row": [(width,)], "sub_param": [(rows, width)],
                          "mul_row": [(width,)]}[op]
                made[i] = tuple(param(*shape) for shape in shapes)
            if op == "linear":
                v, width = F.linear(v, *made[i]), new
            elif op == "mm":
                v, width = v @ made[i][0], new
            elif op in ("relu", "sigmoid", "tanh"):
                v = getattr(engine, op)(v)
            elif op == "scale":
                v = v * 0.75
            elif op == "add_self":
                v = v + v
            elif op == "add_row":
                v = v + made[i][0]
            elif op == "sub_param":
                v = v - made[i][0]
            elif op == "mul_self":
                v = v * v
            elif op == "mul_row":
                v = v * made[i][0]
            elif op == "exp_tanh":
                v = v.tanh().exp()
            elif op == "log_abs":  # away from 0, where log and sqrt amplify rounding
                v = (v.abs() + 1.0).log()
            elif op == "sqrt_abs":
                v = (v.abs() + 0.5).sqrt()
            elif op == "recip_exp":
                v = v.exp().reciprocal()
            else:
                v = 1.0 - v
        if spec["loss"] in ("sum", "mean"):
            return getattr(v, spec["loss"])()
        if "target" not in made:
            made["target"] = engine.tensor(rng.integers(0, width, rows)) \
                if spec["loss"] == "ce" else \
                engine.tensor((rng.random((rows, width)) > 0.5).astype(float))
        if spec["loss"] == "ce":
            return F.cross_entropy(v, made["target"])
        if spec["loss"] == "mse":
            return F.mse_loss(v, made["target"])
        return F.binary_cross_entropy_with_logits(v, made["target"])

    loss_fn()  # makes the parameters
    return loss_fn, params, x


@settings(max_examples=60, deadline=None)
@given(spec=_GRAPH, use_opt=st.booleans())
def test_random_graphs_match_eager(spec: dict, use_opt: bool) -> None:
    """Random compositions of the lowered ops, fed new batches: the plan's losses,
    gradients and parameters equal the eager loop's, with and without an optimizer."""
    runs = []
    for way in ("engine", "plan"):
        loss_fn, params, x = _random_graph(spec, 7)
        opt = engine.optim.SGD(params, lr=0.05, momentum=0.5) if use_opt else None
        plan = Plan(loss_fn, opt) if way == "plan" else None
        rng = np.random.default_rng(3)
        out = []
        for _ in range(4):
            with engine.no_grad():
                x.copy_(engine.tensor(rng.standard_normal(x.shape)))
            loss = plan() if plan is not None else _eager_step(loss_fn, opt)
            out.append([loss.item()] + [p.grad.numpy().copy() for p in params] +
                       [p.detach().numpy().copy() for p in params])
        runs.append(out)
        if plan is not None:
            assert plan.compiled, plan.reason
    for a, b in zip(*runs):
        for u, v in zip(a, b):
            np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)


def test_nn_modules_train_under_a_plan_as_torch() -> None:
    """nn.Sequential of Linear/ReLU/Tanh/Sigmoid layers with MSE and AdamW, and the
    parameters' state_dict afterwards, as torch's."""
    def build(lib: Any) -> tuple[Any, Any, Any, Any]:
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(6, 12), lib.nn.ReLU(), lib.nn.Linear(12, 8),
                                  lib.nn.Tanh(), lib.nn.Linear(8, 3), lib.nn.Sigmoid())
        rng = np.random.default_rng(0)
        with lib.no_grad():
            for p in model.parameters():
                p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
        x = lib.tensor(rng.standard_normal((16, 6)).astype(np.float32))
        y = lib.tensor(rng.random((16, 3)).astype(np.float32))
        return model, lib.optim.AdamW(model.parameters(), lr=0.01), x, y

    model, opt, x, y = build(engine)
    plan = Plan(lambda: F.mse_loss(model(x), y), opt)
    got = [plan().item() for _ in range(10)]
    assert plan.compiled, plan.reason
    tmodel, topt, tx, ty = build(torch)
    want = []
    for _ in range(10):
        topt.zero_grad()
        loss = torch.nn.functional.mse_loss(tmodel(tx), ty)
        loss.backward()
        topt.step()
        want.append(loss.item())
    np.testing.assert_allclose(got, want, rtol=2e-5)
    for (name, p), (tname, tp) in zip(model.state_dict().items(), tmodel.state_dict().items()):
        assert name == tname
        np.testing.assert_allclose(p.numpy(), tp.numpy(), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("optim,kw", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                      ("Adam", {"lr": 0.01})])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_classifier_matches_torch(optim: str, kw: dict, reduction: str) -> None:
    """log_softmax + nll_loss with class indices kept in the program; new labels are
    written into the target tensor in place, some rows ignored (ignore_index)."""
    rng = np.random.default_rng(11)
    x0 = rng.standard_normal((40, 5)).astype(np.float32)
    w0 = [rng.standard_normal(s).astype(np.float32) * 0.5 for s in ((16, 5), (16,), (4, 16),
                                                                     (4,))]
    labels = [rng.integers(0, 4, 40) for _ in range(8)]
    for lab in labels:
        lab[:3] = -100  # ignored rows

    def run(lib: Any, fn: Any, compiled: bool) -> tuple[list, list]:
        x, y = lib.tensor(x0), lib.tensor(labels[0])
        ps = [lib.tensor(w.copy(), requires_grad=True) for w in w0]
        opt = getattr(lib.optim, optim)(ps, **kw)

        def loss_fn() -> Any:
            h = lib.tanh(fn.linear(x, ps[0], ps[1]))
            return fn.cross_entropy(fn.linear(h, ps[2], ps[3]), y, reduction=reduction)

        plan = Plan(loss_fn, opt) if compiled else None
        losses = []
        for lab in labels:
            with lib.no_grad():
                y.copy_(lib.tensor(lab))
            losses.append((plan() if plan else _eager_step(loss_fn, opt)).item())
        if plan is not None:
            assert plan.compiled, plan.reason
            assert "NLL" in plan.ops and "LOG_SOFTMAX" in plan.ops
        return losses, [p.detach().numpy().copy() for p in ps]

    got, want = run(engine, F, True), run(torch, torch.nn.functional, False)
    np.testing.assert_allclose(got[0], want[0], rtol=2e-5)
    # A summed loss makes each gradient ~37x (the kept rows) larger than the mean, and with
    # it the float32 rounding carried by momentum into the parameters.
    atol = 2e-6 if reduction == "mean" else 1e-5
    for a, b in zip(got[1], want[1]):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=atol)


def test_out_of_range_class_raises_as_eager_and_the_plan_goes_on() -> None:
    x = engine.randn(6, 3)
    y = engine.tensor([0, 1, 2, 0, 1, 2])
    w = engine.randn(3, 3, requires_grad=True)
    plan = Plan(lambda: F.cross_entropy(x @ w, y), engine.optim.SGD([w], lr=0.1))
    for _ in range(3):
        plan()
    assert plan.compiled
    before = w.detach().numpy().copy()
    with engine.no_grad():
        y[2] = 7
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        plan()
    np.testing.assert_array_equal(w.detach().numpy(), before)  # nothing was stepped
    with engine.no_grad():
        y[2] = 2
    plan()
    assert plan.compiled
