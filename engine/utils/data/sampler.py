"""Samplers: which dataset indices a ``DataLoader`` visits, in which order, in which batches."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sized
from typing import Any

from engine.utils.data import _random


class Sampler:
    """Base class: an iterable of indices (or of index batches) into a dataset.

    >>> class Evens(engine.utils.data.Sampler):
    ...     def __init__(self, n): self.n = n
    ...     def __iter__(self): return iter(range(0, self.n, 2))
    >>> list(Evens(5))
    [0, 2, 4]
    """

    def __init__(self, data_source: Sized | None = None) -> None:
        pass  # torch takes and ignores data_source here too

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """The indices ``0 .. len(data_source) - 1`` in order.

    >>> list(engine.utils.data.SequentialSampler("abc"))
    [0, 1, 2]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices: a fresh permutation per pass over the data, or draws with replacement.

    Without ``generator``, each pass seeds a new generator from the global stream, as torch
    does; ``num_samples`` beyond ``len(data_source)`` chains several permutations.

    >>> sampler = engine.utils.data.RandomSampler(range(10), num_samples=4)
    >>> len(sampler), sampler.replacement
    (4, False)
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Any = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        n = self.num_samples
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={n}")

    @property
    def num_samples(self) -> int:
        """How many indices one pass yields (by default the dataset's current length).

        >>> engine.utils.data.RandomSampler(range(3)).num_samples
        3
        """
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        generator = _random.fresh_generator() if self.generator is None else self.generator
        if self.replacement:
            # torch draws in blocks of 32; the same blocks keep the same stream.
            for _ in range(self.num_samples // 32):
                yield from _random.integers(n, 32, generator)
            yield from _random.integers(n, self.num_samples % 32, generator)
        else:
            for _ in range(self.num_samples // n):
                yield from _random.permutation(n, generator)
            yield from _random.permutation(n, generator)[:self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``; the last one may be
    short unless ``drop_last``.

    >>> seq = engine.utils.data.SequentialSampler(range(5))
    >>> list(engine.utils.data.BatchSampler(seq, batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        indices = iter(self.sampler)
        while batch := list(itertools.islice(indices, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]  # only sized samplers have a length
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
