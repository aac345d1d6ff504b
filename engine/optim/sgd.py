"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.kernels.optim import sgd_step
from engine.optim.optimizer import Optimizer, ParamsT, flat_grad, flat_inplace
from engine.tensor import Tensor, _wrap


class SGD(Optimizer):
    """torch's SGD, step for step; each parameter update is one fused Numba kernel.

    >>> w = engine.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = engine.optim.SGD([w], lr=0.1, momentum=0.9, nesterov=True)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([0.6200, 1.2400], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        momentum = float(group["momentum"])
        for p in params:
            state = self.state.setdefault(p, {}) if momentum != 0 else {}
            buf = state.get("momentum_buffer")
            first = momentum != 0 and buf is None
            if first:
                buf = _wrap(np.empty_like(p._data))
                state["momentum_buffer"] = buf
            buf_flat = flat_inplace(buf) if buf is not None else flat_inplace(p)[:0]
            sgd_step(flat_inplace(p), flat_grad(p), buf_flat, float(group["lr"]), momentum,
                     float(group["dampening"]), float(group["weight_decay"]),
                     float(group["nesterov"]), float(group["maximize"]), float(first))

    def _plan_update(self) -> tuple[str, Callable[[dict[str, Any]], tuple]] | None:
        """SGD's update for ``engine.plan``; not a subclass's, whose step() may differ."""
        return ("sgd", _plan_hyper) if type(self) is SGD else None


def _plan_hyper(g: dict[str, Any]) -> tuple:
    return (g["lr"], g["momentum"], g["dampening"], g["weight_decay"], g["nesterov"],
            g["maximize"], g["momentum"] != 0)
