"""``jitgrad compat``: does a PyTorch script run unchanged on JitGrad, and print the same numbers?

Each script runs twice in a child process, with the venv's Python, in the script's own folder:
once as written on torch, once on the engine with only its import statements rewritten
(``import torch`` becomes ``import engine as torch``; every other line is left as it is, so
``torch.x`` now means the engine's ``x``). Both runs are seeded the same way first
(``random``, numpy and the library's ``manual_seed``), so scripts that never seed become
repeatable; their random numbers agree with torch's wherever the engine draws from the same
stream. The numbers each run prints (ints, floats, exponents, nan, inf, the digits inside
tensor reprs) are paired in order and compared.

Tolerances, and why. The default ``rtol`` is 1e-4: float32 keeps about 7 significant digits,
and a training loop of a few thousand steps that sums in a different order drifts by about 1e-6
(the pytorch/tutorials polynomial fit ends 9.4e-7 apart after 2000 steps), so 1e-4 leaves two
orders of margin while any wrong formula, gradient or update rule is off by far more. Values
near 0 are compared on their absolute difference instead, with ``atol`` 1e-5 (the point where
``rtol * |value|`` drops below ``atol``, |value| < 0.1): a fitted coefficient whose true value
is 0 is float noise (1e-9 on one side, -7e-10 on the other) and has no meaningful relative
error. A number is also never blamed for the digits it did not print: ``0.0093`` and
``0.0094`` may be the same float32 rounded differently, so the difference that counts is what
is left after half a unit of each side's last printed digit.

torch's own spread. A float32 training loop is sensitive to the order in which its matrix
products sum: run torch twice, once as usual and once with ``MKL_CBWR=COMPATIBLE`` (MKL's
reproducible mode, which sums in another valid order), and the losses of the pytorch/tutorials
two-layer nets end 1.7e-2 apart after 500 steps, though nothing is wrong with either run. So
when the engine's numbers miss the tolerance, torch runs a third time that way, and the file
still matches when the engine is at most ``SPREAD_FACTOR`` (2) times further from torch than
torch is from itself (``torch vs torch`` in the table). The factor is there because both
differences are single samples of the same rounding noise: in those nets the engine (numpy's
OpenBLAS) lands 1.15-1.3 times as far from torch as torch's second order does. A wrong
formula, gradient or update is off by orders of magnitude more, from the first printed number.

Nothing here imports Qt, torch or the engine: the children do.

>>> rewrite_imports("import torch.nn.functional as F\\n")
'import engine.nn.functional as F\\n'
"""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tokenize
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gui.i18n import tr

RTOL = 1e-4
ATOL = 1e-5
TIMEOUT = 120.0
SEED = 0
PROJECT_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ATOL", "RTOL", "SEED", "TIMEOUT", "Comparison", "FileReport", "Printed", "Run",
           "check", "compare", "find_scripts", "printed_numbers", "render", "rewrite_imports",
           "run_script", "summary", "to_json"]


# ----------------------------------------------------------------------------- rewriting
def _is_torch(name: str | None) -> bool:
    return name == "torch" or (name or "").startswith("torch.")


def _engine_name(name: str) -> str:
    return "engine" + name[len("torch"):]


def _lines(source: str) -> list[str]:
    # Python's own line ends only (str.splitlines would also split at form feeds)
    return io.StringIO(source, newline="").readlines()


def _line_offsets(source: str) -> list[int]:
    starts, pos = [0], 0
    for line in _lines(source):
        pos += len(line)
        starts.append(pos)
    return starts


