"""Run a user's Python script away from the GUI thread, with capped output and a Stop.

Qt-free.  :func:`execute_script` runs a file in a fresh namespace and returns a
:class:`ScriptResult`; :class:`ScriptRun` does the same in a daemon thread that
:meth:`ScriptRun.stop` interrupts by raising ``KeyboardInterrupt`` inside it
(``PyThreadState_SetAsyncExc``).  Whatever the script prints goes to a
:class:`ScriptOutput`, which keeps only the last lines so megabytes of output cost
bounded memory and bounded redraw time.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_PENDING_LINES = 2000  # lines waiting for the log; older ones are dropped (and counted)
MAX_LINE_CHARS = 500  # a longer line is cut
TAIL_LINES = 200  # lines kept for the code panel


class ScriptOutput:
    """A thread-safe, size-capped text sink: ``write`` from the script, ``drain`` from the GUI."""

    def __init__(self, max_lines: int = MAX_PENDING_LINES) -> None:
        self._lock = threading.Lock()
        self._pending: deque[str] = deque()
        self._max = max_lines
        self._partial = ""
        self._dropped = 0
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.total_chars = 0

    def write(self, text: str) -> int:
        text = str(text)
        with self._lock:
            self.total_chars += len(text)
            parts = (self._partial + text).split("\n")
            self._partial = parts.pop()[:MAX_LINE_CHARS]
            for line in parts:
                self._push(line)
        return len(text)

    def _push(self, line: str) -> None:
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " …"
        self._pending.append(line)
        self.tail.append(line)
        if len(self._pending) > self._max:
            self._pending.popleft()
            self._dropped += 1

    def flush(self) -> None:
        """Nothing to do: lines are kept until drained."""

    def close_line(self) -> None:
        """End an unfinished last line so it can be drained."""
        with self._lock:
            if self._partial:
                self._push(self._partial)
                self._partial = ""

    def drain(self) -> tuple[list[str], int]:
        """(lines waiting, lines dropped since the last drain)."""
        with self._lock:
            lines = list(self._pending)
            self._pending.clear()
            dropped, self._dropped = self._dropped, 0
        return lines, dropped

    def tail_text(self) -> str:
        with self._lock:
            return "\n".join(self.tail)


class _Router:
    """Stands in for ``sys.stdout``/``sys.stderr``: one thread's writes go to its sink."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.sinks: dict[int, ScriptOutput] = {}

    def write(self, text: str) -> int:
        sink = self.sinks.get(threading.get_ident())
        if sink is not None:
            return sink.write(text)
        return self.original.write(text) if self.original is not None else len(text)

    def flush(self) -> None:
        if threading.get_ident() not in self.sinks and self.original is not None:
            self.original.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


_route_lock = threading.Lock()


def _route(sink: ScriptOutput) -> None:
    with _route_lock:
        for name in ("stdout", "stderr"):
            cur = getattr(sys, name)
            if not isinstance(cur, _Router):
                cur = _Router(cur)
                setattr(sys, name, cur)
            cur.sinks[threading.get_ident()] = sink


def _unroute() -> None:
    with _route_lock:
        for name in ("stdout", "stderr"):
            cur = getattr(sys, name)
            if isinstance(cur, _Router):
                cur.sinks.pop(threading.get_ident(), None)
                if not cur.sinks:
                    setattr(sys, name, cur.original)


@dataclass
class ScriptResult:
    """What a script run left: its namespace (on success), traceback, output and timing."""

    ok: bool
    namespace: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    error: str = ""  # the traceback, or why the file could not be read
    stopped: bool = False
    seconds: float = 0.0
    output: ScriptOutput = field(default_factory=ScriptOutput)


def execute_script(path: str | Path, output: ScriptOutput | None = None,
                   started: threading.Event | None = None) -> ScriptResult:
    """Run ``path`` in a fresh ``__main__`` namespace; never raises (even on SystemExit)."""
    out = output or ScriptOutput()
    src_path = Path(path)
    t0 = time.perf_counter()
    try:
        source = src_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return ScriptResult(False, error=f"{type(e).__name__}: {e}", output=out)
    ns: dict[str, Any] = {"__name__": "__main__", "__file__": str(src_path)}
    folder = str(src_path.resolve().parent)
    added = folder not in sys.path
    if added:  # demos import helpers that sit next to them
        sys.path.insert(0, folder)
    ok, err = True, ""
    saved_argv = sys.argv
    sys.argv = [str(src_path)]
    _route(out)
    try:
        if started is not None:
            started.set()
        code = compile(source, str(src_path), "exec")
        exec(code, ns)  # noqa: S102 - running the user's own script is the point
    except BaseException:  # noqa: BLE001 - a script may raise anything, even SystemExit
        ok, err = False, traceback.format_exc()
    for _ in range(3):  # a late Stop may land here; cleaning up twice is harmless
        try:
            _unroute()
            sys.argv = saved_argv
            out.close_line()
            if added and folder in sys.path:
                sys.path.remove(folder)
            break
        except KeyboardInterrupt:
            continue
    return ScriptResult(ok, ns if ok else {}, source, err, seconds=time.perf_counter() - t0,
                        output=out)


class ScriptRun:
    """One script running in a daemon thread; poll :attr:`result` from the GUI thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.output = ScriptOutput()
        self.result: ScriptResult | None = None
        self.stop_requested = False
        self._started = threading.Event()
        self._lock = threading.Lock()
        self._in_user_code = False
        self._thread = threading.Thread(target=self._main, name="jitgrad-script", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _main(self) -> None:
        res: ScriptResult | None = None
        try:
            with self._lock:
                self._in_user_code = True
            res = execute_script(self.path, self.output, self._started)
            with self._lock:
                self._in_user_code = False
        except BaseException:  # noqa: BLE001 - a Stop that arrived just as the script ended
            with self._lock:
                self._in_user_code = False
            if res is None:
                res = ScriptResult(False, error=traceback.format_exc(), output=self.output)
        res.stopped = self.stop_requested
        self.result = res

    @property
    def running(self) -> bool:
        return self.result is None

    def stop(self) -> bool:
        """Interrupt the script with KeyboardInterrupt; False if it had already ended.

        A script blocked inside one long C call (``time.sleep(1e9)``) notices only when
        that call returns; the caller may then abandon the run (the thread is a daemon).
        """
        with self._lock:
            if not self._in_user_code or self.result is not None:
                return False
            self.stop_requested = True
            tid = self._thread.ident
            if tid is None:
                return False
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid),
                                                       ctypes.py_object(KeyboardInterrupt))
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the script ends (True) or ``timeout`` passes (False)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
