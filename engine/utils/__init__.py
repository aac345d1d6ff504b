"""``engine.utils``: helpers around the engine, as in ``torch.utils`` (for now ``data``).

>>> loader = engine.utils.data.DataLoader(engine.arange(4), batch_size=2)
>>> [b.tolist() for b in loader]
[[0, 1], [2, 3]]
"""

from engine.utils import data

__all__ = ["data"]
