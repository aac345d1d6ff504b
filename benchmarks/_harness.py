"""Shared machinery: run settings, result rows, timers, and the machine description.

Timing rules used by every topic module:

* ``time.perf_counter_ns`` around one call (or a block of calls for sub-microsecond work);
* warm-up calls first, so Numba kernels are loaded and torch has its buffers;
* engine and torch samples are taken in alternating blocks in the same process, so a noisy
  neighbour slows both sides alike; the reported figure is the median of all samples.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import gc
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Config:
    """How hard to try: ``quick`` scales every repeat count down (about 30 s in total)."""

    quick: bool = False
    markdown: bool = False
    only: tuple[str, ...] = ()
    two_threads: bool = False

    def reps(self, full: int, quick: int | None = None) -> int:
        if not self.quick:
            return full
        return max(1, quick if quick is not None else full // 5)


@dataclass
class Row:
    """One line of the main table.

    ``unit`` is ``"s"`` (times, printed as ns/us/ms/s) or ``"GB/s"``.  ``ratio`` defaults to
    engine/torch; ``ratio_text`` replaces it where the comparison is something else (a share
    of the triad bandwidth).  ``met`` is None where the case has no target.
    """

    case: str
    engine: float | None = None
    torch: float | None = None
    numpy: float | None = None
    unit: str = "s"
    ratio_text: str | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.engine is None or self.torch is None or self.torch == 0:
            return None
        return self.engine / self.torch


@dataclass
class Table:
    """A secondary table (the scaling study): free-form columns."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)


# ----------------------------------------------------------------------------- timing
def _sample(fn: Callable[..., Any], setup: Callable[[], Any] | None, number: int) -> float:
    if setup is not None:
        arg = setup()
        t0 = time.perf_counter_ns()
        fn(arg)
        return float(time.perf_counter_ns() - t0)
    t0 = time.perf_counter_ns()
    for _ in range(number):
        fn()
    return (time.perf_counter_ns() - t0) / number


def compare(sides: dict[str, tuple[Callable[..., Any], Callable[[], Any] | None]], *,
            repeats: int, warmup: int = 3, block: int = 1, number: int = 1,
            budget_s: float | None = None, sequential: bool = False,
            warmup_s: float = 0.0) -> dict[str, float]:
    """Median seconds per call of each side, sampled in alternating blocks.

    ``sides`` maps a name to ``(fn, setup)``.  With a ``setup`` the timed call is
    ``fn(setup())`` and only ``fn`` is inside the timer (used to time a backward pass on a
    graph built just before, outside the timed region).  Without one, ``number`` calls
    are timed together and divided.  ``budget_s`` stops early (after at least 3 samples
    per side) when a case would run too long.  ``sequential`` runs each side's warm-up
    and all its samples in one go instead (for thread pools that must not alternate).
    ``warmup_s`` keeps warming each side for at least that long (after a big case, a
    2-thread BLAS loop stays slow for a few hundred milliseconds).
    """
    if sequential:
        res: dict[str, float] = {}
        for name, side in sides.items():
            res.update(compare({name: side}, repeats=repeats, warmup=warmup, block=repeats,
                               number=number, budget_s=budget_s, warmup_s=warmup_s))
        return res
    for fn, setup in sides.values():
        t_end = time.perf_counter() + warmup_s
        done = 0
        while done < warmup or time.perf_counter() < t_end:
            if setup is not None:
                fn(setup())
            else:
                fn()
            done += 1
    samples: dict[str, list[float]] = {k: [] for k in sides}
    gc.collect()
    start = time.perf_counter()
    done = 0
    while done < repeats:
        for name, (fn, setup) in sides.items():
            for _ in range(block):
                samples[name].append(_sample(fn, setup, number))
        done += block
        if budget_s is not None and done >= 3 and time.perf_counter() - start > budget_s:
            break
    return {k: median(v) / 1e9 for k, v in samples.items()}


def median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else 0.5 * (s[mid - 1] + s[mid])


def slope(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares line through the points: (slope, intercept)."""
    n = len(xs)
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    k = sxy / sxx
    return k, my - k * mx


# ----------------------------------------------------------------------------- formatting
def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return fmt_time(value)
    return f"{value:.1f} {unit}"


# ----------------------------------------------------------------------------- BLAS threads
class OpenBLAS:
    """numpy's bundled OpenBLAS, reached with ctypes (threadpoolctl is not a dependency)."""

    def __init__(self) -> None:
        self.lib: Any = None
        self.prefix = ""
        self.path = ""
        import numpy  # noqa: F401  (loads the library so it shows in the process map)

        try:
            with open("/proc/self/maps") as fh:
                paths = sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower()})
        except OSError:
            paths = []
        for path in paths:
            lib = ctypes.CDLL(path)
            for prefix in ("scipy_openblas", "openblas"):
                for suffix in ("64_", ""):
                    if hasattr(lib, f"{prefix}_get_num_threads{suffix}"):
                        self.lib, self.path = lib, path
                        self.prefix = f"{prefix}_{{}}{suffix}"
                        return

    def _fn(self, name: str) -> Any:
        return getattr(self.lib, self.prefix.format(name))

    @property
    def available(self) -> bool:
        return self.lib is not None

    def corename(self) -> str:
        if not self.available:
            return "unknown"
        f = self._fn("get_corename")
        f.restype = ctypes.c_char_p
        return f().decode()

    def threads(self) -> int | None:
        return int(self._fn("get_num_threads")()) if self.available else None

    def set_threads(self, n: int) -> None:
        if self.available:
            self._fn("set_num_threads")(int(n))


BLAS = OpenBLAS()


def set_threads(n: int) -> None:
    """Torch's intra-op pool and numpy's OpenBLAS (what the engine's matmul uses) to ``n``."""
    import torch

    torch.set_num_threads(n)
    BLAS.set_threads(n)


# ----------------------------------------------------------------------------- header
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


_ENV_KEYS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
             "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_CACHE_DIR")


def header_lines() -> list[str]:
    import numba
    import numpy
    import torch

    env = ", ".join(f"{k}={os.environ[k]}" for k in _ENV_KEYS if k in os.environ) or "none set"
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"date: {now}",
        f"cpu: {cpu_model()}, {os.cpu_count()} logical cores, "
        f"{_mem_gib():.0f} GiB RAM, {platform.machine()}",
        f"python {platform.python_version()}, numpy {numpy.__version__}, "
        f"numba {numba.__version__}, torch {torch.__version__}",
        f"threads: torch intra-op {torch.get_num_threads()} and numpy's OpenBLAS "
        f"{BLAS.threads()} (core {BLAS.corename()}), both set per case, 1 unless the case "
        f"says; numba {numba.get_num_threads()} (prange kernels only)",
        f"thread/BLAS env: {env}",
        f"load average at start: {_loadavg()} (other work on this host adds noise; the "
        "engine and torch samples alternate so both see it)",
    ]


def _loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def numba_layer() -> str:
    import numba

    try:
        return str(numba.threading_layer())
    except ValueError:  # no parallel kernel has run yet
        return "not started"


def _mem_gib() -> float:
    return _meminfo("MemTotal") / 2**30


def _meminfo(key: str) -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return 0.0


def mem_available() -> float:
    """Bytes the kernel says are available now (0 when unknown)."""
    return _meminfo("MemAvailable")
