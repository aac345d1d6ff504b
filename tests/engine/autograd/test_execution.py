"""Dependency-counted execution: deep chains, shared sub-expressions, torch's node order,
and the stepwise ``engine.autograd.backward_steps``."""

import gc
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as tF  # noqa: N812

import engine
from engine.autograd import Step, backward_steps
from engine.graph import AccumulateGrad
from tests.engine._support.autograd_helpers import assert_close, from_torch, plain_name, twin

# ----------------------------------------------------------------- deep chains


def test_chain_of_100k_nodes_runs_without_recursion():
    a = engine.tensor([0.5, -1.0], requires_grad=True)
    x = a
    for i in range(100_000):
        x = x * 1.0 if i % 2 else x + 0.25
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # the loop must not recurse, not even a little
    try:
        x.backward(engine.ones(2))
    finally:
        sys.setrecursionlimit(limit)
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(x.detach().numpy(), [0.5 + 12_500.0, -1.0 + 12_500.0])
    del x
    gc.collect()


def test_chain_that_reuses_the_leaf_100k_times():
    a = engine.tensor([2.0], requires_grad=True)
    x = a
    for _ in range(100_000):
        x = x + a
    x.backward()
    assert a.grad.tolist() == [100_001.0]


# ----------------------------------------------------------------- diamonds

def _diamond_shared(m, a, b):
    c = a * b
    return c.exp() + c * c + c.sigmoid() * c


def _diamond_leaf_many_times(m, a, b):
    return a * a * a + a.exp() * a - a / (b * b + 1) + a


def _diamond_nested(m, a, b):
    c = a * b
    d = c + a
    e = d * c
    f = e.tanh() + d.exp() * e
    return f * b + c


def _diamond_broadcast(m, a, b):
    row = b[0]
    return (a + row) * (a * row) + m.matmul(a, b.t())[:, :1]


@pytest.mark.parametrize("fn", [_diamond_shared, _diamond_leaf_many_times, _diamond_nested,
                                _diamond_broadcast])
def test_diamond_gradients_equal_torch(fn):
    ea, ta = twin((3, 4), seed=1)
    eb, tb = twin((3, 4), seed=2)
    eout, tout = fn(engine, ea, eb), fn(torch, ta, tb)
    assert_close(eout, tout, rtol=1e-5, atol=1e-5)
    gseed = np.random.default_rng(3).standard_normal(tuple(tout.shape)).astype(np.float32)
    eout.backward(engine.tensor(gseed))
    tout.backward(torch.tensor(gseed))
    assert_close(ea.grad, ta.grad, rtol=1e-4, atol=1e-5)
    assert_close(eb.grad, tb.grad, rtol=1e-4, atol=1e-5)


def test_each_node_runs_once_even_when_reached_by_many_paths():
    a = engine.ones(3, requires_grad=True)
    c = a * 2.0
    out = c + c + c * c
    calls = []
    c.grad_fn.register_prehook(lambda go: calls.append(go[0].tolist()))
    out.backward(engine.ones(3))
    assert calls == [[6.0, 6.0, 6.0]]  # 1 + 1 + 2c, summed before the node ran
    assert a.grad.tolist() == [12.0, 12.0, 12.0]


# ----------------------------------------------------------------- execution order

