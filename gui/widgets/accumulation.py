"""The tutorial's accumulation table: ``.grad`` after each backward call, side by side."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.i18n import tr
from gui.model.session import Session
from gui.widgets.text_panels import _mono


def matrix_text(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a), precision=4, suppress_small=True, max_line_width=80)


class AccumulationTable(QWidget):
    """Rows: leaf tensors; columns: First call, Second call, Call after zeroing, ..."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setFont(_mono())
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.hint)
        box.addWidget(self.table, 1)
        self.retranslate()

    def retranslate(self) -> None:
        self.hint.setText(tr("Gradients accumulate: each backward call adds into .grad until "
                             "you zero it (Ctrl+0). Columns show .grad after each call."))
        self.refresh()

    def refresh(self) -> None:
        snaps = self.session.accumulation
        names: list[str] = []
        for _, grads in snaps:
            names.extend(k for k in grads if k not in names)
        self.table.clear()
        self.table.setColumnCount(len(snaps))
        self.table.setRowCount(len(names))
        self.table.setHorizontalHeaderLabels([label for label, _ in snaps])
        self.table.setVerticalHeaderLabels([f"{n}.grad" for n in names])
        for c, (_, grads) in enumerate(snaps):
            for r, n in enumerate(names):
                text = matrix_text(grads[n]) if n in grads else "—"
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

    def cell_text(self, row: int, col: int) -> str:
        item = self.table.item(row, col)
        return item.text() if item is not None else ""
