"""The one backward loop.

``backward_steps`` runs a backward pass one node at a time and yields a ``Step``
after each node.  ``Tensor.backward``, ``autograd.backward``, ``autograd.grad`` and
the desktop app's stepper all drive this same generator.

Order: a node runs once every node that feeds it a gradient has run (dependency
counts, no recursion), highest creation number first among the ready ones, and a
leaf's AccumulateGrad as soon as it is ready - the order torch's engine uses.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from engine.graph import AccumulateGrad, Node
from engine.kernels.accumulate import add_out
from engine.ops.base import edge
from engine.tensor import Tensor, _wrap


class Step:
    """What one node did: the record ``backward_steps`` yields.

    ``node``          the grad_fn (or AccumulateGrad) that ran
    ``grad_outputs``  gradients that flowed into it, one per node output
    ``grad_inputs``   gradients it produced, aligned with ``node.next_functions``
    ``accumulated``   the leaf whose ``.grad`` it updated, if it was an AccumulateGrad
    ``index``         0, 1, 2, ... within the pass; ``remaining`` nodes still to run
    """

    __slots__ = ("node", "_outs", "_ins", "accumulated", "index", "remaining")

    def __init__(self, node: Node, outs: list, ins: tuple, accumulated: Tensor | None,
                 index: int, remaining: int) -> None:
        self.node = node
        self._outs = outs
        self._ins = ins
        self.accumulated = accumulated
        self.index = index
        self.remaining = remaining

    @property
    def grad_outputs(self) -> tuple[Tensor | None, ...]:
        return tuple(None if g is None else _wrap(g) for g in self._outs)

    @property
    def grad_inputs(self) -> tuple[Tensor | None, ...]:
        return tuple(None if g is None else _wrap(g) for g in self._ins)

    def __repr__(self) -> str:
        leaf = " -> .grad" if self.accumulated is not None else ""
        return f"<Step {self.index}: {self.node.name()}{leaf}>"


def _as_tuple(x: Any) -> tuple:
    if x is None:
        return ()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _root_grads(roots: tuple[Tensor, ...], grads: Any) -> list[np.ndarray]:
    given = _as_tuple(grads) if grads is not None else (None,) * len(roots)
    if len(given) != len(roots):
        raise RuntimeError(f"got {len(given)} gradients for {len(roots)} tensors")
    out = []
    for i, (t, g) in enumerate(zip(roots, given)):
        if not t._rg:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            out.append(np.ones(t._data.shape, t._data.dtype))
            continue
        gd = g._data if isinstance(g, Tensor) else np.asarray(g)
        if gd.shape != t._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {_size(gd.shape)} and "
                f"output[{i}] has a shape of {_size(t._data.shape)}.")
        if gd.dtype != t._data.dtype:
            gd = gd.astype(t._data.dtype)
        out.append(np.ascontiguousarray(gd))
    return out


def _size(shape: tuple[int, ...]) -> str:
    return f"engine.Size([{', '.join(str(d) for d in shape)}])"


def _wrapped(g: np.ndarray | None) -> Tensor | None:
    return None if g is None else _wrap(g)


def _unwrapped(t: Any, fallback: np.ndarray | None) -> np.ndarray | None:
    if t is None:
        return fallback
    return t._data if isinstance(t, Tensor) else np.asarray(t)


def _run_tensor_hooks(hooks: dict, g: np.ndarray) -> np.ndarray:
    for fn in list(hooks.values()):
        res = fn(_wrap(g))
        if res is not None:
            g = res._data
    return g


def backward_steps(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None,
                   retain_graph: bool | None = None, create_graph: bool = False,
                   inputs: Sequence[Tensor] | None = None, *,
                   accumulate: bool = True) -> Iterator[Step]:
    """Run backward from ``tensors`` one node per iteration, yielding a ``Step`` each time.

    >>> for step in engine.autograd.backward_steps(loss, retain_graph=True):
    ...     print(step.node.name(), [g.shape for g in step.grad_inputs if g is not None])

    With ``inputs`` only the nodes leading to them run.  With ``accumulate=False``
    nothing is written to ``.grad``: the gradients of ``inputs`` are captured
    instead and returned by the generator (``StopIteration.value``), which is how
    ``autograd.grad`` works.
    """
    if create_graph:
        raise NotImplementedError("create_graph=True (higher-order gradients) is not supported "
                                  "yet; see the nn/optim/higher-order issue")
    roots = _as_tuple(tensors)
    seeds = _root_grads(roots, grad_tensors)
    keep = bool(retain_graph)
    root_edges = [edge(t) for t in roots]

    # Discover the graph and count how many gradients each node waits for.
    deps: dict[Node, int] = {}
    stack = []
    for node, _ in root_edges:
        if node not in deps:
            deps[node] = 0
            stack.append(node)
    order: list[Node] = []
    while stack:
        node = stack.pop()
        order.append(node)
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            if nxt in deps:
                deps[nxt] += 1
            else:
                deps[nxt] = 1
                stack.append(nxt)

    # Where gradients are captured (autograd.grad) instead of accumulated.
    targets = _as_tuple(inputs)
    captures: dict[tuple[Node, int], int] = {}
    for i, t in enumerate(targets):
        if not t._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        captures.setdefault(edge(t), i)
    needed = _needed(order, captures) if targets else None
    # Fail before touching anything: freed or modified saved tensors raise here.
    for node in order:
        if needed is None or node in needed:
            node.check_saved()

    buffers: dict[Node, list] = {}
    for (node, nr), g in zip(root_edges, seeds):
        buf = buffers.setdefault(node, [None] * node.num_outputs)
        buf[nr] = g if buf[nr] is None else add_out(buf[nr].reshape(-1), g.reshape(-1)
                                                    ).reshape(g.shape)
    captured: list[np.ndarray | None] = [None] * len(targets)
    ready = [(_priority(n), -n._seq, n) for n in deps if deps[n] == 0]
    heapq.heapify(ready)
    index = 0
    remaining = len(order)
    while ready:
        node = heapq.heappop(ready)[2]
        remaining -= 1
        buf = buffers.pop(node, None)
        ins: tuple = ()
        ran = False
        if buf is not None and (needed is None or node in needed or
                                any((node, k) in captures for k in range(len(buf)))):
            buf = _before(node, buf)
            if targets:
                for k, g in enumerate(buf):
                    slot = captures.get((node, k))
                    if slot is not None:
                        captured[slot] = g
            is_sink = type(node) is AccumulateGrad
            if is_sink:
                if accumulate and (not targets or (node, 0) in captures):
                    node.apply(buf)
                    ran = True
            elif needed is None or node in needed:
                ins = node.apply(buf)
                if node._hooks:
                    ins = _after(node, ins, buf)
                ran = True
            if ran:
                if not keep:
                    node.release()
                yield Step(node, buf, ins, node.variable if is_sink else None, index, remaining)
                index += 1
        for (nxt, nr), g in zip(node.next_functions, ins or (None,) * len(node.next_functions)):
            if nxt is None:
                continue
            if g is not None:
                b = buffers.get(nxt)
                if b is None:
                    b = buffers[nxt] = [None] * nxt.num_outputs
                cur = b[nr]
                b[nr] = g if cur is None else add_out(
                    np.ascontiguousarray(cur).reshape(-1),
                    np.ascontiguousarray(g, dtype=cur.dtype).reshape(-1)).reshape(cur.shape)
            deps[nxt] -= 1
            if deps[nxt] == 0:
                heapq.heappush(ready, (_priority(nxt), -nxt._seq, nxt))
    if not keep:
        for node in order:
            if needed is None or node in needed:
                node.release()
    return tuple(captured)


def _priority(node: Node) -> int:
    # AccumulateGrad first among ready nodes, then the most recently created node.
    return 0 if type(node) is AccumulateGrad else 1


def _needed(order: list[Node], captures: dict) -> set[Node]:
    """Nodes that lie on a path from the roots to a captured gradient."""
    capture_nodes = {n for n, _ in captures}
    needed: set[Node] = set()
    for node in sorted(order, key=lambda n: n._seq):
        if any(nxt in needed or nxt in capture_nodes for nxt, _ in node.next_functions
               if nxt is not None):
            needed.add(node)
    return needed | {n for n in capture_nodes if type(n) is AccumulateGrad}


def _before(node: Node, buf: list) -> list:
    """Tensor hooks, retained grads and pre-hooks, in torch's order."""
    if type(node) is AccumulateGrad:
        hooks = node.variable._leaf_hooks()
        if hooks:
            buf = [_run_tensor_hooks(hooks, buf[0])]
        return buf
    if node._tensor_hooks:
        buf = list(buf)
        for nr, hooks in node._tensor_hooks.items():
            if buf[nr] is not None and hooks:
                buf[nr] = _run_tensor_hooks(hooks, buf[nr])
    if node._retains:
        for nr, ref in node._retains.items():
            t = ref()
            if t is not None and buf[nr] is not None:
                if t._grad is None:
                    t._grad = _wrap(np.array(buf[nr], copy=True, order="C"))
                else:
                    t._grad = _wrap(t._grad._data + buf[nr])
    if node._pre_hooks:
        for fn in list(node._pre_hooks.values()):
            res = fn(tuple(_wrapped(g) for g in buf))
            if res is not None:
                buf = [_unwrapped(r, old) for r, old in zip(res, buf)]
    return buf


def _after(node: Node, ins: tuple, buf: list) -> tuple:
    outs = tuple(_wrapped(g) for g in buf)
    for fn in list(node._hooks.values()):
        res = fn(tuple(_wrapped(g) for g in ins), outs)
        if res is not None:
            ins = tuple(_unwrapped(r, None) for r in res)
    return ins


def run(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
        create_graph: bool = False, inputs: Iterable[Tensor] | None = None,
        accumulate: bool = True) -> tuple:
    """Drive ``backward_steps`` to the end; returns the captured gradients."""
    gen = backward_steps(tensors, grad_tensors, retain_graph, create_graph,
                         None if inputs is None else tuple(inputs), accumulate=accumulate)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
