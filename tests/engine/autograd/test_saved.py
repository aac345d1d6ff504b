"""Saved tensors: freed after backward, kept by retain_graph, guarded by version counters;
and in-place ops on tensors in a graph."""

import gc
import weakref

import numpy as np
import pytest
import torch

import engine
from tests.engine._support.autograd_helpers import assert_close, same_error, twin

# ----------------------------------------------------------------- freeing


def test_saved_buffer_is_freed_by_backward():
    a = engine.tensor([0.5, 1.5, 2.5], requires_grad=True)
    h = a.exp()  # saved by ExpBackward0 (its result) and LogBackward0 (its input)
    ref = weakref.ref(h._data)
    out = h.log()
    del h
    gc.collect()
    assert ref() is not None  # the graph keeps it alive for backward
    out.backward(engine.ones(3))
    gc.collect()
    assert ref() is None  # freed although ``out`` and its graph are still alive
    assert out.grad_fn.saved_tensors_released
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 1.0, 1.0], rtol=1e-6)


def test_retain_graph_keeps_the_saved_buffer_until_the_graph_is_dropped():
    a = engine.tensor([0.5, 1.5, 2.5], requires_grad=True)
    h = a.exp()
    ref = weakref.ref(h._data)
    out = h.log()
    del h
    out.backward(engine.ones(3), retain_graph=True)
    gc.collect()
    assert ref() is not None
    assert not out.grad_fn.saved_tensors_released
    out.backward(engine.ones(3), retain_graph=True)
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 2.0, 2.0], rtol=1e-6)
    del out
    gc.collect()
    assert ref() is None


def test_graph_without_saved_tensors_runs_twice_like_torch():
    for m in (engine, torch):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        out = (a + 1) - a  # AddBackward0 and SubBackward0 save no tensor
        out.backward(m.ones(2))
        out.backward(m.ones(2))
        assert a.grad.tolist() == [0.0, 0.0]


def test_sum_of_sum_graph_runs_twice_like_torch():
    ea, ta = twin((3,), seed=0)
    for a in (ea, ta):
        out = (a + 1).sum()
        out.backward()
        out.backward()
        assert a.grad.tolist() == [2.0, 2.0, 2.0]


def test_second_backward_through_mul_by_number_raises_like_torch():
    ea, ta = twin((3,), seed=0)
    eout, tout = ea * 2.0, ta * 2.0
    eout.backward(engine.ones(3))
    tout.backward(torch.ones(3))
    same_error(lambda: eout.backward(engine.ones(3)), lambda: tout.backward(torch.ones(3)))


def test_second_backward_error_names_freed_saved_values():
    ea, ta = twin((3,), seed=0)
    eout, tout = ea.exp(), ta.exp()
    eout.backward(engine.ones(3))
    tout.backward(torch.ones(3))
    same_error(lambda: eout.backward(engine.ones(3)), lambda: tout.backward(torch.ones(3)))
    np.testing.assert_allclose(ea.grad.numpy(), np.exp(ea.detach().numpy()), rtol=1e-6)


# ----------------------------------------------------------------- version counters

MODIFIED_UPTO = "instead."


def test_modified_saved_tensor_raises_torch_message():
    ea, ta = twin((3,), seed=2)
    ee, te = ea.exp(), ta.exp()
    eout, tout = ee * 1, te * 1  # keeps exp's output alive and in the graph
    ee.add_(1)
    te.add_(1)
    err = same_error(lambda: eout.backward(engine.ones(3)),
                     lambda: tout.backward(torch.ones(3)), upto=MODIFIED_UPTO)
    assert str(err).startswith(
        "one of the variables needed for gradient computation has been modified by an "
        "inplace operation: [engine.FloatTensor [3]], which is output 0 of Exp, is at "
        "version 1; expected version 0 instead.")
    assert ea.grad is None  # the failed pass touched nothing


