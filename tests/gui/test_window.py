"""The real window, driven as a learner would: build, step, zero, train, save, switch language."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

from gui import i18n
from gui.main_window import MainWindow
from gui.model.config import PRESETS
from tests.gui._support import reference_grads


def node_states(win) -> dict[str, str]:
    return {nid: item.state for nid, item in win.graph.nodes.items()}


@pytest.mark.parametrize("preset", PRESETS)
def test_step_to_end_highlights_and_matches_engine(make_window, preset):
    """The learner presses Step until the pass ends: the highlighted node is the one that
    runs next, finished nodes turn 'done', and the gradients equal loss.backward()'s."""
    win = make_window(preset)
    s = win.session
    n = len(win.graph.nodes)
    assert n == len(s.backward_graph.nodes) > 0
    assert node_states(win)[s.next_id] == "next" or not s.pass_active
    for k in range(n):
        expected_next = s.next_id
        win.act_step.trigger()
        states = node_states(win)
        assert s.last_id == expected_next
        assert states[s.last_id] == "last"
        assert sum(v == "done" for v in states.values()) == k
        if s.pass_active:
            assert states[s.next_id] == "next"
        label = win.graph.edges
        for e in s.last_edges:
            assert label[e].label.text(), "the edge just traversed shows its gradient"
    assert not s.pass_active
    ref = reference_grads(s.config)
    for name, g in ref.items():
        np.testing.assert_allclose(s.tensor_grad(name), g, rtol=1e-6, atol=1e-7)
    assert "Backward pass 1 finished" in win.log.plain()
    assert "print(" in win.code.toPlainText()


