"""The lab's seeded parameters are torch's own stream, and its code panel says so truly:
the generated program, run with real torch, rebuilds every leaf bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gui.model.config import drawn_specs, preset_config, seeded_values
from gui.model.session import Session

SEEDS = (0, 1, 12345)
DRAW_ORDER = {"one_layer": ["w", "b"], "mlp": ["w1", "b1", "w2", "b2"]}


def torch_draws(cfg) -> dict[str, np.ndarray]:
    """What real torch gives for the parameters, seeded once, in the program's order."""
    torch.manual_seed(cfg.seed)
    return {s.name: torch.randn(*s.shape).numpy() for s in drawn_specs(cfg)}


def session(preset: str, seed: int) -> Session:
    s = Session()
    s.load_preset(preset)
    s.randomise(seed)
    return s


def run_in_torch(code: str) -> dict:
    """Execute the code panel's program with real torch in place of the engine."""
    first, _, rest = code.partition("\n")
    assert first == "import engine as torch"
    ns: dict = {"torch": torch}
    exec(rest, ns)  # noqa: S102 - the lab's own generated program
    return ns


def assert_leaves_reproduced(s: Session, ns: dict) -> None:
    for name in s.config.values:
        got = ns[name].detach().numpy()
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, s.tensor_value(name), err_msg=name)
    lab_loss = s.tensor_value("loss")
    np.testing.assert_allclose(ns["loss"].item(), lab_loss, rtol=1e-6)


@pytest.mark.parametrize("preset", sorted(DRAW_ORDER))
@pytest.mark.parametrize("seed", SEEDS)
def test_seeded_parameters_are_torchs_stream(preset, seed):
    s = session(preset, seed)
    assert [spec.name for spec in drawn_specs(s.config)] == DRAW_ORDER[preset]
    expected = torch_draws(s.config)
    for name, want in expected.items():
        stored = np.asarray(s.config.values[name])
        # Stored as float64 lists, but exactly the float32 samples: nothing rounded.
        np.testing.assert_array_equal(stored.astype(np.float32).astype(float), stored)
        np.testing.assert_array_equal(stored.astype(np.float32), want, err_msg=name)
        np.testing.assert_array_equal(s.tensor_value(name), want, err_msg=name)
    assert seeded_values(s.config).keys() == expected.keys()


@pytest.mark.parametrize("preset", sorted(DRAW_ORDER))
def test_a_fresh_preset_uses_seed_zero(preset):
    cfg = preset_config(preset)
    for name, want in torch_draws(cfg).items():
        np.testing.assert_array_equal(np.asarray(cfg.values[name], dtype=np.float32), want)


@pytest.mark.parametrize("preset", sorted(DRAW_ORDER))
@pytest.mark.parametrize("seed", SEEDS)
def test_generated_program_reproduces_the_lab_in_torch(preset, seed):
    s = session(preset, seed)
    code = s.forward_code()
    seed_line = code.index(f"torch.manual_seed({seed})\n")
    assert seed_line < code.index("torch.randn(")
    for name in DRAW_ORDER[preset]:
        assert f"{name} = torch.randn(" in code
    assert_leaves_reproduced(s, run_in_torch(code))


@pytest.mark.parametrize(("preset", "edited"), [(p, i) for p, names in DRAW_ORDER.items()
                                                 for i in range(len(names))])
def test_code_stays_true_after_a_hand_edit(preset, edited):
    s = session(preset, 12345)
    names = DRAW_ORDER[preset]
    s.set_value(names[edited], (0,) * np.ndim(s.config.values[names[edited]]), 0.3)
    code = s.forward_code()
    # Draws before the edited parameter still line up with torch's stream; the rest cannot.
    for i, name in enumerate(names):
        assert (f"{name} = torch.randn(" in code) == (i < edited), (name, code)
    assert ("torch.manual_seed(12345)" in code) == (edited > 0)
    assert_leaves_reproduced(s, run_in_torch(code))


def test_an_old_session_keeps_its_stored_values():
    s = session("one_layer", 0)
    data = json.loads(s.to_json())
    old_w = np.round(np.asarray(data["network"]["values"]["w"]), 4)  # the numpy-era values
    data["network"]["values"]["w"] = old_w.tolist()
    t = Session()
    t.load_text(json.dumps(data))
    np.testing.assert_array_equal(t.config.values["w"], old_w)
    np.testing.assert_array_equal(t.tensor_value("w"), old_w.astype(np.float32))
    code = t.forward_code()
    assert "w = torch.tensor(" in code and "b = torch.tensor(" in code
    assert "manual_seed" not in code
    assert_leaves_reproduced(t, run_in_torch(code))
