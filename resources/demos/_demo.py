"""Small helpers shared by the demo scripts: bilingual printing and the backend switch.

Every demo imports this module *before* ``import engine as torch``:

- ``say(en, zh)`` prints an explanation in English, then in Chinese.  ``--lang en`` or
  ``--lang zh`` on the command line (or ``JITGRAD_LANG``) keeps only one of them.
- ``JITGRAD_BACKEND=torch`` makes ``import engine as torch`` load real PyTorch, so the same
  file can be run on both backends and the printed numbers compared.

>>> import _demo
>>> _demo.say("Hello", "你好")   # doctest: +SKIP
Hello
你好
"""

from __future__ import annotations

import os
import sys
import textwrap

LANGS = ("en", "zh")
TIMING_MARK = "⏱"  # lines that carry a measured time (they differ between runs)
# The tutorial draws w and b with randn; the demos start from these fixed numbers instead,
# so every demo prints the same values on every run and on both backends.
W_START = [[0.5, -0.3, 0.8],
           [-0.2, 0.4, 0.1],
           [0.7, -0.6, 0.3],
           [-0.1, 0.2, -0.5],
           [0.3, 0.1, 0.6]]
B_START = [0.1, -0.2, 0.05]


def _swap_backend() -> None:
    """Point ``import engine`` at real PyTorch when ``JITGRAD_BACKEND=torch``."""
    backend = os.environ.get("JITGRAD_BACKEND", "engine").strip().lower()
    if backend == "torch":
        import torch  # noqa: PLC0415 - torch is optional: only this backend needs it

        sys.modules["engine"] = torch
    elif backend not in ("", "engine", "jitgrad"):
        raise SystemExit(f"JITGRAD_BACKEND must be 'engine' or 'torch', not {backend!r}")


_swap_backend()


def backend() -> str:
    """``'torch'`` when the demo runs on real PyTorch, else ``'engine'``.

    >>> backend()   # doctest: +SKIP
    'engine'
    """
    mod = sys.modules.get("engine")
    return "torch" if mod is not None and mod.__name__ == "torch" else "engine"


def langs() -> tuple[str, ...]:
    """The languages to print, from ``--lang en|zh`` in ``sys.argv`` or ``JITGRAD_LANG``.

    Unknown arguments are ignored, so a demo run inside the app (whose ``sys.argv`` belongs
    to the app) still works.

    >>> langs()   # doctest: +SKIP
    ('en', 'zh')
    """
    choice = os.environ.get("JITGRAD_LANG", "")
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            choice = argv[i + 1]
        elif arg.startswith("--lang="):
            choice = arg.split("=", 1)[1]
    choice = choice.lower().replace("-", "_")
    if choice.startswith("zh"):
        return ("zh",)
    if choice.startswith("en"):
        return ("en",)
    return LANGS


def _emit(en: str, zh: str, width: int, indent: str = "") -> None:
    texts = {"en": en, "zh": zh}
    for lang in langs():
        text = textwrap.dedent(texts[lang]).strip()
        if lang == "en":
            for para in text.split("\n\n"):
                print(textwrap.fill(" ".join(para.split()), width, initial_indent=indent,
                                    subsequent_indent=indent))
        else:  # Chinese has no spaces to wrap at; keep the author's line breaks
            for line in text.splitlines():
                print(indent + line.strip())


def say(en: str, zh: str) -> None:
    """Print one explanation: the English text, then the Chinese text.

    >>> say("Leaves collect gradients.", "叶子节点收集梯度。")   # doctest: +SKIP
    """
    _emit(en, zh, width=88, indent="  ")


def title(en: str, zh: str) -> None:
    """Print a section heading in the chosen language(s).

    >>> title("Computing gradients", "计算梯度")   # doctest: +SKIP
    """
    names = {"en": en, "zh": zh}
    text = " / ".join(names[lang] for lang in langs())
    print()
    print(f"=== {text} ===")


def timing(en: str, zh: str) -> None:
    """Print a line that contains a measured time; tests skip these when comparing runs.

    >>> timing("forward: 12.0 µs", "前向：12.0 微秒")   # doctest: +SKIP
    """
    texts = {"en": en, "zh": zh}
    for lang in langs():
        print(f"  {TIMING_MARK} {texts[lang]}")