def test_shortcuts_drive_the_session(make_window, qtbot):
    """F10 steps, Ctrl+Enter runs to the end, Ctrl+0 zeroes."""
    win = make_window("one_layer")
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    win.graph.setFocus()
    qtbot.keyClick(win.graph, Qt.Key.Key_F10)
    assert win.session.last_id is not None and win.session.pass_active
    qtbot.keyClick(win.graph, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not win.session.pass_active and win.session.tensor_grad("w") is not None
    qtbot.keyClick(win.graph, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert not win.session.tensor_grad("w").any()
    assert "w.grad.zero_()" in win.code.toPlainText()
    for a in (win.act_forward, win.act_step, win.act_run, win.act_zero):
        assert a.toolTip() and not a.shortcut().isEmpty()


def test_second_backward_without_retain_graph_shows_banner(make_window):
    """The engine's real error goes to the log and a banner explains it; the app recovers."""
    win = make_window("one_layer")
    win.act_run.trigger()
    assert "F5" in win.statusBar().currentMessage()
    grads = win.session.tensor_grad("w").copy()
    win.act_run.trigger()
    assert win.banner.isVisible()
    assert "retain_graph" in win.banner.label.text()
    assert "Trying to backward through the graph a second time" in win.log.plain()
    np.testing.assert_array_equal(win.session.tensor_grad("w"), grads)
    win.act_forward.trigger()
    assert not win.banner.isVisible()
    win.act_step.trigger()
    assert win.session.pass_active


def test_no_grad_checkbox(make_window):
    """Ticking 'Forward without tracking' records no graph; backward is refused kindly."""
    win = make_window("one_layer")
    win.nograd_box.setChecked(True)
    assert not win.graph.nodes and win.graph._empty is not None
    assert "no_grad" in win.code.toPlainText()
    win.act_step.trigger()
    assert win.banner.isVisible() and "no_grad" in win.banner.label.text()
    win.nograd_box.setChecked(False)
    assert len(win.graph.nodes) == 6


def test_train_fifty_steps_lowers_loss(make_window, qtbot):
    """Train runs on a timer; after 50 steps the loss curve has fallen."""
    win = make_window("mlp")
    s = win.session
    start = len(s.losses)
    first = s.losses[-1]
    win.speed.setValue(60)
    win.act_train.trigger()
    assert win.act_train.isChecked() and win.act_train.text() == "Pause"
    qtbot.waitUntil(lambda: len(s.losses) >= start + 50, timeout=15000)
    win.act_train.trigger()
    assert not win.train_timer.isActive()
    assert s.losses[-1] < first
    xs, ys = win.loss_plot.curve.getData()
    assert len(ys) == len(s.losses) and ys[-1] < ys[0]
    assert win.grad_plot.curves


def test_sgd_step_and_detach(make_window):
    win = make_window("one_layer")
    w0 = win.session.tensor_value("w").copy()
    win.act_run.trigger()
    win.act_sgd.trigger()
    assert not np.allclose(win.session.tensor_value("w"), w0)
    assert "with torch.no_grad():" in win.code.toPlainText()
    table_w = win.editor.tables["w"].table
    assert float(table_w.item(0, 0).text()) == pytest.approx(
        float(win.session.tensor_value("w")[0, 0]), abs=1e-3)
    win.set_view("forward")
    fid = next(k for k, n in win.session.forward_graph.nodes.items() if n.title == "x@w")
    win.graph.select(fid)
    win.act_detach.trigger()
    leaves = {n.tensor for n in win.session.backward_graph.nodes.values() if n.kind == "leaf"}
    assert leaves == {"b"}


def test_save_open_round_trip_and_recent(make_window, tmp_path):
    win = make_window("mlp")
    win.retain_box.setChecked(True)
    win.editor.tables["x"].table.item(0, 1).setText("0.25")
    assert win.windowTitle().startswith("untitled*")
    path = str(tmp_path / "lab.json")
    assert win.save_session(path)
    assert win.windowTitle().startswith("lab.json —")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    assert data["network"]["values"]["x"][1] == 0.25
    win.session.load_preset("one_layer")
    assert win.open_session(path) is None
    assert win.session.config.preset == "mlp" and win.retain_box.isChecked()
    assert win.editor.tables["x"].table.item(0, 1).text() == "0.25"
    assert win.recent_files()[0] == path


@pytest.mark.parametrize("content", [
    "not json at all {",
    '{"format": "jitgrad-session", "version": 1, "network": {"preset": "one_layer",'
    ' "n_in": 1e308}}',
    '{"format": "jitgrad-session", "version": 1, "network": "__import__(\'os\')"}',
])
def test_hostile_session_gives_message_and_keeps_session(make_window, tmp_path, content):
    win = make_window("one_layer")
    before = win.session.config
    path = tmp_path / "evil.json"
    path.write_text(content, encoding="utf-8")
    err = win.open_session(str(path))
    assert err
    assert win.session.config == before
    assert "Could not open" in win.log.plain()
    assert win.last_message.isVisible() and not win.last_message.isModal()


def test_language_switch_shows_chinese(make_window):
    win = make_window("one_layer")
    i18n.MISSING.clear()
    win.set_language("zh_CN")
    assert win.menu_file.title() == "文件(&F)"
    assert win.act_step.text() == "单步"
    assert win.dock_insp.windowTitle() == "检查器"
    assert win.editor.labels[0].text() == "预设"
    assert "第" in win.statusBar().currentMessage() or "节点" in win.statusBar().currentMessage()
    win.act_run.trigger()
    win.act_run.trigger()  # an error, explained in Chinese
    assert "retain_graph" in win.banner.label.text() and "反向传播" in win.banner.label.text()
    assert not i18n.MISSING, i18n.MISSING
    from PySide6.QtCore import QCoreApplication

    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "取消"
    win.set_language("en")
    assert win.act_step.text() == "Step"
    assert win.settings.value("language") == "en"


def test_cjk_font_note_logged_once(make_window, monkeypatch):
    import gui.main_window as mw

    monkeypatch.setattr(mw, "has_cjk_font", lambda: False)
    win = make_window("one_layer")
    win.set_language("zh_CN")
    win.set_language("en")
    win.set_language("zh_CN")
    assert win.log.plain().count("fonts-wqy-microhei") == 1


def test_exports_and_log_tools(make_window, tmp_path):
    win = make_window("one_layer")
    win.act_step.trigger()
    png, svg, log = tmp_path / "g.png", tmp_path / "g.svg", tmp_path / "log.txt"
    assert win.export_graph(str(png)) and png.stat().st_size > 1000
    assert win.export_graph(str(svg)) and "<svg" in svg.read_text(encoding="utf-8")
    win.log.save(str(log))
    assert "Step 0" in log.read_text(encoding="utf-8")
    win.log.copy()
    assert "Step 0" in QGuiApplication.clipboard().text()


def test_window_state_is_remembered(qtbot, settings):
    from gui.model.session import Session

    win = MainWindow(Session(), settings)
    win.ask_unsaved = False
    qtbot.addWidget(win)
    win.show()
    win.resize(760, 600)
    qtbot.waitUntil(lambda: win.width() == 760)
    size = win.size()
    win.dock_code.hide()
    win.close()
    again = MainWindow(Session(), settings)
    qtbot.addWidget(again)
    again.ask_unsaved = False
    assert again.size() == size
    assert again.dock_code.isHidden()


def test_unsaved_changes_prompt(make_window, monkeypatch):
    win = make_window("one_layer")
    win.ask_unsaved = True
    win.editor.tables["w"].table.item(0, 0).setText("0.3")
    asked = []

    def answer(*args, **kwargs):
        asked.append(args)
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", answer)
    assert not win.close()
    assert asked and win.isVisible()
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    assert win.close()


def test_about_and_icon(make_window):
    win = make_window("one_layer")
    text = win.about_text()
    for name in ("JitGrad", "Qt", "PySide6", "pyqtgraph", "Numba", "NumPy"):
        assert name in text
    assert not win.windowIcon().isNull()
