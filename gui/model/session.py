"""The lab's session model, free of Qt.

A :class:`Session` owns the network configuration, the engine tensors built from
it, the stepwise backward pass (a :class:`~gui.model.stepper.BackwardStepper` over
``engine.autograd.backward_steps``) and the history (losses, gradient norms,
accumulation snapshots).  Widgets subscribe with :meth:`Session.subscribe` and receive
plain :class:`Event` objects; they read everything else through the session's public
methods.  The work itself lives beside it: :mod:`~gui.model.network` (forward),
:mod:`~gui.model.graph_model` (views), :mod:`~gui.model.codegen`,
:mod:`~gui.model.training` and :mod:`~gui.model.files`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import engine
from gui.i18n import explain_error, preset_title, tr
from gui.model import codegen, files, training
from gui.model.config import (
    MAX_SIZE,
    MIN_SIZE,
    NetworkConfig,
    check_int,
    check_number,
    fill_values,
    parse_session_text,
    preset_config,
    restart_config,
    tensor_specs,
    validate_config,
)
from gui.model.graph_model import (
    Event,
    GraphModel,
    GraphViews,
    Op,
    fill_backward,
    fill_forward_from_backward,
    fill_forward_from_ops,
    number_nodes,
    walk,
)
from gui.model.network import forward_env, probe_shapes
from gui.model.script_runner import ScriptResult
from gui.model.stepper import BackwardStepper


def _from_stepper(name: str, doc: str) -> property:
    """A read-only attribute of the session's stepper, under the same name."""
    return property(lambda self: getattr(self.stepper, name), doc=doc)


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
        self.views = GraphViews()
        self.stepper = BackwardStepper(self)
        self.build()

    # -- events ------------------------------------------------------------
    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``fn(event)`` on every change; returns an unsubscribe function."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def emit(self, kind: str, **data: Any) -> None:
        """Tell every subscriber what changed (for the model's own modules)."""
        ev = Event(kind, data)
        for fn in list(self._listeners):
            fn(ev)

    def log(self, text: str, level: str = "info") -> None:
        """A line for the log panel; ``level`` is info, warning, error or output."""
        self.emit("log", text=text, level=level)

    def show_code(self, code: str, output: str = "") -> None:
        """The engine code equivalent to what just happened, and what it printed."""
        self.emit("code", code=code, output=output)

    def report_error(self, e: Exception, code: str) -> None:
        """Log an engine refusal with the code that raised it and a hint for the learner."""
        msg = str(e)
        self.log(f"RuntimeError: {msg}", "error")
        self.show_code(code, f"RuntimeError: {msg}")
        self.emit("error", message=msg, hint=explain_error(msg))

    def mark_unsaved(self) -> None:
        """Flag the session as holding unsaved work (e.g. restored after a crash)."""
        self._set_dirty(True)

    def _set_dirty(self, flag: bool = True) -> None:
        """Record (un)saved state; every change emits ``dirty`` so autosave sees it."""
        if self.dirty != flag or flag:
            self.dirty = flag
            self.emit("dirty", dirty=flag)

    # -- configuration -----------------------------------------------------
    @property
    def config(self) -> NetworkConfig:
        """A copy of the current configuration (edit it and pass it to ``apply_config``)."""
        return self._config.copy()

    @property
    def live_config(self) -> NetworkConfig:
        """The configuration itself, for the model's modules (training stores into it)."""
        return self._config

    @property
    def lr(self) -> float:
        """The SGD learning rate."""
        return self._config.lr

    def set_lr(self, lr: float) -> None:
        """Change the learning rate; refused with :class:`ConfigError` if invalid."""
        cfg = self.config
        cfg.lr = lr
        self._config = validate_config(cfg)
        self._set_dirty()

    def apply_config(self, cfg: NetworkConfig, *, quiet: bool = False) -> None:
        """Validate ``cfg`` (raising :class:`ConfigError`, nothing changed) and rebuild."""
        clean = validate_config(cfg)
        self._config = clean
        self.mode = "network"
        self.emit("config")
        self.build(quiet=quiet)
        self._set_dirty()

    def load_preset(self, name: str) -> None:
        """Replace the network by a preset and rebuild; history starts over."""
        cfg = preset_config(name)
        self.detached.clear()
        self.retain_graph = name == "accumulation"
        self.no_grad = False
        self.emit("options")
        self.reset_history()
        self.apply_config(cfg)
        self.log(tr("Preset loaded: {name}.", name=preset_title(name)))

    def set_value(self, name: str, index: tuple[int, ...], value: float) -> None:
        """Change one entry of a tensor; refused with :class:`ConfigError` if invalid."""
        value = check_number(value, name)
        cfg = self.config
        arr = np.asarray(cfg.values[name], dtype=float)
        arr[index] = value
        cfg.values[name] = arr.tolist()
        self.apply_config(cfg, quiet=True)

    def resize(self, n_in: int | None = None, n_out: int | None = None,
               n_hidden: int | None = None) -> None:
        """New layer sizes (None keeps one); the values are filled in afresh."""
        cfg = self.config
        cfg.n_in = cfg.n_in if n_in is None else n_in
        cfg.n_out = cfg.n_out if n_out is None else n_out
        cfg.n_hidden = cfg.n_hidden if n_hidden is None else n_hidden
        for v, what in ((cfg.n_in, tr("input size n")), (cfg.n_out, tr("output size m")),
                        (cfg.n_hidden, tr("hidden size"))):
            check_int(v, what, MIN_SIZE, MAX_SIZE)
        fill_values(cfg)
        self.apply_config(cfg)

    def randomise(self, seed: int) -> None:
        """New random parameter values from ``seed``; inputs and targets are kept."""
        cfg = self.config
        cfg.seed = check_int(seed, tr("seed"), 0, 2**31 - 1)
        fill_values(cfg, randomise=True)
        self.apply_config(cfg)
        self.show_code(f"torch.manual_seed({seed})")

    def set_choice(self, *, loss: str | None = None, activation: str | None = None) -> None:
        """Pick the loss and/or the activation (None keeps one) and rebuild."""
        cfg = self.config
        cfg.loss = cfg.loss if loss is None else loss
        cfg.activation = cfg.activation if activation is None else activation
        self.apply_config(cfg)

    def set_requires_grad(self, name: str, flag: bool) -> None:
        """Freeze or unfreeze parameter ``name`` and rebuild."""
        cfg = self.config
        cfg.requires_grad[name] = bool(flag)
        self.apply_config(cfg)
        self.show_code(f"{name}.requires_grad_({flag})")

    def set_retain_graph(self, flag: bool) -> None:
        """Whether backward keeps the graph's saved values for a second pass."""
        self.retain_graph = bool(flag)
        self.emit("options")
        self._set_dirty()

    def set_no_grad(self, flag: bool) -> None:
        """Whether Forward runs untracked (inside ``no_grad``)."""
        self.no_grad = bool(flag)
        self.emit("options")
        self._set_dirty()

    # -- building ----------------------------------------------------------
    def reset_history(self) -> None:
        """Forget the losses, gradient norms and accumulation snapshots."""
        self.losses.clear()
        self.grad_norms.clear()
        self.accumulation.clear()
        self.backward_calls = 0
        self.calls_since_zero = 0
        self.zeroed_since_call = False
        self.emit("history")
        self.emit("accumulation")

    def build(self, *, quiet: bool = False) -> None:
        """Create the leaf tensors from the configuration and run the forward pass."""
        cfg = self._config
        self.stepper.abandon()
        self.leaves = {}
        for spec in tensor_specs(cfg):
            rg = spec.param and cfg.requires_grad.get(spec.name, True)
            self.leaves[spec.name] = engine.tensor(cfg.values[spec.name], dtype=engine.float32,
                                                   requires_grad=rg)
        self.tensors = dict(self.leaves)
        self.forward(quiet=quiet, code=not quiet)

    def forward_code(self) -> str:
        """The engine code equivalent to the current network, tutorial style."""
        return codegen.forward_code(self._config, self.ops, self.no_grad)

    def forward(self, *, quiet: bool = False, code: bool = True, probe: bool = True) -> None:
        """Run the forward pass again (re-running the script in script mode)."""
        if self.mode == "script" and self.script_path:
            (self.script_launcher or self.load_script)(self.script_path)
            return
        self.stepper.abandon()
        env, ops = forward_env(self._config, self.leaves, self.detached, self.no_grad)
        self.ops = ops
        self.tensors = env
        root = "out" if self._config.preset == "accumulation" else "loss"
        self.root_name = root
        self.root = env[root]
        self.root_gradient = engine.ones_like(env["inp"]) if root == "out" else None
        if root == "loss":
            self.losses.append(float(self.root.item()))
        self.rebuild_graph(probe=probe)
        if code:
            self.show_code(self.forward_code(), self.grad_fn_prints())
        if not quiet:
            if self.root.grad_fn is None:
                self.log(tr("Forward pass without tracking: no graph was recorded."))
            else:
                self.log(tr("Forward pass: {n} graph nodes recorded.",
                            n=len(self.backward_graph.nodes)))
        self.emit("graph")
        self.emit("history")

    def grad_fn_prints(self) -> str:
        """What the tutorial prints: ``Gradient function for z = <AddBackward0 ...>``."""
        return codegen.grad_fn_prints(self.tensors, self.root_name)

    def rebuild_graph(self, *, probe: bool) -> None:
        """Both views of the graph behind ``root``; the pass starts afresh."""
        self.stepper.clear()
        root_fn = self.root.grad_fn if self.root is not None else None
        order = walk(root_fn) if root_fn is not None else []
        views = number_nodes(order)
        if probe and order and self.mode == "network":
            views.shapes = probe_shapes(self._config, self.leaves, self.detached,
                                        self.root_name, len(order))
        fill_backward(views, order, self.tensors)
        self.views = views
        if self.mode == "network" and self.ops:
            fill_forward_from_ops(views, tensor_specs(self._config), self.ops, self.tensors)
        else:
            fill_forward_from_backward(views, self.root, self.root_name)
        self.stepper.start_prediction()

    # -- the graph and the pass, as the views read them ------------------------
    @property
    def backward_graph(self) -> GraphModel:
        """The backward view: the grad_fn graph."""
        return self.views.backward

    @property
    def forward_graph(self) -> GraphModel:
        """The forward view: leaves, ops and their outputs."""
        return self.views.forward

    def forward_members(self, fid: str) -> set[str]:
        """The backward node ids that a forward-view box stands for."""
        return self.views.forward_members(fid)

    pass_active = _from_stepper("pass_active", "True while a backward pass is being stepped.")
    done = _from_stepper("done", "Backward node ids that have run in this pass.")
    next_id = _from_stepper("next_id", "The node the engine runs next, as predicted.")
    last_id = _from_stepper("last_id", "The node that ran last.")
    last_edges = _from_stepper("last_edges", "The edges the last node sent gradients along.")
    edge_grads = _from_stepper("edge_grads", "The gradient that flowed along each edge.")
    out_grads = _from_stepper("out_grads", "The gradient each node received for its output.")

    def empty_reason(self) -> str:
        """Why there is no graph to show, in one sentence."""
        if self.root is None:
            return tr("There is no graph yet: run Forward first.")
        if self.no_grad:
            return tr("The forward pass ran inside no_grad, so no graph was recorded. "
                      "Untick “Forward without tracking” and run Forward (F5).")
        return tr("Nothing the output depends on requires grad (every branch is frozen or "
                  "detached), so there is no graph.")

    # -- actions -------------------------------------------------------------
    def step(self) -> bool:
        """Run the next backward node (starting a pass if none is active)."""
        return self.stepper.step()

    def run_to_end(self) -> None:
        """Finish the current pass, or run a whole new one (``loss.backward()``)."""
        self.stepper.run_to_end()

    def zero_grads(self) -> None:
        """``p.grad.zero_()`` for every leaf with a gradient, as the tutorial does."""
        training.zero_grads(self)

    def toggle_detach(self, name: str) -> None:
        """Cut (or restore) the graph at tensor ``name`` and run forward again."""
        training.toggle_detach(self, name)

    def sgd_step(self) -> None:
        """``p -= lr * p.grad`` under ``no_grad`` for every parameter, then forward."""
        training.sgd_step(self)

    def train(self, steps: int = 1) -> float | None:
        """``steps`` rounds of zero_grad, forward, backward and SGD; returns the last loss."""
        return training.train(self, steps)

    def reset(self) -> None:
        """Back to the configuration's starting values, options off, history cleared."""
        if self.mode == "script" and self.script_path:
            self.reset_history()
            (self.script_launcher or self.load_script)(self.script_path)
            return
        self.detached.clear()
        self.reset_history()
        cfg = restart_config(self._config)
        self.apply_config(cfg)
        self.log(tr("Session reset."))

    # -- inspection ----------------------------------------------------------
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
        return any(getattr(n, "saved_tensors_released", False) for n in self.views.nodes.values())

    def node_shape(self, nid: str) -> tuple[int, ...] | None:
        """Output shape of a backward node, once known (scripts learn it while stepping)."""
        gn = self.backward_graph.nodes.get(nid)
        if gn is not None and gn.shape is not None:
            return gn.shape
        return self.views.shapes.get(nid)

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
        return self.stepper.node_state(view, nid)

    def edge_grad(self, view: str, edge: tuple[str, str]) -> np.ndarray | None:
        """The gradient that flowed along ``edge`` (None until it has)."""
        return self.stepper.edge_grad(view, edge)

    def edge_is_last(self, view: str, edge: tuple[str, str]) -> bool:
        """True if the last node sent its gradient along ``edge``."""
        return self.stepper.edge_is_last(view, edge)

    # -- files ---------------------------------------------------------------
    def to_json(self) -> str:
        """The session file text."""
        return files.session_json(self)

    def save(self, path: str) -> None:
        """Write the session atomically: a temporary file in the same folder, then rename.

        If anything fails before the rename, the previous file is untouched and the
        temporary file is removed; the error (an ``OSError``) propagates.
        """
        files.write_atomic(path, self.to_json())
        self._set_dirty(False)
        self.log(tr("Session saved to {path}.", path=path))

    def load_text(self, text: str) -> None:
        """Replace the session with a parsed file; on :class:`ConfigError` nothing changes."""
        cfg, opts = parse_session_text(text)
        self.detached = {d for d in opts["detached"] if d}
        self.retain_graph = opts["retain_graph"]
        self.no_grad = opts["no_grad"]
        self.emit("options")
        self.reset_history()
        self.apply_config(cfg)
        self._set_dirty(False)

    def open(self, path: str) -> None:
        """Load a session file; raises :class:`ConfigError` (session untouched) if unusable.

        The error message says what is wrong; callers add the file name.
        """
        self.load_text(files.read_session_file(path))
        self.log(tr("Session opened from {path}.", path=path))

    def load_script(self, path: str) -> bool:
        """Run a demo script here and now (blocking) and show the graph it left behind.

        Output and any traceback go to the log; on error the previous graph stays.  The
        window runs scripts in a worker thread instead (:mod:`gui.model.script_runner`) and
        hands the result to :meth:`adopt_script`.
        """
        return files.load_script(self, path)

    def adopt_script(self, path: str, result: ScriptResult) -> bool:
        """Show the outcome of a script run (possibly in another thread) in this session."""
        return files.adopt_script(self, Path(path), result)
