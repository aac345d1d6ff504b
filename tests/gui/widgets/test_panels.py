"""The lab's panels, driven inside the real window: the editor, the inspector, the graph
view and the accumulation table."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import Qt

from gui.model.config import PRESETS


def test_editor_refuses_bad_cells(make_window, qtbot):
    """Typing text or NaN in a cell is refused at the field; the value is kept."""
    win = make_window("one_layer")
    table = win.editor.tables["w"].table
    old = table.item(0, 0).text()
    for bad in ("abc", "nan", "1e99"):
        table.item(0, 0).setText(bad)
        assert table.item(0, 0).text() == old
        assert win.editor.message.isVisible() and "Kept" in win.editor.message.text()
    table.item(0, 0).setText("0.5")
    assert win.session.tensor_value("w")[0, 0] == pytest.approx(0.5)
    win.editor.n_in.setValue(7)
    assert win.session.tensors["w"].shape == (7, 3)
    assert win.editor.tables["w"].table.rowCount() == 7
    spin = win.editor.n_in
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "20")
    assert "refused" in win.editor.message.text() and win.editor.message.isVisible()
    assert spin.text() == "2"  # the 0 was refused at the field
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert win.session.config.n_in == 2
    win.editor.n_in.setValue(99)  # programmatic values are clamped to 16
    assert win.session.config.n_in == 16


def test_selection_fills_inspector_and_tooltip(make_window):
    win = make_window("one_layer")
    win.act_run.trigger()
    nid = next(k for k, n in win.session.backward_graph.nodes.items() if n.tensor == "w")
    win.graph.select(nid)
    assert "AccumulateGrad" in win.inspector.header.text()
    html = win.graph.tooltip_html(nid)
    assert "value" in html and "gradient" in html and "—" not in html
    assert win.inspector.maps[0].image.image is not None
    assert win.inspector.maps[1].texts  # numbers in the cells of a small tensor


@pytest.mark.parametrize("preset", PRESETS)
def test_boxes_and_labels_do_not_overlap_in_either_view(make_window, preset):
    win = make_window(preset)
    win.act_run.trigger()  # every edge now carries a gradient label
    for view in ("backward", "forward"):
        win.set_view(view)
        rects = [it.sceneBoundingRect() for it in win.graph.nodes.values()]
        for a, b in itertools.combinations(rects, 2):
            assert not a.intersects(b)
        labels = [e.label.sceneBoundingRect() for e in win.graph.edges.values()
                  if e.label.text()]
        assert labels
        for lab in labels:
            assert not any(lab.intersects(r) for r in rects), "a label covers a box"
        for a, b in itertools.combinations(labels, 2):
            assert not a.intersects(b), "two gradient labels overlap"


def test_zero_and_accumulate_table(make_window):
    """Accumulation preset: two calls, zero, a third call; the table shows all three."""
    win = make_window("accumulation")
    assert win.retain_box.isChecked()
    win.act_run.trigger()
    win.act_run.trigger()
    win.act_zero.trigger()
    win.act_run.trigger()
    t = win.accum.table
    headers = [t.horizontalHeaderItem(c).text() for c in range(t.columnCount())]
    assert headers == ["First call", "Second call", "Call after zeroing"]
    first, second, third = (win.accum.cell_text(0, c) for c in range(3))
    assert "4." in first and "2." in first
    assert "8." in second and "4." in second
    assert third == first
