"""The main window: assembles docks, toolbar and menus around one Session."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import shiboken6
from PySide6.QtCore import (
    QByteArray,
    QLibraryInfo,
    QSettings,
    QStandardPaths,
    Qt,
    QTimer,
    QTranslator,
)
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QFontDatabase, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSlider,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

import engine
from gui import i18n
from gui.i18n import explain_error, tr
from gui.model.config import ConfigError, parse_session_text
from gui.model.files import read_session_file, write_atomic
from gui.model.graph_model import Event
from gui.model.script_runner import ScriptRun
from gui.model.session import Session
from gui.widgets.accumulation import AccumulationTable
from gui.widgets.graph_view import DONE_FILL, EDGE_LAST, LAST_FILL, NEXT_BORDER, GraphView
from gui.widgets.inspector import Inspector
from gui.widgets.network_editor import NetworkEditor
from gui.widgets.plots import GradNormPlot, LossPlot
from gui.widgets.text_panels import Banner, CodePanel, LogPanel

ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "icons" / "jitgrad.svg"
MAX_RECENT = 8
AUTOSAVE_MS = 30_000  # periodic autosave; every change also schedules one
AUTOSAVE_DEBOUNCE_MS = 300
RECOVERY_NAME = "recovery.json"
SCRIPT_POLL_MS = 50
SCRIPT_LOG_LINES = 300  # at most this many script output lines reach the log per poll
STOP_GRACE_S = 2.0  # after Stop, a script still running this long is abandoned
SCRIPT_SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005


def default_recovery_dir() -> str:
    """Where autosaves go: $JITGRAD_RECOVERY_DIR, else the per-user app data folder."""
    return os.environ.get("JITGRAD_RECOVERY_DIR") or QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.AppDataLocation)


def has_cjk_font() -> bool:
    """True if some installed font covers Simplified Chinese."""
    zh = QFontDatabase.WritingSystem.SimplifiedChinese
    return any(zh in QFontDatabase.writingSystems(f) for f in QFontDatabase.families())


class MainWindow(QMainWindow):
    """JitGrad's lab window.  Widgets observe ``self.session``; this class only wires."""

    def __init__(self, session: Session | None = None, settings: QSettings | None = None,
                 *, restore: bool = True, recovery_dir: str | None = None) -> None:
        """``recovery_dir=""`` turns autosave off (screenshots); None uses the default."""
        super().__init__()
        self.session = session or Session()
        self.settings = settings or QSettings("JitGrad", "JitGrad")
        self.current_path: str | None = None
        self.ask_unsaved = True
        self._cjk_noted = False
        self.setObjectName("JitGradMainWindow")
        self.setWindowIcon(QIcon(str(ICON_PATH)))
        self.resize(1600, 1000)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks |
                            QMainWindow.DockOption.AllowTabbedDocks)

        # Centre: banner, graph toolbar, graph view.
        self.graph = GraphView(self.session)
        self.banner = Banner()
        self.graph_bar = QToolBar()
        self.graph_bar.setIconSize(self.graph_bar.iconSize() * 0.8)
        self.legend = QLabel()
        centre = QWidget()
        lay = QVBoxLayout(centre)
        lay.setContentsMargins(4, 4, 4, 0)
        lay.setSpacing(4)
        lay.addWidget(self.banner)
        lay.addWidget(self.graph_bar)
        lay.addWidget(self.graph, 1)
        self.setCentralWidget(centre)

        # Docks.
        self.editor = NetworkEditor(self.session)
        self.inspector = Inspector(self.session)
        self.grad_plot = GradNormPlot(self.session)
        self.loss_plot = LossPlot(self.session)
        self.code = CodePanel()
        self.log = LogPanel()
        self.accum = AccumulationTable(self.session)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.editor)
        scroll.setMinimumWidth(self.editor.minimumSizeHint().width() +
                               scroll.verticalScrollBar().sizeHint().width() + 6)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.grad_plot)
        self.dock_net = self._dock("network", scroll, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.dock_insp = self._dock("inspector", self.inspector,
                                    Qt.DockWidgetArea.RightDockWidgetArea)
        self.dock_plots = self._dock("plots", plots, Qt.DockWidgetArea.RightDockWidgetArea)
        self.dock_code = self._dock("code", self.code, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.dock_log = self._dock("log", self.log, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.dock_accum = self._dock("accumulation", self.accum,
                                     Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.dock_code, self.dock_log, Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.dock_log, self.dock_accum)
        self.dock_log.raise_()
        self.splitDockWidget(self.dock_insp, self.dock_plots, Qt.Orientation.Vertical)
        self.resizeDocks([self.dock_net, self.dock_insp], [300, 410], Qt.Orientation.Horizontal)
        self.resizeDocks([self.dock_insp, self.dock_plots], [560, 300], Qt.Orientation.Vertical)
        self.resizeDocks([self.dock_code], [270], Qt.Orientation.Vertical)

        self.train_timer = QTimer(self)
        self.train_timer.timeout.connect(self._train_tick)
        rdir = default_recovery_dir() if recovery_dir is None else recovery_dir
        self.recovery_path: Path | None = Path(rdir) / RECOVERY_NAME if rdir else None
        self._autosave_failed = False
        self.autosave_count = 0
        self._autosave_soon = QTimer(self)
        self._autosave_soon.setSingleShot(True)
        self._autosave_soon.setInterval(AUTOSAVE_DEBOUNCE_MS)
        self._autosave_soon.timeout.connect(self.autosave)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(AUTOSAVE_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        if self.recovery_path is not None:
            self._autosave_timer.start()
        self.script_run: ScriptRun | None = None
        self._switch_interval = sys.getswitchinterval()
        self._stop_asked_at: float | None = None
        self._script_timer = QTimer(self)
        self._script_timer.setInterval(SCRIPT_POLL_MS)
        self._script_timer.timeout.connect(self._poll_script)
        self.session.script_launcher = self.run_script
        self.last_message: QMessageBox | None = None
        self._qt_translator: QTranslator | None = None
        self._make_actions()
        self._make_toolbar()
        self._make_menus()

        self.graph.sigNodeSelected.connect(self._node_selected)
        self._unsubscribe = self.session.subscribe(self._on_event)
        self._lang_unsub = i18n.on_language_changed(lambda _: self.retranslate())
        self.statusBar().setSizeGripEnabled(True)
        self.retranslate()
        self._sync_options()
        if restore:
            self._restore_state()
        self.code.add(self.session.forward_code(), self.session.grad_fn_prints())
        self.grad_plot.refresh()
        self.loss_plot.refresh()
        self.log.add(tr("Welcome to JitGrad. Press F10 to run backward one node at a time."))

    # -- construction helpers --------------------------------------------------
    def _dock(self, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        d = QDockWidget(self)
        d.setObjectName(f"dock_{name}")
        d.setWidget(widget)
        d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable |
                      QDockWidget.DockWidgetFeature.DockWidgetFloatable |
                      QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, d)
        return d

    def _action(self, slot: object, shortcut: str | QKeySequence | None = None,
                icon: QStyle.StandardPixmap | None = None, checkable: bool = False) -> QAction:
        a = QAction(self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            a.setIcon(self.style().standardIcon(icon))
        a.setCheckable(checkable)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _make_actions(self) -> None:
        sp = QStyle.StandardPixmap
        s = self.session
        self.act_forward = self._action(self.forward, "F5", sp.SP_MediaPlay)
        self.act_step = self._action(self.step, "F10", sp.SP_ArrowRight)
        self.act_run = self._action(self.run_to_end, "Ctrl+Return", sp.SP_MediaSeekForward)
        self.act_run.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.act_zero = self._action(s.zero_grads, "Ctrl+0", sp.SP_DialogResetButton)
        self.act_detach = self._action(self.detach_selected, "Ctrl+D", sp.SP_DialogCancelButton)
        self.act_sgd = self._action(s.sgd_step, "Ctrl+G", sp.SP_ArrowDown)
        self.act_train = self._action(self.toggle_train, "Ctrl+T", sp.SP_MediaPlay,
                                      checkable=True)
        self.act_reset = self._action(self.reset, "Ctrl+R", sp.SP_BrowserReload)
        self.act_open = self._action(self.open_dialog, QKeySequence.StandardKey.Open,
                                     sp.SP_DialogOpenButton)
        self.act_save = self._action(self.save, QKeySequence.StandardKey.Save,
                                     sp.SP_DialogSaveButton)
        self.act_save_as = self._action(self.save_as_dialog, "Ctrl+Shift+S")
        self.act_script = self._action(self.script_dialog, "Ctrl+Shift+O", sp.SP_FileIcon)
        self.act_stop = self._action(self.stop_script, "Ctrl+.", sp.SP_BrowserStop)
        self.act_stop.setEnabled(False)
        self.act_png = self._action(lambda: self.export_dialog("png"))
        self.act_svg = self._action(lambda: self.export_dialog("svg"))
        self.act_quit = self._action(self.close, QKeySequence.StandardKey.Quit)
        self.act_fit = self._action(self.graph.fit, "Ctrl+F")
        self.act_zoom_in = self._action(lambda: self.graph.zoom(1.25),
                                        QKeySequence.StandardKey.ZoomIn)
        self.act_zoom_out = self._action(lambda: self.graph.zoom(0.8),
                                         QKeySequence.StandardKey.ZoomOut)
        self.act_about = self._action(self.about)
        self.view_group = QActionGroup(self)
        self.act_view_bwd = self._action(lambda: self.set_view("backward"), "Ctrl+B",
                                         checkable=True)
        self.act_view_fwd = self._action(lambda: self.set_view("forward"), "Ctrl+Shift+B",
                                         checkable=True)
        for a in (self.act_view_bwd, self.act_view_fwd):
            self.view_group.addAction(a)
        self.act_view_bwd.setChecked(True)
        self.lang_group = QActionGroup(self)
        self.act_lang = {}
        for lang, label in (("en", "English"), ("zh_CN", "简体中文")):
            a = self._action(lambda _=False, lang=lang: self.set_language(lang), checkable=True)
            a.setText(label)
            self.lang_group.addAction(a)
            self.act_lang[lang] = a
        self.act_lang[i18n.language()].setChecked(True)

    def _make_toolbar(self) -> None:
        tb = QToolBar(self)
        tb.setObjectName("toolbar_main")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(tb)
        self.toolbar = tb
        tb.addAction(self.act_forward)
        tb.addAction(self.act_step)
        tb.addAction(self.act_run)
        tb.addAction(self.act_zero)
        tb.addSeparator()
        self.retain_box = QCheckBox("retain_graph")
        self.retain_box.toggled.connect(self.session.set_retain_graph)
        self.nograd_box = QCheckBox()
        self.nograd_box.toggled.connect(self._no_grad_toggled)
        tb.addWidget(self.retain_box)
        tb.addWidget(self.nograd_box)
        tb.addSeparator()
        tb.addAction(self.act_detach)
        tb.addSeparator()
        tb.addAction(self.act_sgd)
        self.lr_label = QLabel()
        self.lr_box = QDoubleSpinBox()
        self.lr_box.setDecimals(4)
        self.lr_box.setRange(0.0001, 10.0)
        self.lr_box.setSingleStep(0.01)
        self.lr_box.setValue(self.session.lr)
        self.lr_box.valueChanged.connect(self._lr_changed)
        tb.addWidget(self.lr_label)
        tb.addWidget(self.lr_box)
        tb.addSeparator()
        tb.addAction(self.act_train)
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(1, 60)
        self.speed.setValue(10)
        self.speed.setFixedWidth(110)
        self.speed.valueChanged.connect(self._speed_changed)
        self.speed_label = QLabel()
        self.speed_label.setMinimumWidth(60)
        tb.addWidget(self.speed)
        tb.addWidget(self.speed_label)
        tb.addSeparator()
        tb.addAction(self.act_reset)
        tb.addAction(self.act_stop)

        gb = self.graph_bar
        gb.addAction(self.act_view_bwd)
        gb.addAction(self.act_view_fwd)
        gb.addSeparator()
        gb.addAction(self.act_zoom_in)
        gb.addAction(self.act_zoom_out)
        gb.addAction(self.act_fit)
        gb.addSeparator()
        gb.addAction(self.act_png)
        gb.addAction(self.act_svg)
        gb.addSeparator()
        gb.addWidget(self.legend)

    def _make_menus(self) -> None:
        mb = self.menuBar()
        self.menu_file = mb.addMenu("")
        self.menu_recent = None
        self.menu_backward = mb.addMenu("")
        self.menu_view = mb.addMenu("")
        self.menu_lang = None
        self.menu_help = mb.addMenu("")

    def _fill_menus(self) -> None:
        f = self.menu_file
        f.clear()
        f.addAction(self.act_open)
        self.menu_recent = f.addMenu(tr("Open &recent"))
        self._fill_recent()
        f.addAction(self.act_save)
        f.addAction(self.act_save_as)
        f.addSeparator()
        f.addAction(self.act_script)
        f.addAction(self.act_stop)
        f.addSeparator()
        f.addAction(self.act_png)
        f.addAction(self.act_svg)
        f.addSeparator()
        f.addAction(self.act_quit)
        b = self.menu_backward
        b.clear()
        for a in (self.act_forward, self.act_step, self.act_run, self.act_zero, None,
                  self.act_detach, self.act_sgd, self.act_train, None, self.act_reset):
            if a is None:
                b.addSeparator()
            else:
                b.addAction(a)
        v = self.menu_view
        v.clear()
        v.addAction(self.act_view_bwd)
        v.addAction(self.act_view_fwd)
        v.addSeparator()
        v.addAction(self.act_zoom_in)
        v.addAction(self.act_zoom_out)
        v.addAction(self.act_fit)
        v.addSeparator()
        for d in (self.dock_net, self.dock_insp, self.dock_plots, self.dock_code,
                  self.dock_log, self.dock_accum):
            v.addAction(d.toggleViewAction())
        v.addSeparator()
        self.menu_lang = v.addMenu(tr("&Language"))
        for a in self.act_lang.values():
            self.menu_lang.addAction(a)
        h = self.menu_help
        h.clear()
        h.addAction(self.act_about)

    def _fill_recent(self) -> None:
        if self.menu_recent is None:
            return
        self.menu_recent.clear()
        recent = self.recent_files()
        for path in recent:
            a = self.menu_recent.addAction(path)
            a.triggered.connect(lambda _=False, p=path: self.open_session(p))
        self.menu_recent.setEnabled(bool(recent))

    # -- translation -------------------------------------------------------------
    def retranslate(self) -> None:
        """Set every visible string in the current language."""
        t = tr
        texts = [
            (self.act_forward, t("Forward"), t("Run the forward pass and record the graph (F5)")),
            (self.act_step, t("Step"), t("Run backward one node (F10)")),
            (self.act_run, t("Run to end"), t("Run the backward pass to the end (Ctrl+Enter)")),
            (self.act_zero, t("Zero grads"), t("Call grad.zero_() on every parameter (Ctrl+0)")),
            (self.act_detach, t("Detach selected"),
             t("Replace the selected tensor by tensor.detach() and run forward (Ctrl+D)")),
            (self.act_sgd, t("SGD step"),
             t("p -= lr * p.grad for every parameter, then forward (Ctrl+G)")),
            (self.act_train, t("Train"),
             t("Repeat zero_grad, forward, backward, SGD; click again to pause (Ctrl+T)")),
            (self.act_reset, t("Reset"), t("Restart from fresh parameters (Ctrl+R)")),
            (self.act_open, t("&Open session…"), t("Open a saved session (JSON)")),
            (self.act_save, t("&Save session"), t("Save the session as JSON")),
            (self.act_save_as, t("Save session &as…"), t("Save the session under a new name")),
            (self.act_script, t("Run &script…"),
             t("Run a Python demo and show the graph it builds")),
            (self.act_stop, t("Stop script"), t("Interrupt the running script (Ctrl+.)")),
            (self.act_png, t("Export PNG…"), t("Save the graph as a PNG image")),
            (self.act_svg, t("Export SVG…"), t("Save the graph as an SVG drawing")),
            (self.act_quit, t("&Quit"), t("Close JitGrad")),
            (self.act_fit, t("Fit"), t("Fit the whole graph in the view (Ctrl+F)")),
            (self.act_zoom_in, t("Zoom in"), t("Zoom in (Ctrl++ or mouse wheel)")),
            (self.act_zoom_out, t("Zoom out"), t("Zoom out (Ctrl+- or mouse wheel)")),
            (self.act_about, t("&About JitGrad"), t("Versions and credits")),
            (self.act_view_bwd, t("Backward graph"),
             t("Show the grad_fn nodes that backward runs (Ctrl+B)")),
            (self.act_view_fwd, t("Forward graph"),
             t("Show the forward operations and tensors (Ctrl+Shift+B)")),
        ]
        for a, text, tip in texts:
            a.setText(text)
            a.setToolTip(tip)
            a.setStatusTip(tip)
        self.act_train.setText(t("Pause") if self.act_train.isChecked() else t("Train"))
        self.retain_box.setToolTip(t("Keep the graph's saved values so backward can run again"))
        self.nograd_box.setText(t("Forward without tracking"))
        self.nograd_box.setToolTip(t("Run the forward pass inside torch.no_grad(): no graph"))
        self.lr_label.setText(" " + t("lr") + " ")
        self.lr_box.setToolTip(t("Learning rate for the SGD step and training"))
        self.speed.setToolTip(t("Training speed in steps per second"))
        self._speed_changed(self.speed.value())
        self.menu_file.setTitle(t("&File"))
        self.menu_backward.setTitle(t("&Backward"))
        self.menu_view.setTitle(t("&View"))
        self.menu_help.setTitle(t("&Help"))
        self._fill_menus()
        titles = ((self.dock_net, t("Network")), (self.dock_insp, t("Inspector")),
                  (self.dock_plots, t("Plots")), (self.dock_code, t("Code")),
                  (self.dock_log, t("Log")), (self.dock_accum, t("Accumulation")))
        for d, title in titles:
            d.setWindowTitle(title)
        self.legend.setText(
            f'<span style="color:{NEXT_BORDER}">▢</span> {t("about to run")} &nbsp; '
            f'<span style="color:{LAST_FILL}; background:{LAST_FILL}">■</span>'
            f'<span style="color:{EDGE_LAST}">━</span> {t("just ran")} &nbsp; '
            f'<span style="color:{DONE_FILL}">■</span> {t("done")}')
        self.legend.setToolTip(t("Hover a node for its value and gradient; click it to "
                                 "inspect it."))
        self.editor.retranslate()
        self.log.retranslate()
        self.accum.retranslate()
        self.grad_plot.retranslate()
        self.loss_plot.retranslate()
        self.inspector.refresh()
        if self.banner.isVisible():
            self.banner.show_error(self.banner.message, explain_error(self.banner.message))
        self.graph.rebuild(force=True)
        self._update_title()
        self._update_status()

    def set_language(self, lang: str) -> None:
        """Switch language at run time and remember it."""
        self._qt_translations(lang)
        i18n.set_language(lang)
        self.act_lang[lang].setChecked(True)
        self.settings.setValue("language", lang)
        if lang == "zh_CN" and not self._cjk_noted and not has_cjk_font():
            self._cjk_noted = True
            self.log.add(tr("No Chinese font is installed, so Chinese text may show as boxes. "
                            "On Debian/Ubuntu: sudo apt install fonts-wqy-microhei"), "warning")

    def _qt_translations(self, lang: str) -> None:
        """Qt's own strings (dialog buttons, file dialogs) follow the chosen language."""
        app = QApplication.instance()
        if self._qt_translator is not None:
            app.removeTranslator(self._qt_translator)
            self._qt_translator = None
        if lang == "en":
            return
        translator = QTranslator(self)
        folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
        if translator.load(f"qtbase_{lang}", folder):
            app.installTranslator(translator)
            self._qt_translator = translator

    # -- session events -----------------------------------------------------------
    def _on_event(self, ev: Event) -> None:
        k = ev.kind
        if k == "graph":
            self.graph.rebuild()
            self.inspector.refresh()
            self._update_status()
        elif k == "state":
            self.graph.refresh()
            self.inspector.refresh()
            self._update_status()
        elif k == "log":
            self.log.add(ev.data["text"], ev.data.get("level", "info"))
        elif k == "code":
            self.code.add(ev.data["code"], ev.data.get("output", ""))
        elif k == "error":
            self.banner.show_error(ev.data["message"], ev.data["hint"])
            if self.act_train.isChecked():
                self.act_train.setChecked(False)
                self.toggle_train()
        elif k == "history":
            self.grad_plot.refresh()
            self.loss_plot.refresh()
        elif k == "config":
            self.editor.refresh()
            if abs(self.lr_box.value() - self.session.lr) > 1e-12:
                self.lr_box.blockSignals(True)
                self.lr_box.setValue(self.session.lr)
                self.lr_box.blockSignals(False)
        elif k == "options":
            self._sync_options()
        elif k == "accumulation":
            self.accum.refresh()
        elif k == "dirty":
            self._update_title()
        if k in ("config", "options", "dirty") and self.recovery_path is not None:
            self._autosave_soon.start()

    def _sync_options(self) -> None:
        for box, flag in ((self.retain_box, self.session.retain_graph),
                          (self.nograd_box, self.session.no_grad)):
            box.blockSignals(True)
            box.setChecked(flag)
            box.blockSignals(False)

    def _update_title(self) -> None:
        name = Path(self.current_path).name if self.current_path else tr("untitled")
        star = "*" if self.session.dirty else ""
        self.setWindowTitle(f"{name}{star} — JitGrad")

    def _update_status(self) -> None:
        s = self.session
        n = len(s.backward_graph.nodes)
        if s.root is None or not n:
            msg = tr("No graph recorded.")
        elif s.pass_active:
            nxt = s.backward_graph.nodes.get(s.next_id or "")
            msg = tr("Backward pass {k}: {done} of {n} nodes done; next: {next}.",
                     k=s.backward_calls, done=len(s.done), n=n,
                     next=nxt.title if nxt else "—")
        elif s.graph_released():
            msg = tr("Backward finished and freed the graph's saved values: press F5 for a new "
                     "graph (or tick retain_graph next time).")
        else:
            msg = tr("{n} graph nodes; {calls} backward calls so far. Press F10 to step.",
                     n=n, calls=s.backward_calls)
        if s.losses:
            msg += "   " + tr("loss = {loss:.5f}", loss=s.losses[-1])
        self.statusBar().showMessage(msg)

    # -- actions -------------------------------------------------------------------
    def forward(self) -> None:
        self.banner.hide()
        self.session.forward()

    def step(self) -> None:
        self.session.step()

    def run_to_end(self) -> None:
        self.session.run_to_end()

    def reset(self) -> None:
        if self.act_train.isChecked():
            self.act_train.setChecked(False)
            self.toggle_train()
        self.banner.hide()
        self.session.reset()

    def set_view(self, name: str) -> None:
        (self.act_view_fwd if name == "forward" else self.act_view_bwd).setChecked(True)
        self.graph.set_view(name)

    def _node_selected(self, nid: str) -> None:
        self.inspector.set_selected(self.graph.view_name, nid)

    def detach_selected(self) -> None:
        nid = self.graph.selected()
        if nid is None:
            self.log.add(tr("Select a tensor (or its node) in the graph first."), "warning")
            return
        d = self.session.node_details(self.graph.view_name, nid)
        name = d.get("name")
        if not name or name not in self.session.tensors:
            self.log.add(tr("This node has no named tensor to detach."), "warning")
            return
        self.session.toggle_detach(name)

    def _no_grad_toggled(self, flag: bool) -> None:
        self.session.set_no_grad(flag)
        self.session.forward()

    def _lr_changed(self, v: float) -> None:
        try:
            self.session.set_lr(v)
        except ConfigError as e:
            self.log.add(str(e), "warning")

    def _speed_changed(self, v: int) -> None:
        self.speed_label.setText(tr("{n} steps/s", n=v))
        self.train_timer.setInterval(self._train_interval()[0])

    def _train_interval(self) -> tuple[int, int]:
        """(timer interval in ms, steps per tick): at most 20 redraws per second."""
        rate = max(1, self.speed.value())
        interval = max(50, int(1000 / rate))
        return interval, max(1, round(rate * interval / 1000))

    def toggle_train(self) -> None:
        on = self.act_train.isChecked()
        sp = QStyle.StandardPixmap
        self.act_train.setIcon(self.style().standardIcon(sp.SP_MediaPause if on
                                                         else sp.SP_MediaPlay))
        self.act_train.setText(tr("Pause") if on else tr("Train"))
        if on:
            self.banner.hide()
            self.train_timer.setInterval(self._train_interval()[0])
            self.train_timer.start()
            self.log.add(tr("Training started."))
        else:
            self.train_timer.stop()
            if self.session.losses:
                self.log.add(tr("Training paused; loss = {loss:.5f}.",
                                loss=self.session.losses[-1]))

    def _train_tick(self) -> None:
        if self.session.train(self._train_interval()[1]) is None:
            self.act_train.setChecked(False)
            self.toggle_train()

    # -- files ---------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        val = self.settings.value("recent", [])
        if isinstance(val, str):
            val = [val]
        return [str(v) for v in (val or [])][:MAX_RECENT]

    def _add_recent(self, path: str) -> None:
        rec = [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", [path, *rec][:MAX_RECENT])
        self._fill_recent()

    def open_session(self, path: str) -> str | None:
        """Open a session file; returns the error message if refused (session untouched)."""
        try:
            self.session.open(path)
        except ConfigError as e:
            msg = tr("Could not open {path}: {error}", path=path, error=str(e))
            self.log.add(msg, "error")
            self._message(tr("Session not opened"), msg)
            return str(e)
        self.banner.hide()
        self.current_path = path
        self._add_recent(path)
        self._update_title()
        return None

    def save_session(self, path: str) -> bool:
        """Save atomically; on failure the previous file is intact and a message says why."""
        try:
            self.session.save(path)
        except OSError as e:
            msg = tr("Could not save {path}: {error}", path=path, error=e.strerror or e)
            self.log.add(msg, "error")
            self._message(tr("Session not saved"), msg)
            return False
        self.current_path = path
        self._add_recent(path)
        self._update_title()
        self.autosave()
        return True

    def _message(self, title: str, text: str) -> None:
        """A non-blocking warning box (the window stays usable); it replaces the last one."""
        old = self.last_message
        if old is not None and shiboken6.isValid(old):
            old.close()
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                          self)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self.last_message = box

    def open_dialog(self) -> None:
        if not self._maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self, tr("Open session"), "",
                                              tr("JitGrad sessions (*.json)"))
        if path:
            self.open_session(path)

    def save(self) -> bool:
        if self.current_path:
            return self.save_session(self.current_path)
        return self.save_as_dialog()

    def save_as_dialog(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, tr("Save session"),
                                              self.current_path or "session.json",
                                              tr("JitGrad sessions (*.json)"))
        if not path:
            return False
        if not path.endswith(".json"):
            path += ".json"
        return self.save_session(path)

    def script_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, tr("Run script"), "",
                                              tr("Python files (*.py)"))
        if path:
            self.run_script(path)

    def run_script(self, path: str, *, wait: bool = False) -> bool:
        """Run a script: in a worker thread (Stop interrupts it), or here if ``wait``.

        Returns whether it started (or, with ``wait``, whether it succeeded).
        """
        self.banner.hide()
        if wait:
            return self.session.load_script(path)
        if self.script_running():
            self.log.add(tr("A script is already running; stop it first."), "warning")
            return False
        self.script_run = ScriptRun(path)
        self._stop_asked_at = None
        # A CPU-bound script holds the GIL; hand it back to the GUI thread sooner.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SCRIPT_SWITCH_INTERVAL))
        self.script_run.start()
        self.act_stop.setEnabled(True)
        self.act_script.setEnabled(False)
        self.log.add(tr("Running script {path}… (Stop: Ctrl+.)", path=path))
        self._script_timer.start()
        return True

    def script_running(self) -> bool:
        return self.script_run is not None

    def stop_script(self) -> None:
        """Interrupt the running script (KeyboardInterrupt inside it)."""
        run = self.script_run
        if run is None:
            return
        run.stop()
        if self._stop_asked_at is None:
            self._stop_asked_at = time.monotonic()
            self.log.add(tr("Stopping the script…"), "warning")

    def _flush_script_output(self, run: ScriptRun) -> None:
        lines, dropped = run.output.drain()
        if len(lines) > SCRIPT_LOG_LINES:
            dropped += len(lines) - SCRIPT_LOG_LINES
            lines = lines[-SCRIPT_LOG_LINES:]
        if dropped:
            self.log.add(tr("… {n} earlier output lines not shown.", n=dropped), "warning")
        if lines:
            self.log.add("\n".join(lines), "output")

    def _poll_script(self) -> None:
        run = self.script_run
        if run is None:
            self._script_timer.stop()
            return
        result = run.result  # read first: output written before the end is then all there
        self._flush_script_output(run)
        if result is None:
            asked = self._stop_asked_at
            if asked is None:
                return
            if time.monotonic() - asked < STOP_GRACE_S:
                run.stop()  # again: the script may have caught the first KeyboardInterrupt
                return
            self.log.add(tr("The script did not stop (it is inside a blocking call); it was "
                            "abandoned and its result will be ignored."), "error")
        self._script_timer.stop()
        self.script_run = None
        sys.setswitchinterval(self._switch_interval)
        self.act_stop.setEnabled(False)
        self.act_script.setEnabled(True)
        if result is not None:
            if result.stopped and not result.ok:
                self.log.add(tr("Script {name} stopped after {s:.1f} s.",
                                name=Path(run.path).name, s=result.seconds), "warning")
            else:
                self.session.adopt_script(run.path, result)

    def export_dialog(self, kind: str) -> None:
        filt = tr("PNG images (*.png)") if kind == "png" else tr("SVG drawings (*.svg)")
        path, _ = QFileDialog.getSaveFileName(self, tr("Export graph"), f"graph.{kind}", filt)
        if path:
            self.export_graph(path)

    def export_graph(self, path: str) -> bool:
        ok = self.graph.export_svg(path) if path.lower().endswith(".svg") \
            else self.graph.export_png(path)
        self.log.add(tr("Graph exported to {path}.", path=path) if ok
                     else tr("Could not export the graph to {path}.", path=path),
                     "info" if ok else "error")
        return ok

    def _maybe_save(self) -> bool:
        """Ask about unsaved changes; False means the user cancelled."""
        if not (self.session.dirty and self.ask_unsaved):
            return True
        btn = QMessageBox.question(
            self, tr("Unsaved changes"), tr("Save the current session first?"),
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard |
            QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if btn == QMessageBox.StandardButton.Save:
            return self.save()
        return btn == QMessageBox.StandardButton.Discard

    # -- autosave and crash recovery ----------------------------------------------------
    def autosave(self) -> None:
        """Write unsaved work to the recovery file (or remove it when nothing is unsaved)."""
        path = self.recovery_path
        if path is None:
            return
        try:
            if self.session.dirty:
                data = json.loads(self.session.to_json())
                data["recovery"] = {"path": self.current_path, "time": time.time()}
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(path, json.dumps(data))
                self.autosave_count += 1
            elif path.exists():
                path.unlink()
        except (OSError, ValueError) as e:
            if not self._autosave_failed:
                self._autosave_failed = True
                self.log.add(tr("Autosave to {path} failed: {error}", path=str(path),
                                error=getattr(e, "strerror", None) or e), "warning")

    def offer_recovery(self) -> bool:
        """After a crash (a recovery file is left), offer to restore the unsaved work.

        The setting ``recovery/answer`` (``restore`` or ``discard``) answers without asking.
        Returns whether work was restored.
        """
        path = self.recovery_path
        if path is None or not path.is_file():
            return False
        try:
            text = read_session_file(path)
            parse_session_text(text)
            info = json.loads(text).get("recovery") or {}
        except (ConfigError, ValueError) as e:
            self.log.add(tr("The recovery file {path} is unusable ({error}); it was set "
                            "aside.", path=str(path), error=e), "warning")
            with contextlib.suppress(OSError):
                os.replace(path, path.with_suffix(".bad"))
            return False
        answer = str(self.settings.value("recovery/answer", "ask"))
        if answer not in ("restore", "discard"):
            btn = QMessageBox.question(
                self, tr("Restore unsaved work?"),
                tr("JitGrad did not close properly last time. Restore the unsaved session?"),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.Yes)
            answer = "restore" if btn == QMessageBox.StandardButton.Yes else "discard"
        if answer != "restore":
            with contextlib.suppress(OSError):
                path.unlink()
            return False
        self.session.load_text(text)
        self.session.mark_unsaved()
        src = info.get("path") if isinstance(info, dict) else None
        self.current_path = src if isinstance(src, str) and src else None
        self._update_title()
        self.log.add(tr("Unsaved work restored from {path}.", path=str(path)))
        return True

    # -- window state ----------------------------------------------------------------
    def _restore_state(self) -> None:
        geo = self.settings.value("geometry")
        state = self.settings.value("windowState")
        if isinstance(geo, QByteArray):
            self.restoreGeometry(geo)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if not self._maybe_save():
            event.ignore()
            return
        self.train_timer.stop()
        if self.script_run is not None:
            self.script_run.stop()
            self._script_timer.stop()
            self.script_run = None
            sys.setswitchinterval(self._switch_interval)
        self._autosave_timer.stop()
        self._autosave_soon.stop()
        if self.recovery_path is not None:  # a clean close leaves no recovery file
            with contextlib.suppress(OSError):
                self.recovery_path.unlink()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState())
        self.settings.sync()
        self._unsubscribe()
        self._lang_unsub()
        self._qt_translations("en")
        event.accept()

    # -- about -------------------------------------------------------------------------
    def about_text(self) -> str:
        import networkx
        import numba
        import pyqtgraph
        import PySide6
        from PySide6.QtCore import qVersion

        rows = [("JitGrad", engine.__version__), ("Python", platform.python_version()),
                ("Qt", qVersion()), ("PySide6", PySide6.__version__),
                ("pyqtgraph", pyqtgraph.__version__), ("NumPy", np.__version__),
                ("Numba", numba.__version__), ("networkx", networkx.__version__)]
        table = "".join(f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in rows)
        blurb = tr("See and use backpropagation: a Numba-compiled autograd engine and a lab "
                   "that steps through backward() node by node.")
        return f"<h3>JitGrad</h3><p>{blurb}</p><table>{table}</table><p>{sys.platform}</p>"

    def about(self) -> None:
        QMessageBox.about(self, tr("About JitGrad"), self.about_text())
