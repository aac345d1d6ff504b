"""The unobserved ``loss.backward()`` fast path (``loop._plain``) and when it is taken.

It runs only when nothing can observe the pass: one root with the implicit seed, no hook
on any node or tensor, no retained grad, no anomaly mode, no create_graph, no inputs, no
Step records, only the engine's own nodes, small leaves.  Otherwise the phased loop runs,
seen here through what the observer sees (a hook called, a retained grad, the steps) and
through a spy on the two paths.  Where it runs, it must do exactly what the phased loop
does: the same gradients bit for bit (random graphs), the same errors before anything
changes, the same .grad identity and layout rules, the same failure handling.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
import tests.engine._support.fuzz_graphs as fg
from engine.autograd import loop
from engine.ops import elementwise


@pytest.fixture
def paths(monkeypatch):
    """Counts of passes taken by the fast path (a failing one included) and by the phased
    loop."""
    seen = {"plain": 0, "phased": 0}
    plain, phased = loop._plain, loop._Pass

    def spy_plain(*args):
        try:
            took = plain(*args)
        except BaseException:  # it ran, and failed as the pass must
            seen["plain"] += 1
            raise
        seen["plain"] += took
        return took

    def spy_pass(*args):
        seen["phased"] += 1
        return phased(*args)

    monkeypatch.setattr(loop, "_plain", spy_plain)
    monkeypatch.setattr(loop, "_Pass", spy_pass)
    return seen


def _phased_only(monkeypatch) -> None:
    monkeypatch.setattr(loop, "_plain", lambda *args: False)


def _leaves(lib, dtype=np.float32):
    rng = np.random.default_rng(1)
    a = lib.tensor(rng.standard_normal((3, 4)).astype(dtype), requires_grad=True)
    b = lib.tensor(rng.standard_normal(4).astype(dtype), requires_grad=True)
    return a, b


def _loss(lib, a, b):
    return ((a * b + b).exp() * 0.5).sum()


# ---------------------------------------------------------------- when it runs
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_plain_backward_takes_the_fast_path_and_matches_torch(paths, dtype):
    ea, eb = _leaves(engine, dtype)
    ta, tb = _leaves(torch, dtype)
    _loss(engine, ea, eb).backward()
    _loss(engine, ea, eb).backward()  # the second pass adds into the existing .grad
    _loss(torch, ta, tb).backward()
    _loss(torch, ta, tb).backward()
    assert paths == {"plain": 2, "phased": 0}
    for e, t in ((ea, ta), (eb, tb)):
        assert e.grad.dtype == (engine.float32 if dtype == np.float32 else engine.float64)
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_a_scalar_leaf_as_the_root(paths):
    a = engine.tensor(2.0, requires_grad=True)
    a.backward()
    t = torch.tensor(2.0, requires_grad=True)
    t.backward()
    assert paths == {"plain": 1, "phased": 0}
    assert a.grad.item() == t.grad.item() == 1.0


def test_a_leaf_hook_runs_in_the_phased_loop(paths):
    a, b = _leaves(engine)
    calls = []
    a.register_hook(lambda g: calls.append(g.shape))
    _loss(engine, a, b).backward()
    assert calls == [engine.Size([3, 4])]
    assert paths == {"plain": 0, "phased": 1}


def test_a_non_leaf_tensor_hook_doubles_the_gradient_as_in_torch(paths):
    grads = []
    for lib in (engine, torch):
        a, b = _leaves(lib)
        y = a * b
        y.register_hook(lambda g: g * 2)
        (y.exp() * 0.5).sum().backward()
        grads.append(a.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-6)
    assert paths == {"plain": 0, "phased": 1}


def test_node_hooks_and_prehooks_run_in_the_phased_loop(paths):
    a, b = _leaves(engine)
    seen = []
    loss = _loss(engine, a, b)
    loss.grad_fn.register_prehook(lambda gs: seen.append("pre"))
    loss.grad_fn.next_functions[0][0].register_hook(lambda gi, go: seen.append("post"))
    loss.backward()
    assert seen == ["pre", "post"]
    assert paths == {"plain": 0, "phased": 1}


def test_a_hook_on_a_leaf_accumulator_runs_in_the_phased_loop(paths):
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    y = a * 3.0
    acc = y.grad_fn.next_functions[0][0]
    seen = []
    acc.register_prehook(lambda gs: seen.append(gs[0].tolist()))
    y.sum().backward()
    assert seen == [[3.0, 3.0]]
    assert paths == {"plain": 0, "phased": 1}


def test_retain_grad_runs_in_the_phased_loop(paths):
    a, b = _leaves(engine)
    ta, tb = _leaves(torch)
    y, ty = a * b, ta * tb
    y.retain_grad()
    ty.retain_grad()
    (y.exp() * 0.5).sum().backward()
    (ty.exp() * 0.5).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert paths == {"plain": 0, "phased": 1}


def test_anomaly_mode_runs_the_phased_loop_which_checks_each_node(paths):
    a = engine.tensor([0.0, 1.0], requires_grad=True)
    t = torch.tensor([0.0, 1.0], requires_grad=True)
    with pytest.warns(UserWarning), engine.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as got:
            a.sqrt().mul(0.0).sum().backward()  # 0 * inf: nan in SqrtBackward0's output
    with pytest.warns(UserWarning), torch.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as want:
            t.sqrt().mul(0.0).sum().backward()
    assert str(got.value) == str(want.value)
    assert paths["plain"] == 0 and paths["phased"] == 1


def test_create_graph_runs_the_phased_loop(paths):
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    (a * a).sum().backward(create_graph=True)
    assert a.grad.grad_fn is not None
    assert paths == {"plain": 0, "phased": 1}


def test_backward_steps_run_the_phased_loop(paths):
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    steps = list(engine.autograd.backward_steps((a * 3.0).sum()))
    assert [s.node.name() for s in steps] == ["SumBackward0", "MulBackward0", "AccumulateGrad"]
    assert paths == {"plain": 0, "phased": 1}


def test_inputs_a_given_gradient_several_roots_and_grad_run_the_phased_loop(paths):
    a, b = _leaves(engine)
    _loss(engine, a, b).backward(inputs=[b])
    assert a.grad is None and b.grad is not None
    _loss(engine, a, b).backward(engine.tensor(2.0))
    engine.autograd.backward([_loss(engine, a, b), (a * 2.0).sum()])
    engine.autograd.grad(_loss(engine, a, b), [a])
    assert paths == {"plain": 0, "phased": 4}


def test_custom_functions_in_place_views_and_large_leaves_run_the_phased_loop(paths):
    class Twice(engine.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    a = engine.tensor([1.0, 2.0], requires_grad=True)
    Twice.apply(a).sum().backward()
    y = a * 1.0
    y[0].mul_(3.0)  # the base's grad_fn is now CopySlices
    y.sum().backward()
    big = engine.ones(loop._DEFER_MIN, requires_grad=True)
    (big * 2.0).sum().backward()
    assert a.grad.tolist() == [2.0 + 3.0, 2.0 + 1.0]
    assert paths == {"plain": 0, "phased": 3}


def test_giving_up_changes_nothing():
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    loss = (a * a).sum()
    a.register_hook(lambda g: calls.append(1))
    assert loop._plain(loss, None) is False
    assert a.grad is None and calls == [] and not loss.grad_fn.next_functions[0][0]._released
    loss.backward()  # the graph is intact
    assert a.grad.tolist() == [2.0, 4.0] and calls == [1]


# ---------------------------------------------------------------- same results
@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_graphs_get_bitwise_the_phased_loops_gradients(monkeypatch, paths, dtype):
    compared = 0
    for seed in range(120):
        program = fg.build(fg.RandomDrawer(seed), dtype=dtype)
        before = paths["plain"]
        try:
            fast = fg.run(program, engine)
        except Exception as exc:  # noqa: BLE001 - a graph the engine refuses: both must
            with monkeypatch.context() as m:
                _phased_only(m)
                with pytest.raises(type(exc)):
                    fg.run(program, engine)
            continue
        if paths["plain"] == before:
            continue  # (retained grads: the fast path never ran)
        with monkeypatch.context() as m:
            _phased_only(m)
            slow = fg.run(program, engine)
        compared += 1
        assert fast.grads.keys() == slow.grads.keys()
        for name, g in slow.grads.items():
            h = fast.grads[name]
            assert (g is None) == (h is None), name
            if g is not None:
                assert h.dtype == g.dtype and h.shape == g.shape
                # bit for bit, NaNs included
                assert h.tobytes() == g.tobytes(), f"{name}\n{program.source()}"
    assert compared >= 60


# ---------------------------------------------------------------- checks and failures
def _count_additions(monkeypatch) -> list:
    added = []
    accumulate = engine.Tensor._accumulate

    def spy(self, *args, **kwargs):
        added.append(self)
        return accumulate(self, *args, **kwargs)

    monkeypatch.setattr(engine.Tensor, "_accumulate", spy)
    return added


def test_a_second_backward_raises_before_touching_any_grad(monkeypatch, paths):
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([3.0, 4.0], requires_grad=True)
    y = a * b
    y.sum().backward()  # frees y's MulBackward0
    loss = y.sum() + (b * b).sum()  # b's accumulator would run before y's node
    added = _count_additions(monkeypatch)
    with pytest.raises(RuntimeError) as got:
        loss.backward()
    assert added == []  # refused before any node ran
    ty = torch.tensor([1.0, 2.0], requires_grad=True) * torch.tensor([3.0, 4.0],
                                                                       requires_grad=True)
    ty.sum().backward()
    with pytest.raises(RuntimeError) as want:
        ty.sum().backward()
    assert str(got.value) == str(want.value).replace("torch", "engine")
    assert b.grad.tolist() == [1.0, 2.0] and a.grad.tolist() == [3.0, 4.0]
    assert paths["plain"] == 2


def test_a_modified_saved_tensor_raises_torchs_error_before_touching_any_grad(monkeypatch,
                                                                             paths):
    added = _count_additions(monkeypatch)
    msgs = []
    for lib in (engine, torch):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        c = lib.tensor([1.0, 1.0, 1.0], requires_grad=True)
        h = a * 1.0
        loss = (h * h).sum() + (c * 2.0).sum()
        with lib.no_grad():
            h.add_(1.0)
        with pytest.raises(RuntimeError) as err:
            loss.backward()
        msgs.append(str(err.value))
        if lib is engine:
            assert a.grad is None and c.grad is None and added == []
    # (the engine's hint differs: it names the fix)
    assert msgs[0].split(" Hint:")[0] == msgs[1].replace("torch.", "engine.").split(" Hint:")[0]
    assert paths["plain"] == 1


@pytest.mark.parametrize("fast", [True, False])
def test_a_failing_node_restores_every_grad_and_frees_the_graph(monkeypatch, paths, fast):
    if not fast:
        _phased_only(monkeypatch)
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([0.5, 1.5], requires_grad=True)
    (a * 2.0).sum().backward()
    (b.exp()).sum().backward()
    a_grad, b_grad = a.grad, b.grad
    before = (a_grad.tolist(), b_grad.tolist(), a_grad._version, b_grad._version)
    # b's branch runs first (created last), then a's MulBackward0 fails
    loss = (a * 2.0).sum() + (b.exp()).sum()

    def fail(self, grads):
        raise ValueError("boom")

    with monkeypatch.context() as m:
        m.setattr(elementwise.MulBackward0, "apply", fail)
        with pytest.raises(ValueError, match="boom"):
            loss.backward()
    assert a.grad is a_grad and b.grad is b_grad
    assert (a_grad.tolist(), b_grad.tolist(), a_grad._version, b_grad._version) == before
    with pytest.raises(RuntimeError, match="Trying to backward through the graph"):
        loss.backward()
    assert paths["plain"] == (4 if fast else 0)


# ---------------------------------------------------------------- .grad and retain_graph
def test_a_first_grad_never_aliases_another_gradient(paths):
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # AddBackward0 hands the same gradient to both
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.add_(1.0)
    assert a.grad.tolist() == [2.0, 2.0] and b.grad.tolist() == [1.0, 1.0]
    c = engine.tensor([1.0, 2.0], requires_grad=True)
    (c * 2.0 + c * 3.0).sum().backward()  # c's gradient is a sum of two
    c.grad.mul_(2.0)
    assert c.grad.tolist() == [10.0, 10.0]
    assert paths["plain"] == 2


def test_grads_keep_their_identity_and_a_users_grad_is_added_into_as_in_torch(paths):
    result = []
    for lib in (engine, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        mine = lib.tensor([10.0, 20.0])
        a.grad = mine
        (a * a).sum().backward()
        first = a.grad
        (a * a).sum().backward()
        assert a.grad is first
        result.append((mine.tolist(), a.grad.tolist(), a.grad is mine))
    assert result[0] == result[1]
    assert paths["plain"] == 2


def test_retain_graph_keeps_the_graph_for_another_pass(paths):
    result = []
    for lib in (engine, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        loss = (a * a * 3.0).sum()
        loss.backward(retain_graph=True)
        loss.backward(retain_graph=True)
        loss.backward()
        with pytest.raises(RuntimeError) as err:
            loss.backward()
        result.append((a.grad.tolist(), str(err.value).replace("torch", "engine")))
    assert result[0] == result[1]
    assert paths["plain"] == 4  # (the refused fourth pass included)
