"""NAdam and RAdam against torch's single-tensor optimizers: 200 steps of the same MLP
on the same data in float64 (rtol 1e-10) and float32, for each option; torch's state
layout (NAdam's float32 ``mu_product``), repr, validation errors and state-dict round
trips."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import engine
from engine import optim
from tests.engine._support.autograd_helpers import same_error
from tests.engine.optim import _support as support

CONFIGS = [
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("NAdam", {"lr": 0.005, "weight_decay": 0.05}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.05}),
    ("NAdam", {"lr": 0.005, "betas": (0.4, 0.99)}),  # exp_avg's lerp in its other form
    ("NAdam", {"lr": 0.002, "maximize": True, "weight_decay": 0.01}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.005, "betas": (0.4, 0.99)}),
    ("RAdam", {"lr": 0.01, "betas": (0.9, 0.5)}),  # rho_inf = 3: never rectified
    ("RAdam", {"lr": 0.005, "maximize": True, "weight_decay": 0.01}),
]
IDS = support.config_ids(CONFIGS)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_200_steps_match_torch(name: str, kw: dict[str, Any], dtype: str) -> None:
    support.check_trajectory(name, kw, dtype)


@pytest.mark.parametrize("name,kw", [
    ("NAdam", {}), ("NAdam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
    ("RAdam", {"betas": [0.8, 0.9]}),  # kept as given, a list, as torch keeps it
], ids=str)
def test_state_param_groups_and_repr_are_torchs(name: str, kw: dict[str, Any]) -> None:
    support.check_state_layout(name, kw)


def test_radam_first_steps_are_plain_momentum() -> None:
    """With the default betas the SMA length passes 5 only at step 6: until then a step is
    ``lr * exp_avg / bias_correction1``, which for a constant gradient is ``lr * grad``."""
    w, tw = engine.zeros(3, dtype=engine.float64, requires_grad=True), \
        torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt, topt = optim.RAdam([w], lr=0.1), torch.optim.RAdam([tw], lr=0.1, foreach=False)
    moves = []
    for _ in range(7):
        before = w.detach().numpy().copy()
        w.grad = engine.tensor([1.0, -2.0, 0.5], dtype=engine.float64)
        tw.grad = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
        opt.step()
        topt.step()
        moves.append(w.detach().numpy() - before)
        np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(moves[:5], [[-0.1, 0.2, -0.05]] * 5, rtol=1e-12)
    assert abs(moves[5][0] + 0.1) > 1e-3  # rectified from step 6 on


def test_nadam_mu_product_is_float32_and_loading_widens_it_as_torch_does() -> None:
    e_run, whole = support.check_round_trip("NAdam", {"lr": 0.01})
    assert str(whole.opt.state_dict()["state"][0]["mu_product"].dtype) == "engine.float32"
    # torch's load_state_dict casts every state tensor but 'step' to the parameter's dtype
    loaded = e_run.opt.state_dict()["state"][0]["mu_product"]
    assert str(loaded.dtype) == "engine.float64"
    np.testing.assert_allclose(e_run.losses, whole.losses, rtol=1e-10)


@pytest.mark.parametrize("name,kw", [
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
], ids=str)
def test_state_dict_round_trip_continues_identically(name: str, kw: dict[str, Any]) -> None:
    resumed, whole = support.check_round_trip(name, kw)
    assert resumed.losses == whole.losses


@pytest.mark.parametrize("name,kw", [("NAdam", {"lr": 0.01}), ("RAdam", {"lr": 0.01})],
                         ids=str)
def test_torch_state_dict_loads_and_continues(name: str, kw: dict[str, Any]) -> None:
    support.check_loads_torch_state(name, kw)


BAD = [
    ("NAdam", {"lr": -1}), ("NAdam", {"eps": -1}), ("NAdam", {"betas": (1.0, 0.9)}),
    ("NAdam", {"betas": (0.9, -0.1)}), ("NAdam", {"weight_decay": -1}),
    ("NAdam", {"momentum_decay": -1}), ("NAdam", {"lr": -1, "eps": -1}),
    ("RAdam", {"lr": -1e-3}), ("RAdam", {"eps": -1}), ("RAdam", {"betas": (-0.5, 0.9)}),
    ("RAdam", {"betas": (0.5, 1.0)}), ("RAdam", {"weight_decay": -0.1}),
]


@pytest.mark.parametrize("name,kw", BAD, ids=str)
def test_invalid_options_raise_torchs_errors(name: str, kw: dict[str, Any]) -> None:
    e = same_error(lambda: getattr(optim, name)([engine.ones(1, requires_grad=True)], **kw),
                   lambda: getattr(torch.optim, name)([torch.ones(1, requires_grad=True)], **kw))
    assert str(e).startswith("Invalid ")


def test_tensor_lr_must_have_one_element() -> None:
    same_error(lambda: optim.NAdam([engine.ones(1, requires_grad=True)], lr=engine.ones(2)),
               lambda: torch.optim.NAdam([torch.ones(1, requires_grad=True)], lr=torch.ones(2)))