def _from_module_span(tokens: list[tokenize.TokenInfo], start: tuple[int, int],
                      ) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where the dotted module name after the ``from`` at ``start`` sits (ast does not say)."""
    i = next(k for k, t in enumerate(tokens) if t.start == start)  # the `from` keyword
    first = tokens[i + 1]
    k = i + 1
    while not (tokens[k].type == tokenize.NAME and tokens[k].string == "import"):
        k += 1
    last = max((t for t in tokens[i + 1:k] if t.type in (tokenize.NAME, tokenize.OP)),
               key=lambda t: t.end)
    return first.start, last.end


def _edits(source: str) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
    tree = ast.parse(source)
    lines = _lines(source)

    def at(line: int | None, byte_col: int | None) -> tuple[int, int]:
        # ast counts UTF-8 bytes within a line; tokenize and str slicing count characters
        text = lines[(line or 1) - 1].encode("utf-8")[:byte_col]
        return line or 1, len(text.decode("utf-8", errors="replace"))

    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
              if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_torch(node.module):
            begin, end = _from_module_span(tokens, at(node.lineno, node.col_offset))
            out.append((begin, end, _engine_name(node.module or "")))
        elif isinstance(node, ast.Import):
            loads = []
            for alias in node.names:
                if not _is_torch(alias.name):
                    continue
                if alias.asname:
                    text = f"{_engine_name(alias.name)} as {alias.asname}"
                else:
                    # `import torch.nn` binds `torch` and loads the submodule: do both,
                    # without binding the name `engine` in the user's namespace.
                    text = "engine as torch"
                    if alias.name != "torch":
                        loads.append(_engine_name(alias.name))
                out.append((at(alias.lineno, alias.col_offset),
                            at(alias.end_lineno, alias.end_col_offset), text))
            if loads:
                tail = "".join(f'; __import__("{name}")' for name in loads)
                end = at(node.end_lineno, node.end_col_offset)
                out.append((end, end, tail))
    return out


def rewrite_imports(source: str) -> str:
    """``source`` with its torch imports pointed at the engine, and nothing else changed.

    Only import statements change (found with ``ast``, placed with ``tokenize``), wherever
    they are, and never by adding a line: line numbers stay the user's. Strings and comments
    that mention ``import torch`` are untouched.

    >>> rewrite_imports("from torch import nn, optim  # import torch\\n")
    'from engine import nn, optim  # import torch\\n'
    >>> print(rewrite_imports("import torch, numpy as np\\nimport torch.utils.data\\n"), end="")
    import engine as torch, numpy as np
    import engine as torch; __import__("engine.utils.data")
    """
    edits = _edits(source)
    if not edits:
        return source
    starts = _line_offsets(source)
    out = source
    for (l0, c0), (l1, c1), text in sorted(edits, reverse=True):
        out = out[:starts[l0 - 1] + c0] + text + out[starts[l1 - 1] + c1:]
    return out


# ----------------------------------------------------------------------------- running
# Run in the child with `python -c`: seed, compile with the user's filename, execute as
# __main__, and write what happened to the report file (the traceback still goes to stderr).
_CHILD = r"""
import json, os, random, sys, traceback
path, source_path, report, lib, seed = sys.argv[1:6]
sys.argv = [path]
sys.path[0] = os.path.dirname(path)
random.seed(int(seed))
try:
    import numpy
    numpy.random.seed(int(seed))
except ImportError:
    pass
result = {"ok": True, "error": None, "line": None}
try:
    __import__(lib).manual_seed(int(seed))
    with open(source_path, encoding="utf-8") as f:
        code = compile(f.read(), path, "exec")
    namespace = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    exec(code, namespace)
except SystemExit as stop:
    if stop.code not in (None, 0):
        result = {"ok": False, "error": "SystemExit: " + str(stop.code), "line": None}
except BaseException as err:
    line = getattr(err, "lineno", None) if isinstance(err, SyntaxError) else None
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename == path:
            line = frame.lineno
    text = type(err).__name__ + (": " + str(err) if str(err) else "")
    result = {"ok": False, "error": text, "line": line}
    traceback.print_exc()
sys.stdout.flush()
with open(report, "w", encoding="utf-8") as f:
    json.dump(result, f)
