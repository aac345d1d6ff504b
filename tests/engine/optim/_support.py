"""Shared by the optimizer and scheduler tests: the same small MLP and data in engine and
torch, and a training run of both side by side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import engine
from engine import nn, optim
from engine.optim import lr_scheduler

RNG = np.random.default_rng(3)
X = RNG.standard_normal((40, 5))
Y = RNG.integers(0, 3, 40)
# float32 parameters drift further than the loss: RMSprop-like steps are sign-like for
# gradients near zero, so a parameter near 0 may differ by 1e-4 where the loss agrees
LOSS_RTOL = {"float64": 1e-10, "float32": 1e-4}
PARAM_TOL = {"float64": (1e-10, 1e-12), "float32": (1e-3, 1e-4)}


def models(dtype: str = "float64") -> tuple[nn.Module, torch.nn.Module]:
    """A 5-16-3 tanh MLP in engine and torch with the same (torch's seed-0) weights."""
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    em = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    tm = tm.to(getattr(torch, dtype))
    em = em.to(getattr(engine, dtype))
    em.load_state_dict({k: engine.tensor(v.detach().numpy()) for k, v in
                        tm.state_dict().items()})
    return em, tm


@dataclass
class Run:
    """One side of a training run: model, optimizer, scheduler and what they produced."""

    model: Any
    opt: Any
    sched: Any = None
    losses: list[float] = field(default_factory=list)
    lrs: list[list[float]] = field(default_factory=list)


def twin_runs(name: str, kw: dict[str, Any], dtype: str = "float64",
              sched: tuple[str, dict[str, Any]] | None = None) -> tuple[Run, Run]:
    """The engine and torch runs of optimizer ``name`` (torch's single-tensor form) and
    optionally scheduler ``sched = (name, kwargs)``."""
    em, tm = models(dtype)
    e = Run(em, getattr(optim, name)(em.parameters(), foreach=False, **kw))
    t = Run(tm, getattr(torch.optim, name)(tm.parameters(), foreach=False, **kw))
    if sched is not None:
        sname, skw = sched
        e.sched = getattr(lr_scheduler, sname)(e.opt, **skw)
        t.sched = getattr(torch.optim.lr_scheduler, sname)(t.opt, **skw)
    return e, t


def train(run: Run, steps: int, metric: Callable[[float], float] | None = None) -> None:
    """``steps`` full-batch steps of cross-entropy on ``X, Y``; the scheduler steps after
    each (with ``metric(loss)`` for ReduceLROnPlateau)."""
    lib, fn = (torch, torch.nn.functional) if isinstance(run.model, torch.nn.Module) \
        else (engine, nn.functional)
    dtype = next(run.model.parameters()).dtype
    x, y = lib.tensor(X, dtype=dtype), lib.tensor(Y)
    for _ in range(steps):
        run.opt.zero_grad()
        loss = fn.cross_entropy(run.model(x), y)
        loss.backward()
        run.opt.step()
        run.losses.append(loss.item())
        if run.sched is not None:
            run.sched.step(*(() if metric is None else (metric(loss.item()),)))
            run.lrs.append(run.sched.get_last_lr())


def assert_same_training(e: Run, t: Run, dtype: str = "float64") -> None:
    """Loss trajectories and final parameters agree to the dtype's tolerance."""
    np.testing.assert_allclose(e.losses, t.losses, rtol=LOSS_RTOL[dtype], atol=0)
    rtol, atol = PARAM_TOL[dtype]
    for (n, p), (_, q) in zip(e.model.named_parameters(), t.model.named_parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=rtol,
                                   atol=atol, err_msg=n)


def to_engine_state(sd: dict[str, Any]) -> dict[str, Any]:
    """A torch optimizer state dict with engine tensors in place of torch's."""
    state = {i: {k: engine.tensor(v.numpy().copy()) if isinstance(v, torch.Tensor) else v
                 for k, v in s.items()} for i, s in sd["state"].items()}
    return {"state": state, "param_groups": sd["param_groups"]}


def check_trajectory(name: str, kw: dict[str, Any], dtype: str, steps: int = 200) -> None:
    """``steps`` steps of engine's and torch's optimizer agree (and do train)."""
    e, t = twin_runs(name, kw, dtype)
    train(e, steps)
    train(t, steps)
    assert_same_training(e, t, dtype)
    moved = e.losses[-1] - e.losses[0]
    assert (moved > 0) if kw.get("maximize") else (moved < -0.1), moved


def check_state_layout(name: str, kw: dict[str, Any]) -> None:
    """param_groups, state keys, dtypes and shapes and the repr are torch's."""
    e, t = twin_runs(name, kw)
    assert e.opt.state_dict()["param_groups"] == t.opt.state_dict()["param_groups"]
    assert repr(e.opt) == repr(t.opt)
    train(e, 3)
    train(t, 3)
    esd, tsd = e.opt.state_dict(), t.opt.state_dict()
    assert sorted(esd["state"]) == sorted(tsd["state"]) == [0, 1, 2, 3]
    for i, ts in tsd["state"].items():
        es = esd["state"][i]
        assert list(es) == list(ts)
        for k, v in ts.items():
            assert (es[k].shape, str(es[k].dtype)) == \
                (tuple(v.shape), str(v.dtype).replace("torch.", "engine.")), k
            np.testing.assert_allclose(es[k].numpy(), v.numpy(), rtol=1e-10, atol=1e-14,
                                       err_msg=k)
    assert esd["state"][0]["step"].item() == 3.0


def check_round_trip(name: str, kw: dict[str, Any], steps: int = 30) -> tuple[Run, Run]:
    """Save engine's model and optimizer mid-training, load them into fresh ones (built
    with another lr, which the state dict overrides) and train on: the losses are those
    of the run that was never interrupted, and of torch's run that went through the same
    round trip.  Returns (interrupted, uninterrupted) engine runs."""
    whole, _ = twin_runs(name, kw)
    train(whole, 2 * steps)
    e, t = twin_runs(name, kw)
    train(e, steps)
    train(t, steps)
    em, tm = models()
    em.load_state_dict(e.model.state_dict())
    tm.load_state_dict(t.model.state_dict())
    eo = getattr(optim, name)(em.parameters(), foreach=False, **{**kw, "lr": 0.5})
    to = getattr(torch.optim, name)(tm.parameters(), foreach=False, **{**kw, "lr": 0.5})
    eo.load_state_dict(e.opt.state_dict())
    to.load_state_dict(t.opt.state_dict())
    resumed, tresumed = Run(em, eo, losses=e.losses), Run(tm, to, losses=t.losses)
    train(resumed, steps)
    train(tresumed, steps)
    assert_same_training(resumed, tresumed)
    return resumed, whole


def check_loads_torch_state(name: str, kw: dict[str, Any], steps: int = 20) -> None:
    """A torch optimizer's state dict (tensors made engine tensors) loaded into engine's
    optimizer continues torch's training."""
    _, t = twin_runs(name, kw)
    train(t, steps)
    em, _ = models()
    em.load_state_dict({k: engine.tensor(v.detach().numpy().copy())
                        for k, v in t.model.state_dict().items()})
    e = Run(em, getattr(optim, name)(em.parameters(), lr=0.5))
    e.opt.load_state_dict(to_engine_state(t.opt.state_dict()))
    assert e.opt.param_groups[0]["lr"] == kw.get("lr", t.opt.defaults["lr"])
    t.losses = []
    train(e, steps)
    train(t, steps)
    assert_same_training(e, t)


def config_ids(configs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Readable test ids: ``RAdam-lr=0.005,betas=(0.4, 0.99)`` (``-defaults`` for none)."""
    return [f"{n}-" + (",".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
            for n, kw in configs]
