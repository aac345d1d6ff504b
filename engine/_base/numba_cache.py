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
    pkg = Path(__file__).resolve().parent.parent / "kernels"
    if os.access(pkg, os.W_OK):
        return
    target = _user_cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(target)


def _kernel_sources_stamp(files: list[Path]) -> tuple:
    stats = [(p.name, os.stat(p)) for p in files]
    return tuple((name, st.st_mtime, st.st_size) for name, st in stats)


def track_kernel_sources() -> None:
    """Put the kernel locators first in Numba's list (once; Numba must be importable)."""
    # late: this module must set NUMBA_CACHE_DIR before anything imports Numba
    from numba.core import caching  # noqa: PLC0415

    folder = Path(__file__).resolve().parent.parent / "kernels"
    if any(getattr(c, "_jitgrad", False) for c in caching.CacheImpl._locator_classes):
        return
    files = sorted(folder.glob("*.py"))  # listed once: every kernel's stamp stats them

    def tracked(base: type) -> type:
        class Locator(base):
            _jitgrad = True

            def get_source_stamp(self) -> tuple:
                return (super().get_source_stamp(), _kernel_sources_stamp(files))

            @classmethod
            def from_function(cls, py_func, py_file):  # noqa: ANN001, ANN206
                if Path(py_file).resolve().parent != folder:
                    return None
                return super().from_function(py_func, py_file)

        Locator.__name__ = f"JitGradKernels{base.__name__}"
        return Locator

    caching.CacheImpl._locator_classes[:0] = [
        tracked(caching.UserProvidedCacheLocator), tracked(caching.InTreeCacheLocator)]


configure()