sys.exit(0 if result["ok"] else 1)
"""


@dataclass
class Run:
    """One run of a script: did it finish, its first error and line, its stdout, its time.

    >>> Run(ok=False, error="NameError: name 'x' is not defined", line=3).where("a.py")
    "NameError: name 'x' is not defined (a.py:3)"
    """

    ok: bool
    error: str | None = None
    line: int | None = None
    stdout: str = ""
    seconds: float = 0.0
    timed_out: bool = False

    def where(self, name: str) -> str:
        """The error with ``(file:line)`` after it, or ``''`` when the run finished."""
        if self.ok:
            return ""
        return f"{self.error} ({name}:{self.line})" if self.line else str(self.error)


# torch's other valid summation order, for its own spread (see the module docstring)
SPREAD_ENV = {"MKL_CBWR": "COMPATIBLE"}
SPREAD_FACTOR = 2.0


def _env(lib: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED="0", **(extra or {}))
    if lib == "engine":  # the engine of this checkout, beside the gui package in use
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                          env.get("PYTHONPATH")]))
    return env


def run_script(path: Path, lib: str, *, timeout: float = TIMEOUT, seed: int = SEED,
               env: dict[str, str] | None = None) -> Run:
    """Run ``path`` on ``lib`` (``'torch'`` as written, ``'engine'`` with rewritten imports);
    ``env`` adds environment variables.

    >>> import pathlib, tempfile
    >>> script = pathlib.Path(tempfile.mkdtemp()) / "hello.py"
    >>> _ = script.write_text("import torch\\nprint(torch.ones(2).sum().item())\\n")
    >>> run = run_script(script, "engine")
    >>> run.ok, run.stdout
    (True, '2.0\\n')
    """
    path = Path(path).resolve()
    source = path.read_text(encoding="utf-8-sig")
    if lib == "engine":
        try:
            source = rewrite_imports(source)
        except SyntaxError:  # left as it is: the child reports the error and its line
            pass
    with tempfile.TemporaryDirectory(prefix="jitgrad-compat-") as tmp:
        src = Path(tmp) / "source.py"
        src.write_text(source, encoding="utf-8")
        report = Path(tmp) / "report.json"
        argv = [sys.executable, "-c", _CHILD, str(path), str(src), str(report), lib, str(seed)]
        start = time.monotonic()
        # a session of its own, so a timeout also stops what the script started
        proc = subprocess.Popen(argv, cwd=path.parent, env=_env(lib, env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, encoding="utf-8", errors="replace",
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            return Run(ok=False, error=tr("timed out after {s:g} s", s=timeout), stdout=out,
                       seconds=time.monotonic() - start, timed_out=True)
        seconds = time.monotonic() - start
        if not report.exists():  # killed, or Python itself failed to start
            return Run(ok=False, error=f"exit code {proc.returncode}", stdout=out,
                       seconds=seconds)
        result = json.loads(report.read_text(encoding="utf-8"))
    error = result["error"]
    if error:  # e.g. "cannot import name 'Variable' from 'engine.autograd' (/home/.../engine/...)"
        error = error.replace(str(PROJECT_ROOT) + os.sep, "")
    return Run(ok=result["ok"], error=error, line=result["line"], stdout=out, seconds=seconds)


# ----------------------------------------------------------------------------- numbers
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+")  # `<AddBackward0 object at 0x7f...>`
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf)"
                     r"(?![\w.])")


@dataclass(frozen=True)
class Printed:
    """A number as printed: its value, and one unit of its last printed digit (0 for ints).

    >>> Printed.parse("6.1403e-01")
    Printed(value=0.61403, unit=1e-05)
    """

    value: float
    unit: float

    @classmethod
    def parse(cls, text: str) -> Printed:
        """Read one token found by ``printed_numbers``."""
        mantissa, _, exponent = text.lower().partition("e")
        if "." not in mantissa:
            return cls(float(text), 0.0)
        decimals = len(mantissa.partition(".")[2])
        return cls(float(text), float(f"1e{int(exponent or 0) - decimals}"))


def printed_numbers(text: str) -> list[Printed]:
    """The numbers in printed text, in order; object addresses are not numbers.

    >>> [p.value for p in printed_numbers("99 tensor([1.5e-3, nan]) at 0x7f3a, float32")]
    [99.0, 0.0015, nan]
    """
    return [Printed.parse(m.group()) for m in _NUMBER.finditer(_ADDRESS.sub("", text))]


@dataclass(frozen=True)
class Comparison:
    """Two runs' numbers paired in order: how many, the worst difference, and whether it
    was measured relative to the values or (near 0) absolutely.

    >>> c = compare(printed_numbers("1.0 2.0"), printed_numbers("1.0 2.00001"))
    >>> c.count, c.kind, c.matches
    (2, 'relative', True)
    """

    count: int
    counts: tuple[int, int]
    largest: float
    kind: str  # "relative" or "absolute"
    score: float  # the largest difference in units of tolerance: <= 1 is a match

    @property
    def matches(self) -> bool:
        """Same count of numbers, and every pair within tolerance."""
        return self.counts[0] == self.counts[1] and self.score <= 1.0


def _difference(a: Printed, b: Printed, rtol: float, atol: float) -> tuple[float, str, float]:
    x, y = a.value, b.value
    if math.isnan(x) or math.isnan(y):
        return (0.0, "absolute", 0.0) if math.isnan(x) and math.isnan(y) else \
            (math.inf, "absolute", math.inf)
    if math.isinf(x) or math.isinf(y):
        return (0.0, "absolute", 0.0) if x == y else (math.inf, "absolute", math.inf)
    # each printed value is within half a unit of its last digit of what was computed
    excess = max(0.0, abs(x - y) - (a.unit + b.unit) / 2)
    scale = max(abs(x), abs(y))
    if rtol * scale >= atol:
        return excess / scale, "relative", excess / (rtol * scale)
    return excess, "absolute", excess / atol


def compare(torch_numbers: Sequence[Printed], engine_numbers: Sequence[Printed],
            rtol: float = RTOL, atol: float = ATOL) -> Comparison:
    """Pair the numbers in order and find the worst pair (see the module docstring).

    >>> compare(printed_numbers("-6.7e-10"), printed_numbers("1.2e-09")).kind
    'absolute'
    """
    worst = (0.0, "relative", 0.0)
    for a, b in zip(torch_numbers, engine_numbers, strict=False):
        diff = _difference(a, b, rtol, atol)
        if diff[2] > worst[2]:
            worst = diff
    return Comparison(count=min(len(torch_numbers), len(engine_numbers)),
                      counts=(len(torch_numbers), len(engine_numbers)),
                      largest=worst[0], kind=worst[1], score=worst[2])


# ----------------------------------------------------------------------------- a file
@dataclass
class FileReport:
    """What ``check`` found for one script. ``status`` is ``match``, ``numbers differ``,
    ``engine error``, ``torch error`` (the script fails on torch too), ``timeout``, or
    ``engine only`` (torch is not installed).

    >>> FileReport("a.py", Run(ok=True), Run(ok=True), status="match").matched
    True
    """

    file: str
    torch: Run | None
    engine: Run
    comparison: Comparison | None = None
    status: str = "engine error"
    notes: list[str] = field(default_factory=list)
    spread: Comparison | None = None  # torch against itself, when the tolerance was missed

    @property
    def matched(self) -> bool:
        """Ran unchanged on the engine and printed torch's numbers."""
        return self.status == "match"


