"""The lab's network configuration: presets, validation and the session file format.

Everything here is plain data checked against limits, so a hostile session file or a
typed value is refused with a :class:`ConfigError` that says why, before any tensor is
built.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import engine
from gui.i18n import tr

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


def drawn_specs(cfg: NetworkConfig) -> list[TensorSpec]:
    """The parameters that start from ``randn``, in the order the generated program draws
    them (its leaves follow :func:`tensor_specs`); ``inp`` starts as the identity."""
    return [s for s in tensor_specs(cfg) if s.param and s.name != "inp"]


def seeded_values(cfg: NetworkConfig) -> dict[str, np.ndarray]:
    """What torch draws for each of :func:`drawn_specs` after ``torch.manual_seed(seed)``.

    Float32 samples (torch's default ``randn``) held exactly in float64 arrays. A private
    generator leaves the engine's global stream alone.
    """
    g = engine.Generator().manual_seed(cfg.seed)
    return {s.name: engine.randn(*s.shape, generator=g).numpy().astype(float)
            for s in drawn_specs(cfg)}


def _default_value(spec: TensorSpec, seeded: dict[str, np.ndarray]) -> np.ndarray:
    if spec.name in seeded:
        return seeded[spec.name].copy()
    if spec.name == "inp":
        return np.eye(spec.shape[0])
    if spec.name == "x":
        return np.ones(spec.shape)
    return np.zeros(spec.shape)


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
    seeded = seeded_values(cfg)
    for spec in tensor_specs(cfg):
        target = _default_value(spec, seeded)
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


def restart_config(cfg: NetworkConfig) -> NetworkConfig:
    """``cfg`` with its parameters back at their starting values.

    Sizes, choices, seed and requires_grad flags stay, and so do the user's inputs and
    targets; only the parameters restart.
    """
    new = preset_config(cfg.preset)
    new.n_in, new.n_hidden, new.n_out = cfg.n_in, cfg.n_hidden, cfg.n_out
    new.loss, new.activation, new.seed = cfg.loss, cfg.activation, cfg.seed
    new.requires_grad = dict(cfg.requires_grad)
    new.values = {}
    fill_values(new)
    for spec in tensor_specs(new):
        if not spec.param:
            new.values[spec.name] = cfg.values[spec.name]
    return new


def _short(v: Any, limit: int = 40) -> str:
    """``repr(v)`` cut to ``limit`` characters, for messages about untrusted values."""
    try:
        text = repr(v)
    except ValueError:  # an int too long to print
        text = "<a huge number>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_number(v: Any, where: str) -> float:
    """``v`` as a finite float within ±MAX_ABS_VALUE, else :class:`ConfigError`."""
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
    return check_number(v, tr("value"))


def check_int(v: Any, where: str, lo: int, hi: int) -> int:
    """``v`` as an int in ``[lo, hi]``, else :class:`ConfigError`."""
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
    out.n_in = check_int(cfg.n_in, tr("input size n"), MIN_SIZE, MAX_SIZE)
    out.n_hidden = check_int(cfg.n_hidden, tr("hidden size"), MIN_SIZE, MAX_SIZE)
    out.n_out = check_int(cfg.n_out, tr("output size m"), MIN_SIZE, MAX_SIZE)
    if cfg.loss not in LOSSES:
        raise ConfigError(tr("Unknown loss {name!r}.", name=cfg.loss))
    if cfg.activation not in ACTIVATIONS:
        raise ConfigError(tr("Unknown activation {name!r}.", name=cfg.activation))
    out.loss, out.activation = cfg.loss, cfg.activation
    out.seed = check_int(cfg.seed, tr("seed"), 0, 2**31 - 1)
    lr = check_number(cfg.lr, tr("learning rate"))
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
            return check_number(v, where)  # type: ignore[return-value]
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

