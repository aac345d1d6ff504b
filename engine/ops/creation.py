"""Tensor factories: ``tensor``, ``ones``, ``arange``, ... (the random ones are in ``random``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine._base import dtypes
from engine._base.arrays import infer_np_dtype, np_dtype, to_array
from engine.tensor import Tensor, _wrap


def _finish(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = _wrap(arr)
    if requires_grad:
        if arr.dtype.kind != "f":  # torch's factories word it with a capital O
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients")
        t.requires_grad = True
    return t


def tensor(data: Any, dtype: dtypes.dtype | None = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    >>> engine.tensor([1.0, 2.0], requires_grad=True)
    tensor([1., 2.], requires_grad=True)
    """
    return _finish(to_array(data._data if isinstance(data, Tensor) else data, dtype),
                   requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (which keeps its dtype).

    >>> a = np.array([1.0, 2.0]); t = engine.from_numpy(a); a[0] = 5.0; t
    tensor([5., 2.], dtype=engine.float64)
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dtypes.from_np(array.dtype)
    return _wrap(array)


def _shape(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(shape)}")
    return shape


def zeros(*size: Any, dtype: dtypes.dtype | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(3)``, ``zeros(2, 3)`` or ``zeros((2, 3))``.

    >>> engine.zeros(2, 3)
    tensor([[0., 0., 0.],
            [0., 0., 0.]])
    """
    return _finish(np.zeros(_shape(size), np_dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: dtypes.dtype | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(5)``.

    >>> engine.ones(3, dtype=engine.int64)
    tensor([1, 1, 1])
    """
    return _finish(np.ones(_shape(size), np_dtype(dtype)), requires_grad)


def full(size: Sequence[int], fill_value: float, dtype: dtypes.dtype | None = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of one value; its dtype follows the value like torch (float -> float32).

    >>> engine.full((2,), 7.0), engine.full((2,), 7)
    (tensor([7., 7.]), tensor([7, 7]))
    """
    dt = np_dtype(dtype) if dtype is not None else infer_np_dtype(fill_value)
    return _finish(np.full(_shape((size,)), fill_value, dt), requires_grad)


def eye(n: int, m: int | None = None, dtype: dtypes.dtype | None = None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix: ``eye(5, requires_grad=True)``.

    >>> engine.eye(2)
    tensor([[1., 0.],
            [0., 1.]])
    """
    return _finish(np.eye(n, m, dtype=np_dtype(dtype)), requires_grad)


def arange(start: float, end: float | None = None, step: float = 1,
           dtype: dtypes.dtype | None = None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in ``[start, end)``; int64 unless a bound or the step is a float.

    >>> engine.arange(4), engine.arange(0, 1, 0.25)
    (tensor([0, 1, 2, 3]), tensor([0.0000, 0.2500, 0.5000, 0.7500]))
    """
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype_np = infer_np_dtype([start, end, step])
    else:
        dtype_np = np_dtype(dtype)
    return _finish(np.arange(start, end, step).astype(dtype_np), requires_grad)


def _like(t: Tensor, dtype: dtypes.dtype | None) -> tuple[tuple[int, ...], np.dtype]:
    return t._data.shape, (t._data.dtype if dtype is None else np_dtype(dtype))


def zeros_like(t: Tensor, dtype: dtypes.dtype | None = None,
               requires_grad: bool = False) -> Tensor:
    """Zeros of ``t``'s shape and dtype (or ``dtype``).

    >>> engine.zeros_like(engine.tensor([[1, 2, 3]]))
    tensor([[0, 0, 0]])
    """
    shape, d = _like(t, dtype)
    return _finish(np.zeros(shape, d), requires_grad)


def ones_like(t: Tensor, dtype: dtypes.dtype | None = None,
              requires_grad: bool = False) -> Tensor:
    """Ones of ``t``'s shape and dtype: the usual ``gradient`` for ``out.backward``.

    >>> engine.ones_like(engine.tensor([1.0, 2.0]))
    tensor([1., 1.])
    """
    shape, d = _like(t, dtype)
    return _finish(np.ones(shape, d), requires_grad)


def full_like(t: Tensor, fill_value: float, dtype: dtypes.dtype | None = None,
              requires_grad: bool = False) -> Tensor:
    """``fill_value`` in ``t``'s shape and dtype (or ``dtype``).

    >>> engine.full_like(engine.tensor([1.0, 2.0]), 0.5)
    tensor([0.5000, 0.5000])
    """
    shape, d = _like(t, dtype)
    return _finish(np.full(shape, fill_value, d), requires_grad)


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["arange", "eye", "from_numpy", "full", "full_like", "ones", "ones_like", "tensor",
           "zeros", "zeros_like"]
METHODS = {}