def _within_spread(report: FileReport) -> bool:
    """The engine is at most ``SPREAD_FACTOR`` times as far from torch as torch is from
    itself (and both printed as many numbers)."""
    c, spread = report.comparison, report.spread
    return (c is not None and spread is not None and c.counts[0] == c.counts[1]
            and spread.counts == c.counts and c.score <= SPREAD_FACTOR * spread.score)


def _judge(report: FileReport, rtol: float, atol: float) -> None:
    torch_run, engine_run = report.torch, report.engine
    if engine_run.timed_out or (torch_run is not None and torch_run.timed_out):
        report.status = "timeout"
    elif torch_run is not None and not torch_run.ok:
        report.status = "torch error"
        same = engine_run.error == torch_run.error and engine_run.line == torch_run.line
        report.notes.append(tr("the engine raises the same error") if same else
                            tr("torch: {error}", error=torch_run.where(Path(report.file).name)))
    elif not engine_run.ok:
        report.status = "engine error"
    elif torch_run is None:
        report.status = "engine only"
    if torch_run is not None and not (torch_run.timed_out or engine_run.timed_out):
        report.comparison = compare(printed_numbers(torch_run.stdout),
                                    printed_numbers(engine_run.stdout), rtol, atol)
        if torch_run.ok and engine_run.ok:
            report.status = "match" if report.comparison.matches else "numbers differ"
        counts = report.comparison.counts
        if torch_run.ok and engine_run.ok and counts[0] != counts[1]:
            report.notes.append(tr("torch printed {a} numbers, the engine {b}",
                                   a=counts[0], b=counts[1]))


