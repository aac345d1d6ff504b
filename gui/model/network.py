"""The built-in networks' forward pass, recorded op by op for the views and the code."""

from __future__ import annotations

import engine
from gui.model.config import NetworkConfig
from gui.model.graph_model import Op, shapes_from_backward


def compute(cfg: NetworkConfig, leaves: dict[str, engine.Tensor], detached: set[str]
            ) -> tuple[dict[str, engine.Tensor], list[Op]]:
    """Run the forward pass on ``leaves``; returns all named tensors and the ops.

    A tensor named in ``detached`` is replaced by its ``detach()`` as soon as it exists,
    and the cut is recorded as an op of its own.
    """
    env = dict(leaves)
    ops: list[Op] = []

    def put(name: str, value: engine.Tensor, label: str, inputs: list[str]) -> str:
        ops.append(Op(label, inputs, name))
        env[name] = value
        if name in detached and value.grad_fn is not None:
            env[name] = value.detach()
            ops.append(Op("detach", [name], name))
        return name

    for name in list(env):
        if name in detached and env[name].requires_grad:
            env[name] = env[name].detach()
    if cfg.preset == "accumulation":
        s = put("inp+1", env["inp"] + 1, "add", ["inp", "1"])
        put("out", env[s].pow(2), "pow", [s])
        return env, ops

    def act(src: str, dst: str) -> str:
        fn = {"relu": engine.relu, "sigmoid": engine.sigmoid, "tanh": engine.tanh}
        return put(dst, fn[cfg.activation](env[src]), cfg.activation, [src])

    def layer(inp: str, w: str, b: str, out: str) -> str:
        mm = put(f"{inp}@{w}", engine.matmul(env[inp], env[w]), "matmul", [inp, w])
        return put(out, env[mm] + env[b], "add", [mm, b])

    if cfg.preset == "mlp":
        pre = layer("x", "w1", "b1", "a1")
        h = act(pre, "h") if cfg.activation != "none" else pre
        z = layer(h, "w2", "b2", "z")
    else:
        z = layer("x", "w", "b", "z")
        if cfg.activation != "none":
            z = act(z, "a")
    if cfg.loss == "bce":
        put("loss", engine.nn.functional.binary_cross_entropy_with_logits(env[z], env["y"]),
            "bce_with_logits", [z, "y"])
    else:
        put("loss", ((env[z] - env["y"]) ** 2).mean(), "mse", [z, "y"])
    return env, ops


def forward_env(cfg: NetworkConfig, leaves: dict[str, engine.Tensor], detached: set[str],
                no_grad: bool) -> tuple[dict[str, engine.Tensor], list[Op]]:
    """:func:`compute`, untracked under "Forward without tracking"."""
    if no_grad:
        with engine.no_grad():
            return compute(cfg, dict(leaves), detached)
    return compute(cfg, dict(leaves), detached)


def probe_shapes(cfg: NetworkConfig, leaves: dict[str, engine.Tensor], detached: set[str],
                 root_name: str, count: int) -> dict[str, tuple[int, ...]]:
    """Node shapes from a throwaway forward and backward on copies of ``leaves``."""
    copies = {k: engine.tensor(t.detach().numpy().copy(), requires_grad=t.requires_grad)
              for k, t in leaves.items()}
    try:
        env, _ = compute(cfg, copies, detached)
    except RuntimeError:
        return {}
    return shapes_from_backward(env[root_name], count)
