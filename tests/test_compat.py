"""``jitgrad compat``: the import rewrite, the number pairing, and real runs of small scripts
on torch and on the engine (each real run is a child process, so they share one fixture)."""

from __future__ import annotations

import doctest
import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gui import cli, compat, i18n
from gui.compat import FileReport, Printed, Run, compare, printed_numbers, rewrite_imports

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- rewrite
REWRITES = [
    ("import torch\n", "import engine as torch\n"),
    ("import torch as t\n", "import engine as t\n"),
    ("import torch.nn as nn\n", "import engine.nn as nn\n"),
    ("import torch.nn.functional as F\n", "import engine.nn.functional as F\n"),
    ("import torch.nn\n", 'import engine as torch; __import__("engine.nn")\n'),
    ("import torch, numpy as np\n", "import engine as torch, numpy as np\n"),
    ("import numpy as np, torch.optim as optim\n", "import numpy as np, engine.optim as optim\n"),
    ("from torch import nn\n", "from engine import nn\n"),
    ("from torch import nn, optim\n", "from engine import nn, optim\n"),
    ("from torch.nn import functional as F\n", "from engine.nn import functional as F\n"),
    ("from torch.utils.data import DataLoader, TensorDataset\n",
     "from engine.utils.data import DataLoader, TensorDataset\n"),
    ("from torch.autograd import Function\n", "from engine.autograd import Function\n"),
    ("from torch import (\n    nn,\n    optim,\n)\n",
     "from engine import (\n    nn,\n    optim,\n)\n"),
    ("from torch.nn import (Linear,  # a layer\n                      ReLU)\n",
     "from engine.nn import (Linear,  # a layer\n                      ReLU)\n"),
    ("import torch; x = torch.ones(2)\n", "import engine as torch; x = torch.ones(2)\n"),
    ("def f():\n    import torch\n    return torch.ones(1)\n",
     "def f():\n    import engine as torch\n    return torch.ones(1)\n"),
    ("class M:\n    def g(self):\n        from torch import nn\n",
     "class M:\n    def g(self):\n        from engine import nn\n"),
    ("if True: import torch.nn as nn\n", "if True: import engine.nn as nn\n"),
    ("try:\n    import torch\nexcept ImportError:\n    torch = None\n",
     "try:\n    import engine as torch\nexcept ImportError:\n    torch = None\n"),
    ('s = "é"; import torch\n', 's = "é"; import engine as torch\n'),
    ("x = 1\x0c\nimport torch\r\nfrom torch import nn\n",
     "x = 1\x0c\nimport engine as torch\r\nfrom engine import nn\n"),
]
UNCHANGED = [
    "import torchvision\n",
    "from torchvision import datasets\n",
    "import torch_geometric\n",
    "from . import torch\n",
    "from .torch import nn\n",
    "from __future__ import annotations\n",
    "import numpy as np\n",
    '"""Run `import torch` first."""\n',
    "# import torch\n",
    "s = 'import torch'\n",
    "s = '''\nimport torch\nfrom torch import nn\n'''\n",
    "print(torch.ones(2))  # torch.x keeps working: torch is the engine now\n",
]


@pytest.mark.parametrize(("source", "expected"), REWRITES)
def test_torch_imports_point_at_the_engine(source: str, expected: str) -> None:
    out = rewrite_imports(source)
    assert out == expected
    assert out.count("\n") == source.count("\n")  # line numbers stay the user's
    compile(out, "<rewritten>", "exec")


@pytest.mark.parametrize("source", UNCHANGED)
def test_everything_else_is_left_alone(source: str) -> None:
    assert rewrite_imports(source) == source


def test_only_the_import_lines_change_in_a_longer_script() -> None:
    source = textwrap.dedent('''\
        """A lesson. Start with: import torch"""
        import math
        import torch  # the library
        from torch import nn

        MESSAGE = "from torch import nn"
        def model():
            import torch.nn.functional as F
            return nn.Linear(2, 1), F.relu, torch.ones(2), math.pi
        ''')
    out = rewrite_imports(source).splitlines()
    changed = [i for i, (a, b) in enumerate(zip(source.splitlines(), out)) if a != b]
    assert changed == [2, 3, 7]
    assert out[2] == "import engine as torch  # the library"
    assert out[7] == "    import engine.nn.functional as F"


