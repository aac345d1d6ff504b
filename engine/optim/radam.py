"""RAdam (rectified Adam), each parameter updated by one fused kernel."""

from __future__ import annotations

from typing import Any

from engine.kernels.optim import radam_step
from engine.optim import optimizer as opt
from engine.optim.optimizer import Optimizer, ParamsT
from engine.tensor import Tensor


class RAdam(Optimizer):
    """torch's RAdam: Adam whose adaptive step is rectified by the variance of its
    estimate, and plain bias-corrected momentum while that estimate is too young (the
    approximated SMA length at most 5: the first five steps with the default betas);
    ``decoupled_weight_decay`` makes it RAdamW.

    >>> w = engine.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = engine.optim.RAdam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w     # the first step is lr * grad
    tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        opt.check_lr(lr)
        opt.check_non_negative(epsilon=eps)
        opt.check_betas(betas)
        opt.check_non_negative(weight_decay=weight_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        beta1, beta2 = (float(b) for b in group["betas"])
        for p in params:
            state = opt.first_state(self.state, p, "exp_avg", "exp_avg_sq")
            step = opt.count_step(state)
            radam_step(opt.flat_inplace(p), opt.flat_grad(p), opt.flat_inplace(state["exp_avg"]),
                       opt.flat_inplace(state["exp_avg_sq"]), float(group["lr"]), beta1, beta2,
                       float(group["eps"]), float(group["weight_decay"]), step,
                       float(group["decoupled_weight_decay"]), float(group["maximize"]))
