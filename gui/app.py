"""Start the lab: ``launch()`` opens the window, runs a script or renders a screenshot."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QEventLoop,
    QProcess,
    QProcessEnvironment,
    QSettings,
    Qt,
    QTimer,
)
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog

import engine.warmup as wu
from gui import i18n
from gui.i18n import tr
from gui.main_window import ICON_PATH, MainWindow
from gui.model.config import PRESETS, preset_config
from gui.model.session import Session

# The child process that compiles the kernels and reports progress as JSON lines.
WARMUP_ARGS = ("-m", "engine.warmup", "--json")


def has_display() -> bool:
    """Whether Qt can open a window here (or render offscreen)."""
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal"):
        return True
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return True
    return sys.platform in ("darwin", "win32")


def launch(*, preset: str | None = None, lang: str | None = None,
           screenshot: str | None = None, steps: int = 0, script: str | None = None) -> int:
    """Create the application and main window; see the module docstring.

    ``preset`` is one of ``one_layer``, ``accumulation``, ``mlp``; ``lang`` is ``en`` or
    ``zh_CN`` (default: the saved choice, else the system locale).  With ``screenshot``
    the window is rendered offscreen after ``steps`` backward steps and saved as PNG.
    Otherwise unsaved work left by a crash is offered back, exceptions escaping Qt slots
    go to the log, and ``script`` runs in a worker thread (Stop interrupts it).
    """
    if preset is not None and preset not in PRESETS:
        print(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}", file=sys.stderr)
        return 2
    if lang is not None and lang not in i18n.LANGUAGES:
        print(f"unknown language {lang!r}; choose one of {', '.join(i18n.LANGUAGES)}",
              file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("JitGrad")
    app.setOrganizationName("JitGrad")
    app.setWindowIcon(QIcon(str(ICON_PATH)))
    if screenshot:  # never touch the user's saved settings when rendering offscreen
        ini = os.path.join(tempfile.gettempdir(), "jitgrad-screenshot.ini")
        settings = QSettings(ini, QSettings.Format.IniFormat)
    else:
        settings = QSettings("JitGrad", "JitGrad")
    chosen = lang or (None if screenshot else settings.value("language")) or \
        i18n.system_language()
    i18n.set_language(chosen if chosen in i18n.LANGUAGES else "en")

    # A cold Numba cache would make the first forward/backward pass stall for seconds with
    # no sign of life: compile the kernels first, behind a progress dialog (for a person to
    # see; offscreen runs, like screenshots, compile on first use as before).
    if not screenshot and has_viewer() and not warm_up_kernels():
        return 0  # the application was told to quit meanwhile
    session = Session(preset_config(preset or "one_layer"))
    if preset:
        session.load_preset(preset)
        session.dirty = False
    window = MainWindow(session, settings, restore=screenshot is None,
                        recovery_dir="" if screenshot else None)
    window.set_language(i18n.language())
    if not screenshot:
        _log_uncaught(window)
        window.offer_recovery()
    if script:
        window.run_script(script, wait=bool(screenshot))
    for _ in range(max(0, steps)):
        if not session.step() and not session.pass_active:
            break
    if screenshot:
        window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        window.resize(1600, 1000)
        window.show()
        for _ in range(3):
            app.processEvents()
        window.graph.auto_fit()
        app.processEvents()
        ok = window.grab().save(screenshot)
        window.ask_unsaved = False
        window.close()
        _dispose(app, window)
        if not ok:
            print(f"could not save screenshot to {screenshot}", file=sys.stderr)
            return 1
        return 0
    window.show()
    code = app.exec()
    _dispose(app, window)
    return code


def has_viewer() -> bool:
    """Whether windows reach a screen (not Qt's offscreen or minimal platform)."""
    return QGuiApplication.platformName() not in ("offscreen", "minimal")


def warm_up_kernels(parent: object = None) -> bool:
    """Compile the kernels missing from Numba's cache, showing progress; False if the app
    was asked to quit meanwhile.

    With a warm cache this only reads the cache index (a few milliseconds) and shows
    nothing.  Otherwise ``python -m engine.warmup --json`` runs in a child process (which
    compiles in parallel workers) while a dialog shows the kernel count, the kernel just
    compiled and the seconds so far; the event loop keeps running.  Skip stops it: the
    remaining kernels then compile when first used.  A failure is reported, not fatal.
    """
    total = len(wu.kernels())
    todo = wu.missing()
    if not todo:
        return True
    state = {"done": total - len(todo), "kernel": "", "start": time.perf_counter()}
    dialog = _progress_dialog(parent, total)

    def show_progress() -> None:
        lines = [tr("Preparing the compute kernels. Numba compiles them once for this "
                    "computer; later starts skip this step."),
                 "",
                 tr("{done} of {total} ready, {seconds:.1f} s", done=state["done"],
                    total=total, seconds=time.perf_counter() - state["start"]),
                 str(state["kernel"]),
                 "",
                 tr("Skip opens the lab now; the remaining kernels then compile when first "
                    "used, with short pauses.")]
        dialog.setLabelText("\n".join(lines))
        dialog.setValue(int(state["done"]))

    proc = _warmup_process()
    pending = bytearray()
    stderr = bytearray()

    def read_progress() -> None:
        pending.extend(proc.readAllStandardOutput().data())
        while b"\n" in pending:
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "kernel":  # cached kernels are counted first
                state["done"] = max(int(state["done"]), event["n"])
                state["kernel"] = "" if event["cached"] else event["kernel"]
        show_progress()

    proc.readyReadStandardOutput.connect(read_progress)
    proc.readyReadStandardError.connect(
        lambda: stderr.extend(proc.readAllStandardError().data()))
    loop = QEventLoop()
    ended: list[str] = []  # why the loop stopped: "finished", "error", "skip"

    def end(why: str, problem: str = "") -> None:
        if not ended:
            ended.append(why)
            ended.append(problem)
        loop.quit()

    proc.finished.connect(lambda *_: end("finished"))
    proc.errorOccurred.connect(lambda *_: end("error", proc.errorString()))
    dialog.canceled.connect(lambda: end("skip"))
    ticker = QTimer(interval=250)
    ticker.timeout.connect(show_progress)
    show_progress()
    proc.start(sys.executable, list(WARMUP_ARGS))
    ticker.start()
    dialog.show()
    if not ended:  # the child may have failed to start already
        loop.exec()  # also returns when the application quits (QCoreApplication.exit)
    ticker.stop()
    why, problem = ended or ["quit", ""]
    if proc.state() != QProcess.ProcessState.NotRunning:
        proc.terminate()  # the warm-up stops its workers on SIGTERM
        if not proc.waitForFinished(3000):
            proc.kill()
            proc.waitForFinished(1000)
    dialog.close()
    dialog.deleteLater()
    if why == "quit":
        return False
    if why == "error" or (why == "finished" and (
            proc.exitStatus() != QProcess.ExitStatus.NormalExit or proc.exitCode() != 0)):
        detail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [problem]
        QMessageBox.warning(parent, "JitGrad",
                            tr("The compute kernels could not be prepared ahead of time; "
                               "they will compile when first used, with short pauses.")
                            + "\n\n" + detail[0])
    return True


def _progress_dialog(parent: object, total: int) -> QProgressDialog:
    """The warm-up's modal progress dialog, with Skip as its cancel button."""
    dialog = QProgressDialog(parent)
    dialog.setWindowTitle("JitGrad")
    dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
    dialog.setCancelButtonText(tr("Skip"))
    dialog.setRange(0, total)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.setMinimumDuration(0)
    dialog.setMinimumWidth(480)
    return dialog


def _warmup_process() -> QProcess:
    """A process (not started) that sees this engine and this environment."""
    proc = QProcess()
    env = QProcessEnvironment.systemEnvironment()
    for key, value in os.environ.items():  # e.g. NUMBA_CACHE_DIR chosen by the engine
        env.insert(key, value)
    root = os.path.dirname(os.path.dirname(os.path.abspath(wu.__file__)))
    env.insert("PYTHONPATH", os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    proc.setProcessEnvironment(env)
    proc.setWorkingDirectory(root)
    return proc


def _log_uncaught(window: object) -> None:
    """Report an exception that escapes a Qt slot in the log (and on stderr); keep running."""
    previous = sys.excepthook

    def hook(kind: type, value: BaseException, tb: object) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        try:
            window.log.add(text.rstrip(), "error")  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - the window may be gone already
            pass
        previous(kind, value, tb)

    sys.excepthook = hook


def _dispose(app: object, window: object) -> None:
    """Delete the window while Qt is alive (pyqtgraph items crash if left to exit time)."""
    window.deleteLater()  # type: ignore[attr-defined]
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()  # type: ignore[attr-defined]
