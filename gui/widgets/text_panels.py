"""Code panel (equivalent engine code and its printed output) and the log."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.i18n import tr

LEVEL_COLOR = {"info": "#1d232b", "warning": "#b35c00", "error": "#c92a2a", "output": "#2b5797"}
MAX_BLOCKS = 4000
MAX_LOG_BLOCKS = 5000


def _mono() -> object:
    f = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    f.setPointSize(9)
    return f


class CodePanel(QPlainTextEdit):
    """Every action as engine code, followed by what the tutorial's prints show."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFont(_mono())
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setMaximumBlockCount(MAX_BLOCKS)
        self.setStyleSheet("QPlainTextEdit { background: #f7f8fa; }")

    def add(self, code: str, output: str = "") -> None:
        """Append one action: ``>>> code`` lines, then its output."""
        lines = code.splitlines() or [""]
        text = "\n".join((">>> " if i == 0 or not ln.startswith(" ") else "... ") + ln
                         for i, ln in enumerate(lines))
        if output:
            text += "\n" + output
        self.appendPlainText(text)
        self.moveCursor(QTextCursor.MoveOperation.End)


class LogPanel(QWidget):
    """Timestamped messages with Copy and Save buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(_mono())
        self.text.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.text.document().setMaximumBlockCount(MAX_LOG_BLOCKS)  # keep the last lines
        self.copy_btn = QPushButton()
        self.save_btn = QPushButton()
        self.clear_btn = QPushButton()
        self.copy_btn.clicked.connect(self.copy)
        self.save_btn.clicked.connect(self.save_dialog)
        self.clear_btn.clicked.connect(self.text.clear)
        row = QHBoxLayout()
        row.addStretch(1)
        for b in (self.copy_btn, self.save_btn, self.clear_btn):
            row.addWidget(b)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.text, 1)
        box.addLayout(row)
        self.retranslate()

    def retranslate(self) -> None:
        self.copy_btn.setText(tr("Copy"))
        self.copy_btn.setToolTip(tr("Copy the whole log to the clipboard"))
        self.save_btn.setText(tr("Save…"))
        self.save_btn.setToolTip(tr("Save the log as a text file"))
        self.clear_btn.setText(tr("Clear"))

    def add(self, text: str, level: str = "info") -> None:
        stamp = time.strftime("%H:%M:%S")
        color = LEVEL_COLOR.get(level, LEVEL_COLOR["info"])
        body = html.escape(text).replace("\n", "<br>").replace("  ", "&nbsp;&nbsp;")
        self.text.append(f'<span style="color:#8a94a6">{stamp}</span> '
                         f'<span style="color:{color}">{body}</span>')
        self.text.moveCursor(QTextCursor.MoveOperation.End)

    def plain(self) -> str:
        return self.text.toPlainText()

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.plain())

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.plain() + "\n")

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, tr("Save log"), "jitgrad-log.txt",
                                              tr("Text files (*.txt)"))
        if path:
            self.save(path)
            self.add(tr("Log saved to {path}.", path=path))


class Banner(QWidget):
    """A non-modal strip above the graph: the engine's error and why it happened."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#banner { background: #fff4e6; border: 1px solid #f08c00;"
                           " border-radius: 4px; }")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_btn = QToolButton()
        self.close_btn.setText("✕")
        self.close_btn.setAutoRaise(True)
        self.close_btn.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        row.addWidget(self.label, 1)
        row.addWidget(self.close_btn, 0, Qt.AlignmentFlag.AlignTop)
        self.message = ""
        self.hint = ""
        self.hide()

    def show_error(self, message: str, hint: str) -> None:
        self.message, self.hint = message, hint
        short = message if len(message) < 160 else message[:157] + "…"
        self.label.setText(f"<b>⚠ {html.escape(hint)}</b><br>"
                           f'<span style="color:#7a4a00">RuntimeError: {html.escape(short)}</span>')
        self.close_btn.setToolTip(tr("Dismiss"))
        self.show()
