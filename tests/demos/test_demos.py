"""Every demo runs headless in both languages, prints the right numbers, and matches PyTorch.

Demos run in this process with ``runpy`` (fast: the engine is already loaded). For the
PyTorch run, ``sys.modules['engine']`` is pointed at real torch for the duration of the run,
so ``import engine as torch`` inside the demo gets torch. One subprocess test also checks the
``JITGRAD_BACKEND=torch`` switch of the demos' helper, the way a learner would use it.
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ROOT / "resources" / "demos"
NAMES = ["tutorial", "one_layer", "retain_graph", "accumulation", "no_grad_detach",
         "dynamic_graph", "training"]
CJK = re.compile(r"[\u4e00-\u9fff]")

# The tutorial's network with the fixed numbers the demos use.
W = [[0.5, -0.3, 0.8], [-0.2, 0.4, 0.1], [0.7, -0.6, 0.3], [-0.1, 0.2, -0.5], [0.3, 0.1, 0.6]]
B = [0.1, -0.2, 0.05]


def run_demo(name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
             lang: str | None = None, backend: str = "engine") -> tuple[str, dict]:
    """Run one demo in-process; returns (stdout, the script's globals)."""
    monkeypatch.syspath_prepend(str(DEMOS))
    monkeypatch.setattr(sys, "argv", [str(DEMOS / f"{name}.py")] +
                        (["--lang", lang] if lang else []))
    monkeypatch.delenv("JITGRAD_LANG", raising=False)
    if backend == "torch":
        monkeypatch.setitem(sys.modules, "engine", torch)
    capsys.readouterr()
    ns = runpy.run_path(str(DEMOS / f"{name}.py"), run_name="__main__")
    return capsys.readouterr().out, ns


def normalized(text: str) -> str:
    """Drop what may differ between backends: addresses, torch's C++ prefix, timings."""
    text = re.sub(r"0x[0-9a-fA-F]+", "0x?", text)
    text = text.replace("torch::autograd::", "")
    return "\n".join(line for line in text.splitlines() if "⏱" not in line)


def block(text: str, start: str, stop: str | None = None) -> str:
    """The text between two markers (used to read one printed tensor)."""
    i = text.index(start) + len(start)
    j = text.index(stop, i) if stop else len(text)
    return text[i:j]


def floats(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d*(?:e-?\d+)?", text)]


def torch_reference() -> tuple[float, np.ndarray, np.ndarray]:
    """The tutorial network's loss, w.grad and b.grad, computed by PyTorch."""
    x, y = torch.ones(5), torch.zeros(3)
    w = torch.tensor(W, requires_grad=True)
    b = torch.tensor(B, requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(torch.matmul(x, w) + b, y)
    loss.backward()
    return loss.item(), w.grad.numpy(), b.grad.numpy()


def test_every_demo_is_listed_here() -> None:
    found = sorted(p.stem for p in DEMOS.glob("*.py") if not p.name.startswith("_"))
    assert found == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_demo_languages(name: str, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture) -> None:
    """Default prints English then Chinese; --lang en has no Chinese; --lang zh has less English."""
    both, _ = run_demo(name, monkeypatch, capsys)
    en, _ = run_demo(name, monkeypatch, capsys, "en")
    zh, _ = run_demo(name, monkeypatch, capsys, "zh")
    assert CJK.search(both) and CJK.search(zh)
    assert not CJK.search(en)
    first_title = next(line for line in both.splitlines() if line.startswith("==="))
    assert " / " in first_title  # "=== English / 中文 ==="
    # The first explanation appears in English before its Chinese version.
    para_en = next(line for line in en.splitlines() if line.startswith("  ") and
                   len(line) > 40)
    para_zh = next(line for line in zh.splitlines() if line.startswith("  ") and
                   CJK.search(line))
    assert both.index(para_en) < both.index(para_zh)
    assert para_en not in zh
    # The numbers printed by the code do not depend on the language.
    assert normalized(en).count("tensor(") == normalized(zh).count("tensor(")


@pytest.mark.parametrize("name", NAMES)
def test_demo_matches_pytorch(name: str, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture) -> None:
    """The same file run on real PyTorch prints the same text and numbers."""
    ours, _ = run_demo(name, monkeypatch, capsys, "en")
    theirs, _ = run_demo(name, monkeypatch, capsys, "en", backend="torch")
    assert normalized(ours) == normalized(theirs)


def test_backend_switch_in_a_subprocess() -> None:
    """``JITGRAD_BACKEND=torch python resources/demos/accumulation.py`` runs on PyTorch."""
    outs = {}
    for backend in ("engine", "torch"):
        env = dict(os.environ, JITGRAD_BACKEND=backend,
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run([sys.executable, str(DEMOS / "accumulation.py"), "--lang", "en"],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outs[backend] = proc.stdout
    assert normalized(outs["engine"]) == normalized(outs["torch"])
    assert "Second call" in outs["engine"]


def test_accumulation_numbers(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture) -> None:
    out, ns = run_demo("accumulation", monkeypatch, capsys, "en")
    first = floats(block(out, "First call", "==="))
    second = floats(block(out, "Second call", "==="))
    zeroed = floats(block(out, "Call after zeroing gradients", "same"))
    eye = np.eye(5).ravel()
    np.testing.assert_array_equal(first, 2 + 2 * eye)  # 4 on the diagonal, 2 elsewhere
    np.testing.assert_array_equal(second, 4 + 4 * eye)  # 8 / 4
    np.testing.assert_array_equal(zeroed, 2 + 2 * eye)  # 4 / 2 again
    assert "same .grad object as before: True" in out
    assert ns["out"].grad_fn.name() == "PowBackward0"


def test_one_layer_numbers_equal_pytorch(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture) -> None:
    out, ns = run_demo("one_layer", monkeypatch, capsys, "en")
    loss, w_grad, b_grad = torch_reference()
    assert floats(block(out, "loss =", "\n")) == [round(loss, 4)]
    np.testing.assert_allclose(floats(block(out, "b.grad =", "\n")), b_grad, atol=5e-5)
    np.testing.assert_allclose(floats(block(out, "w.grad =", "b.grad")),
                               w_grad.ravel(), atol=5e-5)
    np.testing.assert_allclose(floats(block(out, "(sigmoid(z) - y) / 3 =", "\n")), b_grad,
                               atol=5e-5)
    for name in ("BinaryCrossEntropyWithLogitsBackward0", "AddBackward0", "SqueezeBackward4",
                 "MmBackward0", "AccumulateGrad"):
        assert name in out
    assert "AccumulateGrad.variable is b: True" in out
    # The script leaves a fresh graph behind (for the lab); it gives torch's exact gradients.
    fresh = ns["loss"]
    assert fresh.item() == pytest.approx(loss, abs=1e-6)
    fresh.backward()
    np.testing.assert_allclose(ns["w"].grad.numpy(), w_grad, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ns["b"].grad.numpy(), b_grad, rtol=1e-6, atol=1e-7)


def test_tutorial_walkthrough(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture) -> None:
    out, ns = run_demo("tutorial", monkeypatch, capsys)
    assert re.search(r"Gradient function for z = <AddBackward0 object at 0x[0-9a-f]+>", out)
    assert re.search(r"Gradient function for loss = "
                     r"<BinaryCrossEntropyWithLogitsBackward0 object at 0x[0-9a-f]+>", out)
    assert "RuntimeError: Trying to backward through the graph a second time" in out
    assert "retain_graph=True" in out and "第二次反向传播需要 retain_graph" in out
    loss, _, b_grad = torch_reference()
    assert floats(block(out, "loss =", "\n")) == [round(loss, 4)]
    doubled = floats(block(out, "after the 2nd backward, b.grad =", "\n"))
    np.testing.assert_allclose(doubled, 2 * b_grad, atol=5e-5)
    first = floats(block(out, "First call", "Second call"))
    assert first[:6] == [4.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    assert max(floats(block(out, "Second call", "Call after"))) == 8.0
    assert "inside no_grad: z.requires_grad = False" in out
    assert "after detach(): z_det.requires_grad = False" in out
    assert ns["loss"].grad_fn is not None and ns["w"].grad is None


def test_retain_graph_numbers(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture) -> None:
    out, _ = run_demo("retain_graph", monkeypatch, capsys, "en")
    _, _, b_grad = torch_reference()
    assert "second backward: RuntimeError: Trying to backward through the graph" in out
    unchanged = floats(block(out, "after the failed call b.grad is unchanged:", "\n"))
    np.testing.assert_allclose(unchanged, b_grad, atol=5e-5)
    twice = floats(block(out, "2nd backward:", "\n"))
    np.testing.assert_allclose(twice, 2 * b_grad, atol=5e-5)
    assert "a.grad after two calls = tensor([2., 2., 2.])" in out


def test_no_grad_detach(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    out, ns = run_demo("no_grad_detach", monkeypatch, capsys, "en")
    assert "tracked:     z.requires_grad = True | z.grad_fn = AddBackward0" in out
    assert "in no_grad:  z.requires_grad = False | z.grad_fn = None" in out
    assert "z_det.requires_grad = False | z_det.is_leaf = True" in out
    assert "w.grad = None" in out  # frozen
    _, _, b_grad = torch_reference()
    np.testing.assert_allclose(floats(block(out, "b.grad =", "\n")), b_grad, atol=5e-5)
    times = [line for line in out.splitlines() if "⏱" in line]
    assert len(times) == 3 and all(floats(line) for line in times)
    assert ns["tracked"] > 0 and ns["untracked"] > 0
    assert ns["w"].requires_grad  # unfrozen again at the end


def test_dynamic_graph(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    out, ns = run_demo("dynamic_graph", monkeypatch, capsys, "en")
    chains = [line.split(":", 1)[1].strip() for line in out.splitlines()
              if line.strip().startswith("grad_fn chain:")]
    counts = [int(line.split(":")[1]) for line in out.splitlines()
              if line.strip().startswith("nodes in graph:")]
    assert len(set(chains)) == 3
    assert "ReluBackward0" in chains[0] and "TanhBackward0" in chains[1]
    assert [c.count("MulBackward0") for c in chains] == [3, 2, 4]  # w * data + loop turns
    assert counts == [9, 7, 11]
    assert ns["loss"].grad_fn.name() == "MeanBackward0"


def test_training(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    out, ns = run_demo("training", monkeypatch, capsys, "en")
    assert "RuntimeError: a leaf Variable that requires grad is being used in an in-place" in out
    m = re.search(r"steps: (\d+) \| first loss: ([\d.]+) \| final loss: ([\d.]+)", out)
    assert m is not None
    steps, first, final = int(m.group(1)), float(m.group(2)), float(m.group(3))
    assert first == pytest.approx(0.6931)  # log 2: all-zero parameters
    assert final < 0.05 and steps == len(ns["history"]) - 1
    assert "accuracy on the 24 labels: 100%" in out
    assert ns["history"][-1] < ns["target_loss"] <= ns["history"][-2]
    assert ns["loss"].grad_fn is not None  # the last forward is left un-run for the lab
    # The compiled section replays the same training: same final loss, same parameters.
    assert ns["plan"].compiled and ns["final_c"] == pytest.approx(ns["history"][-1], rel=1e-5)
    np.testing.assert_allclose(ns["w_c"].detach().numpy(), ns["w"].detach().numpy(), rtol=1e-4)
    assert f"{steps} steps, then the loss: {final:.4f}" in out


@pytest.mark.parametrize("argv,env,expected", [
    ([], "", ("en", "zh")),
    (["--lang", "zh"], "", ("zh",)),
    (["--lang=en"], "", ("en",)),
    ([], "zh_CN", ("zh",)),
    (["--lang", "en"], "zh_CN", ("en",)),  # the command line wins
    (["--open", "--steps", "3"], "", ("en", "zh")),  # the app's own arguments are ignored
])
def test_language_choice(argv: list[str], env: str, expected: tuple[str, ...],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(DEMOS))
    import _demo

    monkeypatch.setattr(sys, "argv", ["demo.py", *argv])
    monkeypatch.setenv("JITGRAD_LANG", env)
    assert _demo.langs() == expected
