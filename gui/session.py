"""The lab's session model, free of Qt.

A :class:`Session` owns the network configuration, the engine tensors built from
it, the stepwise backward iterator (``engine.autograd.backward_steps``) and the
history (losses, gradient norms, accumulation snapshots).  Widgets subscribe
with :meth:`Session.subscribe` and receive plain :class:`Event` objects; they read
everything else through the session's public methods.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import engine
from gui.i18n import tr
from gui.script_runner import ScriptResult, execute_script

PRESETS = ("one_layer", "accumulation", "mlp")
LOSSES = ("bce", "mse")
ACTIVATIONS = ("none", "relu", "sigmoid", "tanh")
MIN_SIZE, MAX_SIZE = 1, 16
MAX_ABS_VALUE = 1e6
MAX_FILE_BYTES = 1_000_000
SESSION_FORMAT = "jitgrad-session"
SESSION_VERSION = 1
ROOT_NAMES = ("loss", "out", "z")


class ConfigError(ValueError):
    """A configuration or session file that cannot be used; the message says why."""


# ---------------------------------------------------------------------------
# Network configuration
# ---------------------------------------------------------------------------
@dataclass
class NetworkConfig:
    """Everything needed to rebuild the network: sizes, choices and tensor values."""

    preset: str = "one_layer"
    n_in: int = 5
    n_hidden: int = 4
    n_out: int = 3
    loss: str = "bce"
    activation: str = "none"
    seed: int = 0
    lr: float = 0.1
    values: dict[str, list] = field(default_factory=dict)
    requires_grad: dict[str, bool] = field(default_factory=dict)

    def copy(self) -> NetworkConfig:
        return NetworkConfig(self.preset, self.n_in, self.n_hidden, self.n_out, self.loss,
                             self.activation, self.seed, self.lr,
                             json.loads(json.dumps(self.values)), dict(self.requires_grad))


@dataclass(frozen=True)
class TensorSpec:
    """One editable tensor: its name, shape and whether it is a trainable parameter."""

    name: str
    shape: tuple[int, ...]
    param: bool


def tensor_specs(cfg: NetworkConfig) -> list[TensorSpec]:
    """The editable tensors of a configuration, in display order."""
    n, h, m = cfg.n_in, cfg.n_hidden, cfg.n_out
    if cfg.preset == "accumulation":
        return [TensorSpec("inp", (n, n), True)]
    if cfg.preset == "mlp":
        return [TensorSpec("x", (n,), False), TensorSpec("y", (m,), False),
                TensorSpec("w1", (n, h), True), TensorSpec("b1", (h,), True),
                TensorSpec("w2", (h, m), True), TensorSpec("b2", (m,), True)]
    return [TensorSpec("x", (n,), False), TensorSpec("y", (m,), False),
            TensorSpec("w", (n, m), True), TensorSpec("b", (m,), True)]


def _random(shape: tuple[int, ...], seed: int, name: str) -> np.ndarray:
    salt = sum(ord(c) * 31 ** i for i, c in enumerate(name)) % 10_007
    rng = np.random.default_rng([seed, salt])
    return np.round(rng.standard_normal(shape), 4)


def _default_value(spec: TensorSpec, cfg: NetworkConfig) -> np.ndarray:
    if spec.name == "inp":
        return np.eye(spec.shape[0])
    if spec.name == "x":
        return np.ones(spec.shape)
    if spec.name == "y":
        return np.zeros(spec.shape)
    return _random(spec.shape, cfg.seed, spec.name)


def preset_config(name: str) -> NetworkConfig:
    """A fresh configuration for one of :data:`PRESETS`."""
    if name not in PRESETS:
        raise ConfigError(tr("Unknown preset {name!r}.", name=name))
    cfg = NetworkConfig(preset=name)
    if name == "mlp":
        cfg.n_in, cfg.n_hidden, cfg.n_out, cfg.activation, cfg.lr = 4, 4, 2, "tanh", 0.5
    elif name == "accumulation":
        cfg.n_in = 5
    fill_values(cfg)
    return cfg


def fill_values(cfg: NetworkConfig, *, randomise: bool = False) -> None:
    """Make ``cfg.values`` match the sizes, keeping every entry that still fits."""
    new: dict[str, list] = {}
    for spec in tensor_specs(cfg):
        target = _default_value(spec, cfg)
        old = cfg.values.get(spec.name)
        if old is not None and not (randomise and spec.param):
            arr = np.asarray(old, dtype=float)
            if arr.ndim == target.ndim:
                sl = tuple(slice(0, min(a, b)) for a, b in zip(arr.shape, target.shape))
                target[sl] = arr[sl]
        new[spec.name] = target.tolist()
    cfg.values = new
    cfg.requires_grad = {s.name: bool(cfg.requires_grad.get(s.name, True))
                         for s in tensor_specs(cfg) if s.param}


def _short(v: Any, limit: int = 40) -> str:
    """``repr(v)`` cut to ``limit`` characters, for messages about untrusted values."""
    try:
        text = repr(v)
    except ValueError:  # an int too long to print
        text = "<a huge number>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(tr("{where}: {value} is not a number.", where=where, value=_short(v)))
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise ConfigError(tr("{where}: {value} is not a finite number.", where=where,
                             value=_short(v)))
    if abs(f) > MAX_ABS_VALUE:
        raise ConfigError(tr("{where}: {value} is too large (limit ±1e6).", where=where,
                             value=_short(v)))
    return f


def parse_number(text: str) -> float:
    """A table cell's text as a float, or :class:`ConfigError` with a friendly message."""
    try:
        v = float(str(text).strip().replace(",", "."))
    except ValueError:
        raise ConfigError(tr("'{text}' is not a number.", text=text)) from None
    return _check_number(v, tr("value"))


