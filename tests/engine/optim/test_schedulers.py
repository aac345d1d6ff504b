"""Learning-rate schedulers against torch's: the rate (and OneCycleLR's momentum or beta1)
of every param group over 250+ steps, equal to the last bit; with optimizers in training;
state dicts (same keys and values) and round trips mid-schedule; torch's errors and
warnings."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch

import engine
from engine import optim
from engine.optim import lr_scheduler
from tests.engine._support.autograd_helpers import same_error
from tests.engine.optim._support import assert_same_training, train, twin_runs

STEPS = 260


def metric(epoch: int) -> float:
    """A loss-like metric that improves, stalls and jitters, for ReduceLROnPlateau."""
    return 1.0 / (1 + min(epoch, 40) + max(0, epoch - 120) // 7) + 1e-3 * math.sin(epoch)


SCHEDULES = [
    ("StepLR", {"step_size": 7, "gamma": 0.7}),
    ("MultiStepLR", {"milestones": [10, 30, 30, 200], "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.99}),
    ("CosineAnnealingLR", {"T_max": 50}),
    ("CosineAnnealingLR", {"T_max": 37, "eta_min": 0.003}),  # many cycles past T_max
    ("LambdaLR", {"lr_lambda": lambda e: 0.97 ** e + 0.01 * (e % 5)}),
    ("LambdaLR", {"lr_lambda": [lambda e: 1 / (e + 1), lambda e: 0.5 ** (e // 30)]}),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.99 if e % 3 else 1.01}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS}),
    ("OneCycleLR", {"max_lr": [0.5, 1.0], "epochs": 13, "steps_per_epoch": 20,
                    "anneal_strategy": "linear", "pct_start": 0.25}),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": STEPS, "three_phase": True,
                    "div_factor": 10.0, "final_div_factor": 100.0,
                    "base_momentum": [0.8, 0.7], "max_momentum": 0.9}),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": STEPS, "cycle_momentum": False}),
    ("ReduceLROnPlateau", {"patience": 3, "factor": 0.5}),
    ("ReduceLROnPlateau", {"mode": "max", "threshold_mode": "abs", "threshold": 1e-3,
                           "cooldown": 4, "min_lr": [0.01, 0.02], "patience": 2}),
    ("ReduceLROnPlateau", {"threshold": 0.05, "eps": 0.005, "factor": 0.9, "patience": 0}),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)]


def two_group_optimizers(name: str = "SGD", **kw: Any) -> tuple[Any, Any]:
    ew = [engine.ones(2, requires_grad=True), engine.ones(3, requires_grad=True)]
    tw = [torch.ones(2, requires_grad=True), torch.ones(3, requires_grad=True)]
    kw = {"momentum": 0.9, **kw} if name == "SGD" else kw
    return (getattr(optim, name)([{"params": ew[:1]}, {"params": ew[1:], "lr": 0.05}],
                                 lr=0.1, **kw),
            getattr(torch.optim, name)([{"params": tw[:1]}, {"params": tw[1:], "lr": 0.05}],
                                       lr=0.1, **kw))


def step_both(eo: Any, es: Any, to: Any, ts: Any, epoch: int) -> None:
    eo.step()
    to.step()
    arg = () if not isinstance(es, lr_scheduler.ReduceLROnPlateau) else (metric(epoch),)
    es.step(*arg)
    ts.step(*arg)


def momenta(opt: Any) -> list[Any]:
    return [g.get("betas", g.get("momentum")) for g in opt.param_groups]


# every schedule with SGD (with momentum), and OneCycleLR, which cycles beta1, with Adam
RATE_CASES = [(n, kw, "SGD") for n, kw in SCHEDULES] + \
    [(n, kw, "Adam") for n, kw in SCHEDULES if n == "OneCycleLR"]


@pytest.mark.parametrize("name,kw,opt_name", RATE_CASES,
                         ids=[f"{i}-{n}-{o}" for i, (n, _, o) in enumerate(RATE_CASES)])
def test_rates_equal_torchs_over_many_steps(name: str, kw: dict[str, Any],
                                            opt_name: str) -> None:
    eo, to = two_group_optimizers(opt_name)
    es, ts = getattr(lr_scheduler, name)(eo, **kw), \
        getattr(torch.optim.lr_scheduler, name)(to, **kw)
    assert es.get_last_lr() == ts.get_last_lr()
    seen = set()
    for epoch in range(STEPS - 1 if name == "OneCycleLR" else STEPS):
        step_both(eo, es, to, ts, epoch)
        assert es.get_last_lr() == ts.get_last_lr(), epoch
        assert [g["lr"] for g in eo.param_groups] == [g["lr"] for g in to.param_groups]
        assert momenta(eo) == momenta(to), epoch
        seen.add(es.get_last_lr()[0])
    assert len(seen) > (1 if name == "ReduceLROnPlateau" else 3)  # the rate did move
    assert es.state_dict().keys() == ts.state_dict().keys()


@pytest.mark.parametrize("opt_name,okw,sched", [
    ("Adam", {"lr": 0.01}, ("OneCycleLR", {"max_lr": 0.02, "total_steps": 200})),
    ("SGD", {"lr": 0.1, "momentum": 0.9},
     ("OneCycleLR", {"max_lr": 0.3, "total_steps": 200, "three_phase": True})),
    ("RMSprop", {"lr": 0.003}, ("CosineAnnealingLR", {"T_max": 30, "eta_min": 1e-4})),
    ("NAdam", {"lr": 0.01}, ("MultiStepLR", {"milestones": [50, 120], "gamma": 0.3})),
    ("RAdam", {"lr": 0.02}, ("OneCycleLR", {"max_lr": 0.02, "total_steps": 200,
                                            "anneal_strategy": "linear"})),
    ("Adagrad", {"lr": 0.1}, ("LambdaLR", {"lr_lambda": lambda e: 1 / (1 + e / 20)})),
    ("Adadelta", {}, ("ExponentialLR", {"gamma": 0.995})),
    ("SGD", {"lr": 0.2, "momentum": 0.5}, ("ReduceLROnPlateau", {"patience": 1,
                                                                 "threshold": 0.05})),
], ids=lambda v: v if isinstance(v, str) else None)
def test_training_with_a_schedule_matches_torch(opt_name: str, okw: dict[str, Any],
                                                sched: tuple) -> None:
    e, t = twin_runs(opt_name, okw, sched=sched)
    plateau = sched[0] == "ReduceLROnPlateau"
    train(e, 200, metric=(lambda loss: loss) if plateau else None)
    train(t, 200, metric=(lambda loss: loss) if plateau else None)
    assert_same_training(e, t)
    assert e.lrs == t.lrs
    assert len({lr[0] for lr in e.lrs}) > 2


@pytest.mark.parametrize("name,kw", SCHEDULES, ids=IDS)
def test_state_dict_matches_torch_and_round_trip_continues(name: str,
                                                          kw: dict[str, Any]) -> None:
    eo, to = two_group_optimizers()
    es, ts = getattr(lr_scheduler, name)(eo, **kw), \
        getattr(torch.optim.lr_scheduler, name)(to, **kw)
    for epoch in range(100):
        step_both(eo, es, to, ts, epoch)
    esd, tsd = es.state_dict(), ts.state_dict()
    assert esd.keys() == tsd.keys()
    assert {k: v for k, v in esd.items() if k != "lr_lambdas"} == \
        {k: v for k, v in tsd.items() if k != "lr_lambdas"}
    # a fresh optimizer and scheduler, made as at the start, resume from the state dicts
    eo2, _ = two_group_optimizers()
    es2 = getattr(lr_scheduler, name)(eo2, **kw)
    eo2.load_state_dict(eo.state_dict())
    es2.load_state_dict(esd)
    for g2, g in zip(eo2.param_groups, eo.param_groups):
        assert g2["lr"] == g["lr"]
    for epoch in range(100, 160):
        step_both(eo, es, to, ts, epoch)
        eo2.step()
        es2.step(*(() if name != "ReduceLROnPlateau" else (metric(epoch),)))
        assert es2.get_last_lr() == es.get_last_lr() == ts.get_last_lr()


class Halving:
    """A callable object whose state (``factor``) LambdaLR's state dict keeps."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def __call__(self, epoch: int) -> float:
        return self.factor ** epoch


