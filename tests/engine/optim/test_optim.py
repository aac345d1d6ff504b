"""engine.optim against torch.optim: same model, data, initial weights and options give
the same loss trajectory step for step (float64, rtol 1e-10), with and without
learning-rate schedulers; plus state dicts, zero_grad and the fused kernels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import engine
from engine import nn, optim
from engine.optim import lr_scheduler
from tests.engine._support.autograd_helpers import same_error
from tests.engine.optim._support import X, Y, models


def trajectories(name: str, kw: dict[str, Any], steps: int = 25, sched: tuple | None = None,
                 dtype: str = "float64") -> tuple[np.ndarray, np.ndarray, list, list]:
    em, tm = models(dtype)
    eo = getattr(optim, name)(em.parameters(), **kw)
    to = getattr(torch.optim, name)(tm.parameters(), **kw)
    es = ts = None
    if sched is not None:
        sname, skw = sched
        es = getattr(lr_scheduler, sname)(eo, **skw)
        ts = getattr(torch.optim.lr_scheduler, sname)(to, **skw)
    ex, ey = engine.tensor(X, dtype=getattr(engine, dtype)), engine.tensor(Y)
    tx, ty = torch.tensor(X, dtype=getattr(torch, dtype)), torch.tensor(Y)
    el, tl, elr, tlr = [], [], [], []
    for _ in range(steps):
        eo.zero_grad()
        loss = nn.functional.cross_entropy(em(ex), ey)
        loss.backward()
        eo.step()
        el.append(loss.item())
        to.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(tx), ty)
        loss.backward()
        to.step()
        tl.append(loss.item())
        if es is not None:
            es.step()
            ts.step()
            elr.append(es.get_last_lr())
            tlr.append(ts.get_last_lr())
    for (n, p), (_, q) in zip(em.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(),
                                   rtol=1e-10 if dtype == "float64" else 1e-4, atol=1e-12,
                                   err_msg=n)
    return np.array(el), np.array(tl), elr, tlr


CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01, "nesterov": True}),
    ("SGD", {"lr": 0.01, "momentum": 0.5, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.01, "amsgrad": True, "maximize": True}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.9)}),  # lerp's other branch (weight >= 0.5)
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]


@pytest.mark.parametrize("name,kw", CONFIGS, ids=lambda v: v if isinstance(v, str) else
                         ",".join(f"{k}={x}" for k, x in v.items()))
def test_loss_trajectory_matches_torch(name: str, kw: dict[str, Any]) -> None:
    el, tl, _, _ = trajectories(name, kw)
    np.testing.assert_allclose(el, tl, rtol=1e-10, atol=0)
    assert el[-1] < el[0] or kw.get("maximize")


@pytest.mark.parametrize("name,kw", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                     ("Adam", {"lr": 0.01, "amsgrad": True})])
def test_float32_trajectory_close_to_torch(name: str, kw: dict[str, Any]) -> None:
    el, tl, _, _ = trajectories(name, kw, dtype="float32")
    np.testing.assert_allclose(el, tl, rtol=1e-4)


@pytest.mark.parametrize("name,kw,sched", [
    ("SGD", {"lr": 0.5, "momentum": 0.5}, ("StepLR", {"step_size": 4, "gamma": 0.5})),
    ("Adam", {"lr": 0.05}, ("ExponentialLR", {"gamma": 0.9})),
    ("AdamW", {"lr": 0.05}, ("StepLR", {"step_size": 3})),
])
def test_schedulers_match_torch(name: str, kw: dict[str, Any], sched: tuple) -> None:
    el, tl, elr, tlr = trajectories(name, kw, sched=sched)
    np.testing.assert_allclose(el, tl, rtol=1e-10, atol=0)
    assert elr == tlr
    assert len({lr[0] for lr in elr}) > 2


def test_state_dict_round_trip_resumes_exactly() -> None:
    def run(split: bool) -> list[float]:
        em, _ = models()
        opt = optim.Adam(em.parameters(), lr=0.01, amsgrad=True)
        ex, ey = engine.tensor(X, dtype=engine.float64), engine.tensor(Y)
        losses = []
        for i in range(10):
            if split and i == 5:
                saved_model, saved_opt = em.state_dict(), opt.state_dict()
                em, _ = models()
                em.load_state_dict(saved_model)
                opt = optim.Adam(em.parameters(), lr=0.5)  # options come back from the dict
                opt.load_state_dict(saved_opt)
            opt.zero_grad()
            loss = nn.functional.cross_entropy(em(ex), ey)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    assert run(True) == run(False)


def test_state_dict_layout_matches_torch() -> None:
    em, tm = models()
    eo, to = optim.SGD(em.parameters(), lr=0.1, momentum=0.9), \
        torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    esd, tsd = eo.state_dict(), to.state_dict()
    assert esd["param_groups"] == tsd["param_groups"]
    em(engine.tensor(X, dtype=engine.float64)).sum().backward()
    tm(torch.tensor(X)).sum().backward()
    eo.step()
    to.step()
    esd, tsd = eo.state_dict(), to.state_dict()
    assert sorted(esd["state"]) == sorted(tsd["state"]) == [0, 1, 2, 3]
    assert set(esd["state"][0]) == set(tsd["state"][0]) == {"momentum_buffer"}
    ea, ta = optim.Adam(em.parameters(), amsgrad=True), torch.optim.Adam(tm.parameters(),
                                                                          amsgrad=True)
    assert ea.state_dict()["param_groups"] == ta.state_dict()["param_groups"]
    ea.step()
    ta.step()
    assert set(ea.state_dict()["state"][0]) == set(ta.state_dict()["state"][0])
    assert ea.state_dict()["state"][0]["step"].item() == 1.0
    assert repr(ea).splitlines()[:3] == repr(ta).splitlines()[:3]


def test_zero_grad_and_param_groups() -> None:
    em, _ = models()
    first, last = em[0], em[2]
    opt = optim.SGD([{"params": first.parameters()}, {"params": last.parameters(), "lr": 1.0}],
                    lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    em(engine.tensor(X, dtype=engine.float64)).sum().backward()
    before = last.bias.detach().numpy().copy()
    grad = last.bias.grad.numpy().copy()
    v = last.bias._version
    opt.step()
    np.testing.assert_allclose(last.bias.detach().numpy(), before - 1.0 * grad)
    assert last.bias._version == v + 1
    opt.zero_grad(set_to_none=False)
    assert last.bias.grad.abs().sum().item() == 0
    opt.zero_grad()
    assert last.bias.grad is None
    opt.step()  # parameters without gradients are skipped
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [last.bias]})
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD(em.parameters(), lr=0.1, nesterov=True)


def test_step_with_closure() -> None:
    w = engine.tensor([1.0, -2.0], dtype=engine.float64, requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure() -> engine.Tensor:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 5.0
    assert w.tolist() == [0.5, -1.0]


def test_one_fused_kernel_call_per_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.optim import adam as adam_mod
    from engine.optim import sgd as sgd_mod

    calls: list[int] = []
    for mod, name in ((sgd_mod, "sgd_step"), (adam_mod, "adam_step")):
        real = getattr(mod, name)

        def counting(*args: Any, _real: Any = real) -> None:
            calls.append(args[0].size)
            _real(*args)

        monkeypatch.setattr(mod, name, counting)
    em, _ = models()
    em(engine.tensor(X, dtype=engine.float64)).sum().backward()
    optim.SGD(em.parameters(), lr=0.1, momentum=0.9).step()
    optim.Adam(em.parameters()).step()
    assert calls == [80, 16, 48, 3] * 2


def test_kernels_update_in_place() -> None:
    from engine.kernels.optim import adam_step, sgd_step

    p, g, buf = np.ones(4), np.full(4, 0.5), np.zeros(4)
    ref = p
    sgd_step(p, g, buf, 0.1, 0.9, 0.0, 0.0, 0.0, 0.0, 1.0)
    assert p is ref
    np.testing.assert_allclose(p, 0.95)
    np.testing.assert_allclose(buf, 0.5)
    p32 = np.ones(3, np.float32)
    m, v, vmax = np.zeros(3, np.float32), np.zeros(3, np.float32), np.zeros(0, np.float32)
    adam_step(p32, np.ones(3, np.float32), m, v, vmax, 0.1, 0.9, 0.999, 1e-8, 0.0, 1.0, 0.0,
              0.0, 0.0)
    np.testing.assert_allclose(p32, 0.9, rtol=1e-6)  # the first Adam step moves by lr


@pytest.mark.parametrize("kw", [{"lr": float("nan")}, {"lr": -1}, {"eps": -1},
                                {"betas": (0.9, 1.0)}, {"weight_decay": -1},
                                {"lr": engine.ones(2)}], ids=str)
def test_adam_invalid_options_raise_torchs_errors(kw: dict[str, Any]) -> None:
    tkw = {k: torch.ones(2) if isinstance(v, engine.Tensor) else v for k, v in kw.items()}
    same_error(lambda: optim.Adam([engine.ones(1, requires_grad=True)], **kw),
               lambda: torch.optim.Adam([torch.ones(1, requires_grad=True)], **tkw))
