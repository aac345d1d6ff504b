"""What the graph views show: boxes and edges built from the engine's grad_fn graph.

The backward view is the autograd graph itself, in a fixed depth-first order; the
forward view is built from the ops a built-in network recorded, or, for a script, from
the backward graph reversed.  ``members`` maps each forward box to the backward nodes it
stands for, so both views colour the same progress.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import engine
from gui.i18n import tr
from gui.model.config import TensorSpec


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


def fmt_shape(shape: tuple[int, ...] | None) -> str:
    """``[5, 3]``, "scalar" for ``()``, ``?`` while unknown."""
    if shape is None:
        return "?"
    return "[" + ", ".join(str(d) for d in shape) + "]" if shape else tr("scalar")


def norm(a: np.ndarray) -> float:
    """Euclidean norm; overflow to inf (a diverging run) is a value here, not a warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.linalg.norm(a))


def short_values(a: np.ndarray | None, limit: int = 3, width: int = 18) -> str:
    """A compact label for a gradient: its values if few and short, else its norm.

    Edge labels sit in the gaps between the graph's columns, so the values are written
    with two significant digits, or else with two decimals (``[0.27, 0.12, 0.00]``), and
    a list still longer than ``width`` characters gives way to the norm.
    """
    if a is None:
        return ""
    a = np.asarray(a)
    if a.size == 1:
        return f"{float(a.reshape(())):.4g}"
    if a.size <= limit:
        values = [float(v) for v in a.reshape(-1)]
        for spec in (".2g", ".2f"):
            text = "[" + ", ".join(f"{v:{spec}}" for v in values) + "]"
            if len(text) <= width:
                return text
    return f"‖g‖={norm(a):.3g}"


def op_label(node_name: str) -> str:
    """``AddBackward0`` -> ``add``: the forward op behind a grad_fn name."""
    base = re.sub(r"Backwards?\d*$", "", node_name)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower() or node_name


def walk(root_fn: Any) -> list[Any]:
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


def leaf_name(tensors: dict[str, engine.Tensor], t: Any) -> str:
    """The name under which tensor ``t`` is known, or ``leaf``."""
    for k, v in tensors.items():
        if v is t:
            return k
    return "leaf"


@dataclass
class GraphViews:
    """Both views of one recorded graph, with the maps between them and the engine."""

    backward: GraphModel = field(default_factory=GraphModel)
    forward: GraphModel = field(default_factory=GraphModel)
    node_ids: dict[Any, str] = field(default_factory=dict)  # grad_fn node -> box id
    nodes: dict[str, Any] = field(default_factory=dict)  # box id -> grad_fn node
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # probed or stepped
    height: dict[str, int] = field(default_factory=dict)  # longest path down to a leaf
    members: dict[str, set[str]] = field(default_factory=dict)  # forward box -> backward ids

    def forward_members(self, fid: str) -> set[str]:
        """The backward node ids that a forward-view box stands for."""
        return set(self.members.get(fid, set()))

    def accumulator_id(self, name: str) -> str | None:
        """The AccumulateGrad box of leaf ``name``, if it is in the graph."""
        for nid, gn in self.backward.nodes.items():
            if gn.kind == "leaf" and gn.tensor == name:
                return nid
        return None


def number_nodes(order: list[Any]) -> GraphViews:
    """Views whose node maps give the ``i``-th node of ``order`` the id ``b{i}``."""
    views = GraphViews()
    for i, node in enumerate(order):
        views.node_ids[node] = f"b{i}"
        views.nodes[f"b{i}"] = node
    return views


def fill_backward(views: GraphViews, order: list[Any], tensors: dict[str, engine.Tensor]
                  ) -> None:
    """The backward view and node heights of ``order`` (already numbered in ``views``)."""
    bg = views.backward
    producers = {id(t.grad_fn): k for k, t in tensors.items() if t.grad_fn is not None}
    for node in order:
        nid = views.node_ids[node]
        if node.name() == "AccumulateGrad":
            var = node.variable
            gn = GraphNode(nid, "leaf", "AccumulateGrad", tuple(var.shape),
                           leaf_name(tensors, var))
        else:
            tname = producers.get(id(node))
            shape = tuple(tensors[tname].shape) if tname else views.shapes.get(nid)
            gn = GraphNode(nid, "op", node.name(), shape, tname)
        bg.nodes[nid] = gn
        for nxt, _ in node.next_functions:
            if nxt is not None:
                bg.edges.append((nid, views.node_ids[nxt]))
    for node in reversed(order):
        nid = views.node_ids[node]
        hs = [views.height[views.node_ids[n]] for n, _ in node.next_functions if n is not None]
        views.height[nid] = 1 + max(hs) if hs else 0


