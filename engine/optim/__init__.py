"""``engine.optim``: SGD, Adam, AdamW and learning-rate schedulers.

>>> opt = engine.optim.Adam(model.parameters(), lr=1e-2)
>>> opt.zero_grad(); loss.backward(); opt.step()
"""

from engine.optim import lr_scheduler
from engine.optim.adam import Adam, AdamW
from engine.optim.optimizer import Optimizer
from engine.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
