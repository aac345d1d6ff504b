"""Tensor hooks, node hooks and pre-hooks, and the public face of graph nodes."""

import numpy as np
import pytest
import torch

import engine
from engine.graph import AccumulateGrad, RemovableHandle
from tests.engine._support.autograd_helpers import assert_close, plain_name, same_error, twin

# ----------------------------------------------------------------- tensor hooks


def test_leaf_hook_sees_the_gradient_and_replaces_it():
    ea, ta = twin((3,))
    seen = {"e": [], "t": []}
    for key, m, a in (("e", engine, ea), ("t", torch, ta)):
        h = a.register_hook(lambda g, key=key: seen[key].append(g.tolist()) or g * 10)
        (a * 3).backward(m.tensor([1.0, 2.0, 3.0]))
        assert a.grad.tolist() == [30.0, 60.0, 90.0]
        h.remove()
        a.grad = None
        (a * 3).backward(m.tensor([1.0, 2.0, 3.0]))
        assert a.grad.tolist() == [3.0, 6.0, 9.0]
    assert seen["e"] == seen["t"] == [[3.0, 6.0, 9.0]]


def test_leaf_hook_returning_none_keeps_the_gradient():
    ea, _ = twin((3,))
    calls = []
    ea.register_hook(calls.append)
    (ea * 2).backward(engine.ones(3))
    assert len(calls) == 1 and calls[0].tolist() == [2.0, 2.0, 2.0]
    assert ea.grad.tolist() == [2.0, 2.0, 2.0]


def test_non_leaf_hook_replacement_flows_on():
    ea, ta = twin((3,))
    for m, a in ((engine, ea), (torch, ta)):
        h = a * 3
        handle = h.register_hook(lambda g: g * 2)
        (h * h).backward(m.ones(3), retain_graph=True)
        handle.remove()
        (h * h).backward(m.ones(3))
    assert_close(ea.grad, ta.grad)
    np.testing.assert_allclose(ea.grad.numpy(), 54 * ea.detach().numpy(), rtol=1e-6)


def test_hooks_run_in_registration_order_and_chain():
    results = []
    for m in (engine, torch):
        a = m.ones(2, requires_grad=True)
        h = a * 1.0
        log = []
        h.register_hook(lambda g, log=log: log.append(("first", g.tolist())) or g + 1)
        h.register_hook(lambda g, log=log: log.append(("second", g.tolist())) or g * 3)
        h.backward(m.ones(2))
        results.append((log, a.grad.tolist()))
    assert results[0] == results[1] == ([("first", [1.0, 1.0]), ("second", [2.0, 2.0])],
                                        [6.0, 6.0])


def test_hook_on_tensor_without_grad():
    same_error(lambda: engine.ones(3).register_hook(lambda g: g),
               lambda: torch.ones(3).register_hook(lambda g: g))


def test_handle_is_a_context_manager_and_remove_is_idempotent():
    a = engine.ones(2, requires_grad=True)
    with a.register_hook(lambda g: g * 5) as handle:
        assert isinstance(handle, RemovableHandle)
        (a * 1.0).backward(engine.ones(2))
    assert a.grad.tolist() == [5.0, 5.0]
    handle.remove()
    handle.remove()
    (a * 1.0).backward(engine.ones(2))
    assert a.grad.tolist() == [6.0, 6.0]


def test_hook_registered_on_leaf_used_many_times_runs_once_with_the_total():
    ea, ta = twin((2,))
    calls = {"e": [], "t": []}
    for key, m, a in (("e", engine, ea), ("t", torch, ta)):
        a.register_hook(lambda g, key=key: calls[key].append(g.tolist()))
        (a * 2 + a * 3 + a).backward(m.ones(2))
    assert calls["e"] == calls["t"] == [[6.0, 6.0]]


# ----------------------------------------------------------------- node hooks

def test_node_prehook_and_hook_arguments():
    ea, ta = twin((3,))
    logs = []
    for m, a in ((engine, ea), (torch, ta)):
        out = (a * 2).exp()
        log = []
        out.grad_fn.register_prehook(lambda go, log=log: log.append(("pre", go)))
        out.grad_fn.register_hook(lambda gi, go, log=log: log.append(("post", gi, go)))
        out.backward(m.tensor([1.0, 2.0, 3.0]))
        logs.append(log)
    (ek, (ego,)), (tk, (tgo,)) = logs[0][0], logs[1][0]
    assert ek == tk == "pre"
    assert isinstance(logs[0][0][1], tuple)
    assert_close(ego, tgo)
    (_, egi, ego2), (_, tgi, tgo2) = logs[0][1], logs[1][1]
    assert isinstance(egi, tuple) and isinstance(ego2, tuple)
    assert len(egi) == len(tgi) == 1 and len(ego2) == len(tgo2) == 1
    assert_close(egi[0], tgi[0], rtol=1e-5)
    assert_close(ego2[0], tgo2[0])