def _op_members(views: GraphViews, out: engine.Tensor, inputs: Iterable[engine.Tensor]
                ) -> set[str]:
    """The grad_fn nodes an op created: reachable from its output, not from its inputs."""
    back_of = {id(n): i for n, i in views.node_ids.items()}
    stop = {id(t.grad_fn) for t in inputs if t.grad_fn is not None}
    members: set[str] = set()
    stack = [out.grad_fn]
    while stack:
        n = stack.pop()
        if n is None or id(n) in stop or n.name() == "AccumulateGrad":
            continue
        nid = back_of.get(id(n))
        if nid is None or nid in members:
            continue
        members.add(nid)
        stack.extend(nx for nx, _ in n.next_functions)
    return members


def fill_forward_from_ops(views: GraphViews, specs: list[TensorSpec], ops: list[Op],
                          tensors: dict[str, engine.Tensor]) -> None:
    """The forward view of a built-in network: its leaves, then one box per recorded op."""
    fg = views.forward
    producers: dict[str, str] = {}
    back_of = {id(n): i for n, i in views.node_ids.items()}
    for spec in specs:
        t = tensors[spec.name]
        kind = "param" if spec.param else "const"
        fg.nodes[f"t:{spec.name}"] = GraphNode(f"t:{spec.name}", kind, spec.name,
                                               tuple(t.shape), spec.name)
        producers[spec.name] = f"t:{spec.name}"
        acc = views.accumulator_id(spec.name)
        views.members[f"t:{spec.name}"] = {acc} if acc else set()
    for i, op in enumerate(ops):
        fid = f"f{i}"
        fg.nodes[fid] = GraphNode(fid, "fop", op.label, None, op.output)
        for a in op.inputs:
            if a in producers:
                fg.edges.append((producers[a], fid))
            elif a == "1":
                cid = f"c{i}"
                fg.nodes[cid] = GraphNode(cid, "const", "1", (), None)
                fg.edges.append((cid, fid))
        t = tensors[op.output]
        tid = f"t:{op.output}#{i}"
        fg.nodes[tid] = GraphNode(tid, "tensor", op.output, tuple(t.shape), op.output)
        fg.edges.append((fid, tid))
        producers[op.output] = tid
        members: set[str] = set()
        if t.grad_fn is not None and id(t.grad_fn) in back_of and op.label != "detach":
            members = _op_members(views, t, (tensors[a] for a in op.inputs if a in tensors))
        views.members[fid] = members
        views.members[tid] = {back_of[id(t.grad_fn)]} if (
            t.grad_fn is not None and id(t.grad_fn) in back_of) else set()


def fill_forward_from_backward(views: GraphViews, root: engine.Tensor | None,
                               root_name: str) -> None:
    """A forward view for scripts: the backward graph reversed, ops named forward-style."""
    fg, bg = views.forward, views.backward
    for nid, gn in bg.nodes.items():
        fid = "t:" + nid if gn.kind == "leaf" else "f:" + nid
        if gn.kind == "leaf":
            fg.nodes[fid] = GraphNode(fid, "param", gn.tensor or "leaf", gn.shape, gn.tensor)
        else:
            fg.nodes[fid] = GraphNode(fid, "fop", op_label(gn.title), gn.shape, gn.tensor)
        views.members[fid] = {nid}
    for a, b in bg.edges:
        fa = ("t:" if bg.nodes[a].kind == "leaf" else "f:") + a
        fb = ("t:" if bg.nodes[b].kind == "leaf" else "f:") + b
        fg.edges.append((fb, fa))
    if root is not None and root.grad_fn is not None:
        rid = f"t:{root_name}"
        fg.nodes[rid] = GraphNode(rid, "tensor", root_name, tuple(root.shape), root_name)
        fg.edges.append(("f:" + views.node_ids[root.grad_fn], rid))
        views.members[rid] = {views.node_ids[root.grad_fn]}


def shapes_from_backward(root: engine.Tensor, count: int) -> dict[str, tuple[int, ...]]:
    """Every node's output shape, learnt by a backward pass through a throwaway graph.

    ``root`` must come from a fresh forward pass on copies of the leaves; the result is
    empty when its graph does not have the ``count`` nodes of the shown one.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    if root.grad_fn is None:
        return shapes
    order = walk(root.grad_fn)
    if len(order) != count:
        return shapes
    index = {n: f"b{i}" for i, n in enumerate(order)}
    grad = engine.ones_like(root) if root.numel() != 1 else None
    try:
        for step in engine.autograd.backward_steps(root, grad):
            g = step.grad_outputs[0] if step.grad_outputs else None
            if g is not None:
                shapes[index[step.node]] = tuple(g.shape)
    except RuntimeError:
        pass  # a partial probe still labels the nodes it reached, as before
    return shapes
