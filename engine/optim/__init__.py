"""``engine.optim``: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, NAdam, RAdam and
learning-rate schedulers.

>>> model = engine.nn.Linear(2, 1)
>>> opt = engine.optim.Adam(model.parameters(), lr=1e-2)
>>> opt.zero_grad(); model(engine.ones(4, 2)).pow(2).mean().backward(); opt.step()
"""

from engine.optim import lr_scheduler
from engine.optim.adadelta import Adadelta
from engine.optim.adagrad import Adagrad
from engine.optim.adam import Adam, AdamW
from engine.optim.nadam import NAdam
from engine.optim.optimizer import Optimizer
from engine.optim.radam import RAdam
from engine.optim.rmsprop import RMSprop
from engine.optim.sgd import SGD

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "NAdam", "Optimizer", "RAdam",
           "RMSprop", "lr_scheduler"]
