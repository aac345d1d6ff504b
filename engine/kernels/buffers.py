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

**Two threads.** From ``PARALLEL_MIN`` elements a kernel runs its block kernel
``name_block`` - the same loop, writing into a given buffer (``engine.kernels._entry``) -
over blocks of the arrays, on this thread and a second Python thread (:func:`run_blocks`;
the kernels release the GIL), each thread taking the next free block. Every element is
computed by the same expression on either path, so the result does not depend on it. Why not
Numba's ``prange``: measured here, it is no faster on an idle host (2.5-2.8 ms against
2.7-3.0 ms for sigmoid's backward on 10M float32), and on a busy one its end barrier waits a
scheduler tick for a starved thread (6-7 ms, worse than the serial 5 ms; 6 ms instead of 0.4
ms at 1M elements), while here this thread simply does the blocks the other has not taken.
GNU OpenMP's idle workers also spin for milliseconds after each region, which slowed the
next BLAS call by ~10%, and it aborts a forked child that reuses a parallel region.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

# Elements from which a kernel runs its block kernel over blocks on two threads: handing work
# to the second thread costs ~50-100 us, against ~0.5 ms of serial work at 2^20 float32 elements.
PARALLEL_MIN = 1 << 20
# Elements per block of :func:`run_blocks` (1 MB of float32: a few per thread even at
# PARALLEL_MIN, so a thread that starts late still takes its share).
BLOCK = 1 << 18
# Bytes from which outputs come from the pool (below this numpy's allocator reuses memory
# by itself and the pool's bookkeeping would cost more than the page faults it saves).
POOL_MIN_BYTES = 1 << 20

_lock = threading.Lock()
_pool: list[np.ndarray] = []  # raw uint8 buffers, oldest first
_limit = [1 << 30]  # free bytes kept for reuse
_executor: list[tuple[int, ThreadPoolExecutor]] = []  # (owning pid, executor)


def threads_ok() -> bool:
    """Whether the second thread can be used: not in a forked child of a process that
    started it (the child has no such thread; it runs the blocks alone)."""
    return not _executor or _executor[0][0] == os.getpid()


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


def run_blocks(fn: Callable[[int, int], None], n: int, block: int) -> None:
    """``fn(lo, hi)`` over the blocks ``[k * block, (k + 1) * block)`` of ``range(n)``, on
    this thread and (from ``PARALLEL_MIN`` elements) a second one, each taking the next
    free block.  This thread never waits for the other to *start*: it waits only for the
    blocks the other has taken, so on a host whose other core is busy it simply does
    (nearly) all of them.  ``fn`` must release the GIL for two threads to gain."""
    if n < PARALLEL_MIN or not threads_ok():
        for a in range(0, n, block):
            fn(a, min(a + block, n))
        return
    if not _executor:
        with _lock:
            if not _executor:
                _executor.append((os.getpid(),
                                  ThreadPoolExecutor(1, thread_name_prefix="jitgrad-blocks")))
    nblocks = (n + block - 1) // block
    cond = threading.Condition()
    state = [0, 0, False]  # next block, blocks the other thread runs, stop
    failed: list[BaseException] = []

    def other() -> None:
        while True:
            with cond:
                k = state[0]
                if k >= nblocks or state[2]:
                    return
                state[0] = k + 1
                state[1] += 1
            try:
                fn(k * block, min(k * block + block, n))
            except BaseException as exc:  # handed to the caller's thread
                failed.append(exc)
            finally:
                with cond:
                    state[1] -= 1
                    cond.notify()

    _executor[0][1].submit(other)
    try:
        while True:
            with cond:
                k = state[0]
                if k >= nblocks or failed:
                    break
                state[0] = k + 1
            fn(k * block, min(k * block + block, n))
    finally:
        with cond:
            state[2] = True  # the other thread takes no more blocks
            while state[1]:
                cond.wait()
    if failed:
        raise failed[0]
