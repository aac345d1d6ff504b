"""Scripts from File ▸ Run script: a worker thread, its output polled into the log, Stop."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from gui.i18n import tr
from gui.model.script_runner import ScriptRun

if TYPE_CHECKING:  # the window owns this controller and imports this module
    from gui.main_window import MainWindow

SCRIPT_POLL_MS = 50
SCRIPT_LOG_LINES = 300  # at most this many script output lines reach the log per poll
STOP_GRACE_S = 2.0  # after Stop, a script still running this long is abandoned
SCRIPT_SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005


class ScriptController(QObject):
    """Runs one script at a time for ``window`` and hands its result to the session."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._win = window
        self.run: ScriptRun | None = None
        self._switch_interval = sys.getswitchinterval()
        self._stop_asked_at: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(SCRIPT_POLL_MS)
        self._timer.timeout.connect(self._poll)

    def start(self, path: str, *, wait: bool = False) -> bool:
        """Run a script: in a worker thread (Stop interrupts it), or here if ``wait``.

        Returns whether it started (or, with ``wait``, whether it succeeded).
        """
        win = self._win
        win.banner.hide()
        if wait:
            return win.session.load_script(path)
        if self.running():
            win.log.add(tr("A script is already running; stop it first."), "warning")
            return False
        self.run = ScriptRun(path)
        self._stop_asked_at = None
        # A CPU-bound script holds the GIL; hand it back to the GUI thread sooner.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SCRIPT_SWITCH_INTERVAL))
        self.run.start()
        win.act_stop.setEnabled(True)
        win.act_script.setEnabled(False)
        win.log.add(tr("Running script {path}… (Stop: Ctrl+.)", path=path))
        self._timer.start()
        return True

    def running(self) -> bool:
        """True while a script runs (or is being abandoned)."""
        return self.run is not None

    def stop(self) -> None:
        """Interrupt the running script (KeyboardInterrupt inside it)."""
        run = self.run
        if run is None:
            return
        run.stop()
        if self._stop_asked_at is None:
            self._stop_asked_at = time.monotonic()
            self._win.log.add(tr("Stopping the script…"), "warning")

    def shutdown(self) -> None:
        """On close: interrupt the script and stop listening to it."""
        if self.run is not None:
            self.run.stop()
            self._timer.stop()
            self.run = None
            sys.setswitchinterval(self._switch_interval)

    def _flush_output(self, run: ScriptRun) -> None:
        lines, dropped = run.output.drain()
        if len(lines) > SCRIPT_LOG_LINES:
            dropped += len(lines) - SCRIPT_LOG_LINES
            lines = lines[-SCRIPT_LOG_LINES:]
        if dropped:
            self._win.log.add(tr("… {n} earlier output lines not shown.", n=dropped), "warning")
        if lines:
            self._win.log.add("\n".join(lines), "output")

    def _poll(self) -> None:
        win, run = self._win, self.run
        if run is None:
            self._timer.stop()
            return
        result = run.result  # read first: output written before the end is then all there
        self._flush_output(run)
        if result is None:
            asked = self._stop_asked_at
            if asked is None:
                return
            if time.monotonic() - asked < STOP_GRACE_S:
                run.stop()  # again: the script may have caught the first KeyboardInterrupt
                return
            win.log.add(tr("The script did not stop (it is inside a blocking call); it was "
                           "abandoned and its result will be ignored."), "error")
        self._timer.stop()
        self.run = None
        sys.setswitchinterval(self._switch_interval)
        win.act_stop.setEnabled(False)
        win.act_script.setEnabled(True)
        if result is not None:
            if result.stopped and not result.ok:
                win.log.add(tr("Script {name} stopped after {s:.1f} s.",
                               name=Path(run.path).name, s=result.seconds), "warning")
            else:
                win.session.adopt_script(run.path, result)