def _torch_order(root):
    """Names of torch's nodes in the order its engine runs them (pre-hooks on every node)."""
    order, seen, stack = [], set(), [root.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        fn.register_prehook(lambda go, fn=fn: order.append(fn))
        stack.extend(n for n, _ in fn.next_functions)
    return order


def _tutorial(m, f):
    m.manual_seed(0)
    w = torch.randn(5, 3)
    b = torch.randn(3)
    if m is torch:
        w.requires_grad_()
        b.requires_grad_()
    else:
        w, b = from_torch(w.requires_grad_()), from_torch(b.requires_grad_())
    z = m.matmul(m.ones(5), w) + b
    return f.binary_cross_entropy_with_logits(z, m.zeros(3)), (w, b)


def _names(nodes, with_leaves):
    return [plain_name(n) for n in nodes
            if with_leaves or "AccumulateGrad" not in plain_name(n)]


def test_tutorial_order_equals_torch():
    tloss, _ = _tutorial(torch, tF)
    torder = _torch_order(tloss)
    tloss.backward()
    eloss, (ew, eb) = _tutorial(engine, engine.nn.functional)
    steps = list(backward_steps(eloss))
    enodes = [s.node for s in steps]
    assert _names(enodes, False) == _names(torder, False)
    assert _names(enodes, True) == _names(torder, True)
    # the AccumulateGrad steps update b first, then w, as torch does
    assert [s.accumulated for s in steps if s.accumulated is not None] == [eb, ew]


def _graph_wide(m, a, b):
    c = a * b
    d = c.exp()
    e = c.tanh()
    return (d * e + a) * (e + b)


def _graph_two_leaves_late(m, a, b):
    x = a.exp()
    y = x * b
    z = y.sigmoid() + a
    return z * x


@pytest.mark.parametrize("fn", [_graph_wide, _graph_two_leaves_late, _diamond_nested])
def test_order_of_other_graphs_equals_torch(fn):
    ea, ta = twin((2, 3), seed=4)
    eb, tb = twin((2, 3), seed=5)
    tout = fn(torch, ta, tb)
    torder = _torch_order(tout)
    tout.backward(torch.ones_like(tout))
    eout = fn(engine, ea, eb)
    enodes = [s.node for s in backward_steps(eout, engine.ones_like(eout))]
    assert _names(enodes, False) == _names(torder, False)
    assert _names(enodes, True) == _names(torder, True)


# ----------------------------------------------------------------- backward_steps records

def test_steps_record_node_grads_and_leaf():
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([3.0, 4.0], requires_grad=True)
    c = a * b
    out = c.exp()
    steps = list(backward_steps(out, engine.tensor([1.0, 0.5])))
    assert all(isinstance(s, Step) for s in steps)
    assert [s.index for s in steps] == list(range(len(steps)))
    assert steps[-1].remaining == 0
    exp_step, mul_step = steps[0], steps[1]
    assert exp_step.node is out.grad_fn and mul_step.node is c.grad_fn
    assert exp_step.accumulated is None
    assert [g.tolist() for g in exp_step.grad_outputs] == [[1.0, 0.5]]
    e = np.exp(np.array([3.0, 8.0], np.float32))
    np.testing.assert_allclose(exp_step.grad_inputs[0].numpy(), e * [1.0, 0.5], rtol=1e-6)
    # grad_inputs are aligned with next_functions
    assert len(mul_step.grad_inputs) == len(mul_step.node.next_functions) == 2
    g = e * [1.0, 0.5]
    np.testing.assert_allclose(mul_step.grad_inputs[0].numpy(), g * [3.0, 4.0], rtol=1e-6)
    np.testing.assert_allclose(mul_step.grad_inputs[1].numpy(), g * [1.0, 2.0], rtol=1e-6)
    sinks = steps[2:]
    assert all(type(s.node) is AccumulateGrad for s in sinks)
    assert {id(s.accumulated) for s in sinks} == {id(a), id(b)}
    for s in sinks:
        assert s.grad_inputs == ()
        assert s.node.variable is s.accumulated
        np.testing.assert_array_equal(s.grad_outputs[0].numpy(), s.accumulated.grad.numpy())


def test_stepping_to_the_end_equals_backward():
    ew1, _ = twin((5, 3), seed=7)
    ew2, _ = twin((5, 3), seed=7)
    outs = []
    for w in (ew1, ew2):
        h = engine.matmul(engine.ones(4, 5), w).tanh()
        outs.append(engine.nn.functional.binary_cross_entropy_with_logits(h, engine.zeros(4, 3)))
    gen = backward_steps(outs[0])
    names = [step.node.name() for step in gen]
    assert names == ["BinaryCrossEntropyWithLogitsBackward0", "TanhBackward0", "MmBackward0",
                     "AccumulateGrad"]
    outs[1].backward()
    np.testing.assert_array_equal(ew1.grad.numpy(), ew2.grad.numpy())


def test_a_step_shows_the_grads_before_the_next_node_runs():
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    out = (a * 3.0) * 2.0
    gen = backward_steps(out, engine.ones(2))
    first = next(gen)
    assert first.node is out.grad_fn
    assert a.grad is None  # the leaf has not been reached yet
    rest = list(gen)
    assert rest[-1].accumulated is a
    assert a.grad.tolist() == [6.0, 6.0]


def _three_stage(seed=11):
    a, _ = twin((3,), seed=seed)
    b = a.exp()
    c = b.log() * b
    return a, c


def test_abandoned_generator_with_retain_graph_leaves_a_reusable_graph():
    a, out = _three_stage()
    gen = backward_steps(out, engine.ones(3), retain_graph=True)
    next(gen)
    next(gen)
    gen.close()
    assert a.grad is None  # the leaf was never reached
    assert engine.is_grad_enabled()
    out.backward(engine.ones(3))
    a2, out2 = _three_stage()
    out2.backward(engine.ones(3))
    np.testing.assert_allclose(a.grad.numpy(), a2.grad.numpy(), rtol=1e-6)


def test_abandoned_generator_without_retain_graph_consumes_the_graph():
    a, out = _three_stage()
    gen = backward_steps(out, engine.ones(3))
    next(gen)
    del gen  # dropped half way
    gc.collect()
    assert a.grad is None
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.backward(engine.ones(3))
    assert a.grad is None


def test_leaf_grad_is_complete_once_its_step_is_yielded():
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([5.0, 7.0], requires_grad=True)
    out = a * b + a.exp()
    for step in backward_steps(out, engine.ones(2)):
        if step.accumulated is a:
            break
    # a's AccumulateGrad runs once, when all its gradient has arrived
    np.testing.assert_allclose(a.grad.numpy(), [5.0 + np.e, 7.0 + np.e ** 2], rtol=1e-6)
