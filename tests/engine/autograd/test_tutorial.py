"""The three code blocks of torch's autograd tutorial, run on the engine and on torch."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as tF  # noqa: N812

import engine
from tests.engine._support.autograd_helpers import assert_close, from_torch, same_error

SECOND_BACKWARD_START = "Trying to backward through the graph a second time"


@pytest.fixture
def tutorial():
    """Block 1: the one-layer network with a BCE-with-logits loss, in both libraries."""
    torch.manual_seed(0)
    x, y = torch.ones(5), torch.zeros(3)
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = tF.binary_cross_entropy_with_logits(z, y)

    ex, ey = engine.ones(5), engine.zeros(3)
    ew, eb = from_torch(w), from_torch(b)
    ez = engine.matmul(ex, ew) + eb
    eloss = engine.nn.functional.binary_cross_entropy_with_logits(ez, ey)
    return {"t": (w, b, z, loss), "e": (ew, eb, ez, eloss)}


def test_forward_values_and_reprs(tutorial):
    w, b, z, loss = tutorial["t"]
    ew, eb, ez, eloss = tutorial["e"]
    assert_close(ez, z)
    assert_close(eloss, loss)
    assert re.fullmatch(r"<AddBackward0 object at 0x[0-9a-f]+>", repr(ez.grad_fn))
    assert repr(eloss) == repr(loss).replace("torch.", "engine.")
    assert repr(eloss.grad_fn).startswith("<BinaryCrossEntropyWithLogitsBackward0 object at 0x")
    assert ez.requires_grad and not ez.is_leaf and ew.is_leaf


def test_gradients_equal_torch(tutorial):
    w, b, _, loss = tutorial["t"]
    ew, eb, _, eloss = tutorial["e"]
    loss.backward()
    eloss.backward()
    assert ew.grad.shape == engine.Size([5, 3])
    assert_close(ew.grad, w.grad)
    assert_close(eb.grad, b.grad)
    assert ew.grad.dtype is engine.float32
    assert not ew.grad.requires_grad and ew.grad.grad_fn is None


def test_second_backward_raises_torch_error_and_changes_nothing(tutorial):
    w, b, _, loss = tutorial["t"]
    ew, eb, _, eloss = tutorial["e"]
    loss.backward()
    eloss.backward()
    gw, gb = ew.grad, eb.grad
    before = (gw.numpy().copy(), gb.numpy().copy(), gw._version)
    err = same_error(eloss.backward, loss.backward)
    assert str(err).startswith(SECOND_BACKWARD_START)
    assert isinstance(err, RuntimeError)
    assert ew.grad is gw and eb.grad is gb
    np.testing.assert_array_equal(gw.numpy(), before[0])
    np.testing.assert_array_equal(gb.numpy(), before[1])
    assert gw._version == before[2]


def test_retain_graph_allows_a_second_backward(tutorial):
    w, b, _, loss = tutorial["t"]
    ew, eb, _, eloss = tutorial["e"]
    for _ in range(2):
        loss.backward(retain_graph=True)
        eloss.backward(retain_graph=True)
    assert_close(ew.grad, w.grad)
    assert_close(eb.grad, b.grad)
    loss.backward()
    eloss.backward()
    assert_close(ew.grad, w.grad)
    same_error(eloss.backward, loss.backward)


def test_accumulation_example():
    """Block 3: gradients of a non-scalar output accumulate into the same ``.grad``."""
    inp = engine.eye(5, requires_grad=True)
    out = (inp + 1).pow(2)
    tinp = torch.eye(5, requires_grad=True)
    tout = (tinp + 1).pow(2)
    assert repr(out) == repr(tout).replace("torch.", "engine.")

    out.backward(engine.ones_like(inp), retain_graph=True)
    tout.backward(torch.ones_like(tinp), retain_graph=True)
    first = inp.grad
    expected = np.where(np.eye(5, dtype=bool), 4.0, 2.0).astype(np.float32)
    np.testing.assert_array_equal(first.numpy(), expected)
    assert repr(inp.grad) == repr(tinp.grad)

    out.backward(engine.ones_like(inp), retain_graph=True)
    tout.backward(torch.ones_like(tinp), retain_graph=True)
    assert inp.grad is first
    np.testing.assert_array_equal(inp.grad.numpy(), 2 * expected)
    assert repr(inp.grad) == repr(tinp.grad)

    assert inp.grad.zero_() is first
    np.testing.assert_array_equal(first.numpy(), np.zeros((5, 5), np.float32))
    out.backward(engine.ones_like(inp), retain_graph=True)
    tinp.grad.zero_()
    tout.backward(torch.ones_like(tinp), retain_graph=True)
    assert inp.grad is first
    np.testing.assert_array_equal(inp.grad.numpy(), expected)
    assert repr(inp.grad) == repr(tinp.grad)


def test_assigning_none_resets_the_gradient():
    inp = engine.eye(5, requires_grad=True)
    out = (inp + 1).pow(2)
    out.backward(engine.ones_like(inp), retain_graph=True)
    old = inp.grad
    inp.grad = None
    assert inp.grad is None
    out.backward(engine.ones_like(inp))
    assert inp.grad is not old
    expected = np.where(np.eye(5, dtype=bool), 4.0, 2.0)
    np.testing.assert_array_equal(inp.grad.numpy(), expected)
    np.testing.assert_array_equal(old.numpy(), expected)  # the dropped one was left alone


def test_no_grad_and_detach_stop_tracking(tutorial):
    """Block 2: disabling gradient tracking."""
    ew, eb, ez, _ = tutorial["e"]
    x = engine.ones(5)
    assert ez.requires_grad
    with engine.no_grad():
        z = engine.matmul(x, ew) + eb
    assert not z.requires_grad and z.grad_fn is None and z.is_leaf
    d = ez.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), ez.detach().numpy())
    # detach shares the data
    assert np.shares_memory(d.numpy(), ez.detach().numpy())
