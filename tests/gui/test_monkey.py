"""Monkey test: thousands of seeded random UI actions on the real window, offscreen.

After every action: no exception escaped a Qt slot, the graph view shows exactly the
session's current graph (nodes, edges, highlight states) and the inspector shows exactly
the session's gradients.  ``check`` actions (zero, forward, run to end through the toolbar)
compare every leaf gradient with the same network written directly against the engine.

``JITGRAD_MONKEY_ACTIONS`` sets the number of actions (default 2,000) and
``JITGRAD_MONKEY_SEED`` the seed; the test prints how many actions of each kind ran.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

import engine
from gui import i18n
from gui.main_window import MainWindow
from gui.model.config import PRESETS, tensor_specs
from gui.model.session import Session

ACTIONS = int(os.environ.get("JITGRAD_MONKEY_ACTIONS", "2000"))
SEED = int(os.environ.get("JITGRAD_MONKEY_SEED", "20261128"))

# Text a user (or a cat on the keyboard) might type into a number field.
TEXTS = ["0", "1", "-1", "0.5", "-2.25", "3e2", "1e6", "-1e6", "1e7", "1e308", "nan", "NaN",
         "inf", "-inf", "", " ", "abc", "1,5", "--1", "0x10", "1e", "½", "١٢", "４２", "1_000",
         "None", "[1]", "__import__('os')", "🙂", "9" * 400, "0.000001", "  7  ", "+3", "1e-9"]
SPIN_TEXTS = ["1", "2", "3", "4", "5", "8", "16", "0", "17", "99", "-3", "abc", "", "4.5",
              "１２", "1e1"]
SHORTCUTS = [
    (Qt.Key.Key_F5, Qt.KeyboardModifier.NoModifier),
    (Qt.Key.Key_F10, Qt.KeyboardModifier.NoModifier),
    (Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier),
    (Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier),
    (Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier),
    (Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier),
    (Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier),
    (Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier),
    (Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier),
    (Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier),
    (Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier),
    (Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier),
    (Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier),
    (Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier),
]

GOOD_SCRIPT = ("import engine as torch\ninp = torch.tensor([[1.0, 2.0], [3.0, -1.0]], "
               "requires_grad=True)\nout = (inp + 1).pow(2)\nprint('built', out.shape)\n")
BAD_SCRIPT = "import engine as torch\nx = torch.ones(2)\nraise ValueError('monkey')\n"


# -- the same networks written directly against the engine -------------------------
def reference(s: Session) -> dict[str, np.ndarray | None] | None:
    """Leaf grads after one backward of a fresh forward, mirroring the session's options;
    None when the engine refuses the backward (nothing in the graph requires grad)."""
    cfg = s.config
    det = s.detached
    leaves = {}
    for spec in tensor_specs(cfg):
        rg = spec.param and cfg.requires_grad.get(spec.name, True)
        leaves[spec.name] = engine.tensor(cfg.values[spec.name], dtype=engine.float32,
                                          requires_grad=rg)
    t = {k: (v.detach() if k in det and v.requires_grad else v) for k, v in leaves.items()}

    def cut(name: str, value: engine.Tensor) -> engine.Tensor:
        return value.detach() if name in det and value.grad_fn is not None else value

    act = {"tanh": engine.tanh, "relu": engine.relu, "sigmoid": engine.sigmoid}
    if cfg.preset == "accumulation":
        out = cut("out", cut("inp+1", t["inp"] + 1).pow(2))
        root, grad = out, engine.ones_like(t["inp"])
    else:
        def layer(inp, w, b, name):
            mm = cut(f"{inp}@{w}", engine.matmul(t[inp], t[w]))
            return cut(name, mm + t[b])

        if cfg.preset == "mlp":
            t["a1"] = layer("x", "w1", "b1", "a1")
            h = "a1"
            if cfg.activation != "none":
                t["h"] = cut("h", act[cfg.activation](t["a1"]))
                h = "h"
            z = layer(h, "w2", "b2", "z")
        else:
            z = layer("x", "w", "b", "z")
            if cfg.activation != "none":
                z = cut("a", act[cfg.activation](z))
        if cfg.loss == "bce":
            root = engine.nn.functional.binary_cross_entropy_with_logits(z, t["y"])
        else:
            root = ((z - t["y"]) ** 2).mean()
        grad = None
    if root.grad_fn is None:
        with pytest.raises(RuntimeError, match="does not require grad"):
            root.backward(grad)
        return None
    root.backward(grad)
    return {k: (None if v.grad is None else v.grad.numpy()) for k, v in leaves.items()
            if k not in det and v.requires_grad}


def _trigger(name: str):
    """The monkey action ``name``: trigger the window's ``act_<name>``."""
    def action(self: Monkey) -> None:
        getattr(self.win, f"act_{name}").trigger()

    action.__name__ = name
    return action


