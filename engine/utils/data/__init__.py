"""``engine.utils.data``: datasets, samplers and the ``DataLoader``, as in ``torch.utils.data``.

>>> xs, ys = engine.arange(6.0).reshape(3, 2), engine.tensor([0, 1, 0])
>>> loader = engine.utils.data.DataLoader(engine.utils.data.TensorDataset(xs, ys), batch_size=2)
>>> [(x.shape, y.tolist()) for x, y in loader]
[(engine.Size([2, 2]), [0, 1]), (engine.Size([1, 2]), [0])]
"""

from engine.utils.data.collate import default_collate, default_convert
from engine.utils.data.dataloader import DataLoader
from engine.utils.data.dataset import Dataset, Subset, TensorDataset, random_split
from engine.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = [
    "BatchSampler", "DataLoader", "Dataset", "RandomSampler", "Sampler", "SequentialSampler",
    "Subset", "TensorDataset", "default_collate", "default_convert", "random_split",
]
