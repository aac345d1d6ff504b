"""The kernel warm-up: progress per kernel, a parallel cold compile whose cache a fresh
process loads without compiling, a cheap warm check, failures that name the kernel, the
lab's progress dialog on a cold start, and no kernel compiling again after a warm-up.

The cold runs happen in child processes with their own empty ``NUMBA_CACHE_DIR`` and only
a few kernels (``names=``), so they stay short and never touch the suite's own cache; the
dialog tests replace the warm-up child process with a fake that prints the same JSON lines.
No test asserts a duration.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from engine import warmup as wu

ROOT = Path(__file__).resolve().parents[3]

BROKEN = '''
from engine.kernels import kernel


@kernel("zz_test", "a")
def broken_bwd(g):
    return g.no_such_method()
'''


def few(n: int = 4) -> list[str]:
    """Labels of a few real kernels, whatever the registry holds today."""
    return [wu.label(k) for k in wu.kernels()[:n]]


def child(code: str, cache: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=600)


# ----------------------------------------------------------------------------- in process
def test_progress_is_called_once_per_kernel_counting_up():
    calls: list[tuple[str, int, int]] = []
    wu.warmup(out=None, progress=lambda *a: calls.append(a), jobs=1)
    labels = [wu.label(k) for k in wu.kernels()]
    assert [n for _, n, _ in calls] == list(range(1, len(labels) + 1))
    assert {total for _, _, total in calls} == {len(labels)}
    assert sorted(name for name, _, _ in calls) == sorted(labels)
    assert wu.missing() == []  # everything is loaded or cached now


def test_names_limit_the_work_and_unknown_names_are_refused():
    calls: list[tuple[str, int, int]] = []
    wu.warmup(out=None, progress=lambda *a: calls.append(a), names=few(3))
    assert sorted(c[0] for c in calls) == sorted(few(3)) and calls[-1][1:] == (3, 3)
    with pytest.raises(wu.WarmupError, match="no such kernel: nope.nothing"):
        wu.warmup(out=None, names=["nope.nothing"])


def test_output_styles():
    out = io.StringIO()
    wu.warmup(out=out)  # warm: one line naming the cached groups, then the summary
    text = out.getvalue()
    for group in {k.group for k in wu.kernels()}:
        assert f" {group} " in text
    assert text.splitlines()[-1].startswith("Numba kernels ready in")

    out = io.StringIO()
    wu.warmup(out=out, verbose=True)
    total = len(wu.kernels())
    assert sum(1 for line in out.getvalue().splitlines() if line.startswith("[")) == total

    out = io.StringIO()
    wu.warmup(out=out, quiet=True)
    assert len(out.getvalue().splitlines()) == 1

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    wu.warmup(out=out)
    assert f"\r\x1b[K[{total}/{total}]" in out.getvalue()  # one line, rewritten in place

    out = io.StringIO()
    wu.warmup(out=out, json_lines=True)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["n"] for e in events if e["event"] == "kernel"] == list(range(1, total + 1))
    assert events[-1] == {**events[-1], "event": "done", "kernels": total, "compiled": 0}


def test_a_quiet_stretch_gets_a_heartbeat(monkeypatch):
    monkeypatch.setattr(wu, "HEARTBEAT_S", 0.05)
    out = io.StringIO()
    with wu._Reporter(out, "lines", 3, time.perf_counter()):
        time.sleep(0.6)
    assert "[0/3] still compiling...  elapsed" in out.getvalue()


def test_a_kernel_registered_twice_is_refused(monkeypatch):
    k = wu.kernels()[0]
    monkeypatch.setattr(wu, "kernels", lambda: [k, k])
    with pytest.raises(wu.WarmupError, match="registered twice"):
        wu.warmup(out=None)


def test_numba_errors_are_summarised_on_one_line():
    err = RuntimeError("Failed in nopython mode pipeline (step: nopython frontend)\n"
                       "\x1b[1mUnknown attribute 'x' of type float64\x1b[0m\nmore")
    assert wu._one_line(err) == "RuntimeError: Unknown attribute 'x' of type float64"
    assert wu._one_line(ValueError()) == "ValueError"


# ----------------------------------------------------------------------------- child processes
def test_parallel_cache_is_loaded_by_a_fresh_process_without_compiling(tmp_path):
    cache = tmp_path / "cache"
    names = few(5)
    cold = child(f"""
import io, json
from engine import warmup as wu
print(len(wu.missing()) == len(wu.kernels()))   # an empty cache: everything is missing
out = io.StringIO()
wu.warmup(out=out, json_lines=True, jobs=2, load=False, names={names!r})
print(out.getvalue())
""", cache)
    assert cold.returncode == 0, cold.stderr[-3000:]
    first, *lines = cold.stdout.strip().splitlines()
    assert first == "True"
    events = [json.loads(line) for line in lines if line.startswith("{")]
    kernels = [e for e in events if e["event"] == "kernel"]
    assert sorted(e["kernel"] for e in kernels) == sorted(names)
    assert not any(e["cached"] for e in kernels)
    assert len({e["pid"] for e in kernels}) == 2  # really two worker processes
    assert events[-1]["jobs"] == 2 and events[-1]["compiled"] == len(names)

    warm = child(f"""
