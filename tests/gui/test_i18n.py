"""The Chinese catalogue is complete: every tr("...") in gui/ has a translation."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from gui import i18n
from gui.i18n.zh import ZH_CN

GUI = Path(__file__).resolve().parents[2] / "gui"


def source_keys() -> dict[str, str]:
    """Every literal first argument of tr(...) / t(...) in gui/, with where it is."""
    keys: dict[str, str] = {}
    for path in sorted(GUI.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = getattr(node.func, "id", None)
            if name not in ("tr", "t"):
                continue
            arg = node.args[0]
            assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
                f"{path.name}:{node.lineno}: tr() needs a literal string")
            keys.setdefault(arg.value, f"{path.name}:{node.lineno}")
    return keys


def fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_key_is_translated():
    missing = {k: where for k, where in source_keys().items() if not ZH_CN.get(k, "").strip()}
    assert not missing, f"missing Chinese translations: {missing}"


def test_no_stale_translations():
    stale = set(ZH_CN) - set(source_keys())
    assert not stale, f"translations nobody uses: {stale}"


def test_placeholders_match():
    wrong = [k for k, v in ZH_CN.items() if fields(k) != fields(v)]
    assert not wrong, f"placeholders differ: {wrong}"


def test_switching_language_notifies_and_translates():
    seen = []
    unsub = i18n.on_language_changed(seen.append)
    try:
        i18n.set_language("zh_CN")
        assert i18n.tr("Step") == "单步"
        assert i18n.tr("Step {i}: {node} ran ({n} left).", i=1, node="AddBackward0", n=3) == \
            "第 1 步：执行了 AddBackward0（还剩 3 个）。"
        i18n.set_language("en")
        assert i18n.tr("Step") == "Step"
    finally:
        unsub()
    assert seen == ["zh_CN", "en"]
    with pytest.raises(ValueError):
        i18n.set_language("xx")


def test_system_language(monkeypatch):
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert i18n.system_language() == "zh_CN"
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    assert i18n.system_language() == "en"
