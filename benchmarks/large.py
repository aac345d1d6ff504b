"""Case 4: sigmoid forward + backward on 10M float32 elements (memory-bound work).

Each step: ``x.grad = None``; ``y = sigmoid(x)``; ``y.backward(g)`` with a ones gradient
made once.  Resetting ``.grad`` to None is what ``optimizer.zero_grad()`` does by default,
so the leaf's gradient is a fresh buffer each step on both sides.  The numpy column is the
same math written directly (``s = 1 / (1 + exp(-x))``, ``g * s * (1 - s)``).

Threads, as the row's note says: torch runs on 1 thread (checked before every torch
sample: a Numba ``prange`` launch can reset torch's count) and numpy on 1; the engine uses
2 where it does for large tensors - the backward kernel's blocks and the forward's numpy
blocks are shared by two Python threads (``engine.kernels.buffers.run_blocks``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._harness import Config, Row, compare, set_threads

N = 10_000_000


def sigmoid_step(lib: Any, x0: np.ndarray) -> Callable[[], None]:
    x = lib.tensor(x0, requires_grad=True)
    g = lib.ones(x0.size)

    def step() -> None:
        x.grad = None
        y = lib.sigmoid(x)
        y.backward(g)

    step()
    return step


def numpy_sigmoid(x: np.ndarray) -> Callable[[], None]:
    g = np.ones_like(x)

    def step() -> None:
        s = 1 / (1 + np.exp(-x))
        g * (s * (1 - s))

    return step


def one_thread(step: Callable[[], None]) -> Callable[[], None]:
    """``step`` with torch held at 1 thread (a check per call, ~1 us on a ~40 ms step)."""
    import torch

    def run() -> None:
        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)
        step()

    return run


def case_sigmoid(cfg: Config) -> list[Row]:
    import torch

    import engine

    set_threads(1)
    x0 = np.random.default_rng(2).standard_normal(N).astype(np.float32)
    res = compare({"engine": (sigmoid_step(engine, x0), None),
                   "torch": (one_thread(sigmoid_step(torch, x0)), None),
                   "numpy": (numpy_sigmoid(x0), None)},
                  repeats=cfg.reps(15, 4), warmup=1, budget_s=15)
    row = Row("sigmoid fwd+bwd, 10M float32", res["engine"], res["torch"], res["numpy"],
              target="<= 0.35x",
              note="torch and numpy 1 thread; engine 2 threads (backward kernel and forward "
                   "numpy blocks shared by 2 Python threads)")
    row.met = row.ratio is not None and row.ratio <= 0.35
    return [row]


CASES = {"sigmoid": case_sigmoid}
