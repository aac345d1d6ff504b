"""Reductions: sum and mean over all elements or chosen dims."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine._base import dtypes
from engine._base.arrays import wrap_dim
from engine.graph import Node
from engine.ops.base import edge, expand_flat, out, recording
from engine.tensor import Tensor


def reduce_dims(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """``dim`` (None, an int or a sequence) as sorted, wrapped, distinct axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    wrapped = tuple(sorted(wrap_dim(d, ndim) for d in dims))
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"dim {wrapped[0]} appears multiple times in the list of dims")
    if ndim == 0:  # a 0-d tensor accepts dim 0 or -1 but has no axis to reduce
        return ()
    return wrapped or tuple(range(ndim))


class SumBackward0(Node):
    """Backward of a full sum: spread the scalar gradient over the input's shape."""

    __slots__ = ("shape", "kept", "divisor")

    def apply(self, grads: list) -> tuple:
        g = grads[0].reshape(self.kept)
        return (expand_flat(g, self.shape, self.divisor).reshape(self.shape),)

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0].reshape(self.kept).expand(self.shape)
        return (g / self.divisor if self.divisor != 1.0 else g,)


class SumBackward1(SumBackward0):
    __slots__ = ()


class MeanBackward0(SumBackward0):
    __slots__ = ()


class MeanBackward1(SumBackward0):
    __slots__ = ()


def _reduce(a: Tensor, dim: int | Sequence[int] | None, keepdim: bool, mean: bool,
            dtype: dtypes.dtype | None) -> Tensor:
    x = a._data
    dims = reduce_dims(dim, x.ndim)
    if mean and x.dtype.kind != "f" and dtype is None:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {dtypes.from_np(x.dtype).name.capitalize()}")
    np_dtype = dtype.np if dtype is not None else (
        np.int64 if x.dtype.kind in "bi" else x.dtype)
    if dtype is not None:
        x = x.astype(np_dtype)
    count = 1
    for d in dims:
        count *= x.shape[d]
    # torch is silent on inf - inf and on the mean of nothing (NaN); numpy warns
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if mean and count == 0:
            res = np.sum(x, axis=dims, keepdims=keepdim, dtype=np_dtype) / 0
        else:
            res = (np.mean if mean else np.sum)(x, axis=dims, keepdims=keepdim, dtype=np_dtype)
    if not recording(a):
        return out(res)
    full = dim is None
    cls = (MeanBackward0 if full else MeanBackward1) if mean else (
        SumBackward0 if full else SumBackward1)
    node = cls((edge(a),))
    node.shape = x.shape
    node.kept = tuple(1 if i in dims else s for i, s in enumerate(x.shape))
    node.divisor = float(count) if mean else 1.0
    return out(res, node)


def sum(a: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False,  # noqa: A001
        dtype: dtypes.dtype | None = None) -> Tensor:
    """Sum of all elements, or over ``dim`` (an int or a tuple), keeping dims if asked.

    >>> x = engine.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> engine.sum(x), x.sum(dim=0)
    (tensor(10.), tensor([4., 6.]))
    >>> x.sum(1, keepdim=True)
    tensor([[3.],
            [7.]])
    """
    return _reduce(a, dim, keepdim, False, dtype)


def mean(a: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False,
         dtype: dtypes.dtype | None = None) -> Tensor:
    """Mean of all elements, or over ``dim``.

    >>> x = engine.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> engine.mean(x), x.mean(dim=1)
    (tensor(2.5000), tensor([1.5000, 3.5000]))
    """
    return _reduce(a, dim, keepdim, True, dtype)
