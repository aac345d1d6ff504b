"""Where the engine's time goes on the two small-graph cases.

Run: ``python -m benchmarks.profile_engine``.

Five views, all in microseconds per call at 1 thread:

1. **cProfile** of the tutorial step and of a 100-op chain step (forward + backward): the
   functions with the most own time, per iteration.  cProfile inflates cheap Python calls,
   so its numbers rank hot spots; the absolute figures come from the next two views.
2. **Per backward node**: each node's ``apply`` timed alone on a graph kept alive (nothing
   released), next to the whole backward pass; the difference is the loop's own cost per
   node (scheduling, buffers, the Step record, release).  Pieces of that loop (a heap
   push+pop, a Step object with a generator resume, ...) are timed as plain snippets.
3. **Per forward op**: each op of the tutorial forward and of the chain, whole and split
   into its numpy arithmetic and its graph bookkeeping.

4. **A lean loop**: the same nodes' ``apply`` driven by a minimal Python loop (no hooks,
   no Step records), to show how much of the backward time is the loop itself.
5. **Kernel costs** behind the bigger cases: the broadcast-reduction kernel against
   numpy's ``sum(0)`` for bias gradients, and a fresh 40 MB output against a reused one.

Nothing here edits the engine; it only calls it.
"""

from __future__ import annotations

import cProfile
import heapq
import operator
import pstats
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._harness import median, set_threads


def per_call(fn: Callable[[], Any], number: int = 2000, repeat: int = 7) -> float:
    """Median microseconds per call over ``repeat`` runs of ``number`` calls."""
    for _ in range(min(number, 200)):
        fn()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter_ns() - t0) / number / 1e3)
    return median(runs)


def per_call_setup(fn: Callable[[Any], Any], setup: Callable[[], Any], number: int = 2000
                   ) -> float:
    """Median microseconds of ``fn(setup())`` with only ``fn`` timed."""
    for _ in range(50):
        fn(setup())
    samples = []
    for _ in range(number):
        arg = setup()
        t0 = time.perf_counter_ns()
        fn(arg)
        samples.append((time.perf_counter_ns() - t0) / 1e3)
    return median(samples)


# ----------------------------------------------------------------------------- 1. cProfile
def cprofile(step: Callable[[], Any], iterations: int, top: int = 18) -> str:
    for _ in range(200):
        step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(iterations):
        step()
    prof.disable()
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore
        where = file.split("/work/main/")[-1].split("site-packages/")[-1]
        rows.append((tottime, cumtime, ncalls, f"{where}:{line}({func})"))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    out = [f"  total {total / iterations * 1e6:.1f} us/iter under cProfile; own time "
           "per iteration, cumulative, calls per iteration"]
    for tottime, cumtime, ncalls, name in rows[:top]:
        out.append(f"  {tottime / iterations * 1e6:7.2f} us  {cumtime / iterations * 1e6:7.2f} us"
                   f"  {ncalls / iterations:5.1f}  {name}")
    return "\n".join(out)


# ----------------------------------------------------------------------------- 2. backward
def _graph_nodes(loss: Any) -> list[Any]:
    """Every node backward from ``loss`` would run, found by the engine's own walk."""
    from engine.autograd._pass import _Pass

    p = _Pass(False, True, (), False)
    p.discover([(loss.grad_fn, 0)], check=False)
    return p.order


def node_apply_times(build: Callable[[], Any]) -> list[tuple[str, float]]:
    """Microseconds of ``node.apply`` for each node of the graph ``build()`` returns.

    The gradient fed to each node is one of the right shape and dtype; AccumulateGrad
    adds into ``.grad`` (which exists after a first backward).
    """
    loss = build()
    loss.backward(retain_graph=True)
    out = []
    for node in _graph_nodes(loss):
        shape, dtype = _out_meta(node, loss)
        g = np.ones(shape, dtype)
        out.append((type(node).__name__, per_call(lambda node=node, g=g: node.apply([g]),
                                                  number=3000)))
    return out


def _out_meta(node: Any, loss: Any) -> tuple[tuple[int, ...], Any]:
    """The shape and dtype of the gradient a node receives (its output's)."""
    if type(node).__name__ == "AccumulateGrad":
        d = node.variable._data
        return d.shape, d.dtype
    # Walk from the root: the output of node N is the input saved by its consumer;
    # simplest is to run a pass with backward_steps and read grad_outputs.
    from engine.autograd import backward_steps

    for step in backward_steps(loss, retain_graph=True, accumulate=False):
        if step.node is node:
            g = step.grad_outputs[0]._data
            return g.shape, g.dtype
    return loss._data.shape, loss._data.dtype