def test_lambda_state_dict_keeps_callable_objects_state() -> None:
    eo, to = two_group_optimizers()
    es = lr_scheduler.LambdaLR(eo, [Halving(0.5), lambda e: 1.0])
    ts = torch.optim.lr_scheduler.LambdaLR(to, [Halving(0.5), lambda e: 1.0])
    assert es.state_dict()["lr_lambdas"] == ts.state_dict()["lr_lambdas"] == \
        [{"factor": 0.5}, None]
    other = lr_scheduler.LambdaLR(two_group_optimizers()[0], [Halving(0.9), lambda e: 2.0])
    other.load_state_dict(es.state_dict())
    assert other.lr_lambdas[0].factor == 0.5


def test_closed_form_step_with_epoch_warns_and_matches_torch() -> None:
    for name, kw in SCHEDULES[:5]:
        eo, to = two_group_optimizers()
        es, ts = getattr(lr_scheduler, name)(eo, **kw), \
            getattr(torch.optim.lr_scheduler, name)(to, **kw)
        for epoch in (3, 17, 40, 75, 12):
            eo.step()
            to.step()
            with pytest.warns(UserWarning) as ew:
                es.step(epoch)
            with pytest.warns(UserWarning) as tw:
                ts.step(epoch)
            assert [str(w.message) for w in ew] == [str(w.message) for w in tw]
            assert es.get_last_lr() == ts.get_last_lr(), (name, epoch)