class Monkey:
    """Chooses and performs actions; keeps counts."""

    def __init__(self, win: MainWindow, qtbot, folder: Path, seed: int) -> None:
        self.win, self.qtbot, self.dir = win, qtbot, folder
        self.rng = np.random.default_rng(seed)
        self.counts: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.checks = 0
        self.hostile = folder / "hostile.json"
        self.hostile.write_bytes(b'{"format": "jitgrad-session", "version": 1, "network": [')
        (folder / "good.py").write_text(GOOD_SCRIPT, encoding="utf-8")
        (folder / "bad.py").write_text(BAD_SCRIPT, encoding="utf-8")
        (folder / "a_dir.json").mkdir()
        self.actions = [(getattr(self, n), w) for n, w in (
            ("forward", 8), ("step", 14), ("run", 6), ("zero", 4), ("shortcut", 10),
            ("edit_cell", 12), ("edit_spin", 5), ("edit_lr", 2), ("preset", 3),
            ("choice", 3), ("randomise", 2), ("requires_grad", 2), ("retain", 3),
            ("no_grad", 2), ("select", 5), ("detach", 3), ("sgd", 4), ("train", 2),
            ("train_tick", 4), ("reset", 2), ("language", 2), ("view", 3), ("save", 2),
            ("open", 2), ("recent", 1), ("script", 1), ("zoom", 1), ("check", 6))]
        weights = np.array([w for _, w in self.actions], dtype=float)
        self.p = weights / weights.sum()

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def act(self) -> str:
        fn = self.actions[int(self.rng.choice(len(self.actions), p=self.p))][0]
        self.counts[fn.__name__] += 1
        t = time.perf_counter()
        fn()
        self.seconds[fn.__name__] += time.perf_counter() - t
        return fn.__name__

    # -- actions ---------------------------------------------------------------------
    def forward(self) -> None:
        self.win.act_forward.trigger()
        self._settle_script()

    step = _trigger("step")
    run = _trigger("run")
    zero = _trigger("zero")

    def shortcut(self) -> None:
        key, mod = self.pick(SHORTCUTS)
        self.qtbot.keyClick(self.win, key, mod)
        self._settle_script()

    def edit_cell(self) -> None:
        tables = list(self.win.editor.tables.values())
        if not tables or not tables[0].isEnabled():
            return
        tab = self.pick(tables).table
        item = tab.item(int(self.rng.integers(tab.rowCount())),
                        int(self.rng.integers(tab.columnCount())))
        text = self.pick(TEXTS) if self.rng.random() < 0.5 else \
            f"{self.rng.normal() * 2:.3g}"
        item.setText(text)

    def edit_spin(self) -> None:
        ed = self.win.editor
        spin = self.pick([ed.n_in, ed.n_out, ed.n_hidden, ed.seed])
        if not spin.isEnabled() or not spin.isVisible():
            return
        spin.lineEdit().selectAll()
        self._type(spin.lineEdit(), self.pick(SPIN_TEXTS))
        self.qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
        spin.clearFocus()

    def edit_lr(self) -> None:
        box = self.win.lr_box
        box.lineEdit().selectAll()
        self._type(box.lineEdit(), self.pick(TEXTS + ["0.05", "0.2", "3"]))
        self.qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
        box.clearFocus()

    def preset(self) -> None:
        combo = self.win.editor.preset
        i = int(self.rng.integers(len(PRESETS)))
        combo.setCurrentIndex(i)
        combo.activated.emit(i)

    def choice(self) -> None:
        ed = self.win.editor
        combo = self.pick([ed.loss, ed.activation])
        if not combo.isEnabled():
            return
        i = int(self.rng.integers(combo.count()))
        combo.setCurrentIndex(i)
        combo.activated.emit(i)

    def randomise(self) -> None:
        ed = self.win.editor
        if ed.randomise.isEnabled():
            ed.seed.setValue(int(self.rng.integers(0, 1000)))
            self.qtbot.mouseClick(ed.randomise, Qt.MouseButton.LeftButton)

    def requires_grad(self) -> None:
        boxes = [t.grad_box for t in self.win.editor.tables.values()
                 if t.param and t.isEnabled()]
        if boxes:
            self.pick(boxes).click()

    def retain(self) -> None:
        self.win.retain_box.click()

    def no_grad(self) -> None:
        self.win.nograd_box.click()
        self._settle_script()

    def select(self) -> None:
        nodes = sorted(self.win.graph.nodes)
        if nodes:
            self.win.graph.select(self.pick(nodes))

    def detach(self) -> None:
        self.select()
        self.win.act_detach.trigger()

    sgd = _trigger("sgd")
    train = _trigger("train")

    def train_tick(self) -> None:
        if self.win.act_train.isChecked():
            self.win.trainer.tick()  # what the timer does; called directly to stay seeded

    def reset(self) -> None:
        self.win.act_reset.trigger()
        self._settle_script()

    def language(self) -> None:
        self.win.act_lang[self.pick(list(i18n.LANGUAGES))].trigger()

    def view(self) -> None:
        self.pick([self.win.act_view_bwd, self.win.act_view_fwd]).trigger()

    def save(self) -> None:
        if self.rng.random() < 0.5:
            self.win.act_save.trigger()
        else:
            self.win.act_save_as.trigger()

    open = _trigger("open")

    def recent(self) -> None:
        menu = self.win.menu_recent
        acts = menu.actions() if menu is not None else []
        if acts:
            self.pick(acts).trigger()

    def script(self) -> None:
        self.win.act_script.trigger()
        self._settle_script()

    def zoom(self) -> None:
        self.pick([self.win.act_zoom_in, self.win.act_zoom_out, self.win.act_fit]).trigger()

    def check(self) -> None:
        """Zero, Forward, Run to end; then every leaf grad must equal the engine's own."""
        win, s = self.win, self.win.session
        win.act_zero.trigger()
        win.act_forward.trigger()
        self._settle_script()
        win.act_run.trigger()
        assert not s.pass_active
        if s.mode == "script":
            inp = s.tensor_value("inp")
            np.testing.assert_allclose(s.tensor_grad("inp"), 2 * (inp + 1), rtol=1e-6)
            self.checks += 1
            return
        got = {k: s.tensor_grad(k) for k in s.params()}
        ref = None if s.no_grad else reference(s)
        if ref is None:  # the engine refuses: the app says so and no gradient appears
            assert win.banner.isVisible()
            assert all(g is None or not g.any() for g in got.values())
        else:
            assert set(got) == set(ref), (got.keys(), ref.keys())
            for k, g in ref.items():
                if g is None:
                    assert got[k] is None or not got[k].any(), k
                else:
                    np.testing.assert_allclose(got[k], g, rtol=1e-5, atol=1e-6,
                                               equal_nan=True, err_msg=k)
        self.checks += 1

    # -- helpers -----------------------------------------------------------------------
    def _type(self, line_edit, text: str) -> None:
        """Type ASCII key by key; other text arrives as an input method would insert it
        (QTest cannot synthesise keys for characters such as '１')."""
        if text.isascii():
            self.qtbot.keyClicks(line_edit, text)
        else:
            line_edit.insert(text)

    def _settle_script(self) -> None:
        """Wait for a script run to end (the train timer is held so the run stays seeded)."""
        if not self.win.script_running():
            return
        training = self.win.train_timer.isActive()
        self.win.train_timer.stop()
        self.qtbot.waitUntil(lambda: not self.win.script_running(), timeout=30_000)
        if training and self.win.act_train.isChecked():
            self.win.train_timer.start()

    def dialog_path(self, save: bool, filt: str) -> str:
        """What the patched file dialogs answer: a file in the work folder, or cancel."""
        if "*.py" in filt:
            return self.pick([str(self.dir / "good.py"), str(self.dir / "bad.py"), ""])
        if "*.png" in filt or "*.svg" in filt:
            return ""
        names = ["s0.json", "s1.json", "s2"] if save else \
            ["s0.json", "s1.json", "s2.json", "missing.json", "hostile.json", "a_dir.json"]
        return self.pick([str(self.dir / n) for n in names] + [""])