def test_node_prehook_replaces_the_incoming_gradient():
    ea, ta = twin((3,))
    for m, a in ((engine, ea), (torch, ta)):
        out = (a * 2).exp()
        out.grad_fn.register_prehook(lambda go: (go[0] * 10,))
        out.backward(m.ones(3))
    assert_close(ea.grad, ta.grad, rtol=1e-5)


def test_node_hook_replaces_the_outgoing_gradient():
    ea, ta = twin((3,))
    eb, tb = twin((3,), seed=1)
    for m, a, b in ((engine, ea, eb), (torch, ta, tb)):
        out = a * b
        out.grad_fn.register_hook(lambda gi, go: (gi[0] * 10, None))
        out.backward(m.ones(3))
    assert_close(ea.grad, ta.grad)
    assert eb.grad is None and tb.grad is None


def test_node_hook_removed():
    ea, ta = twin((3,))
    for m, a in ((engine, ea), (torch, ta)):
        out = (a * 2).exp()
        handle = out.grad_fn.register_prehook(lambda go: (go[0] * 10,))
        handle.remove()
        out.grad_fn.register_hook(lambda gi, go: (gi[0] * 0,)).remove()
        out.backward(m.ones(3))
    assert_close(ea.grad, ta.grad, rtol=1e-5)


def test_prehook_on_accumulate_grad():
    ea, ta = twin((3,))
    for m, a in ((engine, ea), (torch, ta)):
        out = a * 2
        acc = out.grad_fn.next_functions[0][0]
        acc.register_prehook(lambda go: (go[0] + 1,))
        out.backward(m.ones(3))
    assert ea.grad.tolist() == ta.grad.tolist() == [3.0, 3.0, 3.0]


# ----------------------------------------------------------------- node structure

def _structure(fn, depth=3):
    if fn is None:
        return None
    if depth == 0:
        return plain_name(fn)
    return (plain_name(fn), tuple((_structure(n, depth - 1), nr) for n, nr in fn.next_functions))


@pytest.mark.parametrize("build", [
    lambda m, a, b: a * b + a,
    lambda m, a, b: a * 2 + 1,
    lambda m, a, b: (a * m.ones(3)).exp(),
    lambda m, a, b: (a - b) / b,
    lambda m, a, b: m.dot(a, b).exp(),
    lambda m, a, b: a.exp().log() + b.detach(),
])
def test_next_functions_structure_equals_torch(build):
    ea, ta = twin((3,))
    eb, tb = twin((3,), seed=1)
    assert _structure(build(engine, ea, eb).grad_fn) == _structure(build(torch, ta, tb).grad_fn)


def test_next_functions_is_a_tuple_of_pairs():
    a = engine.ones(3, requires_grad=True)
    out = a * engine.ones(3) + 1.0
    nf = out.grad_fn.next_functions
    assert isinstance(nf, tuple)
    assert all(isinstance(p, tuple) and len(p) == 2 for p in nf)
    assert nf[1] == (None, 0)


def test_accumulate_grad_is_shared_by_every_use_of_a_leaf():
    for m in (engine, torch):
        a = m.ones(3, requires_grad=True)
        x, y, z = a * 2, a.exp(), a + a
        accs = [x.grad_fn.next_functions[0][0], y.grad_fn.next_functions[0][0],
                z.grad_fn.next_functions[0][0], z.grad_fn.next_functions[1][0]]
        assert all(acc is accs[0] for acc in accs)
        assert accs[0].variable is a
        assert plain_name(accs[0]) == "AccumulateGrad"
        assert accs[0].next_functions == ()
        assert (type(accs[0]) is AccumulateGrad) == (m is engine)


def test_engine_accumulate_grad_type_and_repr():
    a = engine.ones(3, requires_grad=True)
    acc = (a * 2).grad_fn.next_functions[0][0]
    assert type(acc) is AccumulateGrad
    assert repr(acc).startswith("<AccumulateGrad object at 0x")


def test_node_metadata_is_a_persistent_dict():
    a = engine.ones(3, requires_grad=True)
    out = a * 2
    md = out.grad_fn.metadata
    assert md == {} and isinstance(md, dict)
    md["tag"] = "layer1"
    assert out.grad_fn.metadata is md
    assert out.grad_fn.metadata == {"tag": "layer1"}
    t = torch.ones(3, requires_grad=True) * 2
    assert t.grad_fn.metadata == {}


