"""Map-style datasets: ``Dataset``, ``TensorDataset``, ``Subset`` and ``random_split``."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any

from engine.tensor import Tensor
from engine.utils.data import _random


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__`` (and usually
    ``__len__``, which the default samplers need).

    >>> class Squares(engine.utils.data.Dataset):
    ...     def __getitem__(self, i): return i * i
    ...     def __len__(self): return 4
    >>> [Squares()[i] for i in range(4)]
    [0, 1, 4, 9]
    """

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")


class TensorDataset(Dataset):
    """Samples are the rows of several tensors that share their first dimension.

    >>> ds = engine.utils.data.TensorDataset(engine.arange(3), engine.zeros(3, 2))
    >>> len(ds), ds[1]
    (3, (tensor(1), tensor([0., 0.])))
    """

    def __init__(self, *tensors: Tensor) -> None:
        if any(tensors[0].size(0) != t.size(0) for t in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].size(0)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    >>> sub = engine.utils.data.Subset("abcde", [4, 0])
    >>> len(sub), sub[0], sub[1]
    (2, 'e', 'a')
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list[Any]:
        """Several samples at once (what the loader asks for); the dataset's own
        ``__getitems__`` serves them when it has one.

        >>> engine.utils.data.Subset("abcde", [4, 0, 2]).__getitems__([0, 2])
        ['e', 'c']
        """
        own = [self.indices[i] for i in indices]
        batched = getattr(self.dataset, "__getitems__", None)
        if callable(batched):
            return batched(own)
        return [self.dataset[i] for i in own]

    def __len__(self) -> int:
        return len(self.indices)


def _fraction_lengths(n: int, fractions: Sequence[float]) -> list[int]:
    """``floor(f * n)`` per fraction, then the remainder handed out one by one from the
    first split on, as torch does."""
    lengths = []
    for i, frac in enumerate(fractions):
        if frac < 0 or frac > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        lengths.append(math.floor(n * frac))
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty "
                          f"dataset.", stacklevel=3)
    return lengths


def random_split(dataset: Any, lengths: Sequence[int | float],
                 generator: Any = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths, or of the
    given fractions of its length when ``lengths`` sums to 1.

    One ``randperm(len(dataset), generator=generator)`` decides the split (``None``: the
    global generator), so a seeded generator splits as torch's does.

    >>> engine.utils.data.random_split(range(3), [2, 2])
    Traceback (most recent call last):
    ...
    ValueError: Sum of input lengths does not equal the length of the input dataset!
    """
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:  # torch's test: fractions, even for [0, 1]
        lengths = _fraction_lengths(len(dataset), lengths)
    if sum(lengths) != len(dataset):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = _random.permutation(sum(lengths), generator)
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, order[end - length:end]) for end, length in zip(ends, lengths)]
