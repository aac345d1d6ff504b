"""The graph view: boxes for nodes, arrows for edges, colours for the backward pass."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from gui.i18n import tr
from gui.model.graph_layout import layered_layout
from gui.model.graph_model import GraphModel, fmt_shape, short_values
from gui.model.session import Session

FILL = {"op": "#dbe9f9", "leaf": "#dff3df", "param": "#dff3df", "const": "#eeeeee",
        "tensor": "#fff6d9", "fop": "#dbe9f9"}
BORDER = {"op": "#4a78b0", "leaf": "#3f8f3f", "param": "#3f8f3f", "const": "#9a9a9a",
          "tensor": "#b8962e", "fop": "#4a78b0"}
DONE_FILL = "#a8dba8"
NEXT_BORDER = "#f08c00"
LAST_FILL = "#ffd8a8"
EDGE = "#7d8a99"
EDGE_DONE = "#2f6f2f"
EDGE_LAST = "#d9480f"


def array_text(a: np.ndarray | None, limit: int = 40) -> str:
    """A tensor's values for a tooltip, short for big tensors."""
    if a is None:
        return "—"
    a = np.asarray(a)
    if a.size > limit:
        return tr("{n} values, min {lo:.4g}, max {hi:.4g}, norm {norm:.4g}", n=a.size,
                  lo=float(a.min()), hi=float(a.max()), norm=float(np.linalg.norm(a)))
    return np.array2string(a, precision=4, suppress_small=True, max_line_width=60)


class NodeItem(QGraphicsItem):
    """A rounded box with the node's name (bold) and its output shape."""

    PAD = 10

    def __init__(self, nid: str, title: str, subtitle: str, kind: str) -> None:
        super().__init__()
        self.nid = nid
        self.kind = kind
        self.title = title
        self.subtitle = subtitle
        self.state = "idle"
        self.title_font = QFont()
        self.title_font.setPointSizeF(9.5)
        self.title_font.setBold(True)
        self.sub_font = QFont()
        self.sub_font.setPointSizeF(8.5)
        if len(title) > 24 and "Backward" in title[1:]:  # long grad_fn names on two lines
            cut = title.index("Backward", 1)
            self.title = title = title[:cut] + "\n" + title[cut:]
        fm1, fm2 = QFontMetricsF(self.title_font), QFontMetricsF(self.sub_font)
        lines = title.split("\n")
        self.title_h = fm1.height() * len(lines)
        w = max(max(fm1.horizontalAdvance(ln) for ln in lines),
                fm2.horizontalAdvance(subtitle)) + 2 * self.PAD
        self.w = max(70.0, w)
        self.h = self.title_h + fm2.height() + 2 * self.PAD - 2
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setZValue(2)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return QRectF(-3, -3, self.w + 6, self.h + 6)

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def paint(self, p: QPainter, option: object, widget: object = None) -> None:
        fill = QColor(FILL.get(self.kind, "#ffffff"))
        border = QColor(BORDER.get(self.kind, "#555555"))
        width = 1.4
        if self.state == "done":
            fill = QColor(DONE_FILL)
        elif self.state == "last":
            fill, border, width = QColor(LAST_FILL), QColor(EDGE_LAST), 2.6
        elif self.state == "next":
            border, width = QColor(NEXT_BORDER), 3.2
        if self.isSelected():
            border, width = QColor("#1c4fd6"), 3.0
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(border, width, Qt.PenStyle.DashLine if self.state == "next" and
                      not self.isSelected() else Qt.PenStyle.SolidLine))
        p.setBrush(QBrush(fill))
        radius = 12 if self.kind in ("leaf", "param", "tensor", "const") else 5
        p.drawRoundedRect(QRectF(0, 0, self.w, self.h), radius, radius)
        p.setPen(QColor("#1d232b"))
        p.setFont(self.title_font)
        p.drawText(QRectF(0, self.PAD - 3, self.w, self.title_h),
                   Qt.AlignmentFlag.AlignHCenter, self.title)
        p.setFont(self.sub_font)
        p.setPen(QColor("#4b5563"))
        p.drawText(QRectF(0, self.PAD - 3 + self.title_h, self.w,
                          QFontMetricsF(self.sub_font).height()),
                   Qt.AlignmentFlag.AlignHCenter, self.subtitle)


