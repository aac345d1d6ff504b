"""Case 6: what a user waits for in a fresh process.

* ``import engine`` plus one tutorial forward + backward, with the Numba cache warm
  (the script runs once untimed first), against the same script with ``import torch``;
  wall time of the whole subprocess, median of 5.
* ``python -m engine.warmup`` cold (``NUMBA_CACHE_DIR`` pointed at a fresh temporary
  folder, so every kernel compiles), once serially (``-j 1``) and once with the default
  worker processes, each with its longest stretch without a progress line; then warm (the
  parallel run's folder, now filled).

The environment is passed through unchanged except for ``NUMBA_CACHE_DIR`` in the
warm-up runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._harness import Config, Row, median

ROOT = Path(__file__).resolve().parent.parent

TUTORIAL = """
import {lib} as torch
x = torch.ones(5)
y = torch.zeros(3)
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
loss.backward()
assert w.grad is not None
"""


def wall(args: list[str], env: dict[str, str] | None = None, check: bool = True) -> float:
    """Seconds from spawn to exit of ``python args...`` run from the repository root."""
    t0 = time.perf_counter_ns()
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)
    elapsed = (time.perf_counter_ns() - t0) / 1e9
    if proc.returncode != 0 and check:
        last = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"python {' '.join(args)[:40]} failed: {last[0][:120]}")
    return elapsed


def case_startup(cfg: Config) -> list[Row]:
    runs = 5 if not cfg.quick else 2
    engine_script = ["-c", TUTORIAL.format(lib="engine")]
    torch_script = ["-c", TUTORIAL.format(lib="torch")]
    wall(engine_script)  # fills the default cache for the kernels the tutorial needs
    eng = median([wall(engine_script) for _ in range(runs)])
    tor = median([wall(torch_script) for _ in range(3 if runs > 3 else runs)])
    bare = median([wall(["-c", "pass"]) for _ in range(runs)])
    nb = median([wall(["-c", "import numba"]) for _ in range(runs)])
    rows = [Row("fresh process: import + tutorial fwd+bwd, warm cache", eng, tor,
                target="<= 1.2 s", met=eng <= 1.2,
                note=f"python -c pass {bare:.2f} s, import numba {nb:.2f} s; median of {runs}")]

    if cfg.quick:
        rows.append(Row("python -m engine.warmup, cold (empty NUMBA_CACHE_DIR)",
                        target="reported", note="skipped with --quick (compiles everything)"))
        rows.append(_warmup_row("python -m engine.warmup, warm (default cache)", None, 3,
                                "median of 3"))
        return rows
    serial_cache = tempfile.mkdtemp(prefix="jitgrad-bench-numba-")
    cache = tempfile.mkdtemp(prefix="jitgrad-bench-numba-")
    try:
        serial = _cold_row("python -m engine.warmup -j 1, cold (serial, empty cache)",
                           ["-j", "1"], serial_cache)
        parallel = _cold_row("python -m engine.warmup, cold (worker per CPU, empty cache)",
                             [], cache)
        if serial.engine and parallel.engine:
            parallel.note += f"; {serial.engine / parallel.engine:.1f}x faster than serial"
        rows += [serial, parallel]
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        rows.append(_warmup_row("python -m engine.warmup, warm (same cache)", env, 3,
                                "median of 3; reads the cache index, compiles nothing"))
    finally:
        shutil.rmtree(serial_cache, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    return rows


def _cold_row(name: str, args: list[str], cache: str) -> Row:
    """One warm-up into the empty folder ``cache``: wall time, and the longest stretch
    without output (progress lines are timestamped as they arrive)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "engine.warmup", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    stamps = [t0] + [time.perf_counter() for _line in proc.stdout]
    err = proc.stderr.read()
    proc.wait()
    wall_s = time.perf_counter() - t0
    if proc.returncode != 0:
        last = err.strip().splitlines()[-1:] or ["no output"]
        return Row(name, target="reported", note=f"failed: {last[0][:120]}")
    gap = max(b - a for a, b in zip(stamps, stamps[1:] + [t0 + wall_s]))
    return Row(name, wall_s, target="no silent gap > 1 s", met=gap <= 1.0,
               note=f"one run; longest silent gap {gap:.2f} s")


def _warmup_row(name: str, env: dict[str, str] | None, runs: int, note: str) -> Row:
    try:
        t = median([wall(["-m", "engine.warmup"], env) for _ in range(runs)])
    except RuntimeError as exc:
        return Row(name, target="reported", note=str(exc))
    return Row(name, t, target="reported", note=note)


CASES = {"startup": case_startup}
