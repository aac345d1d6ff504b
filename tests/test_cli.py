"""The ``jitgrad`` command line: each command, each error exit, and the hand-off to the lab.

The lab itself is replaced by a fake ``gui.app`` module here, so no window ever opens; the
one test that uses the real ``gui.app`` renders offscreen to a file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from gui import cli

ROOT = Path(__file__).resolve().parents[1]
DEMOS = ["tutorial", "one_layer", "retain_graph", "accumulation", "no_grad_detach",
         "dynamic_graph", "training"]


class FakeApp(types.ModuleType):
    """Stands in for ``gui.app``: records ``launch`` calls instead of opening a window."""

    def __init__(self, display: bool = True, code: int = 0) -> None:
        super().__init__("gui.app")
        self.display = display
        self.code = code
        self.calls: list[dict] = []

    def has_display(self) -> bool:
        return self.display

    def launch(self, **kwargs: object) -> int:
        self.calls.append(kwargs)
        return self.code


@pytest.fixture
def fake_app(monkeypatch: pytest.MonkeyPatch) -> FakeApp:
    app = FakeApp()
    monkeypatch.setitem(sys.modules, "gui.app", app)
    import gui

    monkeypatch.setattr(gui, "app", app, raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # open_app adds the demos folder
    return app


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("jitgrad")
    return lines[0]


# ----------------------------------------------------------------------------- basics
def test_version(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"jitgrad {cli._version()}"


def test_help_has_commands_and_examples(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for text in ("demo", "warmup", "--screenshot", "--preset", "--steps", "--lang",
                 "examples:", "jitgrad demo list", "jitgrad demo training --open"):
        assert text in out
    assert cli.main(["demo", "--help"]) == 0
    assert "--open" in capsys.readouterr().out


def test_import_loads_neither_qt_nor_torch_nor_engine() -> None:
    code = ("import sys, gui.cli, main; "
            "bad = [m for m in ('PySide6', 'torch', 'engine', 'numba', 'gui.app') "
            "if m in sys.modules]; print(bad)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_main_py_runs_the_cli() -> None:
    proc = subprocess.run([sys.executable, "main.py", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("jitgrad ")
    proc = subprocess.run([sys.executable, "main.py", "demo", "nope"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown demo 'nope'" in one_line_error(proc.stderr)


def test_closed_pipe_stops_quietly() -> None:
    """``jitgrad demo tutorial | head -1`` ends without a traceback."""
    proc = subprocess.Popen([sys.executable, "main.py", "demo", "tutorial"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, 141)
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- demos
@pytest.mark.parametrize("argv", [["demo", "list"], ["demo"]])
def test_demo_list(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and
              line.split() and line.split()[0] in DEMOS]
    assert listed == DEMOS  # every demo, in reading order
    assert "教程" in out and "tutorial" in out


def test_demo_list_one_language(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["demo", "list", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "单层网络" in out and "The tutorial's one-layer network" not in out
    assert cli.main(["demo", "list", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "The tutorial's one-layer network" in out and "单层网络" not in out


@pytest.mark.parametrize("lang,present,absent", [("en", "Second call", "再次调用"),
                                                 ("zh", "再次调用", "Calling backward again")])
def test_demo_runs_in_the_terminal(lang: str, present: str, absent: str,
                                   capsys: pytest.CaptureFixture) -> None:
    argv = sys.argv[:]
    assert cli.main(["demo", "accumulation", "--lang", lang]) == 0
    out = capsys.readouterr().out
    assert present in out and absent not in out
    assert "[8., 4., 4., 4., 4.]" in out
    assert sys.argv == argv  # restored after the run


def test_demo_compiles_missing_kernels_first_on_stderr(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture) -> None:
    from engine import warmup as wu

    runs = []
    monkeypatch.setattr(wu, "missing", lambda: ["a kernel"])
    monkeypatch.setattr(wu, "warmup", lambda out, load: runs.append((out, load)))
    assert cli.main(["demo", "retain_graph", "--lang", "en"]) == 0
    captured = capsys.readouterr()
    assert runs == [(sys.stderr, False)]
    assert "Compiling the Numba kernels first" in captured.err
    assert "Compiling" not in captured.out and "retain_graph=True" in captured.out


def test_demo_name_may_end_in_py(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["demo", "retain_graph.py", "--lang", "en"]) == 0
    assert "retain_graph=True" in capsys.readouterr().out


def test_failing_demo_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                              capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "broken.py").write_text("raise ValueError('boom')\n")
    monkeypatch.setattr(cli, "DEMOS_DIR", tmp_path)
    assert cli.main(["demo", "broken"]) == 1
    err = capsys.readouterr().err
    assert "ValueError: boom" in err and "demo 'broken' failed" in err


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("argv,reason", [
    (["demo", "tutorail"], "did you mean 'tutorial'"),
    (["demo", "nonexistent"], "unknown demo 'nonexistent'"),
    (["demo", "one_layer", "--lang", "fr"], "invalid choice: 'fr'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["--steps", "-1"], "--steps must be 0 or more"),
    (["--steps", "x"], "invalid int value"),
    (["--steps", "3", "demo", "list"], "apply only when opening the lab"),
    (["--lang", "zh_CN", "warmup"], "apply only when opening the lab"),
    (["demo", "list", "--open"], "--open needs a demo name"),
    (["--lang", "fr"], "unknown interface language 'fr'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_usage_exits_2_with_one_line(argv: list[str], reason: str, fake_app: FakeApp,
                                         capsys: pytest.CaptureFixture) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert reason in one_line_error(captured.err)
    assert captured.out == ""
    assert fake_app.calls == []


# ----------------------------------------------------------------------------- the lab
def test_no_command_opens_the_lab(fake_app: FakeApp) -> None:
    fake_app.code = 0
    assert cli.main([]) == 0
    assert fake_app.calls == [dict(preset=None, lang=None, screenshot=None, steps=0,
                                   script=None)]
    assert str(cli.DEMOS_DIR) in sys.path  # File > Open demo can import the demos' helper


def test_lab_exit_code_is_passed_on(fake_app: FakeApp) -> None:
    fake_app.code = 3
    assert cli.main(["--lang", "zh", "--preset", "accumulation"]) == 3
    assert fake_app.calls[0]["lang"] == "zh_CN"
    assert fake_app.calls[0]["preset"] == "accumulation"


def test_no_display_points_to_the_demos(fake_app: FakeApp,
                                        capsys: pytest.CaptureFixture) -> None:
    fake_app.display = False
    assert cli.main([]) == 1
    assert "jitgrad demo list" in one_line_error(capsys.readouterr().err)
    assert fake_app.calls == []


def test_screenshot_passes_through_even_without_display(fake_app: FakeApp,
                                                        tmp_path: Path) -> None:
    fake_app.display = False
    shot = str(tmp_path / "shot.png")
    argv = ["--screenshot", shot, "--preset", "accumulation", "--steps", "3", "--lang", "zh_CN"]
    assert cli.main(argv) == 0
    assert fake_app.calls == [dict(preset="accumulation", lang="zh_CN", screenshot=shot, steps=3,
                                   script=None)]
    assert os.environ.get("QT_QPA_PLATFORM") == "offscreen"


def test_demo_open_launches_the_script(fake_app: FakeApp) -> None:
    assert cli.main(["demo", "dynamic_graph", "--open"]) == 0
    (call,) = fake_app.calls
    assert Path(call["script"]) == cli.DEMOS_DIR / "dynamic_graph.py"
    assert call["lang"] is None
    assert cli.main(["demo", "training", "--open", "--lang", "zh"]) == 0
    assert fake_app.calls[1]["lang"] == "zh_CN"


def test_demo_open_without_display(fake_app: FakeApp, capsys: pytest.CaptureFixture) -> None:
    fake_app.display = False
    assert cli.main(["demo", "tutorial", "--open"]) == 1
    assert "jitgrad demo list" in one_line_error(capsys.readouterr().err)


def test_missing_lab_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "gui.app", None)  # makes the import fail
    import gui

    monkeypatch.delattr(gui, "app", raising=False)
    assert cli.main([]) == 1
    assert "jitgrad demo list" in one_line_error(capsys.readouterr().err)


def test_real_screenshot_offscreen(tmp_path: Path) -> None:
    """The real lab renders to a PNG without a display (the only test using gui.app)."""
    pytest.importorskip("PySide6")
    try:
        import gui.app  # noqa: F401
    except ImportError as err:
        pytest.skip(f"gui.app is not available yet: {err}")
    shot = tmp_path / "app.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "main.py", "--screenshot", str(shot)], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- warm-up
def test_warmup_prints_progress(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["warmup"]) == 0
    out = capsys.readouterr().out
    assert "Compiling the Numba kernels" in out
    assert "Numba kernels ready" in out


def test_warmup_verbose_lists_every_kernel(capsys: pytest.CaptureFixture) -> None:
    from engine.warmup import kernels, label

    assert cli.main(["warmup", "--verbose"]) == 0
    out = capsys.readouterr().out
    total = len(kernels())
    assert f"[1/{total}]" in out.replace(" ", "") and f"[{total}/{total}]" in out
    for k in kernels():
        assert f" {label(k)} " in out


def test_warmup_quiet_prints_only_the_summary(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["warmup", "-q"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Numba kernels ready")


def test_warmup_json_is_one_object_per_line(capsys: pytest.CaptureFixture) -> None:
    import json

    assert cli.main(["warmup", "--json", "--jobs", "1"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kernels = [e for e in events if e["event"] == "kernel"]
    assert [e["n"] for e in kernels] == list(range(1, len(kernels) + 1))
    assert events[-1]["event"] == "done" and events[-1]["kernels"] == len(kernels)


def test_warmup_options_reach_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.warmup

    seen: list[dict] = []
    monkeypatch.setattr(engine.warmup, "warmup", lambda **kw: seen.append(kw) or 0.0)
    assert cli.main(["warmup", "-j", "3", "-v"]) == 0
    assert seen[0]["jobs"] == 3 and seen[0]["verbose"] and not seen[0]["quiet"]
    assert seen[0]["load"] is False  # a separate process: checking the cache is enough


@pytest.mark.parametrize("argv, message", [
    (["warmup", "--jobs", "0"], "--jobs must be 1 or more"),
    (["warmup", "-q", "-v"], "not allowed with"),
])
def test_warmup_bad_options(argv: list[str], message: str,
                            capsys: pytest.CaptureFixture) -> None:
    assert cli.main(argv) == 2
    assert message in one_line_error(capsys.readouterr().err)


def test_warmup_failure_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture) -> None:
    import engine.warmup

    def broken(**kwargs: object) -> float:
        raise engine.warmup.WarmupError("kernel elementwise.neg_bwd failed to compile: "
                                        "TypingError: no", "Traceback ...\nTypingError: no")

    monkeypatch.setattr(engine.warmup, "warmup", broken)
    assert cli.main(["warmup"]) == 1
    err = one_line_error(capsys.readouterr().err)
    assert "warm-up failed: kernel elementwise.neg_bwd failed to compile: TypingError" in err
    assert cli.main(["warmup", "--verbose"]) == 1  # the traceback comes too
    assert "Traceback ..." in capsys.readouterr().err


def test_warmup_unexpected_error_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    import engine.warmup

    def broken(**kwargs: object) -> float:
        raise TypeError("kernel signature mismatch")

    monkeypatch.setattr(engine.warmup, "warmup", broken)
    assert cli.main(["warmup"]) == 1
    assert "warm-up failed: TypeError" in one_line_error(capsys.readouterr().err)


def test_info_shows_versions_and_the_blas(capsys: pytest.CaptureFixture) -> None:
    import numba
    import numpy

    from engine._base import blas

    assert cli.main(["info"]) == 0
    rows = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert list(rows) == ["jitgrad", "Python", "numpy", "numba", "backend", "library",
                          "threads"]
    assert (rows["numpy"], rows["numba"]) == (numpy.__version__, numba.__version__)
    asked = os.environ.get("JITGRAD_BLAS", "auto")
    assert rows["backend"].startswith(f"{blas.backend()} (JITGRAD_BLAS={asked}")
    if blas.backend() == "mkl":
        assert rows["library"].startswith(str(blas.library_path()))
        assert rows["threads"] == "1 (MKL's sequential layer)"
    else:
        assert rows["library"].startswith("numpy's ")


@pytest.mark.parametrize("value,message", [
    ("mkl", "but libmkl_rt was not found (looked in: "),
    ("fast", "JITGRAD_BLAS must be one of auto, mkl, numpy, not 'fast'")])
def test_info_reports_a_bad_blas_choice_in_one_line(value: str, message: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from engine._base import blas

    monkeypatch.setenv("LD_LIBRARY_PATH", "")
    if value == "mkl" and blas.find_mkl():
        pytest.skip("MKL is installed here: nothing is missing")
    env = {**os.environ, "JITGRAD_BLAS": value, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "gui.cli", "info"], capture_output=True,
                          text=True, env=env, timeout=120, cwd=ROOT)
    assert proc.returncode == 1
    assert proc.stderr.startswith("jitgrad: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr
