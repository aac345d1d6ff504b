"""Tensor element types (``engine.float32`` and friends) and torch's promotion rules."""

from __future__ import annotations

import builtins

import numpy as np


class dtype:  # noqa: N801 - named as in torch
    """An element type; wraps a numpy dtype and knows its torch-style names.

    ``tensor_type`` is torch's legacy tensor class name (``t.type()``), ``scalar_name`` its
    ScalarType name and ``cpp_name`` its C++ type name, as torch's messages spell them.

    >>> engine.tensor([1.0]).dtype, engine.float64.is_floating_point, engine.int64.itemsize
    (engine.float32, True, 8)
    >>> engine.int8.scalar_name, engine.uint8.cpp_name, engine.int16.is_signed
    ('Char', 'unsigned char', True)
    """

    __slots__ = ("name", "np", "is_floating_point", "tensor_type", "cpp_name", "_cat")

    def __init__(self, name: str, np_dtype: type, tensor_type: str, cpp_name: str,
                 cat: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = cat == 2
        self.tensor_type = tensor_type
        self.cpp_name = cpp_name
        self._cat = cat  # 0 bool, 1 integer, 2 floating

    @property
    def scalar_name(self) -> str:
        return self.tensor_type.removesuffix("Tensor")

    @property
    def is_signed(self) -> bool:
        return self.np.kind in "if"

    @property
    def itemsize(self) -> int:
        return self.np.itemsize

    def __repr__(self) -> str:
        return f"engine.{self.name}"

    def __reduce__(self):
        return self.name


float32 = dtype("float32", np.float32, "FloatTensor", "float", 2)
float64 = dtype("float64", np.float64, "DoubleTensor", "double", 2)
int64 = dtype("int64", np.int64, "LongTensor", "long int", 1)
int32 = dtype("int32", np.int32, "IntTensor", "int", 1)
int16 = dtype("int16", np.int16, "ShortTensor", "short int", 1)
int8 = dtype("int8", np.int8, "CharTensor", "signed char", 1)
uint8 = dtype("uint8", np.uint8, "ByteTensor", "unsigned char", 1)
bool_ = dtype("bool", np.bool_, "BoolTensor", "bool", 0)

DEFAULT = float32
ALL = (float32, float64, int64, int32, int16, int8, uint8, bool_)
_BY_NP = {d.np: d for d in ALL}
BY_NAME = {d.name: d for d in ALL}


def from_np(np_dtype: np.dtype) -> dtype:
    """The engine dtype for a numpy dtype; a clear TypeError for unsupported ones."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{np.dtype(np_dtype).name}. "
            "The only supported types are: float64, float32, int64, int32, int16, int8, uint8, "
            "and bool."
        ) from None


def canonical_np(np_dtype: np.dtype) -> np.dtype:
    """Map numpy dtypes the engine does not store onto the nearest one it does."""
    if np_dtype in _BY_NP:
        return np_dtype
    kind = np_dtype.kind
    if kind == "f":
        return float32.np if np_dtype.itemsize <= 4 else float64.np
    if kind in "iu":  # uint16/32/64: torch stores them, the engine widens them
        return int64.np
    if kind == "b":
        return bool_.np
    raise TypeError(f"unsupported element type {np_dtype} (use float32, float64, int64, int32, "
                    "int16, int8, uint8 or bool)")


def can_cast(src: np.dtype, dst: np.dtype) -> bool:
    """torch's ``can_cast``: never from floating to integer or bool, nor integer to bool."""
    return _BY_NP[src]._cat <= _BY_NP[dst]._cat


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