from engine import warmup as wu
ks = [k for k in wu.kernels() if wu.label(k) in {names!r}]
print(len(wu.missing(ks)))
for k in ks:
    for dt in wu.DTYPES:
        wu._compile(k, dt)
print(sum(sum(k.fn.stats.cache_misses.values()) for k in ks),
      sum(sum(k.fn.stats.cache_hits.values()) for k in ks))
""", cache)
    assert warm.returncode == 0, warm.stderr[-3000:]
    assert warm.stdout.split() == ["0", "0", str(2 * len(names))]


@pytest.mark.parametrize("jobs, where", [(1, "failed to compile: "),
                                         (2, "failed to compile (in a worker process): ")])
def test_a_kernel_that_fails_is_named(tmp_path, jobs, where):
    (tmp_path / "zz_broken_kernels.py").write_text(BROKEN)
    res = child(f"""
import zz_broken_kernels
from engine import warmup as wu
names = [wu.label(k) for k in wu.kernels()[:3]] + ["zz_test.broken_bwd"]
try:
    wu.warmup(out=None, jobs={jobs}, names=names, load=False)
except wu.WarmupError as err:
    print("MESSAGE", err)
    print("DETAILS", "no_such_method" in err.details)
""", tmp_path / "cache", extra_path=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    message, details = res.stdout.strip().splitlines()[-2:]
    assert message == ("MESSAGE kernel zz_test.broken_bwd " + where +
                       "TypingError: Unknown attribute 'no_such_method' of type "
                       "array(float32, 1d, C)")
    assert details == "DETAILS True"


def test_the_command(tmp_path):
    code = "from engine.warmup import main; raise SystemExit(main(['--jobs', '0']))"
    bad = subprocess.run([sys.executable, "-c", code], cwd=ROOT, text=True,
                         capture_output=True, timeout=120)
    assert bad.returncode == 2 and "--jobs must be 1 or more" in bad.stderr
    # The suite's own cache (what `make test` warms first): compiles only what is missing.
    res = subprocess.run([sys.executable, "-m", "engine.warmup"], cwd=ROOT, text=True,
                         capture_output=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.splitlines()[-1].startswith("Numba kernels ready in")


# ----------------------------------------------------------------------------- the app
FAKE_WARMUP = """
import json, sys, time
total = int(sys.argv[1])
for n in range(1, total + 1):
    print(json.dumps({"event": "kernel", "n": n, "total": total, "kernel": f"fake.k{n}",
                      "cached": False, "seconds": 0.1, "elapsed": 0.1 * n, "pid": 1}),
          flush=True)
    time.sleep(float(sys.argv[2]))
if sys.argv[3:]:
    print(sys.argv[3], file=sys.stderr)
    sys.exit(1)
print(json.dumps({"event": "done"}))
"""


@pytest.fixture
def cold_app(qtbot, monkeypatch):
    """``gui.app.warm_up_kernels`` with a cold cache and a fake warm-up child process."""
    pytest.importorskip("PySide6")
    from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog

    from gui import app

    monkeypatch.setattr(wu, "missing", lambda ks=None: wu.kernels()[:3])
    seen: list[tuple[int, str]] = []
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda parent, title, text: warnings.append(text))

    def look() -> QProgressDialog | None:
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QProgressDialog) and w.isVisible():
                seen.append((w.value(), w.labelText()))
                return w
        return None

    def run(*args: str, during=None) -> bool:
        monkeypatch.setattr(app, "WARMUP_ARGS", ("-c", FAKE_WARMUP, *args))
        from PySide6.QtCore import QTimer

        timer = QTimer(interval=50)
        timer.timeout.connect(lambda: (w := look()) and during and during(w))
        timer.start()
        try:
            return app.warm_up_kernels()
        finally:
            timer.stop()

    return types.SimpleNamespace(run=run, seen=seen, warnings=warnings)


def test_app_shows_progress_per_kernel_then_goes_on(cold_app):
    assert cold_app.run("3", "0.15") is True
    assert cold_app.seen, "the progress dialog was shown"
    values = [v for v, _ in cold_app.seen]
    assert values == sorted(values)
    assert any("fake.k2" in text for _, text in cold_app.seen)
    assert all("Preparing the compute kernels" in text for _, text in cold_app.seen)
    assert cold_app.warnings == []


def test_app_skip_stops_the_warmup_and_goes_on(cold_app):
    from PySide6.QtWidgets import QPushButton

    def skip(dialog) -> None:
        assert dialog.findChild(QPushButton).text() == "Skip"
        dialog.findChild(QPushButton).click()

    assert cold_app.run("100", "0.2", during=skip) is True
    assert cold_app.warnings == []


def test_app_reports_a_failed_warmup_and_goes_on(cold_app):
    assert cold_app.run("2", "0.05", "warm-up failed: kernel x.y failed to compile") is True
    assert len(cold_app.warnings) == 1
    assert "could not be prepared" in cold_app.warnings[0]
    assert cold_app.warnings[0].endswith("warm-up failed: kernel x.y failed to compile")


def test_app_with_a_warm_cache_shows_nothing(cold_app, monkeypatch):
    monkeypatch.setattr(wu, "missing", lambda ks=None: [])
    assert cold_app.run("3", "0.1") is True
    assert cold_app.seen == []


LAUNCH = """
import sys
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QProgressDialog
QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, {settings!r})
app = QApplication(sys.argv[:1])
import engine.warmup as wu
from gui import app as gui_app
wu.missing = lambda ks=None: wu.kernels()[:3]
gui_app.WARMUP_ARGS = ("-c", {fake!r}, "3", "0.2")
gui_app.has_viewer = lambda: {viewer!r}  # offscreen here; pretend a person is watching
seen = []
def watch():
    for w in app.topLevelWidgets():
        if isinstance(w, QProgressDialog) and w.isVisible() and "dialog" not in seen:
            seen.append("dialog")
            if {quit_early!r}:
                QApplication.exit(0)
        if w.isVisible() and hasattr(w, "session"):
            seen.append("window")
            w.ask_unsaved = False
            w.close()
            app.quit()
