"""Matrix products of 2-D float arrays: numpy's BLAS, or Intel MKL's when it is installed.

``pip install jitgrad[mkl]`` puts ``libmkl_rt`` in ``<prefix>/lib``; it is loaded once
through ctypes and ``cblas_sgemm``/``cblas_dgemm`` are called directly.  The extra pins
the MKL that torch 2.13 bundles (oneMKL 2024.2), so the engine's products are torch's to
the last bit, float32 and float64, with transposed operands passed as flags, as torch passes
them (another MKL version differs from torch in the last bits of some small products).

``JITGRAD_BLAS`` chooses at import: ``numpy`` never loads MKL, ``mkl`` requires it (every
float product of two matrices goes to MKL), ``auto`` (the default) uses MKL when it is
found, for products of at least ``MIN_MACS`` multiply-adds, where the ctypes call is a
small part of the time.  Everything else (other dtypes, batches, empty products) is numpy's.

MKL runs its sequential layer: one thread, no OpenMP or TBB runtime loaded, no pool
spinning against torch's or Numba's on a small machine.  ``MKL_THREADING_LAYER`` set in
the environment overrides that choice.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

ENV = "JITGRAD_BLAS"
CHOICES = ("auto", "mkl", "numpy")
# Below this many multiply-adds ``auto`` leaves a product to numpy, where the ctypes call
# would be a large part of the time (8x8x8: 0.8 us against 5). From 16x16x16 up it costs
# 0.4-1 us more than numpy's call (64x100x10: numpy 2.8 us, MKL 3.3 us), and every product
# from there on is torch's to the last bit: with the threshold at 64x256x10 the tutorials'
# two-layer nets, whose 64x100x10 products stayed numpy's, drifted 3.8e-4 from torch; with
# all of them on MKL, 2.2e-7. The kernels' speed is each library's (at one thread on this
# project's 2-core AMD EPYC: OpenBLAS 213-219 us, MKL 253-260 us, torch 248-252 us for
# 64x784 @ 784x256; other machines differ: `python -m benchmarks --only blas`).
MIN_MACS = 16 * 16 * 16

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_THREADING_SEQUENTIAL, _INTERFACE_LP64 = 1, 0
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def library_dirs() -> list[Path]:
    """Where ``libmkl_rt`` is looked for: the environment's ``lib`` (a pip or conda
    install), ``LD_LIBRARY_PATH``, then the system's library folders.

    >>> Path(sys.prefix) / "lib" in library_dirs()
    True
    """
    prefixes = dict.fromkeys([sys.prefix, sys.base_prefix, os.environ.get("CONDA_PREFIX")])
    dirs = [Path(p) / "lib" for p in prefixes if p]
    dirs += [Path(p) for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    return dirs + [Path("/usr/local/lib"), Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib")]


def find_mkl(dirs: Iterable[Path] | None = None) -> Path | None:
    """The first ``libmkl_rt.so*`` in ``dirs`` (default ``library_dirs()``), or None.

    >>> find_mkl([Path("/nonexistent")]) is None
    True
    """
    for d in library_dirs() if dirs is None else dirs:
        found = sorted(Path(d).glob("libmkl_rt.so*"), reverse=True)  # .so.3 before .so.2
        if found:
            return found[0]
    return None


def _load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    # before any other MKL call, or MKL has already picked its layers
    if not os.environ.get("MKL_THREADING_LAYER"):
        lib.MKL_Set_Threading_Layer(ctypes.c_int(_THREADING_SEQUENTIAL))
    lib.MKL_Set_Interface_Layer(ctypes.c_int(_INTERFACE_LP64))  # 32-bit ints, as declared
    i, p = ctypes.c_int, ctypes.c_void_p
    for name, real in (("cblas_sgemm", ctypes.c_float), ("cblas_dgemm", ctypes.c_double)):
        fn = getattr(lib, name)
        fn.argtypes = [i, i, i, i, i, i, real, p, i, p, i, real, p, i]
        fn.restype = None
    return lib


class _State:
    """The choice in force: the mode, the loaded library and where it came from."""

    mode: str = "numpy"
    asked: str = "auto"
    path: Path | None = None
    lib: ctypes.CDLL | None = None
    gemm: dict = {}
    min_macs: int = MIN_MACS


_state = _State()
_loaded: dict[Path, ctypes.CDLL] = {}


def use(mode: str, dirs: Iterable[Path] | None = None) -> None:
    """Switch the backend, as ``JITGRAD_BLAS=mode`` would at import (``dirs``: where to look
    for MKL instead of ``library_dirs()``).  ``mkl`` without the library is a RuntimeError.

    >>> before = mode(); use("numpy"); backend()
    'numpy'
    >>> try:
    ...     use("mkl", dirs=[])
    ... except RuntimeError as e:
    ...     print(str(e)[:54])
    JITGRAD_BLAS=mkl, but libmkl_rt was not found (looked
    >>> use(before)
    """
    if mode not in CHOICES:
        raise ValueError(f"{ENV} must be one of {', '.join(CHOICES)}, not {mode!r}")
    path = None if mode == "numpy" else find_mkl(dirs)
    if path is None and mode == "mkl":
        where = ", ".join(str(d) for d in (library_dirs() if dirs is None else dirs))
        raise RuntimeError(f"{ENV}=mkl, but libmkl_rt was not found (looked in: "
                           f"{where or 'nowhere'}); install it with `pip install jitgrad[mkl]`, "
                           f"or set {ENV}=auto or numpy")
    if path is not None:
        if path not in _loaded:  # once: the layers are chosen before MKL's first call
            _loaded[path] = _load(path)
        _state.lib = lib = _loaded[path]
        _state.gemm = {_FLOATS[0]: lib.cblas_sgemm, _FLOATS[1]: lib.cblas_dgemm}
    _state.path = path
    _state.asked = mode
    _state.mode = "numpy" if path is None else mode
    _state.min_macs = MIN_MACS if mode == "auto" else 1


def mode() -> str:
    """The choice in force: ``"auto"``, ``"mkl"`` or ``"numpy"`` (``auto`` without MKL
    found is ``numpy``).

    >>> mode() in CHOICES
    True
    """
    return _state.mode


def backend() -> str:
    """``"mkl"`` when large float products go to MKL, else ``"numpy"``.

    >>> backend() in ("mkl", "numpy")
    True
    """
    return "numpy" if _state.mode == "numpy" else "mkl"


def version() -> str | None:
    """MKL's own version string (``MKL_Get_Version_String``), or None with numpy's BLAS.

    >>> version() is None or "Math Kernel Library" in version()
    True
    """
    if _state.path is None:
        return None
    buf = ctypes.create_string_buffer(256)
    _state.lib.MKL_Get_Version_String(buf, len(buf))
    return buf.value.decode().strip()


def library_path() -> Path | None:
    """The ``libmkl_rt`` in use, or None with numpy's BLAS.

    >>> library_path() is None or library_path().name.startswith("libmkl_rt")
    True
    """
    return _state.path


def describe() -> dict[str, str]:
    """What ``jitgrad info`` shows: the backend and why, the library, its threads.

    >>> sorted(describe())
    ['backend', 'library', 'threads']
    """
    mode = _state.asked
    if _state.mode == "mkl":
        why = f"{ENV}={mode}: every float matrix product"
    elif _state.mode == "auto":
        why = (f"{ENV}={mode}: float matrix products of {MIN_MACS}+ multiply-adds; "
               "smaller ones numpy's")
    elif mode == "numpy":
        why = f"{ENV}=numpy"
    else:
        why = f"{ENV}={mode}: MKL not found (pip install jitgrad[mkl])"
    if _state.path is not None:
        layer = os.environ.get("MKL_THREADING_LAYER")
        threads = f"MKL_THREADING_LAYER={layer}" if layer else "1 (MKL's sequential layer)"
        return {"backend": f"{backend()} ({why})", "library": f"{_state.path} ({version()})",
                "threads": threads}
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    env = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
           if k in os.environ]
    return {"backend": f"numpy ({why})",
            "library": f"numpy's {blas.get('name', 'BLAS')} {blas.get('version', '')}".strip(),
            "threads": env[0] if env else f"numpy's default (one per core: {os.cpu_count()})"}


def _operand(x: np.ndarray) -> tuple[np.ndarray, int, int]:
    """x as (buffer, transpose flag, leading dimension): a transposed C array is passed
    with the flag, not copied (what torch does for ``g @ w.T``)."""
    if x.flags.c_contiguous:
        return x, _NO_TRANS, max(1, x.shape[1])
    if x.flags.f_contiguous:
        return x, _TRANS, max(1, x.shape[0])
    return np.ascontiguousarray(x), _NO_TRANS, max(1, x.shape[1])


def column_major(x: np.ndarray) -> bool:
    """Whether the matrix ``x`` is laid out column by column, by torch's test (strides
    ``(1, rows)``): torch then computes its gradient column-major too.

    >>> column_major(np.ones((3, 2)).T), column_major(np.ones((2, 3)))
    (True, False)
    """
    return x.ndim == 2 and x.strides == (x.itemsize, x.shape[0] * x.itemsize)


def _numpy(a: np.ndarray, b: np.ndarray, out: np.ndarray | None, alpha: float,
           beta: float) -> np.ndarray:
    """numpy's product, scaled and added as the ops did before MKL (their very bits)."""
    if alpha == 1 and beta == 0:
        return np.matmul(a, b, out=out)
    prod = np.matmul(a, b)
    if alpha != 1:
        prod = (alpha * prod).astype(prod.dtype)
    if out is None:
        return prod
    if beta == 0:
        out[...] = prod
    elif beta == 1:
        out += prod
    else:
        out[...] = prod + (beta * out).astype(prod.dtype)
    return out