def test_modified_input_of_mul_raises_torch_message():
    ex, tx = twin((2, 3), seed=3, requires_grad=False)
    ew, tw = twin((2, 3), seed=4)
    eout, tout = ex * ew, tx * tw
    ex.mul_(2)
    tx.mul_(2)
    same_error(lambda: eout.backward(engine.ones(2, 3)),
               lambda: tout.backward(torch.ones(2, 3)), upto=MODIFIED_UPTO)


def test_modification_through_a_view_is_seen():
    ex, tx = twin((2, 3), seed=3, requires_grad=False)
    ew, tw = twin((2, 3), seed=4)
    eout, tout = ex * ew, tx * tw
    ex[0].zero_()
    tx[0].zero_()
    assert ex._version == tx._version == 1
    same_error(lambda: eout.backward(engine.ones(2, 3)),
               lambda: tout.backward(torch.ones(2, 3)), upto=MODIFIED_UPTO)


def test_views_share_the_version_counter():
    for m in (engine, torch):
        a = m.ones(2, 3)
        v, t, r = a[1], a.t(), a.view(6)
        v.add_(1)
        assert (a._version, v._version, t._version, r._version) == (1, 1, 1, 1)
        t.mul_(2)
        assert a._version == r._version == 2
        c = a.clone()
        c.add_(1)
        assert c._version == 1 and a._version == 2


INPLACE_CALLS = [
    lambda t, m: t.add_(1),
    lambda t, m: t.add_(m.ones(3), alpha=2),
    lambda t, m: t.sub_(1),
    lambda t, m: t.mul_(2),
    lambda t, m: t.div_(2),
    lambda t, m: t.zero_(),
    lambda t, m: t.fill_(3),
    lambda t, m: t.copy_(m.ones(3)),
    lambda t, m: t.__setitem__(0, 5.0),
    lambda t, m: t.__setitem__(slice(0, 2), m.zeros(2)),
    lambda t, m: t.__iadd__(1),
    lambda t, m: t.__imul__(3),
]


@pytest.mark.parametrize("call", INPLACE_CALLS)
def test_version_increments_like_torch(call):
    versions = []
    for m in (engine, torch):
        t = m.tensor([1.0, 2.0, 3.0])
        res = call(t, m)
        if res is not None:
            assert res is t  # in-place ops return self
        call(t, m)
        versions.append((t._version, t.tolist()))
    assert versions[0] == versions[1]


@pytest.mark.parametrize("call", INPLACE_CALLS)
def test_inplace_on_leaf_requiring_grad_raises_torch_error(call):
    ea, ta = twin((3,), seed=6)
    same_error(lambda: call(ea, engine), lambda: call(ta, torch))
    assert ea._version == 0 and ea.requires_grad and ea.is_leaf


@pytest.mark.parametrize("call", INPLACE_CALLS)
def test_inplace_on_leaf_is_allowed_under_no_grad(call):
    ea, ta = twin((3,), seed=6)
    with engine.no_grad():
        call(ea, engine)
    with torch.no_grad():
        call(ta, torch)
    assert_close(ea, ta)
    assert ea._version == ta._version
    assert ea.is_leaf and ea.requires_grad and ea.grad_fn is None


@pytest.mark.parametrize("code", ["a.view(6).add_(1)", "a.t().mul_(2)", "a[0].zero_()",
                                  "a[0, 1:] = 1.0", "a[1] = 2.0", "a[..., 0] = 1.0",
                                  "a[None] = 1.0", "a.reshape(3, 2).fill_(1)"])
def test_inplace_on_view_of_leaf_raises_torch_error(code):
    def run(m, a):
        exec(code, {"a": a, "m": m})

    ea, ta = twin((2, 3), seed=8)
    err = same_error(lambda: run(engine, ea), lambda: run(torch, ta))
    assert str(err).startswith("a view of a leaf Variable")
    assert ea._version == 0