timer = QTimer(interval=50)
timer.timeout.connect(watch)
timer.start()
code = gui_app.launch(preset="one_layer", lang="en")
print("RESULT", code, seen)
"""


@pytest.mark.parametrize("viewer, quit_early, expected", [
    (True, False, "RESULT 0 ['dialog', 'window']"),
    (True, True, "RESULT 0 ['dialog']"),
    (False, False, "RESULT 0 ['window']"),
])
def test_launch_with_a_cold_cache_shows_progress_before_the_window(tmp_path, viewer,
                                                                   quit_early, expected):
    """The dialog comes first, then the window; an application told to quit meanwhile
    opens no window; offscreen (nobody to see it, e.g. the lab's own tests, whose timers
    expect the window) there is no dialog.  (A child process: a QApplication that quit
    cannot host more tests.)"""
    pytest.importorskip("PySide6")
    code = LAUNCH.format(settings=str(tmp_path), fake=FAKE_WARMUP, quit_early=quit_early,
                         viewer=viewer)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert expected in res.stdout, res.stdout + res.stderr[-2000:]


OP_TABLE_AFTER_WARMUP = """
from engine import warmup as wu
wu.warmup(out=None)
before = {wu.label(k): len(k.fn.signatures) for k in wu.kernels()}
import engine
from tests.engine._support.op_cases import CASES, make_inputs
for case in CASES:
    for dtype in ("float32", "float64"):
        xs = [engine.tensor(a, requires_grad=arg.grad and a.dtype.kind == "f")
              for a, arg in zip(make_inputs(case, dtype), case.args)]
        out = case.fn(engine, *xs)
        if getattr(out, "requires_grad", False):
            out.sum().backward()
from gui.model.config import PRESETS, preset_config
from gui.model.session import Session
for name in PRESETS:
    session = Session(preset_config(name))
    session.load_preset(name)
    session.forward()
    session.run_to_end()
    session.train(2)
import engine.nn.functional as F
for dt in (engine.float32, engine.float64):  # compiled plans, small (loops) and BLAS-sized
    for rows, act, opt_cls in ((40, engine.relu, engine.optim.SGD),
                               (2, engine.tanh, engine.optim.Adam)):
        x, y = engine.randn(rows, 30, dtype=dt), engine.rand(rows, 5, dtype=dt)
        ps = [engine.randn(*s, dtype=dt, requires_grad=True) for s in ((64, 30), (64,),
                                                                        (5, 64), (5,))]
        for loss in (F.mse_loss, F.binary_cross_entropy_with_logits):
            plan = engine.autograd.Plan(
                lambda: loss(F.linear(act(F.linear(x, ps[0], ps[1])), ps[2], ps[3]), y),
                opt_cls(ps, lr=0.01))
            for _ in range(3):
                plan()
            assert plan.compiled, plan.reason
for k in wu.kernels():
    for sig in k.fn.signatures[before[wu.label(k)]:]:
        print("LAZY", wu.label(k), sig)
print("DONE", len(CASES))
"""


def test_after_the_warmup_the_ops_and_the_lab_compile_nothing(tmp_path):
    """Every signature the ops really call a kernel with is warmed up: running the whole op
    table (both dtypes, forward and backward), the lab's presets and compiled plans
    compiles nothing more, so nothing the user does waits for Numba once the warm-up is
    done."""
    res = subprocess.run([sys.executable, "-c", OP_TABLE_AFTER_WARMUP], cwd=ROOT, text=True,
                         capture_output=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "DONE" in res.stdout
    assert [line for line in res.stdout.splitlines() if line.startswith("LAZY")] == []
