"""The backward pass one node at a time: ``engine.autograd.backward_steps`` under the lab.

A :class:`BackwardStepper` owns the generator and advances it once per click or tick
(the superqt generator-worker idea, without a thread).  It colours what ran, keeps the
gradients that flowed along each edge, and predicts the node the engine runs next.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import numpy as np

import engine
from gui.i18n import tr
from gui.model import codegen
from gui.model.graph_model import leaf_name, norm

if TYPE_CHECKING:  # the stepper works for its session; the session module imports this one
    from gui.model.session import Session

MAX_SNAPSHOTS = 6  # accumulation table rows kept


class BackwardStepper:
    """Pass state of one session: done/next/last nodes, edge gradients, the generator."""

    def __init__(self, session: Session) -> None:
        self._s = session
        self.clear()

    def clear(self) -> None:
        """Forget the pass (the generator must already be closed or absent)."""
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

    # -- next-node prediction ----------------------------------------------
    def start_prediction(self) -> None:
        """Count each node's pending inputs; the root's node is ready first."""
        views, root = self._s.views, self._s.root
        self._deps = {nid: 0 for nid in views.nodes}
        for _a, b in views.backward.edges:
            self._deps[b] += 1
        root_fn = root.grad_fn if root is not None else None
        self._ready = {views.node_ids[root_fn]} if root_fn is not None else set()
        self._predict()

    def _predict(self) -> None:
        if not self._ready:
            self.next_id = None
            return
        views = self._s.views
        bg = views.backward.nodes

        def key(nid: str) -> tuple:
            # AccumulateGrad first, then the most recently created node (closest to root).
            return (0 if bg[nid].kind == "leaf" else 1, -views.height.get(nid, 0),
                    int(nid[1:]))

        self.next_id = min(self._ready, key=key)

    def _advance_prediction(self, nid: str) -> None:
        self._ready.discard(nid)
        for a, b in self._s.views.backward.edges:
            if a == nid:
                self._deps[b] -= 1
                if self._deps[b] == 0:
                    self._ready.add(b)
        self._predict()

    # -- the pass ------------------------------------------------------------
    def abandon(self) -> None:
        """Close an unfinished pass's generator (the engine restores what it must)."""
        if self._iter is not None:
            self._iter.close()
            self._iter = None
            if self.pass_active:
                self._s.log(tr("The unfinished backward pass was abandoned."))
        self.pass_active = False

    def _backward_code(self) -> str:
        s = self._s
        return codegen.backward_code(s.root_name, s.tensors, s.root_gradient is not None,
                                     s.retain_graph)

    def _start(self) -> bool:
        s = self._s
        if s.root is None:
            s.log(tr("There is no graph yet: run Forward first."), "warning")
            return False
        # Fresh colours for the new pass; the graph itself is unchanged.
        self.done = set()
        self.last_id, self.last_edges = None, []
        self.edge_grads, self.out_grads = {}, {}
        self.start_prediction()
        try:
            it = engine.autograd.backward_steps(s.root, s.root_gradient,
                                                retain_graph=s.retain_graph)
            first = next(it)
        except StopIteration:
            self._iter = None
            return False
        except RuntimeError as e:
            self._iter = None
            s.report_error(e, self._backward_code())
            s.emit("state")
            return False
        self._iter = it
        self.pass_active = True
        s.backward_calls += 1
        args = codegen.steps_args(s.root_name, s.tensors, s.root_gradient is not None,
                                  s.retain_graph)
        s.show_code(f"# stepping through {self._backward_code()}\n"
                    f"steps = torch.autograd.backward_steps({args})")
        self._record(first)
        self._maybe_finish(first.remaining)
        return True

    def _record(self, step: Any) -> None:
        s, views = self._s, self._s.views
        nid = views.node_ids.get(step.node)
        if nid is None:  # a node outside the shown graph; nothing to colour
            return
        self.done.add(nid)
        self.last_id = nid
        self.last_edges = []
        outs = step.grad_outputs
        if outs and outs[0] is not None:
            self.out_grads[nid] = outs[0].numpy()
            views.shapes.setdefault(nid, tuple(outs[0].shape))
        for (nxt, _), g in zip(step.node.next_functions, step.grad_inputs):
            if nxt is None or g is None:
                continue
            edge = (nid, views.node_ids[nxt])
            self.edge_grads[edge] = g.numpy()
            self.last_edges.append(edge)
        if not self.last_edges:
            self.last_edges = [(a, b) for a, b in views.backward.edges
                               if b == nid and a in self.done]
        self._advance_prediction(nid)
        if step.accumulated is not None:
            name = leaf_name(s.tensors, step.accumulated)
            s.log(tr("Step {i}: {node} → {name}.grad updated.", i=step.index,
                     node=step.node.name(), name=name))
        else:
            s.log(tr("Step {i}: {node} ran ({n} left).", i=step.index,
                     node=step.node.name(), n=step.remaining))
        s.show_code(f"step = next(steps)  # {step!r}")

    def step(self) -> bool:
        """Run the next backward node (starting a pass if none is active)."""
        s = self._s
        if not self.pass_active:
            ok = self._start()
            s.emit("state")
            return ok
        try:
            st = next(self._iter)
        except StopIteration:
            self._finish()
            s.emit("state")
            return False
        except RuntimeError as e:
            self.abandon()
            s.report_error(e, "step = next(steps)")
            s.emit("state")
            return False
        self._record(st)
        self._maybe_finish(st.remaining)
        s.emit("state")
        return True

    def _maybe_finish(self, remaining: int) -> None:
        if remaining == 0 and self._iter is not None:
            with contextlib.suppress(StopIteration):
                next(self._iter)
            self._finish()

    def run_to_end(self) -> None:
        """Finish the current pass, or run a whole new one (``loss.backward()``)."""
        s = self._s
        if not self.pass_active:
            if not self._start():
                s.emit("state")
                return
            s.show_code(f"for step in steps: pass   # same as {self._backward_code()}")
        else:
            s.show_code("for step in steps: pass")
        while self.pass_active:
            try:
                st = next(self._iter)
            except StopIteration:
                self._finish()
                break
            except RuntimeError as e:
                self.abandon()
                s.report_error(e, "for step in steps: pass")
                break
            self._record(st)
        s.emit("state")

    def _finish(self) -> None:
        s = self._s
        self._iter = None
        self.pass_active = False
        self.next_id = None
        s.calls_since_zero += 1
        leaves = s.leaf_grads()
        s.grad_norms.append({k: norm(v) for k, v in leaves.items()})
        if s.zeroed_since_call:
            label = tr("Call after zeroing")
        elif s.calls_since_zero == 1:
            label = tr("First call")
        elif s.calls_since_zero == 2:
            label = tr("Second call")
        else:
            label = tr("Call {n}", n=s.calls_since_zero)
        s.zeroed_since_call = False
        s.accumulation.append((label, {k: v.copy() for k, v in leaves.items()}))
        del s.accumulation[:-MAX_SNAPSHOTS]
        prints = "\n".join(f"{k}.grad =\n{s.tensors[k].grad}" for k in leaves)
        s.show_code("\n".join(f"print({k}.grad)" for k in leaves), prints)
        s.log(tr("Backward pass {n} finished.", n=s.backward_calls))
        s.emit("history")
        s.emit("accumulation")

    # -- what the views colour -----------------------------------------------
    def node_state(self, view: str, nid: str) -> str:
        """``next``, ``done``, ``last`` or ``idle`` for a box in ``view``."""
        members = {nid} if view == "backward" else self._s.views.forward_members(nid)
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
        views = self._s.views
        fg = views.forward.nodes
        a, b = edge
        t = fg[a].tensor if fg[a].kind in ("tensor", "param") else fg[b].tensor
        if t is None:
            return None
        for nid in views.forward_members(a if fg[a].kind != "fop" else b):
            node = views.backward.nodes.get(nid)
            if node is None:
                continue
            if node.kind == "leaf":
                if nid in self.done:
                    return self._s.tensor_grad(node.tensor or "")
            elif nid in self.out_grads:
                return self.out_grads[nid]
        return None

    def edge_is_last(self, view: str, edge: tuple[str, str]) -> bool:
        """True if the last node sent its gradient along ``edge``."""
        if view == "backward":
            return edge in self.last_edges
        if self.last_id is None:
            return False
        members = self._s.views.forward_members(edge[0])
        return self.last_id in members and bool(members)
