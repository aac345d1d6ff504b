"""Live plots: gradient norm per backward call, and the loss curve."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from gui.i18n import tr
from gui.model.session import Session

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]


def _integer_ticks(plot: pg.PlotWidget, n: int) -> None:
    """Counts on the x axis: whole numbers while there are few points."""
    axis = plot.getAxis("bottom")
    if n <= 12:
        axis.setTickSpacing(major=1 if n <= 6 else 2, minor=1)
    else:
        axis.setTickSpacing()


def _plain(plot: pg.PlotWidget) -> None:
    """A light grid, no context menu or auto-range button, plain numbers on the y axis."""
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMenuEnabled(False)
    plot.getPlotItem().hideButtons()
    plot.getAxis("left").enableAutoSIPrefix(False)


class GradNormPlot(pg.PlotWidget):
    """One line per parameter: ``‖p.grad‖`` after each backward call."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background="w")
        self.session = session
        _plain(self)
        self.legend = self.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.retranslate()

    def retranslate(self) -> None:
        self.setTitle(tr("Gradient norm per backward call"), size="9pt", color="#1d232b")
        self.setLabel("bottom", tr("backward call"))
        self.setLabel("left", "‖grad‖")

    def refresh(self) -> None:
        hist = self.session.grad_norms
        names: list[str] = []
        for h in hist:
            names.extend(k for k in h if k not in names)
        for k in list(self.curves):
            if k not in names:
                self.removeItem(self.curves.pop(k))
                self.legend.removeItem(k)
        for i, k in enumerate(names):
            ys = [h.get(k, float("nan")) for h in hist]
            xs = list(range(1, len(ys) + 1))
            if k not in self.curves:
                pen = pg.mkPen(COLORS[i % len(COLORS)], width=2)
                self.curves[k] = self.plot(xs, ys, pen=pen, symbol="o", symbolSize=5,
                                           symbolBrush=COLORS[i % len(COLORS)], name=k,
                                           connect="finite")
            else:
                self.curves[k].setData(xs, ys, connect="finite")
                self.curves[k].setSymbol("o" if len(ys) <= 60 else None)
        _integer_ticks(self, len(hist))
        if len(hist) == 1:
            self.setXRange(0.5, 1.5, padding=0)
            top = max((v for v in hist[0].values() if v == v), default=1.0)
            self.setYRange(0, max(top, 1e-6) * 1.3, padding=0)
        else:
            self.enableAutoRange()


class LossPlot(pg.PlotWidget):
    """The loss after every forward pass (training adds one point per step)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background="w")
        self.session = session
        _plain(self)
        self.curve = self.plot([], [], pen=pg.mkPen("#d9480f", width=2))
        self.note = pg.TextItem("", color="#6b7280", anchor=(0.5, 0.5))
        self.addItem(self.note, ignoreBounds=True)
        self.retranslate()

    def retranslate(self) -> None:
        self.note.setText(tr("No scalar loss to plot (the output is a tensor)."))
        self.setTitle(tr("Loss"), size="9pt", color="#1d232b")
        self.setLabel("bottom", tr("forward pass"))
        self.setLabel("left", tr("loss"))

    def refresh(self) -> None:
        ys = self.session.losses
        self.curve.setData(list(range(1, len(ys) + 1)), ys)
        self.note.setVisible(not ys)
        if not ys:
            self.setXRange(0, 1, padding=0)
            self.setYRange(0, 1, padding=0)
            self.note.setPos(0.5, 0.5)
            return
        _integer_ticks(self, len(ys))
        if len(ys) == 1:
            self.setXRange(0.5, 1.5, padding=0)
            self.setYRange(0, max(ys[0], 1e-6) * 1.5, padding=0)
        else:
            self.enableAutoRange()
        self.curve.setSymbol("o" if len(ys) <= 60 else None)
        self.curve.setSymbolSize(5)
        self.curve.setSymbolBrush("#d9480f")
