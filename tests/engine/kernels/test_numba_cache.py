"""The Numba cache falls back to a per-user folder when the package folder is read-only."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

READ_ONLY = """
import os
real_access = os.access
# Pretend the installed package is read-only (root ignores file modes, so patch the check).
os.access = lambda path, mode, *a, **k: False if "engine" in str(path) else real_access(
    path, mode, *a, **k)
import engine
os.access = real_access
"""


def _run_read_only(tmp_path: Path, script: str) -> str:
    """What ``script`` prints, run after ``import engine`` found its package folder
    read-only, with no NUMBA_CACHE_DIR set and the user cache folder in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    return subprocess.run([sys.executable, "-c", READ_ONLY + script], cwd=ROOT, env=env,
                          text=True, capture_output=True, timeout=300, check=True).stdout


SCRIPT = """
x = engine.tensor([1.0, 2.0], requires_grad=True)
(x.exp() * 2).sum().backward()
print(os.environ["NUMBA_CACHE_DIR"])
print(x.grad.tolist() == [2 * v for v in x.exp().tolist()])
"""


def test_read_only_package_uses_a_per_user_cache(tmp_path):
    out = _run_read_only(tmp_path, SCRIPT).split()
    cache = tmp_path / "jitgrad" / "numba"
    assert out == [str(cache), "True"]
    assert any(cache.rglob("*.nbi")), "kernels were compiled into the per-user cache"


def test_an_explicit_cache_dir_is_respected(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "mine"))
    out = subprocess.run([sys.executable, "-c", "import engine, os; "
                          "print(os.environ['NUMBA_CACHE_DIR'])"], cwd=ROOT, env=env,
                         text=True, capture_output=True, timeout=120, check=True).stdout
    assert out.strip() == str(tmp_path / "mine")


WORKERS = """
from engine import warmup as wu
first = wu.kernels()[:4]
wu.warmup(out=None, jobs=2, load=False, names=[wu.label(k) for k in first])
print(os.environ["NUMBA_CACHE_DIR"])
print(*sorted(k.fn.py_func.__qualname__ for k in first))
"""


def test_warmup_workers_write_into_the_redirected_cache(tmp_path):
    """The parent picks the per-user folder; its spawned warm-up workers inherit it."""
    out = _run_read_only(tmp_path, WORKERS).splitlines()
    cache = tmp_path / "jitgrad" / "numba"
    assert out[0] == str(cache)
    # Numba names an index after the compiled function's qualname
    indexed = {p.name.split(".")[1].split("-")[0] for p in cache.rglob("*.nbi")}
    assert set(out[1].split()) <= indexed


def test_every_kernel_is_stamped_with_all_kernel_sources():
    """Kernels call kernels of other files (the plan interpreter inlines the backward and
    optimizer kernels), so the cache of each must go stale when any kernel file changes:
    its stamp covers every file in engine/kernels, not only its own."""
    import os
    from pathlib import Path

    from engine.kernels import REGISTRY
    from engine.kernels import interpreter as kp

    locators = {type(k.fn._cache._impl._locator).__name__ for k in REGISTRY}
    assert all(name.startswith("JitGradKernels") for name in locators), locators
    locator = kp.run_plan._cache._impl._locator
    other = Path(kp.__file__).with_name("elementwise.py")
    before, st = locator.get_source_stamp(), other.stat()
    try:
        os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert locator.get_source_stamp() != before
    finally:
        os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert locator.get_source_stamp() == before


SECOND_RUN = """
from engine import warmup as wu
ks = wu.kernels()
print(len(wu.missing(ks)))
for k in ks:
    for dt in wu.DTYPES:
        wu._compile(k, dt)
print(sum(sum(k.fn.stats.cache_misses.values()) for k in ks))
"""


def test_after_one_warmup_a_new_process_compiles_nothing():
    """Every kernel, the generated serial kernels of ``@elementwise_kernel`` included, is
    found in Numba's on-disk cache index by a fresh process and loaded from it."""
    from engine import warmup as wu

    wu.warmup(out=None)
    out = subprocess.run([sys.executable, "-c", SECOND_RUN], cwd=ROOT, env=dict(os.environ),
                         text=True, capture_output=True, timeout=300, check=True).stdout
    assert out.split() == ["0", "0"]
