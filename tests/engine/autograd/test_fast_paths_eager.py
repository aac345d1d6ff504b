"""The eager engine's overhead cuts give the same results as the general paths.

- ``binary_cross_entropy_with_logits`` runs its forward as numpy's exp and log1p plus
  one Numba kernel for the rest: its values are numpy's formula's, bit for bit, they
  match torch, and nothing warns;
- a plain ``backward()`` in which no user code can run and no node reads a ``.grad``'s
  memory holds back its additions into existing large ``.grad`` buffers until every
  node has run (no snapshot of each ``.grad``): the gradients are those of the stepwise
  pass and of torch, and a failure still leaves every ``.grad`` as it was;
- ``Tensor.backward`` goes straight to the backward loop, and that loop yields nothing
  when nobody reads its steps.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import engine
import engine.nn.functional as ef
from engine.autograd import _pass as ae
from engine.autograd import loop
from engine.ops import unary
from tests.engine._support.autograd_helpers import function_of

BIG = 1 << 13  # a .grad this large makes a plain pass hold its additions back


# ---------------------------------------------------------------- bce forward
def _bce_inputs(n: int, seed: int = 0, special: bool = False) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 4).astype(np.float32)
    y = rng.random(n).astype(np.float32)
    if special and n >= 6:
        x[:6] = [np.inf, -np.inf, np.nan, 0.0, -0.0, 100.0]
        y[:3] = [1.0, 0.0, 0.5]
    w = rng.random(n).astype(np.float32)
    pw = (rng.random(n) * 3).astype(np.float32)
    return x, y, w, pw


@pytest.mark.parametrize("n", [1, 3, 200, 4000])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("extras", [(), ("weight",), ("pos_weight",), ("weight", "pos_weight")])
def test_bce_forward_matches_torch(n, reduction, extras):
    x, y, w, pw = _bce_inputs(n)
    kw = {"reduction": reduction}
    tkw = dict(kw)
    for name, val in (("weight", w), ("pos_weight", pw)):
        if name in extras:
            kw[name] = engine.tensor(val)
            tkw[name] = torch.tensor(val)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ef.binary_cross_entropy_with_logits(engine.tensor(x), engine.tensor(y), **kw)
    want = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(x), torch.tensor(y), **tkw)
    assert got.dtype == engine.float32 and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize("n", [6, 100, 300])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_forward_special_values_warn_about_nothing(n, reduction):
    x, y, _, _ = _bce_inputs(n, special=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ef.binary_cross_entropy_with_logits(engine.tensor(x), engine.tensor(y),
                                                 reduction=reduction).numpy()
    want = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(x), torch.tensor(y), reduction=reduction).numpy()
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5, equal_nan=True)


def _numpy_bce(x: np.ndarray, y: np.ndarray, reduction: str) -> np.ndarray:
    """The general path's numpy formula (and the engine's before the fused kernel)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        loss = (1 - y) * x - (np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))))
        if reduction == "mean":
            loss = np.add.reduce(loss, axis=None, dtype=x.dtype) / loss.size
        elif reduction == "sum":
            loss = np.add.reduce(loss, axis=None, dtype=x.dtype)
    return np.asarray(loss, dtype=x.dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(), (3,), (64, 10), (7, 13, 5), (512, 300)])
def test_bce_forward_is_numpys_bit_for_bit(dtype, reduction, shape):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(shape) * rng.choice([0.1, 3.0, 50.0, 200.0], size=shape))
    x = np.asarray(x, dtype)
    y = np.asarray(rng.random(shape), dtype)
    if x.size >= 8:
        x.reshape(-1)[:8] = [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e30, -1e30, 89.0]
    # C-contiguous: the fused path; else (a strided input or target) the general one
    for xs, ys in ((x, y), (x.T, y.T), (x, y.T.copy().T)):
        got = ef.binary_cross_entropy_with_logits(engine.tensor(xs), engine.tensor(ys),
                                                  reduction=reduction).numpy()
        want = _numpy_bce(np.array(xs, order="C"), np.array(ys, order="C"), reduction)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()


def test_bce_overflowing_sum_and_empty_input_warn_about_nothing():
    x = np.full(8, -2e38, np.float32)  # each term (2e38) is finite, their sum is not
    y = np.ones(8, np.float32)
    for n in (8, 300):
        xs, ys = np.resize(x, n), np.resize(y, n)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = ef.binary_cross_entropy_with_logits(engine.tensor(xs), engine.tensor(ys),
                                                     reduction="sum")
        want = torch.nn.functional.binary_cross_entropy_with_logits(
            torch.tensor(xs), torch.tensor(ys), reduction="sum")
        assert np.isinf(got.item()) and np.isinf(want.item())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ef.binary_cross_entropy_with_logits(engine.zeros(0), engine.zeros(0))
    assert np.isnan(got.item())
    assert np.isnan(torch.nn.functional.binary_cross_entropy_with_logits(
        torch.zeros(0), torch.zeros(0)).item())


