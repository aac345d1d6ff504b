"""Lab speed: one backward step with redraw, and time until the window is up.

    python benchmarks/bench_gui.py          (offscreen if there is no display)

(a) median of 50 ``Step`` actions, each followed by the repaint it causes;
(b) median time from starting ``python -c "...launch()"`` until the event loop
    runs with the window shown, with a warm Numba cache (a first run warms it).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

STARTUP_CHILD = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
def up():
    print("UP", time.time(), flush=True)
    for w in app.topLevelWidgets():
        if w.isVisible():
            w.ask_unsaved = False
    app.quit()
QTimer.singleShot(0, up)
from gui.app import launch
launch(preset="one_layer")
"""


def bench_step(preset: str, n: int = 50) -> float:
    """Median milliseconds of one Step (session + graph + inspector + repaint)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.main_window import MainWindow
    from gui.model.session import Session

    s = Session()
    s.load_preset(preset)
    tmp = ROOT / "benchmarks" / ".bench-settings.ini"
    win = MainWindow(s, QSettings(str(tmp), QSettings.Format.IniFormat), restore=False)
    win.ask_unsaved = False
    win.resize(1600, 1000)
    win.show()
    app.processEvents()
    times = []
    while len(times) < n:
        if not s.pass_active:
            s.forward(quiet=True, code=False)
            app.processEvents()
        t0 = time.perf_counter()
        win.act_step.trigger()
        app.processEvents()  # runs the repaints the step scheduled
        times.append((time.perf_counter() - t0) * 1000)
    win.close()
    win.deleteLater()
    app.processEvents()
    tmp.unlink(missing_ok=True)
    return statistics.median(times)


def bench_startup(runs: int = 5) -> float:
    """Median seconds from process start until the window is shown."""
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run([sys.executable, "-m", "engine.warmup"], cwd=ROOT, env=env,
                   capture_output=True, check=False)
    out = []
    for _ in range(runs + 1):
        t0 = time.time()
        res = subprocess.run([sys.executable, "-c", STARTUP_CHILD], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
        up = [ln for ln in res.stdout.splitlines() if ln.startswith("UP")]
        if not up:
            raise RuntimeError(f"the window never came up:\n{res.stderr[-2000:]}")
        out.append(float(up[0].split()[1]) - t0)
    return statistics.median(out[1:])  # the first run may still fill OS caches


def main() -> None:
    rows = [(f"backward step + redraw ({p}), median of 50", f"{bench_step(p):.1f} ms", "16 ms")
            for p in ("one_layer", "mlp")]
    rows.append(("window up from fresh python -c, median of 5", f"{bench_startup():.2f} s",
                 "3 s"))
    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  {'result':>9}  {'target':>7}")
    print("-" * (w + 20))
    for name, val, target in rows:
        print(f"{name:<{w}}  {val:>9}  {target:>7}")


if __name__ == "__main__":
    main()