def loop_snippets() -> dict[str, float]:
    """Costs of the pieces the backward loop spends per node, as plain Python."""
    from engine.autograd.loop import Step

    class _N:
        _seq = 1

    node = _N()
    a16 = np.ones(16, np.float32)
    heap: list[tuple[int, int, Any]] = []

    def heap_op() -> None:
        heapq.heappush(heap, (1, -node._seq, node))
        heapq.heappop(heap)

    def gen() -> Any:
        while True:
            yield Step(node, [None], (), None, 0, 0)  # type: ignore[arg-type]

    it = gen()

    def step_record() -> None:
        next(it)

    buffers: dict[Any, list] = {}

    def buffer_op() -> None:
        b = buffers.get(node)
        if b is None:
            b = buffers[node] = [None] * 1
        b[0] = 1
        buffers.pop(node, None)

    from engine import no_grad
    from engine.kernels.elementwise import scale_bwd

    def no_grad_block() -> None:
        with no_grad():
            pass

    buf1 = [a16]
    return _measure_all({
        "with no_grad(): (enter + exit)": no_grad_block,
        "any(g is not None for g in buf) on 1 gradient":
            lambda: any(g is not None for g in buf1),
        "heap push + pop of (priority, -seq, node)": heap_op,
        "Step(...) built and yielded through a generator": step_record,
        "buffers dict get/insert/pop + [None] list": buffer_op,
        "Numba kernel call scale_bwd(16 x f32, 2.0)": lambda: scale_bwd(a16, 2.0),
        "ndarray.reshape(-1) then .reshape(shape)": lambda: a16.reshape(-1).reshape(a16.shape),
        "np.ones(shape, dtype) for the seed gradient": lambda: np.ones((), np.float32),
    }, 20000)


def _us(t: Any) -> str:
    return f"{t:6.2f} us" if isinstance(t, float) else str(t)


def fixed_costs() -> dict[str, float]:
    """Per-call costs of backward's entry and set-up, on the tutorial graph."""
    import engine
    import engine.nn.functional as ef
    from benchmarks.small_graphs import tutorial_parts
    from engine.autograd import loop
    from engine.autograd._pass import _Pass
    from engine.ops.base import edge

    e = tutorial_parts(engine, ef)
    loss = e["forward"]()
    nodes = _graph_nodes(loss)
    w = e["w"]

    def discover() -> None:  # the engine's own walk, without the saved-tensor checks
        _Pass(False, True, (), False).discover([(loss.grad_fn, 0)], check=False)

    def empty_backward_steps() -> None:
        gen = loop.backward_steps(loss, retain_graph=True)
        gen.close()

    return _measure_all({
        "edge(loss)": lambda: edge(loss),
        "graph discovery walk (6 nodes, dict deps)": discover,
        "check_saved on all 6 nodes": lambda: [n.check_saved() for n in nodes],
        "release on all 6 nodes (already released)":
            lambda: [n.release() for n in nodes if n._saved is None],
        "generator create + close (no node run)": empty_backward_steps,
        "w.grad.zero_() (plain-tensor path)": lambda: w.grad.zero_(),
        "w.grad._data.fill(0) (numpy only)": lambda: w.grad._data.fill(0),
    })


def _measure_all(fns: dict[str, Callable[[], Any]], number: int = 2000) -> dict[str, Any]:
    """``per_call`` of each; an engine internal that changed shape gives its error instead."""
    out: dict[str, Any] = {}
    for name, fn in fns.items():
        try:
            out[name] = per_call(fn, number)
        except Exception as exc:  # noqa: BLE001 - internals move while the engine evolves
            out[name] = f"n/a ({type(exc).__name__}: {exc})"[:70]
    return out


