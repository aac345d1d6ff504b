"""Tensor factories: ``tensor``, ``ones``, ``arange``, ... (the random ones are in ``random``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine._base import device as dev
from engine._base import dtypes
from engine._base.arrays import infer_np_dtype, np_dtype, to_array
from engine.ops.base import takes_out
from engine.tensor import Tensor, _wrap

# factories compute in out's dtype, and resize out silently (arange warns, as in torch)
_FACTORY_DTYPE = "dtype {res} does not match dtype of out parameter ({out})"


def _factory(name: str, resize_warning: bool = False) -> Any:
    return takes_out(rule="dtype", message=_FACTORY_DTYPE, name=f"aten::{name}",
                     resize_warning=resize_warning)


def _finish(arr: np.ndarray, requires_grad: bool, device: Any = None) -> Tensor:
    dev.check(device)
    t = _wrap(arr)
    if requires_grad:
        if arr.dtype.kind != "f":  # torch's factories word it with a capital O
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients")
        t.requires_grad = True
    return t


def tensor(data: Any, *, dtype: dtypes.dtype | None = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    >>> engine.tensor([1.0, 2.0], requires_grad=True)
    tensor([1., 2.], requires_grad=True)
    """
    return _finish(to_array(data._data if isinstance(data, Tensor) else data, dtype),
                   requires_grad, device)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (which keeps its dtype).

    >>> a = np.array([1.0, 2.0]); t = engine.from_numpy(a); a[0] = 5.0; t
    tensor([5., 2.], dtype=engine.float64)
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dtypes.from_np(ndarray.dtype)
    return _wrap(ndarray)


def _shape(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(shape)}")
    return shape