class EdgeItem(QGraphicsPathItem):
    """A polyline with an arrowhead and an optional gradient label above its first leg."""

    def __init__(self, pts: list[tuple[float, float]], label_at: str = "end") -> None:
        super().__init__()
        self.label_at = label_at
        self.pts = [QPointF(x, y) for x, y in pts]
        path = QPainterPath(self.pts[0])
        for a, b in zip(self.pts, self.pts[1:]):
            mid = (a.x() + b.x()) / 2
            if abs(a.y() - b.y()) > 0.5:
                path.cubicTo(QPointF(mid, a.y()), QPointF(mid, b.y()), b)
            else:
                path.lineTo(b)
        self.setPath(path)
        self.setZValue(1)
        self.label = QGraphicsSimpleTextItem(self)
        f = QFont()
        f.setPointSizeF(8.5)
        self.label.setFont(f)
        self.label.setZValue(3)
        self.style = ""
        self.set_style("idle", "")

    def set_style(self, style: str, text: str) -> None:
        key = style + "|" + text
        if key == self.style:
            return
        self.style = key
        color = {"idle": EDGE, "done": EDGE_DONE, "last": EDGE_LAST}[style]
        self.setPen(QPen(QColor(color), 3.2 if style == "last" else 1.5))
        self.label.setText(text)
        self.label.setBrush(QColor(color if style != "idle" else "#333333"))
        br = self.label.boundingRect()
        if self.label_at == "start":  # just after the source box, above the line
            a, b = self.pts[0], self.pts[1]
            y = a.y() + 2 if b.y() < a.y() - 0.5 else a.y() - br.height() - 1
            self.label.setPos(a.x() + 6, y)
        else:  # in the gap just before the arrowhead, above the line
            a, b = self.pts[-2], self.pts[-1]
            x = max(a.x(), b.x() - 14 - br.width())
            # On the side the curve does not come from, so the line never crosses it.
            y = b.y() + 2 if a.y() < b.y() - 0.5 else b.y() - br.height() - 2
            self.label.setPos(x, y)
        self.update()

    def paint(self, p: QPainter, option: object, widget: object = None) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        super().paint(p, option, widget)
        tip = self.pts[-1]
        p.setBrush(self.pen().color())
        p.setPen(Qt.PenStyle.NoPen)
        s = 8 if self.pen().widthF() > 2 else 6
        p.drawPolygon(QPolygonF([tip, QPointF(tip.x() - s * 1.4, tip.y() - s * 0.7),
                                 QPointF(tip.x() - s * 1.4, tip.y() + s * 0.7)]))


