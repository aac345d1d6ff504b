"""Memory: a training loop holds memory flat, graphs die after backward, hooks and
retain_graph keep nothing alive, and a training step creates no reference cycles.

The tutorial step (``z = x @ w + b``; BCE-with-logits; backward; zero grads) is run 2,000
times after a warm-up; Python allocations (tracemalloc) must grow by less than 1 MB and the
resident set (``/proc/self/statm``) by less than 10 MB.  ``benchmarks`` runs the long version.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
import weakref

import numpy as np
import pytest

import engine
from engine.graph import Node

F = engine.nn.functional


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _tutorial():
    engine.manual_seed(0)
    x, y = engine.ones(5), engine.zeros(3)
    w = engine.randn(5, 3, requires_grad=True)
    b = engine.randn(3, requires_grad=True)

    def step() -> float:
        z = engine.matmul(x, w) + b
        loss = F.binary_cross_entropy_with_logits(z, y)
        loss.backward()
        value = loss.item()
        w.grad = None
        b.grad.zero_() if b.grad is not None else None
        return value

    return step, (w, b)


def test_tutorial_loop_holds_memory_flat():
    step, _ = _tutorial()
    for _ in range(300):  # warm-up: JIT caches, lru caches, allocator pools
        step()
    gc.collect()
    tracemalloc.start()
    try:
        before_py = tracemalloc.get_traced_memory()[0]
        before_rss = _rss_bytes()
        values = [step() for _ in range(2000)]
        gc.collect()
        grew_py = tracemalloc.get_traced_memory()[0] - before_py
        grew_rss = _rss_bytes() - before_rss
    finally:
        tracemalloc.stop()
    # the loss is the same every iteration (grads are cleared, weights never move)
    assert values[0] == values[-1] and np.isfinite(values[0])
    assert grew_py < 1_000_000, f"tracemalloc grew {grew_py} bytes over 2000 steps"
    assert grew_rss < 10_000_000, f"RSS grew {grew_rss} bytes over 2000 steps"


def test_training_loop_with_optimizer_holds_memory_flat():
    engine.manual_seed(1)
    model = engine.nn.Sequential(engine.nn.Linear(4, 8), engine.nn.ReLU(),
                                 engine.nn.Linear(8, 1))
    opt = engine.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = engine.randn(16, 4)
    y = engine.randn(16, 1)

    def step() -> float:
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(100):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        losses = [step() for _ in range(500)]
        gc.collect()
        grew = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert losses[-1] < losses[0]
    assert grew < 1_000_000, f"tracemalloc grew {grew} bytes over 500 optimizer steps"


def test_graph_is_freed_after_backward():
    w = engine.randn(5, 3, requires_grad=True)
    h = (engine.ones(2, 5) @ w).tanh()
    loss = F.mse_loss(h, engine.zeros(2, 3))
    nodes = [weakref.ref(loss.grad_fn), weakref.ref(h.grad_fn)]
    saved_input = weakref.ref(h)  # tanh saves its result, MSE saves h
    loss.backward()
    del loss, h
    assert all(r() is None for r in nodes)
    assert saved_input() is None
    assert w.grad is not None  # the leaf and its grad survive


def test_graph_is_freed_without_backward():
    w = engine.randn(4, requires_grad=True)
    loss = (w.exp() * w).sum()
    ref = weakref.ref(loss.grad_fn)
    del loss
    assert ref() is None


def test_retain_graph_graph_freed_when_dropped():
    w = engine.randn(3, 3, requires_grad=True)
    loss = (w @ w).relu().sum()
    ref = weakref.ref(loss.grad_fn)
    inner = weakref.ref(loss.grad_fn.next_functions[0][0])
    loss.backward(retain_graph=True)
    loss.backward(retain_graph=True)
    assert ref() is not None  # still held by loss
    del loss
    assert ref() is None and inner() is None
    np.testing.assert_allclose(w.grad.numpy(), 2 * _relu_matmul_grad(w.detach().numpy()),
                               rtol=1e-5)


def _relu_matmul_grad(a: np.ndarray) -> np.ndarray:
    mask = (a @ a > 0).astype(a.dtype)
    return mask @ a.T + a.T @ mask


def test_tensor_hook_does_not_keep_tensor_alive():
    w = engine.randn(3, requires_grad=True)
    w.register_hook(lambda g: g * 2)  # captures nothing
    ref = weakref.ref(w)
    del w
    assert ref() is None


def test_non_leaf_hook_and_retain_grad_do_not_keep_graph_alive():
    w = engine.randn(3, requires_grad=True)
    h = w * 2
    h.register_hook(lambda g: None)
    h.retain_grad()
    loss = h.sum()
    refs = [weakref.ref(h), weakref.ref(loss.grad_fn), weakref.ref(h.grad_fn)]
    loss.backward()
    del h, loss
    assert all(r() is None for r in refs)


def test_node_hooks_do_not_keep_graph_alive():
    w = engine.randn(3, requires_grad=True)
    loss = w.sigmoid().sum()
    node = loss.grad_fn
    node.register_hook(lambda gi, go: None)
    node.register_prehook(lambda go: None)
    ref = weakref.ref(node)
    del node
    loss.backward()
    del loss
    assert ref() is None


def _engine_objects() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, (engine.Tensor, Node)))


@pytest.mark.parametrize("use_optimizer", [False, True])
def test_training_step_creates_no_reference_cycles(use_optimizer):
    engine.manual_seed(2)
    model = engine.nn.Sequential(engine.nn.Linear(3, 4), engine.nn.Tanh(),
                                 engine.nn.Linear(4, 2))
    opt = engine.optim.Adam(model.parameters(), lr=0.01)
    x, target = engine.randn(5, 3), engine.tensor([0, 1, 1, 0, 1])

    def step() -> None:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), target)
        h = loss.grad_fn  # a live reference to the graph while backward runs
        loss.backward()
        del h
        if use_optimizer:
            opt.step()

    step()
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        baseline = _engine_objects()
        for _ in range(20):
            step()
        unreachable = gc.collect()  # everything a step left behind only through cycles
        after = _engine_objects()
    finally:
        if was_enabled:
            gc.enable()
    assert unreachable == 0, f"{unreachable} objects were only reachable through cycles"
    assert after == baseline


# ---------------------------------------------------------------- failure leaves no state
# An exception during backward must leave every .grad as it was: None stays None, set
# gradients keep their values (and their identity).  The leaves are reached in different
# orders by the parametrisation so the failure comes after some leaves could have been
# written.

class BoomError(Exception):
    pass


def _raise(*_args):
    raise BoomError("hook failed")


def _leaves():
    a = engine.tensor([1.0, 2.0], requires_grad=True)            # grad None
    b = engine.tensor([0.5, -1.0], requires_grad=True)
    b.grad = engine.tensor([10.0, 20.0])                          # grad already set
    c = engine.tensor([3.0, -0.5], requires_grad=True)            # grad None
    return a, b, c


def _loss(a, b, c):
    """The engine runs the most recently built branch first: a's gradient is accumulated,
    then b's, and c's branch (with the failure) comes last."""
    e = c.exp()
    loss = (e * 3).tanh().sum() + (b * 2).sum() + (a * a).sum()
    return loss, e


def _state(*leaves):
    return [(id(t.grad), None if t.grad is None else t.grad.numpy().copy()) for t in leaves]


def _assert_fails_untouched(run, leaves, exc=BoomError):
    """``run()`` raises ``exc`` and leaves every leaf's ``.grad`` as it was."""
    before = _state(*leaves)
    with pytest.raises(exc):
        run()
    after = _state(*leaves)
    for (id0, v0), (id1, v1), t in zip(before, after, leaves):
        if v0 is None:
            assert t.grad is None, f"grad appeared: {t.grad}"
        else:
            assert id0 == id1
            np.testing.assert_array_equal(v1, v0)


