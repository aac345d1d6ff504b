"""Large elementwise work: a pool of reusable output buffers and two threads.

**The pool.**  A fresh 40 MB ``np.empty`` is ``mmap``-ed memory; writing it costs a page
fault per 4 kB page, which made the elementwise backward kernels run at a third of the
memory bandwidth.  :func:`empty` hands out large buffers (>= ``POOL_MIN_BYTES``) from a
pool instead.  The pool keeps one reference to each raw buffer and a buffer is reused only
when that reference is the *only* one left: every numpy view (``base``), every Tensor and
every ``torch.from_numpy`` of it holds a reference, so a gradient given to a user (``.grad``,
a hook, ``autograd.grad``) or saved by a node can never be overwritten while anything can
still see it.  Free buffers beyond ``limit()`` bytes are released (oldest first), and
:func:`empty_cache` releases them all, like ``torch.cuda.empty_cache``.

**Two threads.**  Kernels over at least ``PARALLEL_MIN`` elements run a ``prange`` twin
(:func:`parallel_kernel`) on Numba's threads; below that the serial loop (see the constant
for why the line is where it is).  Both compute every element with the same
expression, so the result does not depend on the path.  :func:`split` runs numpy work over
the blocks of an array on this and a second Python thread (numpy releases the GIL in its
loops), each thread taking the next free block.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

from engine.kernels import REGISTRY, Kernel

# Elements from which a kernel runs its prange twin.  A launch costs a few microseconds, but
# after each parallel region GNU OpenMP's idle thread spins (GOMP_SPINCOUNT, ~10 ms of
# ``pause``) and on a host whose 2 logical cores are one core's hyperthreads that spinning
# slows the next BLAS call: at 2^19 elements (the 1024-1024-1024 b512 MLP's relu) the
# step got ~10% slower.  From 2^21 a kernel saves milliseconds, more than the spin costs.
PARALLEL_MIN = 1 << 21
# Bytes from which outputs come from the pool (below this numpy's allocator reuses memory
# by itself and the pool's bookkeeping would cost more than the page faults it saves).
POOL_MIN_BYTES = 1 << 20
# Elements from which :func:`split` uses a second thread (a hand-off costs ~70 us).
SPLIT_MIN = 1 << 20

_lock = threading.Lock()
_pool: list[np.ndarray] = []  # raw uint8 buffers, oldest first
_limit = [1 << 30]  # free bytes kept for reuse
_executor: list[tuple[int, ThreadPoolExecutor]] = []  # (owning pid, executor)
_threads_pid: list[int] = []  # the process that first ran a prange twin


def threads_ok() -> bool:
    """Whether this process may use the parallel paths.  GNU OpenMP (Numba's ``omp``
    layer) aborts a forked child that starts a parallel region its parent had already
    used, and a forked child has no executor thread: such a child runs serially."""
    pid = os.getpid()
    if not _threads_pid:
        _threads_pid.append(pid)
    return _threads_pid[0] == pid


def _refs(pool: list, i: int) -> int:
    return sys.getrefcount(pool[i])


_ALONE = _refs([np.empty(1)], 0)  # the count seen when only the pool's list holds it


def empty(n: int, dtype: Any) -> np.ndarray:
    """A 1-d uninitialised array of ``n`` elements; pooled when large."""
    dtype = np.dtype(dtype)
    nbytes = int(n) * dtype.itemsize
    if nbytes < POOL_MIN_BYTES:
        return np.empty(n, dtype)
    with _lock:
        pool = _pool
        hit = -1
        free_bytes = 0
        for i in range(len(pool)):
            if _refs(pool, i) == _ALONE:
                if hit < 0 and pool[i].size == nbytes:
                    hit = i
                else:
                    free_bytes += pool[i].size
        if hit >= 0:
            raw = pool.pop(hit)
        else:
            raw = np.empty(nbytes, np.uint8)
        pool.append(raw)  # newest last: trimming drops the oldest free buffers first
        if free_bytes > _limit[0]:
            _trim(_limit[0], keep=raw)
        return raw.view(dtype)


def empty_like(a: np.ndarray) -> np.ndarray:
    """``empty(a.size, a.dtype)`` shaped like ``a`` (C order)."""
    return empty(a.size, a.dtype).reshape(a.shape)


def _trim(limit: int, keep: np.ndarray | None = None) -> None:
    pool = _pool
    free = [i for i in range(len(pool)) if _refs(pool, i) == _ALONE and pool[i] is not keep]
    total = sum(pool[i].size for i in free)
    drop = set()
    for i in free:
        if total <= limit:
            break
        drop.add(i)
        total -= pool[i].size
    if drop:
        pool[:] = [b for i, b in enumerate(pool) if i not in drop]


def empty_cache() -> None:
    """Release every pooled buffer that nothing uses any more."""
    with _lock:
        _trim(0)


def limit(nbytes: int | None = None) -> int:
    """The bytes of free buffers kept for reuse; set it with ``limit(nbytes)``."""
    if nbytes is not None:
        with _lock:
            _limit[0] = int(nbytes)
            _trim(_limit[0])
    return _limit[0]


def stats() -> dict[str, int]:
    """Pooled buffers and bytes, in total and free (for tests and curious users)."""
    with _lock:
        free = [_pool[i] for i in range(len(_pool)) if _refs(_pool, i) == _ALONE]
        return {"buffers": len(_pool), "bytes": sum(b.size for b in _pool),
                "free_buffers": len(free), "free_bytes": sum(b.size for b in free)}


def parallel_kernel(group: str, sig: str) -> Callable[[Callable], Callable]:
    """Like ``engine.kernels.kernel`` with ``parallel=True``: the ``prange`` twin of a
    serial kernel, registered so ``engine.warmup`` compiles it too."""

    def deco(fn: Callable) -> Callable:
        jitted = numba.njit(cache=True, nogil=True, error_model="numpy", parallel=True)(fn)
        REGISTRY.append(Kernel(group, fn.__name__, sig, jitted))
        return jitted

    return deco


def entry(ns: dict, name: str, nargs: int, like: int = 0) -> Callable:
    """The function the ops call as ``name`` in the kernel module whose globals are ``ns``:
    the serial kernel (kept as ``ns["_" + name]``) below ``PARALLEL_MIN`` elements, else
    the twin ``ns[name + "_large"]`` into a pooled buffer shaped like the first argument.
    Both are looked up at call time, so a test spy that replaces a kernel sees the call.
    ``nargs``: arguments after the first (one closure per arity: ``*args`` would add
    ~50 ns to every small call).  ``like``: the argument the output takes its size and
    dtype from (the loss kernels' first argument may be a single upstream value)."""
    serial = ns[name]
    skey, pkey = "_" + name, name + "_large"
    ns[skey] = serial

    def large(g, *args):
        if not threads_ok():
            return ns[skey](g, *args)
        out = empty(g.size, g.dtype)
        ns[pkey](g, *args, out)
        return out

    if like:
        def run(*args):
            ref = args[like]
            if ref.size < PARALLEL_MIN or not threads_ok():
                return ns[skey](*args)
            out = empty(ref.size, ref.dtype)
            ns[pkey](*args, out)
            return out
    elif nargs == 0:
        def run(g):
            return ns[skey](g) if g.size < PARALLEL_MIN else large(g)
    elif nargs == 1:
        def run(g, a):
            return ns[skey](g, a) if g.size < PARALLEL_MIN else large(g, a)
    elif nargs == 2:
        def run(g, a, b):
            return ns[skey](g, a, b) if g.size < PARALLEL_MIN else large(g, a, b)
    elif nargs == 3:
        def run(g, a, b, c):
            return ns[skey](g, a, b, c) if g.size < PARALLEL_MIN else large(g, a, b, c)
    else:
        def run(g, *args):
            return ns[skey](g, *args) if g.size < PARALLEL_MIN else large(g, *args)
    run.__name__ = run.__qualname__ = name
    run.__doc__ = serial.__doc__
    run.__module__ = ns["__name__"]
    return run


def split(fn: Callable[[int, int], None], n: int, block: int) -> None:
    """``fn(lo, hi)`` over the blocks ``[k * block, (k + 1) * block)`` of ``range(n)``, on
    this thread and (when ``n >= SPLIT_MIN``) a second one, each taking the next block
    when it is free: on a host where the other core is busy, this thread simply does most
    blocks instead of waiting for a starved half.  ``fn`` must release the GIL to gain."""
    pid = os.getpid()
    if n < SPLIT_MIN or (_executor and _executor[0][0] != pid):  # a forked child: serial
        for a in range(0, n, block):
            fn(a, min(a + block, n))
        return
    if not _executor:
        with _lock:
            if not _executor:
                _executor.append((pid, ThreadPoolExecutor(1, thread_name_prefix="jitgrad-split")))
    counter = itertools.count()  # next() on it is atomic under the GIL

    def blocks() -> None:
        while True:
            a = next(counter) * block
            if a >= n:
                return
            fn(a, min(a + block, n))

    other = _executor[0][1].submit(blocks)
    try:
        blocks()
    finally:
        other.result()
