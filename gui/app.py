"""Start the lab: ``launch()`` opens the window, runs a script or renders a screenshot."""

from __future__ import annotations

import os
import sys


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
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from gui import i18n
    from gui.main_window import ICON_PATH, MainWindow
    from gui.session import PRESETS, Session, preset_config

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
        import tempfile

        ini = os.path.join(tempfile.gettempdir(), "jitgrad-screenshot.ini")
        settings = QSettings(ini, QSettings.Format.IniFormat)
    else:
        settings = QSettings("JitGrad", "JitGrad")
    chosen = lang or (None if screenshot else settings.value("language")) or \
        i18n.system_language()
    i18n.set_language(chosen if chosen in i18n.LANGUAGES else "en")

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


def _log_uncaught(window: object) -> None:
    """Report an exception that escapes a Qt slot in the log (and on stderr); keep running."""
    import traceback

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
    from PySide6.QtCore import QCoreApplication, QEvent

    window.deleteLater()  # type: ignore[attr-defined]
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()  # type: ignore[attr-defined]
