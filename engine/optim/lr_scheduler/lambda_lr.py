"""Schedules given by a function of the epoch: ``LambdaLR`` (the base rate times
``f(epoch)``) and ``MultiplicativeLR`` (the current rate times ``f(epoch)``)."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from engine.optim.lr_scheduler.base import LRScheduler
from engine.optim.optimizer import Optimizer

LrLambda = Callable[[int], float]


class _LambdaScheduler(LRScheduler):
    """One function per param group; state dicts hold a callable object's ``__dict__``
    (None for a plain function or lambda, which cannot be saved), as torch's do."""

    def __init__(self, optimizer: Optimizer, lr_lambda: LrLambda | list[LrLambda],
                 last_epoch: int = -1) -> None:
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"Expected {n} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        self._check_lambdas()
        super().__init__(optimizer, last_epoch)

    def _check_lambdas(self) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        sd = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        sd["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
                            for fn in self.lr_lambdas]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict["lr_lambdas"]
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "lr_lambdas"})
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                fn.__dict__.update(attrs)


class LambdaLR(_LambdaScheduler):
    """Set the rate to the base rate times ``lr_lambda(epoch)``.

    >>> opt = engine.optim.SGD([engine.ones(1, requires_grad=True)], lr=2.0)
    >>> sched = engine.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (epoch + 1))
    >>> for _ in range(3): opt.step(); sched.step()
    >>> sched.get_last_lr()
    [0.5]
    """

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        return [b * fn(self.last_epoch) for fn, b in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaScheduler):
    """Multiply the rate by ``lr_lambda(epoch)`` every epoch.

    >>> opt = engine.optim.SGD([engine.ones(1, requires_grad=True)], lr=1.0)
    >>> sched = engine.optim.lr_scheduler.MultiplicativeLR(opt, lambda epoch: 0.5)
    >>> for _ in range(3): opt.step(); sched.step()
    >>> sched.get_last_lr()
    [0.125]
    """

    def _check_lambdas(self) -> None:
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        if self._is_initial:
            return self._current_lrs()
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, self._current_lrs())]
