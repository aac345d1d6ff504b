"""launch(): screenshots are real pictures, scripts load, bad arguments are refused."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from gui import app
from tests.gui._support import run_app_child


def pixel_spread(path) -> float:
    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    assert not img.isNull()
    buf = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes())
    return float(buf.reshape(img.height(), -1).std())


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_screenshot_is_not_blank(qapp, tmp_path, lang):
    out = tmp_path / f"shot_{lang}.png"
    assert app.launch(preset="one_layer", steps=3, lang=lang, screenshot=str(out)) == 0
    img = QImage(str(out))
    assert img.width() >= 1200 and img.height() >= 800
    assert pixel_spread(out) > 20


def test_screenshot_of_a_script(qapp, tmp_path):
    demo = tmp_path / "demo.py"
    demo.write_text("import engine as torch\nx = torch.ones(5)\n"
                    "w = torch.randn(5, 3, requires_grad=True)\n"
                    "b = torch.randn(3, requires_grad=True)\n"
                    "z = torch.matmul(x, w) + b\nloss = z.sum()\n", encoding="utf-8")
    out = tmp_path / "script.png"
    assert app.launch(script=str(demo), steps=2, screenshot=str(out)) == 0
    assert pixel_spread(out) > 20


def test_bad_arguments_are_refused(qapp, capsys):
    assert app.launch(preset="nope", screenshot="x.png") == 2
    assert app.launch(lang="fr", screenshot="x.png") == 2
    assert "unknown" in capsys.readouterr().err


def test_has_display(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app.has_display()
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(app.sys, "platform", "linux")
    assert not app.has_display()
    monkeypatch.setenv("DISPLAY", ":0")
    assert app.has_display()


def test_event_loop_runs_and_returns(tmp_path):
    """Without --screenshot the window opens and the event loop's exit code comes back."""
    out = run_app_child(tmp_path, (
        "seen = []\n"
        "def close_all():\n"
        "    for w in app.topLevelWidgets():\n"
        "        if w.isVisible() and hasattr(w, 'session'):\n"
        "            seen.append(w.session.config.preset)\n"
        "            w.ask_unsaved = False\n"
        "            w.close()\n"
        "    app.quit()\n"
        "QTimer.singleShot(300, close_all)\n"
        "from gui.app import launch\n"
        "code = launch(preset='mlp', lang='en')\n"
        "s = QSettings('JitGrad', 'JitGrad')\n"
        "print('RESULT', code, seen, s.value('language'), s.value('geometry') is not None)\n"
    ))
    assert "RESULT 0 ['mlp'] en True" in out