def test_bce_forward_on_strided_input_and_its_gradient():
    x, y, _, _ = _bce_inputs(240, seed=5)
    ex = engine.tensor(x.reshape(12, 20), requires_grad=True)
    tx = torch.tensor(x.reshape(12, 20), requires_grad=True)
    el = ef.binary_cross_entropy_with_logits(ex.t(), engine.tensor(y.reshape(20, 12)))
    tl = torch.nn.functional.binary_cross_entropy_with_logits(tx.t(),
                                                              torch.tensor(y.reshape(20, 12)))
    np.testing.assert_allclose(el.item(), tl.item(), rtol=1e-5)
    el.backward()
    tl.backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- held-back .grad additions
def _net(lib, seed: int = 0):
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((64, 128)).astype(np.float32) / 8
    b1 = rng.standard_normal(128).astype(np.float32)
    w2 = rng.standard_normal((128, 70)).astype(np.float32) / 8
    x = rng.standard_normal((16, 64)).astype(np.float32)
    return (lib.tensor(x), *(lib.tensor(a, requires_grad=True) for a in (w1, b1, w2)))


def _loss(lib, x, w1, b1, w2):
    h = lib.relu(lib.matmul(x, w1) + b1)
    z = lib.matmul(h, w2)
    return (z * z).mean() + (w1 * w1).sum() * 1e-3  # w1 reaches the loss twice


def _grads(params):
    return [p.grad.numpy().copy() for p in params]


def test_held_back_additions_match_the_stepwise_pass_and_torch():
    ex, *ep = _net(engine)
    sx, *sp = _net(engine)
    tx, *tp = _net(torch)
    assert ep[0]._data.size >= BIG
    for _ in range(3):  # the first pass creates the .grad buffers, the others add
        _loss(engine, ex, *ep).backward()
        for _step in engine.autograd.backward_steps(_loss(engine, sx, *sp)):
            pass  # Step records: nothing held back
        _loss(torch, tx, *tp).backward()
    for a, b, t in zip(_grads(ep), _grads(sp), [p.grad.numpy() for p in tp]):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, t, rtol=1e-4, atol=1e-6)


def test_held_back_additions_keep_grad_identity_and_versions(monkeypatch):
    ex, *ep = _net(engine)
    _loss(engine, ex, *ep).backward()
    grads = [p.grad for p in ep]
    datas = [g._data for g in grads]
    versions = [g._version for g in grads]
    snapshots = []
    remember = ae._remember
    monkeypatch.setattr(ae, "_remember", lambda journal, t, graph: (
        snapshots.append(t), remember(journal, t, graph)))
    _loss(engine, ex, *ep).backward()
    assert snapshots == []  # every addition was held back: no .grad was copied
    assert all(p.grad is g for p, g in zip(ep, grads))
    assert all(g._data is d for g, d in zip(grads, datas))
    assert [g._version for g in grads] == [v + 1 for v in versions]


def test_a_pass_is_held_back_only_without_user_code():
    ex, *ep = _net(engine)
    _loss(engine, ex, *ep).backward()
    loss = _loss(engine, ex, *ep)
    nodes = _all_nodes(loss)
    seeds = [np.ones((), np.float32)]
    assert ae._pure(nodes, seeds)
    handle = loss.grad_fn.register_hook(lambda gi, go: None)
    assert not ae._pure(nodes, seeds)
    handle.remove()
    assert ae._pure(nodes, seeds)  # an empty hook dict runs nothing
    h = ep[0].register_hook(lambda g: None)
    assert not ae._pure(nodes, seeds)
    h.remove()
    twice = function_of(engine, lambda ctx, a: a * 2, lambda ctx, g: g * 2)
    assert not ae._pure(_all_nodes(twice.apply(ep[0]).sum()), seeds)


def _stepwise_grads(make_loss, leaves, **kw):
    """The gradients a backward_steps pass (which never holds anything back) gives."""
    for _step in engine.autograd.backward_steps(make_loss(), **kw):
        pass
    return [leaf.grad.numpy().copy() for leaf in leaves]


def _pair(seed):
    rng = np.random.default_rng(seed)
    w = engine.tensor(rng.standard_normal(BIG).astype(np.float32), requires_grad=True)
    v = engine.tensor(rng.standard_normal(BIG).astype(np.float32), requires_grad=True)
    w.grad = engine.tensor(rng.standard_normal(BIG).astype(np.float32))
    v.grad = engine.tensor(rng.standard_normal(BIG).astype(np.float32))
    return w, v


@pytest.mark.parametrize("make", [
    # w's addition runs before the node that reads w.grad as a saved operand ...
    lambda w, v: (v * w.grad).sum() + (w * 2).sum(),
    # ... or as a view of it, or as its .data (no shared version counter)
    lambda w, v: (v.reshape(2, -1) * w.grad.reshape(2, -1)[1]).sum() + (w * 2).sum(),
    lambda w, v: (v * w.grad.data).sum() + (w * 2).sum(),
    # ... or as a loss weight
    lambda w, v: ef.binary_cross_entropy_with_logits(v, engine.zeros(BIG), weight=w.grad)
    + (w * 2).sum(),
])
def test_a_node_reading_a_grad_sees_what_the_stepwise_pass_sees(make):
    w, v = _pair(7)
    sw, sv = _pair(7)
    make(w, v).backward()
    want = _stepwise_grads(lambda: make(sw, sv), (sw, sv))
    np.testing.assert_array_equal(w.grad.numpy(), want[0])
    np.testing.assert_array_equal(v.grad.numpy(), want[1])


