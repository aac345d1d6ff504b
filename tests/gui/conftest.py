"""Shared fixtures for the lab's tests: an offscreen main window with private settings."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from gui import i18n  # noqa: E402


@pytest.fixture(autouse=True)
def _english():
    """Every test starts (and ends) in English."""
    i18n.set_language("en")
    yield
    i18n.set_language("en")


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings):
    """Build a MainWindow for a preset; the user sees it as after a fresh start."""
    from gui.main_window import MainWindow
    from gui.model.session import Session

    def make(preset: str = "one_layer"):
        session = Session()
        session.load_preset(preset)
        session.dirty = False
        win = MainWindow(session, settings, restore=False)
        win.ask_unsaved = False
        qtbot.addWidget(win)
        win.resize(1400, 900)
        win.show()
        qtbot.waitExposed(win)
        return win

    return make


@pytest.fixture(autouse=True)
def _private_recovery_dir(tmp_path_factory, monkeypatch):
    """Autosaves go to a temporary folder, never to the user's app data."""
    monkeypatch.setenv("JITGRAD_RECOVERY_DIR", str(tmp_path_factory.mktemp("recovery")))
