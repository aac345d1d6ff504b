"""Learning-rate schedules, as torch's (same values, state dicts and warnings):
``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``CosineAnnealingLR``, ``LambdaLR``,
``MultiplicativeLR``, ``OneCycleLR`` and ``ReduceLROnPlateau``.

>>> opt = engine.optim.SGD([engine.ones(1, requires_grad=True)], lr=1.0)
>>> sched = engine.optim.lr_scheduler.MultiStepLR(opt, milestones=[1], gamma=0.5)
>>> opt.step(); sched.step(); sched.get_last_lr()
[0.5]
"""

from engine.optim.lr_scheduler.base import LRScheduler
from engine.optim.lr_scheduler.cosine import CosineAnnealingLR
from engine.optim.lr_scheduler.lambda_lr import LambdaLR, MultiplicativeLR
from engine.optim.lr_scheduler.one_cycle import OneCycleLR
from engine.optim.lr_scheduler.plateau import ReduceLROnPlateau
from engine.optim.lr_scheduler.step import ExponentialLR, MultiStepLR, StepLR

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "MultiStepLR",
           "MultiplicativeLR", "OneCycleLR", "ReduceLROnPlateau", "StepLR"]
