"""What the lab does to parameters: zero their gradients, detach, SGD steps, training.

Each function acts on a :class:`~gui.model.session.Session` through its state and
reports through its log, code and event channels, as the session's own methods do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

import engine
from gui.i18n import tr
from gui.model.config import MAX_ABS_VALUE, tensor_specs
from gui.model.graph_model import norm
from gui.model.network import forward_env

if TYPE_CHECKING:  # these functions serve the session, whose module imports this one
    from gui.model.session import Session


def zero_grads(s: Session) -> None:
    """``p.grad.zero_()`` for every leaf with a gradient, as the tutorial does."""
    names = [k for k in s.params() if s.tensors[k].grad is not None]
    for k in names:
        s.tensors[k].grad.zero_()
    if names:
        s.calls_since_zero = 0
        s.zeroed_since_call = True
        s.show_code("\n".join(f"{k}.grad.zero_()" for k in names))
        s.log(tr("Gradients zeroed: {names}.", names=", ".join(names)))
    else:
        s.log(tr("No gradients to zero yet."))
    s.emit("state")


def toggle_detach(s: Session, name: str) -> None:
    """Cut (or restore) the graph at tensor ``name`` and run forward again."""
    if s.mode != "network":
        s.log(tr("Detach works on the built-in networks, not on scripts."), "warning")
        return
    if name not in s.tensors or name == s.root_name:
        s.log(tr("Select a tensor other than the loss to detach."), "warning")
        return
    if name in s.detached:
        s.detached.discard(name)
        s.log(tr("{name} is attached to the graph again.", name=name))
    else:
        s.detached.add(name)
        s.show_code(f"{name} = {name}.detach()")
        s.log(tr("{name} detached: its branch no longer receives gradients.", name=name))
    s.forward()
    s.mark_unsaved()


def sgd_step(s: Session) -> None:
    """``p -= lr * p.grad`` under ``no_grad`` for every parameter, then forward."""
    if s.mode != "network":  # Forward re-runs the script, which would undo the step
        s.log(tr("The SGD step works on the built-in networks, not on scripts."), "warning")
        return
    names = [k for k in s.params() if s.tensors[k].grad is not None]
    if not names:
        s.log(tr("Run backward first: no parameter has a gradient yet."), "warning")
        return
    s.stepper.abandon()
    lr = s.lr
    with engine.no_grad():
        for k in names:
            s.tensors[k].sub_(s.tensors[k].grad * lr)
    _store_params(s)
    body = "\n".join(f"    {k} -= {lr:g} * {k}.grad" for k in names)
    s.show_code(f"with torch.no_grad():\n{body}")
    s.log(tr("SGD step with lr={lr:g} on {names}.", lr=lr, names=", ".join(names)))
    s.forward(quiet=True, code=False)
    s.mark_unsaved()


def _store_params(s: Session) -> None:
    """Copy the trained parameters into the configuration.

    A parameter that diverged (NaN, ±inf or beyond ±1e6) is clamped into range, NaN
    becoming 0, so the configuration stays valid; the leaf is replaced to match and
    the change is reported as an error (which also pauses training).
    """
    cfg = s.live_config
    clamped = []
    for spec in tensor_specs(cfg):
        if not spec.param:
            continue
        arr = s.leaves[spec.name].detach().numpy().astype(float)
        if not (np.isfinite(arr).all() and np.abs(arr).max(initial=0) <= MAX_ABS_VALUE):
            clamped.append(spec.name)
            arr = np.clip(np.nan_to_num(arr, nan=0.0), -MAX_ABS_VALUE, MAX_ABS_VALUE)
            old = s.leaves[spec.name]
            s.leaves[spec.name] = engine.tensor(arr, dtype=engine.float32,
                                                requires_grad=old.requires_grad)
        cfg.values[spec.name] = np.round(arr, 6).tolist()
    s.emit("config")
    if clamped:
        msg = tr("Training diverged: {names} left the range ±1e6 (or became NaN) and "
                 "were clamped.", names=", ".join(clamped))
        s.log(msg, "error")
        s.emit("error", message=msg,
               hint=tr("Lower the learning rate, or press Reset to start again."))


def train(s: Session, steps: int = 1) -> float | None:
    """``steps`` rounds of zero_grad, forward, backward and SGD; returns the last loss."""
    if s.mode != "network" or s.root_name != "loss":
        s.log(tr("Training needs a network with a scalar loss."), "warning")
        return None
    s.stepper.abandon()
    lr = s.lr
    for _ in range(steps):
        names = s.params()
        for k in names:
            if s.tensors[k].grad is not None:
                s.tensors[k].grad.zero_()
        env, _ = forward_env(s.live_config, s.leaves, s.detached, s.no_grad)
        loss = env["loss"]
        s.losses.append(float(loss.item()))
        try:
            loss.backward()
        except RuntimeError as e:
            s.report_error(e, "loss.backward()")
            s.emit("state")  # the grads were zeroed above: show it
            s.emit("history")
            return None
        with engine.no_grad():
            for k in names:
                if s.tensors[k].grad is not None:
                    s.tensors[k].sub_(s.tensors[k].grad * lr)
        s.backward_calls += 1
        s.grad_norms.append({k: norm(s.tensors[k].grad.numpy())
                             for k in names if s.tensors[k].grad is not None})
    s.calls_since_zero = 1
    _store_params(s)
    del s.losses[-1]  # the forward below records the loss after the last update
    s.forward(quiet=True, code=False, probe=False)
    s.mark_unsaved()
    return s.losses[-1] if s.losses else None