def find_scripts(paths: Iterable[str | Path]) -> list[Path]:
    """The scripts to check: files as given, folders searched for ``*.py`` (sorted).

    >>> find_scripts([])
    []
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*.py") if q.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(tr("no such file or folder: {path}", path=p))
    return out


def torch_available() -> bool:
    """Whether this Python can import torch (looked up, not imported).

    >>> isinstance(torch_available(), bool)
    True
    """
    return importlib.util.find_spec("torch") is not None


def check(paths: Iterable[str | Path], *, rtol: float = RTOL, atol: float = ATOL,
          timeout: float = TIMEOUT, seed: int = SEED, with_torch: bool | None = None,
          progress: Callable[[int, int, Path], None] | None = None) -> list[FileReport]:
    """Run every script on torch and on the engine and compare them (one ``FileReport``
    each). ``with_torch=None`` uses torch when it is installed; ``progress(i, n, path)`` is
    called before each script.

    >>> check([])
    []
    """
    scripts = find_scripts(paths)
    with_torch = torch_available() if with_torch is None else with_torch
    reports = []
    for i, script in enumerate(scripts, 1):
        if progress is not None:
            progress(i, len(scripts), script)
        torch_run = run_script(script, "torch", timeout=timeout, seed=seed) if with_torch \
            else None
        report = FileReport(_display_name(script), torch_run,
                            run_script(script, "engine", timeout=timeout, seed=seed))
        _judge(report, rtol, atol)
        if report.status == "numbers differ":  # is torch itself that far from torch?
            again = run_script(script, "torch", timeout=timeout, seed=seed, env=SPREAD_ENV)
            if again.ok:
                report.spread = compare(printed_numbers(torch_run.stdout),
                                        printed_numbers(again.stdout), rtol, atol)
                if _within_spread(report):
                    report.status = "match"
                    report.notes.append(tr("within twice torch's own spread"))
        reports.append(report)
    return reports


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------- output
def _cell_difference(c: Comparison | None) -> str:
    if c is None or c.count == 0:
        return "—"
    text = "0" if c.largest == 0 else f"{c.largest:.1e}"
    return text + (" " + tr("abs") if c.kind == "absolute" and c.largest else "")


def _status_text(status: str) -> str:
    return {"match": tr("yes"), "engine only": "—", "numbers differ": tr("no (numbers differ)"),
            "engine error": tr("no (engine error)"), "torch error": tr("no (torch error)"),
            "timeout": tr("no (timeout)")}[status]


def _cells(report: FileReport) -> list[str]:
    notes = "".join(f"; {note}" for note in report.notes)
    return [report.file, tr("yes") if report.engine.ok else tr("no"),
            report.engine.where(Path(report.file).name),
            "—" if report.comparison is None else str(report.comparison.count),
            _cell_difference(report.comparison), _cell_difference(report.spread),
            _status_text(report.status) + notes]


def _headers() -> list[str]:
    return [tr("file"), tr("runs on engine?"), tr("first error"), tr("numbers compared"),
            tr("largest difference"), tr("torch vs torch"), tr("match?")]


def summary(reports: Sequence[FileReport], with_torch: bool = True) -> str:
    """The closing line.

    >>> summary([FileReport("a.py", Run(ok=True), Run(ok=True), status="match")])
    '1 of 1 run unchanged and match torch'
    """
    if not with_torch:
        ran = sum(r.engine.ok for r in reports)
        return tr("{n} of {m} run unchanged on the engine (torch is not installed: "
                  "nothing compared)", n=ran, m=len(reports))
    return tr("{n} of {m} run unchanged and match torch",
              n=sum(r.matched for r in reports), m=len(reports))


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def render(reports: Sequence[FileReport], *, markdown: bool = False,
           with_torch: bool = True) -> str:
    """The table and the closing line, as terminal text or as Markdown.

    >>> print(render([FileReport("a.py", Run(ok=True), Run(ok=True), status="match")],
    ...              markdown=True).splitlines()[0].replace(" | ", "|"))
    | file|runs on engine?|first error|numbers compared|largest difference|torch vs torch|match? |
    """
    rows = [_cells(r) for r in reports]
    headers = _headers()
    if markdown:
        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
        lines = [line(headers), "|" + "---|" * len(headers)] + [line(r) for r in rows]
    else:
        widths = [max(_width(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

        def line(cells: list[str]) -> str:
            return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths)).rstrip()
        lines = [line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]
    return "\n".join(lines + ["", summary(reports, with_torch)])


def to_json(reports: Sequence[FileReport], *, rtol: float = RTOL, atol: float = ATOL,
            seed: int = SEED, with_torch: bool = True) -> str:
    """Everything ``check`` found, for tools (runs' stdout left out).

    >>> json.loads(to_json([]))["total"]
    0
    """
    def run(r: Run | None) -> dict[str, object] | None:
        if r is None:
            return None
        return {k: v for k, v in asdict(r).items() if k != "stdout"}

    def comparison(c: Comparison | None) -> dict[str, object] | None:
        if c is None:
            return None
        # JSON has no inf: a nan/inf against a finite number is an unbounded difference
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in asdict(c).items()} | {"matches": c.matches}

    files = [{"file": r.file, "status": r.status, "match": r.matched, "torch": run(r.torch),
              "engine": run(r.engine), "notes": r.notes, "comparison": comparison(r.comparison),
              "spread": comparison(r.spread)}
             for r in reports]
    return json.dumps({"files": files, "matched": sum(r.matched for r in reports),
                       "total": len(reports), "rtol": rtol, "atol": atol, "seed": seed,
                       "torch": with_torch, "summary": summary(reports, with_torch)},
                      ensure_ascii=False, indent=2, allow_nan=False)
