"""Every loss of ``engine.nn.functional`` and its module against torch: values, gradients of
input and target, grad_fn names, for each reduction and option, in float32 and float64;
torch's error texts and warnings; hypothesis over batch sizes and class counts."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import nn
from tests.engine._support.autograd_helpers import same_error

DT = {"float32": (engine.float32, torch.float32, 2e-4, 1e-6),
      "float64": (engine.float64, torch.float64, 1e-9, 1e-12)}
W4 = [1.0, 2.0, 0.5, 3.0]  # class (or column) weights for inputs with 4 classes
W45 = np.random.default_rng(45).uniform(0.1, 2.0, (4, 5)).tolist()  # elementwise weights


def nnf(lib: Any) -> Any:
    return lib.nn.functional


def _w(lib: Any, x: Any, values: list[float]) -> Any:
    # (from a float64 array: engine.tensor(list, dtype=float64) rounds through float32)
    return lib.tensor(np.array(values), dtype=x.dtype)


# ---------------------------------------------------------------- input samplers (float64)
def _pair(rng: np.random.Generator, shape=(4, 5)) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-3, 3, shape), rng.uniform(-3, 3, shape)


def _probs(rng: np.random.Generator, shape=(3, 4)) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(0.05, 0.95, shape)
    return x, rng.uniform(0.0, 1.0, shape)


def _logits(rng: np.random.Generator, shape=(3, 4)) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-4, 4, shape), rng.uniform(0.0, 1.0, shape)


def _log_probs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """log-probabilities and probabilities (rows of 4), the target kept away from 0."""
    a = rng.uniform(-2, 2, (3, 4))
    lp = a - np.log(np.exp(a).sum(1, keepdims=True))
    b = rng.uniform(0.1, 1.0, (3, 4))
    return lp, b / b.sum(1, keepdims=True)


def _classes(shape: tuple[int, ...], target: list) -> Callable:
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return rng.uniform(-3, 3, shape), np.array(target)
    return make


def _class_probs(shape: tuple[int, ...]) -> Callable:
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        t = rng.uniform(0.0, 1.0, shape)
        return rng.uniform(-3, 3, shape), t / t.sum(1, keepdims=True)
    return make


@dataclass(frozen=True)
class Loss:
    id: str
    fn: Callable[[Any, Any, Any, str], Any]  # (lib, input, target, reduction) -> loss
    sample: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]
    target_grad: bool = True  # float targets get a gradient too
    reductions: tuple[str, ...] = ("none", "mean", "sum")


F = nnf  # (keeps the table below short)
LOSSES = [
    Loss("mse", lambda lib, x, y, r: F(lib).mse_loss(x, y, reduction=r), _pair),
    Loss("l1", lambda lib, x, y, r: F(lib).l1_loss(x, y, reduction=r), _pair),
    Loss("mse_weight", lambda lib, x, y, r: F(lib).mse_loss(x, y, reduction=r,
                                                          weight=_w(lib, x, W45)), _pair),
    Loss("l1_weight", lambda lib, x, y, r: F(lib).l1_loss(x, y, reduction=r,
                                                        weight=_w(lib, x, W45)), _pair),
    Loss("huber_weight", lambda lib, x, y, r: F(lib).huber_loss(x, y, r, 0.8, _w(lib, x, W45)),
         _pair),
    Loss("huber", lambda lib, x, y, r: F(lib).huber_loss(x, y, reduction=r), _pair),
    Loss("huber_delta_0.3", lambda lib, x, y, r: F(lib).huber_loss(x, y, r, 0.3), _pair),
    Loss("huber_delta_2.5", lambda lib, x, y, r: F(lib).huber_loss(x, y, reduction=r,
                                                                   delta=2.5), _pair),
    Loss("smooth_l1", lambda lib, x, y, r: F(lib).smooth_l1_loss(x, y, reduction=r), _pair),
    Loss("smooth_l1_beta_0.4", lambda lib, x, y, r: F(lib).smooth_l1_loss(
        x, y, reduction=r, beta=0.4), _pair),
    Loss("smooth_l1_beta_0", lambda lib, x, y, r: F(lib).smooth_l1_loss(
        x, y, reduction=r, beta=0.0), _pair),
    Loss("kl_div", lambda lib, x, y, r: F(lib).kl_div(x, y, reduction=r), _log_probs,
         reductions=("none", "mean", "sum", "batchmean")),
    Loss("kl_div_log_target", lambda lib, x, y, r: F(lib).kl_div(
        x, y.log(), reduction=r, log_target=True), _log_probs,
         reductions=("none", "mean", "sum", "batchmean")),
    Loss("bce", lambda lib, x, y, r: F(lib).binary_cross_entropy(x, y, reduction=r), _probs),
    Loss("bce_weight", lambda lib, x, y, r: F(lib).binary_cross_entropy(
        x, y, weight=_w(lib, x, W4), reduction=r), _probs),
    Loss("bce_logits", lambda lib, x, y, r: F(lib).binary_cross_entropy_with_logits(
        x, y, reduction=r), _logits),
    Loss("bce_logits_weight", lambda lib, x, y, r: F(lib).binary_cross_entropy_with_logits(
        x, y, weight=_w(lib, x, W4), reduction=r), _logits),
    Loss("bce_logits_pos_weight", lambda lib, x, y, r: F(lib).binary_cross_entropy_with_logits(
        x, y, reduction=r, pos_weight=_w(lib, x, [3.0, 0.5, 1.0, 2.0])), _logits),
    Loss("bce_logits_both", lambda lib, x, y, r: F(lib).binary_cross_entropy_with_logits(
        x, y, _w(lib, x, W4), reduction=r, pos_weight=_w(lib, x, [3.0, 0.5, 1.0, 2.0])),
         _logits),
    Loss("nll", lambda lib, x, y, r: F(lib).nll_loss(x.log_softmax(1), y, reduction=r),
         _classes((5, 4), [0, 3, 1, 2, 3]), target_grad=False),
    Loss("nll_weight_ignore", lambda lib, x, y, r: F(lib).nll_loss(
        x, y, weight=_w(lib, x, W4), ignore_index=1, reduction=r),
         _classes((5, 4), [0, 3, 1, 2, 1]), target_grad=False),
    Loss("nll_1d", lambda lib, x, y, r: F(lib).nll_loss(x, y, reduction=r),
         _classes((4,), 2), target_grad=False),
    Loss("nll_spatial", lambda lib, x, y, r: F(lib).nll_loss(x, y, _w(lib, x, [1.0, 0.2, 4.0]),
                                                            reduction=r),
         _classes((2, 3, 2, 2), [[[0, 1], [2, 1]], [[2, 2], [0, -100]]]), target_grad=False),
    Loss("ce", lambda lib, x, y, r: F(lib).cross_entropy(x, y, reduction=r),
         _classes((5, 4), [0, 3, 1, 2, 3]), target_grad=False),
    Loss("ce_weight_ignore", lambda lib, x, y, r: F(lib).cross_entropy(
        x, y, _w(lib, x, W4), ignore_index=3, reduction=r), _classes((5, 4), [0, 3, 1, 2, 3]),
         target_grad=False),
    Loss("ce_smoothing", lambda lib, x, y, r: F(lib).cross_entropy(
        x, y, reduction=r, label_smoothing=0.2), _classes((5, 4), [0, 3, -100, 2, 3]),
         target_grad=False),
    Loss("ce_smoothing_weight", lambda lib, x, y, r: F(lib).cross_entropy(
        x, y, weight=_w(lib, x, W4), reduction=r, label_smoothing=0.1),
         _classes((5, 4), [0, 3, 1, 2, 3]), target_grad=False),
    Loss("ce_1d", lambda lib, x, y, r: F(lib).cross_entropy(x, y, reduction=r),
         _classes((4,), 1), target_grad=False),
    Loss("ce_spatial_smoothing", lambda lib, x, y, r: F(lib).cross_entropy(
        x, y, reduction=r, label_smoothing=0.3),
         _classes((2, 3, 2, 2), [[[0, 1], [2, 1]], [[2, 2], [0, 1]]]), target_grad=False),
    Loss("ce_probs", lambda lib, x, y, r: F(lib).cross_entropy(x, y, reduction=r),
         _class_probs((5, 4))),
    Loss("ce_probs_weight_smoothing", lambda lib, x, y, r: F(lib).cross_entropy(
        x, y, _w(lib, x, W4), reduction=r, label_smoothing=0.25), _class_probs((5, 4))),
    Loss("ce_probs_spatial", lambda lib, x, y, r: F(lib).cross_entropy(x, y, reduction=r),
         _class_probs((2, 3, 2))),
]
# torch records a division by a Python number as DivBackward1; the engine has one DivBackward0
NAME_EXCEPTIONS = {("DivBackward1", "DivBackward0")}
CASES = [pytest.param(loss, r, id=f"{loss.id}-{r}") for loss in LOSSES for r in loss.reductions]


def _run(loss: Loss, reduction: str, dt: str, seed: int = 0) -> None:
    edt, tdt, rtol, atol = DT[dt]
    x, y = loss.sample(np.random.default_rng(seed))
    float_target = y.dtype.kind == "f"
    ex = engine.tensor(x, dtype=edt, requires_grad=True)
    tx = torch.tensor(x, dtype=tdt, requires_grad=True)
    if float_target:
        rg = loss.target_grad
        ey = engine.tensor(y, dtype=edt, requires_grad=rg)
        ty = torch.tensor(y, dtype=tdt, requires_grad=rg)
    else:
        ey, ty = engine.tensor(y), torch.tensor(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warns (tested below)
        eo, to = loss.fn(engine, ex, ey, reduction), loss.fn(torch, tx, ty, reduction)
    assert eo.dtype == edt
    assert tuple(eo.shape) == tuple(to.shape)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=rtol, atol=atol)
    names = (type(to.grad_fn).__name__, type(eo.grad_fn).__name__)
    assert names[0] == names[1] or names in NAME_EXCEPTIONS, names
    seed_grad = np.random.default_rng(seed + 1).uniform(0.5, 1.5, tuple(to.shape))
    (eo * engine.tensor(seed_grad, dtype=edt)).sum().backward()
    (to * torch.tensor(seed_grad, dtype=tdt)).sum().backward()
    pairs = [(ex, tx)] + ([(ey, ty)] if float_target and loss.target_grad else [])
    for e, t in pairs:
        assert e.grad is not None and e.grad.dtype == edt
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dt", list(DT))
@pytest.mark.parametrize(("loss", "reduction"), CASES)
def test_loss_values_gradients_and_grad_fn_match_torch(loss: Loss, reduction: str,
                                                       dt: str) -> None:
    _run(loss, reduction, dt)


@pytest.mark.parametrize("dt", list(DT))
def test_kl_div_zero_targets_count_as_zero(dt: str) -> None:
    """xlogy: a target of exactly 0 adds nothing (not 0 * log 0 = NaN), without a numpy
    warning; the target's gradient there is torch's NaN (0 / 0)."""
    edt, tdt, rtol, atol = DT[dt]
    lp = np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]))
    tg = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    ex = engine.tensor(lp, dtype=edt, requires_grad=True)
    tx = torch.tensor(lp, dtype=tdt, requires_grad=True)
    ey = engine.tensor(tg, dtype=edt, requires_grad=True)
    ty = torch.tensor(tg, dtype=tdt, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eo = nnf(engine).kl_div(ex, ey, reduction="sum")
    to = nnf(torch).kl_div(tx, ty, reduction="sum")
    assert np.isfinite(eo.item())
    np.testing.assert_allclose(eo.item(), to.item(), rtol=rtol, atol=atol)
    eo.backward()
    to.backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)
    assert np.isnan(ty.grad.numpy()[tg == 0]).all()
    np.testing.assert_allclose(ey.grad.numpy(), ty.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("x", [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
def test_huber_and_smooth_l1_at_the_kinks(x: float) -> None:
    """At |d| == delta (or beta) the two sides meet: torch's side and value, exactly."""
    for fn in (lambda lib, a: nnf(lib).huber_loss(a, lib.zeros(1, dtype=a.dtype)),
               lambda lib, a: nnf(lib).smooth_l1_loss(a, lib.zeros(1, dtype=a.dtype)),
               lambda lib, a: nnf(lib).huber_loss(a, lib.zeros(1, dtype=a.dtype), delta=0.5),
               lambda lib, a: nnf(lib).smooth_l1_loss(a, lib.zeros(1, dtype=a.dtype),
                                                      beta=2.0)):
        e = engine.tensor([x], dtype=engine.float64, requires_grad=True)
        t = torch.tensor([x], dtype=torch.float64, requires_grad=True)
        eo, to = fn(engine, e), fn(torch, t)
        assert eo.item() == to.item()
        eo.backward()
        to.backward()
        assert e.grad.tolist() == t.grad.tolist()


