"""In-place ops through views, against torch: the base's history is rebased with a
CopySlices node, views whose base changed rebuild their history (AsStridedBackward0),
views made under no_grad refuse recorded in-place writes, and expanded views refuse
any write."""

import numpy as np
import pytest
import torch

import engine
from tests.engine._support.autograd_helpers import assert_close, plain_name, same_error, twin


def _run(build, *shapes):
    """``build(m, *leaves) -> loss`` in both libraries; loss and leaf grads must agree."""
    pairs = [twin(s, seed=20 + i) for i, s in enumerate(shapes)]
    losses = []
    for k, m in enumerate((engine, torch)):
        leaves = [p[k] for p in pairs]
        loss = build(m, *leaves)
        loss.backward()
        losses.append(loss)
    assert_close(losses[0], losses[1])
    for e, t in pairs:
        if t.grad is None:
            assert e.grad is None
        else:
            assert e.grad is not None
            assert_close(e.grad, t.grad)


def _select_mul(m, a):
    b = a * 1.0
    b[0].mul_(2.0)
    return (b * b).sum()


def _slice_add_tensor(m, a, w):
    b = a * 1.0
    v = b[1:]
    v.add_(w)
    return (b * b).sum() + (v * 3.0).sum()


def _transpose_mul(m, a, w):
    b = a * 1.0
    b.t().mul_(w.t())
    return (b * b).sum()


def _other_view_goes_stale(m, a):
    b = a * 1.0
    row, col = b[0], b[:, 1]
    row.mul_(3.0)
    return (col * col).sum() + (row * 2.0).sum()


def _base_changed_after_view(m, a):
    b = a * 1.0
    v = b[0]
    b.mul_(2.0)
    return (v * v).sum()


def _view_of_view(m, a):
    b = a * 1.0
    v = b[1:]
    v[0:2].mul_(v[0:2].detach() * 0.0 + 3.0)
    return (b * b).sum()


def _reshape_then_zero(m, a):
    b = a * 1.0
    b.view(3, 2)[1].zero_()
    return (b * b).sum()


def _fill_with_tensor(m, a, w):
    b = a * 1.0
    b[:, 0].fill_(w.sum())
    return (b * b).sum()


def _setitem_on_view(m, a, w):
    b = a * 1.0
    v = b[1]
    v[0:2] = w[0, 0:2]
    return (b * b).sum() + v.sum()


def _copy_into_view_of_plain_tensor(m, w):
    x = m.zeros(2, 3)
    x[0].copy_(w[0])
    return (x * x).sum()


def _non_contiguous_root(m, a):
    b = (a * 1.0).t()  # a view of an intermediate: its base is the product
    b[0].mul_(2.0)
    return (b * b).sum()


def _no_grad_write_through_view(m, a):
    b = a * 1.0
    v = b[0]
    with m.no_grad():
        v.mul_(2.0)
    return (b * b).sum() + (v * v).sum()


def _unsqueeze_permute(m, a):
    b = a * 1.0
    b.unsqueeze(0).permute(2, 0, 1)[1].add_(1.0)
    return (b * b).sum()


def _chain_of_inplace(m, a):
    b = a * 1.0
    b[0].mul_(2.0)
    b[1].add_(b[0].detach())
    b.mul_(0.5)
    b[:, 2].mul_(b[:, 1] * 1.0)
    return (b * b).sum()


CASES = [
    (_select_mul, ((2, 3),)),
    (_slice_add_tensor, ((4,), (3,))),
    (_transpose_mul, ((2, 3), (2, 3))),
    (_other_view_goes_stale, ((2, 3),)),
    (_base_changed_after_view, ((2, 3),)),
    (_view_of_view, ((5,),)),
    (_reshape_then_zero, ((2, 3),)),
    (_fill_with_tensor, ((2, 3), (3,))),
    (_setitem_on_view, ((2, 3), (2, 3))),
    (_copy_into_view_of_plain_tensor, ((2, 3),)),
    (_non_contiguous_root, ((2, 3),)),
    (_no_grad_write_through_view, ((2, 3),)),
    (_unsqueeze_permute, ((2, 3),)),
    (_chain_of_inplace, ((2, 3),)),
]


@pytest.mark.parametrize(("build", "shapes"), CASES, ids=[c[0].__name__[1:] for c in CASES])
def test_inplace_through_views_gradients_match_torch(build, shapes):
    _run(build, *shapes)


def test_node_names_after_inplace_through_view():
    names = []
    for m in (engine, torch):
        a = m.ones(2, 3, requires_grad=True)
        b = a * 1.0
        v = b[0]
        other = b[1]
        v.mul_(2.0)
        names.append((plain_name(b.grad_fn), plain_name(v.grad_fn), plain_name(other.grad_fn),
                      [plain_name(f) if f else None for f, _ in b.grad_fn.next_functions]))
        assert v._base is b and other._base is b and b._base is None
    assert names[0] == names[1] == (
        "CopySlices", "AsStridedBackward0", "AsStridedBackward0", ["MulBackward0", None])