def backward_breakdown() -> str:
    import engine
    import engine.nn.functional as ef
    from benchmarks.small_graphs import chain_parts, tutorial_parts

    lines = []
    e = tutorial_parts(engine, ef)
    total = per_call_setup(e["backward"], e["forward"], 4000)
    applies = node_apply_times(e["forward"])
    napply = sum(t for _, t in applies)
    lines.append(f"tutorial backward: {total:.1f} us for {len(applies)} nodes; node.apply sum "
                 f"{napply:.1f} us; loop overhead {total - napply:.1f} us "
                 f"({(total - napply) / len(applies):.1f} us per node)")
    for name, t in applies:
        lines.append(f"    {name:<44} apply {t:6.2f} us")

    times = {}
    for n in (50, 200):
        build, bwd = chain_parts(engine, n)
        times[n] = per_call_setup(bwd, build, 600 if n == 200 else 1500)
    per_node = (times[200] - times[50]) / 150
    build, _ = chain_parts(engine, 4)
    applies = node_apply_times(build)
    app = {name: t for name, t in applies}
    mul_add = 0.5 * (app.get("MulBackward0", 0) + app.get("AddBackward0", 0))
    lines.append(f"chain backward: {per_node:.2f} us per extra node (slope 50->200); mean "
                 f"apply of Mul/AddBackward0 {mul_add:.2f} us; loop overhead "
                 f"{per_node - mul_add:.2f} us per node")
    for name, t in applies:
        lines.append(f"    {name:<44} apply {t:6.2f} us")
    lines.append("  fixed cost of one backward call (engine functions called alone):")
    for name, t in fixed_costs().items():
        lines.append(f"    {name:<52} {_us(t)}")
    lines.append("  loop pieces (plain snippets, us per call):")
    for name, t in loop_snippets().items():
        lines.append(f"    {name:<52} {_us(t)}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- 4. lean loop
def lean_backward(loss: Any) -> None:
    """A deliberately minimal backward over the engine's own nodes, to size the loop's cost.

    No hooks, no Step records, no capture: discover, check saved values, order by
    decreasing creation number (a valid topological order: a node is always created after
    the nodes of its inputs), run each ``apply`` and route its gradients.  A prototype to
    measure against, not a replacement for the engine's loop.
    """
    from engine.kernels.accumulate import add_out

    root = loss.grad_fn
    seen = {root}
    stack = [root]
    order = []
    while stack:
        node = stack.pop()
        order.append(node)
        for nxt, _ in node.next_functions:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    for node in order:
        node.check_saved()
    order.sort(key=_SEQ, reverse=True)
    grads: dict[Any, list] = {root: [np.ones(loss._data.shape, loss._data.dtype)]}
    for node in order:
        buf = grads.pop(node, None)
        if buf is None:
            continue
        ins = node.apply(buf)
        node.release()
        for (nxt, _), g in zip(node.next_functions, ins):
            if nxt is None or g is None:
                continue
            have = grads.get(nxt)
            if have is None:
                grads[nxt] = [g]
            else:
                have[0] = add_out(have[0].reshape(-1), g.reshape(-1)).reshape(g.shape)


_SEQ = operator.attrgetter("_seq")


def lean_comparison() -> str:
    import engine
    import engine.nn.functional as ef
    from benchmarks.small_graphs import chain_parts, tutorial_parts

    e = tutorial_parts(engine, ef)
    lines = []
    for name, fn in (("engine loss.backward()", lambda loss: loss.backward()),
                     ("lean prototype loop", lean_backward)):
        tut = per_call_setup(fn, e["forward"], 4000)
        res = {}
        for n in (50, 200):
            build, _ = chain_parts(engine, n)
            res[n] = per_call_setup(fn, build, 1000 if n == 50 else 400)
        lines.append(f"    {name:<24} tutorial backward {tut:6.1f} us, chain "
                     f"{(res[200] - res[50]) / 150:5.2f} us per node, chain-50 {res[50]:6.1f} us")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- 3. forward
def forward_breakdown() -> str:
    import engine
    import engine.nn.functional as ef
    from engine.graph import Node
    from engine.ops import base, elementwise, linalg, shape

    rng = np.random.default_rng(0)
    x = engine.ones(5)
    y = engine.zeros(3)
    w = engine.tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True)
    b = engine.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    z = engine.matmul(x, w) + b
    t16 = engine.tensor(np.ones(16, np.float32), requires_grad=True)
    xd, wd, bd, zd, yd = x._data, w._data, b._data, z._data, y._data
    x1 = shape.unsqueeze(x, 0)
    m = linalg.mm(x1, w)

    def bce_numpy() -> Any:
        with np.errstate(over="ignore"):
            log_sig = np.minimum(zd, 0) - np.log1p(np.exp(-np.abs(zd)))
        loss = (1 - yd) * zd - log_sig
        return np.asarray(np.add.reduce(loss, axis=None, dtype=zd.dtype) / loss.size,
                          dtype=zd.dtype)

    from engine.kernels import loss as lk

    def bce_fused() -> Any:
        soft = np.abs(zd)
        np.negative(soft, out=soft)
        np.exp(soft, out=soft)
        np.log1p(soft, out=soft)
        each, _ = lk.bce_logits_rest(zd, yd, soft, 1e38)
        return np.asarray(np.add.reduce(each, axis=None, dtype=zd.dtype) / each.size,
                          dtype=zd.dtype)

    rows = [
        ("matmul(x, w) (unsqueeze + mm + squeeze)", lambda: engine.matmul(x, w)),
        ("  numpy: xd @ wd", lambda: xd @ wd),
        ("  linalg._unsqueeze0(x) (x needs no grad)", lambda: linalg._unsqueeze0(x)),
        ("  shape.unsqueeze(x, 0), the general op", lambda: shape.unsqueeze(x, 0)),
        ("    xd[None] inside it (np.expand_dims costs ~20x)", lambda: xd[None]),
        ("  linalg.mm(x1, w) on the unsqueezed x", lambda: linalg.mm(x1, w)),
        ("  linalg._squeeze0(m) (SqueezeBackward4)", lambda: linalg._squeeze0(m)),
        ("z + b (AddBackward0)", lambda: z + b),
        ("  numpy: zd + bd", lambda: zd + bd),
        ("  elementwise._prep(z, b)", lambda: elementwise._prep(z, b)),
        ("binary_cross_entropy_with_logits(z, y)",
         lambda: ef.binary_cross_entropy_with_logits(z, y)),
        ("  numpy's formula alone (errstate, 8 ufuncs, mean)", bce_numpy),
        ("  the engine's: 4 ufuncs, bce_logits_rest kernel, mean", bce_fused),
        ("  np.errstate(over='ignore') enter+exit", _errstate),
        ("  np.add.reduce(...) / n on 3 elements (the mean)",
         lambda: np.add.reduce(zd, axis=None, dtype=zd.dtype) / zd.size),
        ("  loss.broadcast_shape check x2 (lru_cache)",
         lambda: base.broadcast_shape((3,), (3,))),
        ("t16 * 1.0001 (MulBackward0, chain op)", lambda: t16 * 1.0001),
        ("t16 + 0.001 (AddBackward0, chain op)", lambda: t16 + 0.001),
        ("  numpy: t16._data * 1.0001", lambda: t16._data * 1.0001),
        ("  elementwise._prep(t16, 1.0001)", lambda: elementwise._prep(t16, 1.0001)),
        ("  base.recording(t16, 1.0001)", lambda: base.recording(t16, 1.0001)),
        ("  base.edge(t16) (leaf: AccumulateGrad lookup)", lambda: base.edge(t16)),
        ("  Node((edge,)) construction", lambda: Node(((None, 0),))),
        ("  base.out(array, node) -> Tensor", lambda: base.out(xd, None)),
    ]
    times = _measure_all(dict(rows), 5000)
    return "\n".join(f"    {name:<58} {_us(t)}" for name, t in times.items())