def assert_consistent(win: MainWindow) -> None:
    """The widgets show exactly what the session holds."""
    s, g = win.session, win.graph
    model = s.view(g.view_name)
    assert set(g.nodes) == set(model.nodes)
    assert set(g.edges) == set(model.edges)
    for nid, item in g.nodes.items():
        assert item.state == s.node_state(g.view_name, nid), nid
    names = s.inspected_tensors()
    maps = win.inspector.maps[-2 * len(names):] if names else []
    for k, n in enumerate(names):
        key = maps[2 * k + 1]._key
        grad = s.grad_of(n)
        assert key[0] == f"{n}.grad"
        if grad is None:
            assert key[1] is None, n
        else:
            assert key[1] == (grad.shape, np.asarray(grad).tobytes()), n
    assert win.act_train.isChecked() == win.train_timer.isActive()


@pytest.fixture
def monkey_window(qtbot, settings, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    holder: dict[str, Monkey] = {}
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *a, **k: (holder["m"].dialog_path(False, str(a[-1])), ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (holder["m"].dialog_path(True, str(a[-1])), ""))
    monkeypatch.setattr(QMessageBox, "about", lambda *a, **k: None)
    monkeypatch.setattr(MainWindow, "has_cjk_font", lambda *a: True, raising=False)
    session = Session()
    win = MainWindow(session, settings, restore=False, recovery_dir=str(tmp_path / "rec"))
    win.ask_unsaved = False
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    m = Monkey(win, qtbot, work, SEED)
    holder["m"] = m
    return m


def test_monkey(monkey_window, qtbot, capsys):
    m, win = monkey_window, monkey_window.win
    t0 = time.perf_counter()
    trail: list[str] = []
    with qtbot.capture_exceptions() as errors:
        for i in range(ACTIONS):
            name = m.act()
            trail.append(name)
            box = win.last_message
            if box is not None and shiboken6.isValid(box) and box.isVisible():
                box.close()
            assert not errors, f"action {i} ({name}) after {trail[-8:]}: {errors[0][1]!r}"
            try:
                assert_consistent(win)
            except AssertionError as e:
                raise AssertionError(f"after action {i}, trail {trail[-8:]}: {e}") from None
        m.check()
        assert not errors
    elapsed = time.perf_counter() - t0
    assert sum(m.counts.values()) == ACTIONS and m.checks >= ACTIONS // 40
    assert len(m.counts) >= 25  # nearly every kind of action happened
    with capsys.disabled():
        print(f"\nmonkey: {ACTIONS} actions (seed {SEED}) in {elapsed:.1f} s, "
              f"{m.checks} engine checks; {dict(sorted(m.counts.items()))}")
        if os.environ.get("JITGRAD_MONKEY_TIMES"):
            print({k: round(v, 2) for k, v in m.seconds.most_common()})
