"""Case 7: how backward time grows with the graph and with the tensors.

* Graph size: the tiny-op chain of case 2 (16 elements) with 10 to 100,000 ops; backward
  alone, the graph built untimed before each sample.  Linear growth shows as a flat
  "per node" column.
* Tensor size: a fixed four-node graph, ``((x * 2 + 1).sigmoid()).sum()``, on 10 to 10^7
  elements (10^8 too in a full run when memory allows).  "fixed share" is the backward
  time at 10 elements over the time at this size: the part that is per-call Python and
  dispatch overhead rather than arithmetic.  Where it drops under ~10%, overhead has
  stopped mattering.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks._harness import (
    Config,
    Table,
    compare,
    fmt_time,
    mem_available,
    set_threads,
)
from benchmarks.small_graphs import chain_parts

GRAPH_SIZES = (10, 100, 1_000, 10_000, 100_000)
TENSOR_SIZES = (10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)
BIG = 100_000_000


def graph_table(cfg: Config) -> Table:
    import torch

    import engine

    table = Table("Backward time vs graph size (chain of tiny ops, 16 elements, 1 thread)",
                  ("nodes", "engine", "torch", "ratio", "engine per node", "torch per node"))
    for n in GRAPH_SIZES:
        eb, ebw = chain_parts(engine, n)
        tb, tbw = chain_parts(torch, n)
        reps = cfg.reps(max(3, 20000 // n), max(1, 1000 // n))
        res = compare({"engine": (ebw, eb), "torch": (tbw, tb)}, repeats=reps,
                      warmup=1 if n < 10_000 else 0, budget_s=5 if not cfg.quick else 1)
        e, t = res["engine"], res["torch"]
        table.rows.append((f"{n:,}", fmt_time(e), fmt_time(t), f"{e / t:.2f}x",
                           fmt_time(e / n), fmt_time(t / n)))
    return table


def _fixed_graph(lib: Any, n: int) -> tuple[Any, Any]:
    x = lib.tensor(np.random.default_rng(6).standard_normal(n).astype(np.float32),
                   requires_grad=True)

    def build() -> Any:
        return lib.sigmoid(x * 2.0 + 1.0).sum()

    def backward(loss: Any) -> None:
        x.grad = None
        loss.backward()

    return build, backward


def tensor_table(cfg: Config) -> Table:
    import torch

    import engine

    sizes = list(TENSOR_SIZES)
    if not cfg.quick and mem_available() > 16 * 2**30:
        sizes.append(BIG)
    table = Table("Backward time vs tensor size (sigmoid(x * 2 + 1).sum(), float32; torch 1 "
                  "thread, the engine's elementwise kernels 2 threads from 2^20 elements)",
                  ("elements", "engine", "torch", "ratio", "engine per elem",
                   "torch per elem", "engine fixed share"))
    base = None
    for n in sizes:
        eb, ebw = _fixed_graph(engine, n)
        tb, tbw = _fixed_graph(torch, n)
        reps = cfg.reps(max(3, min(400, int(2e8 / n) // 100)), max(2, min(40, int(1e7 / n))))
        res = compare({"engine": (ebw, eb), "torch": (tbw, tb)}, repeats=reps,
                      warmup=2 if n < BIG else 1, block=max(1, min(10, reps // 10)),
                      budget_s=6 if not cfg.quick else 1)
        e, t = res["engine"], res["torch"]
        base = e if base is None else base
        table.rows.append((f"{n:,}", fmt_time(e), fmt_time(t), f"{e / t:.2f}x",
                           f"{e / n * 1e9:.2f} ns", f"{t / n * 1e9:.2f} ns",
                           f"{min(1.0, base / e):.1%}"))
        del eb, ebw, tb, tbw
    return table


def case_scaling(cfg: Config) -> list[Table]:
    set_threads(1)
    return [graph_table(cfg), tensor_table(cfg)]


CASES = {"scaling": case_scaling}
