"""Misuse of autograd raises torch's exception type and message; reading a non-leaf's
``.grad`` warns like torch."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as tF  # noqa: N812

import engine
from tests.engine._support.autograd_helpers import same_error, twin


def test_numpy_on_tensor_requiring_grad():
    ea, ta = twin((3,))
    same_error(ea.numpy, ta.numpy)
    np.testing.assert_array_equal(ea.detach().numpy(), ta.detach().numpy())
    same_error((ea * 2).numpy, (ta * 2).numpy)


def test_implicit_gradient_needs_a_scalar():
    ea, ta = twin((3,))
    err = same_error((ea * 2).backward, (ta * 2).backward)
    assert str(err) == "grad can be implicitly created only for scalar outputs"
    assert ea.grad is None


def test_one_element_non_scalar_output_gets_an_implicit_gradient():
    ea, ta = twin((1, 1))
    (ea * 3).backward()
    (ta * 3).backward()
    assert ea.grad.tolist() == ta.grad.tolist() == [[3.0]]


@pytest.mark.parametrize("build", [lambda m, a: a * 2, lambda m, a: m.ones(3),
                                   lambda m, a: a.detach().exp()])
def test_backward_on_tensor_not_requiring_grad(build):
    ea, ta = twin((3,), requires_grad=False)
    err = same_error(lambda: build(engine, ea).backward(engine.ones(3)),
                     lambda: build(torch, ta).backward(torch.ones(3)))
    assert "does not require grad and does not have a grad_fn" in str(err)


def test_backward_under_no_grad_result():
    ea, ta = twin((3,))
    with engine.no_grad():
        eo = ea * 2
    with torch.no_grad():
        to = ta * 2
    same_error(lambda: eo.backward(engine.ones(3)), lambda: to.backward(torch.ones(3)))


@pytest.mark.parametrize("make", [
    lambda m: m.tensor([1, 2], requires_grad=True),
    lambda m: m.tensor([True], requires_grad=True),
    lambda m: m.ones(3, dtype=m.int64, requires_grad=True),
    lambda m: m.zeros(2, dtype=m.int64, requires_grad=True),
    lambda m: m.arange(3, requires_grad=True),
    lambda m: m.full((2,), 3, requires_grad=True),
    lambda m: m.tensor([1, 2]).requires_grad_(),
    lambda m: setattr(m.tensor([1, 2]), "requires_grad", True),
    lambda m: m.ones_like(m.tensor([1]), requires_grad=True),
])
def test_integer_tensor_cannot_require_grad(make):
    err = same_error(lambda: make(engine), lambda: make(torch))
    assert "floating point" in str(err)


def test_integer_tensor_may_switch_requires_grad_off():
    for m in (engine, torch):
        t = m.tensor([1, 2])
        assert t.requires_grad_(False) is t
        t.requires_grad = False
        assert not t.requires_grad


@pytest.mark.parametrize("flag", [True, False])
def test_requires_grad_of_non_leaf_cannot_be_set(flag):
    ea, ta = twin((3,))
    eh, th = ea * 2, ta * 2

    def set_e():
        eh.requires_grad = flag

    def set_t():
        th.requires_grad = flag

    same_error(set_e, set_t)
    if flag:  # torch lets the method confirm the flag a non-leaf already has
        assert eh.requires_grad_(True) is eh and th.requires_grad_(True) is th
    else:
        same_error(lambda: eh.requires_grad_(False), lambda: th.requires_grad_(False))
    assert eh.requires_grad and not eh.is_leaf


def test_requires_grad_of_a_leaf_can_be_switched():
    for m in (engine, torch):
        t = m.ones(3)
        t.requires_grad_()
        assert t.requires_grad and t.is_leaf
        out = t * 2
        assert out.grad_fn is not None
        t.requires_grad = False
        assert not (t * 2).requires_grad


@pytest.mark.parametrize("shape", [(4,), (1, 3), (3, 1), ()])
def test_gradient_shape_mismatch(shape):
    ea, ta = twin((3,))
    err = same_error(lambda: (ea * 2).backward(engine.ones(shape)),
                     lambda: (ta * 2).backward(torch.ones(shape)))
    assert str(err).startswith("Mismatch in shape: grad_output[0] has a shape of engine.Size(")
    assert ea.grad is None


def test_gradient_count_mismatch():
    ea, ta = twin((3,))
    eo, to = ea * 2, ta * 2
    same_error(lambda: engine.autograd.backward([eo, eo], [engine.ones(3)]),
               lambda: torch.autograd.backward([to, to], [torch.ones(3)]))


@pytest.mark.parametrize("shapes", [((3,), (4,)), ((2, 3), (3,)), ((3,), (1, 3))])
def test_bce_size_mismatch_is_value_error(shapes):
    xs, ys = shapes
    ex, tx = twin(xs)
    ey, ty = twin(ys, requires_grad=False)
    err = same_error(lambda: engine.nn.functional.binary_cross_entropy_with_logits(ex, ey),
                     lambda: tF.binary_cross_entropy_with_logits(tx, ty))
    assert isinstance(err, ValueError)


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fn()
    return value, caught


def test_non_leaf_grad_warns_like_torch():
    ea, ta = twin((3,))
    eh, th = ea * 2, ta * 2
    ev, ew = _warnings_of(lambda: eh.grad)
    tv, tw = _warnings_of(lambda: th.grad)
    assert ev is None and tv is None
    assert [w.category for w in ew] == [w.category for w in tw] == [UserWarning]
    tmsg = str(tw[0].message)
    emsg = str(ew[0].message)
    end = tmsg.index("instead.") + len("instead.")
    assert emsg[:end] == tmsg[:end]
    assert ew[0].filename == __file__  # points at the user's line, as torch's does


def _retaining():
    """``(m, a, h)`` for the engine and for torch: a twin leaf ``a`` and ``h = a * 2``,
    which retains its grad."""
    for m, a in zip((engine, torch), twin((3,))):
        h = a * 2
        h.retain_grad()
        yield m, a, h


def test_leaf_grad_and_retained_grad_are_silent():
    results = []
    for m, a, h in _retaining():
        assert h.retains_grad and not a.retains_grad
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert h.grad is None
            (h * h).backward(m.ones(3))
            results.append((h.grad.tolist(), a.grad.tolist()))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_retain_grad_accumulates_and_is_a_fresh_tensor():
    grads = []
    for m, a, h in _retaining():
        out = h * 3
        out.backward(m.ones(3), retain_graph=True)
        first = h.grad
        out.backward(m.ones(3))
        grads.append((first.tolist(), h.grad.tolist()))
        assert not np.shares_memory(np.asarray(h.grad.detach().numpy()),
                                    np.asarray(a.grad.detach().numpy()))
    assert grads[0] == grads[1] == ([3.0] * 3, [6.0] * 3)


def test_retain_grad_on_tensor_without_grad():
    same_error(lambda: engine.ones(3).retain_grad(), lambda: torch.ones(3).retain_grad())


def test_retain_grad_on_leaf_is_a_no_op():
    for m in (engine, torch):
        a = m.ones(3, requires_grad=True)
        a.retain_grad()
        (a * 2).backward(m.ones(3))
        assert a.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("value", [lambda m: m.ones(4), lambda m: m.ones(3, dtype=m.float64),
                                   lambda m: m.ones(2, 3, dtype=m.float64),
                                   lambda m: m.ones(3, dtype=m.int64),
                                   lambda m: [1.0, 2.0, 3.0]])
def test_assigning_a_wrong_grad(value):
    ea, ta = twin((3,))

    def set_e():
        ea.grad = value(engine)

    def set_t():
        ta.grad = value(torch)

    same_error(set_e, set_t)


@pytest.mark.parametrize("call", [
    lambda m, a: (a * 3).backward([1.0, 1.0, 1.0]),
    lambda m, a: m.autograd.backward([a * 3], [2.0]),
    lambda m, a: m.autograd.backward([a * 2, a * 3], [m.ones(4), m.ones(3)]),
    lambda m, a: m.autograd.backward([a * 2, a.detach()], [m.ones(3), m.ones(3)]),
    lambda m, a: m.autograd.backward([a.detach() * 2], [m.ones(2)]),
    lambda m, a: m.autograd.backward([a * 2, a * 3], [m.ones(2)]),
    lambda m, a: m.autograd.backward([a * 2, a * 3]),
])
def test_checks_on_root_gradients_come_in_torch_order(call):
    ea, ta = twin((3,))
    same_error(lambda: call(engine, ea), lambda: call(torch, ta))
    assert ea.grad is None