def test_huber_broadcast_target_gets_the_summed_gradient() -> None:
    e, t = (lib.tensor(np.linspace(-3, 3, 12).reshape(3, 4), requires_grad=True)
            for lib in (engine, torch))
    ey, ty = (lib.tensor(np.array([0.5, -1.0, 2.0, 0.0]), requires_grad=True)
              for lib in (engine, torch))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nnf(engine).huber_loss(e, ey, delta=0.8).backward()
        nnf(torch).huber_loss(t, ty, delta=0.8).backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=2e-6)
    np.testing.assert_allclose(ey.grad.numpy(), ty.grad.numpy(), rtol=2e-6)


@pytest.mark.parametrize("name", ["huber_loss", "smooth_l1_loss", "mse_loss"])
def test_pair_losses_support_create_graph(name: str) -> None:
    """The backward of the backward (``apply_graph``) gives torch's second derivatives."""
    e = engine.tensor(np.array([-2.0, -0.3, 0.4, 1.7]), requires_grad=True)
    t = torch.tensor(np.array([-2.0, -0.3, 0.4, 1.7]), requires_grad=True)
    grads = []
    for lib, a in ((engine, e), (torch, t)):
        y = lib.tensor(np.array([0.1, 0.2, -0.1, 0.0]), dtype=a.dtype)
        loss = getattr(nnf(lib), name)(a, y, reduction="sum")
        (g,) = lib.autograd.grad(loss, a, create_graph=True)
        (g * g).sum().backward()
        grads.append((g.detach().numpy(), a.grad.numpy()))
    for ea, ta in zip(grads[0], grads[1]):
        np.testing.assert_allclose(ea, ta, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_elementwise_weights_get_torchs_gradient(name: str, reduction: str) -> None:
    x, y = _pair(np.random.default_rng(7))
    grads = []
    for lib in (engine, torch):
        w = lib.tensor(np.array(W45), requires_grad=True)
        loss = getattr(nnf(lib), name)(lib.tensor(x), lib.tensor(y), reduction=reduction,
                                       weight=w)
        loss.sum().backward()
        grads.append(w.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- hypothesis
@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 9), classes=st.integers(1, 7), data=st.data())
def test_cross_entropy_and_nll_over_batch_sizes_and_class_counts(batch: int, classes: int,
                                                                 data: Any) -> None:
    dt = data.draw(st.sampled_from(list(DT)))
    edt, tdt, rtol, atol = DT[dt]
    reduction = data.draw(st.sampled_from(["none", "mean", "sum"]))
    smoothing = data.draw(st.sampled_from([0.0, 0.15, 1.0]))
    weighted = data.draw(st.booleans())
    ignore = data.draw(st.sampled_from([-100, 0]))
    seed = data.draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, (batch, classes))
    target = rng.integers(0, classes, batch)
    w = rng.uniform(0.2, 2.0, classes)
    results = []
    for lib, dtype in ((engine, edt), (torch, tdt)):
        a = lib.tensor(x, dtype=dtype, requires_grad=True)
        weight = lib.tensor(w, dtype=dtype) if weighted else None
        ce = nnf(lib).cross_entropy(a, lib.tensor(target), weight, ignore_index=ignore,
                                    reduction=reduction, label_smoothing=smoothing)
        nll = nnf(lib).nll_loss(a.log_softmax(1), lib.tensor(target), weight,
                                ignore_index=ignore, reduction=reduction)
        (ce.sum() + nll.sum()).backward()
        results.append([ce.detach().numpy(), nll.detach().numpy(), a.grad.numpy()])
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=rtol * 5, atol=atol * 5)


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), seed=st.integers(0, 999),
       which=st.sampled_from(["huber", "smooth_l1", "kl_div_log_target", "bce_logits_both"]),
       reduction=st.sampled_from(["none", "mean", "sum"]))
