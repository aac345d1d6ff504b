"""``DataLoader``: iterates over a dataset in (shuffled) batches, collated into tensors."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from engine.utils.data import _random
from engine.utils.data.collate import default_collate, default_convert
from engine.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler


class DataLoader:
    """Batches of a map-style dataset, with torch's options and checks.

    ``shuffle=True`` draws a new order per pass (from ``generator``, else the global stream)
    with the same calls as torch, so a seeded engine visits the samples in torch's order.
    ``num_workers > 0`` is accepted but everything runs in this process, one batch at a
    time: there are no worker processes, and ``worker_init_fn``, ``pin_memory``,
    ``timeout``, ``prefetch_factor`` and ``persistent_workers`` change nothing.

    >>> ds = engine.utils.data.TensorDataset(engine.arange(5.0), engine.arange(5))
    >>> loader = engine.utils.data.DataLoader(ds, batch_size=2, drop_last=True)
    >>> len(loader), [y.tolist() for _, y in loader]
    (2, [[0, 1], [2, 3]])
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Iterable | None = None, batch_sampler: Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable[[Any], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None, generator: Any = None,
                 *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False) -> None:
        _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers)
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.generator = generator
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = 2 if num_workers > 0 and prefetch_factor is None else prefetch_factor
        self.persistent_workers = persistent_workers
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn

    @property
    def _index_sampler(self) -> Iterable:
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __iter__(self) -> Iterator[Any]:
        return _LoaderIter(self)

    def __len__(self) -> int:
        return len(self._index_sampler)  # type: ignore[arg-type]  # sized samplers only


def _check_worker_options(num_workers: int, timeout: float, prefetch_factor: int | None,
                          persistent_workers: bool) -> None:
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         "disable multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")


class _LoaderIter:
    """One pass over a loader: fetches the samples of each index (or index batch), collates."""

    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._indices = iter(loader._index_sampler)
        # torch draws its workers' base seed here even without workers; drawing it too keeps
        # the stream, and so the next shuffle, the same as torch's.
        self._base_seed = _random.seed_draw(loader.generator)

    def __iter__(self) -> _LoaderIter:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self) -> Any:
        index = next(self._indices)
        loader = self._loader
        dataset = loader.dataset
        if loader.batch_sampler is None:
            return loader.collate_fn(dataset[index])
        batched = getattr(dataset, "__getitems__", None)
        samples = batched(index) if callable(batched) else [dataset[i] for i in index]
        return loader.collate_fn(samples)
