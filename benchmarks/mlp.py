"""Case 3: two-layer perceptrons, where BLAS does the work and overhead should vanish.

The engine has no ``nn.Linear`` yet, so both sides build the same network from
``matmul``, ``+``, ``relu`` and ``binary_cross_entropy_with_logits`` (one-hot targets):

    h = relu(x @ W1 + b1);  z = h @ W2 + b2;  loss = bce_with_logits(z, y)

The numpy column is the same network with a hand-written backward (the BLAS floor: no
graph at all).  The small net also takes a manual SGD step, ``p -= lr * p.grad`` under
``no_grad``, then zeroes the grads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._harness import Config, Row, compare, set_threads

LR = 0.01


def _data(n_in: int, n_hidden: int, n_out: int, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    f32 = np.float32
    return {
        "x": rng.standard_normal((batch, n_in)).astype(f32),
        "y": np.eye(n_out, dtype=f32)[rng.integers(0, n_out, batch)],
        "W1": (rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)).astype(f32),
        "b1": np.zeros(n_hidden, f32),
        "W2": (rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden)).astype(f32),
        "b2": np.zeros(n_out, f32),
    }


def graph_step(lib: Any, fn: Any, d: dict[str, np.ndarray], sgd: bool) -> Callable[[], None]:
    """One training step on ``lib`` (engine or torch)."""
    x = lib.tensor(d["x"])
    y = lib.tensor(d["y"])
    params = [lib.tensor(d[k].copy(), requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    w1, b1, w2, b2 = params
    bce = fn.binary_cross_entropy_with_logits

    def step() -> None:
        h = lib.relu(lib.matmul(x, w1) + b1)
        loss = bce(lib.matmul(h, w2) + b2, y)
        loss.backward()
        if sgd:
            with lib.no_grad():
                for p in params:
                    p -= LR * p.grad
                    p.grad.zero_()

    step()
    return step


def plan_step(d: dict[str, np.ndarray]) -> Callable[[], Any]:
    """The small net's training step as an ``engine.autograd.Plan`` with ``optim.SGD``
    (the same update as the manual one: ``p - lr * grad``), compiled before timing."""
    import engine
    import engine.nn.functional as ef

    x, y = engine.tensor(d["x"]), engine.tensor(d["y"])
    w1, b1, w2, b2 = params = [engine.tensor(d[k].copy(), requires_grad=True)
                               for k in ("W1", "b1", "W2", "b2")]

    def loss() -> Any:
        h = engine.relu(engine.matmul(x, w1) + b1)
        return ef.binary_cross_entropy_with_logits(engine.matmul(h, w2) + b2, y)

    plan = engine.autograd.Plan(loss, engine.optim.SGD(params, lr=LR))
    for _ in range(3):
        plan()
    assert plan.compiled, plan.reason
    return plan


def numpy_step(d: dict[str, np.ndarray], sgd: bool) -> Callable[[], None]:
    """The same step with a hand-written backward, in place where numpy allows."""
    x, y = d["x"], d["y"]
    w1, b1, w2, b2 = (d[k].copy() for k in ("W1", "b1", "W2", "b2"))
    grads = [np.zeros_like(p) for p in (w1, b1, w2, b2)]

    def step() -> None:
        a1 = x @ w1 + b1
        h = np.maximum(a1, 0)
        z = h @ w2 + b2
        log_sig = np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))
        float(((1 - y) * z - log_sig).mean())  # the loss value, as the graph computes it
        dz = (1 / (1 + np.exp(-z)) - y) / np.float32(z.size)
        dh = dz @ w2.T
        da1 = np.where(a1 > 0, dh, 0)
        parts = (x.T @ da1, da1.sum(0), h.T @ dz, dz.sum(0))
        for g, part in zip(grads, parts):
            g += part
        if sgd:
            for p, g in zip((w1, b1, w2, b2), grads):
                p -= np.float32(LR) * g
                g[...] = 0

    step()
    return step


def _case(cfg: Config, name: str, dims: tuple[int, int, int, int], sgd: bool, threads: int,
          reps: int, target: float | None) -> Row:
    import torch

    import engine
    import engine.nn.functional as ef

    set_threads(threads)
    d = _data(*dims)
    res = compare({"engine": (graph_step(engine, ef, d, sgd), None),
                   "torch": (graph_step(torch, torch.nn.functional, d, sgd), None),
                   "numpy": (numpy_step(d, sgd), None)},
                  repeats=reps, warmup=2, block=max(1, reps // 10), budget_s=12,
                  sequential=threads > 1, warmup_s=0.5 if threads > 1 else 0.0)
    row = Row(name, res["engine"], res["torch"], res["numpy"])
    if target is not None:
        row.target = f"<= {target:.2f}x"
        row.met = row.ratio is not None and row.ratio <= target
    set_threads(1)
    return row


def _plan_case(cfg: Config) -> Row:
    import torch

    set_threads(1)
    d = _data(784, 256, 10, 64)
    res = compare({"engine": (plan_step(d), None),
                   "torch": (graph_step(torch, torch.nn.functional, d, True), None),
                   "numpy": (numpy_step(d, True), None)},
                  repeats=cfg.reps(300, 40), warmup=2, block=max(1, cfg.reps(300, 40) // 10),
                  budget_s=12)
    return Row("MLP 784-256-10 b64: the same step as a compiled autograd.Plan", res["engine"],
               res["torch"], res["numpy"],
               note="engine: Plan with optim.SGD (products through the engine's BLAS, the rest "
                    "in one Numba interpreter); torch and numpy: the eager step above")


def case_mlp(cfg: Config) -> list[Row]:
    rows = [
        _case(cfg, "MLP 784-256-10 b64: fwd+bwd+SGD step", (784, 256, 10, 64), True, 1,
              cfg.reps(300, 40), 1.0),
        _plan_case(cfg),
        _case(cfg, "MLP 1024-1024-1024 b512: fwd+bwd", (1024, 1024, 1024, 512), False, 1,
              cfg.reps(12, 3), 1.0),
    ]
    # The same two at 2 threads (torch and numpy's OpenBLAS), for the record.
    if not cfg.two_threads:
        return rows
    # At 2 threads the sides run one after another, not interleaved: on 2 cores the
    # OpenBLAS pool (engine, numpy) and torch's OpenMP pool spin-wait against each other
    # when they alternate, and every side gets 20-50x slower.
    import os

    from engine._base import blas

    note = f"2 threads each, sides in sequence; load avg {os.getloadavg()[0]:.1f} on 2 cores"
    if blas.backend() == "mkl":  # its sequential layer: see engine/_base/blas.py
        note += "; the engine's large products on MKL, 1 thread"
    for row in (_case(cfg, "MLP 784-256-10 b64: fwd+bwd+SGD, 2 threads", (784, 256, 10, 64),
                      True, 2, cfg.reps(200, 30), None),
                _case(cfg, "MLP 1024-1024-1024 b512: fwd+bwd, 2 threads",
                      (1024, 1024, 1024, 512), False, 2, cfg.reps(10, 3), None)):
        row.note = note
        rows.append(row)
    return rows


CASES = {"mlp": case_mlp}