class GraphView(QGraphicsView):
    """Draws one of the session's views and follows the backward pass."""

    sigNodeSelected = Signal(str)  # noqa: N815 - pyqtgraph-style signal name

    def __init__(self, session: Session, parent: object = None) -> None:
        super().__init__(parent)
        self.session = session
        self.view_name = "backward"
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing |
                            QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QColor("#fbfcfe"))
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[tuple[str, str], EdgeItem] = {}
        self._selected: str | None = None
        self._empty: QGraphicsSimpleTextItem | None = None
        self._signature: tuple | None = None
        self._user_zoomed = False
        self.scene().selectionChanged.connect(self._on_selection)
        self.rebuild()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(700, 450)

    # -- building -------------------------------------------------------
    def set_view(self, name: str) -> None:
        """Show the ``forward`` (ops) or ``backward`` (grad_fn) graph."""
        if name != self.view_name:
            self.view_name = name
            self.rebuild()

    def model(self) -> GraphModel:
        return self.session.view(self.view_name)

    def rebuild(self, force: bool = False) -> None:
        """Lay out the current view again (skipped if its structure did not change)."""
        gm = self.model()
        sig = (self.view_name, tuple((k, n.title, n.shape, n.kind, n.tensor)
                                     for k, n in gm.nodes.items()), tuple(gm.edges),
               self.session.empty_reason() if not gm.nodes else "")
        if not force and sig == self._signature:
            self.refresh()
            return
        self._signature = sig
        scene = self.scene()
        scene.blockSignals(True)
        scene.clear()
        scene.blockSignals(False)
        self.nodes, self.edges = {}, {}
        self._empty = None
        if not gm.nodes:
            self._empty = scene.addSimpleText(self.session.empty_reason())
            f = QFont()
            f.setPointSize(12)
            self._empty.setFont(f)
            self._empty.setBrush(QColor("#6b7280"))
            scene.setSceneRect(self._empty.boundingRect().adjusted(-40, -40, 40, 40))
            return
        for nid, gn in gm.nodes.items():
            sub = fmt_shape(gn.shape)
            if gn.kind == "leaf" and gn.tensor:
                sub = f"{gn.tensor} · {sub}"
            elif gn.kind == "fop":
                sub = f"→ {gn.tensor}" if gn.tensor and not gn.tensor.startswith("_") else ""
            elif gn.kind == "op" and gn.tensor and gn.tensor.isidentifier():
                sub = f"{gn.tensor} · {sub}"
            item = NodeItem(nid, gn.title, sub, gn.kind)
            self.nodes[nid] = item
        sizes = {nid: (it.w, it.h) for nid, it in self.nodes.items()}
        gap = 125.0 if self.view_name == "backward" else 115.0
        lay = layered_layout(sizes, gm.edges, layer_gap=gap, node_gap=30.0)
        for nid, item in self.nodes.items():
            box = lay.boxes[nid]
            item.setPos(box.x, box.y)
            scene.addItem(item)
        for e, pts in lay.edges.items():
            ei = EdgeItem(pts, "end" if self.view_name == "backward" else "start")
            scene.addItem(ei)
            self.edges[e] = ei
        scene.setSceneRect(QRectF(0, 0, lay.width, lay.height).adjusted(-20, -30, 20, 20))
        if self._selected in self.nodes:
            self.nodes[self._selected].setSelected(True)
        self.refresh()
        self.auto_fit()

    # -- following the session -------------------------------------------
    def refresh(self) -> None:
        """Update colours, tooltips and gradient labels (no relayout)."""
        s, v = self.session, self.view_name
        for nid, item in self.nodes.items():
            item.set_state(s.node_state(v, nid))
            if item.subtitle.endswith("?") and v == "backward":
                shape = s.node_shape(nid)
                if shape is not None:
                    item.subtitle = item.subtitle[:-1] + fmt_shape(shape)
                    item.update()
        for e, item in self.edges.items():
            g = s.edge_grad(v, e)
            if g is None:
                item.set_style("idle", "")
            else:
                item.set_style("last" if s.edge_is_last(v, e) else "done", short_values(g))
        self.follow()

    def tooltip_html(self, nid: str) -> str:
        """Value and gradient of a box, shown when the mouse rests on it."""
        d = self.session.node_details(self.view_name, nid)
        return (f"<b>{d.get('title', '')}</b><br>{tr('shape')}: {fmt_shape(d.get('shape'))}"
                f"<br><b>{tr('value')}</b><pre>{array_text(d.get('value'))}</pre>"
                f"<b>{tr('gradient')}</b><pre>{array_text(d.get('grad'))}</pre>")

    def mouseMoveEvent(self, event: object) -> None:  # noqa: N802 - Qt API
        item = self.itemAt(event.position().toPoint())  # type: ignore[attr-defined]
        if isinstance(item, NodeItem):
            item.setToolTip(self.tooltip_html(item.nid))
        super().mouseMoveEvent(event)  # type: ignore[arg-type]

    def _on_selection(self) -> None:
        items = [i for i in self.scene().selectedItems() if isinstance(i, NodeItem)]
        if items:
            self._selected = items[0].nid
            self.sigNodeSelected.emit(items[0].nid)

    def select(self, nid: str) -> None:
        """Select a box as if the user clicked it."""
        self.scene().clearSelection()
        if nid in self.nodes:
            self.nodes[nid].setSelected(True)

    def selected(self) -> str | None:
        return self._selected if self._selected in self.nodes else None

    # -- zoom, pan, export -------------------------------------------------
    def wheelEvent(self, event: object) -> None:  # noqa: N802 - Qt API
        delta = event.angleDelta().y()  # type: ignore[attr-defined]
        self.zoom(1.15 if delta > 0 else 1 / 1.15)

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)  # type: ignore[arg-type]
        if not self._user_zoomed:
            self.auto_fit()

    def zoom(self, factor: float) -> None:
        self._user_zoomed = True
        scale = self.transform().m11() * factor
        if 0.1 < scale < 6:
            self.scale(factor, factor)

    MIN_FIT = 0.6  # below this, text gets hard to read: zoom to READABLE and scroll
    READABLE = 0.75

    def auto_fit(self) -> None:
        """Fit the graph, but keep text readable: wide graphs scroll instead of shrinking."""
        self.fit()
        if self.transform().m11() < self.MIN_FIT:
            self.resetTransform()
            self.scale(self.READABLE, self.READABLE)
            if not self.follow():
                rect = self.scene().sceneRect()
                self.centerOn(rect.left() + self.viewport().width() / 2 / self.READABLE,
                              rect.center().y())

    def follow(self) -> bool:
        """Scroll so the node about to run (or the one that just ran) is in view, with the
        nodes still to come (to its right) visible too."""
        if self.transform().m11() < self.READABLE - 1e-6:
            return False  # the whole graph is in view already
        for state in ("next", "last"):
            for item in self.nodes.values():
                if item.state == state:
                    vp = self.mapToScene(self.viewport().rect()).boundingRect()
                    c = item.sceneBoundingRect().center()
                    inside = (vp.left() + 0.12 * vp.width() < c.x() < vp.right() -
                              0.3 * vp.width()) and vp.top() < c.y() < vp.bottom()
                    if not inside:
                        self.centerOn(c.x() + 0.2 * vp.width(), c.y())
                    return True
        return False

    def fit(self) -> None:
        """Fit the whole graph in the view (never enlarging beyond 1.3x)."""
        self._user_zoomed = False
        rect = self.scene().sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > 1.3:
            self.resetTransform()
            self.scale(1.3, 1.3)
            self.centerOn(rect.center())

    def export_png(self, path: str, scale: float = 2.0) -> bool:
        rect = self.scene().sceneRect()
        img = QImage(int(rect.width() * scale), int(rect.height() * scale),
                     QImage.Format.Format_ARGB32)
        img.fill(QColor("white"))
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.scene().render(p, QRectF(img.rect()), rect)
        p.end()
        return img.save(path)

    def export_svg(self, path: str) -> bool:
        rect = self.scene().sceneRect()
        gen = QSvgGenerator()
        gen.setFileName(path)
        gen.setSize(rect.size().toSize())
        gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        gen.setTitle("JitGrad graph")
        p = QPainter(gen)
        self.scene().render(p, QRectF(0, 0, rect.width(), rect.height()), rect)
        p.end()
        return True
