"""Adadelta, each parameter updated by one fused kernel."""

from __future__ import annotations

from typing import Any

from engine.kernels.optim import adadelta_step
from engine.optim import optimizer as opt
from engine.optim.optimizer import Optimizer, ParamsT
from engine.tensor import Tensor


class Adadelta(Optimizer):
    """torch's Adadelta: scale the gradient by the ratio of running roots of the squared
    updates and the squared gradients (``lr`` multiplies that step, 1.0 by default).

    >>> w = engine.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = engine.optim.Adadelta([w], rho=0.5, eps=1e-2)
    >>> (w * w).sum().backward(); opt.step(); w     # 1 - 2 * sqrt(0.01 / 2.01), ...
    tensor([ 0.8589, -1.8587], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        opt.check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        opt.check_non_negative(epsilon=eps, weight_decay=weight_decay)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        for p in params:
            state = opt.first_state(self.state, p, "square_avg", "acc_delta")
            opt.count_step(state)
            adadelta_step(opt.flat_inplace(p), opt.flat_grad(p),
                          opt.flat_inplace(state["square_avg"]),
                          opt.flat_inplace(state["acc_delta"]), float(group["lr"]),
                          float(group["rho"]), float(group["eps"]),
                          float(group["weight_decay"]), float(group["maximize"]))
