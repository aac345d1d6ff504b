"""Left panel: presets, sizes, loss/activation, and tables of every tensor's values."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.i18n import preset_title, tr
from gui.model.config import (
    ACTIVATIONS,
    LOSSES,
    MAX_SIZE,
    MIN_SIZE,
    PRESETS,
    ConfigError,
    parse_number,
    tensor_specs,
)
from gui.model.session import Session


class SizeSpin(QSpinBox):
    """A size box that says so when it refuses what was typed (e.g. 20 or 'abc')."""

    sigRefused = Signal(str)  # noqa: N815 - pyqtgraph-style signal name

    def validate(self, text: str, pos: int) -> object:
        result = super().validate(text, pos)
        state = result[0] if isinstance(result, tuple) else result
        if state == QValidator.State.Invalid and text.strip():
            self.sigRefused.emit(text)
        return result


def _fmt(v: float) -> str:
    return f"{v:.4g}"


class TensorTable(QGroupBox):
    """One tensor: a table of its values and, for parameters, a requires_grad box."""

    def __init__(self, editor: NetworkEditor, name: str, shape: tuple[int, ...], param: bool
                 ) -> None:
        super().__init__()
        self.editor = editor
        self.name = name
        self.shape = shape
        self.param = param
        rows, cols = (1, shape[0]) if len(shape) == 1 else shape
        self.table = QTableWidget(rows, cols)
        self.table.setHorizontalHeaderLabels([str(j) for j in range(cols)])
        self.table.setVerticalHeaderLabels([str(i) for i in range(rows)] if len(shape) > 1
                                           else [""])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setMinimumSectionSize(34)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setDefaultSectionSize(46)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setFixedHeight(22 * rows + self.table.horizontalHeader().sizeHint().height()
                                  + 4 + (14 if cols > 8 else 0))
        self.grad_box = QCheckBox("requires_grad")
        self.grad_box.setVisible(param)
        self.grad_box.toggled.connect(self._grad_toggled)
        self.table.itemChanged.connect(self._changed)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 4, 6, 6)
        if param:
            box.addWidget(self.grad_box)
        box.addWidget(self.table)
        self.values: np.ndarray = np.zeros(shape)

    def retranslate(self) -> None:
        dims = "×".join(str(d) for d in self.shape)
        role = {"x": tr("input"), "y": tr("expected output")}.get(self.name,
                                                                   tr("parameter"))
        self.setTitle(f"{self.name}  ({dims}) — {role}")
        self.grad_box.setToolTip(tr("Untick to freeze this tensor: its branch leaves the graph"))

    def load(self, values: list, requires_grad: bool) -> None:
        self.values = np.asarray(values, dtype=float).reshape(self.shape)
        flat = self.values.reshape(self.table.rowCount(), self.table.columnCount())
        self.table.blockSignals(True)
        for i in range(flat.shape[0]):
            for j in range(flat.shape[1]):
                item = self.table.item(i, j)
                text = _fmt(flat[i, j])
                if item is None:
                    item = QTableWidgetItem(text)
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.table.setItem(i, j, item)
                elif item.text() != text:
                    item.setText(text)
        self.table.blockSignals(False)
        self.grad_box.blockSignals(True)
        self.grad_box.setChecked(requires_grad)
        self.grad_box.blockSignals(False)

    def _index(self, row: int, col: int) -> tuple[int, ...]:
        return (col,) if len(self.shape) == 1 else (row, col)

    def _changed(self, item: QTableWidgetItem) -> None:
        idx = self._index(item.row(), item.column())
        old = float(self.values[idx])
        try:
            v = parse_number(item.text())
            self.editor.session.set_value(self.name, idx, v)
        except ConfigError as e:
            self.table.blockSignals(True)
            item.setText(_fmt(old))
            self.table.blockSignals(False)
            self.editor.show_message(tr("{name}{index}: {error} Kept {old}.", name=self.name,
                                        index=list(idx), error=str(e), old=_fmt(old)))
            return
        self.editor.show_message("")

    def _grad_toggled(self, flag: bool) -> None:
        self.editor.session.set_requires_grad(self.name, flag)


class NetworkEditor(QWidget):
    """Build the network: everything here goes through the session, which validates it."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._updating = False
        self.preset = QComboBox()
        for p in PRESETS:
            self.preset.addItem(p, p)
        self.preset.activated.connect(self._preset_chosen)
        self.n_in = self._spin()
        self.n_hidden = self._spin()
        self.n_out = self._spin()
        self.loss = QComboBox()
        for k in LOSSES:
            self.loss.addItem(k, k)
        self.activation = QComboBox()
        for k in ACTIVATIONS:
            self.activation.addItem(k, k)
        self.loss.activated.connect(lambda _: self._choice())
        self.activation.activated.connect(lambda _: self._choice())
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.randomise = QPushButton()
        self.randomise.clicked.connect(lambda: self.session.randomise(self.seed.value()))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.randomise)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.labels = [QLabel() for _ in range(7)]
        for lab, field in zip(self.labels, (self.preset, self.n_in, self.n_hidden, self.n_out,
                                            self.loss, self.activation, seed_row)):
            self.form.addRow(lab, field)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c92a2a; font-weight: bold;")
        self.message.hide()
        self.script_note = QLabel()
        self.script_note.setWordWrap(True)
        self.script_note.hide()
        self.tables_box = QVBoxLayout()
        self.tables: dict[str, TensorTable] = {}
        box = QVBoxLayout(self)
        box.addLayout(self.form)
        box.addWidget(self.script_note)
        box.addWidget(self.message)
        box.addLayout(self.tables_box)
        box.addStretch(1)
        self._msg_timer = QTimer(self)
        self._msg_timer.setSingleShot(True)
        self._msg_timer.timeout.connect(lambda: self.message.hide())
        self.retranslate()
        self.refresh()

    def _spin(self) -> QSpinBox:
        s = SizeSpin()
        s.setRange(MIN_SIZE, MAX_SIZE)
        s.sigRefused.connect(lambda text: self.show_message(
            tr("'{text}' refused: sizes go from {lo} to {hi}.", text=text, lo=MIN_SIZE,
               hi=MAX_SIZE)))
        s.setKeyboardTracking(False)
        s.valueChanged.connect(lambda _: self._sizes())
        return s

    def retranslate(self) -> None:
        texts = (tr("Preset"), tr("Input size n"), tr("Hidden size"), tr("Output size m"),
                 tr("Loss"), tr("Activation"), tr("Seed"))
        for lab, t in zip(self.labels, texts):
            lab.setText(t)
        for i, p in enumerate(PRESETS):
            self.preset.setItemText(i, preset_title(p))
        names = {"bce": tr("BCE with logits"), "mse": tr("Mean squared error")}
        for i, k in enumerate(LOSSES):
            self.loss.setItemText(i, names[k])
        acts = {"none": tr("none"), "relu": "ReLU", "sigmoid": "sigmoid", "tanh": "tanh"}
        for i, k in enumerate(ACTIVATIONS):
            self.activation.setItemText(i, acts[k])
        self.randomise.setText(tr("Randomise"))
        self.randomise.setToolTip(tr("New random w and b from this seed"))
        for s in (self.n_in, self.n_hidden, self.n_out):
            s.setToolTip(tr("From {lo} to {hi}", lo=MIN_SIZE, hi=MAX_SIZE))
        for t in self.tables.values():
            t.retranslate()
        self._script_text()

    def _script_text(self) -> None:
        if self.session.mode == "script":
            self.script_note.setText(tr("Showing the graph built by the script {path}. "
                                        "Pick a preset to edit a network again.",
                                        path=self.session.script_path or ""))

    def show_message(self, text: str) -> None:
        """A visible note under the form; errors stay 8 seconds."""
        self.message.setText(text)
        self.message.setVisible(bool(text))
        if text:
            self._msg_timer.start(8000)

    # -- from the session ----------------------------------------------------
    def refresh(self) -> None:
        """Show the session's configuration (without echoing changes back)."""
        self._updating = True
        try:
            cfg = self.session.config
            script = self.session.mode == "script"
            self.script_note.setVisible(script)
            self._script_text()
            self.preset.setCurrentIndex(PRESETS.index(cfg.preset))
            for spin, v in ((self.n_in, cfg.n_in), (self.n_hidden, cfg.n_hidden),
                            (self.n_out, cfg.n_out)):
                spin.blockSignals(True)
                spin.setValue(v)
                spin.blockSignals(False)
            self.loss.setCurrentIndex(LOSSES.index(cfg.loss))
            self.activation.setCurrentIndex(ACTIVATIONS.index(cfg.activation))
            self.seed.setValue(cfg.seed)
            acc = cfg.preset == "accumulation"
            mlp = cfg.preset == "mlp"
            for row, visible in ((2, mlp), (3, not acc), (4, not acc), (5, not acc),
                                 (6, not acc)):
                self.form.setRowVisible(row, visible)
            self.labels[1].setText(tr("Size n") if acc else tr("Input size n"))
            specs = tensor_specs(cfg)
            if [(t.name, t.shape) for t in self.tables.values()] != \
                    [(s.name, s.shape) for s in specs]:
                for t in self.tables.values():
                    t.setParent(None)
                    t.deleteLater()
                self.tables = {}
                for s in specs:
                    t = TensorTable(self, s.name, s.shape, s.param)
                    t.retranslate()
                    self.tables[s.name] = t
                    self.tables_box.addWidget(t)
            for s in specs:
                self.tables[s.name].load(cfg.values[s.name], cfg.requires_grad.get(s.name, True))
            for w in [self.n_in, self.n_hidden, self.n_out, self.loss, self.activation,
                      self.seed, self.randomise, *self.tables.values()]:
                w.setEnabled(not script)
        finally:
            self._updating = False

    # -- to the session --------------------------------------------------------
    def _preset_chosen(self, index: int) -> None:
        self.session.load_preset(PRESETS[index])

    def _sizes(self) -> None:
        if self._updating:
            return
        try:
            self.session.resize(self.n_in.value(), self.n_out.value(), self.n_hidden.value())
        except ConfigError as e:
            self.show_message(str(e))

    def _choice(self) -> None:
        if self._updating:
            return
        self.session.set_choice(loss=self.loss.currentData(),
                                activation=self.activation.currentData())
