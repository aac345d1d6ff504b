"""Adagrad (with learning-rate decay), each parameter updated by one fused kernel."""

from __future__ import annotations

from typing import Any

from engine.kernels.optim import adagrad_step
from engine.optim import optimizer as opt
from engine.optim.optimizer import Optimizer, ParamsT
from engine.tensor import Tensor


class Adagrad(Optimizer):
    """torch's Adagrad: divide the gradient by the root of the sum of its squares so far,
    at the rate ``lr / (1 + (step - 1) * lr_decay)``.  As in torch, every parameter's
    state exists from the start (``initial_accumulator_value`` fills ``sum``).

    >>> w = engine.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = engine.optim.Adagrad([w], lr=0.5, initial_accumulator_value=0.1)
    >>> opt.state[w]["sum"]
    tensor([0.1000, 0.1000])
    >>> (w * w).sum().backward(); opt.step(); w     # 1 - 0.5 * 2 / sqrt(4.1), ...
    tensor([ 0.5061, -1.5016], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        opt.check_lr(lr)
        opt.check_non_negative(lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, epsilon=eps)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value,
                    "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p: Tensor) -> dict[str, Any]:
        # torch fills every group's sums with the constructor's value, not the group's
        start = self.defaults["initial_accumulator_value"]
        state = self.state[p] = {"step": opt.step_counter(), "sum": opt.zeros_state(p, start)}
        return state

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        lr, lr_decay = float(group["lr"]), float(group["lr_decay"])
        for p in params:
            state = self.state.get(p) or self._init_state(p)
            step = opt.count_step(state)
            clr = lr / (1 + (step - 1) * lr_decay)
            adagrad_step(opt.flat_inplace(p), opt.flat_grad(p), opt.flat_inplace(state["sum"]), clr,
                         float(group["eps"]), float(group["weight_decay"]),
                         float(group["maximize"]))
