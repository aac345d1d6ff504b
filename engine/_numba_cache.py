"""Choose where Numba keeps its on-disk kernel cache, before Numba is imported.

Numba writes cached kernels next to the source file.  When the installed package
folder is read-only (a system install, a shared venv), that would fail; we then
point ``NUMBA_CACHE_DIR`` at a per-user folder instead.  The worker processes that
``engine.warmup`` starts inherit the variable, so they fill the same folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jitgrad" / "numba"


def configure() -> None:
    if "numba" in sys.modules or os.environ.get("NUMBA_CACHE_DIR"):
        return
    pkg = Path(__file__).resolve().parent / "kernels"
    if os.access(pkg, os.W_OK):
        return
    target = _user_cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(target)


configure()
