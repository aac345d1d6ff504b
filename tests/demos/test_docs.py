"""The documentation's code runs: every README example that starts with ``import engine``
(most as ``import engine as torch``: tutorial code with only the import changed).

The expected outputs written in comments (``# tensor([20., 20., 20.])``) are checked too,
where they are exact.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READMES = ["README.md", "README.zh-CN.md"]


def examples(readme: str) -> list[str]:
    text = (ROOT / readme).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return [b for b in blocks if b.startswith("import engine")]


@pytest.mark.parametrize("readme", READMES)
def test_readme_examples_run(readme: str) -> None:
    blocks = examples(readme)
    assert len(blocks) >= 4
    for code in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, readme, "exec"), {"__name__": "__readme__"})  # noqa: S102
        printed = out.getvalue()
        # Exact expectations in comments, e.g. "print(b.grad)    # tensor([20., 20., 20.])"
        for expected in re.findall(r"#\s*(tensor\(\[-?\d[\d., -]*\]\)|False False|True|False)\s*$",
                                   code, flags=re.M):
            assert expected in printed, (readme, expected, printed)


@pytest.mark.parametrize("readme", READMES)
def test_readme_has_the_required_sections(readme: str) -> None:
    text = (ROOT / readme).read_text(encoding="utf-8")
    quick = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in quick.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
    assert text.count("<!-- bench-table -->") == 1
    for needle in ("docs/screenshots/app_en.png", "docs/screenshots/app_zh.png",
                   "fonts-wqy-microhei", "backward_steps", "register_hook", "no_grad",
                   "detach", "SqueezeBackward4", "MmBackward0", "AccumulateGrad", "F5", "F10",
                   "Ctrl+Enter", "Ctrl+0", "retain_graph", "jitgrad demo list",
                   "engine/kernels", "tests/engine/_support/op_cases.py"):
        assert needle in text, needle
