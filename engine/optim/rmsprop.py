"""RMSprop (optionally centered, with momentum), each parameter updated by one fused kernel."""

from __future__ import annotations

from typing import Any

from engine.kernels.optim import rmsprop_step
from engine.optim import optimizer as opt
from engine.optim.optimizer import Optimizer, ParamsT
from engine.tensor import Tensor


class RMSprop(Optimizer):
    """torch's RMSprop: divide the gradient by the root of a running mean of its square
    (``centered``: of its variance), optionally through a momentum buffer.

    >>> w = engine.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = engine.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward(); opt.step(); w     # a first step moves each by lr / sqrt(0.01)
    tensor([ 0.9000, -1.9000], requires_grad=True)
    >>> sorted(opt.state[w])
    ['square_avg', 'step']
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        opt.check_lr(lr)
        opt.check_non_negative(epsilon=eps, momentum=momentum, weight_decay=weight_decay,
                           alpha=alpha)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        momentum, centered = float(group["momentum"]), bool(group["centered"])
        for p in params:
            state = opt.first_state(self.state, p, "square_avg",
                                    *(("momentum_buffer",) if momentum > 0 else ()),
                                    *(("grad_avg",) if centered else ()))
            opt.count_step(state)
            pf = opt.flat_inplace(p)
            # as in torch, a state missing for an option switched on later is a KeyError
            gavg = opt.flat_inplace(state["grad_avg"]) if centered else pf[:0]
            buf = state["momentum_buffer"] if momentum > 0 else None
            rmsprop_step(pf, opt.flat_grad(p), opt.flat_inplace(state["square_avg"]), gavg,
                         opt.flat_or_empty(buf, pf), float(group["lr"]), float(group["alpha"]),
                         float(group["eps"]), float(group["weight_decay"]), momentum,
                         float(centered), float(group["maximize"]))
