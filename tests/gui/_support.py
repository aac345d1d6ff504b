"""Reference gradients for the lab's tests: the network written by hand with the engine."""

from __future__ import annotations

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