@_factory("zeros")
def zeros(*size: Any, dtype: dtypes.dtype | None = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(3)``, ``zeros(2, 3)`` or ``zeros((2, 3))``.

    >>> engine.zeros(2, 3)
    tensor([[0., 0., 0.],
            [0., 0., 0.]])
    """
    return _finish(np.zeros(_shape(size), np_dtype(dtype)), requires_grad, device)


@_factory("ones")
def ones(*size: Any, dtype: dtypes.dtype | None = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(5)``.

    >>> engine.ones(3, dtype=engine.int64)
    tensor([1, 1, 1])
    """
    return _finish(np.ones(_shape(size), np_dtype(dtype)), requires_grad, device)


@_factory("full")
def full(size: Sequence[int], fill_value: float, *, dtype: dtypes.dtype | None = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of one value; its dtype follows the value like torch (float -> float32).

    >>> engine.full((2,), 7.0), engine.full((2,), 7)
    (tensor([7., 7.]), tensor([7, 7]))
    """
    dt = np_dtype(dtype) if dtype is not None else infer_np_dtype(fill_value)
    return _finish(np.full(_shape((size,)), fill_value, dt), requires_grad, device)


@_factory("eye")
def eye(n: int, m: int | None = None, *, dtype: dtypes.dtype | None = None,
        device: Any = None, requires_grad: bool = False) -> Tensor:
    """The identity matrix: ``eye(5, requires_grad=True)``.

    >>> engine.eye(2)
    tensor([[1., 0.],
            [0., 1.]])
    """
    return _finish(np.eye(n, m, dtype=np_dtype(dtype)), requires_grad, device)


@_factory("arange", resize_warning=True)
def arange(start: float = 0, end: float | None = None, step: float = 1, *,
           dtype: dtypes.dtype | None = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
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
    return _finish(np.arange(start, end, step).astype(dtype_np), requires_grad, device)


def _like(t: Tensor, dtype: dtypes.dtype | None) -> tuple[tuple[int, ...], np.dtype]:
    return t._data.shape, (t._data.dtype if dtype is None else np_dtype(dtype))


def zeros_like(input: Tensor, *, dtype: dtypes.dtype | None = None,  # noqa: A002
               device: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``t``'s shape and dtype (or ``dtype``).

    >>> engine.zeros_like(engine.tensor([[1, 2, 3]]))
    tensor([[0, 0, 0]])
    """
    shape, d = _like(input, dtype)
    return _finish(np.zeros(shape, d), requires_grad, device)


def ones_like(input: Tensor, *, dtype: dtypes.dtype | None = None,  # noqa: A002
               device: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``t``'s shape and dtype: the usual ``gradient`` for ``out.backward``.

    >>> engine.ones_like(engine.tensor([1.0, 2.0]))
    tensor([1., 1.])
    """
    shape, d = _like(input, dtype)
    return _finish(np.ones(shape, d), requires_grad, device)


def full_like(input: Tensor, fill_value: float, *,  # noqa: A002
              dtype: dtypes.dtype | None = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """``fill_value`` in ``t``'s shape and dtype (or ``dtype``).

    >>> engine.full_like(engine.tensor([1.0, 2.0]), 0.5)
    tensor([0.5000, 0.5000])
    """
    shape, d = _like(input, dtype)
    return _finish(np.full(shape, fill_value, d), requires_grad, device)


def _spaced(start: Any, end: Any, steps: int, dt: np.dtype) -> np.ndarray:
    """torch's linspace: the first half counted up from ``start``, the second half down from
    ``end``, so both ends are exact; integer dtypes step in float64 and truncate."""
    start, end = (float(v.item()) if isinstance(v, Tensor) else v for v in (start, end))
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    if steps == 1:
        return np.full(1, start).astype(dt)
    ct = dt if dt.kind == "f" else np.dtype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf bounds give nan, as in torch
        lo, hi = ct.type(dt.type(start)), ct.type(dt.type(end))
        step = (hi - lo) / ct.type(max(steps - 1, 1))
        idx = np.arange(steps)
        up = lo + step * idx[: steps // 2].astype(ct)
        down = hi - step * (steps - 1 - idx[steps // 2:]).astype(ct)
        return np.concatenate([up, down]).astype(dt)


@_factory("linspace")
def linspace(start: float, end: float, steps: int, *, dtype: dtypes.dtype | None = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """``steps`` values from ``start`` to ``end`` (both included), evenly spaced; float32
    unless ``dtype`` says otherwise.

    >>> engine.linspace(3, 10, steps=5)
    tensor([ 3.0000,  4.7500,  6.5000,  8.2500, 10.0000])
    """
    return _finish(_spaced(start, end, steps, np_dtype(dtype)), requires_grad, device)


@_factory("logspace")
def logspace(start: float, end: float, steps: int, base: float = 10.0, *,
             dtype: dtypes.dtype | None = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)``.

    >>> engine.logspace(0, 3, 4), engine.logspace(0, 3, 4, base=2)
    (tensor([   1.,   10.,  100., 1000.]), tensor([1., 2., 4., 8.]))
    """
    dt = np_dtype(dtype)
    exps = _spaced(start, end, steps, dt if dt.kind == "f" else np.dtype(np.float64))
    with np.errstate(over="ignore"):
        return _finish(np.power(np.float64(base), exps).astype(dt), requires_grad, device)


@_factory("empty")
def empty(*size: Any, dtype: dtypes.dtype | None = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of the given shape whose values must not be relied on (zeros here).

    >>> engine.empty(2, 3).shape, engine.empty((2,), dtype=engine.int8).dtype
    (engine.Size([2, 3]), engine.int8)
    """
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype: dtypes.dtype | None = None,  # noqa: A002
               device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``input``'s shape and dtype (or ``dtype``) with arbitrary values (zeros).

    >>> engine.empty_like(engine.ones(2, dtype=engine.int32)).dtype
    engine.int32
    """
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


# ---------------------------------------------------------------- Tensor.new_*
def _own(self: Tensor, dtype: dtypes.dtype | None) -> dtypes.dtype:
    return dtypes.from_np(self._data.dtype) if dtype is None else dtype


def new_tensor(self: Tensor, data: Any, *, dtype: dtypes.dtype | None = None,
               device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding ``data``, with this tensor's dtype unless ``dtype`` is given.

    >>> engine.ones(2).new_tensor([1, 2]), engine.ones(1).new_tensor([1], dtype=engine.int64)
    (tensor([1., 2.]), tensor([1]))
    """
    return tensor(data, dtype=_own(self, dtype), device=device, requires_grad=requires_grad)


def new_zeros(self: Tensor, *size: Any, dtype: dtypes.dtype | None = None,
              device: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``size`` with this tensor's dtype (unless ``dtype`` is given).

    >>> engine.ones(1, dtype=engine.int32).new_zeros(2, 2)
    tensor([[0, 0],
            [0, 0]], dtype=engine.int32)
    """
    return zeros(*size, dtype=_own(self, dtype), device=device, requires_grad=requires_grad)


def new_ones(self: Tensor, *size: Any, dtype: dtypes.dtype | None = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``size`` with this tensor's dtype (unless ``dtype`` is given).

    >>> engine.zeros(1, dtype=engine.float64).new_ones((2,))
    tensor([1., 1.], dtype=engine.float64)
    """
    return ones(*size, dtype=_own(self, dtype), device=device, requires_grad=requires_grad)


def new_empty(self: Tensor, *size: Any, dtype: dtypes.dtype | None = None,
              device: Any = None, requires_grad: bool = False) -> Tensor:
    """``empty`` of ``size`` with this tensor's dtype (unless ``dtype`` is given).

    >>> engine.ones(1).new_empty(3).shape
    engine.Size([3])
    """
    return empty(*size, dtype=_own(self, dtype), device=device, requires_grad=requires_grad)


def new_full(self: Tensor, size: Sequence[int], fill_value: float, *,
             dtype: dtypes.dtype | None = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``fill_value`` in ``size`` with this tensor's dtype (unless ``dtype`` is given).

    >>> engine.ones(1).new_full((2,), 3)
    tensor([3., 3.])
    """
    return full(size, fill_value, dtype=_own(self, dtype), device=device,
                requires_grad=requires_grad)


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["arange", "empty", "empty_like", "eye", "from_numpy", "full", "full_like",
           "linspace", "logspace", "ones", "ones_like", "tensor", "zeros", "zeros_like"]
METHODS = {name: globals()[name] for name in (
    "new_empty", "new_full", "new_ones", "new_tensor", "new_zeros")}