def test_a_seed_gradient_that_is_a_grad_is_read_as_the_stepwise_pass_reads_it():
    w, v = _pair(8)
    sw, sv = _pair(8)
    (w * 1.0 + v * 1.0).backward(w.grad)
    for _step in engine.autograd.backward_steps(sw * 1.0 + sv * 1.0, sw.grad):
        pass
    np.testing.assert_array_equal(w.grad.numpy(), sw.grad.numpy())
    np.testing.assert_array_equal(v.grad.numpy(), sv.grad.numpy())


def _all_nodes(loss):
    """The nodes of ``loss``'s graph, in the order the engine's own walk discovers them."""
    p = ae._Pass(False, True, (), False)
    p.discover([(loss.grad_fn, 0)], False)
    return p.order


class BoomError(Exception):
    pass


def test_a_failing_node_after_held_back_additions_leaves_grads_untouched(monkeypatch):
    ex, *ep = _net(engine)
    _loss(engine, ex, *ep).backward()
    before = _grads(ep)
    versions = [p.grad._version for p in ep]
    loss = _loss(engine, ex, *ep)

    def boom(self, grads):
        raise BoomError("relu backward failed")

    # ReluBackward0 runs after w2's AccumulateGrad and before w1's and b1's
    monkeypatch.setattr(unary.ReluBackward0, "apply", boom)
    with pytest.raises(BoomError):
        loss.backward()
    for g, p, v in zip(before, ep, versions):
        np.testing.assert_array_equal(p.grad.numpy(), g)
        assert p.grad._version == v


def test_a_failing_hook_with_large_grads_leaves_grads_untouched():
    ex, *ep = _net(engine)
    _loss(engine, ex, *ep).backward()
    before = _grads(ep)

    def boom(grad):
        raise BoomError("hook")

    ep[0].register_hook(boom)  # user code: the pass snapshots as before
    with pytest.raises(BoomError):
        _loss(engine, ex, *ep).backward()
    for g, p in zip(before, ep):
        np.testing.assert_array_equal(p.grad.numpy(), g)


@pytest.mark.filterwarnings("ignore:grad and param do not obey")
def test_held_back_additions_into_a_strided_or_new_grad():
    ex, *ep = _net(engine)
    tx, *tp = _net(torch)
    w1, b1, w2 = ep
    w1.grad = engine.tensor(np.ones((128, 64), np.float32)).t()  # a strided .grad
    tp[0].grad = torch.ones(128, 64).t()
    w2.grad = engine.tensor(np.full((128, 70), 0.5, np.float32))
    tp[2].grad = torch.full((128, 70), 0.5)
    _loss(engine, ex, *ep).backward()  # b1 gets a new .grad, w1's is replaced
    _loss(torch, tx, *tp).backward()
    assert w1.grad._data.flags.c_contiguous
    for p, t in zip(ep, tp):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_held_back_cast_of_a_float64_gradient():
    w = engine.tensor(np.ones(BIG, np.float32), requires_grad=True)
    w.grad = engine.zeros(BIG)
    v = engine.tensor(np.full(BIG, 0.5), requires_grad=True)  # float64
    loss = (w.double() * v).sum()  # w's gradient arrives in float64
    loss.backward()
    tw = torch.ones(BIG, requires_grad=True)
    tw.grad = torch.zeros(BIG)
    tv = torch.full((BIG,), 0.5, dtype=torch.float64, requires_grad=True)
    (tw.double() * tv).sum().backward()
    assert w.grad.dtype == engine.float32
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())
    np.testing.assert_array_equal(v.grad.numpy(), tv.grad.numpy())


# ---------------------------------------------------------------- the loop's entry
def test_tensor_backward_and_autograd_backward_agree():
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([1.0, 2.0], requires_grad=True)
    (a * a).sum().backward()
    engine.autograd.backward((b * b).sum())
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    with pytest.raises(RuntimeError, match="Trying to backward through the graph"):
        loss = (a * a).sum()
        loss.backward()
        loss.backward()


def test_run_never_yields():
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    gen = loop._loop((a * 3).sum(), None, None, False, None, True, False)
    with pytest.raises(StopIteration):
        next(gen)
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0])


def test_scalar_seed_is_a_fresh_array():
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    loss = (a * 3).sum()
    loss.grad_fn.register_prehook(lambda gs: seen.append(gs[0]))
    loss.backward()
    seen[0].add_(1)  # a hook may keep and change its gradient
    loss2 = (a * 3).sum()
    seen2 = []
    loss2.grad_fn.register_prehook(lambda gs: seen2.append(gs[0]))
    loss2.backward()
    assert seen2[0].item() == 1.0
