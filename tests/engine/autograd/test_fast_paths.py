"""The performance fast paths give the same results as the general ones, and never alias.

- a leaf whose ``.grad`` is None adopts a large gradient buffer the pass owns alone,
  instead of copying it: no two ``.grad`` tensors, no user tensor and no buffer shown to
  a hook or a ``Step`` may then share memory;
- ``sum_to`` reduces a bias-like (trailing-dims) shape by whole rows;
- an unrecorded ``add_``/``sub_``/``mul_`` writes straight into the tensor's buffer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.ops.base import _plan, flat, unbroadcast

N = 1 << 15  # above the adoption threshold


def _leaf(seed: int, n: int = N) -> tuple[engine.Tensor, torch.Tensor]:
    data = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    return engine.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)


def _shares(a: engine.Tensor, b: engine.Tensor | np.ndarray) -> bool:
    other = b._data if isinstance(b, engine.Tensor) else b
    return np.shares_memory(a._data, other)


def test_a_gradient_passed_to_two_leaves_is_not_shared():
    (a, ta), (b, tb) = _leaf(0), _leaf(1)
    g = engine.ones(N)
    (a.sigmoid() + b.sigmoid()).backward(g)
    (ta.sigmoid() + tb.sigmoid()).backward(torch.ones(N))
    assert not _shares(a.grad, b.grad)
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-5)


def test_the_same_leaf_twice_and_a_user_gradient():
    x, tx = _leaf(2)
    g = engine.ones(N)
    (x + x).backward(g)  # AddBackward0 hands g itself to both uses of x
    (tx + tx).backward(torch.ones(N))
    assert not _shares(x.grad, g)
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    y = x * 3.0
    y.backward(g)  # g goes nowhere else, but it is the caller's: never adopted
    assert not _shares(x.grad, g)
    np.testing.assert_array_equal(g.numpy(), np.ones(N, np.float32))


def test_an_adopted_grad_accumulates_in_place_afterwards():
    x, tx = _leaf(3)
    for _ in range(2):
        x.sigmoid().backward(engine.ones(N))
        tx.sigmoid().backward(torch.ones(N))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5)
    grad = x.grad
    x.sigmoid().sum().backward()
    assert x.grad is grad


def test_a_hook_keeps_its_own_gradient():
    x, _ = _leaf(4)
    seen = []
    x.register_hook(seen.append)
    x.sigmoid().backward(engine.ones(N))
    assert not _shares(x.grad, seen[0])
    w, _ = _leaf(5)
    node_seen = []
    y = w.sigmoid()
    y.grad_fn.register_hook(lambda ins, outs: node_seen.append(ins[0]))
    y.backward(engine.ones(N))
    assert not _shares(w.grad, node_seen[0])


def test_steps_never_share_a_buffer_with_grad():
    x, _ = _leaf(6)
    steps = list(engine.autograd.backward_steps(x.sigmoid(), engine.ones(N)))
    assert not _shares(x.grad, steps[0].grad_inputs[0])


def test_mm_and_bias_gradients_match_torch():
    rng = np.random.default_rng(7)
    x0 = rng.standard_normal((256, 128)).astype(np.float32)
    w0 = rng.standard_normal((128, 256)).astype(np.float32)
    b0 = rng.standard_normal(256).astype(np.float32)
    e = [engine.tensor(v, requires_grad=True) for v in (x0, w0, b0)]
    t = [torch.tensor(v, requires_grad=True) for v in (x0, w0, b0)]
    (e[0] @ e[1] + e[2]).relu().sum().backward()
    (t[0] @ t[1] + t[2]).relu().sum().backward()
    for a, b in zip(e, t):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert not _shares(e[0].grad, e[1].grad)


@pytest.mark.parametrize(("big", "small"), [
    ((64, 256), (256,)), ((4, 3, 5), (1, 3, 5)), ((4, 3, 5), ()), ((4, 3, 5), (1, 1, 1)),
    ((4, 3, 5), (5,)), ((4, 3, 5), (3, 1)), ((2, 0, 3), (3,)), ((4, 3, 5), (4, 1, 5)),
    ((4, 1, 5), (1, 5)), ((1, 4), (4,))])
def test_sum_to_matches_numpy(big, small):
    g = np.random.default_rng(8).standard_normal(big)
    lead = len(big) - len(small)
    axes = tuple(i for i in range(len(big)) if i < lead or small[i - lead] == 1)
    np.testing.assert_allclose(unbroadcast(g, small), g.sum(axis=axes).reshape(small))
    big_shape, strides, size = _plan(small, big)
    assert unbroadcast(g, small).shape == small and size == int(np.prod(small))
    assert flat(g).size == g.size and big_shape.tolist() == list(big)


@pytest.mark.parametrize("op", ["add_", "sub_", "mul_"])
@pytest.mark.parametrize("other", [0.5, 2, "same", "row", "scalar tensor"])
def test_unrecorded_inplace_matches_torch(op, other):
    rng = np.random.default_rng(9)
    d = rng.standard_normal((4, 3)).astype(np.float32)
    o = {"same": rng.standard_normal((4, 3)), "row": rng.standard_normal(3),
         "scalar tensor": np.array(1.5)}.get(other)
    e, t = engine.tensor(d), torch.tensor(d)
    eo = other if o is None else engine.tensor(o.astype(np.float32))
    to = other if o is None else torch.tensor(o.astype(np.float32))
    data, version = e._data, e._version
    with engine.no_grad():
        getattr(e, op)(eo)
    getattr(t, op)(to)
    assert e._data is data and e._version == version + 1
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_unrecorded_inplace_keeps_the_general_errors():
    x = engine.zeros(3)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        x.add_(engine.zeros(2, 3))
    n = engine.zeros(3, dtype=engine.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        n.add_(0.5)
