"""Compile every Numba kernel for float32 and float64 ahead of first use.

``python -m engine.warmup`` (or ``jitgrad warmup``) first asks Numba's on-disk cache which
kernels it already holds (a cheap look at the cache index, nothing is compiled), then
compiles the rest, by default in one worker process per CPU (at most 8).  Progress is
reported per kernel: its name, n/N and the time so far; a terminal gets one updating line, a
pipe one line per kernel, and a heartbeat line appears whenever nothing was printed for
0.75 s, so the output never goes quiet for long.  Kernels are cached on disk: slow once,
quick afterwards.

Each worker compiles whole kernels (both dtypes), so no two processes ever write the same
cache entry; Numba writes each entry to a temporary file and renames it into place.

>>> from engine.warmup import warmup
>>> seconds = warmup(out=None)   # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import multiprocessing
import os
import pkgutil
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import wait as wait_ready
from typing import TextIO

import numpy as np

import engine.kernels as kernels_pkg
from engine.kernels import REGISTRY, Kernel

DTYPES = (np.float32, np.float64)
HEARTBEAT_S = 0.75  # after this long without output, say something (checked every 0.1 s)
PARALLEL_MIN = 4  # fewer kernels to compile than this: compile them in this process
MAX_JOBS = 8  # default worker count cap: each costs ~0.5 s to start and ~100 MB

Progress = Callable[[str, int, int], None]


class WarmupError(RuntimeError):
    """A kernel failed to compile.  ``str()`` is one line naming the kernel; ``details``
    holds the full traceback (from the worker process when it failed there)."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def _one_line(err: BaseException) -> str:
    """``Type: message`` on one line; for Numba's errors, the line that says what is wrong."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(err)).splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 1 and lines[0].startswith("Failed in "):  # "... pipeline (step: ...)"
        lines = lines[1:]
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


# ----------------------------------------------------------------------------- kernels
def _load_all() -> None:
    for mod in pkgutil.iter_modules(kernels_pkg.__path__):
        importlib.import_module(f"engine.kernels.{mod.name}")


def kernels() -> list[Kernel]:
    """Every registered kernel, in registration order."""
    _load_all()
    return list(REGISTRY)


def label(k: Kernel) -> str:
    """``group.name``: how progress output and worker processes refer to a kernel."""
    return f"{k.group}.{k.name}"


def _module(k: Kernel) -> str:
    """The module whose import registers ``k``."""
    return getattr(k.fn, "py_func", k.fn).__module__


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _args(sig: str, dtype: type) -> tuple:
    arr = np.ones(4, dtype)
    made = []
    for code in sig:
        if code == "a":
            made.append(arr.copy())
        elif code == "s":
            made.append(1.0)
        elif code == "i":  # the ops pass shapes and strides cached read-only (a type of its own)
            made.append(_readonly(np.ones(1, np.int64)))
        elif code == "w":
            made.append(np.ones(1, np.int64))
        elif code == "n":
            made.append(4)
        else:  # pragma: no cover - a registration mistake
            raise ValueError(f"unknown signature code {code!r}")
    return tuple(made)


def _calls(k: Kernel, dtype: type) -> list[tuple]:
    """The argument tuples to compile ``k`` with for ``dtype``: one per signature the ops
    really call it with (tests/engine/test_warmup.py runs the op table to check that)."""
    args = _args(k.sig, dtype)
    if k.name in ("sum_to", "expand"):  # shape, strides, size must describe one buffer
        shape, strides = _readonly(np.array([4], np.int64)), _readonly(np.array([1], np.int64))
        return [(args[0], shape, strides, 4) + args[4:]]
    if k.name == "scatter_add":
        return [(args[0], np.arange(4, dtype=np.int64), 4)]
    return [args]


def _compile(k: Kernel, dtype: type) -> None:
    for args in _calls(k, dtype):
        k.fn(*args)


def _cached_one(k: Kernel, dtype: type) -> bool:
    """Is ``k`` for ``dtype`` loaded already, or in Numba's on-disk cache index?

    This reads Numba internals (the dispatcher's cache and its index key), as Numba's own
    ``Dispatcher.compile`` does before it compiles; anything unexpected counts as "not
    cached", which only costs a compile that would have loaded.
    """
    fn = k.fn
    try:
        index = None
        for args in _calls(k, dtype):
            sig = tuple(fn.typeof_pyval(a) for a in args)
            if sig in fn.overloads:
                continue
            if index is None:
                index = fn._cache._cache_file._load_index()
            if fn._cache._index_key(sig, fn.targetctx.codegen()) not in index:
                return False
        return True
    except Exception:
        return False


def is_cached(k: Kernel) -> bool:
    """True when both dtypes of ``k`` can be had without compiling."""
    return all(_cached_one(k, dt) for dt in DTYPES)


def missing(ks: Sequence[Kernel] | None = None) -> list[Kernel]:
    """The kernels that would have to be compiled; ``[]`` means the cache is warm."""
    return [k for k in (kernels() if ks is None else ks) if not is_cached(k)]


def _kernels(n: int) -> str:
    return f"{n} kernel" if n == 1 else f"{n} kernels"


def default_jobs() -> int:
    """Worker processes for a cold compile: the CPUs this process may use, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_JOBS))


