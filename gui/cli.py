"""The ``jitgrad`` command line: open the lab, run the demos, check scripts, warm up the kernels.

Nothing heavy is imported at module level: Qt loads only when a window is opened, the engine
only when a demo or the warm-up runs, and torch never.

>>> from gui.cli import main
>>> main(["demo", "list"])   # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import runpy
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from gui import compat, i18n

PROG = "jitgrad"
VERSION = "0.1.0"
DEMOS_DIR = Path(__file__).resolve().parent.parent / "resources" / "demos"
# The order a learner should read them in; any other script in the folder is listed after.
DEMO_ORDER = ("tutorial", "one_layer", "retain_graph", "accumulation", "no_grad_detach",
              "dynamic_graph", "training")

EXAMPLES = """\
examples:
  jitgrad                                   open the lab window
  jitgrad --lang zh_CN --preset accumulation   open it in Chinese on the accumulation example
  jitgrad --screenshot shot.png --steps 3   save a picture after 3 backward steps, then quit
  jitgrad demo list                         list the demo scripts
  jitgrad demo tutorial --lang zh           run the tutorial walkthrough in Chinese
  jitgrad demo training --open              open the training demo in the lab
  jitgrad compat lessons/                   do my PyTorch scripts run unchanged on JitGrad?
  jitgrad warmup                            compile the Numba kernels ahead of time
  jitgrad info                              versions, and which BLAS the products use
