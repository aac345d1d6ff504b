"""``engine.autograd.grad`` and ``engine.autograd.backward`` against torch's."""

import numpy as np
import pytest
import torch
import torch.nn.functional as tF  # noqa: N812

import engine
from tests.engine._support.autograd_helpers import assert_close, same_error, twin


def _tutorial_pair():
    ew, tw = twin((5, 3), seed=1)
    eb, tb = twin((3,), seed=2)
    eloss = engine.nn.functional.binary_cross_entropy_with_logits(
        engine.matmul(engine.ones(5), ew) + eb, engine.zeros(3))
    tloss = tF.binary_cross_entropy_with_logits(torch.matmul(torch.ones(5), tw) + tb,
                                                torch.zeros(3))
    return (ew, eb, eloss), (tw, tb, tloss)


def test_grad_values_equal_torch_and_leave_dot_grad_alone():
    (ew, eb, eloss), (tw, tb, tloss) = _tutorial_pair()
    egw, egb = engine.autograd.grad(eloss, [ew, eb])
    tgw, tgb = torch.autograd.grad(tloss, [tw, tb])
    assert_close(egw, tgw)
    assert_close(egb, tgb)
    assert ew.grad is None and eb.grad is None
    assert not egw.requires_grad and egw.grad_fn is None
    assert egw.shape == ew.shape and egw.dtype is engine.float32


def test_grad_of_single_tensor_input_returns_a_tuple():
    ea, ta = twin((3,))
    res = engine.autograd.grad(ea * 3, ea, engine.ones(3))
    tres = torch.autograd.grad(ta * 3, ta, torch.ones(3))
    assert isinstance(res, tuple) and len(res) == len(tres) == 1
    assert res[0].tolist() == tres[0].tolist() == [3.0, 3.0, 3.0]


def test_grad_does_not_touch_existing_grad():
    ea, _ = twin((3,))
    (ea * 2).backward(engine.ones(3))
    before = ea.grad
    (g,) = engine.autograd.grad(ea * 5, ea, engine.ones(3))
    assert ea.grad is before and ea.grad.tolist() == [2.0, 2.0, 2.0]
    assert g.tolist() == [5.0, 5.0, 5.0]


def test_grad_frees_the_graph_like_backward():
    ea, ta = twin((3,))
    eo, to = ea.exp(), ta.exp()
    engine.autograd.grad(eo, ea, engine.ones(3))
    torch.autograd.grad(to, ta, torch.ones(3))
    same_error(lambda: engine.autograd.grad(eo, ea, engine.ones(3)),
               lambda: torch.autograd.grad(to, ta, torch.ones(3)))
    eo = ea.exp()
    engine.autograd.grad(eo, ea, engine.ones(3), retain_graph=True)
    (g,) = engine.autograd.grad(eo, ea, engine.ones(3))
    np.testing.assert_allclose(g.numpy(), np.exp(ea.detach().numpy()), rtol=1e-6)


def test_unused_input_raises_torch_error():
    ea, ta = twin((3,))
    eb, tb = twin((3,), seed=1)
    same_error(lambda: engine.autograd.grad(ea * 2, [ea, eb], engine.ones(3)),
               lambda: torch.autograd.grad(ta * 2, [ta, tb], torch.ones(3)))


def test_allow_unused_returns_none_and_materialize_returns_zeros():
    ea, ta = twin((3,))
    eb, tb = twin((2,), seed=1)
    eg = engine.autograd.grad(ea * 2, [eb, ea], engine.ones(3), allow_unused=True)
    tg = torch.autograd.grad(ta * 2, [tb, ta], torch.ones(3), allow_unused=True)
    assert eg[0] is None and tg[0] is None
    assert eg[1].tolist() == tg[1].tolist()
    eg = engine.autograd.grad(ea * 2, [eb, ea], engine.ones(3), materialize_grads=True)
    tg = torch.autograd.grad(ta * 2, [tb, ta], torch.ones(3), materialize_grads=True)
    assert eg[0].tolist() == tg[0].tolist() == [0.0, 0.0]
    assert eg[0].shape == eb.shape


def test_input_not_requiring_grad_raises():
    ea, ta = twin((3,))
    ec, tc = twin((3,), requires_grad=False)
    same_error(lambda: engine.autograd.grad(ea * 2, [ec], engine.ones(3)),
               lambda: torch.autograd.grad(ta * 2, [tc], torch.ones(3)))


def test_empty_inputs_raise():
    ea, ta = twin((3,))
    same_error(lambda: engine.autograd.grad(ea * 2, [], engine.ones(3)),
               lambda: torch.autograd.grad(ta * 2, [], torch.ones(3)))


def test_non_leaf_inputs():
    ea, ta = twin((3,))
    res = []
    for m, a in ((engine, ea), (torch, ta)):
        h = a * 2
        k = h.exp()
        out = k * h
        res.append(m.autograd.grad(out, [h, k, a], m.ones(3)))
    for e, t in zip(*res):
        assert_close(e, t, rtol=1e-5)
    assert ea.grad is None


def test_input_listed_twice_gets_its_gradient_twice():
    ea, ta = twin((3,))
    eg = engine.autograd.grad(ea * 4, [ea, ea], engine.ones(3))
    tg = torch.autograd.grad(ta * 4, [ta, ta], torch.ones(3))
    assert [g.tolist() for g in eg] == [g.tolist() for g in tg] == [[4.0] * 3] * 2


def test_only_needed_nodes_run():
    ea, ta = twin((3,))
    eb, tb = twin((3,), seed=1)
    calls = {"e": [], "t": []}
    for key, m, a, b in (("e", engine, ea, eb), ("t", torch, ta, tb)):
        x = a * 2
        y = b.exp()
        y.register_hook(lambda g, key=key: calls[key].append("y"))
        y.grad_fn.register_prehook(lambda go, key=key: calls[key].append("exp"))
        x.register_hook(lambda g, key=key: calls[key].append("x"))
        (g,) = m.autograd.grad(x + y, a, m.ones(3))
        assert g.tolist() == [2.0, 2.0, 2.0]
    assert calls["e"] == calls["t"] == ["x"]
    assert eb.grad is None


def test_grad_of_intermediate_stops_there():
    ea, ta = twin((3,))
    calls = {"e": [], "t": []}
    for key, m, a in (("e", engine, ea), ("t", torch, ta)):
        h = a.exp()
        h.grad_fn.register_prehook(lambda go, key=key: calls[key].append("exp"))
        (g,) = m.autograd.grad(h * 3, h, m.ones(3))
        assert g.tolist() == [3.0, 3.0, 3.0]
    assert calls["e"] == calls["t"] == []


def test_grad_outputs_for_several_outputs():
    ea, ta = twin((3,))
    res = []
    for m, a in ((engine, ea), (torch, ta)):
        x, y = a * 2, a.exp()
        res.append(m.autograd.grad([x, y], a, [m.ones(3), m.full((3,), 0.5)]))
    assert_close(res[0][0], res[1][0], rtol=1e-6)


def test_grad_with_scalar_output_and_no_grad_outputs():
    ea, ta = twin((4,))
    (eg,) = engine.autograd.grad((ea * ea).sum(), ea)
    (tg,) = torch.autograd.grad((ta * ta).sum(), ta)
    assert_close(eg, tg)


def test_create_graph_gives_torchs_second_derivative():
    """grad with create_graph=True is itself differentiable: d/da sum((d(a*a*b)/da)^2)."""
    ea, ta = twin((3,))
    eb, tb = twin((3,), seed=1)
    for m, a, b in ((engine, ea, eb), (torch, ta, tb)):
        (ga,) = m.autograd.grad(a * a * b, a, m.ones(3), create_graph=True)
        assert ga.requires_grad and ga.grad_fn is not None
        (ga * ga).sum().backward()
    assert_close(ea.grad, ta.grad)
    assert_close(eb.grad, tb.grad)


# ----------------------------------------------------------------- autograd.backward

