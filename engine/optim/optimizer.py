"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and state dicts.

Subclasses implement ``_update(group, params)``; each parameter is updated in place
by one fused Numba kernel call (``engine.kernels.optim``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from engine._base import grad_mode
from engine.tensor import Tensor, _reset_grads, _wrap

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


def flat_inplace(t: Tensor) -> np.ndarray:
    """A flat view of ``t``'s buffer for a kernel to write into (made contiguous if needed)."""
    if not t._data.flags.c_contiguous:
        t._data = np.ascontiguousarray(t._data)
    return t._data.reshape(-1)


def flat_or_empty(t: Tensor | None, like: np.ndarray) -> np.ndarray:
    """``t``'s flat buffer, or an empty slice of ``like`` for a state tensor a kernel
    does not touch under the group's options."""
    return flat_inplace(t) if t is not None else like[:0]


def zeros_state(p: Tensor, fill: float = 0.0) -> Tensor:
    """A state tensor shaped and typed like ``p``, filled with ``fill``."""
    return _wrap(np.full_like(p._data, fill))


def step_counter() -> Tensor:
    """A new ``state['step']``: a float32 zero, as torch keeps it."""
    return _wrap(np.zeros((), np.float32))


def first_state(states: dict, p: Tensor, *buffers: str, **extra: Tensor) -> dict[str, Any]:
    """``p``'s state, made on its first step as torch makes it: a step counter, then the
    named zero buffers, in that order, then ``extra`` entries."""
    state = states.setdefault(p, {})
    if not state:
        state["step"] = step_counter()
        for name in buffers:
            state[name] = zeros_state(p)
        state.update(extra)
    return state


def count_step(state: dict[str, Any]) -> float:
    """Add one to ``state['step']`` and return the new count."""
    step = state["step"]
    step._data[...] += 1
    return float(step._data)


def check_lr(lr: Any) -> None:
    """torch's checks of a learning rate: one element if a tensor, not negative."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_non_negative(**options: float) -> None:
    """torch's checks of options that must not be negative, in the order given
    (``epsilon`` is how torch names ``eps`` in its message)."""
    for name, value in options.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {name} value: {value}")


def check_betas(betas: tuple[float, float]) -> None:
    """torch's check of Adam-like ``betas``: each in [0, 1)."""
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")


def flat_grad(p: Tensor) -> np.ndarray:
    g = p._grad._data
    if g.dtype != p._data.dtype:
        g = g.astype(p._data.dtype)
    return np.ascontiguousarray(g).reshape(-1)


class Optimizer:
    """Base class: holds ``param_groups`` (dicts of params and options) and ``state``.

    >>> model = nn.Linear(2, 1)
    >>> opt = engine.optim.SGD(model.parameters(), lr=0.1)
    >>> opt.zero_grad(); model(engine.ones(4, 2)).pow(2).mean().backward(); opt.step()
    >>> len(opt.param_groups), opt.param_groups[0]["lr"]
    (1, 0.1)
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got engine.Tensor")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing ones from the defaults).

        >>> opt = engine.optim.SGD([engine.ones(1, requires_grad=True)], lr=0.1)
        >>> opt.add_param_group({"params": [engine.ones(1, requires_grad=True)], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params "
                                f"is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (default, as torch) or to zeros in place.

        >>> w = engine.ones(2, requires_grad=True); opt = engine.optim.SGD([w], lr=0.1)
        >>> w.sum().backward(); opt.zero_grad(set_to_none=False); w.grad
        tensor([0., 0.])
        >>> opt.zero_grad(); w.grad is None
        True
        """
        _reset_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()`` if given.

        >>> w = engine.tensor([1.0, 2.0], requires_grad=True); opt = engine.optim.SGD([w], lr=0.5)
        >>> def closure():
        ...     opt.zero_grad(); loss = (w * w).sum(); loss.backward(); return loss
        >>> opt.step(closure), w
        (tensor(5., grad_fn=<SumBackward0>), tensor([0., 0.], requires_grad=True))
        """
        loss = None
        if closure is not None:
            with grad_mode.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p._grad is not None]
            self._update(group, params)
            for p in params:
                p._vc[0] += 1
        return loss

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        raise NotImplementedError

    def _plan_update(self) -> tuple[str, Callable[[dict[str, Any]], tuple]] | None:
        """How ``engine.plan`` replays this optimizer's step in its interpreter: the
        update kind and a function reading a group's options in the order that update
        takes them (the last item says which state tensors it keeps, so a change of it
        means capturing again).  None: the plan cannot replay it and stays eager."""
        return None

    # -- state dicts ----------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``.

        >>> w = engine.ones(2, requires_grad=True); opt = engine.optim.SGD([w], lr=0.1)
        >>> sd = opt.state_dict(); sd["state"], sd["param_groups"][0]["params"]
        ({}, [0])
        """
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state saved by ``state_dict`` (tensors are copied).

        >>> w = engine.ones(2, requires_grad=True)
        >>> a, b = engine.optim.Adam([w], lr=0.5), engine.optim.Adam([w])
        >>> b.load_state_dict(a.state_dict()); b.param_groups[0]["lr"]
        0.5
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(a["params"]) != len(b["params"])
               for a, b in zip(saved_groups, self.param_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        by_index = {}
        for saved, group in zip(saved_groups, self.param_groups):
            for i, p in zip(saved["params"], group["params"]):
                by_index[i] = p
        self.state = {}
        for i, s in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {k: _copy_state(k, v, p) for k, v in s.items()}
        for saved, group in zip(saved_groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = copy.deepcopy(v)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)


def _copy_state(key: str, value: Any, p: Tensor) -> Any:
    if isinstance(value, Tensor):
        data = value._data
        if key != "step" and data.dtype.kind == "f":
            data = data.astype(p._data.dtype)
        return _wrap(np.array(data, copy=True))
    return copy.deepcopy(value)
