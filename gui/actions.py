"""The window's actions, toolbar and menus, and the one place that names them.

napari's ``qactions/`` idea: the window holds the ``act_*`` attributes and the slots;
this module creates the actions, places them in the toolbar and the menus, and sets
every visible string again when the language changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QLabel, QSlider, QStyle, QToolBar

from gui import i18n
from gui.i18n import explain_error, tr
from gui.widgets.graph_view import DONE_FILL, EDGE_LAST, LAST_FILL, NEXT_BORDER

if TYPE_CHECKING:  # the window calls these functions and imports this module
    from gui.main_window import MainWindow


def _action(win: MainWindow, slot: object, shortcut: str | QKeySequence | None = None,
            icon: QStyle.StandardPixmap | None = None, checkable: bool = False) -> QAction:
    """An action of ``win`` that calls ``slot``; the window keeps its shortcut alive."""
    a = QAction(win)
    if shortcut:
        a.setShortcut(QKeySequence(shortcut))
    if icon is not None:
        a.setIcon(win.style().standardIcon(icon))
    a.setCheckable(checkable)
    a.triggered.connect(slot)
    win.addAction(a)
    return a


def make_actions(win: MainWindow) -> None:
    """Create every ``act_*`` action with its shortcut and icon; texts come later."""
    sp = QStyle.StandardPixmap
    s = win.session
    win.act_forward = _action(win, win.forward, "F5", sp.SP_MediaPlay)
    win.act_step = _action(win, win.step, "F10", sp.SP_ArrowRight)
    win.act_run = _action(win, win.run_to_end, "Ctrl+Return", sp.SP_MediaSeekForward)
    win.act_run.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
    win.act_zero = _action(win, s.zero_grads, "Ctrl+0", sp.SP_DialogResetButton)
    win.act_detach = _action(win, win.detach_selected, "Ctrl+D", sp.SP_DialogCancelButton)
    win.act_sgd = _action(win, s.sgd_step, "Ctrl+G", sp.SP_ArrowDown)
    win.act_train = _action(win, win.trainer.toggled, "Ctrl+T", sp.SP_MediaPlay,
                                  checkable=True)
    win.act_reset = _action(win, win.reset, "Ctrl+R", sp.SP_BrowserReload)
    win.act_open = _action(win, win.open_dialog, QKeySequence.StandardKey.Open,
                                 sp.SP_DialogOpenButton)
    win.act_save = _action(win, win.save, QKeySequence.StandardKey.Save,
                                 sp.SP_DialogSaveButton)
    win.act_save_as = _action(win, win.save_as_dialog, "Ctrl+Shift+S")
    win.act_script = _action(win, win.script_dialog, "Ctrl+Shift+O", sp.SP_FileIcon)
    win.act_stop = _action(win, win.scripts.stop, "Ctrl+.", sp.SP_BrowserStop)
    win.act_stop.setEnabled(False)
    win.act_png = _action(win, lambda: win.export_dialog("png"))
    win.act_svg = _action(win, lambda: win.export_dialog("svg"))
    win.act_quit = _action(win, win.close, QKeySequence.StandardKey.Quit)
    win.act_fit = _action(win, win.graph.fit, "Ctrl+F")
    win.act_zoom_in = _action(win, lambda: win.graph.zoom(1.25),
                                    QKeySequence.StandardKey.ZoomIn)
    win.act_zoom_out = _action(win, lambda: win.graph.zoom(0.8),
                                     QKeySequence.StandardKey.ZoomOut)
    win.act_about = _action(win, win.about)
    win.view_group = QActionGroup(win)
    win.act_view_bwd = _action(win, lambda: win.set_view("backward"), "Ctrl+B",
                                     checkable=True)
    win.act_view_fwd = _action(win, lambda: win.set_view("forward"), "Ctrl+Shift+B",
                                     checkable=True)
    for a in (win.act_view_bwd, win.act_view_fwd):
        win.view_group.addAction(a)
    win.act_view_bwd.setChecked(True)
    win.lang_group = QActionGroup(win)
    win.act_lang = {}
    for lang, label in (("en", "English"), ("zh_CN", "简体中文")):
        a = _action(win, lambda _=False, lang=lang: win.set_language(lang), checkable=True)
        a.setText(label)
        win.lang_group.addAction(a)
        win.act_lang[lang] = a
    win.act_lang[i18n.language()].setChecked(True)


def make_toolbar(win: MainWindow) -> None:
    """The main toolbar (with the option boxes, lr and speed) and the graph toolbar."""
    tb = QToolBar(win)
    tb.setObjectName("toolbar_main")
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    win.addToolBar(tb)
    win.toolbar = tb
    tb.addAction(win.act_forward)
    tb.addAction(win.act_step)
    tb.addAction(win.act_run)
    tb.addAction(win.act_zero)
    tb.addSeparator()
    win.retain_box = QCheckBox("retain_graph")
    win.retain_box.toggled.connect(win.session.set_retain_graph)
    win.nograd_box = QCheckBox()
    win.nograd_box.toggled.connect(win.no_grad_toggled)
    tb.addWidget(win.retain_box)
    tb.addWidget(win.nograd_box)
    tb.addSeparator()
    tb.addAction(win.act_detach)
    tb.addSeparator()
    tb.addAction(win.act_sgd)
    win.lr_label = QLabel()
    win.lr_box = QDoubleSpinBox()
    win.lr_box.setDecimals(4)
    win.lr_box.setRange(0.0001, 10.0)
    win.lr_box.setSingleStep(0.01)
    win.lr_box.setValue(win.session.lr)
    win.lr_box.valueChanged.connect(win.lr_changed)
    tb.addWidget(win.lr_label)
    tb.addWidget(win.lr_box)
    tb.addSeparator()
    tb.addAction(win.act_train)
    win.speed = QSlider(Qt.Orientation.Horizontal)
    win.speed.setRange(1, 60)
    win.speed.setValue(10)
    win.speed.setFixedWidth(110)
    win.speed.valueChanged.connect(win.trainer.speed_changed)
    win.speed_label = QLabel()
    win.speed_label.setMinimumWidth(60)
    tb.addWidget(win.speed)
    tb.addWidget(win.speed_label)
    tb.addSeparator()
    tb.addAction(win.act_reset)
    tb.addAction(win.act_stop)

    gb = win.graph_bar
    gb.addAction(win.act_view_bwd)
    gb.addAction(win.act_view_fwd)
    gb.addSeparator()
    gb.addAction(win.act_zoom_in)
    gb.addAction(win.act_zoom_out)
    gb.addAction(win.act_fit)
    gb.addSeparator()
    gb.addAction(win.act_png)
    gb.addAction(win.act_svg)
    gb.addSeparator()
    gb.addWidget(win.legend)


def make_menus(win: MainWindow) -> None:
    """Empty top-level menus; :func:`fill_menus` fills them in the current language."""
    mb = win.menuBar()
    win.menu_file = mb.addMenu("")
    win.menu_recent = None
    win.menu_backward = mb.addMenu("")
    win.menu_view = mb.addMenu("")
    win.menu_lang = None
    win.menu_help = mb.addMenu("")


def fill_menus(win: MainWindow) -> None:
    """Fill the menus again (their submenu titles are translated strings)."""
    f = win.menu_file
    f.clear()
    f.addAction(win.act_open)
    win.menu_recent = f.addMenu(tr("Open &recent"))
    fill_recent(win)
    f.addAction(win.act_save)
    f.addAction(win.act_save_as)
    f.addSeparator()
    f.addAction(win.act_script)
    f.addAction(win.act_stop)
    f.addSeparator()
    f.addAction(win.act_png)
    f.addAction(win.act_svg)
    f.addSeparator()
    f.addAction(win.act_quit)
    b = win.menu_backward
    b.clear()
    for a in (win.act_forward, win.act_step, win.act_run, win.act_zero, None,
              win.act_detach, win.act_sgd, win.act_train, None, win.act_reset):
        if a is None:
            b.addSeparator()
        else:
            b.addAction(a)
    v = win.menu_view
    v.clear()
    v.addAction(win.act_view_bwd)
    v.addAction(win.act_view_fwd)
    v.addSeparator()
    v.addAction(win.act_zoom_in)
    v.addAction(win.act_zoom_out)
    v.addAction(win.act_fit)
    v.addSeparator()
    for d in (win.dock_net, win.dock_insp, win.dock_plots, win.dock_code,
              win.dock_log, win.dock_accum):
        v.addAction(d.toggleViewAction())
    v.addSeparator()
    win.menu_lang = v.addMenu(tr("&Language"))
    for a in win.act_lang.values():
        win.menu_lang.addAction(a)
    h = win.menu_help
    h.clear()
    h.addAction(win.act_about)


def fill_recent(win: MainWindow) -> None:
    """File ▸ Open recent from the settings."""
    if win.menu_recent is None:
        return
    win.menu_recent.clear()
    recent = win.recent_files()
    for path in recent:
        a = win.menu_recent.addAction(path)
        a.triggered.connect(lambda _=False, p=path: win.open_session(p))
    win.menu_recent.setEnabled(bool(recent))


def retranslate(win: MainWindow) -> None:
    """Set every visible string in the current language."""
    t = tr
    texts = [
        (win.act_forward, t("Forward"), t("Run the forward pass and record the graph (F5)")),
        (win.act_step, t("Step"), t("Run backward one node (F10)")),
        (win.act_run, t("Run to end"), t("Run the backward pass to the end (Ctrl+Enter)")),
        (win.act_zero, t("Zero grads"), t("Call grad.zero_() on every parameter (Ctrl+0)")),
        (win.act_detach, t("Detach selected"),
         t("Replace the selected tensor by tensor.detach() and run forward (Ctrl+D)")),
        (win.act_sgd, t("SGD step"),
         t("p -= lr * p.grad for every parameter, then forward (Ctrl+G)")),
        (win.act_train, t("Train"),
         t("Repeat zero_grad, forward, backward, SGD; click again to pause (Ctrl+T)")),
        (win.act_reset, t("Reset"), t("Restart from fresh parameters (Ctrl+R)")),
        (win.act_open, t("&Open session…"), t("Open a saved session (JSON)")),
        (win.act_save, t("&Save session"), t("Save the session as JSON")),
        (win.act_save_as, t("Save session &as…"), t("Save the session under a new name")),
        (win.act_script, t("Run &script…"),
         t("Run a Python demo and show the graph it builds")),
        (win.act_stop, t("Stop script"), t("Interrupt the running script (Ctrl+.)")),
        (win.act_png, t("Export PNG…"), t("Save the graph as a PNG image")),
        (win.act_svg, t("Export SVG…"), t("Save the graph as an SVG drawing")),
        (win.act_quit, t("&Quit"), t("Close JitGrad")),
        (win.act_fit, t("Fit"), t("Fit the whole graph in the view (Ctrl+F)")),
        (win.act_zoom_in, t("Zoom in"), t("Zoom in (Ctrl++ or mouse wheel)")),
        (win.act_zoom_out, t("Zoom out"), t("Zoom out (Ctrl+- or mouse wheel)")),
        (win.act_about, t("&About JitGrad"), t("Versions and credits")),
        (win.act_view_bwd, t("Backward graph"),
         t("Show the grad_fn nodes that backward runs (Ctrl+B)")),
        (win.act_view_fwd, t("Forward graph"),
         t("Show the forward operations and tensors (Ctrl+Shift+B)")),
    ]
    for a, text, tip in texts:
        a.setText(text)
        a.setToolTip(tip)
        a.setStatusTip(tip)
    win.act_train.setText(t("Pause") if win.act_train.isChecked() else t("Train"))
    win.retain_box.setToolTip(t("Keep the graph's saved values so backward can run again"))
    win.nograd_box.setText(t("Forward without tracking"))
    win.nograd_box.setToolTip(t("Run the forward pass inside torch.no_grad(): no graph"))
    win.lr_label.setText(" " + t("lr") + " ")
    win.lr_box.setToolTip(t("Learning rate for the SGD step and training"))
    win.speed.setToolTip(t("Training speed in steps per second"))
    win.trainer.speed_changed(win.speed.value())
    win.menu_file.setTitle(t("&File"))
    win.menu_backward.setTitle(t("&Backward"))
    win.menu_view.setTitle(t("&View"))
    win.menu_help.setTitle(t("&Help"))
    fill_menus(win)
    titles = ((win.dock_net, t("Network")), (win.dock_insp, t("Inspector")),
              (win.dock_plots, t("Plots")), (win.dock_code, t("Code")),
              (win.dock_log, t("Log")), (win.dock_accum, t("Accumulation")))
    for d, title in titles:
        d.setWindowTitle(title)
    win.legend.setText(
        f'<span style="color:{NEXT_BORDER}">▢</span> {t("about to run")} &nbsp; '
        f'<span style="color:{LAST_FILL}; background:{LAST_FILL}">■</span>'
        f'<span style="color:{EDGE_LAST}">━</span> {t("just ran")} &nbsp; '
        f'<span style="color:{DONE_FILL}">■</span> {t("done")}')
    win.legend.setToolTip(t("Hover a node for its value and gradient; click it to "
                             "inspect it."))
    win.editor.retranslate()
    win.log.retranslate()
    win.accum.retranslate()
    win.grad_plot.retranslate()
    win.loss_plot.retranslate()
    win.inspector.refresh()
    if win.banner.isVisible():
        win.banner.show_error(win.banner.message, explain_error(win.banner.message))
    win.graph.rebuild(force=True)
    win.update_title()
    win.update_status()
