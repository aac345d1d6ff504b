"""Compile every Numba kernel for float32 and float64 ahead of first use.

``python -m engine.warmup`` (or ``jitgrad warmup``) prints one progress line per
kernel group.  Kernels are cached on disk, so this is slow once and quick after.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import TextIO

import numpy as np

import engine.kernels as kernels_pkg
from engine.kernels import REGISTRY, Kernel


def _load_all() -> None:
    for mod in pkgutil.iter_modules(kernels_pkg.__path__):
        importlib.import_module(f"engine.kernels.{mod.name}")


def _args(sig: str, dtype: type) -> tuple:
    arr = np.ones(4, dtype)
    made = []
    for code in sig:
        if code == "a":
            made.append(arr.copy())
        elif code == "s":
            made.append(1.0)
        elif code == "i":
            made.append(np.ones(1, np.int64))
        elif code == "n":
            made.append(4)
        else:  # pragma: no cover - a registration mistake
            raise ValueError(f"unknown signature code {code!r}")
    return tuple(made)


def _compile(k: Kernel, dtype: type) -> None:
    args = _args(k.sig, dtype)
    if k.name in ("sum_to", "expand"):  # shape, strides, size must describe one buffer
        args = (args[0], np.array([4], np.int64), np.array([1], np.int64), 4) + args[4:]
    elif k.name == "scatter_add":
        args = (args[0], np.arange(4, dtype=np.int64), 4)
    k.fn(*args)


def warmup(out: TextIO | None = sys.stdout, progress: Callable[[str, int, int], None] | None = None
           ) -> float:
    """Compile (or load from cache) all kernels; returns the seconds it took."""
    _load_all()
    groups: dict[str, list[Kernel]] = defaultdict(list)
    for k in REGISTRY:
        groups[k.group].append(k)
    start = time.perf_counter()
    for n, (group, ks) in enumerate(sorted(groups.items()), 1):
        t0 = time.perf_counter()
        for k in ks:
            for dtype in (np.float32, np.float64):
                _compile(k, dtype)
        if progress is not None:
            progress(group, n, len(groups))
        if out is not None:
            print(f"[{n}/{len(groups)}] {group:<12} {len(ks):3d} kernels  "
                  f"{time.perf_counter() - t0:6.2f} s", file=out, flush=True)
    total = time.perf_counter() - start
    if out is not None:
        print(f"Numba kernels ready in {total:.2f} s", file=out)
    return total


if __name__ == "__main__":
    warmup()
