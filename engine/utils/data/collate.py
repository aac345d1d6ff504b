"""Collation: turning a list of samples into one batch (``default_collate``), and turning
one sample's numpy arrays into tensors when the loader does not batch (``default_convert``).

The rules are torch's: tensors are stacked along a new first dimension, Python ints become
an int64 tensor (bools a bool tensor) and floats a float64 one, numpy arrays and numpy
scalars become tensors of their dtype (float16, uint16 and wider unsigned ints, which the
engine does not hold, become float32 and int64), strings and bytes stay a list, and
mappings, named tuples and sequences are collated field by field (a tuple of fields gives a
list, as in torch).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any

import numpy as np

from engine._base import dtypes
from engine.ops.creation import from_numpy, tensor
from engine.ops.join import stack
from engine.tensor import Tensor

_UNSUPPORTED = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                "lists; found {}")


def _as_tensor(array: np.ndarray | np.generic) -> Tensor:
    """torch.as_tensor: an array the engine can hold is shared, any other (float16,
    uint16, ...) is copied into the nearest engine dtype."""
    if isinstance(array, np.ndarray) and dtypes.canonical_np(array.dtype) == array.dtype:
        return from_numpy(array)
    return tensor(array)


def _holds_text(array: np.ndarray) -> bool:
    return array.dtype.kind in "SaUO"


def _like_mapping(like: Mapping, fields: dict) -> Any:
    """``fields`` in a mapping of ``like``'s type where that type can be rebuilt, else a dict."""
    try:
        if isinstance(like, MutableMapping):
            out = copy.copy(like)  # keeps the mapping's type and its extra state
            out.update(fields)
            return out
        return type(like)(fields)
    except TypeError:
        return fields


def _like_sequence(like: Sequence, items: list) -> Any:
    """``items`` in a sequence of ``like``'s type where that type can be rebuilt, else a list."""
    try:
        if isinstance(like, MutableSequence):
            out = copy.copy(like)
            out[:] = items
            return out
        return type(like)(items)
    except TypeError:
        return items


def default_collate(batch: Sequence[Any]) -> Any:
    """One batch from a list of samples, with torch's rules (see the module's docstring).

    >>> batch = engine.utils.data.default_collate([(engine.ones(2), 1), (engine.zeros(2), 2)])
    >>> batch
    [tensor([[1., 1.],
            [0., 0.]]), tensor([1, 2])]
    >>> engine.utils.data.default_collate([0.5, 1.0]).dtype
    engine.float64
    """
    first = batch[0]
    if isinstance(first, Tensor):
        return stack(batch, 0)
    if isinstance(first, np.ndarray):
        if _holds_text(first):
            raise TypeError(_UNSUPPORTED.format(first.dtype))
        return default_collate([_as_tensor(a) for a in batch])
    if isinstance(first, (np.bool_, np.number)):
        return tensor(np.array(batch))
    if isinstance(first, float):
        return tensor(batch, dtype=dtypes.float64)
    if isinstance(first, int):  # bool too: all bools give a bool tensor
        return tensor(batch)
    if isinstance(first, (str, bytes)):
        return batch
    if isinstance(first, Mapping):
        return _like_mapping(first, {k: default_collate([s[k] for s in batch]) for k in first})
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a named tuple
        return type(first)(*(default_collate(column) for column in zip(*batch)))
    if isinstance(first, Sequence):
        if any(len(sample) != len(first) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [default_collate(column) for column in zip(*batch)]
        return fields if isinstance(first, tuple) else _like_sequence(first, fields)
    raise TypeError(_UNSUPPORTED.format(type(first)))


def default_convert(data: Any) -> Any:
    """``data`` with every numpy array (and numpy scalar) inside it turned into a tensor;
    what the loader applies to each sample when ``batch_size=None``.

    >>> engine.utils.data.default_convert({"x": np.array([1.0, 2.0]), "id": 7})
    {'x': tensor([1., 2.], dtype=engine.float64), 'id': 7}
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _holds_text(data) else _as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return _as_tensor(data)
    if isinstance(data, Mapping):
        return _like_mapping(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # torch gives a list here too
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return _like_sequence(data, [default_convert(d) for d in data])
    return data

