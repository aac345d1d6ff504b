"""``CosineAnnealingLR``: half a cosine from the base rate down to ``eta_min`` over
``T_max`` epochs, then back up, in torch's recursive (chainable) form."""

from __future__ import annotations

import math

from engine.optim.lr_scheduler.base import LRScheduler
from engine.optim.optimizer import Optimizer


class CosineAnnealingLR(LRScheduler):
    """Anneal the rate along a cosine: ``eta_min`` at epoch ``T_max``, the base rate again
    at ``2 * T_max``, and so on.  Each rate is worked out from the group's current one,
    as torch does, so a rate changed by hand carries on along the curve; the values are
    torch's to the last bit.

    >>> opt = engine.optim.SGD([engine.ones(1, requires_grad=True)], lr=1.0)
    >>> sched = engine.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    >>> lrs = []
    >>> for _ in range(8): opt.step(); sched.step(); lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs
    [0.8682, 0.55, 0.2318, 0.1, 0.2318, 0.55, 0.8682, 1.0]
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1) -> None:
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        epoch, t_max, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and epoch > 0:  # resumed: start on the curve
            return [low + (b - low) * (1 + math.cos(epoch * math.pi / t_max)) / 2
                    for b in self.base_lrs]
        if (epoch - 1 - t_max) % (2 * t_max) == 0:  # leaving the bottom of the curve
            return [lr + (b - low) * (1 - math.cos(math.pi / t_max)) / 2
                    for b, lr in zip(self.base_lrs, self._current_lrs())]
        ratio = (1 + math.cos(math.pi * epoch / t_max)) \
            / (1 + math.cos(math.pi * (epoch - 1) / t_max))
        return [ratio * (lr - low) + low for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        low = self.eta_min
        return [low + (b - low) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for b in self.base_lrs]