# ----------------------------------------------------------------------------- workers
def _worker_init() -> None:
    """Import the kernels, and exit if the parent goes away (killed, say, by an app that
    stopped waiting): a pool worker would otherwise wait for work forever."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        def watch() -> None:
            wait_ready([parent.sentinel])
            os._exit(1)

        threading.Thread(target=watch, name="warmup-parent-watch", daemon=True).start()
    _load_all()


def _worker_compile(module: str, name: str) -> tuple[str, float, int, str, str]:
    """Compile kernel ``name`` (both dtypes), registered by ``module``, in a worker process.

    Returns (name, seconds, pid, error, traceback); the last two are "" on success.  Errors
    come back as text because Numba's exceptions do not always pickle.
    """
    t0 = time.perf_counter()
    try:
        importlib.import_module(module)  # a kernel may live outside engine.kernels
        found = [k for k in REGISTRY if label(k) == name]
        if not found:
            raise LookupError(f"no kernel {name} registered by {module}")
        k = found[0]
        for dt in DTYPES:
            _compile(k, dt)
    except Exception as err:
        return (name, time.perf_counter() - t0, os.getpid(), _one_line(err),
                traceback.format_exc())
    return name, time.perf_counter() - t0, os.getpid(), "", ""


# ----------------------------------------------------------------------------- reporting
class _Reporter:
    """Writes progress to ``out`` in one of the styles and keeps a heartbeat going."""

    def __init__(self, out: TextIO | None, style: str, total: int, start: float) -> None:
        self.out = out if style != "none" else None
        self.style = style  # "tty", "lines", "verbose", "quiet", "json", "none"
        self.total = total
        self.start = start
        self.last = time.perf_counter()
        self.done = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def _write(self, text: str) -> None:
        assert self.out is not None
        self.out.write(text)
        self.out.flush()
        self.last = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def note(self, text: str, **fields: object) -> None:
        """A message line (not in quiet mode); the JSON style gets ``fields``."""
        with self.lock:
            if self.out is None or self.style == "quiet":
                return
            if self.style == "json":
                self._write(json.dumps({"event": "note", "text": text, **fields}) + "\n")
            elif self.style == "tty":
                self._write(f"\r\x1b[K{text}\n")
            else:
                self._write(text + "\n")

    def kernel(self, name: str, seconds: float, cached: bool, pid: int) -> None:
        with self.lock:
            self.done += 1
            if self.out is None or self.style == "quiet":
                return
            n, total, el = self.done, self.total, self.elapsed()
            width = len(str(total))
            how = "cached" if cached else f"{seconds:5.2f} s"
            if self.style == "json":
                self._write(json.dumps({"event": "kernel", "n": n, "total": total,
                                        "kernel": name, "seconds": round(seconds, 4),
                                        "cached": cached, "elapsed": round(el, 3),
                                        "pid": pid}) + "\n")
            elif self.style == "tty":
                self._write(f"\r\x1b[K[{n:{width}d}/{total}] {name:<32} {how}  "
                            f"elapsed {el:5.1f} s")
            elif cached and self.style != "verbose":
                return
            else:
                who = f"  (pid {pid})" if self.style == "verbose" and not cached else ""
                self._write(f"[{n:{width}d}/{total}] {name:<32} {how}  elapsed {el:5.1f} s"
                            f"{who}\n")

    def _heartbeat(self) -> None:
        while not self._stop.wait(0.1):
            with self.lock:
                quiet = time.perf_counter() - self.last
                if self.out is None or self.style == "quiet" or quiet < HEARTBEAT_S:
                    continue
                el = self.elapsed()
                if self.style == "json":
                    self._write(json.dumps({"event": "heartbeat", "n": self.done,
                                            "total": self.total, "elapsed": round(el, 3)})
                                + "\n")
                elif self.style == "tty":
                    self._write(f"\r\x1b[K[{self.done}/{self.total}] compiling...  "
                                f"elapsed {el:5.1f} s")
                else:
                    self._write(f"[{self.done}/{self.total}] still compiling...  "
                                f"elapsed {el:5.1f} s\n")

    def __enter__(self) -> _Reporter:
        if self.out is not None and self.style != "quiet":
            self._beat = threading.Thread(target=self._heartbeat, name="warmup-heartbeat",
                                          daemon=True)
            self._beat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        if self.out is not None and self.style == "tty":
            with self.lock:
                self._write("\r\x1b[K")


def _style(out: TextIO | None, verbose: bool, quiet: bool, json_lines: bool) -> str:
    if out is None:
        return "none"
    if json_lines:
        return "json"
    if quiet:
        return "quiet"
    if verbose:
        return "verbose"
    isatty = getattr(out, "isatty", None)
    try:
        return "tty" if isatty is not None and isatty() else "lines"
    except (ValueError, io.UnsupportedOperation):  # a closed or odd stream
        return "lines"


# ----------------------------------------------------------------------------- warm-up
Step = Callable[[str, float, bool, int], None]  # (kernel, seconds, from cache, pid)


def _serial(todo: list[Kernel], step: Step) -> None:
    for k in todo:
        t0 = time.perf_counter()
        try:
            for dt in DTYPES:
                _compile(k, dt)
        except Exception as err:
            raise WarmupError(f"kernel {label(k)} failed to compile: {_one_line(err)}",
                              traceback.format_exc()) from err
        step(label(k), time.perf_counter() - t0, False, os.getpid())


def _parallel(todo: list[Kernel], jobs: int, step: Step) -> None:
    # Name the worker functions by their importable module, also under `python -m`
    # (where this file runs as __main__, which spawned workers cannot unpickle from).
    from engine import warmup as this  # noqa: PLC0415

    # spawn, not fork: the caller may be a Qt application or hold threads.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                             initializer=this._worker_init) as pool:
        pending: set[Future] = {pool.submit(this._worker_compile, _module(k), label(k))
                                for k in todo}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    try:
                        name, seconds, pid, error, details = fut.result()
                    except BrokenProcessPool as err:
                        raise WarmupError(f"a worker process died ({_one_line(err)}); "
                                          "`--jobs 1` compiles in this process instead",
                                          traceback.format_exc()) from err
                    if error:
                        raise WarmupError(f"kernel {name} failed to compile (in a worker "
                                          f"process): {error}", details)
                    step(name, seconds, False, pid)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def warmup(out: TextIO | None = sys.stdout, progress: Progress | None = None, *,
           jobs: int | None = None, verbose: bool = False, quiet: bool = False,
           json_lines: bool = False, load: bool = True,
           names: Collection[str] | None = None) -> float:
    """Compile (or load from cache) all kernels; returns the seconds it took.

    ``progress(name, n, total)`` is called once per kernel, ``n`` counting up to ``total``
    (cached kernels first).  ``jobs``: worker processes for the kernels not in the cache
    (default: one per CPU, at most 8; 1 compiles here).  ``out`` gets the progress display
    (``None``: nothing), ``quiet`` only the summary, ``verbose`` a line for every kernel,
    ``json_lines`` one JSON object per event.  With ``load`` every kernel also ends up loaded
    in this process; without it cached kernels are only checked, not loaded.  ``names``
    (``group.name`` labels) limits the work to those kernels.
    Raises ``WarmupError`` naming the kernel that failed.
    """
    start = time.perf_counter()
    ks = kernels()
    if names is not None:
        unknown = set(names) - {label(k) for k in ks}
        if unknown:
            raise WarmupError(f"no such kernel: {', '.join(sorted(unknown))}")
        ks = [k for k in ks if label(k) in names]
    labels = [label(k) for k in ks]
    if len(set(labels)) != len(labels):
        dup = sorted({n for n in labels if labels.count(n) > 1})
        raise WarmupError(f"kernel names registered twice: {', '.join(dup)}")
    todo = missing(ks)
    cached = [k for k in ks if k not in todo]
    jobs = default_jobs() if jobs is None else max(1, jobs)
    # A worker costs an interpreter start and Numba's first compile (~0.5 s): not worth it
    # for a handful of kernels.
    jobs = 0 if not todo else 1 if len(todo) < PARALLEL_MIN else min(jobs, len(todo))
    style = _style(out, verbose, quiet, json_lines)

    with _Reporter(out, style, len(ks), start) as rep:
        def step(name: str, seconds: float, from_cache: bool, pid: int) -> None:
            rep.kernel(name, seconds, from_cache, pid)
            if progress is not None:
                progress(name, rep.done, len(ks))

        for k in cached:
            t0 = time.perf_counter()
            if load:
                for dt in DTYPES:
                    _compile(k, dt)
            step(label(k), time.perf_counter() - t0, True, os.getpid())
        if cached and style in ("lines", "tty"):
            groups: dict[str, int] = {}
            for k in cached:
                groups[k.group] = groups.get(k.group, 0) + 1
            rep.note(f"{len(cached)} of {len(ks)} kernels in the cache: "
                     + ", ".join(f"{g} {c}" for g, c in groups.items()))
        if todo:
            where = "this process" if jobs <= 1 else f"{jobs} processes"
            rep.note(f"compiling {_kernels(len(todo))} (float32 and float64) in {where}...",
                     compiling=len(todo), jobs=jobs)
            if jobs <= 1:
                _serial(todo, step)
            else:
                _parallel(todo, jobs, step)
                if load:  # now in the cache: bring them into this process too
                    for k in todo:
                        for dt in DTYPES:
                            _compile(k, dt)
    total = time.perf_counter() - start
    if out is not None:
        if style == "json":
            print(json.dumps({"event": "done", "seconds": round(total, 3), "kernels": len(ks),
                              "compiled": len(todo), "cached": len(cached), "jobs": jobs}),
                  file=out, flush=True)
        else:
            how = (f"{len(todo)} compiled in {'this process' if jobs <= 1 else f'{jobs} processes'}"
                   f", {len(cached)} from the cache") if todo else "all from the cache"
            print(f"Numba kernels ready in {total:.2f} s ({len(ks)} kernels: {how})",
                  file=out, flush=True)
    return total


# ----------------------------------------------------------------------------- command
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The warm-up options, shared by ``python -m engine.warmup`` and ``jitgrad warmup``."""
    parser.add_argument("-j", "--jobs", type=int, metavar="N",
                        help="worker processes for a cold compile (default: one per CPU, "
                             "at most 8; 1 compiles in this process)")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("-q", "--quiet", action="store_true",
                       help="print only the summary line (and errors)")
    shown.add_argument("-v", "--verbose", action="store_true",
                       help="one line for every kernel, also those loaded from the cache; "
                            "the full traceback on failure")
    shown.add_argument("--json", action="store_true",
                       help="one JSON object per line: for programs that show the progress")


def _stop_on_sigterm() -> None:
    """Let SIGTERM (an app giving up on the warm-up) stop the workers cleanly, as Ctrl+C."""
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:  # pragma: no cover - not the main thread
        pass


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m engine.warmup",
         parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser,
         header: str = "") -> int:
    """The warm-up command; returns its exit code (0 ok, 1 failed, 2 bad usage, 130 stopped).

    ``jitgrad warmup`` runs this same command under its own ``prog`` and ``parser_class``
    (one-line usage errors) with a ``header`` line, so the options are declared only here.
    """
    parser = parser_class(prog=prog, description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be 1 or more")
    if header and not (args.quiet or args.json):
        print(header, flush=True)
    _stop_on_sigterm()
    try:
        warmup(out=sys.stdout, jobs=args.jobs, verbose=args.verbose, quiet=args.quiet,
               json_lines=args.json, load=False)
    except KeyboardInterrupt:
        print(f"{prog}: warm-up interrupted", file=sys.stderr)
        return 130
    except WarmupError as err:  # one line naming the kernel; the traceback with --verbose
        if args.verbose and err.details:
            print(err.details.rstrip(), file=sys.stderr)
        print(f"{prog}: warm-up failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
