"""Array helpers every layer shares: building a tensor's buffer, broadcasting shapes and
wrapping a dimension index.  numpy only (no Tensor), so the Tensor class can use them."""

from __future__ import annotations

import builtins
from functools import lru_cache
from typing import Any

import numpy as np

from engine._base import dtypes


def infer_np_dtype(data: Any) -> np.dtype:
    """torch's rule for Python data: any float -> float32, else int -> int64, else bool."""
    flat = np.asarray(data, dtype=object).reshape(-1) if not np.isscalar(data) else [data]
    kind = 0
    for v in flat:
        if not isinstance(v, np.generic) and hasattr(v, "item"):  # a tensor element
            v = v.item()
        if isinstance(v, (builtins.bool, np.bool_)):
            continue
        if isinstance(v, (int, np.integer)):
            kind = max(kind, 1)
        elif isinstance(v, (float, np.floating)):
            return dtypes.DEFAULT.np
        else:
            raise TypeError(f"can't build a tensor from an element of type {type(v).__name__}")
    return (dtypes.bool_.np, dtypes.int64.np)[kind] if len(flat) else dtypes.DEFAULT.np


def np_dtype(dtype: dtypes.dtype | None) -> np.dtype:
    """The numpy dtype of an engine dtype (the default float32 for None)."""
    if dtype is None:
        return dtypes.DEFAULT.np
    if not isinstance(dtype, dtypes.dtype):
        raise TypeError(f"dtype must be an engine dtype such as engine.float32, got {dtype!r}")
    return dtype.np


def to_array(data: Any, dtype: dtypes.dtype | None = None) -> np.ndarray:
    """Copy ``data`` (nested lists, numbers, numpy arrays; a tensor passes its buffer)
    into a fresh C-contiguous array of the engine's dtypes."""
    if isinstance(data, np.ndarray):
        arr = data.astype(dtypes.canonical_np(data.dtype))
    elif isinstance(data, (np.generic,)):
        arr = np.asarray(data)
        arr = arr.astype(dtypes.canonical_np(arr.dtype))
    else:
        inferred = infer_np_dtype(data)  # also refuses elements a tensor cannot hold
        try:
            # straight into the asked-for dtype: a float64 tensor of Python floats must not
            # round through float32 first
            arr = np.array(data, dtype=inferred if dtype is None else np_dtype(dtype))
        except ValueError as exc:
            raise ValueError(f"can't build a tensor from ragged data: {exc}") from None
    if dtype is not None:
        arr = arr.astype(np_dtype(dtype))
    return np.array(arr, copy=True, order="C")


@lru_cache(maxsize=4096)
def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of two shapes, with torch's error naming the mismatch."""
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + a
    pb = (1,) * (n - len(b)) + b
    res = []
    for i, (x, y) in enumerate(zip(pa, pb)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {i}")
        res.append(y if x == 1 else x)
    return tuple(res)


def wrap_dim(dim: int, ndim: int) -> int:
    """``dim`` as a non-negative index into ``ndim`` dimensions, with torch's error."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n