def test_a_syntax_error_is_not_rewritten_but_raised() -> None:
    with pytest.raises(SyntaxError):
        rewrite_imports("import torch\nprint(\n")


# ----------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(("text", "values"), [
    ("99 0.5", [99.0, 0.5]),
    ("loss: 1.5e-03, -2.25E+2, .5, 7.", [1.5e-3, -225.0, 0.5, 7.0]),
    ("tensor([[ 6.1403e-01, -1.0000e+00]], grad_fn=<AddmmBackward0>)", [0.61403, -1.0]),
    ("tensor([nan, inf, -inf])", [math.nan, math.inf, -math.inf]),
    ("dtype=torch.float32 torch.Size([3, 28, 28]) x2 a-1", [3.0, 28.0, 28.0, 1.0]),
    ("<AddBackward0 object at 0x7f46c928bf70>", []),
    ("information, nano, infinity", []),
])
def test_printed_numbers_are_found_in_order(text: str, values: list[float]) -> None:
    got = [p.value for p in printed_numbers(text)]
    assert len(got) == len(values)
    for g, v in zip(got, values):
        assert g == v or (math.isnan(g) and math.isnan(v))


@pytest.mark.parametrize(("token", "unit"), [
    ("3", 0.0), ("0.0093", 1e-4), ("6.1403e-01", 1e-5), ("8.943641662597656", 1e-15),
    ("2.", 1.0), ("1e-3", 0.0)])
def test_the_unit_of_the_last_printed_digit(token: str, unit: float) -> None:
    assert Printed.parse(token).unit == pytest.approx(unit, rel=1e-12, abs=0)


def test_a_float32_drift_matches_and_a_real_difference_does_not() -> None:
    drift = compare(printed_numbers("10.10548210144043"), printed_numbers("10.105472564697266"))
    assert drift.kind == "relative" and drift.largest == pytest.approx(9.437e-7, rel=1e-3)
    assert drift.matches
    wrong = compare(printed_numbers("10.1054"), printed_numbers("10.1154"))
    assert wrong.largest == pytest.approx(0.0099 / 10.1154, rel=1e-9) and not wrong.matches


def test_values_near_zero_are_compared_absolutely() -> None:
    noise = compare(printed_numbers("-6.71270206087371e-10"), printed_numbers("1.18e-09"))
    assert noise.kind == "absolute" and noise.matches
    assert noise.largest == pytest.approx(1.18e-9 + 6.71270206087371e-10 - 5e-12)
    off = compare(printed_numbers("0.00002"), printed_numbers("0.00005"))
    assert off.kind == "absolute" and not off.matches


def test_a_number_is_not_blamed_for_digits_it_did_not_print() -> None:
    rounded = compare(printed_numbers("0.0093"), printed_numbers("0.0094"))
    assert rounded.matches and rounded.largest < 1e-15  # 0 up to binary rounding
    assert not compare(printed_numbers("0.0093"), printed_numbers("0.0095")).matches
    assert not compare(printed_numbers("399"), printed_numbers("400")).matches


def test_nan_inf_and_counts() -> None:
    assert compare(printed_numbers("nan inf"), printed_numbers("nan inf")).matches
    assert not compare(printed_numbers("nan"), printed_numbers("1.0")).matches
    assert not compare(printed_numbers("inf"), printed_numbers("-inf")).matches
    short = compare(printed_numbers("1 2 3"), printed_numbers("1 2"))
    assert short.count == 2 and short.counts == (3, 2) and not short.matches


def test_the_docstring_examples_run() -> None:
    assert doctest.testmod(compat, optionflags=doctest.ELLIPSIS).failed == 0


# ----------------------------------------------------------------------------- real runs
SCRIPTS = {
    "same.py": '''\
        import torch
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = (x ** 2).sum()
        y.backward()
        print(y.item(), x.grad)
        print(torch.randn(3).shape)
        ''',
    "missing.py": '''\
        import torch

        x = torch.histogramdd(torch.ones(4, 2), bins=2)
        print(x)
        ''',
    "differs.py": '''\
        import torch
        print(1.0 if torch.__name__ == "torch" else 2.0)
        ''',
    "sub/fails_on_torch.py": '''\
        import torch
        print(1.5)
        torch.ones(2).sum().backward()
        ''',
    "sub/not_python.txt": "import torch\n",
}