def kernel_notes() -> str:
    """Two kernel-level costs seen in the MLP and sigmoid cases."""
    from engine.kernels import broadcast as bk
    from engine.kernels.accumulate import copy
    from engine.ops.base import _plan

    lines = []
    for rows, cols in ((64, 256), (512, 1024)):
        g = np.ones((rows, cols), np.float32)
        big, strides, size = _plan((cols,), (rows, cols))
        n = 2000 if rows == 64 else 100
        k = per_call(lambda g=g, big=big, strides=strides, size=size:
                     bk.sum_to(g.reshape(-1), big, strides, size), n, 5)
        ref = per_call(lambda g=g: g.sum(0), n, 5)
        lines.append(f"    bias gradient ({rows}, {cols}) -> ({cols},): sum_to kernel {k:8.1f} us, "
                     f"numpy g.sum(0) {ref:7.1f} us")
    src = np.ones(10_000_000, np.float32)
    dst = np.empty_like(src)
    fresh = per_call(lambda: copy(src), 5, 5)
    reuse = per_call(lambda: np.copyto(dst, src), 5, 5)
    lines.append(f"    10M float32 copy: into a fresh buffer (copy kernel) {fresh / 1e3:6.1f} ms, "
                 f"into a reused one (np.copyto) {reuse / 1e3:6.1f} ms")
    return "\n".join(lines)


def _errstate() -> None:
    with np.errstate(over="ignore"):
        pass


def main() -> None:
    import engine
    import engine.nn.functional as ef
    from benchmarks.small_graphs import chain_parts, tutorial_parts

    set_threads(1)
    e = tutorial_parts(engine, ef)
    build, bwd = chain_parts(engine, 100)
    print("== 1. cProfile, tutorial fwd+bwd+zero_ (20,000 iterations)")
    print(cprofile(e["step"], 20000))
    print()
    print("== 1. cProfile, 100-op chain fwd+bwd (1,000 iterations)")
    print(cprofile(lambda: bwd(build()), 1000))
    print()
    print("== 2. backward, per node")
    print(backward_breakdown())
    print()
    print("== 3. forward, per op (us per call)")
    print(forward_breakdown())
    print()
    print("== 4. the same nodes under a minimal loop (what the loop itself costs)")
    print(lean_comparison())
    print()
    print("== 5. kernel-level costs behind the MLP and sigmoid cases")
    print(kernel_notes())


if __name__ == "__main__":
    main()
