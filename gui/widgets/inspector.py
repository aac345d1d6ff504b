"""Inspector: heatmaps with colour bars for the selected node, the parameters and z."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from gui.i18n import tr
from gui.model.graph_model import fmt_shape
from gui.model.session import Session

CMAP = "CET-D1"  # diverging blue-white-red: zero is white
NUMBERS_UP_TO = 48  # cells; bigger tensors show colour only
NUMBERS_MAX_COLS = 5  # wider rows have no room for numbers


class Heatmap:
    """One titled heatmap (ImageItem) with its ColorBarItem and numbers in the cells."""

    def __init__(self) -> None:
        self.plot = pg.PlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.invertY(True)
        self.plot.setAspectLocked(False)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(-1, 1), colorMap=CMAP, width=10, interactive=False)
        self.bar.setImageItem(self.image)
        self.texts: list[pg.TextItem] = []
        self.empty = pg.TextItem("", color="#6b7280", anchor=(0.5, 0.5))
        self.plot.addItem(self.empty)
        self._shape: tuple[int, ...] | None = None
        self._key: tuple | None = None

    def place(self, layout: pg.GraphicsLayout, row: int, col: int) -> None:
        """Put the plot and its colour bar into cell (row, col) of ``layout``."""
        layout.addItem(self.plot, row=row, col=2 * col)
        layout.addItem(self.bar, row=row, col=2 * col + 1)

    def set(self, title: str, arr: np.ndarray | None) -> None:
        """Show ``arr`` (None: "no gradient yet"); unchanged data costs nothing."""
        key = (title, None if arr is None else (np.shape(arr), np.asarray(arr).tobytes()))
        if key == self._key:
            return
        self._key = key
        if arr is None:
            self.plot.setTitle(title, size="9pt", color="#1d232b")
            self._shape = None  # the next data resets the view range
            self.image.clear()
            self.image.setVisible(False)
            for t in self.texts:
                t.setVisible(False)
            self.empty.setText(tr("no gradient yet"))
            self.empty.setPos(0.5, 0.5)
            self.empty.setVisible(True)
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.05)
            return
        self.empty.setVisible(False)
        a = np.asarray(arr, dtype=float)
        peak = float(np.max(np.abs(a))) if a.size else 0.0
        # Tiny or huge values: numbers in the cells are shown times a power of ten.
        exp = int(np.floor(np.log10(peak))) if peak > 0 and not 0.1 <= peak < 1000 else 0
        self.plot.setTitle(title + (f"  (×1e{exp})" if exp else ""), size="9pt",
                           color="#1d232b")
        a = a.reshape(1, -1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)
        self.image.setVisible(True)
        m = float(np.max(np.abs(a))) if a.size else 1.0
        m = _nice(m) if m > 0 else 1.0
        self.image.setImage(a, autoLevels=False)
        if self.bar.levels() != (-m, m):
            self.bar.setLevels((-m, m))
            # Ticks away from the ends, so labels never spill into the next row.
            half = m / 2
            label = f"{half / 10.0 ** exp:g}"  # in the title's units (×1e…)
            self.bar.axis.setTicks([[(-half, "-" + label), (0.0, "0"), (half, label)]])
        if a.shape != self._shape:
            self._shape = a.shape
            self.plot.setRange(xRange=(0, a.shape[1]), yRange=(0, a.shape[0]), padding=0.02)
            for t in self.texts:
                self.plot.removeItem(t)
            self.texts = []
            if a.size <= NUMBERS_UP_TO and a.shape[1] <= NUMBERS_MAX_COLS:
                for i in range(a.shape[0]):
                    for j in range(a.shape[1]):
                        t = pg.TextItem("", anchor=(0.5, 0.5))
                        t.setPos(j + 0.5, i + 0.5)
                        self.plot.addItem(t)
                        self.texts.append(t)
        if self.texts:
            flat = a.reshape(-1) / 10.0 ** exp
            m = m / 10.0 ** exp
            size = 8 if a.shape[1] <= 3 else 7
            for t, v in zip(self.texts, flat):
                t.setVisible(True)
                if t.textItem.font().pointSize() != size:
                    t.setFont(_font(size))
                t.setText("≈0" if v != 0 and abs(v) < 1e-3 * m else _cell(v, self._shape[1]))
                t.setColor("#ffffff" if abs(v) > 0.65 * m else "#111111")


def _cell(v: float, cols: int) -> str:
    """Short number for a heatmap cell; narrower cells get fewer digits."""
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if cols > 3:
        text = f"{v:.2g}"
        return text if len(text) <= 5 else f"{v:.1g}"
    return f"{v:.2f}"


def _nice(m: float) -> float:
    """Round a colour-bar limit up to 1, 2 or 5 times a power of ten (stable between steps)."""
    p = 10 ** np.floor(np.log10(m))
    for f in (1, 2, 5, 10):
        if m <= f * p * (1 + 1e-9):
            return float(f * p)
    return float(m)


def _font(size: int) -> QFont:
    f = QFont()
    f.setPointSize(size)
    return f


class Inspector(QWidget):
    """Right panel: the selected node, then every parameter and its gradient."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.selected: tuple[str, str] | None = None  # (view, node id)
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.header.setStyleSheet("padding: 4px;")
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("w")
        self.layout_item = self.glw.ci
        self.layout_item.setSpacing(6)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.glw)
        box = QVBoxLayout(self)
        box.setContentsMargins(2, 2, 2, 2)
        box.addWidget(self.header)
        box.addWidget(self.scroll, 1)
        self.maps: list[Heatmap] = []
        self._pool: list[Heatmap] = []
        self._names: list[str] = []
        self.refresh()

    def set_selected(self, view: str, nid: str) -> None:
        self.selected = (view, nid)
        self.refresh()

    def refresh(self) -> None:
        """Redraw every heatmap from the session."""
        s = self.session
        rows: list[tuple[str, np.ndarray | None, str, np.ndarray | None]] = []
        if self.selected is not None:
            d = s.node_details(*self.selected)
            if d:
                name = d.get("name") or d.get("title", "")
                self.header.setText(
                    f"<b>{tr('Selected')}:</b> {d.get('title', '')} — {tr('shape')} "
                    f"{fmt_shape(d.get('shape'))}")
                if d.get("value") is not None or d.get("grad") is not None:
                    rows.append((name, d.get("value"), f"{name}.grad", d.get("grad")))
        else:
            self.header.setText(tr("Click a node in the graph to inspect it."))
        for n in s.inspected_tensors():
            rows.append((n, s.tensor_value(n), f"{n}.grad", s.grad_of(n)))
        if len(rows) != len(self._names) // 2 or not self.maps:
            self._rebuild(len(rows))
        self._names = [r[0] for r in rows for _ in (0, 1)]
        for k, (n1, a1, n2, a2) in enumerate(rows):
            self.maps[2 * k].set(n1, a1)
            self.maps[2 * k + 1].set(n2, a2)

    def _rebuild(self, rows: int) -> None:
        """Lay out ``rows`` rows of heatmaps, reusing built ones (building them is slow)."""
        for item in list(self.layout_item.items):
            self.layout_item.removeItem(item)
        while len(self._pool) < 2 * rows:
            self._pool.append(Heatmap())
        self.maps = self._pool[:2 * rows]
        for k, h in enumerate(self.maps):
            h.place(self.layout_item, k // 2, k % 2)
        self.glw.setMinimumHeight(150 * rows)
