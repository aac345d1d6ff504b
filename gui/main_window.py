"""The main window: assembles docks, toolbar and menus around one Session."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import networkx
import numba
import numpy as np
import pyqtgraph
import PySide6
import shiboken6
from PySide6.QtCore import (
    QByteArray,
    QLibraryInfo,
    QSettings,
    Qt,
    QTranslator,
    qVersion,
)
from PySide6.QtGui import QCloseEvent, QFontDatabase, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

import engine
from gui import actions, i18n
from gui.controllers.autosave import Autosaver
from gui.controllers.scripts import ScriptController
from gui.controllers.trainer import Trainer
from gui.i18n import tr
from gui.model.config import ConfigError
from gui.model.graph_model import Event
from gui.model.script_runner import ScriptRun
from gui.model.session import Session
from gui.widgets.accumulation import AccumulationTable
from gui.widgets.graph_view import GraphView
from gui.widgets.inspector import Inspector
from gui.widgets.network_editor import NetworkEditor
from gui.widgets.plots import GradNormPlot, LossPlot
from gui.widgets.text_panels import Banner, CodePanel, LogPanel

ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "icons" / "jitgrad.svg"
MAX_RECENT = 8


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

        self.trainer = Trainer(self)
        self.autosaver = Autosaver(self, recovery_dir)
        self.scripts = ScriptController(self)
        # The timers under the names the tests and the UI monkey read.
        self.train_timer = self.trainer.timer
        self._autosave_timer = self.autosaver.timer
        self.recovery_path = self.autosaver.path
        self.session.script_launcher = self.run_script
        self.last_message: QMessageBox | None = None
        self._qt_translator: QTranslator | None = None
        actions.make_actions(self)
        actions.make_toolbar(self)
        actions.make_menus(self)

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

    # -- translation -------------------------------------------------------------
    def retranslate(self) -> None:
        """Set every visible string in the current language."""
        actions.retranslate(self)

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
            self.update_status()
        elif k == "state":
            self.graph.refresh()
            self.inspector.refresh()
            self.update_status()
        elif k == "log":
            self.log.add(ev.data["text"], ev.data.get("level", "info"))
        elif k == "code":
            self.code.add(ev.data["code"], ev.data.get("output", ""))
        elif k == "error":
            self.banner.show_error(ev.data["message"], ev.data["hint"])
            self.trainer.pause()
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
            self.update_title()
        if k in ("config", "options", "dirty"):
            self.autosaver.schedule()

    def _sync_options(self) -> None:
        for box, flag in ((self.retain_box, self.session.retain_graph),
                          (self.nograd_box, self.session.no_grad)):
            box.blockSignals(True)
            box.setChecked(flag)
            box.blockSignals(False)

    def update_title(self) -> None:
        """The file name, a star while unsaved, and the app name."""
        name = Path(self.current_path).name if self.current_path else tr("untitled")
        star = "*" if self.session.dirty else ""
        self.setWindowTitle(f"{name}{star} — JitGrad")

    def update_status(self) -> None:
        """Where the backward pass stands, and the last loss."""
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
        """Stop training and restart the session from fresh parameters."""
        self.trainer.pause()
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

    def no_grad_toggled(self, flag: bool) -> None:
        """"Forward without tracking" changed: record (or drop) the graph again."""
        self.session.set_no_grad(flag)
        self.session.forward()

    def lr_changed(self, v: float) -> None:
        """The lr box changed; a refused value is logged, the old one kept."""
        try:
            self.session.set_lr(v)
        except ConfigError as e:
            self.log.add(str(e), "warning")

    # -- files ---------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        val = self.settings.value("recent", [])
        if isinstance(val, str):
            val = [val]
        return [str(v) for v in (val or [])][:MAX_RECENT]

    def _add_recent(self, path: str) -> None:
        rec = [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", [path, *rec][:MAX_RECENT])
        actions.fill_recent(self)

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
        self.update_title()
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
        self.update_title()
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
        """File ▸ Run script: pick a Python file and run it."""
        path, _ = QFileDialog.getOpenFileName(self, tr("Run script"), "",
                                              tr("Python files (*.py)"))
        if path:
            self.run_script(path)

    def run_script(self, path: str, *, wait: bool = False) -> bool:
        """Run a script: in a worker thread (Stop interrupts it), or here if ``wait``."""
        return self.scripts.start(path, wait=wait)

    def script_running(self) -> bool:
        """True while a script runs."""
        return self.scripts.running()

    @property
    def script_run(self) -> ScriptRun | None:
        """The running script, if any."""
        return self.scripts.run

    def autosave(self) -> None:
        """Write unsaved work to the recovery file now."""
        self.autosaver.save()

    def offer_recovery(self) -> bool:
        """After a crash, offer to restore the unsaved work; returns whether it was."""
        return self.autosaver.offer_recovery()

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
        self.scripts.shutdown()
        self.autosaver.shutdown()  # a clean close leaves no recovery file
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState())
        self.settings.sync()
        self._unsubscribe()
        self._lang_unsub()
        self._qt_translations("en")
        event.accept()

    # -- about -------------------------------------------------------------------------
    def about_text(self) -> str:
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
