"""``python -m benchmarks [--quick] [--markdown] [--only KEY,KEY] [--two-threads]``."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import importlib.util
import inspect
import io
import json
import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._harness import (
    Config,
    Row,
    Table,
    fmt_value,
    header_lines,
    numba_layer,
    set_threads,
)

MODULES = ("small_graphs", "mlp", "blas", "large", "bandwidth", "startup", "scaling")
MAIN_COLUMNS = ("case", "engine", "torch", "numpy", "ratio engine/torch", "target", "met",
                "note")


def collect(cfg: Config | None = None) -> list[tuple[str, Callable[[Config], Any]]]:
    cases: list[tuple[str, Callable[[Config], Any]]] = []
    for mod in MODULES:
        cases.extend(importlib.import_module(f"benchmarks.{mod}").CASES.items())
    if importlib.util.find_spec("benchmarks.bench_gui") is not None:
        cases.append(("gui", _gui_in_child))
    return cases


def _gui_in_child(cfg: Config) -> list[Row | Table]:
    """The GUI engineer's ``bench_gui``, run in a child process.

    Qt aborts the whole process when it finds no display, which no try/except can catch;
    a child keeps the main table safe.  Without a display the child gets Qt's offscreen
    platform (only the child's environment is changed).
    """
    env = dict(os.environ)
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    args = [sys.executable, "-m", "benchmarks", "--gui-child"] + (["--quick"] if cfg.quick
                                                                   else [])
    try:
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300,
                              check=False)
    except subprocess.TimeoutExpired:
        return [Row("gui benchmarks", note="skipped: over 300 s")]
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return [Row("gui benchmarks", note=f"skipped: {last}"[:160])]
    try:
        payload = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [Row("gui benchmarks", note="skipped: no result from the child")]
    out: list[Row | Table] = []
    for item in payload:
        if item.get("kind") == "table":
            out.append(Table(item["title"], item["columns"], item["rows"]))
        else:
            item.pop("kind", None)
            out.append(Row(**item))
    return out


def _gui_child(cfg: Config) -> int:
    """Run bench_gui in this (child) process and print its results as one JSON line.

    Its functions may return rows, or (like ``main()``) print a plain table: the printed
    text is captured and turned into a table.  A function that takes no settings has no
    short mode, so ``--quick`` skips it.
    """
    results: list[Row | Table] = []
    try:
        mod = importlib.import_module("benchmarks.bench_gui")
        if isinstance(getattr(mod, "CASES", None), dict):
            fns = list(mod.CASES.values())
        else:
            fns = [next(getattr(mod, n) for n in ("run", "main", "bench")
                         if callable(getattr(mod, n, None)))]
        for fn in fns:
            if cfg.quick and not _takes_cfg(fn):
                results.append(Row("gui benchmarks", note="skipped with --quick; run "
                                   "python benchmarks/bench_gui.py"))
                continue
            text = io.StringIO()
            with contextlib.redirect_stdout(text):
                res = _call(fn, cfg)
            results.extend(_as_results(res) if res is not None else _text_table(text.getvalue()))
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - e.g. no display, no Qt
        results = [Row("gui benchmarks", note=f"skipped: {type(exc).__name__}: {exc}"[:160])]
    payload = [dict(kind="table", title=r.title, columns=list(r.columns),
                    rows=[list(x) for x in r.rows]) if isinstance(r, Table)
               else dict(kind="row", **dataclasses.asdict(r)) for r in results]
    print(json.dumps(payload))
    return 0


def _takes_cfg(fn: Callable[..., Any]) -> bool:
    try:
        return bool(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False


def _call(fn: Callable[..., Any], cfg: Config) -> Any:
    return fn(cfg) if _takes_cfg(fn) else fn()


def _text_table(text: str) -> list[Table]:
    """A plain-text table (columns two or more spaces apart) as a Table."""
    lines = [ln for ln in text.splitlines() if ln.strip() and set(ln.strip()) != {"-"}]
    if not lines:
        return []
    cells = [re.split(r"\s{2,}", ln.strip()) for ln in lines]
    if len(cells) > 1 and all(len(c) == len(cells[0]) for c in cells):
        return [Table("GUI (benchmarks/bench_gui.py)", cells[0], cells[1:])]
    return [Table("GUI (benchmarks/bench_gui.py)", ("output",), [(ln,) for ln in lines])]


def _as_results(res: Any) -> list[Row | Table]:
    """Whatever a case returned, as rows and tables (foreign shapes become notes)."""
    if res is None:
        return []
    if isinstance(res, (Row, Table)):
        return [res]
    out: list[Row | Table] = []
    for item in res:
        if isinstance(item, (Row, Table)):
            out.append(item)
        elif isinstance(item, dict):
            known = {k: item[k] for k in ("case", "engine", "torch", "numpy", "unit", "target",
                                         "met", "note") if k in item}
            out.append(Row(**known) if "case" in known else Row(str(item)))
        else:
            out.append(Row(str(item)))
    return out


# ----------------------------------------------------------------------------- output
def _main_cells(row: Row) -> list[str]:
    if row.ratio_text is not None:
        ratio = row.ratio_text
    else:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
    met = "" if row.met is None else ("yes" if row.met else "NO")
    return [row.case, fmt_value(row.engine, row.unit), fmt_value(row.torch, row.unit),
            fmt_value(row.numpy, row.unit), ratio, row.target or "-", met, row.note]


def render(columns: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(columns) + " |",
                 "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(columns, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*columns), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (~30 s in total)")
    ap.add_argument("--markdown", action="store_true", help="print GitHub tables")
    ap.add_argument("--only", default="", help="comma-separated case keys (see --list)")
    ap.add_argument("--list", action="store_true", help="list the case keys and exit")
    ap.add_argument("--two-threads", action="store_true",
                    help="add the MLP cases at 2 threads (meaningful only on an idle host)")
    ap.add_argument("--gui-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    cfg = Config(quick=args.quick, markdown=args.markdown,
                 only=tuple(k for k in args.only.split(",") if k),
                 two_threads=args.two_threads)
    if args.gui_child:
        return _gui_child(cfg)
    cases = collect()
    if args.list:
        print("\n".join(k for k, _ in cases))
        return 0

    set_threads(1)
    head = header_lines()  # before the cases: a Numba prange launch changes torch's count
    start = time.perf_counter()
    rows: list[Row] = []
    tables: list[Table] = []
    for key, fn in cases:
        if cfg.only and key not in cfg.only:
            continue
        t0 = time.perf_counter()
        print(f"running {key} ...", file=sys.stderr, flush=True)
        try:
            results = _as_results(fn(cfg))
        except Exception as exc:  # noqa: BLE001 - one broken case must not lose the table
            traceback.print_exc(file=sys.stderr)
            results = [Row(key, note=f"error: {type(exc).__name__}: {exc}"[:200])]
        for r in results:
            (tables if isinstance(r, Table) else rows).append(r)
        print(f"  {key} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    total = time.perf_counter() - start

    mode = "quick" if cfg.quick else "full"
    head += [f"numba threading layer: {numba_layer()}; mode: {mode}, total {total:.0f} s; "
             "times are medians; ratio = engine / torch (lower is better)"]
    if cfg.markdown:
        print("\n".join(f"- {h}" for h in head))
    else:
        print("\n".join(head))
    if rows:
        print()
        print(render(MAIN_COLUMNS, [_main_cells(r) for r in rows], cfg.markdown))
    for table in tables:
        print()
        print(f"### {table.title}" if cfg.markdown else table.title)
        if cfg.markdown:
            print()
        print(render(table.columns, table.rows, cfg.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