def test_create_graph_through_inplace_on_view():
    ea, ta = twin((4,), seed=30)
    grads = []
    for m, a in ((engine, ea), (torch, ta)):
        b = a * a
        b[1:3].mul_(a[1:3])
        (g,) = m.autograd.grad((b * b).sum(), a, create_graph=True)
        grads.append(g)
        (g * g).sum().backward()
    assert_close(grads[0], grads[1])
    assert_close(ea.grad, ta.grad)


def test_second_backward_through_copy_slices_is_refused():
    ea, ta = twin((3,), seed=31)
    outs = []
    for a in (ea, ta):
        b = a + 0.0
        b[0:2].add_(1.0)
        out = b.sum()
        out.backward()
        outs.append(out)
    same_error(outs[0].backward, outs[1].backward)


def test_retained_grad_of_base_follows_its_new_history():
    ea, ta = twin((2, 3), seed=32)
    grads = []
    for a in (ea, ta):
        b = a * 1.0
        b.retain_grad()
        b[0].mul_(3.0)
        (b * b).sum().backward()
        grads.append(b.grad)
    assert_close(grads[0], grads[1])
    assert_close(ea.grad, ta.grad)


def test_no_grad_view_goes_stale_when_its_base_is_modified():
    def run(m, a):
        b = a * 1.0
        with m.no_grad():
            v = b[0]
        b.mul_(2.0)
        return v.grad_fn

    ea, ta = twin((2, 3), seed=33)
    err = same_error(lambda: run(engine, ea), lambda: run(torch, ta))
    assert "its base or another view of its base has been modified" in str(err)


def _no_grad_view(m):
    """A leaf ``a``, ``b = a * 1.0`` and a view ``v`` of ``b`` taken under no_grad."""
    a = m.ones(3, requires_grad=True)
    b = a * 1.0
    with m.no_grad():
        v = b[0:2]
    return a, b, v


def test_stale_no_grad_view_prints_invalid_grad_fn():
    for m in (engine, torch):
        _, b, v = _no_grad_view(m)
        b.mul_(2.0)
        assert "grad_fn=<Invalid>" in repr(v)


def test_write_into_no_grad_view_with_grad_value_raises():
    def run(m, w):
        x = m.zeros(3)
        with m.no_grad():
            v = x[0:2]
        v.add_(w)

    ew, tw = twin((2,), seed=34)
    same_error(lambda: run(engine, ew), lambda: run(torch, tw))


def test_no_grad_view_written_under_no_grad_is_allowed():
    for m in (engine, torch):
        a, b, v = _no_grad_view(m)
        with m.no_grad():
            v.add_(1.0)
        b.sum().backward()
        assert a.grad.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("code", ["b.view(1, 3).expand(2, 3).add_(1.0)",
                                  "b.view(1, 3).expand(2, 3).mul_(b)",
                                  "b.view(1, 3).expand(2, 3).copy_(m.ones(2, 3))"])
def test_write_into_expanded_view_raises_torch_error(code):
    def run(m):
        b = m.ones(3)
        exec(code, {"b": b, "m": m})

    same_error(lambda: run(engine), lambda: run(torch))


def test_view_records_its_base_like_torch():
    for m in (engine, torch):
        a = m.ones(2, 3, requires_grad=True)
        v = a.t()[0]
        assert v._base is a and v._is_view()
        assert a._base is None and not a._is_view()
        c = a.clone()
        assert c._base is None
        np.testing.assert_array_equal(v.detach().numpy(), np.ones(2))


@pytest.mark.parametrize("requires_grad", [True, False])
def test_detach_in_place_refused_on_views(requires_grad):
    def run(m):
        a = m.ones(3, requires_grad=requires_grad)
        (a * 1.0)[0:2].detach_()

    same_error(lambda: run(engine), lambda: run(torch))


@pytest.mark.parametrize("code", ["x[0]", "x[0:1]", "x[None, 0]", "x[..., 0]"])
def test_indexing_a_0d_tensor_raises_torch_error(code):
    same_error(lambda: eval(code, {"x": engine.tensor(1.0)}),
               lambda: eval(code, {"x": torch.tensor(1.0)}))


def test_0d_select_is_a_view():
    for m in (engine, torch):
        b = m.zeros(3)
        b[1].fill_(2.0)  # a 0-d view: the write reaches b
        assert b.tolist() == [0.0, 2.0, 0.0]


def _view_of_plain_tensor_that_gains_history(m, a):
    x = m.ones(3, 4)
    col, block = x.t(), x[:, 1:3]  # made while x needed no grad
    col.div_(a.sum())  # x now has a history: both views take it up
    return (x * x).sum() + (col * col).sum() * 2 + (block * block).sum() * 3


def _plain_base_modified_directly(m, a):
    x = m.ones(3, 4)
    row = x[1]
    x.mul_(a)
    return (row * row).sum()


@pytest.mark.parametrize("build", [_view_of_plain_tensor_that_gains_history,
                                   _plain_base_modified_directly])
def test_views_of_plain_tensor_follow_its_new_history(build):
    ea, ta = twin((3, 4), seed=35)
    outs = []
    for m, a in ((engine, ea), (torch, ta)):
        loss = build(m, a)
        loss.backward()
        outs.append(loss)
    assert_close(outs[0], outs[1])
    assert_close(ea.grad, ta.grad)