@pytest.mark.parametrize("code", ["a[...] = 1.0", "a[[0, 1]] = 1.0", "a[:] = 1.0"])
def test_setitem_without_view_on_leaf_raises_leaf_error(code):
    def run(a):
        exec(code, {"a": a})

    ea, ta = twin((2, 3), seed=8)
    err = same_error(lambda: run(ea), lambda: run(ta))
    assert str(err).startswith("a leaf Variable")


def test_inplace_on_detached_leaf_is_allowed_and_seen():
    ea, ta = twin((3,), seed=9)
    eout = ea.exp()
    d = ea.detach()
    d.add_(1)  # allowed; it modifies a's data, which ExpBackward0 does not save
    assert ea._version == 1
    np.testing.assert_allclose(ea.detach().numpy(), ta.detach().numpy() + 1)
    eout.backward(engine.ones(3))  # exp saved its result, not a
    assert ea.grad is not None


# ----------------------------------------------------------------- in-place on non-leaves

def _case(name, call, node, marks=()):
    return pytest.param(call, node, id=name, marks=marks)


NONLEAF_CASES = [
    _case("add_", lambda t, m, o: t.add_(o), "AddBackward0"),
    _case("add_alpha", lambda t, m, o: t.add_(o, alpha=-3), "AddBackward0"),
    _case("add_number", lambda t, m, o: t.add_(2.5), "AddBackward0"),
    _case("sub_", lambda t, m, o: t.sub_(o), "SubBackward0"),
    _case("mul_", lambda t, m, o: t.mul_(o), "MulBackward0"),
    _case("mul_number", lambda t, m, o: t.mul_(-2.0), "MulBackward0"),
    _case("div_", lambda t, m, o: t.div_(o), "DivBackward0"),
    _case("zero_", lambda t, m, o: t.zero_(), "ZeroBackward0"),
    _case("fill_", lambda t, m, o: t.fill_(2.0), "FillBackward2"),
    _case("copy_", lambda t, m, o: t.copy_(o), "CopyBackwards"),
    _case("copy_broadcast", lambda t, m, o: t.copy_(o[0]), "CopyBackwards"),
    _case("setitem_number", lambda t, m, o: t.__setitem__(0, 5.0), "CopySlices"),
    _case("setitem_tensor", lambda t, m, o: t.__setitem__(1, o[0]), "CopySlices"),
    _case("setitem_slice", lambda t, m, o: t.__setitem__((slice(None), 1), o[:, 2]),
          "CopySlices"),
    _case("iadd", lambda t, m, o: t.__iadd__(o), "AddBackward0"),
    _case("imul", lambda t, m, o: t.__imul__(o), "MulBackward0"),
]


@pytest.mark.parametrize(("call", "name"), NONLEAF_CASES)
def test_inplace_on_non_leaf_records_torch_node_and_gradients(call, name):
    ea, ta = twin((2, 3), seed=10)
    eo, to = twin((2, 3), seed=11)
    results = []
    for m, a, o in ((engine, ea, eo), (torch, ta, to)):
        h = a * 2.0
        res = call(h, m, o)
        if res is not None:
            assert res is h
        assert h._version == 1
        results.append(h)
        (h * h).backward(m.ones(2, 3))
    eh, th = results
    assert eh.grad_fn.name() == th.grad_fn.name().replace("torch::autograd::", "") == name
    assert_close(eh, th)
    assert ea.grad is not None, "no gradient reached the leaf behind the overwritten tensor"
    assert_close(ea.grad, ta.grad)
    if to.grad is None:
        assert eo.grad is None
    else:
        assert_close(eo.grad, to.grad)


def test_inplace_keeps_retained_grad():
    ea, ta = twin((3,), seed=12)
    results = []
    for m, a in ((engine, ea), (torch, ta)):
        h = a * 1.0
        h.retain_grad()
        h.mul_(3.0)
        (h * h).backward(m.ones(3))
        results.append(h.grad)
    assert_close(results[0], results[1])


