"""Adam and AdamW (optionally AMSGrad), each parameter updated by one fused kernel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.kernels.optim import adam_step
from engine.optim import optimizer as opt
from engine.optim.optimizer import Optimizer, ParamsT
from engine.tensor import Tensor


class Adam(Optimizer):
    """torch's Adam: moment estimates with bias correction; ``weight_decay`` adds an L2 term
    to the gradient (AdamW decouples it instead).

    >>> w = engine.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = engine.optim.Adam([w], lr=0.1, amsgrad=True)
    >>> (w * w).sum().backward(); opt.step(); w     # a first step moves each by ~lr
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    _decoupled = False

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool | None = None) -> None:
        opt.check_lr(lr)
        opt.check_non_negative(epsilon=eps)
        opt.check_betas(betas)
        opt.check_non_negative(weight_decay=weight_decay)
        decoupled = self._decoupled if decoupled_weight_decay is None else decoupled_weight_decay
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled}
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        beta1, beta2 = group["betas"]
        amsgrad = bool(group["amsgrad"])
        for p in params:
            state = opt.first_state(self.state, p, "exp_avg", "exp_avg_sq",
                                    *(("max_exp_avg_sq",) if amsgrad else ()))
            step = opt.count_step(state)
            vmax = state.get("max_exp_avg_sq")
            pf = opt.flat_inplace(p)
            adam_step(pf, opt.flat_grad(p), opt.flat_inplace(state["exp_avg"]),
                      opt.flat_inplace(state["exp_avg_sq"]),
                      opt.flat_inplace(vmax) if vmax is not None else pf[:0],
                      float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                      float(group["weight_decay"]), step, float(amsgrad),
                      float(group["maximize"]), float(group["decoupled_weight_decay"]))

    def _plan_update(self) -> tuple[str, Callable[[dict[str, Any]], tuple]] | None:
        """Adam's (and AdamW's) update for ``engine.plan``; not a subclass's, whose step()
        may differ."""
        return ("adam", _plan_hyper) if type(self) in (Adam, AdamW) else None


def _plan_hyper(g: dict[str, Any]) -> tuple:
    b1, b2 = g["betas"]
    return (g["lr"], b1, b2, g["eps"], g["weight_decay"], g["amsgrad"], g["maximize"],
            g["decoupled_weight_decay"], g["amsgrad"])


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the step.

    >>> w = engine.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = engine.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.sum().backward(); opt.step(); w       # w * (1 - 0.05) - 0.1
    tensor([0.8500, 1.8000], requires_grad=True)
    """

    _decoupled = True

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, **kwargs)
