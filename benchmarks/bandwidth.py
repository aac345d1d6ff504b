"""Case 5: how close the engine's elementwise backward kernels get to memory bandwidth.

A STREAM triad (``a[i] = b[i] + s * c[i]``) written in Numba gives the machine's
achievable bandwidth in this very run, serial and with ``prange`` on every Numba thread.
Every kernel of ``engine.kernels.elementwise`` is then called the way the ops call it -
through the module's entry point, which on 10M elements runs the kernel's twin over blocks
on two threads (``engine.kernels.buffers.run_blocks``) into an output from the buffer
pool (the result is dropped at once, as a consumed gradient is, so the next call reuses
the buffer) - on 10M-element float32 flat arrays, and its achieved bandwidth is

    (arrays read + arrays written) * 10M * 4 bytes / median time

reported as a share of the best triad of the run (the issue's target: >= 80%).  The
accumulation kernels (``engine.kernels.accumulate``) are called as the engine calls them
too: ``add_out`` and ``copy`` allocate a fresh output with ``np.empty_like`` on every call,
so their time includes the page faults of a fresh 40 MB buffer; the "fresh output" triad
shows what that costs alone.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import prange

from benchmarks._harness import Config, Row, compare, set_threads

N = 10_000_000
SCALAR = 0.75


@numba.njit(cache=True, nogil=True)
def triad_serial(a, b, c, s):  # noqa: ANN001, ANN201 - Numba kernel
    for i in range(a.size):
        a[i] = b[i] + s * c[i]


@numba.njit(cache=True, nogil=True, parallel=True)
def triad_parallel(a, b, c, s):  # noqa: ANN001, ANN201 - Numba kernel
    for i in prange(a.size):
        a[i] = b[i] + s * c[i]


@numba.njit(cache=True, nogil=True)
def triad_fresh(b, c, s):  # noqa: ANN001, ANN201 - Numba kernel
    a = np.empty_like(b)
    for i in range(a.size):
        a[i] = b[i] + s * c[i]
    return a


def _gbs(nbytes: float, seconds: float) -> float:
    return nbytes / seconds / 1e9


def triads(cfg: Config) -> dict[str, float]:
    """GB/s of the triad variants, keyed '<dtype> <variant>'."""
    out: dict[str, float] = {}
    reps = cfg.reps(12, 4)
    for dt in (np.float32, np.float64):
        b = np.random.default_rng(3).random(N).astype(dt)
        c = np.random.default_rng(4).random(N).astype(dt)
        a = np.zeros(N, dt)
        s = dt(SCALAR)
        res = compare({"1T": (lambda a=a, b=b, c=c, s=s: triad_serial(a, b, c, s), None),
                       "par": (lambda a=a, b=b, c=c, s=s: triad_parallel(a, b, c, s), None),
                       "fresh": (lambda b=b, c=c, s=s: triad_fresh(b, c, s), None)},
                      repeats=reps, warmup=2, sequential=True)
        # Each variant runs all its samples in a row: interleaving the serial and prange
        # triads lets the parallel pool's spinning threads steal the core.
        nbytes = 3 * N * np.dtype(dt).itemsize
        for k, v in res.items():
            out[f"{np.dtype(dt).name} {k}"] = _gbs(nbytes, v)
        out[f"{np.dtype(dt).name} torch"] = _torch_triad(dt, reps)
    return out


def _torch_triad(dt: Any, reps: int) -> float:
    import torch

    torch.set_num_threads(1)  # a Numba prange launch (omp layer) resets torch's count
    tdt = torch.float32 if dt == np.float32 else torch.float64
    b = torch.rand(N, dtype=tdt)
    c = torch.rand(N, dtype=tdt)
    a = torch.zeros(N, dtype=tdt)
    res = compare({"t": (lambda: torch.add(b, c, alpha=SCALAR, out=a), None)},
                  repeats=reps, warmup=2)
    return _gbs(3 * N * np.dtype(dt).itemsize, res["t"])


def _kernel_args(sig: str, pool: list[np.ndarray], scalar: float = 2.0) -> tuple[tuple, int]:
    """Arguments for a kernel of signature ``sig`` and the number of arrays it reads."""
    args: list[Any] = []
    arrays = 0
    for code in sig:
        if code == "a":
            args.append(pool[arrays])
            arrays += 1
        elif code == "s":
            args.append(scalar)  # not 0: pow_scalar_bwd would skip the loop
        else:
            raise ValueError(f"unexpected signature code {code!r}")
    return tuple(args), arrays


def elementwise_kernels() -> list[tuple[str, str, Any, bool]]:
    """(name, signature, function the engine calls, whether that is an entry point that
    runs the pooled two-thread path on 10M elements) of every elementwise backward kernel,
    plus accumulation: whatever its module exports under the kernel's name (the entry
    point, or the jitted kernel itself where there is none)."""
    from engine.kernels import REGISTRY
    from engine.kernels import accumulate as acc
    from engine.kernels import elementwise as ek

    modules = {"elementwise": ek, "accumulate": acc}
    out = []
    for k in REGISTRY:
        if k.group in modules:
            fn = getattr(modules[k.group], k.name)
            out.append((k.name, k.sig, fn, fn is not k.fn))
    return out


def case_bandwidth(cfg: Config) -> list[Row]:
    set_threads(1)
    tri = triads(cfg)
    threads = numba.get_num_threads()
    rows = []
    for dt in ("float32", "float64"):
        rows.append(Row(f"STREAM triad {dt} 10M, Numba 1 thread", tri[f"{dt} 1T"],
                        tri[f"{dt} torch"], unit="GB/s", ratio_text="-",
                        note="torch column: torch.add(b, c, alpha, out=a), 1 thread"))
        rows.append(Row(f"STREAM triad {dt} 10M, Numba {threads} threads", tri[f"{dt} par"],
                        unit="GB/s", ratio_text="-"))
        rows.append(Row(f"STREAM triad {dt} 10M, 1 thread, fresh output", tri[f"{dt} fresh"],
                        unit="GB/s", ratio_text="-",
                        note="a = np.empty_like(b) inside the kernel, as add_out and copy do"))
    par = tri["float32 par"]
    serial_1t = tri["float32 1T"]
    fresh = tri["float32 fresh"]
    reps = cfg.reps(15, 3)
    a = np.zeros(N, np.float32)
    b = np.random.default_rng(3).random(N).astype(np.float32)
    c = np.random.default_rng(4).random(N).astype(np.float32)
    s = np.float32(SCALAR)
    rng = np.random.default_rng(5)
    pool = [rng.uniform(0.5, 1.5, N).astype(np.float32) for _ in range(5)]
    timed = [(*k, 2.0) for k in elementwise_kernels()]
    # and one exponent no shortcut covers, for context (no target: see the row's note)
    timed += [(*k, 2.5) for k in elementwise_kernels() if k[0] == "pow_scalar_bwd"]
    for name, sig, fn, pooled, scalar in timed:
        try:
            args, reads = _kernel_args(sig, pool, scalar)
        except (ValueError, IndexError) as exc:
            rows.append(Row(f"bwd kernel {name}", note=f"not timed: {exc}"))
            continue
        writes = 1  # a fresh output, or (accumulate_) the first input written back
        # All samples of the kernel in a row, as the triads are sampled: alternating a
        # two-thread kernel with a serial triad made the kernel's second thread start cold
        # on every sample (38 instead of 48 GB/s for mul_bwd standalone).  The serial triad
        # right after it shows what the host gave at that moment.  A kernel's first calls
        # after another's run slower (30 then 37, 40, 42 GB/s for mul_bwd) while the pool
        # and the second thread settle: 0.2 s of warm-up before the samples.
        res = compare({"k": (lambda fn=fn, args=args: fn(*args), None),
                       "triad": (lambda: triad_serial(a, b, c, s), None)},
                      repeats=reps, warmup=2, sequential=True, warmup_s=0.2)
        gbs = _gbs((reads + writes) * N * 4, res["k"])
        beside = _gbs(3 * N * 4, res["triad"])
        ref = max(beside, par, serial_1t)
        share = gbs / ref
        general = scalar != 2.0
        in_place = name == "accumulate_"
        how = (("2 threads (blocks), " if pooled else "1 thread, ") +
               ("in place" if in_place else "pooled output" if pooled else "fresh output"))
        rows.append(Row(f"bwd kernel {name} f32 10M ({reads}R+{writes}W)"
                        + (f", p={scalar}: general pow" if general else ""), gbs,
                        unit="GB/s", ratio_text=f"{share:.0%} of triad",
                        target="-" if general else ">= 80% of triad",
                        met=None if general else share >= 0.8,
                        note=f"{how}; triad alongside {beside:.1f} GB/s (1T), "
                             f"best {ref:.1f}; "
                             f"{gbs / fresh:.0%} of the fresh-output triad"))
    return rows


CASES = {"bandwidth": case_bandwidth}