def test_inplace_on_non_leaf_without_grad_input_under_no_grad():
    ea, ta = twin((3,), seed=13)
    for m, a in ((engine, ea), (torch, ta)):
        h = a * 2.0
        with m.no_grad():
            h.add_(1)
        assert h.grad_fn.name() == "MulBackward0"
        h.backward(m.ones(3))
    assert_close(ea.grad, ta.grad)


def test_inplace_through_view_of_non_leaf_updates_base_history():
    ea, ta = twin((3,), seed=14)
    for m, a in ((engine, ea), (torch, ta)):
        b = a * 1.0
        b.view(3).mul_(2.0)
        (b * 1.0).backward(m.ones(3))
    assert_close(ea.grad, ta.grad)


def test_changes_through_data_are_not_counted():
    ea, ta = twin((3,))
    for m, a in ((engine, ea), (torch, ta)):
        out = a * a
        a.data.add_(1)  # torch's escape hatch: autograd does not see this
        assert a._version == 0
        out.backward(m.ones(3))
    assert_close(ea.grad, ta.grad)
    d = ea.detach()
    d.add_(1)
    assert ea._version == 1  # detach() shares the counter, .data does not


def test_inplace_on_view_made_under_no_grad_raises_torch_error():
    ea, ta = twin((3,))

    def run(m, a):
        with m.no_grad():
            v = a.view(3)
        v.add_(1)

    same_error(lambda: run(engine, ea), lambda: run(torch, ta))


def _prefix_inplace(call):
    def build(m, a):
        h = a + 0.0
        call(h, m)
        return h
    return build


# torch refuses a second backward exactly where a node held state that backward freed:
# a number kept as a saved tensor (mul/div), saved indices, CopySlices' inner node
SECOND_BACKWARD_OPS = {
    "add_number": (lambda m, a: a + 1, False),
    "sub_number": (lambda m, a: a - 1, False),
    "rsub_number": (lambda m, a: 1 - a, False),
    "add_alpha": (lambda m, a: a.add(2.0, alpha=3), False),
    "neg": (lambda m, a: -a, False),
    "mul_number": (lambda m, a: a * 2, True),
    "rmul_number": (lambda m, a: 2 * a, True),
    "div_number": (lambda m, a: a / 2, True),
    "view": (lambda m, a: a.view(3, 1), False),
    "select": (lambda m, a: a[0], False),
    "sum": (lambda m, a: a.sum(), False),
    "list_index": (lambda m, a: a[[0, 2]], True),
    "mask_index": (lambda m, a: a[a > 0], True),
    "setitem_number": (_prefix_inplace(lambda h, m: h.__setitem__(0, 5.0)), True),
    "setitem_tensor": (_prefix_inplace(lambda h, m: h.__setitem__(slice(0, 2), m.ones(2))),
                       True),
    "fill_": (_prefix_inplace(lambda h, m: h.fill_(2.0)), False),
    "add_": (_prefix_inplace(lambda h, m: h.add_(1)), False),
    "mul_number_": (_prefix_inplace(lambda h, m: h.mul_(2)), True),
    "div_number_": (_prefix_inplace(lambda h, m: h.div_(2)), True),
    "view_add_": (_prefix_inplace(lambda h, m: h[0:2].add_(1)), True),
}


@pytest.mark.parametrize("name", sorted(SECOND_BACKWARD_OPS))
def test_second_backward_refused_exactly_where_torch_refuses(name):
    build, refused = SECOND_BACKWARD_OPS[name]
    ea, ta = twin((3,), seed=15)
    outs = []
    for m, a in ((engine, ea), (torch, ta)):
        out = build(m, a)
        out.backward(m.ones(tuple(out.shape)))
        outs.append((m, out))
    if refused:
        same_error(*(lambda m=m, o=o: o.backward(m.ones(tuple(o.shape))) for m, o in outs))
    else:
        for m, o in outs:
            o.backward(m.ones(tuple(o.shape)))
        assert_close(ea.grad, ta.grad)