def test_backward_with_grad_tensors_for_several_roots():
    ea, ta = twin((3,))
    eb, tb = twin((3,), seed=1)
    for m, a, b in ((engine, ea, eb), (torch, ta, tb)):
        x, y, z = a * b, a.exp(), b * 3
        m.autograd.backward([x, y, z], [m.ones(3), m.full((3,), 2.0),
                                        m.tensor([1.0, -1.0, 0.5])])
    assert_close(ea.grad, ta.grad, rtol=1e-5)
    assert_close(eb.grad, tb.grad, rtol=1e-5)


def test_backward_with_the_same_root_twice_adds_both_gradients():
    ea, ta = twin((3,))
    for m, a in ((engine, ea), (torch, ta)):
        x = a * 2
        m.autograd.backward([x, x], [m.ones(3), m.full((3,), 3.0)])
    assert ea.grad.tolist() == ta.grad.tolist() == [8.0, 8.0, 8.0]


def test_backward_with_a_single_tensor_and_none():
    ea, ta = twin((3,))
    for m, a in ((engine, ea), (torch, ta)):
        m.autograd.backward((a * a).sum())
        m.autograd.backward(a * 3, m.ones(3))
    assert_close(ea.grad, ta.grad)


def test_backward_with_inputs_accumulates_only_there():
    ea, ta = twin((3,))
    eb, tb = twin((3,), seed=1)
    for m, a, b in ((engine, ea, eb), (torch, ta, tb)):
        (a * b).backward(m.ones(3), inputs=[a])
    assert_close(ea.grad, ta.grad)
    assert eb.grad is None and tb.grad is None


def test_backward_root_not_requiring_grad_among_several():
    ea, ta = twin((3,))
    same_error(lambda: engine.autograd.backward([ea * 2, engine.ones(3)],
                                                [engine.ones(3), engine.ones(3)]),
               lambda: torch.autograd.backward([ta * 2, torch.ones(3)],
                                               [torch.ones(3), torch.ones(3)]))
    assert ea.grad is None


@pytest.mark.parametrize("grad", [lambda m: m.tensor(2.0), lambda m: 2.0 * m.ones(())])
def test_explicit_zero_dim_root_gradient(grad):
    ea, ta = twin((3,))
    eb, tb = twin((3,), seed=1)
    for m, a, b in ((engine, ea, eb), (torch, ta, tb)):
        out = m.dot(a, b)
        out.backward(grad(m))
    assert_close(ea.grad, ta.grad)
    (g,) = engine.autograd.grad(engine.dot(ea, eb), eb, engine.tensor(3.0))
    assert_close(g, 3 * ea.detach())


def test_strided_root_gradient_is_accepted():
    ea, ta = twin((2, 3))
    gdata = np.arange(6, dtype=np.float32).reshape(3, 2)
    (ea * 2).backward(engine.from_numpy(gdata).t())
    (ta * 2).backward(torch.from_numpy(gdata).t())
    assert_close(ea.grad, ta.grad)


def test_backward_with_non_leaf_inputs_fills_their_grad():
    ea, ta = twin((3,))
    res = []
    for m, a in ((engine, ea), (torch, ta)):
        h = a * 2
        h.register_hook(lambda g: g * 10)
        (h * h).backward(m.ones(3), inputs=[h], retain_graph=True)
        first = h.grad.tolist()
        (h * h).backward(m.ones(3), inputs=[h])
        res.append((first, h.grad.tolist(), h.retains_grad, a.grad))
    assert_close(engine.tensor(res[0][0]), torch.tensor(res[1][0]))
    assert_close(engine.tensor(res[0][1]), torch.tensor(res[1][1]))
    assert res[0][2:] == res[1][2:] == (True, None)


@pytest.mark.parametrize("inputs", [lambda m: [], lambda m: [m.ones(3)]])
def test_backward_with_bad_inputs(inputs):
    ea, ta = twin((3,))
    same_error(lambda: (ea * 2).backward(engine.ones(3), inputs=inputs(engine)),
               lambda: (ta * 2).backward(torch.ones(3), inputs=inputs(torch)))
    assert ea.grad is None


def test_backward_with_an_input_outside_the_graph_does_nothing():
    ea, ta = twin((3,))
    for m, a in ((engine, ea), (torch, ta)):
        b = m.ones(3, requires_grad=True)
        (a * 2).backward(m.ones(3), inputs=[b])
        assert a.grad is None and b.grad is None
