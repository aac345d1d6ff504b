"""Tensor element types (``engine.float32`` and friends) and torch's promotion rules."""

from __future__ import annotations

import builtins

import numpy as np


class dtype:  # noqa: N801 - named as in torch
    """An element type; wraps a numpy dtype and knows its torch-style names.

    >>> engine.tensor([1.0]).dtype, engine.float64.is_floating_point, engine.int64.itemsize
    (engine.float32, True, 8)
    """

    __slots__ = ("name", "np", "is_floating_point", "tensor_type", "_cat")

    def __init__(self, name: str, np_dtype: type, tensor_type: str, cat: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = cat == 2
        self.tensor_type = tensor_type
        self._cat = cat  # 0 bool, 1 integer, 2 floating

    @property
    def itemsize(self) -> int:
        return self.np.itemsize

    def __repr__(self) -> str:
        return f"engine.{self.name}"

    def __reduce__(self):
        return self.name


float32 = dtype("float32", np.float32, "FloatTensor", 2)
float64 = dtype("float64", np.float64, "DoubleTensor", 2)
int64 = dtype("int64", np.int64, "LongTensor", 1)
bool_ = dtype("bool", np.bool_, "BoolTensor", 0)
uint8 = dtype("uint8", np.uint8, "ByteTensor", 1)  # holds a generator's state

DEFAULT = float32
_BY_NP = {d.np: d for d in (float32, float64, int64, bool_, uint8)}


def from_np(np_dtype: np.dtype) -> dtype:
    """The engine dtype for a numpy dtype; a clear TypeError for unsupported ones."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{np.dtype(np_dtype).name}. "
            "The only supported types are: float64, float32, int64, and bool."
        ) from None


def canonical_np(np_dtype: np.dtype) -> np.dtype:
    """Map numpy dtypes the engine does not store onto the nearest one it does."""
    if np_dtype in _BY_NP:
        return np_dtype
    kind = np_dtype.kind
    if kind == "f":
        return float32.np if np_dtype.itemsize <= 4 else float64.np
    if kind in "iu":
        return int64.np
    if kind == "b":
        return bool_.np
    raise TypeError(f"unsupported element type {np_dtype} (use float32, float64, int64 or bool)")


def _scalar_cat(value: object) -> int:
    if isinstance(value, (builtins.bool, np.bool_)):
        return 0
    if isinstance(value, (int, np.integer)):
        return 1
    return 2


def result_np_dtype(a_dtype: np.dtype, a_dim0: bool, b: object, b_dtype: np.dtype | None,
                    b_dim0: bool) -> np.dtype:
    """torch's type promotion for a binary op.

    Dimensioned tensors outrank zero-dim tensors, which outrank Python scalars; a
    lower-ranked operand only changes the result when it is of a higher category
    (bool < integer < floating), and then a Python float gives the default float32.
    """
    if b_dtype is None:  # Python scalar
        cat = _scalar_cat(b)
        a_cat = _BY_NP[a_dtype]._cat
        if cat <= a_cat:
            return a_dtype
        return int64.np if cat == 1 else DEFAULT.np
    if a_dtype == b_dtype:
        return a_dtype
    if a_dim0 == b_dim0:
        a_cat, b_cat = _BY_NP[a_dtype]._cat, _BY_NP[b_dtype]._cat
        if a_cat != b_cat:  # the higher category wins as it is: float32 * int64 -> float32
            return a_dtype if a_cat > b_cat else b_dtype
        return np.promote_types(a_dtype, b_dtype)
    hi_dt, lo_dt = (a_dtype, b_dtype) if b_dim0 else (b_dtype, a_dtype)
    return lo_dt if _BY_NP[lo_dt]._cat > _BY_NP[hi_dt]._cat else hi_dt