def test_elementwise_losses_over_shapes(shape: list[int], seed: int, which: str,
                                        reduction: str) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-3, 3, shape), rng.uniform(0.05, 1, shape)
    fns = {
        "huber": lambda lib, a, b: nnf(lib).huber_loss(a, b, reduction, 0.7),
        "smooth_l1": lambda lib, a, b: nnf(lib).smooth_l1_loss(a, b, reduction=reduction,
                                                               beta=1.3),
        "kl_div_log_target": lambda lib, a, b: nnf(lib).kl_div(
            a, b, reduction="batchmean" if reduction == "mean" else reduction,
            log_target=True),
        "bce_logits_both": lambda lib, a, b: nnf(lib).binary_cross_entropy_with_logits(
            a, b, lib.ones(shape[-1], dtype=a.dtype) * 0.5, reduction=reduction,
            pos_weight=lib.full((shape[-1],), 2.0, dtype=a.dtype)),
    }
    res = []
    for lib in (engine, torch):
        a = lib.tensor(x, dtype=lib.float64, requires_grad=True)
        b = lib.tensor(y, dtype=lib.float64, requires_grad=True)
        out = fns[which](lib, a, b)
        out.sum().backward()
        res.append([out.detach().numpy(), a.grad.numpy(), b.grad.numpy()])
    for e, t in zip(*res):
        np.testing.assert_allclose(e, t, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- errors and warnings
ERRORS: dict[str, Callable[[Any], Any]] = {
    "mse_reduction": lambda lib: F(lib).mse_loss(lib.zeros(2), lib.zeros(2), reduction="avg"),
    "l1_reduction": lambda lib: F(lib).l1_loss(lib.zeros(2), lib.zeros(2), reduction="avg"),
    "huber_reduction": lambda lib: F(lib).huber_loss(lib.zeros(2), lib.zeros(2), "avg"),
    "smooth_l1_reduction": lambda lib: F(lib).smooth_l1_loss(lib.zeros(2), lib.zeros(2),
                                                             reduction="x"),
    "kl_reduction": lambda lib: F(lib).kl_div(lib.zeros(2), lib.zeros(2), reduction="avg"),
    "bce_reduction": lambda lib: F(lib).binary_cross_entropy(lib.zeros(2), lib.zeros(2),
                                                             reduction="x"),
    "bce_logits_reduction": lambda lib: F(lib).binary_cross_entropy_with_logits(
        lib.zeros(2), lib.zeros(2), reduction="x"),
    "nll_reduction": lambda lib: F(lib).nll_loss(lib.zeros(2, 3), lib.tensor([0, 1]),
                                                 reduction="x"),
    "ce_reduction": lambda lib: F(lib).cross_entropy(lib.zeros(2, 3), lib.tensor([0, 1]),
                                                     reduction="x"),
    "mse_weight_shape": lambda lib: F(lib).mse_loss(lib.zeros(3, 4), lib.zeros(3, 4),
                                                    weight=lib.ones(4)),
    "l1_weight_shape": lambda lib: F(lib).l1_loss(lib.zeros(2), lib.zeros(2),
                                                  weight=lib.ones(2, 2)),
    "huber_weight_shape": lambda lib: F(lib).huber_loss(lib.zeros(2), lib.zeros(2),
                                                        weight=lib.ones(3)),
    "mse_weight_reduction": lambda lib: F(lib).mse_loss(lib.zeros(2), lib.zeros(2),
                                                        reduction="avg", weight=lib.ones(2)),
    "l1_weight_reduction": lambda lib: F(lib).l1_loss(lib.zeros(2), lib.zeros(2),
                                                      reduction="avg", weight=lib.ones(2)),
    "huber_weight_reduction": lambda lib: F(lib).huber_loss(lib.zeros(2), lib.zeros(2), "x",
                                                            weight=lib.ones(2)),
    "huber_delta_zero": lambda lib: F(lib).huber_loss(lib.zeros(2), lib.zeros(2), delta=0.0),
    "huber_delta_negative": lambda lib: F(lib).huber_loss(lib.zeros(2), lib.zeros(2),
                                                          delta=-1.0),
    "smooth_l1_beta_negative": lambda lib: F(lib).smooth_l1_loss(lib.zeros(2), lib.zeros(2),
                                                                 beta=-0.5),
    "huber_shapes": lambda lib: F(lib).huber_loss(lib.zeros(3, 4), lib.zeros(2, 4)),
    "smooth_l1_shapes": lambda lib: F(lib).smooth_l1_loss(lib.zeros(3, 4), lib.zeros(3, 2)),
    "mse_shapes": lambda lib: F(lib).mse_loss(lib.zeros(3, 4), lib.zeros(2, 4)),
    "kl_shapes": lambda lib: F(lib).kl_div(lib.zeros(3, 4), lib.zeros(2, 4),
                                           reduction="sum"),
    "bce_shapes": lambda lib: F(lib).binary_cross_entropy(lib.zeros(3, 4), lib.zeros(3)),
    "bce_logits_shapes": lambda lib: F(lib).binary_cross_entropy_with_logits(
        lib.zeros(3, 4), lib.zeros(4)),
    "nll_batch": lambda lib: F(lib).nll_loss(lib.zeros(3, 4), lib.tensor([0, 1])),
    "ce_batch": lambda lib: F(lib).cross_entropy(lib.zeros(3, 4), lib.tensor([0, 1])),
    "nll_float_target": lambda lib: F(lib).nll_loss(lib.zeros(3, 4), lib.zeros(3)),
    "ce_float_target_not_probabilities": lambda lib: F(lib).cross_entropy(lib.zeros(3, 4),
                                                                          lib.zeros(3)),
    "ce_bool_target": lambda lib: F(lib).cross_entropy(lib.zeros(3, 4),
                                                       lib.zeros(3, dtype=lib.bool)),
    "nll_spatial_float_target": lambda lib: F(lib).nll_loss(lib.zeros(3, 4, 2),
                                                            lib.zeros(3, 2)),
    "nll_out_of_range": lambda lib: F(lib).nll_loss(lib.zeros(3, 4), lib.tensor([0, 4, 1])),
    "nll_negative_class": lambda lib: F(lib).nll_loss(lib.zeros(3, 4), lib.tensor([0, -2, 1])),
    "ce_out_of_range": lambda lib: F(lib).cross_entropy(lib.zeros(3, 4),
                                                        lib.tensor([0, 1, 9])),
    "ce_out_of_range_smoothing": lambda lib: F(lib).cross_entropy(
        lib.zeros(3, 4), lib.tensor([0, 1, 9]), label_smoothing=0.1),
    "ce_smoothing_range": lambda lib: F(lib).cross_entropy(
        lib.zeros(3, 4), lib.tensor([0, 1, 2]), label_smoothing=1.5),
    "bce_input_range": lambda lib: F(lib).binary_cross_entropy(lib.full((2,), 1.5),
                                                               lib.zeros(2)),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_misuse_raises_torchs_error(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_error(lambda: ERRORS[name](engine), lambda: ERRORS[name](torch))


def _warnings_of(fn: Callable[[], Any]) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message).replace("torch.", "engine.") for w in caught
            if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("call", [
    lambda lib: F(lib).huber_loss(lib.zeros(3, 4), lib.zeros(4)),
    lambda lib: F(lib).smooth_l1_loss(lib.zeros(3, 1), lib.zeros(3)),
    lambda lib: F(lib).mse_loss(lib.zeros(3, 4), lib.zeros(1, 4)),
    lambda lib: F(lib).l1_loss(lib.zeros(2), lib.zeros(3, 2)),
    lambda lib: F(lib).kl_div(lib.zeros(3, 4), lib.zeros(3, 4)),
], ids=["huber", "smooth_l1", "mse", "l1", "kl_mean"])
def test_warnings_match_torch(call: Callable[[Any], Any]) -> None:
    got, want = _warnings_of(lambda: call(engine)), _warnings_of(lambda: call(torch))
    assert want and got == want


def test_no_warning_for_kl_div_batchmean() -> None:
    assert _warnings_of(lambda: F(engine).kl_div(engine.zeros(2, 2), engine.ones(2, 2),
                                                 reduction="batchmean")) == []


# ---------------------------------------------------------------- modules
MODULES: list[tuple[str, Callable[[Any], Any], Callable]] = [
    ("MSELoss", lambda m: m.MSELoss(), _pair),
    ("MSELoss_sum", lambda m: m.MSELoss(reduction="sum"), _pair),
    ("L1Loss_none", lambda m: m.L1Loss(reduction="none"), _pair),
    ("HuberLoss", lambda m: m.HuberLoss(delta=0.6), _pair),
    ("SmoothL1Loss", lambda m: m.SmoothL1Loss(reduction="sum", beta=0.8), _pair),
    ("KLDivLoss", lambda m: m.KLDivLoss(reduction="batchmean"), _log_probs),
    ("KLDivLoss_log_target", lambda m: m.KLDivLoss(reduction="sum", log_target=True),
     _log_probs),
    ("BCELoss", lambda m: m.BCELoss(), _probs),
    ("BCELoss_weight", lambda m: m.BCELoss(weight=_lib(m).tensor(W4), reduction="sum"), _probs),
    ("BCEWithLogitsLoss", lambda m: m.BCEWithLogitsLoss(
        weight=_lib(m).tensor(W4), pos_weight=_lib(m).tensor([2.0, 1.0, 0.5, 1.5])), _logits),
    ("NLLLoss", lambda m: m.NLLLoss(weight=_lib(m).tensor(W4), ignore_index=2),
     _classes((5, 4), [0, 3, 1, 2, 3])),
    ("CrossEntropyLoss", lambda m: m.CrossEntropyLoss(), _classes((5, 4), [0, 3, 1, 2, 3])),
    ("CrossEntropyLoss_options", lambda m: m.CrossEntropyLoss(
        weight=_lib(m).tensor(W4), ignore_index=0, reduction="sum", label_smoothing=0.2),
     _classes((5, 4), [0, 3, 1, 2, 3])),
    ("CrossEntropyLoss_probs", lambda m: m.CrossEntropyLoss(label_smoothing=0.1),
     _class_probs((5, 4))),
]


def _lib(m: Any) -> Any:
    return engine if m is nn else torch


@pytest.mark.parametrize(("name", "build", "sample"), MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_torch(name: str, build: Callable, sample: Callable) -> None:
    em, tm = build(nn), build(torch.nn)
    assert repr(em) == repr(tm) == f"{type(tm).__name__}()"
    assert list(em.state_dict()) == list(tm.state_dict())
    for attr in ("reduction", "delta", "beta", "log_target", "ignore_index", "label_smoothing"):
        assert getattr(em, attr, None) == getattr(tm, attr, None), attr
    em.double()
    tm.double()
    for (ek, ev), (tk, tv) in zip(em.state_dict().items(), tm.state_dict().items()):
        assert ek == tk and ev.dtype == engine.float64
        np.testing.assert_array_equal(ev.numpy(), tv.numpy())
    x, y = sample(np.random.default_rng(3))
    ex = engine.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    ey, ty = engine.tensor(y), torch.tensor(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eo, to = em(ex, ey), tm(tx, ty)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-9,
                               atol=1e-12)
    eo.sum().backward()
    to.sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_loss_module_defaults_match_torch() -> None:
    for cls in ("MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "KLDivLoss", "BCELoss",
                "BCEWithLogitsLoss", "NLLLoss", "CrossEntropyLoss"):
        em, tm = getattr(nn, cls)(), getattr(torch.nn, cls)()
        for attr in ("reduction", "delta", "beta", "log_target", "ignore_index",
                     "label_smoothing", "weight", "pos_weight"):
            assert getattr(em, attr, "absent") == getattr(tm, attr, "absent"), (cls, attr)
        assert list(em.state_dict()) == [] == list(tm.state_dict())


LEGACY = [(None, None), (True, None), (False, None), (None, False), (True, False),
          (False, False), (None, True), (False, True)]


@pytest.mark.parametrize(("size_average", "reduce"), LEGACY)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "SmoothL1Loss", "BCELoss", "NLLLoss",
                                  "CrossEntropyLoss", "BCEWithLogitsLoss", "KLDivLoss"])
def test_deprecated_size_average_and_reduce_pick_torchs_reduction(name, size_average, reduce):
    """torch still honours the old flags (and warns): MSELoss(size_average=False) sums."""
    def build(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = getattr(lib.nn, name)(size_average=size_average, reduce=reduce)
        return module.reduction, [str(w.message) for w in caught]

    assert build(engine) == build(torch)


@pytest.mark.parametrize(("size_average", "reduce"), LEGACY)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "kl_div"])
def test_deprecated_flags_in_the_functionals(name, size_average, reduce):
    x, y = np.array([[0.2, -1.5], [3.0, 0.5]]), np.array([[0.1, 0.4], [0.3, 0.2]])

    def run(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = getattr(lib.nn.functional, name)(lib.tensor(x), lib.tensor(y),
                                                   size_average=size_average, reduce=reduce)
        return out.tolist(), [str(w.message) for w in caught]

    (ours, our_warnings), (theirs, their_warnings) = run(engine), run(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert our_warnings == their_warnings