def test_one_cycle_past_total_steps_raises_torchs_error() -> None:
    eo, to = two_group_optimizers("Adam")
    es = lr_scheduler.OneCycleLR(eo, max_lr=0.1, total_steps=5)
    ts = torch.optim.lr_scheduler.OneCycleLR(to, max_lr=0.1, total_steps=5)
    for _ in range(5):
        step_both(eo, es, to, ts, 0)
    e = same_error(es.step, ts.step)
    assert str(e) == "Tried to step 6 times. The specified number of total steps is 5"
    assert [g["betas"] for g in eo.param_groups] == [g["betas"] for g in to.param_groups]


def _sgd(lib: Any, momentum: float = 0.9) -> Any:
    return lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1, momentum=momentum)


BAD = [
    ("OneCycleLR", {"max_lr": 1.0}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 0}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 2.5}),
    ("OneCycleLR", {"max_lr": 1.0, "epochs": 0, "steps_per_epoch": 3}),
    ("OneCycleLR", {"max_lr": 1.0, "epochs": 2, "steps_per_epoch": -1}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": 1}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": 1.5}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "anneal_strategy": "exp"}),
    ("OneCycleLR", {"max_lr": [1.0, 2.0], "total_steps": 10}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "max_momentum": [0.9, 0.8]}),
    ("ReduceLROnPlateau", {"factor": 1.0}),
    ("ReduceLROnPlateau", {"mode": "median"}),
    ("ReduceLROnPlateau", {"threshold_mode": "pct"}),
    ("ReduceLROnPlateau", {"min_lr": [0.1, 0.2]}),
    ("LambdaLR", {"lr_lambda": [lambda e: 1.0, lambda e: 2.0]}),
    ("MultiplicativeLR", {"lr_lambda": 0.5}),
    ("StepLR", {"step_size": 3, "last_epoch": 4}),
]


@pytest.mark.parametrize("name,kw", BAD, ids=str)
def test_invalid_arguments_raise_torchs_errors(name: str, kw: dict[str, Any]) -> None:
    same_error(lambda: getattr(lr_scheduler, name)(_sgd(engine), **kw),
               lambda: getattr(torch.optim.lr_scheduler, name)(_sgd(torch), **kw))


def test_one_cycle_needs_momentum_or_betas() -> None:
    def make(lib: Any) -> Any:
        opt = lib.optim.Adagrad([lib.ones(1, requires_grad=True)])
        return lib.optim.lr_scheduler.OneCycleLR(opt, 1.0, total_steps=4)
    same_error(lambda: make(engine), lambda: make(torch))


@pytest.mark.parametrize("name", ["StepLR", "OneCycleLR", "ReduceLROnPlateau"])
def test_not_an_optimizer_is_a_type_error(name: str) -> None:
    same_error(lambda: getattr(lr_scheduler, name)(object(), 1),
               lambda: getattr(torch.optim.lr_scheduler, name)(object(), 1))


def test_plateau_with_a_group_added_later_raises_torchs_error() -> None:
    def run(lib: Any) -> None:
        opt = _sgd(lib)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.0], patience=0)
        opt.add_param_group({"params": [lib.ones(1, requires_grad=True)]})
        sched.step(1.0)
        sched.step(2.0)
    same_error(lambda: run(engine), lambda: run(torch))


def _messages(lib: Any, action: str) -> list[str]:
    opt = _sgd(lib)
    sched = lib.optim.lr_scheduler.StepLR(opt, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if action == "scheduler first":
            sched.step()
        elif action == "get_lr":
            sched.get_lr()
        else:
            opt.step()
            sched.step()
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("action", ["scheduler first", "get_lr", "in order"])
def test_warnings_are_torchs(action: str) -> None:
    e, t = _messages(engine, action), _messages(torch, action)
    assert e == t
    assert bool(e) == (action != "in order")


def test_get_last_lr_is_the_rate_set_and_history_starts_at_the_base() -> None:
    opt = _sgd(engine)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    assert sched.get_last_lr() == [0.1] and opt.param_groups[0]["initial_lr"] == 0.1
    rates = []
    for _ in range(20):
        opt.step()
        sched.step()
        rates.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(rates[9], 0.0, atol=1e-17)
    np.testing.assert_allclose(rates[19], 0.1, rtol=1e-12)
