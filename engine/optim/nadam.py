"""NAdam (Adam with Nesterov momentum), each parameter updated by one fused kernel."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.kernels.optim import nadam_step
from engine.optim import optimizer as opt
from engine.optim.optimizer import Optimizer, ParamsT
from engine.tensor import Tensor, _wrap


class NAdam(Optimizer):
    """torch's NAdam: Adam whose momentum looks one step ahead, with the momentum
    coefficient warmed up by ``momentum_decay`` (Dozat's schedule); ``decoupled_weight_decay``
    makes it NAdamW.

    >>> w = engine.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = engine.optim.NAdam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w   # by lr * (1 + 0.1 * mu_next / (1 - mu * mu_next))
    tensor([ 0.8944, -1.8944], requires_grad=True)
    >>> opt.state[w]["mu_product"].dtype    # kept in float32, as torch keeps it
    engine.float32
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        opt.check_lr(lr)
        opt.check_non_negative(epsilon=eps)
        opt.check_betas(betas)
        opt.check_non_negative(weight_decay=weight_decay, momentum_decay=momentum_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        beta1, beta2 = (float(b) for b in group["betas"])
        decay = float(group["momentum_decay"])
        for p in params:
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = opt.step_counter()
                state["mu_product"] = _wrap(np.ones((), np.float32))
                state["exp_avg"] = opt.zeros_state(p)
                state["exp_avg_sq"] = opt.zeros_state(p)
            step = opt.count_step(state)
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * decay)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * decay)))
            # the product is rounded to its tensor's dtype each step, as torch's is
            product = state["mu_product"]._data
            np.multiply(product, mu, out=product)
            nadam_step(opt.flat_inplace(p), opt.flat_grad(p), opt.flat_inplace(state["exp_avg"]),
                       opt.flat_inplace(state["exp_avg_sq"]), float(group["lr"]), beta1, beta2,
                       float(group["eps"]), float(group["weight_decay"]), step, mu, mu_next,
                       float(product), float(group["decoupled_weight_decay"]),
                       float(group["maximize"]))