def _check_int(v: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(tr("{where}: {value} is not a whole number.", where=where,
                             value=_short(v)))
    if not lo <= v <= hi:
        raise ConfigError(tr("{where} must be between {lo} and {hi}, not {value}.",
                             where=where, lo=lo, hi=hi, value=_short(v)))
    return v


def validate_config(cfg: NetworkConfig) -> NetworkConfig:
    """Check every field and value; returns a clean copy or raises :class:`ConfigError`."""
    if cfg.preset not in PRESETS:
        raise ConfigError(tr("Unknown preset {name!r}.", name=cfg.preset))
    out = NetworkConfig(preset=cfg.preset)
    out.n_in = _check_int(cfg.n_in, tr("input size n"), MIN_SIZE, MAX_SIZE)
    out.n_hidden = _check_int(cfg.n_hidden, tr("hidden size"), MIN_SIZE, MAX_SIZE)
    out.n_out = _check_int(cfg.n_out, tr("output size m"), MIN_SIZE, MAX_SIZE)
    if cfg.loss not in LOSSES:
        raise ConfigError(tr("Unknown loss {name!r}.", name=cfg.loss))
    if cfg.activation not in ACTIVATIONS:
        raise ConfigError(tr("Unknown activation {name!r}.", name=cfg.activation))
    out.loss, out.activation = cfg.loss, cfg.activation
    out.seed = _check_int(cfg.seed, tr("seed"), 0, 2**31 - 1)
    lr = _check_number(cfg.lr, tr("learning rate"))
    if not 0 < lr <= 10:
        raise ConfigError(tr("The learning rate must be in (0, 10], not {value}.", value=lr))
    out.lr = lr
    if not isinstance(cfg.values, dict) or not isinstance(cfg.requires_grad, dict):
        raise ConfigError(tr("Tensor values are missing or malformed."))
    for spec in tensor_specs(out):
        if spec.name not in cfg.values:
            raise ConfigError(tr("The value of {name} is missing.", name=spec.name))
        raw = cfg.values[spec.name]
        arr = _nested_floats(raw, spec.shape, spec.name)
        out.values[spec.name] = arr.tolist()
        if spec.param:
            flag = cfg.requires_grad.get(spec.name, True)
            if not isinstance(flag, bool):
                raise ConfigError(tr("requires_grad of {name} must be true or false.",
                                     name=spec.name))
            out.requires_grad[spec.name] = flag
    return out


def _nested_floats(raw: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    def walk(v: Any, dims: tuple[int, ...], where: str) -> list:
        if not dims:
            return _check_number(v, where)  # type: ignore[return-value]
        if not isinstance(v, list) or len(v) != dims[0]:
            raise ConfigError(tr("{name} must have shape {shape}.", name=name,
                                 shape=list(shape)))
        return [walk(e, dims[1:], f"{where}[{i}]") for i, e in enumerate(v)]

    return np.asarray(walk(raw, shape, name), dtype=float).reshape(shape)


def config_to_dict(cfg: NetworkConfig) -> dict:
    return {"preset": cfg.preset, "n_in": cfg.n_in, "n_hidden": cfg.n_hidden,
            "n_out": cfg.n_out, "loss": cfg.loss, "activation": cfg.activation,
            "seed": cfg.seed, "lr": cfg.lr, "values": cfg.values,
            "requires_grad": cfg.requires_grad}


def config_from_dict(d: Any) -> NetworkConfig:
    """Build and validate a configuration from untrusted JSON data."""
    if not isinstance(d, dict):
        raise ConfigError(tr("The network settings must be a JSON object."))
    allowed = {"preset", "n_in", "n_hidden", "n_out", "loss", "activation", "seed", "lr",
               "values", "requires_grad"}
    extra = set(d) - allowed
    if extra:
        raise ConfigError(tr("Unknown setting(s): {names}.",
                             names=", ".join(sorted(map(str, extra)))[:200]))
    cfg = NetworkConfig()
    for key in allowed:
        if key in d:
            setattr(cfg, key, d[key])
    if not isinstance(cfg.preset, str):
        raise ConfigError(tr("Unknown preset {name!r}.", name=str(cfg.preset)[:40]))
    return validate_config(cfg)


def _reject_constant(name: str) -> float:
    raise ConfigError(tr("{value} is not allowed in a session file.", value=name))


def parse_session_text(text: str) -> tuple[NetworkConfig, dict]:
    """Parse a session file's text: (config, options) or :class:`ConfigError`."""
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError(tr("The file is too large to be a JitGrad session."))
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError(tr("The JSON is nested too deeply to be a session file.")) from None
    except ValueError as e:
        raise ConfigError(tr("The file is not valid JSON ({error}).", error=str(e)[:120])) from None
    if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
        raise ConfigError(tr("This is not a JitGrad session file."))
    version = data.get("version")
    if type(version) is not int or version != SESSION_VERSION:
        raise ConfigError(tr("Unsupported session version {v!r}.", v=str(data.get("version"))[:20]))
    cfg = config_from_dict(data.get("network"))
    opts = data.get("options", {})
    if not isinstance(opts, dict):
        raise ConfigError(tr("The options must be a JSON object."))
    clean = {}
    for key in ("retain_graph", "no_grad"):
        v = opts.get(key, False)
        if not isinstance(v, bool):
            raise ConfigError(tr("Option {name} must be true or false.", name=key))
        clean[key] = v
    det = opts.get("detached", [])
    if not isinstance(det, list) or not all(isinstance(s, str) and len(s) < 40 for s in det):
        raise ConfigError(tr("Option {name} must be a list of tensor names.", name="detached"))
    clean["detached"] = det[:64]
    return cfg, clean


# ---------------------------------------------------------------------------
# Graph description for the views
# ---------------------------------------------------------------------------
@dataclass
class GraphNode:
    """A box in the graph view."""

    id: str
    kind: str  # "op" (grad_fn), "leaf" (AccumulateGrad), "tensor", "param", "const", "fop"
    title: str
    shape: tuple[int, ...] | None = None
    tensor: str | None = None  # name of the tensor shown by this box, if any


@dataclass
class GraphModel:
    """Nodes and edges of one view; edges point left to right."""

    nodes: dict[str, GraphNode] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Event:
    """What changed: ``kind`` is one of graph, state, log, code, error, history, config,
    options, accumulation, dirty; ``data`` holds the details."""

    kind: str
    data: dict = field(default_factory=dict)


@dataclass
class Op:
    """One recorded forward operation of a built-in network."""

    label: str
    inputs: list[str]
    output: str


def _fmt_shape(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join(str(d) for d in shape) + "]" if shape else tr("scalar")


def _norm(a: np.ndarray) -> float:
    """Euclidean norm; overflow to inf (a diverging run) is a value here, not a warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.linalg.norm(a))


def short_values(a: np.ndarray | None, limit: int = 3) -> str:
    """A compact label for a gradient: its values if few, else its norm."""
    if a is None:
        return ""
    a = np.asarray(a)
    if a.size == 1:
        return f"{float(a.reshape(())):.4g}"
    if a.size <= limit:
        return "[" + ", ".join(f"{float(v):.2g}" for v in a.reshape(-1)) + "]"
    return f"‖g‖={_norm(a):.3g}"


def op_label(node_name: str) -> str:
    """``AddBackward0`` -> ``add``: the forward op behind a grad_fn name."""
    base = re.sub(r"Backwards?\d*$", "", node_name)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower() or node_name


# ---------------------------------------------------------------------------
# The session
# ---------------------------------------------------------------------------
class Session:
    """Builds the network, drives backward one node at a time and keeps the history."""

    def __init__(self, config: NetworkConfig | None = None) -> None:
        self._listeners: list[Callable[[Event], None]] = []
        self._config = validate_config(config) if config else preset_config("one_layer")
        self.retain_graph = False
        self.no_grad = False
        self.detached: set[str] = set()
        self.mode = "network"  # or "script"
        self.script_path: str | None = None
        # Set by the window to run scripts off the GUI thread (Forward and Reset re-run them).
        self.script_launcher: Callable[[str], object] | None = None
        self.tensors: dict[str, engine.Tensor] = {}  # every named tensor of the last forward
        self.leaves: dict[str, engine.Tensor] = {}  # the editable leaves, never detached
        self.root: engine.Tensor | None = None
        self.root_name = "loss"
        self.root_gradient: engine.Tensor | None = None
        self.ops: list[Op] = []
        self.losses: list[float] = []
        self.grad_norms: list[dict[str, float]] = []
        self.backward_calls = 0
        self.calls_since_zero = 0
        self.zeroed_since_call = False
        self.accumulation: list[tuple[str, dict[str, np.ndarray]]] = []
        self.dirty = False
        self._clear_pass_state()
        self._node_ids: dict[Any, str] = {}
        self._nodes: dict[str, Any] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._height: dict[str, int] = {}
        self.backward_graph = GraphModel()
        self.forward_graph = GraphModel()
        self._fwd_members: dict[str, set[str]] = {}
        self.build()

    # -- events ------------------------------------------------------------
    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``fn(event)`` on every change; returns an unsubscribe function."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def _emit(self, kind: str, **data: Any) -> None:
        ev = Event(kind, data)
        for fn in list(self._listeners):
            fn(ev)

    def log(self, text: str, level: str = "info") -> None:
        self._emit("log", text=text, level=level)

    def _code(self, code: str, output: str = "") -> None:
        self._emit("code", code=code, output=output)

    def mark_unsaved(self) -> None:
        """Flag the session as holding unsaved work (e.g. restored after a crash)."""
        self._set_dirty(True)

    def _set_dirty(self, flag: bool = True) -> None:
        """Record (un)saved state; every change emits ``dirty`` so autosave sees it."""
        if self.dirty != flag or flag:
            self.dirty = flag
            self._emit("dirty", dirty=flag)

    # -- configuration -----------------------------------------------------
    @property
    def config(self) -> NetworkConfig:
        """A copy of the current configuration (edit it and pass it to ``apply_config``)."""
        return self._config.copy()

    @property
    def lr(self) -> float:
        return self._config.lr

    def set_lr(self, lr: float) -> None:
        cfg = self.config
        cfg.lr = lr
        self._config = validate_config(cfg)
        self._set_dirty()

    def apply_config(self, cfg: NetworkConfig, *, quiet: bool = False) -> None:
        """Validate ``cfg`` (raising :class:`ConfigError`, nothing changed) and rebuild."""
        clean = validate_config(cfg)
        self._config = clean
        self.mode = "network"
        self._emit("config")
        self.build(quiet=quiet)
        self._set_dirty()

    def load_preset(self, name: str) -> None:
        """Replace the network by a preset and rebuild; history starts over."""
        cfg = preset_config(name)
        self.detached.clear()
        self.retain_graph = name == "accumulation"
        self.no_grad = False
        self._emit("options")
        self._reset_history()
        self.apply_config(cfg)
        self.log(tr("Preset loaded: {name}.", name=preset_title(name)))

    def set_value(self, name: str, index: tuple[int, ...], value: float) -> None:
        """Change one entry of a tensor; refused with :class:`ConfigError` if invalid."""
        value = _check_number(value, name)
        cfg = self.config
        arr = np.asarray(cfg.values[name], dtype=float)
        arr[index] = value
        cfg.values[name] = arr.tolist()
        self.apply_config(cfg, quiet=True)

    def resize(self, n_in: int | None = None, n_out: int | None = None,
               n_hidden: int | None = None) -> None:
        cfg = self.config
        cfg.n_in = cfg.n_in if n_in is None else n_in
        cfg.n_out = cfg.n_out if n_out is None else n_out
        cfg.n_hidden = cfg.n_hidden if n_hidden is None else n_hidden
        for v, what in ((cfg.n_in, tr("input size n")), (cfg.n_out, tr("output size m")),
                        (cfg.n_hidden, tr("hidden size"))):
            _check_int(v, what, MIN_SIZE, MAX_SIZE)
        fill_values(cfg)
        self.apply_config(cfg)

    def randomise(self, seed: int) -> None:
        """New random parameter values from ``seed``; inputs and targets are kept."""
        cfg = self.config
        cfg.seed = _check_int(seed, tr("seed"), 0, 2**31 - 1)
        fill_values(cfg, randomise=True)
        self.apply_config(cfg)
        self._code(f"torch.manual_seed({seed})")

    def set_choice(self, *, loss: str | None = None, activation: str | None = None) -> None:
        cfg = self.config
        cfg.loss = cfg.loss if loss is None else loss
        cfg.activation = cfg.activation if activation is None else activation
        self.apply_config(cfg)

    def set_requires_grad(self, name: str, flag: bool) -> None:
        cfg = self.config
        cfg.requires_grad[name] = bool(flag)
        self.apply_config(cfg)
        self._code(f"{name}.requires_grad_({flag})")

    def set_retain_graph(self, flag: bool) -> None:
        self.retain_graph = bool(flag)
        self._emit("options")
        self._set_dirty()

    def set_no_grad(self, flag: bool) -> None:
        self.no_grad = bool(flag)
        self._emit("options")
        self._set_dirty()

    # -- building ----------------------------------------------------------
    def _clear_pass_state(self) -> None:
        self._iter: Any = None
        self.pass_active = False
        self.done: set[str] = set()
        self.next_id: str | None = None
        self.last_id: str | None = None
        self.last_edges: list[tuple[str, str]] = []
        self.edge_grads: dict[tuple[str, str], np.ndarray] = {}
        self.out_grads: dict[str, np.ndarray] = {}
        self._deps: dict[str, int] = {}
        self._ready: set[str] = set()

    def _reset_history(self) -> None:
        self.losses.clear()
        self.grad_norms.clear()
        self.accumulation.clear()
        self.backward_calls = 0
        self.calls_since_zero = 0
        self.zeroed_since_call = False
        self._emit("history")
        self._emit("accumulation")

    def build(self, *, quiet: bool = False) -> None:
        """Create the leaf tensors from the configuration and run the forward pass."""
        cfg = self._config
        self._abandon_pass()
        self.leaves = {}
        for spec in tensor_specs(cfg):
            rg = spec.param and cfg.requires_grad.get(spec.name, True)
            self.leaves[spec.name] = engine.tensor(cfg.values[spec.name], dtype=engine.float32,
                                                   requires_grad=rg)
        self.tensors = dict(self.leaves)
        self.forward(quiet=quiet, code=not quiet)

    def forward_code(self) -> str:
        """The engine code equivalent to the current network, tutorial style."""
        cfg = self._config
        lines = ["import engine as torch", ""]
        for spec in tensor_specs(cfg):
            lines.append(self._leaf_code(spec))
        ctx = "with torch.no_grad():\n    " if self.no_grad else ""
        # Unnamed intermediates (``x@w``, ``inp+1``) are valid expressions: inline them.
        body = [self._op_code(op) for op in self.ops if op.output.isidentifier()]
        if ctx:
            lines.append(ctx.rstrip())
            lines.extend("    " + b for b in body)
        else:
            lines.extend(body)
        return "\n".join(lines)

    def _leaf_code(self, spec: TensorSpec) -> str:
        cfg = self._config
        arr = np.asarray(cfg.values[spec.name], dtype=float)
        dims = ", ".join(str(d) for d in spec.shape)
        rg = spec.param and cfg.requires_grad.get(spec.name, True)
        flag = f", requires_grad={rg}" if spec.param else ""
        if spec.name == "inp" and np.array_equal(arr, np.eye(cfg.n_in)):
            return f"inp = torch.eye({cfg.n_in}{flag})"
        if not arr.any():
            return f"{spec.name} = torch.zeros({dims}{flag})"
        if (arr == 1).all():
            return f"{spec.name} = torch.ones({dims}{flag})"
        if spec.param and np.allclose(arr, _random(spec.shape, cfg.seed, spec.name)):
            return f"{spec.name} = torch.randn({dims}{flag})"
        if arr.size <= 16:
            vals = json.dumps(np.round(arr, 4).tolist())
            return f"{spec.name} = torch.tensor({vals}{flag})"
        return f"{spec.name} = torch.tensor(...)  # ({dims}) values from the table{flag and ','}" \
            f"{flag[1:]}"

    def _op_code(self, op: Op) -> str:
        a = [self._expr(x) for x in op.inputs]
        name = op.output
        if op.label == "matmul":
            expr = f"torch.matmul({a[0]}, {a[1]})"
        elif op.label == "add":
            expr = f"{a[0]} + {a[1]}"
        elif op.label == "pow":
            expr = f"({a[0]}).pow(2)" if not a[0].isidentifier() else f"{a[0]}.pow(2)"
        elif op.label == "bce_with_logits":
            expr = f"torch.nn.functional.binary_cross_entropy_with_logits({a[0]}, {a[1]})"
        elif op.label == "mse":
            expr = f"(({a[0]} - {a[1]}) ** 2).mean()"
        elif op.label == "detach":
            expr = f"{a[0]}.detach()"
        else:
            expr = f"torch.{op.label}({a[0]})"
        return f"{name} = {expr}"

    def _expr(self, name: str) -> str:
        """Python for a tensor: its name, or the expression an unnamed one stands for."""
        if name.isidentifier() or name == "1":
            return name
        for op in self.ops:
            if op.output == name and op.label == "matmul":
                return f"torch.matmul({op.inputs[0]}, {op.inputs[1]})"
            if op.output == name and op.label == "add":
                return f"{op.inputs[0]} + {op.inputs[1]}"
        return name

    def _forward_env(self) -> tuple[dict[str, engine.Tensor], list[Op]]:
        """The forward pass on the current leaves, untracked under "Forward without tracking"."""
        if self.no_grad:
            with engine.no_grad():
                return self._compute(dict(self.leaves))
        return self._compute(dict(self.leaves))

    def _compute(self, t: dict[str, engine.Tensor]) -> tuple[dict[str, engine.Tensor], list[Op]]:
        """Run the forward pass on leaf tensors ``t``; returns all named tensors and the ops."""
        cfg = self._config
        env = dict(t)
        ops: list[Op] = []

        def put(name: str, value: engine.Tensor, label: str, inputs: list[str]) -> str:
            ops.append(Op(label, inputs, name))
            env[name] = value
            if name in self.detached and value.grad_fn is not None:
                env[name] = value.detach()
                ops.append(Op("detach", [name], name))
            return name

        for name in list(env):
            if name in self.detached and env[name].requires_grad:
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

    def forward(self, *, quiet: bool = False, code: bool = True, probe: bool = True) -> None:
        """Run the forward pass again (re-running the script in script mode)."""
        if self.mode == "script" and self.script_path:
            (self.script_launcher or self.load_script)(self.script_path)
            return
        self._abandon_pass()
        env, ops = self._forward_env()
        self.ops = ops
        self.tensors = env
        root = "out" if self._config.preset == "accumulation" else "loss"
        self.root_name = root
        self.root = env[root]
        self.root_gradient = engine.ones_like(env["inp"]) if root == "out" else None
        if root == "loss":
            self.losses.append(float(self.root.item()))
        self._rebuild_graph(probe=probe)
        if code:
            self._code(self.forward_code(), self.grad_fn_prints())
        if not quiet:
            if self.root.grad_fn is None:
                self.log(tr("Forward pass without tracking: no graph was recorded."))
            else:
                self.log(tr("Forward pass: {n} graph nodes recorded.",
                            n=len(self.backward_graph.nodes)))
        self._emit("graph")
        self._emit("history")

    def grad_fn_prints(self) -> str:
        """What the tutorial prints: ``Gradient function for z = <AddBackward0 ...>``."""
        names = dict.fromkeys(n for n in ("z", self.root_name) if n in self.tensors)
        return "\n".join(f"Gradient function for {n} = {self.tensors[n].grad_fn}"
                         for n in names)

    # -- script mode -------------------------------------------------------
    def load_script(self, path: str) -> bool:
        """Run a demo script here and now (blocking) and show the graph it left behind.

        Output and any traceback go to the log; on error the previous graph stays.  The
        window runs scripts in a worker thread instead (:mod:`gui.script_runner`) and hands
        the result to :meth:`adopt_script`.
        """
        result = execute_script(path)
        lines, dropped = result.output.drain()
        if dropped:
            self.log(tr("… {n} earlier output lines not shown.", n=dropped), "warning")
        if lines:
            self.log("\n".join(lines), "output")
        return self._adopt_script(Path(path), result)

    def _adopt_script(self, src_path: Path, result: ScriptResult) -> bool:
        if not result.ok:
            if result.stopped:
                self.log(tr("Script {name} stopped.", name=src_path.name), "warning")
                return False
            if not result.source and not result.error.startswith("Traceback"):
                self.log(tr("Cannot read {path}: {error}", path=str(src_path),
                            error=result.error), "error")
                return False
            tb = result.error
            self.log(tr("The script raised an exception:") + "\n" + tb.rstrip(), "error")
            self._emit("error", message=tb.strip().splitlines()[-1],
                       hint=tr("The script stopped with an error; the traceback is in the log."))
            return False
        ns, source, printed = result.namespace, result.source, result.output.tail_text()
        named = {k: v for k, v in ns.items() if isinstance(v, engine.Tensor)
                 and not k.startswith("_")}
        root_name = None
        for k in ROOT_NAMES:
            if k in named and named[k].grad_fn is not None:
                root_name = k
                break
        if root_name is None:
            for k in reversed(list(named)):
                if named[k].grad_fn is not None:
                    root_name = k
                    break
        self._abandon_pass()
        if self.mode != "script" or self.script_path != str(src_path):
            self._reset_history()
        self.mode = "script"
        self.script_path = str(src_path)
        self.ops = []
        self.tensors = named
        self.root_name = root_name or ""
        self.root = named.get(root_name) if root_name else None
        self.root_gradient = None
        if self.root is not None and self.root.numel() != 1:
            self.root_gradient = engine.ones_like(self.root)
        if self.root is not None and self.root.numel() == 1:
            self.losses.append(float(self.root.item()))
        self._rebuild_graph(probe=False)
        self.log(tr("Script {name} finished; graph of '{root}' ready to step.",
                    name=src_path.name, root=root_name) if root_name else
                 tr("Script {name} finished but left no tensor with a grad_fn.",
                    name=src_path.name))
        self._code(source.rstrip(), printed.rstrip())
        self._emit("config")
        self._emit("graph")
        self._emit("history")
        return True

    # -- graph discovery -----------------------------------------------------
    def _walk(self, root_fn: Any) -> list[Any]:
        """Nodes reachable from ``root_fn`` in a fixed depth-first order."""
        seen: dict[Any, None] = {}
        stack = [root_fn]
        while stack:
            n = stack.pop()
            if n is None or n in seen:
                continue
            seen[n] = None
            for nxt, _ in reversed(n.next_functions):
                if nxt is not None and nxt not in seen:
                    stack.append(nxt)
        return list(seen)

    def _leaf_name(self, t: Any) -> str:
        for k, v in self.tensors.items():
            if v is t:
                return k
        return "leaf"

    def _rebuild_graph(self, *, probe: bool) -> None:
        self._clear_pass_state()
        self._node_ids, self._nodes, self._shapes = {}, {}, {}
        bg = GraphModel()
        root_fn = self.root.grad_fn if self.root is not None else None
        order = self._walk(root_fn) if root_fn is not None else []
        producers = {id(t.grad_fn): k for k, t in self.tensors.items() if t.grad_fn is not None}
        for i, node in enumerate(order):
            nid = f"b{i}"
            self._node_ids[node] = nid
            self._nodes[nid] = node
        if probe and order and self.mode == "network":
            self._probe_shapes(len(order))
        for node in order:
            nid = self._node_ids[node]
            if node.name() == "AccumulateGrad":
                var = node.variable
                name = self._leaf_name(var)
                gn = GraphNode(nid, "leaf", "AccumulateGrad", tuple(var.shape), name)
            else:
                tname = producers.get(id(node))
                shape = tuple(self.tensors[tname].shape) if tname else self._shapes.get(nid)
                gn = GraphNode(nid, "op", node.name(), shape, tname)
            bg.nodes[nid] = gn
            for nxt, _ in node.next_functions:
                if nxt is not None:
                    bg.edges.append((nid, self._node_ids[nxt]))
        self.backward_graph = bg
        self._height = {}
        for node in reversed(order):
            nid = self._node_ids[node]
            hs = [self._height[self._node_ids[n]] for n, _ in node.next_functions if n is not None]
            self._height[nid] = 1 + max(hs) if hs else 0
        self.forward_graph = (self._forward_from_ops() if self.mode == "network" and self.ops
                              else self._forward_from_backward())
        self._start_prediction()

    def _probe_shapes(self, count: int) -> None:
        """Learn every node's output shape by a backward pass on a throwaway copy."""
        leaves = {k: engine.tensor(t.detach().numpy().copy(), requires_grad=t.requires_grad)
                  for k, t in self.leaves.items()}
        try:
            env, _ = self._compute(leaves)
            root = env[self.root_name]
            if root.grad_fn is None:
                return
            order = self._walk(root.grad_fn)
            if len(order) != count:
                return
            index = {n: f"b{i}" for i, n in enumerate(order)}
            grad = engine.ones_like(root) if root.numel() != 1 else None
            for step in engine.autograd.backward_steps(root, grad):
                g = step.grad_outputs[0] if step.grad_outputs else None
                if g is not None:
                    self._shapes[index[step.node]] = tuple(g.shape)
        except RuntimeError:
            return

    def _forward_from_ops(self) -> GraphModel:
        fg = GraphModel()
        self._fwd_members = {}
        producers: dict[str, str] = {}
        back_of = {id(n): i for n, i in self._node_ids.items()}
        for spec in tensor_specs(self._config):
            t = self.tensors[spec.name]
            kind = "param" if spec.param else "const"
            fg.nodes[f"t:{spec.name}"] = GraphNode(f"t:{spec.name}", kind, spec.name,
                                                   tuple(t.shape), spec.name)
            producers[spec.name] = f"t:{spec.name}"
            acc = self._accumulator_id(spec.name)
            self._fwd_members[f"t:{spec.name}"] = {acc} if acc else set()
        for i, op in enumerate(self.ops):
            fid = f"f{i}"
            fg.nodes[fid] = GraphNode(fid, "fop", op.label, None, op.output)
            for a in op.inputs:
                if a in producers:
                    fg.edges.append((producers[a], fid))
                elif a == "1":
                    cid = f"c{i}"
                    fg.nodes[cid] = GraphNode(cid, "const", "1", (), None)
                    fg.edges.append((cid, fid))
            t = self.tensors[op.output]
            tid = f"t:{op.output}#{i}"
            fg.nodes[tid] = GraphNode(tid, "tensor", op.output, tuple(t.shape), op.output)
            fg.edges.append((fid, tid))
            producers[op.output] = tid
            # The grad_fn nodes this op created: reachable from its output, not from inputs.
            members: set[str] = set()
            if t.grad_fn is not None and id(t.grad_fn) in back_of and op.label != "detach":
                stop = {id(self.tensors[a].grad_fn) for a in op.inputs
                        if a in self.tensors and self.tensors[a].grad_fn is not None}
                stack = [t.grad_fn]
                while stack:
                    n = stack.pop()
                    if n is None or id(n) in stop or n.name() == "AccumulateGrad":
                        continue
                    nid = back_of.get(id(n))
                    if nid is None or nid in members:
                        continue
                    members.add(nid)
                    stack.extend(nx for nx, _ in n.next_functions)
            self._fwd_members[fid] = members
            self._fwd_members[tid] = {back_of[id(t.grad_fn)]} if (
                t.grad_fn is not None and id(t.grad_fn) in back_of) else set()
        return fg

    def _accumulator_id(self, name: str) -> str | None:
        for nid, gn in self.backward_graph.nodes.items():
            if gn.kind == "leaf" and gn.tensor == name:
                return nid
        return None

    def _forward_from_backward(self) -> GraphModel:
        """A forward view for scripts: the backward graph reversed, ops named forward-style."""
        fg = GraphModel()
        self._fwd_members = {}
        for nid, gn in self.backward_graph.nodes.items():
            fid = "t:" + nid if gn.kind == "leaf" else "f:" + nid
            if gn.kind == "leaf":
                fg.nodes[fid] = GraphNode(fid, "param", gn.tensor or "leaf", gn.shape, gn.tensor)
            else:
                fg.nodes[fid] = GraphNode(fid, "fop", op_label(gn.title), gn.shape, gn.tensor)
            self._fwd_members[fid] = {nid}
        for a, b in self.backward_graph.edges:
            fa = ("t:" if self.backward_graph.nodes[a].kind == "leaf" else "f:") + a
            fb = ("t:" if self.backward_graph.nodes[b].kind == "leaf" else "f:") + b
            fg.edges.append((fb, fa))
        if self.root is not None and self.root.grad_fn is not None:
            rid = f"t:{self.root_name}"
            fg.nodes[rid] = GraphNode(rid, "tensor", self.root_name, tuple(self.root.shape),
                                      self.root_name)
            fg.edges.append(("f:" + self._node_ids[self.root.grad_fn], rid))
            self._fwd_members[rid] = {self._node_ids[self.root.grad_fn]}
        return fg

    def empty_reason(self) -> str:
        """Why there is no graph to show, in one sentence."""
        if self.root is None:
            return tr("There is no graph yet: run Forward first.")
        if self.no_grad:
            return tr("The forward pass ran inside no_grad, so no graph was recorded. "
                      "Untick “Forward without tracking” and run Forward (F5).")
        return tr("Nothing the output depends on requires grad (every branch is frozen or "
                  "detached), so there is no graph.")

    def forward_members(self, fid: str) -> set[str]:
        """The backward node ids that a forward-view box stands for."""
        return set(self._fwd_members.get(fid, set()))

    # -- next-node prediction ----------------------------------------------
    def _start_prediction(self) -> None:
        self._deps = {nid: 0 for nid in self._nodes}
        for _a, b in self.backward_graph.edges:
            self._deps[b] += 1
        root_fn = self.root.grad_fn if self.root is not None else None
        self._ready = {self._node_ids[root_fn]} if root_fn is not None else set()
        self._predict()

    def _predict(self) -> None:
        if not self._ready:
            self.next_id = None
            return
        bg = self.backward_graph.nodes

        def key(nid: str) -> tuple:
            # AccumulateGrad first, then the most recently created node (closest to root).
            return (0 if bg[nid].kind == "leaf" else 1, -self._height.get(nid, 0),
                    int(nid[1:]))

        self.next_id = min(self._ready, key=key)

    def _advance_prediction(self, nid: str) -> None:
        self._ready.discard(nid)
        for a, b in self.backward_graph.edges:
            if a == nid:
                self._deps[b] -= 1
                if self._deps[b] == 0:
                    self._ready.add(b)
        self._predict()

    # -- backward ------------------------------------------------------------
    def _abandon_pass(self) -> None:
        if self._iter is not None:
            self._iter.close()
            self._iter = None
            if self.pass_active:
                self.log(tr("The unfinished backward pass was abandoned."))
        self.pass_active = False

    def _backward_code(self) -> str:
        grad = "torch.ones_like(inp)" if self.root_name == "out" and "inp" in self.tensors \
            else ("torch.ones_like(" + self.root_name + ")" if self.root_gradient is not None
                  else "")
        args = [a for a in (grad, "retain_graph=True" if self.retain_graph else "") if a]
        return f"{self.root_name}.backward({', '.join(args)})"

    def _start_pass(self) -> bool:
        if self.root is None:
            self.log(tr("There is no graph yet: run Forward first."), "warning")
            return False
        # Fresh colours for the new pass; the graph itself is unchanged.
        self.done = set()
        self.last_id, self.last_edges = None, []
        self.edge_grads, self.out_grads = {}, {}
        self._start_prediction()
        try:
            it = engine.autograd.backward_steps(self.root, self.root_gradient,
                                                retain_graph=self.retain_graph)
            first = next(it)
        except StopIteration:
            self._iter = None
            return False
        except RuntimeError as e:
            self._iter = None
            self._report_error(e, self._backward_code())
            self._emit("state")
            return False
        self._iter = it
        self.pass_active = True
        self.backward_calls += 1
        self._code(f"# stepping through {self._backward_code()}\n"
                   f"steps = torch.autograd.backward_steps({self._steps_args()})")
        self._record(first)
        self._maybe_finish(first.remaining)
        return True

    def _steps_args(self) -> str:
        parts = [self.root_name]
        if self.root_gradient is not None:
            parts.append("torch.ones_like(inp)" if self.root_name == "out" and "inp" in
                         self.tensors else f"torch.ones_like({self.root_name})")
        if self.retain_graph:
            parts.append("retain_graph=True")
        return ", ".join(parts)

    def _report_error(self, e: Exception, code: str) -> None:
        msg = str(e)
        self.log(f"RuntimeError: {msg}", "error")
        self._code(code, f"RuntimeError: {msg}")
        self._emit("error", message=msg, hint=explain_error(msg))

    def _record(self, step: Any) -> None:
        nid = self._node_ids.get(step.node)
        if nid is None:  # a node outside the shown graph; nothing to colour
            return
        self.done.add(nid)
        self.last_id = nid
        self.last_edges = []
        outs = step.grad_outputs
        if outs and outs[0] is not None:
            self.out_grads[nid] = outs[0].numpy()
            self._shapes.setdefault(nid, tuple(outs[0].shape))
        for (nxt, _), g in zip(step.node.next_functions, step.grad_inputs):
            if nxt is None or g is None:
                continue
            edge = (nid, self._node_ids[nxt])
            self.edge_grads[edge] = g.numpy()
            self.last_edges.append(edge)
        if not self.last_edges:
            self.last_edges = [(a, b) for a, b in self.backward_graph.edges
                               if b == nid and a in self.done]
        self._advance_prediction(nid)
        if step.accumulated is not None:
            name = self._leaf_name(step.accumulated)
            self.log(tr("Step {i}: {node} → {name}.grad updated.", i=step.index,
                        node=step.node.name(), name=name))
        else:
            self.log(tr("Step {i}: {node} ran ({n} left).", i=step.index,
                        node=step.node.name(), n=step.remaining))
        self._code(f"step = next(steps)  # {step!r}")

    def step(self) -> bool:
        """Run the next backward node (starting a pass if none is active)."""
        if not self.pass_active:
            ok = self._start_pass()
            self._emit("state")
            return ok
        try:
            s = next(self._iter)
        except StopIteration:
            self._finish_pass()
            self._emit("state")
            return False
        except RuntimeError as e:
            self._abandon_pass()
            self._report_error(e, "step = next(steps)")
            self._emit("state")
            return False
        self._record(s)
        self._maybe_finish(s.remaining)
        self._emit("state")
        return True

    def _maybe_finish(self, remaining: int) -> None:
        if remaining == 0 and self._iter is not None:
            with contextlib.suppress(StopIteration):
                next(self._iter)
            self._finish_pass()

    def run_to_end(self) -> None:
        """Finish the current pass, or run a whole new one (``loss.backward()``)."""
        if not self.pass_active:
            if not self._start_pass():
                self._emit("state")
                return
            self._code(f"for step in steps: pass   # same as {self._backward_code()}")
        else:
            self._code("for step in steps: pass")
        while self.pass_active:
            try:
                s = next(self._iter)
            except StopIteration:
                self._finish_pass()
                break
            except RuntimeError as e:
                self._abandon_pass()
                self._report_error(e, "for step in steps: pass")
                break
            self._record(s)
        self._emit("state")

    def _finish_pass(self) -> None:
        self._iter = None
        self.pass_active = False
        self.next_id = None
        self.calls_since_zero += 1
        leaves = self.leaf_grads()
        self.grad_norms.append({k: _norm(v) for k, v in leaves.items()})
        if self.zeroed_since_call:
            label = tr("Call after zeroing")
        elif self.calls_since_zero == 1:
            label = tr("First call")
        elif self.calls_since_zero == 2:
            label = tr("Second call")
        else:
            label = tr("Call {n}", n=self.calls_since_zero)
        self.zeroed_since_call = False
        self.accumulation.append((label, {k: v.copy() for k, v in leaves.items()}))
        del self.accumulation[:-6]
        prints = "\n".join(f"{k}.grad =\n{self.tensors[k].grad}" for k in leaves)
        self._code("\n".join(f"print({k}.grad)" for k in leaves), prints)
        self.log(tr("Backward pass {n} finished.", n=self.backward_calls))
        self._emit("history")
        self._emit("accumulation")

    def leaf_grads(self) -> dict[str, np.ndarray]:
        """Current ``.grad`` of every named leaf that has one."""
        out = {}
        for k, t in self.tensors.items():
            if t.grad_fn is None and t.requires_grad and t.grad is not None:
                out[k] = t.grad.numpy().copy()
        return out

    def params(self) -> list[str]:
        """Names of leaf tensors that require grad."""
        return [k for k, t in self.tensors.items() if t.grad_fn is None and t.requires_grad]

    # -- other actions -------------------------------------------------------
    def zero_grads(self) -> None:
        """``p.grad.zero_()`` for every leaf with a gradient, as the tutorial does."""
        names = [k for k in self.params() if self.tensors[k].grad is not None]
        for k in names:
            self.tensors[k].grad.zero_()
        if names:
            self.calls_since_zero = 0
            self.zeroed_since_call = True
            self._code("\n".join(f"{k}.grad.zero_()" for k in names))
            self.log(tr("Gradients zeroed: {names}.", names=", ".join(names)))
        else:
            self.log(tr("No gradients to zero yet."))
        self._emit("state")

    def toggle_detach(self, name: str) -> None:
        """Cut (or restore) the graph at tensor ``name`` and run forward again."""
        if self.mode != "network":
            self.log(tr("Detach works on the built-in networks, not on scripts."), "warning")
            return
        if name not in self.tensors or name == self.root_name:
            self.log(tr("Select a tensor other than the loss to detach."), "warning")
            return
        if name in self.detached:
            self.detached.discard(name)
            self.log(tr("{name} is attached to the graph again.", name=name))
        else:
            self.detached.add(name)
            self._code(f"{name} = {name}.detach()")
            self.log(tr("{name} detached: its branch no longer receives gradients.", name=name))
        self.forward()
        self._set_dirty()

    def sgd_step(self) -> None:
        """``p -= lr * p.grad`` under ``no_grad`` for every parameter, then forward."""
        if self.mode != "network":  # Forward re-runs the script, which would undo the step
            self.log(tr("The SGD step works on the built-in networks, not on scripts."),
                     "warning")
            return
        names = [k for k in self.params() if self.tensors[k].grad is not None]
        if not names:
            self.log(tr("Run backward first: no parameter has a gradient yet."), "warning")
            return
        self._abandon_pass()
        lr = self._config.lr
        with engine.no_grad():
            for k in names:
                self.tensors[k].sub_(self.tensors[k].grad * lr)
        self._store_params()
        body = "\n".join(f"    {k} -= {lr:g} * {k}.grad" for k in names)
        self._code(f"with torch.no_grad():\n{body}")
        self.log(tr("SGD step with lr={lr:g} on {names}.", lr=lr, names=", ".join(names)))
        self.forward(quiet=True, code=False)
        self._set_dirty()

    def _store_params(self) -> None:
        """Copy the trained parameters into the configuration.

        A parameter that diverged (NaN, ±inf or beyond ±1e6) is clamped into range, NaN
        becoming 0, so the configuration stays valid; the leaf is replaced to match and
        the change is reported as an error (which also pauses training).
        """
        cfg = self._config
        clamped = []
        for spec in tensor_specs(cfg):
            if not spec.param:
                continue
            arr = self.leaves[spec.name].detach().numpy().astype(float)
            if not (np.isfinite(arr).all() and np.abs(arr).max(initial=0) <= MAX_ABS_VALUE):
                clamped.append(spec.name)
                arr = np.clip(np.nan_to_num(arr, nan=0.0), -MAX_ABS_VALUE, MAX_ABS_VALUE)
                old = self.leaves[spec.name]
                self.leaves[spec.name] = engine.tensor(arr, dtype=engine.float32,
                                                       requires_grad=old.requires_grad)
            cfg.values[spec.name] = np.round(arr, 6).tolist()
        self._emit("config")
        if clamped:
            msg = tr("Training diverged: {names} left the range ±1e6 (or became NaN) and "
                     "were clamped.", names=", ".join(clamped))
            self.log(msg, "error")
            self._emit("error", message=msg,
                       hint=tr("Lower the learning rate, or press Reset to start again."))

    def train(self, steps: int = 1) -> float | None:
        """``steps`` rounds of zero_grad, forward, backward and SGD; returns the last loss."""
        if self.mode != "network" or self.root_name != "loss":
            self.log(tr("Training needs a network with a scalar loss."), "warning")
            return None
        self._abandon_pass()
        lr = self._config.lr
        for _ in range(steps):
            names = self.params()
            for k in names:
                if self.tensors[k].grad is not None:
                    self.tensors[k].grad.zero_()
            env, _ = self._forward_env()
            loss = env["loss"]
            self.losses.append(float(loss.item()))
            try:
                loss.backward()
            except RuntimeError as e:
                self._report_error(e, "loss.backward()")
                self._emit("state")  # the grads were zeroed above: show it
                self._emit("history")
                return None
            with engine.no_grad():
                for k in names:
                    if self.tensors[k].grad is not None:
                        self.tensors[k].sub_(self.tensors[k].grad * lr)
            self.backward_calls += 1
            self.grad_norms.append({k: _norm(self.tensors[k].grad.numpy())
                                    for k in names if self.tensors[k].grad is not None})
        self.calls_since_zero = 1
        self._store_params()
        del self.losses[-1]  # the forward below records the loss after the last update
        self.forward(quiet=True, code=False, probe=False)
        self._set_dirty()
        return self.losses[-1] if self.losses else None

    def reset(self) -> None:
        """Back to the configuration's starting values, options off, history cleared."""
        if self.mode == "script" and self.script_path:
            self._reset_history()
            (self.script_launcher or self.load_script)(self.script_path)
            return
        self.detached.clear()
        self._reset_history()
        cfg = preset_config(self._config.preset)
        cfg.n_in, cfg.n_hidden, cfg.n_out = (self._config.n_in, self._config.n_hidden,
                                             self._config.n_out)
        cfg.loss, cfg.activation, cfg.seed = (self._config.loss, self._config.activation,
                                              self._config.seed)
        cfg.requires_grad = dict(self._config.requires_grad)
        cfg.values = {}
        fill_values(cfg)
        # Keep the user's inputs and targets; only the parameters restart.
        for spec in tensor_specs(cfg):
            if not spec.param:
                cfg.values[spec.name] = self._config.values[spec.name]
        self.apply_config(cfg)
        self.log(tr("Session reset."))

    # -- inspection ----------------------------------------------------------
    def view(self, name: str) -> GraphModel:
        return self.forward_graph if name == "forward" else self.backward_graph

    def tensor_value(self, name: str) -> np.ndarray | None:
        t = self.tensors.get(name)
        return None if t is None else t.detach().numpy()

    def tensor_grad(self, name: str) -> np.ndarray | None:
        t = self.tensors.get(name)
        if t is None or t.grad_fn is not None or not t.requires_grad or t.grad is None:
            return None
        return t.grad.numpy()

    def graph_released(self) -> bool:
        """True once a backward pass without retain_graph has freed the graph's saved values."""
        return any(getattr(n, "saved_tensors_released", False) for n in self._nodes.values())

    def node_shape(self, nid: str) -> tuple[int, ...] | None:
        """Output shape of a backward node, once known (scripts learn it while stepping)."""
        gn = self.backward_graph.nodes.get(nid)
        if gn is not None and gn.shape is not None:
            return gn.shape
        return self._shapes.get(nid)

    def grad_of(self, name: str) -> np.ndarray | None:
        """``.grad`` of a leaf, or for other tensors the gradient the pass has sent them."""
        g = self.tensor_grad(name)
        if g is not None:
            return g
        for nid, gn in self.backward_graph.nodes.items():
            if gn.kind == "op" and gn.tensor == name and nid in self.out_grads:
                return self.out_grads[nid]
        return None

    def inspected_tensors(self) -> list[str]:
        """Tensors the inspector shows: the parameters, then the network output."""
        names = [s.name for s in tensor_specs(self._config) if s.param] \
            if self.mode == "network" else self.params()
        for extra in ("z", "out"):
            if extra in self.tensors and extra not in names:
                names.append(extra)
        return names

    def node_details(self, view: str, nid: str) -> dict:
        """Title, value and gradient of a box, for tooltips and the inspector."""
        gm = self.view(view)
        gn = gm.nodes.get(nid)
        if gn is None:
            return {}
        value = self.tensor_value(gn.tensor) if gn.tensor else None
        if view == "backward" and gn.kind == "leaf":
            grad = self.tensor_grad(gn.tensor or "")
        elif view == "backward":
            grad = self.out_grads.get(nid)
        else:
            grad = self.grad_of(gn.tensor) if gn.tensor else None
        label = gn.title if gn.tensor is None or gn.title == gn.tensor else \
            f"{gn.title} ({gn.tensor})"
        return {"title": label, "name": gn.tensor, "value": value, "grad": grad,
                "shape": gn.shape, "kind": gn.kind}

    def node_state(self, view: str, nid: str) -> str:
        """``next``, ``done``, ``last`` or ``idle`` for a box in ``view``."""
        members = {nid} if view == "backward" else self.forward_members(nid)
        if not members:
            return "idle"
        if self.last_id in members:
            return "last"
        if self.next_id in members and self.pass_active:
            return "next"
        if members <= self.done:
            return "done"
        return "idle"

    def edge_grad(self, view: str, edge: tuple[str, str]) -> np.ndarray | None:
        """The gradient that flowed along ``edge`` (None until it has)."""
        if view == "backward":
            return self.edge_grads.get(edge)
        fg = self.forward_graph.nodes
        a, b = edge
        t = fg[a].tensor if fg[a].kind in ("tensor", "param") else fg[b].tensor
        if t is None:
            return None
        for nid in self.forward_members(a if fg[a].kind != "fop" else b):
            node = self.backward_graph.nodes.get(nid)
            if node is None:
                continue
            if node.kind == "leaf":
                if nid in self.done:
                    return self.tensor_grad(node.tensor or "")
            elif nid in self.out_grads:
                return self.out_grads[nid]
        return None

    def edge_is_last(self, view: str, edge: tuple[str, str]) -> bool:
        if view == "backward":
            return edge in self.last_edges
        if self.last_id is None:
            return False
        a, b = edge
        return self.last_id in self.forward_members(a) and bool(self.forward_members(a))

    # -- sessions ------------------------------------------------------------
    def to_json(self) -> str:
        data = {"format": SESSION_FORMAT, "version": SESSION_VERSION,
                "network": config_to_dict(self._config),
                "options": {"retain_graph": self.retain_graph, "no_grad": self.no_grad,
                            "detached": sorted(self.detached)}}
        text = json.dumps(data, indent=2)
        # One line per row of numbers keeps the file readable.
        return re.sub(r"\[\s+([-+\d.,eE\s]+?)\s+\]",
                      lambda m: "[" + " ".join(m.group(1).split()) + "]", text)

    def save(self, path: str) -> None:
        """Write the session atomically: a temporary file in the same folder, then rename.

        If anything fails before the rename, the previous file is untouched and the
        temporary file is removed; the error (an ``OSError``) propagates.
        """
        write_atomic(path, self.to_json())
        self._set_dirty(False)
        self.log(tr("Session saved to {path}.", path=path))

    def load_text(self, text: str) -> None:
        """Replace the session with a parsed file; on :class:`ConfigError` nothing changes."""
        cfg, opts = parse_session_text(text)
        self.detached = {d for d in opts["detached"] if d}
        self.retain_graph = opts["retain_graph"]
        self.no_grad = opts["no_grad"]
        self._emit("options")
        self._reset_history()
        self.apply_config(cfg)
        self._set_dirty(False)

    def open(self, path: str) -> None:
        """Load a session file; raises :class:`ConfigError` (session untouched) if unusable.

        The error message says what is wrong; callers add the file name.
        """
        self.load_text(read_session_file(path))
        self.log(tr("Session opened from {path}.", path=path))

    # -- scripts run elsewhere -------------------------------------------------
    def adopt_script(self, path: str, result: ScriptResult) -> bool:
        """Show the outcome of a script run (possibly in another thread) in this session."""
        return self._adopt_script(Path(path), result)


def _write_chunks(f: Any, data: bytes) -> None:
    """Write ``data`` to an open binary file (a seam for the crash-mid-save test)."""
    f.write(data)


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Replace ``path`` by ``text`` so that a crash leaves either the old or the new file."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, tr("This is a folder, not a file"), str(target))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_chunks(f, text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_session_file(path: str | os.PathLike) -> str:
    """The text of a session file, refused (``ConfigError``) before reading if unsuitable."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ConfigError(tr("The file does not exist.")) from None
    except OSError as e:
        raise ConfigError(tr("The file cannot be read ({error}).",
                             error=e.strerror or e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(tr("This is a folder, not a session file.")) from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(tr("This is not a regular file.")) from None
    if st.st_size > MAX_FILE_BYTES:
        raise ConfigError(tr("The file is too large to be a JitGrad session ({size} MB; the "
                             "limit is 1 MB).", size=f"{st.st_size / 1e6:.1f}"))
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ConfigError(tr("The file cannot be read ({error}).",
                             error=e.strerror or e)) from None
    if len(raw) > MAX_FILE_BYTES:  # grew after stat()
        raise ConfigError(tr("The file is too large to be a JitGrad session."))
    if b"\0" in raw:
        raise ConfigError(tr("The file holds binary data, not JSON text."))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(tr("The file is not UTF-8 text.")) from None


def preset_title(name: str) -> str:
    return {"one_layer": tr("One-layer network"), "accumulation": tr("Gradient accumulation"),
            "mlp": tr("Two-layer MLP")}.get(name, name)


def explain_error(msg: str) -> str:
    """One sentence that tells a learner why the engine refused."""
    if "second time" in msg:
        return tr("The first backward pass freed the values this graph saved; tick "
                  "retain_graph before backpropagating twice, or run Forward again.")
    if "does not require grad" in msg:
        return tr("The forward pass ran without tracking (no_grad), so there is no graph to "
                  "backpropagate through; untick it and run Forward.")
    if "inplace operation" in msg:
        return tr("A value the backward pass needs was changed in place; run Forward again "
                  "to record a fresh graph.")
    if "diverged" in msg:
        return tr("Lower the learning rate, or press Reset to start again.")
    return tr("The engine refused this operation; its exact message is in the log.")
