"""File ▸ Run script: scripts run in a worker thread; they may raise, hang or flood the log."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from gui.model.script_runner import MAX_LINE_CHARS, ScriptOutput


def run(win, qtbot, path, timeout=20_000):
    """Start a script from the window and wait until the window has taken its result."""
    assert win.run_script(str(path))
    assert win.act_stop.isEnabled() and not win.act_script.isEnabled()
    qtbot.waitUntil(lambda: not win.script_running(), timeout=timeout)
    assert not win.act_stop.isEnabled() and win.act_script.isEnabled()


GOOD = ("import engine as torch\ninp = torch.eye(3, requires_grad=True)\n"
        "out = (inp + 1).pow(2)\nprint('ok')\n")

# (script body, text the log must show): every way a script can fail.
FAILURES = [
    ("1 / 0\n", "ZeroDivisionError"),
    ("raise SystemExit(3)\n", "SystemExit: 3"),
    ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    ("class Odd(BaseException):\n    pass\nraise Odd('odd')\n", "Odd: odd"),
    ("def f():\n    return f()\nf()\n", "RecursionError"),
    ("def (:\n", "SyntaxError"),
    ("import engine as torch\ntorch.ones(2) @ torch.ones(3)\n", "Error"),
    ("import engine as torch\nx = torch.ones(2, requires_grad=True)\n(x * 2).sum().backward()\n"
     "y = x * 2\ny.sum().backward()\ny.sum().backward()\n", "RuntimeError"),
    ("import no_such_module_anywhere\n", "ModuleNotFoundError"),
    ("class E(Exception):\n    def __str__(self):\n        raise ValueError('no str')\n"
     "raise E()\n", "E"),
]


@pytest.mark.parametrize(("body", "shown"), FAILURES)
def test_scripts_that_raise_are_logged_and_the_app_keeps_running(make_window, qtbot, tmp_path,
                                                                  body, shown):
    win = make_window("one_layer")
    before = set(win.graph.nodes)
    bad = tmp_path / "bad.py"
    bad.write_text(body, encoding="utf-8")
    run(win, qtbot, bad)
    log = win.log.plain()
    assert "The script raised an exception" in log and shown in log
    assert "Traceback" in log
    assert win.banner.isVisible()
    assert win.session.mode == "network" and set(win.graph.nodes) == before
    win.act_run.trigger()  # the app still works
    assert win.session.tensor_grad("w") is not None


def test_unreadable_and_binary_scripts(make_window, qtbot, tmp_path):
    win = make_window("one_layer")
    binary = tmp_path / "bin.py"
    binary.write_bytes(b"\xff\xfe\x00garbage\x80")
    run(win, qtbot, binary)
    run(win, qtbot, tmp_path / "missing.py")
    assert win.log.plain().count("Cannot read") == 2
    assert win.session.mode == "network"


def test_good_script_graph_reaches_the_view(make_window, qtbot, tmp_path):
    win = make_window("one_layer")
    good = tmp_path / "good.py"
    good.write_text(GOOD, encoding="utf-8")
    run(win, qtbot, good)
    assert win.session.root_name == "out" and win.graph.nodes
    assert set(win.graph.nodes) == set(win.session.backward_graph.nodes)
    assert "ok" in win.log.plain()
    win.act_run.trigger()  # engine objects built in the worker work in the GUI thread
    np.testing.assert_allclose(win.session.tensor_grad("inp"), 2 * (np.eye(3) + 1))
    assert not win.editor.tables["w"].isEnabled()
    win.act_forward.trigger()  # Forward re-runs the script, again off the GUI thread
    assert win.script_running()
    qtbot.waitUntil(lambda: not win.script_running(), timeout=20_000)
    assert win.session.mode == "script" and win.graph.nodes
    win.act_script.setEnabled(True)
    win.session.load_preset("mlp")  # a preset leaves script mode
    assert win.editor.tables["w1"].isEnabled()


LOOPS = {
    "busy": "n = 0\nwhile True:\n    n += 1\n",
    "engine": "import engine as torch\nx = torch.ones(3, requires_grad=True)\n"
              "while True:\n    y = (x * 2).sum()\n",
    "printing": "while True:\n    print('again and again')\n",
}


@pytest.mark.parametrize("kind", sorted(LOOPS))
def test_stop_interrupts_an_infinite_loop(make_window, qtbot, tmp_path, kind):
    win = make_window("one_layer")
    before = set(win.graph.nodes)
    loop = tmp_path / "loop.py"
    loop.write_text(LOOPS[kind], encoding="utf-8")
    assert win.run_script(str(loop))
    qtbot.wait(300)
    assert win.script_running()
    t0 = time.monotonic()
    win.act_stop.trigger()
    qtbot.waitUntil(lambda: not win.script_running(), timeout=2_000)
    stopped_in = time.monotonic() - t0
    assert stopped_in < 2.0
    assert "stopped after" in win.log.plain()
    assert set(win.graph.nodes) == before and win.act_script.isEnabled()
    good = tmp_path / "good.py"
    good.write_text(GOOD, encoding="utf-8")
    t1 = time.monotonic()
    run(win, qtbot, good)  # and the next script runs normally
    print(f"stopped in {stopped_in:.3f} s; next script {time.monotonic() - t1:.3f} s")
    assert win.session.root_name == "out"


@pytest.mark.parametrize("body", [
    "import time\ntime.sleep(600)\n",
    "try:\n    while True:\n        pass\nexcept KeyboardInterrupt:\n    print('caught')\n"
    "while True:\n    pass\n",
])
def test_a_script_that_resists_stop(make_window, qtbot, tmp_path, body):
    """Swallowing the first KeyboardInterrupt gets another; a script blocked in one C call
    is abandoned after a grace time.  Either way the window is free again within 4 s."""
    win = make_window("one_layer")
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(body, encoding="utf-8")
    assert win.run_script(str(stubborn))
    qtbot.wait(200)
    win.act_stop.trigger()
    qtbot.waitUntil(lambda: not win.script_running(), timeout=4_000)
    log = win.log.plain()
    assert "abandoned" in log or "stopped after" in log
    win.act_run.trigger()
    assert win.session.tensor_grad("w") is not None


def test_megabytes_of_output_keep_the_event_loop_responsive(make_window, qtbot, tmp_path):
    """5 MB of prints: the log shows the tail, and a 20 ms heartbeat never stalls 1 s."""
    win = make_window("one_layer")
    flood = tmp_path / "flood.py"
    flood.write_text("line = 'x' * 99\nfor i in range(50_000):\n    print(i, line)\n"
                     "print('the end')\nprint('y' * 100_000)\n", encoding="utf-8")
    beats: list[float] = []
    heart = QTimer()
    heart.setInterval(20)
    heart.timeout.connect(lambda: beats.append(time.monotonic()))
    heart.start()
    t0 = time.monotonic()
    run(win, qtbot, flood, timeout=60_000)
    heart.stop()
    elapsed = time.monotonic() - t0
    gaps = np.diff([t0, *beats, time.monotonic()])
    print(f"5 MB of output in {elapsed:.2f} s; largest heartbeat gap {gaps.max() * 1e3:.0f} ms")
    assert gaps.max() < 1.0, (gaps.max(), elapsed)
    log = win.log.plain()
    assert "the end" in log and "earlier output lines not shown" in log
    assert win.log.text.document().blockCount() <= 5000
    assert max(len(ln) for ln in log.splitlines()) < MAX_LINE_CHARS + 100


def test_script_output_keeps_the_last_lines():
    out = ScriptOutput(max_lines=10)
    for i in range(100):
        out.write(f"{i}\n")
    out.write("x" * 10_000)
    out.close_line()
    lines, dropped = out.drain()
    assert lines[:-1] == [str(i) for i in range(91, 100)]
    assert len(lines[-1]) <= MAX_LINE_CHARS + 2 and dropped == 91
    assert out.drain() == ([], 0)


def test_closing_the_window_stops_a_running_script(make_window, qtbot, tmp_path):
    win = make_window("one_layer")
    interval = sys.getswitchinterval()
    loop = tmp_path / "loop.py"
    loop.write_text(LOOPS["busy"], encoding="utf-8")
    assert win.run_script(str(loop))
    run = win.script_run
    qtbot.wait(100)
    win.close()
    assert run.wait(2.0) and run.result.stopped
    assert sys.getswitchinterval() == interval and not win.script_running()
