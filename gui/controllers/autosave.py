"""Autosave and crash recovery: unsaved work goes to a recovery file, offered back on start."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QStandardPaths, QTimer
from PySide6.QtWidgets import QMessageBox

from gui.i18n import tr
from gui.model.config import ConfigError, parse_session_text
from gui.model.files import read_session_file, write_atomic

if TYPE_CHECKING:  # the window owns this controller and imports this module
    from gui.main_window import MainWindow

AUTOSAVE_MS = 30_000  # periodic autosave; every change also schedules one
AUTOSAVE_DEBOUNCE_MS = 300
RECOVERY_NAME = "recovery.json"


def default_recovery_dir() -> str:
    """Where autosaves go: $JITGRAD_RECOVERY_DIR, else the per-user app data folder."""
    return os.environ.get("JITGRAD_RECOVERY_DIR") or QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.AppDataLocation)


class Autosaver(QObject):
    """Keeps ``window``'s unsaved work in a recovery file; ``recovery_dir=""`` turns it off."""

    def __init__(self, window: MainWindow, recovery_dir: str | None) -> None:
        super().__init__(window)
        self._win = window
        rdir = default_recovery_dir() if recovery_dir is None else recovery_dir
        self.path: Path | None = Path(rdir) / RECOVERY_NAME if rdir else None
        self._failed = False
        self.count = 0
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(AUTOSAVE_DEBOUNCE_MS)
        self._soon.timeout.connect(self.save)
        self.timer = QTimer(self)
        self.timer.setInterval(AUTOSAVE_MS)
        self.timer.timeout.connect(self.save)
        if self.path is not None:
            self.timer.start()

    def schedule(self) -> None:
        """Save shortly: a burst of changes costs one write."""
        if self.path is not None:
            self._soon.start()

    def save(self) -> None:
        """Write unsaved work to the recovery file (or remove it when nothing is unsaved)."""
        path, win = self.path, self._win
        if path is None:
            return
        try:
            if win.session.dirty:
                data = json.loads(win.session.to_json())
                data["recovery"] = {"path": win.current_path, "time": time.time()}
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(path, json.dumps(data))
                self.count += 1
            elif path.exists():
                path.unlink()
        except (OSError, ValueError) as e:
            if not self._failed:
                self._failed = True
                win.log.add(tr("Autosave to {path} failed: {error}", path=str(path),
                               error=getattr(e, "strerror", None) or e), "warning")

    def _recovered_text(self, path: Path) -> tuple[str, dict] | None:
        """The recovery file's text and its ``recovery`` block; a bad file is set aside."""
        try:
            text = read_session_file(path)
            parse_session_text(text)
            info = json.loads(text).get("recovery") or {}
        except (ConfigError, ValueError) as e:
            self._win.log.add(tr("The recovery file {path} is unusable ({error}); it was set "
                                 "aside.", path=str(path), error=e), "warning")
            with contextlib.suppress(OSError):
                os.replace(path, path.with_suffix(".bad"))
            return None
        return text, info

    def offer_recovery(self) -> bool:
        """After a crash (a recovery file is left), offer to restore the unsaved work.

        The setting ``recovery/answer`` (``restore`` or ``discard``) answers without asking.
        Returns whether work was restored.
        """
        path, win = self.path, self._win
        if path is None or not path.is_file():
            return False
        found = self._recovered_text(path)
        if found is None:
            return False
        text, info = found
        answer = str(win.settings.value("recovery/answer", "ask"))
        if answer not in ("restore", "discard"):
            btn = QMessageBox.question(
                win, tr("Restore unsaved work?"),
                tr("JitGrad did not close properly last time. Restore the unsaved session?"),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.Yes)
            answer = "restore" if btn == QMessageBox.StandardButton.Yes else "discard"
        if answer != "restore":
            with contextlib.suppress(OSError):
                path.unlink()
            return False
        win.session.load_text(text)
        win.session.mark_unsaved()
        src = info.get("path") if isinstance(info, dict) else None
        win.current_path = src if isinstance(src, str) and src else None
        win.update_title()
        win.log.add(tr("Unsaved work restored from {path}.", path=str(path)))
        return True

    def shutdown(self) -> None:
        """On a clean close: stop the timers and remove the recovery file."""
        self.timer.stop()
        self._soon.stop()
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