@pytest.mark.parametrize("victim", ["c", "b"])
def test_tensor_hook_raising_leaves_grads_untouched(victim):
    a, b, c = _leaves()
    {"b": b, "c": c}[victim].register_hook(_raise)
    _assert_fails_untouched(lambda: _loss(a, b, c)[0].backward(), (a, b, c))


def test_hook_raising_on_first_leaf_leaves_grads_untouched():
    """When the failing hook runs before any accumulation nothing can be written."""
    a, b, c = _leaves()
    loss = (a * 2).sum()
    a.register_hook(_raise)
    _assert_fails_untouched(loss.backward, (a, b, c))


@pytest.mark.parametrize("register", ["register_hook", "register_prehook"])
def test_node_hook_raising_leaves_grads_untouched(register):
    a, b, c = _leaves()
    loss, e = _loss(a, b, c)
    getattr(e.grad_fn, register)(_raise)  # ExpBackward0: runs after a and b are accumulated
    _assert_fails_untouched(loss.backward, (a, b, c))


def test_bad_hook_return_shape_leaves_grads_untouched():
    import torch

    a, b, c = _leaves()
    c.register_hook(lambda g: engine.ones(3))  # wrong shape
    _assert_fails_untouched(lambda: _loss(a, b, c)[0].backward(), (a, b, c), RuntimeError)
    # torch refuses the same hook with a RuntimeError too
    tc = torch.tensor([3.0, -0.5], requires_grad=True)
    tc.register_hook(lambda g: torch.ones(3))
    with pytest.raises(RuntimeError, match="hook"):
        (tc.exp() * 2).sum().backward()


def test_failed_backward_with_retain_graph_can_run_again():
    """After a failure the graph (retained) still gives exactly one step's gradient."""
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    loss = (a * a).sum()
    handle = loss.grad_fn.register_prehook(_raise)
    with pytest.raises(BoomError):
        loss.backward(retain_graph=True)
    handle.remove()
    loss.backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.array([2.0, 4.0], np.float32))