@pytest.fixture(scope="module")
def lessons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lessons")
    for name, text in SCRIPTS.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def reports(lessons: Path) -> dict[str, FileReport]:
    """One check of the whole folder (a directory argument): every script on both."""
    return {Path(r.file).name: r for r in compat.check([lessons], timeout=120)}


def test_a_folder_is_searched_for_python_scripts(reports: dict[str, FileReport]) -> None:
    assert sorted(reports) == ["differs.py", "fails_on_torch.py", "missing.py", "same.py"]


def test_a_script_that_runs_the_same_matches(reports: dict[str, FileReport]) -> None:
    r = reports["same.py"]
    assert r.status == "match" and r.matched
    assert r.torch is not None and r.torch.ok and r.engine.ok
    assert r.torch.stdout == "14.0 tensor([2., 4., 6.])\ntorch.Size([3])\n"
    assert r.engine.stdout.splitlines()[0] == "14.0 tensor([2., 4., 6.])"
    assert r.comparison is not None and r.comparison.count == 5 and r.comparison.largest == 0


def test_a_missing_name_gives_the_first_error_and_its_line(
        reports: dict[str, FileReport]) -> None:
    r = reports["missing.py"]
    assert r.status == "engine error" and not r.engine.ok
    assert r.torch is not None and r.torch.ok
    assert r.engine.where("missing.py") == \
        "AttributeError: module 'engine' has no attribute 'histogramdd' (missing.py:3)"
    row = compat.render([r]).splitlines()[2]
    assert "(missing.py:3)" in row and "no (engine error)" in row


def test_different_numbers_do_not_match(reports: dict[str, FileReport]) -> None:
    r = reports["differs.py"]
    assert r.status == "numbers differ" and not r.matched and r.engine.ok
    # 1.0 against 2.0, less half a unit of each last digit (0.1): 0.9 / 2
    assert r.comparison is not None and r.comparison.largest == pytest.approx(0.45)
    assert r.comparison.kind == "relative"


def test_a_script_that_fails_on_torch_too(reports: dict[str, FileReport]) -> None:
    r = reports["fails_on_torch.py"]
    assert r.status == "torch error" and not r.matched
    assert r.torch is not None and r.torch.line == 3 and r.torch.error == (
        "RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn")
    assert (r.engine.error, r.engine.line) == (r.torch.error, r.torch.line)
    assert r.notes == ["the engine raises the same error"]
    assert r.comparison is not None and r.comparison.count == 1 and r.comparison.matches


# A number torch itself moves when its BLAS sums in another order (MKL_CBWR=COMPATIBLE):
# torch prints 1.0, torch again 1.02 (a spread of 0.02/1.02), the engine `ENGINE`, which
# matches while it is within twice that of 1.0 (six decimals each, so the digits
# not printed forgive almost nothing).
SPREAD = """\
import os
import torch
if torch.__name__ != "torch":
    print(f"{ENGINE:.6f}")
else:
    print(f"{1.02 if os.environ.get('MKL_CBWR') == 'COMPATIBLE' else 1.0:.6f}")
"""


@pytest.mark.parametrize(("engine_prints", "status"), [(1.01, "match"), (1.039, "match"),
                                                      (1.05, "numbers differ")])
def test_a_difference_within_torchs_own_spread_matches(tmp_path: Path, engine_prints: float,
                                                       status: str) -> None:
    script = tmp_path / "spread.py"
    script.write_text(SPREAD.replace("ENGINE", str(engine_prints)), encoding="utf-8")
    (r,) = compat.check([script])
    assert r.status == status
    assert r.spread is not None and r.spread.largest == pytest.approx(0.02 / 1.02, rel=1e-4)
    assert r.comparison is not None and r.comparison.largest > compat.RTOL
    assert (r.notes == ["within twice torch's own spread"]) == (status == "match")
    data = json.loads(compat.to_json([r]))["files"][0]
    assert data["match"] == (status == "match")
    assert data["spread"]["largest"] == pytest.approx(0.02 / 1.02, rel=1e-4)