"""


class UsageError(Exception):
    """A bad command line; the message is printed on one line and the exit code is 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors become ``UsageError`` instead of usage text plus exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _version() -> str:
    try:
        return version("jitgrad")
    except Exception:  # not installed: running from a source checkout
        return VERSION


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jitgrad`` command.

    >>> build_parser().parse_args(["demo", "tutorial", "--lang", "zh"]).name
    'tutorial'
    """
    parser = _Parser(
        prog=PROG,
        description="JitGrad: a Numba-compiled autograd engine with a torch-like API, and a "
                    "desktop lab that steps through backward() node by node. Without a "
                    "command, opens the lab.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    app = parser.add_argument_group("opening the lab (no command)")
    app.add_argument("--screenshot", metavar="PATH",
                     help="render the window to a PNG file and exit (works without a display)")
    app.add_argument("--preset", metavar="NAME", help="network preset to load at start")
    app.add_argument("--steps", metavar="K", type=int, default=0,
                     help="backward steps to run before the screenshot (default 0)")
    app.add_argument("--lang", dest="app_lang", metavar="LANG",
                     help="interface language: en or zh_CN")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser(
        "demo", help="list the demo scripts, run one in the terminal, or open it in the lab",
        description="Run a demo script in the terminal (English then Chinese by default).",
        epilog="examples:\n  jitgrad demo list\n  jitgrad demo accumulation --lang en\n"
               "  jitgrad demo dynamic_graph --open",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("name", nargs="?", default="list", metavar="NAME",
                      help="a demo name, or 'list' (the default)")
    demo.add_argument("--lang", choices=("en", "zh"),
                      help="print only English or only Chinese (default: both)")
    demo.add_argument("--open", action="store_true",
                      help="open the script in the lab instead of the terminal")

    check = sub.add_parser(
        "compat", help="run PyTorch scripts on torch and on JitGrad and compare what they print",
        description="Run each script once on torch and once on JitGrad with only its import\n"
                    "statements rewritten (import torch -> import engine as torch), pair the\n"
                    "numbers the two runs print, and report which scripts run unchanged and\n"
                    "match torch. Exit code 0 when all of them do, 1 otherwise.",
        epilog="examples:\n  jitgrad compat lesson1.py lesson2.py\n"
               "  jitgrad compat course/ --lang zh\n  jitgrad compat course/ --markdown\n"
               "  jitgrad compat course/ --json > compat.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("paths", nargs="+", metavar="PATH",
                       help="a script, or a folder searched for *.py")
    check.add_argument("--timeout", type=float, default=compat.TIMEOUT, metavar="S",
                       help=f"seconds each run may take (default {compat.TIMEOUT:g})")
    check.add_argument("--rtol", type=float, default=compat.RTOL,
                       help=f"relative tolerance (default {compat.RTOL:g})")
    check.add_argument("--atol", type=float, default=compat.ATOL,
                       help=f"absolute tolerance for values near 0 (default {compat.ATOL:g})")
    check.add_argument("--seed", type=int, default=compat.SEED,
                       help=f"seed both runs get before the script starts (default {compat.SEED})")
    out = check.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON for tools")
    out.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    check.add_argument("--lang", choices=("en", "zh"), default="en",
                       help="language of the table: en (default) or zh (简体中文)")

    # `python -m engine.warmup` owns the options: they reach it unparsed (see `warmup`), so
    # `jitgrad --help` stays fast (no engine, no Numba) and the two never disagree.
    sub.add_parser("warmup", help="compile every Numba kernel now (float32 and float64)",
                   add_help=False)
    sub.add_parser("info", help="print the versions and the BLAS the matrix products use",
                   description="Print jitgrad's, Python's, numpy's and numba's versions, and "
                               "the BLAS behind the matrix products (chosen with JITGRAD_BLAS="
                               "auto|mkl|numpy), its library and its threads.")
    return parser


# ----------------------------------------------------------------------------- demos
def demo_names() -> list[str]:
    """The demo scripts in ``resources/demos``, in reading order.

    >>> demo_names()[:2]
    ['tutorial', 'one_layer']
    """
    found = {p.stem for p in DEMOS_DIR.glob("*.py") if not p.name.startswith("_")}
    ordered = [n for n in DEMO_ORDER if n in found]
    return ordered + sorted(found - set(ordered))


def demo_path(name: str) -> Path:
    """The script for demo ``name``; ``UsageError`` (with a suggestion) if there is none.

    >>> demo_path("tutorial").name
    'tutorial.py'
    """
    names = demo_names()
    if name.endswith(".py"):
        name = name[:-3]
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise UsageError(f"unknown demo '{name}' ({hint}see `jitgrad demo list`)")
    return DEMOS_DIR / f"{name}.py"


def demo_summary(path: Path) -> tuple[str, str]:
    """The English and Chinese one-line summaries: the first two docstring lines.

    >>> demo_summary(demo_path("accumulation"))[0]   # doctest: +ELLIPSIS
    'The vector-Jacobian product example: ...'
    """
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    lines = [line.strip() for line in doc.splitlines()] + ["", ""]
    return lines[0], lines[1]


def list_demos(lang: str | None = None) -> int:
    """Print every demo with its summary (``lang``: ``'en'``, ``'zh'`` or both when None).

    >>> list_demos("en")   # doctest: +SKIP
      tutorial        The whole autograd tutorial in the terminal: ...
    """
    names = demo_names()
    width = max(map(len, names), default=0)
    for name in names:
        en, zh = demo_summary(DEMOS_DIR / f"{name}.py")
        if lang == "zh":
            print(f"  {name:<{width}}  {zh or en}")
        elif lang == "en":
            print(f"  {name:<{width}}  {en}")
        else:
            print(f"  {name:<{width}}  {en}")
            if zh:
                print(f"  {'':<{width}}  {zh}")
    print("\nRun one with `jitgrad demo NAME [--lang en|zh]`, or open it in the lab with "
          "`jitgrad demo NAME --open`.")
    return 0


def run_demo(name: str, lang: str | None = None) -> int:
    """Run a demo in this process, as ``python resources/demos/NAME.py [--lang L]`` would.

    >>> run_demo("accumulation", "en")   # doctest: +SKIP
    """
    path = demo_path(name)
    _compile_missing_kernels()
    argv = [str(path)] + (["--lang", lang] if lang else [])
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = argv
    sys.path.insert(0, str(path.parent))
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as stop:  # a demo may exit on its own
        if isinstance(stop.code, str):
            print(f"{PROG}: demo {name}: {stop.code}", file=sys.stderr)
            return 1
        return stop.code or 0
    except BrokenPipeError:  # e.g. `jitgrad demo tutorial | head`: main() handles it
        raise
    except Exception:
        traceback.print_exc()
        print(f"{PROG}: demo '{name}' failed (traceback above)", file=sys.stderr)
        return 1
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
    return 0


def _warmup_module() -> ModuleType:
    """``engine.warmup``, imported only by the commands that compile kernels."""
    # late: the engine loads Numba, and `jitgrad --help` must stay fast
    import engine.warmup  # noqa: PLC0415

    return engine.warmup


def _compile_missing_kernels() -> None:
    """On a cold kernel cache, compile first with progress on stderr, so the demo does not
    stop for Numba in the middle of its output (stdout stays the demo's own)."""
    wu = _warmup_module()
    if wu.missing():
        print("Compiling the Numba kernels first (once)...", file=sys.stderr, flush=True)
        wu.warmup(out=sys.stderr, load=False)


# ----------------------------------------------------------------------------- the lab
class AppUnavailableError(Exception):
    """The lab cannot open here; the message says why and what to do instead."""


def _app() -> object:
    """Import ``gui.app`` (and so Qt) only when a window is really wanted."""
    try:
        from gui import app  # noqa: PLC0415 - Qt loads only when a window is really wanted
    except ImportError as err:
        raise AppUnavailableError(
            f"the desktop lab is not available ({err}); install it with "
            "`pip install -e '.[app]'`, or use the terminal demos: `jitgrad demo list`") from err
    return app


def _app_lang(lang: str | None) -> str | None:
    if lang is None:
        return None
    norm = lang.replace("-", "_")
    if norm.lower() in ("zh", "zh_cn", "cn"):
        return "zh_CN"
    if norm.lower() in ("en", "en_us", "en_gb"):
        return "en"
    raise UsageError(f"unknown interface language '{lang}' (use en or zh_CN)")


def open_app(*, preset: str | None = None, lang: str | None = None,
             screenshot: str | None = None, steps: int = 0, script: str | None = None) -> int:
    """Open the lab window via ``gui.app.launch``; screenshots also work without a display.

    >>> open_app(screenshot="shot.png", preset="accumulation", steps=3)   # doctest: +SKIP
    0
    """
    app = _app()
    # Demo scripts import their helper (_demo) from their own folder, as `python demo.py`
    # would allow; keep that folder importable for File > Open demo and --open.
    if str(DEMOS_DIR) not in sys.path:
        sys.path.insert(0, str(DEMOS_DIR))
    if screenshot is None and not app.has_display():
        raise AppUnavailableError("no display available to open the window; "
                             "try the terminal demos instead: `jitgrad demo list`")
    if screenshot is not None and not app.has_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return int(app.launch(preset=preset, lang=lang, screenshot=screenshot, steps=steps,
                          script=script) or 0)


# ----------------------------------------------------------------------------- warm-up
def warmup(argv: Sequence[str] = ()) -> int:
    """``python -m engine.warmup`` under the name ``jitgrad warmup``, with its options.

    >>> warmup(["--jobs", "2"])   # doctest: +SKIP
    Compiling the Numba kernels (cached on disk: slow once, quick afterwards)...
    compiling 55 kernels (float32 and float64) in 2 processes...
    [ 1/55] accumulate.accumulate_  0.36 s  elapsed   0.7 s
    """
    wu = _warmup_module()
    try:
        return wu.main(list(argv), prog=f"{PROG} warmup", parser_class=_Parser,
                       header="Compiling the Numba kernels (cached on disk: slow once, "
                              "quick afterwards)...")
    except (UsageError, SystemExit):  # bad options, --help: the caller reports them
        raise
    except Exception as err:  # report on one line; the engine's own tests have the details
        print(f"{PROG}: warm-up failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1


# ----------------------------------------------------------------------------- compat
def run_compat(args: argparse.Namespace) -> int:
    """``jitgrad compat``: print the table (or JSON); 0 when every script matches torch.

    >>> run_compat(build_parser().parse_args(["compat", "lessons/"]))   # doctest: +SKIP
    """
    if args.timeout <= 0 or args.rtol < 0 or args.atol < 0:
        raise UsageError("--timeout must be positive, --rtol and --atol 0 or more")
    try:
        scripts = compat.find_scripts(args.paths)
    except FileNotFoundError as err:
        raise UsageError(str(err)) from err
    if not scripts:
        raise UsageError(f"no Python scripts in {' '.join(args.paths)}")
    before = i18n.language()
    i18n.set_language("zh_CN" if args.lang == "zh" else "en")
    try:
        return _compat_table(args, scripts)
    finally:
        i18n.set_language(before)


def _compat_table(args: argparse.Namespace, scripts: list[Path]) -> int:
    with_torch = compat.torch_available()
    if not with_torch:
        print(f"{PROG}: torch is not installed; running on the engine only", file=sys.stderr)
    _compile_missing_kernels()

    def progress(i: int, n: int, path: Path) -> None:
        if sys.stderr.isatty():
            print(f"[{i}/{n}] {path}", file=sys.stderr, flush=True)

    reports = compat.check(scripts, rtol=args.rtol, atol=args.atol, timeout=args.timeout,
                           seed=args.seed, with_torch=with_torch, progress=progress)
    if args.json:
        print(compat.to_json(reports, rtol=args.rtol, atol=args.atol, seed=args.seed,
                             with_torch=with_torch))
    else:
        print(compat.render(reports, markdown=args.markdown, with_torch=with_torch))
    ok = all(r.matched for r in reports) if with_torch else all(r.engine.ok for r in reports)
    return 0 if ok else 1


# ----------------------------------------------------------------------------- info
def info() -> int:
    """Print what the engine runs on: versions, the BLAS backend, its library and threads."""
    import numba  # noqa: PLC0415 - `jitgrad --help` stays fast without Numba
    import numpy  # noqa: PLC0415

    try:
        from engine._base import blas  # noqa: PLC0415 - the engine loads only for this command
    except (RuntimeError, ValueError) as err:  # JITGRAD_BLAS=mkl without MKL, or a typo
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    rows = {"jitgrad": _version(), "Python": f"{sys.version.split()[0]} ({sys.executable})",
            "numpy": numpy.__version__, "numba": numba.__version__, **blas.describe()}
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")
    return 0


# ----------------------------------------------------------------------------- entry
def _dispatch(args: argparse.Namespace, extra: list[str]) -> int:
    app_options = args.screenshot is not None or args.preset is not None or args.steps
    if args.command is not None and (app_options or args.app_lang is not None):
        raise UsageError("--screenshot, --preset, --steps and --lang before the command "
                         "apply only when opening the lab; put --lang after `demo NAME`")
    if args.steps < 0:
        raise UsageError("--steps must be 0 or more")
    if args.command == "warmup":
        return warmup(extra)
    if extra:
        raise UsageError(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "compat":
        return run_compat(args)
    if args.command == "info":
        return info()
    if args.command == "demo":
        if args.name == "list":
            if args.open:
                raise UsageError("--open needs a demo name, e.g. `jitgrad demo tutorial --open`")
            return list_demos(args.lang)
        if args.open:
            path = demo_path(args.name)
            return open_app(lang=_app_lang(args.lang), script=str(path))
        return run_demo(args.name, args.lang)
    return open_app(preset=args.preset, lang=_app_lang(args.app_lang),
                    screenshot=args.screenshot, steps=args.steps)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jitgrad`` command; returns the exit code (0 ok, 1 failure, 2 bad usage).

    >>> main(["--version"])   # doctest: +SKIP
    jitgrad 0.1.0
    0
    """
    parser = build_parser()
    try:
        # Known args only: what follows `warmup` is engine.warmup's to parse.
        args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
        return _dispatch(args, extra)
    except SystemExit as stop:  # --help and --version
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except UsageError as err:
        msg = str(err)
        hint = "" if f"`{PROG} " in msg else f" (see `{PROG} --help`)"
        print(f"{PROG}: error: {msg}{hint}", file=sys.stderr)
        return 2
    except AppUnavailableError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`); stop quietly
        _silence_stdout()
        return 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null so Python's exit-time flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())