def takes(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``matmul_2d(a, b)`` goes to MKL (the backward products of the same two
    matrices have the same size, so they go the same way).

    >>> takes(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32))
    False
    """
    return (_state.mode != "numpy" and a.dtype in _state.gemm and a.ndim == 2 and b.ndim == 2
            and a.shape[0] * a.shape[1] * b.shape[-1] >= _state.min_macs)


def matmul_2d(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, *,
              alpha: float = 1.0, beta: float = 0.0, order: str = "C") -> np.ndarray:
    """``alpha * a @ b + beta * out`` (torch's ``addmm``; by default just ``a @ b``, into
    ``out`` when given, which must not overlap ``a`` or ``b``), through MKL for two float
    matrices of one dtype when the backend says so, else numpy's ``np.matmul``.

    With MKL the scaling and the sum happen inside the gemm, as in torch's ``addmm``, and
    ``order="F"`` (without ``out``) computes the product as ``(b.T @ a.T).T``, torch's way to give a
    column-major operand a column-major gradient; each rounds as torch's does.  numpy's
    path keeps the engine's earlier arithmetic (``order`` does not change it).

    >>> matmul_2d(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32))
    array([[3., 3.],
           [3., 3.]], dtype=float32)
    """
    gemm = _state.gemm.get(a.dtype) if _state.mode != "numpy" else None
    if gemm is None or a.ndim != 2 or b.ndim != 2 or b.dtype != a.dtype:
        return _numpy(a, b, out, alpha, beta)
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2 or m * k * n < _state.min_macs or (out is not None and (
            out.shape != (m, n) or out.dtype != a.dtype or not out.flags.c_contiguous)):
        return _numpy(a, b, out, alpha, beta)
    if order == "F" and out is None:
        return matmul_2d(b.T, a.T, alpha=alpha).T
    res = np.empty((m, n), a.dtype) if out is None else out
    ab, ta, lda = _operand(a)
    bb, tb, ldb = _operand(b)
    gemm(_ROW_MAJOR, ta, tb, m, n, k, float(alpha), ab.ctypes.data, lda, bb.ctypes.data, ldb,
         float(beta), res.ctypes.data, max(1, n))
    return res


use(os.environ.get(ENV, "auto"))

__all__ = ["CHOICES", "ENV", "MIN_MACS", "backend", "column_major", "describe", "find_mkl",
           "library_dirs", "library_path", "matmul_2d", "mode", "takes", "use", "version"]
