"""Translations without Qt: English source strings are the keys, ``ZH_CN`` maps them.

``tr("Step backward")`` returns the text in the current language; ``set_language``
switches at run time and calls the registered listeners.  A test scans ``gui/`` for
every ``tr("...")`` literal and fails if the catalogue lacks it.
"""

from __future__ import annotations

import locale
import os
from collections.abc import Callable

from gui.i18n.zh import ZH_CN

LANGUAGES = ("en", "zh_CN")
_state = {"lang": "en"}
_listeners: list[Callable[[str], None]] = []
MISSING: set[str] = set()


def system_language() -> str:
    """``zh_CN`` when the system locale is Chinese, else ``en``."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        val = os.environ.get(var, "")
        if val:
            return "zh_CN" if val.lower().startswith("zh") else "en"
    try:
        loc = locale.getlocale()[0] or ""
    except ValueError:
        loc = ""
    return "zh_CN" if loc.lower().startswith("zh") else "en"


def language() -> str:
    return _state["lang"]


def set_language(lang: str) -> None:
    """Switch the language (``en`` or ``zh_CN``) and notify listeners."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    if lang == _state["lang"]:
        return
    _state["lang"] = lang
    for fn in list(_listeners):
        fn(lang)


def on_language_changed(fn: Callable[[str], None]) -> Callable[[], None]:
    """Call ``fn(lang)`` after each switch; returns a function that unsubscribes."""
    _listeners.append(fn)
    return lambda: _listeners.remove(fn) if fn in _listeners else None


def tr(text: str, /, **fields: object) -> str:
    """``text`` in the current language, with ``{name}`` fields filled in."""
    if _state["lang"] == "zh_CN":
        out = ZH_CN.get(text)
        if out is None:
            MISSING.add(text)
            out = text
    else:
        out = text
    return out.format(**fields) if fields else out


def preset_title(name: str) -> str:
    """The display name of a network preset."""
    return {"one_layer": tr("One-layer network"), "accumulation": tr("Gradient accumulation"),
            "mlp": tr("Two-layer MLP")}.get(name, name)


def explain_error(msg: str) -> str:
    """One sentence that tells a learner why the engine refused."""
    if "second time" in msg:
        return tr("The first backward pass freed the values this graph saved; tick "
                  "retain_graph before backpropagating twice, or run Forward again.")
    if "does not require grad" in msg:
        return tr("The forward pass ran without tracking (no_grad), so there is no graph to "
                  "backpropagate through; untick it and run Forward.")
    if "inplace operation" in msg:
        return tr("A value the backward pass needs was changed in place; run Forward again "
                  "to record a fresh graph.")
    if "diverged" in msg:
        return tr("Lower the learning rate, or press Reset to start again.")
    return tr("The engine refused this operation; its exact message is in the log.")
