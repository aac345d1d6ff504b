"""Case 8: the engine's matrix products on numpy's BLAS (OpenBLAS) and on MKL's.

The MLP steps of ``benchmarks.mlp`` with ``engine._base.blas`` switched between its two
backends (``JITGRAD_BLAS`` chooses at import; here ``blas.use`` switches between samples),
against torch (MKL) on the same data.  One thread each: OpenBLAS and torch are set to 1,
MKL runs its sequential layer.  Without MKL installed the case reports nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks._harness import Config, Table, compare, fmt_time, set_threads
from benchmarks.mlp import _data, graph_step


def _on(mode: str, step: Callable[[], None]) -> Callable[[], None]:
    """``step`` with the engine's BLAS set to ``mode`` (switched only when it changed)."""
    from engine._base import blas

    def run() -> None:
        if blas.mode() != mode:
            blas.use(mode)
        step()

    return run


def case_blas(cfg: Config) -> list[Table]:
    import torch

    import engine
    import engine.nn.functional as ef
    from engine._base import blas

    if blas.find_mkl() is None:
        return []
    before = blas.mode()
    table = Table("The engine's matrix products on numpy's OpenBLAS and on MKL (1 thread each; "
                  "torch on its MKL)", ("case", "engine (OpenBLAS)", "engine (MKL)", "torch",
                                        "MKL / OpenBLAS", "MKL / torch"))
    set_threads(1)
    cases = (("MLP 784-256-10 b64: fwd+bwd+SGD step", (784, 256, 10, 64), True,
              cfg.reps(300, 40)),
             ("MLP 1024-1024-1024 b512: fwd+bwd", (1024, 1024, 1024, 512), False,
              cfg.reps(12, 3)))
    try:
        for name, dims, sgd, reps in cases:
            d = _data(*dims)
            res = compare({"numpy": (_on("numpy", graph_step(engine, ef, d, sgd)), None),
                           "mkl": (_on("mkl", graph_step(engine, ef, d, sgd)), None),
                           "torch": (graph_step(torch, torch.nn.functional, d, sgd), None)},
                          repeats=reps, warmup=2, block=max(1, reps // 10), budget_s=12)
            n, m, t = res["numpy"], res["mkl"], res["torch"]
            table.rows.append((name, fmt_time(n), fmt_time(m), fmt_time(t), f"{m / n:.2f}x",
                               f"{m / t:.2f}x"))
    finally:
        blas.use(before)
    return [table]


CASES = {"blas": case_blas}