def test_a_script_that_runs_too_long_is_stopped(tmp_path: Path) -> None:
    script = tmp_path / "forever.py"
    script.write_text("import time\nprint(1)\ntime.sleep(600)\n", encoding="utf-8")
    start = time.monotonic()
    (r,) = compat.check([script], timeout=4, with_torch=False)
    assert time.monotonic() - start < 60
    assert r.status == "timeout" and r.engine.timed_out and not r.engine.ok
    assert r.engine.error == "timed out after 4 s"


def test_the_table_summary_and_markdown(reports: dict[str, FileReport]) -> None:
    rows = list(reports.values())
    text = compat.render(rows)
    assert text.splitlines()[0].split() == ["file", "runs", "on", "engine?", "first", "error",
                                            "numbers", "compared", "largest", "difference",
                                            "torch", "vs", "torch", "match?"]
    assert text.endswith("\n1 of 4 run unchanged and match torch")
    md = compat.render(rows, markdown=True).splitlines()
    assert md[1] == "|---|---|---|---|---|---|---|"
    assert len([line for line in md if line.startswith("| ")]) == 5


def test_the_table_in_chinese(reports: dict[str, FileReport]) -> None:
    i18n.set_language("zh_CN")
    try:
        text = compat.render(list(reports.values()))
    finally:
        i18n.set_language("en")
    assert text.splitlines()[0].split()[:3] == ["文件", "能在引擎上运行？", "第一个错误"]
    assert text.endswith("4 个脚本中有 1 个无需修改即可运行，且与 torch 一致")
    assert "否（数值不同）" in text


def test_json_for_tools(reports: dict[str, FileReport]) -> None:
    data = json.loads(compat.to_json(list(reports.values())))
    assert (data["matched"], data["total"], data["rtol"], data["atol"]) == (1, 4, 1e-4, 1e-5)
    by_name = {Path(f["file"]).name: f for f in data["files"]}
    assert by_name["same.py"]["match"] is True
    assert by_name["missing.py"]["engine"]["line"] == 3
    assert by_name["missing.py"]["status"] == "engine error"
    assert by_name["differs.py"]["comparison"]["largest"] == pytest.approx(0.45)
    assert "stdout" not in by_name["same.py"]["engine"]


def test_engine_only_when_torch_is_absent() -> None:
    r = FileReport("a.py", None, Run(ok=True))
    compat._judge(r, compat.RTOL, compat.ATOL)
    assert r.status == "engine only" and r.comparison is None
    assert compat.summary([r], with_torch=False) == (
        "1 of 1 run unchanged on the engine (torch is not installed: nothing compared)")


# ----------------------------------------------------------------------------- the command
def test_bad_paths_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compat", str(tmp_path / "nope.py")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert cli.main(["compat", str(tmp_path)]) == 2
    assert "no Python scripts in" in capsys.readouterr().err
    assert cli.main(["compat", str(tmp_path), "--json", "--markdown"]) == 2


def test_without_torch_the_engine_runs_alone_in_chinese(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "one.py").write_text("import torch\nprint(torch.ones(2))\n", encoding="utf-8")
    monkeypatch.setattr(compat, "torch_available", lambda: False)
    assert cli.main(["compat", str(tmp_path), "--lang", "zh"]) == 0
    out, err = capsys.readouterr()
    assert "torch is not installed; running on the engine only" in err
    assert out.splitlines()[0].split()[:2] == ["文件", "能在引擎上运行？"]
    assert out.rstrip().endswith(
        "1 个脚本中有 1 个无需修改即可在引擎上运行（未安装 torch：没有比较）")
    assert i18n.language() == "en"  # the command leaves the language as it found it


def test_the_real_command_on_a_tiny_script(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text("import torch\nprint(torch.ones(3).sum())\n",
                                      encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "compat", "tiny.py", "--json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["summary"] == "1 of 1 run unchanged and match torch"
    assert data["files"][0]["file"] == "tiny.py"
    assert data["files"][0]["comparison"]["count"] == 1


def test_importing_compat_loads_neither_qt_nor_torch_nor_engine() -> None:
    code = ("import sys, gui.compat; bad = [m for m in ('PySide6', 'torch', 'engine', 'numba') "
            "if m in sys.modules]; print(bad)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