@pytest.mark.parametrize(("build", "name"), [
    (lambda m, a: a + a, "AddBackward0"), (lambda m, a: a * 2, "MulBackward0"),
    (lambda m, a: a - 1, "SubBackward0"), (lambda m, a: a / 2, "DivBackward0"),
    (lambda m, a: -a, "NegBackward0"), (lambda m, a: a.exp(), "ExpBackward0"),
    (lambda m, a: a.pow(2), "PowBackward0"), (lambda m, a: a.sum(), "SumBackward0"),
    (lambda m, a: a.mean(), "MeanBackward0"), (lambda m, a: a.view(3), "ViewBackward0"),
    (lambda m, a: m.matmul(a, a), "DotBackward0"),
])
def test_node_names_equal_torch(build, name):
    ea, ta = twin((3,))
    efn, tfn = build(engine, ea).grad_fn, build(torch, ta).grad_fn
    assert efn.name() == tfn.name() == name
    assert type(efn).__name__ == name


def test_post_hook_on_accumulate_grad_runs_after_the_update():
    seen = []
    for m in (engine, torch):
        a = m.ones(2, requires_grad=True)
        out = a * 2
        acc = out.grad_fn.next_functions[0][0]
        acc.register_hook(lambda gi, go, a=a: seen.append(
            (len(gi), [g.tolist() for g in go], a.grad.tolist())))
        out.backward(m.ones(2))
    assert seen[0] == seen[1] == (0, [[2.0, 2.0]], [2.0, 2.0])


# ----------------------------------------------------------------- hook results are checked

def _named(fn):
    def shape_changer(*args):
        return fn(*args)

    return shape_changer


BAD_HOOKS = [
    lambda m, a, h: a.register_hook(lambda g: m.ones(4)),
    lambda m, a, h: h.register_hook(lambda g: m.ones(4)),
    lambda m, a, h: h.register_hook(_named(lambda g: m.ones(3, dtype=m.float64))),
    lambda m, a, h: h.register_hook(lambda g: 5),
    lambda m, a, h: h.grad_fn.register_prehook(lambda go: (m.ones(4),)),
    lambda m, a, h: h.grad_fn.register_prehook(lambda go: go[0]),
    lambda m, a, h: h.grad_fn.register_prehook(lambda go: (go[0], go[0])),
    lambda m, a, h: h.grad_fn.register_hook(_named(lambda gi, go: (m.ones(4),))),
    lambda m, a, h: h.grad_fn.register_hook(lambda gi, go: (gi[0], m.ones(3))),
    lambda m, a, h: h.grad_fn.register_hook(lambda gi, go: [gi[0], None]),
]


@pytest.mark.parametrize("register", BAD_HOOKS)
def test_bad_hook_results_raise_torch_errors(register):
    ea, ta = twin((3,))

    def run(m, a):
        h = a * 2
        register(m, a, h)
        h.backward(m.ones(3))

    same_error(lambda: run(engine, ea), lambda: run(torch, ta))


def test_hook_may_drop_a_gradient_with_none():
    ea, ta = twin((3,))
    eb, tb = twin((3,), seed=1)
    for m, a, b in ((engine, ea, eb), (torch, ta, tb)):
        out = (a * b).exp()
        out.grad_fn.next_functions[0][0].register_hook(lambda gi, go: (None, gi[1]))
        out.backward(m.ones(3))
    assert ea.grad is None and ta.grad is None
    assert_close(eb.grad, tb.grad, rtol=1e-5)


def test_grad_inputs_line_up_with_next_functions():
    a = engine.ones(3, requires_grad=True)
    for out in (a * 2, a / 2, a + 1, 2 - a, (a * engine.ones(3)).exp()):
        steps = list(engine.autograd.backward_steps(out, engine.ones(3)))
        for step in steps:
            assert len(step.grad_inputs) == len(step.node.next_functions)
            for (fn, _), g in zip(step.node.next_functions, step.grad_inputs):
                assert (g is None) == (fn is None)
        a.grad = None


def test_post_hook_sees_one_gradient_per_input_like_torch():
    seen = []
    for m in (engine, torch):
        a = m.ones(3, requires_grad=True)
        out = a * 2
        out.grad_fn.register_hook(lambda gi, go: seen.append([g is None for g in gi]))
        out.backward(m.ones(3))
    assert seen[0] == seen[1] == [False, True]


@pytest.mark.parametrize("where", [lambda out: out.grad_fn,
                                   lambda out: out.grad_fn.next_functions[0][0]])
def test_pre_hook_may_drop_the_incoming_gradient(where):
    ea, ta = twin((3,))
    for m, a in ((engine, ea), (torch, ta)):
        out = (a * 2).exp()
        where(out).register_prehook(lambda go: (None,))
        out.backward(m.ones(3))
    assert ea.grad is None and ta.grad is None
