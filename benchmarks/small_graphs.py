"""Cases 1 and 2: tiny graphs, where the per-call and per-node Python overhead is everything.

Case 1 is the tutorial network: ``z = x @ w + b`` with x = ones(5), w 5x3, b 3, and a
binary cross-entropy-with-logits loss against zeros(3).

Case 2 is a chain of tiny elementwise ops on a 16-element tensor, alternating ``* 1.0001``
and ``+ 0.001``, summed at the end.  The marginal cost of one more backward node is the
slope of backward time over chains of 10, 50, 100 and 200 ops (the intercept is the fixed
cost of a backward call, which the slope must not hide).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._harness import Config, Row, compare, set_threads, slope

CHAIN_LENGTHS = (10, 50, 100, 200)


def _libs() -> tuple[Any, Any, Any, Any]:
    import torch

    import engine
    import engine.nn.functional as ef

    return engine, ef, torch, torch.nn.functional


# ----------------------------------------------------------------------------- case 1
def tutorial_parts(lib: Any, fn: Any) -> dict[str, Any]:
    """The tutorial network on ``lib`` (engine or torch), as timed pieces.

    Both libraries get the same w and b values (float32), so they do the same math.
    """
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((5, 3)).astype(np.float32)
    b0 = rng.standard_normal(3).astype(np.float32)
    x = lib.ones(5)
    y = lib.zeros(3)
    w = lib.tensor(w0, requires_grad=True)
    b = lib.tensor(b0, requires_grad=True)
    bce = fn.binary_cross_entropy_with_logits

    def forward() -> Any:
        z = lib.matmul(x, w) + b
        return bce(z, y)

    def step() -> None:
        loss = forward()
        loss.backward()
        w.grad.zero_()
        b.grad.zero_()

    def backward(loss: Any) -> None:
        loss.backward()

    step()  # creates .grad, so every timed step accumulates in place as a loop does
    return {"forward": forward, "step": step, "backward": backward, "w": w, "b": b}


def case_tutorial(cfg: Config) -> list[Row]:
    engine, ef, torch, tf = _libs()
    set_threads(1)
    e = tutorial_parts(engine, ef)
    t = tutorial_parts(torch, tf)
    reps = cfg.reps(3000, 400)

    full = compare({"engine": (e["step"], None), "torch": (t["step"], None)},
                   repeats=reps, warmup=50, block=20)
    fwd = compare({"engine": (e["forward"], None), "torch": (t["forward"], None)},
                  repeats=reps, warmup=50, block=20)
    # Backward alone: the graph is rebuilt by ``setup`` before every sample, outside the
    # timer, and only ``loss.backward()`` is timed.  This is more direct than
    # retain_graph (which would change what backward frees) or than subtracting a
    # separately timed forward (two noisy medians).
    bwd = compare({"engine": (e["backward"], e["forward"]),
                   "torch": (t["backward"], t["forward"])},
                  repeats=reps, warmup=50, block=20)
    rows = [
        _ratio_row("tutorial net: fwd+bwd+zero_ grads", full, 0.2),
        _ratio_row("tutorial net: backward alone", bwd, 0.2),
        _ratio_row("tutorial net: forward alone", fwd, None),
    ]
    return rows


# ----------------------------------------------------------------------------- case 2
def chain_parts(lib: Any, n: int) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    """(build, backward) for a chain of ``n`` tiny ops ending in a sum."""
    x = lib.tensor(np.linspace(0.5, 1.5, 16, dtype=np.float32), requires_grad=True)

    def build() -> Any:
        y = x
        for i in range(n):
            y = y * 1.0001 if i % 2 == 0 else y + 0.001
        return y.sum()

    def backward(loss: Any) -> None:
        loss.backward()

    return build, backward


def chain_times(cfg: Config, lengths: tuple[int, ...] = CHAIN_LENGTHS
                ) -> dict[int, dict[str, float]]:
    """Median forward and backward seconds per chain length, engine and torch."""
    engine, _, torch, _ = _libs()
    out: dict[int, dict[str, float]] = {}
    for n in lengths:
        eb, ebw = chain_parts(engine, n)
        tb, tbw = chain_parts(torch, n)
        reps = cfg.reps(max(60, 24000 // n), max(20, 3000 // n))
        bwd = compare({"engine": (ebw, eb), "torch": (tbw, tb)}, repeats=reps, warmup=5,
                      block=10)
        fwd = compare({"engine": (eb, None), "torch": (tb, None)}, repeats=reps, warmup=5,
                      block=10)
        out[n] = {"engine_bwd": bwd["engine"], "torch_bwd": bwd["torch"],
                  "engine_fwd": fwd["engine"], "torch_fwd": fwd["torch"]}
    return out


def case_chain(cfg: Config) -> list[Row]:
    set_threads(1)
    times = chain_times(cfg)
    ns = list(times)
    fits = {key: slope(ns, [times[n][key] for n in ns])
            for key in ("engine_bwd", "torch_bwd", "engine_fwd", "torch_fwd")}
    # One backward node per op, plus the SumBackward0 and the AccumulateGrad (in the
    # intercept): the slope is the marginal cost of one more node.
    bwd = Row("chain of tiny ops: backward per node (slope 10-200)",
              fits["engine_bwd"][0], fits["torch_bwd"][0], target="<= 0.30x")
    bwd.met = bwd.ratio is not None and bwd.ratio <= 0.3
    bwd.note = (f"intercept engine {fits['engine_bwd'][1] * 1e6:.1f} us, "
                f"torch {fits['torch_bwd'][1] * 1e6:.1f} us")
    fwd = Row("chain of tiny ops: forward per op (slope)", fits["engine_fwd"][0],
              fits["torch_fwd"][0])
    total = Row("chain of 100 tiny ops: backward total", times[100]["engine_bwd"],
                times[100]["torch_bwd"])
    return [bwd, fwd, total]


def _ratio_row(name: str, res: dict[str, float], target: float | None) -> Row:
    row = Row(name, res["engine"], res["torch"])
    if target is not None:
        row.target = f"<= {target:.2f}x"
        row.met = row.ratio is not None and row.ratio <= target
    return row


# ----------------------------------------------------------------------------- case 3
def training_step(lib: Any, fn: Any, compiled: bool) -> Callable[[], Any]:
    """One SGD training step of the tutorial network: zero_grad, forward, backward, step.

    ``compiled``: the engine's ``autograd.Plan`` of the same step (one Numba call)."""
    parts = tutorial_parts(lib, fn)
    w, b = parts["w"], parts["b"]
    opt = lib.optim.SGD([w, b], lr=0.1, momentum=0.9)
    if compiled:
        plan = lib.autograd.Plan(parts["forward"], opt)
        for _ in range(3):
            plan()
        assert plan.compiled, plan.reason
        return plan

    def step() -> None:
        opt.zero_grad()
        parts["forward"]().backward()
        opt.step()

    return step


def case_plan(cfg: Config) -> list[Row]:
    engine, ef, torch, tf = _libs()
    set_threads(1)
    sides = {"engine": (training_step(engine, ef, True), None),
             "torch": (training_step(torch, tf, False), None),
             "eager": (training_step(engine, ef, False), None)}
    res = compare(sides, repeats=cfg.reps(3000, 400), warmup=50, block=20)
    row = _ratio_row("tutorial net training step (SGD), compiled autograd.Plan", res, 0.05)
    row.note = (f"engine's eager step {res['eager'] * 1e6:.1f} us "
                f"({res['eager'] / res['torch']:.2f}x); torch eager loop")
    return [row]


CASES = {"tutorial": case_tutorial, "chain": case_chain, "plan": case_plan}
