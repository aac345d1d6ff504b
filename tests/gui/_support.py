"""Support for the lab's tests: reference gradients, and the app run in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import engine
from gui.model.config import NetworkConfig, tensor_specs


def reference_grads(cfg: NetworkConfig) -> dict[str, np.ndarray]:
    """The same network written by hand with the engine, and its own loss.backward()."""
    t = {s.name: engine.tensor(cfg.values[s.name], requires_grad=s.param)
         for s in tensor_specs(cfg)}
    if cfg.preset == "accumulation":
        out = (t["inp"] + 1).pow(2)
        out.backward(engine.ones_like(t["inp"]))
    else:
        act = {"tanh": engine.tanh, "relu": engine.relu, "sigmoid": engine.sigmoid}
        if cfg.preset == "mlp":
            h = engine.matmul(t["x"], t["w1"]) + t["b1"]
            h = act[cfg.activation](h) if cfg.activation != "none" else h
            z = engine.matmul(h, t["w2"]) + t["b2"]
        else:
            z = engine.matmul(t["x"], t["w"]) + t["b"]
            z = act[cfg.activation](z) if cfg.activation != "none" else z
        if cfg.loss == "bce":
            loss = engine.nn.functional.binary_cross_entropy_with_logits(z, t["y"])
        else:
            loss = ((z - t["y"]) ** 2).mean()
        loss.backward()
    return {k: v.grad.numpy() for k, v in t.items() if v.grad is not None}


ROOT = Path(__file__).resolve().parents[2]


def run_app_child(settings_dir: Path, code: str, **env: str) -> str:
    """Run ``code`` in a child Python that has made ``app``, a QApplication whose user
    settings live in ``settings_dir``, and return what it printed.

    A child process, because once a QApplication has quit it cannot host more tests.
    """
    child = (
        "import sys\n"
        "from PySide6.QtCore import QSettings, QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        f"QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, "
        f"{str(settings_dir)!r})\n"
        "app = QApplication(sys.argv[:1])\n"
    ) + code
    res = subprocess.run([sys.executable, "-c", child], cwd=ROOT,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen", **env),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout
