"""The Qt-free session model: presets, stepping, accumulation, errors, files, training."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gui.model.config import (
    PRESETS,
    ConfigError,
    parse_number,
    parse_session_text,
    preset_config,
)
from gui.model.session import Session
from tests.gui._support import reference_grads

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("preset", PRESETS)
def test_stepping_to_the_end_matches_engine_backward(preset):
    s = Session(preset_config(preset))
    n = len(s.backward_graph.nodes)
    predicted, ran = [], []
    while True:
        predicted.append(s.next_id)
        assert s.step()
        ran.append(s.last_id)
        if not s.pass_active:
            break
    assert ran == predicted, "the highlighted 'next' node is the one that runs"
    assert len(ran) == n and s.done == set(s.backward_graph.nodes)
    ref = reference_grads(s.config)
    got = s.leaf_grads()
    assert set(got) == set(ref)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-6, atol=1e-7)


def test_mse_and_activation_variants_match_engine():
    for loss in ("bce", "mse"):
        for act in ("none", "relu", "sigmoid", "tanh"):
            cfg = preset_config("one_layer")
            cfg.loss, cfg.activation = loss, act
            s = Session(cfg)
            s.run_to_end()
            ref = reference_grads(s.config)
            for k, v in s.leaf_grads().items():
                np.testing.assert_allclose(v, ref[k], rtol=1e-6, atol=1e-7)


def test_one_layer_graph_is_the_tutorials():
    s = Session()
    names = sorted(n.title for n in s.backward_graph.nodes.values())
    assert names == sorted(["BinaryCrossEntropyWithLogitsBackward0", "AddBackward0",
                            "SqueezeBackward4", "MmBackward0", "AccumulateGrad",
                            "AccumulateGrad"])
    leaves = {n.tensor for n in s.backward_graph.nodes.values() if n.kind == "leaf"}
    assert leaves == {"w", "b"}
    fwd = {n.title for n in s.forward_graph.nodes.values()}
    assert {"x", "y", "w", "b", "z", "loss", "matmul", "add", "bce_with_logits"} <= fwd
    assert "Gradient function for z = <AddBackward0 object at" in s.grad_fn_prints()


def test_second_backward_without_retain_graph_reports_engine_error():
    s = Session()
    events = []
    s.subscribe(events.append)
    s.run_to_end()
    before = s.leaf_grads()
    s.run_to_end()
    errors = [e for e in events if e.kind == "error"]
    assert errors and "second time" in errors[-1].data["message"]
    assert "retain_graph" in errors[-1].data["hint"]
    assert not s.pass_active and s.backward_calls == 1
    for k, v in s.leaf_grads().items():
        np.testing.assert_array_equal(v, before[k])
    s.forward()  # a new graph works again
    s.run_to_end()
    assert s.backward_calls == 2


def test_accumulation_first_second_after_zeroing():
    s = Session(preset_config("accumulation"))
    s.set_retain_graph(True)
    s.run_to_end()
    s.run_to_end()
    s.zero_grads()
    s.run_to_end()
    labels = [label for label, _ in s.accumulation]
    assert labels == ["First call", "Second call", "Call after zeroing"]
    first, second, third = (g["inp"] for _, g in s.accumulation)
    expect = 2 * (np.eye(5) + 1)
    np.testing.assert_allclose(first, expect)
    np.testing.assert_allclose(second, 2 * expect)
    np.testing.assert_allclose(third, expect)


def test_no_grad_records_no_graph_and_backward_is_refused():
    s = Session()
    events = []
    s.subscribe(events.append)
    s.set_no_grad(True)
    s.forward()
    assert s.root.grad_fn is None and not s.backward_graph.nodes
    s.step()
    assert any(e.kind == "error" and "does not require grad" in e.data["message"]
               for e in events)
    s.set_no_grad(False)
    s.forward()
    assert s.backward_graph.nodes


def test_freezing_and_detaching_remove_branches():
    s = Session()
    s.set_requires_grad("w", False)
    leaves = {n.tensor for n in s.backward_graph.nodes.values() if n.kind == "leaf"}
    assert leaves == {"b"}
    s.set_requires_grad("w", True)
    s.toggle_detach("x@w")
    leaves = {n.tensor for n in s.backward_graph.nodes.values() if n.kind == "leaf"}
    assert leaves == {"b"}
    s.toggle_detach("x@w")
    s.toggle_detach("z")
    assert s.root.grad_fn is None and "requires grad" in s.empty_reason()
    s.toggle_detach("z")
    assert len(s.backward_graph.nodes) == 6


def test_training_lowers_the_loss():
    s = Session(preset_config("mlp"))
    first = s.losses[-1]
    last = s.train(50)
    assert last is not None and last < first * 0.5
    assert len(s.grad_norms) == 50


def test_sgd_step_updates_parameters_and_config():
    s = Session()
    w0 = s.tensor_value("w").copy()
    s.run_to_end()
    g = s.tensor_grad("w").copy()
    s.sgd_step()
    np.testing.assert_allclose(s.tensor_value("w"), w0 - s.lr * g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(s.config.values["w"]), s.tensor_value("w"),
                               atol=1e-5)


def test_invalid_values_are_refused_and_nothing_changes():
    s = Session()
    before = s.config.values["w"]
    for bad in ("abc", "nan", "inf", "1e9"):
        with pytest.raises(ConfigError):
            s.set_value("w", (0, 0), parse_number(bad))
    assert s.config.values["w"] == before
    with pytest.raises(ConfigError):
        s.resize(n_in=17)
    with pytest.raises(ConfigError):
        s.resize(n_in=0)
    assert s.config.n_in == 5
    s.resize(n_in=7, n_out=2)
    assert s.tensors["w"].shape == (7, 2)
    assert s.config.values["w"][0][:2] == before[0][:2]  # kept what still fits


def test_session_json_round_trip(tmp_path):
    s = Session(preset_config("mlp"))
    s.set_retain_graph(True)
    s.set_value("x", (1,), 0.25)
    path = tmp_path / "s.json"
    s.save(str(path))
    assert not list(tmp_path.glob(".*.tmp"))
    t = Session()
    t.open(str(path))
    assert t.config == s.config and t.retain_graph
    assert t.tensor_value("x")[1] == pytest.approx(0.25)


HOSTILE = [
    b"",
    b"\xff\xfe\x00garbage",
    b"[1, 2, 3]",
    b'{"format": "jitgrad-session", "version": 99}',
    b'{"format": "something-else", "version": 1}',
    b'{"format": "jitgrad-session", "version": 1, "network": {"preset": "one_layer",'
    b' "n_in": 100000000}}',
    b'{"format": "jitgrad-session", "version": 1, "network": {"preset": "rm -rf"}}',
    b'{"format": "jitgrad-session", "version": 1, "network": {"__class__": "os.system"}}',
    b"[" * 100000 + b"]" * 100000,
    b'{"format": "jitgrad-session", "version": 1, "network": {"preset": "one_layer",'
    b' "lr": NaN}}',
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_files_leave_the_session_untouched(tmp_path, raw):
    s = Session()
    before = s.config
    path = tmp_path / "bad.json"
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as info:
        s.open(str(path))
    assert str(info.value)
    assert s.config == before


def test_hostile_values_inside_a_valid_file():
    good = json.loads(Session().to_json())
    for mutate in (lambda d: d["network"]["values"].__setitem__("w", "oops"),
                   lambda d: d["network"]["values"]["w"][0].__setitem__(0, "1"),
                   lambda d: d["network"]["values"]["w"].pop(),
                   lambda d: d["network"].__setitem__("n_in", True),
                   lambda d: d["options"].__setitem__("retain_graph", "yes"),
                   lambda d: d["network"]["requires_grad"].__setitem__("w", 1)):
        d = json.loads(json.dumps(good))
        mutate(d)
        with pytest.raises(ConfigError):
            parse_session_text(json.dumps(d))


def test_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * 2_000_000)
    with pytest.raises(ConfigError, match="too large"):
        Session().open(str(path))


def test_script_mode_runs_demo_and_keeps_running_on_error(tmp_path):
    demo = tmp_path / "demo.py"
    demo.write_text("import engine as torch\n"
                    "x = torch.ones(5)\nw = torch.randn(5, 3, requires_grad=True)\n"
                    "z = torch.matmul(x, w)\nout = z.sum()\nprint('built', out.grad_fn)\n")
    s = Session()
    logs = []
    s.subscribe(lambda e: logs.append(e))
    assert s.load_script(str(demo))
    assert s.mode == "script" and s.root_name == "out"
    assert any(e.kind == "log" and "built <SumBackward0" in e.data["text"] for e in logs)
    s.run_to_end()
    np.testing.assert_allclose(s.tensor_grad("w"), np.ones((5, 3)))
    w = s.tensor_value("w").copy()
    s.sgd_step()  # refused: re-running the script would undo it
    np.testing.assert_array_equal(s.tensor_value("w"), w)
    assert any("not on scripts" in e.data.get("text", "") for e in logs)
    bad = tmp_path / "bad.py"
    bad.write_text("import engine as torch\nraise ValueError('boom')\n")
    assert not s.load_script(str(bad))
    assert any(e.kind == "log" and "ValueError: boom" in e.data["text"] for e in logs)
    assert s.root_name == "out"  # the previous graph stays


def test_session_and_layout_do_not_import_qt():
    code = ("import sys, gui.model.session, gui.model.graph_layout, gui.i18n; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'shiboken'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_shipped_example_sessions_open():
    for path in sorted((ROOT / "resources" / "sessions").glob("*.json")):
        s = Session()
        s.open(str(path))
        assert s.config.preset == path.stem
        fresh = Session()
        fresh.load_preset(path.stem)
        # the examples start from the preset's seeded values (torch's stream), so their code
        # panel says torch.manual_seed(0) and torch.randn, which torch reproduces
        assert s.config.values == fresh.config.values, path


def test_detaching_a_parameter_and_attaching_it_again():
    s = Session()
    s.toggle_detach("w")
    assert {n.tensor for n in s.backward_graph.nodes.values() if n.kind == "leaf"} == {"b"}
    s.toggle_detach("w")
    assert {n.tensor for n in s.backward_graph.nodes.values() if n.kind == "leaf"} == {"w", "b"}
    s.run_to_end()
    assert s.tensor_grad("w") is not None


def test_diverging_training_is_clamped_and_reported():
    """Parameters that blow up stay inside the valid range, so later edits keep working."""
    s = Session()
    s.load_preset("mlp")
    s.set_choice(loss="mse", activation="none")
    for i in range(4):
        s.set_value("x", (i,), 1e6)
    s.set_lr(10)
    events = []
    s.subscribe(events.append)
    s.train(3)
    errors = [e for e in events if e.kind == "error"]
    assert errors and "diverged" in errors[0].data["message"]
    cfg = s.config
    for name in ("w1", "b1", "w2", "b2"):
        arr = np.asarray(cfg.values[name])
        assert np.isfinite(arr).all() and np.abs(arr).max() <= 1e6
        np.testing.assert_allclose(s.tensor_value(name), arr, rtol=1e-6)
    s.set_choice(activation="tanh")  # raised ConfigError before the clamp
    assert s.config.activation == "tanh"
