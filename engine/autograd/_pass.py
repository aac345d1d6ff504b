"""One backward pass's state and its phases (torch's ``GraphTask``).

``loop._loop`` drives a ``_Pass``: ``discover`` counts how many gradients each node
waits for, ``check_saved`` fails before anything changes, ``seed`` places the roots'
gradients, then per node ``next_ready``/``route``, ``run`` (``before_run`` for a node with
user code around it, ``accumulate`` for a leaf); ``commit`` or ``restore`` at the end.

Order: a node runs once every node that feeds it a gradient has run (dependency counts,
no recursion), highest creation number first among the ready ones, and a leaf's
AccumulateGrad as soon as it is ready - the order torch's engine uses.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from heapq import heapify, heappop, heappush
from typing import Any

import numpy as np

from engine._base.grad_mode import anomaly, enable_grad
from engine.autograd.anomaly import check_outputs
from engine.autograd.hooks import _post_hooks, _pre_hooks, _tensor_hooks
from engine.graph import AccumulateGrad, Node
from engine.kernels.accumulate import add_out
from engine.ops.base import edge
from engine.ops.inplace import CopySlices
from engine.tensor import Tensor

# Stands in for the gradients of a node that did not run: zip stops at next_functions.
_NONES = itertools.repeat(None)

# A .grad with at least this many elements makes a plain pass check whether it may hold
# back its additions (``_pure``): a snapshot of a smaller one costs less than the check.
_DEFER_MIN = 4096

# Below this many elements copying a gradient into a new .grad costs less than the
# checks that would let the leaf adopt it.
_ADOPT_MIN = 1 << 14


class _Pass:
    """The state of one backward pass, with its phases as methods.

    ``deps``      node -> gradients it still waits for; ``order`` the discovery order
    ``buffers``   node -> the gradients that reached it so far, one slot per output
    ``ready``     heap of nodes whose gradients are all in (``route`` keeps one off it)
    ``captures``  (node, output) -> slots of ``captured`` (autograd.grad's targets)
    ``needed``    nodes on a path to a captured gradient (None: every node)
    ``journal``   every .grad the pass changed, as it was before (for ``restore``)
    ``deferred``  additions into .grad held back until ``commit``
    ``owned``     sink -> a gradient buffer the pass alone holds, which its leaf may adopt
    """

    __slots__ = ("graph", "accumulating", "merge", "seeds", "deps", "order", "targets",
                 "captures", "needed", "buffers", "captured", "ready", "journal", "adopt",
                 "owned", "defer", "deferred")

    def __init__(self, graph: bool, accumulating: bool, targets: tuple[Tensor, ...],
                 records: bool) -> None:
        self.graph = graph
        self.accumulating = accumulating
        # The fast path runs the Numba kernels on arrays with recording off; create_graph
        # runs each node's tensor formula with recording on, so the pass is differentiable.
        self.merge = _merge_tensors if graph else _merge_arrays
        self.deps: dict[Node, int] = {}
        self.order: list[Node] = []
        self.targets = targets
        self.captures: dict[tuple[Node, int], list[int]] = {}
        self.needed: set[Node] | None = None
        self.buffers: dict[Node, list] = {}
        self.captured: list[Any] = [None] * len(targets)
        self.journal: dict[int, tuple] = {}
        # Large gradients bound for a leaf whose .grad is None are adopted instead of
        # copied when the pass owns them alone: only for a plain backward (no Step hands
        # them out, nothing is captured), and only buffers a node made itself.
        self.adopt = not records and not graph and not targets
        self.owned: dict[Node, np.ndarray] = {}
        # Such a plain pass, when no user code can run in it and no node reads a .grad's
        # memory (``_pure``), also holds back what its AccumulateGrad nodes add until every
        # node has run (``commit``): nothing can look at a .grad in between, and a failure
        # finds every .grad untouched without the journal's snapshot (a copy of each
        # .grad).  Decided (None: not yet) at the first .grad large enough
        # (``_DEFER_MIN``) for its snapshot to cost more than the check.
        self.defer: bool | None = None if self.adopt and accumulating else False
        self.deferred: list[tuple[Tensor, Any, bool]] = []

    # ---- before any node runs ------------------------------------------------------------

    def discover(self, root_edges: Sequence[tuple[Node, int]], check: bool) -> None:
        """Walk the graph from the roots, counting how many gradients each node waits for;
        with ``check`` each node's saved tensors are checked in the same walk."""
        deps, order = self.deps, self.order
        stack = []
        for node, _ in root_edges:
            if node not in deps:
                deps[node] = 0
                stack.append(node)
        while stack:
            node = stack.pop()
            order.append(node)
            if check and (node._saved or node._released or type(node) is CopySlices):
                node.check_saved()
            for nxt, _ in node.next_functions:
                if nxt is None:
                    continue
                if nxt in deps:
                    deps[nxt] += 1
                else:
                    deps[nxt] = 1
                    stack.append(nxt)
        if self.targets:  # where gradients are captured (autograd.grad), not accumulated
            for i, t in enumerate(self.targets):
                if not t._rg:
                    raise RuntimeError("One of the differentiated Tensors does not require grad")
                self.captures.setdefault(edge(t), []).append(i)
            self.needed = _needed(order, self.captures)

    def check_saved(self) -> None:
        """Fail before touching anything: freed or modified saved tensors raise here.  A node
        that saved nothing and was never released has nothing to check, except CopySlices,
        which also checks the node it wraps.  (Only for the nodes that will run.)"""
        needed = self.needed
        for node in self.order:
            if (node._saved or node._released or type(node) is CopySlices) and (
                    needed is None or node in needed):
                node.check_saved()

    def seed(self, root_edges: Sequence[tuple[Node, int]], seeds: list) -> None:
        """Place the roots' gradients; the roots that wait for nothing are ready."""
        self.seeds: list = seeds
        buffers, merge = self.buffers, self.merge
        for (node, nr), g in zip(root_edges, seeds):
            buf = buffers.setdefault(node, [None] * node.num_outputs)
            buf[nr] = g if buf[nr] is None else merge(buf[nr], g)
        # AccumulateGrad first among ready nodes, then the most recently created node.
        # Only roots can be ready at the start: every other node waits for a gradient.
        if len(buffers) == 1:  # one root: nothing else can be ready
            (root,) = buffers
            self.ready = [(type(root) is not AccumulateGrad, -root._seq, root)]
        else:
            self.ready = [(type(n) is not AccumulateGrad, -n._seq, n)
                          for n in buffers if not self.deps[n]]
            heapify(self.ready)

    # ---- per node ------------------------------------------------------------------------

    def next_ready(self) -> Node | None:
        """The ready node to run next, None when the pass is done.  (``route`` queues the
        nodes that become ready and hands over one directly when it is the only one.)"""
        return heappop(self.ready)[2] if self.ready else None

    def run(self, node: Node, buf: list | None) -> tuple[list | None, tuple | None]:
        """Run ``node`` on the gradients that reached it: ``(buf, ins)``, the gradients it
        saw (hooks may replace them) and those it produced, one per next function; ``ins``
        is None when the node does not run (no gradient, or not on a captured path).
        The common node (no hook, nothing captured) runs here without another call."""
        needed = self.needed
        if buf is None or not (needed is None or node in needed or
                               any((node, k) in self.captures for k in range(len(buf)))):
            return buf, None
        sink = type(node) is AccumulateGrad
        leaf_hooked = False
        if self.targets or node._retains or node._tensor_hooks or node._pre_hooks or \
                node._hooks or sink and not (self.accumulating and (
                    node.variable._x is None or not node.variable._x.hooks)):
            before = self.before_run(node, buf)
            if before is None:
                return buf, None
            buf, leaf_hooked = before
        if not sink:
            nexts = node.next_functions
            if buf[0] is not None or any(g is not None for g in buf):
                ins = node.apply_graph(buf) if self.graph else node.apply(buf)
                if len(ins) < len(nexts):  # one gradient per input, always
                    ins = (*ins, *(None,) * (len(nexts) - len(ins)))
            else:  # a pre-hook dropped every incoming gradient
                ins = (None,) * len(nexts)
        elif buf[0] is not None:
            owned = self.owned
            mine = bool(owned) and owned.pop(node, None) is buf[0] and not (
                leaf_hooked or node._pre_hooks)  # no hook kept a reference
            ins = self.accumulate(node, buf, mine)
        else:
            ins = ()
        if node._hooks:
            ins = _post_hooks(node, ins, buf)
        if anomaly.enabled:
            check_outputs(node, ins)
        return buf, ins

    def before_run(self, node: Node, buf: list) -> tuple[list, bool] | None:
        """The user code and captures before a node with hooks, a retained grad or a
        captured gradient runs: tensor hooks and retained grads, captures, then (if the
        node runs at all) its pre-hooks.  Returns the gradients it will run on and whether
        a leaf's tensor hooks saw them, or None when the node does not run."""
        sink = type(node) is AccumulateGrad
        retains = node._retains
        if retains:
            for ref in retains.values():
                _remember(self.journal, ref(), self.graph)
        leaf_hooked = sink and node.variable._x is not None and bool(
            node.variable._leaf_hooks())
        if node._tensor_hooks or retains or leaf_hooked:
            buf = _tensor_hooks(node, buf)
        if self.targets:
            captured, captures = self.captured, self.captures
            for k, g in enumerate(buf):
                for slot in captures.get((node, k), ()):
                    captured[slot] = g
        if sink:
            if not self.accumulating or (self.targets and (node, 0) not in self.captures):
                return None
        elif self.needed is not None and node not in self.needed:
            return None
        if node._pre_hooks:
            buf = _pre_hooks(node, buf)
        return buf, leaf_hooked

    def accumulate(self, sink: AccumulateGrad, buf: list, mine: bool) -> tuple:
        """Add a leaf's gradient into its .grad, journaled, or hold it back for ``commit``;
        ``mine``: the pass alone holds the buffer, so the leaf may adopt it."""
        v = sink.variable
        if self.defer is None:
            grad = v._grad
            if grad is not None and grad._data.size >= _DEFER_MIN:
                self.defer = not anomaly.enabled and _pure(self.order, self.seeds)
        if self.defer:
            self.deferred.append((v, buf[0], mine))
            return ()
        _remember(self.journal, v, self.graph)
        return (sink.apply_owned(buf) if mine else
                sink.apply_graph(buf) if self.graph else sink.apply(buf))

    def route(self, node: Node, buf: list | None, ins: tuple | None) -> Node | None:
        """Hand each gradient ``node`` produced to its next function and queue the ones that
        now have all of theirs (a node that did not run still counts as done).  Returns
        the node to run next: one that just became ready while no other was skips the
        heap."""
        buffers, deps, adopt, merge = self.buffers, self.deps, self.adopt, self.merge
        single = None
        for (nxt, nr), g in zip(node.next_functions, ins or _NONES):
            if nxt is None:
                continue
            if g is not None:
                b = buffers.get(nxt)
                if b is None:
                    if nxt.num_outputs == 1:
                        buffers[nxt] = [g]
                    else:
                        buffers[nxt] = b = [None] * nxt.num_outputs
                        b[nr] = g
                    if adopt and type(nxt) is AccumulateGrad and g.size >= _ADOPT_MIN and \
                            _own(node, g, buf, ins):
                        self.owned[nxt] = g
                else:
                    cur = b[nr]
                    b[nr] = g if cur is None else merge(cur, g)
                    if adopt and type(nxt) is AccumulateGrad:
                        self.owned[nxt] = b[nr]  # the sum is a fresh buffer
            left = deps[nxt] - 1
            deps[nxt] = left
            if not left:
                if single is None and not self.ready:  # the only ready node: no heap
                    single = nxt
                    continue
                if single is not None:
                    heappush(self.ready, (type(single) is not AccumulateGrad, -single._seq,
                                          single))
                    single = None
                heappush(self.ready, (type(nxt) is not AccumulateGrad, -nxt._seq, nxt))
        return single if single is not None else self.next_ready()

    # ---- at the end ----------------------------------------------------------------------

    def commit(self) -> None:
        """Apply the held-back additions in their order.  First those that give a leaf a new
        .grad (or replace a strided one), journaled as usual; the in-place additions into
        existing buffers come last, each cast and made contiguous beforehand, so once the
        first of them runs nothing can fail any more."""
        later = []
        for v, g, mine in self.deferred:
            grad = v._grad
            if grad is None or not grad._data.flags.c_contiguous:
                _remember(self.journal, v, False)
                v._accumulate(g, mine)
            else:
                later.append((v, g.astype(v._data.dtype, copy=False).reshape(-1)))
        for v, g in later:
            v._accumulate(g)

    def restore(self) -> None:
        """Put every .grad the pass changed back as it was: a failed pass changes none."""
        _restore(self.journal)

    def release(self) -> None:
        """Free the graph of a pass that did not finish (abandoned or failed)."""
        needed = self.needed
        for node in self.order:
            if needed is None or node in needed:
                node.release()


def _pure(order: list[Node], seeds: list) -> bool:
    """True when the additions into .grad may wait for the end of the pass: no user code
    can run in it (no node or tensor hook, no retained grad, no custom Function: only the
    engine's own op nodes), and no node can read a .grad's memory, which an earlier
    addition would have changed in place (a .grad used as an operand, a weight, or a
    seed gradient)."""
    grads = set()
    for node in order:
        if node._hooks or node._pre_hooks or node._tensor_hooks or node._retains:
            return False
        cls = type(node)
        if cls is AccumulateGrad:
            v = node.variable
            if v._leaf_hooks():
                return False
            if v._grad is not None:
                grads.add(_root(v._grad._data))
        elif cls is CopySlices or not cls.__module__.startswith("engine.ops."):
            return False  # (CopySlices runs the node it wraps)
    if not grads:
        return True
    read = {_root(g) for g in seeds}
    for node in order:
        for saved in node._saved or ():
            read.add(_root(saved.data))
        for name in _array_slots(type(node)):
            value = getattr(node, name, None)
            if isinstance(value, np.ndarray):
                read.add(_root(value))
    return grads.isdisjoint(read)


def _root(a: np.ndarray) -> int:
    """The identity of the object that owns ``a``'s memory (views lead back to it)."""
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return id(a)


_SLOTS: dict[type, tuple[str, ...]] = {}


def _array_slots(cls: type) -> tuple[str, ...]:
    """The attributes a node class adds to ``Node``'s (where it may keep arrays)."""
    names = _SLOTS.get(cls)
    if names is None:
        names = _SLOTS[cls] = tuple(
            n for k in cls.__mro__ if k is not Node and issubclass(k, Node)
            for n in _names(k.__dict__.get("__slots__", ())) if n != "__weakref__")
    return names


def _names(slots: str | tuple[str, ...]) -> tuple[str, ...]:
    return (slots,) if isinstance(slots, str) else tuple(slots)


def _own(node: Node, g: np.ndarray, buf: list, ins: tuple) -> bool:
    """Whether ``g``, produced by ``node``, is a buffer no one else can see: a new array
    (``fresh_grads`` nodes return new arrays or views of their incoming gradients), not
    one of those views, not handed to another input too, and shown to no node hook."""
    if not type(node).fresh_grads or node._hooks:  # (the caller checked the size)
        return False
    if any(o is not None and np.may_share_memory(g, o) for o in buf):
        return False
    return sum(1 for o in ins if o is not None and np.may_share_memory(g, o)) == 1


def _remember(journal: dict, t: Tensor | None, graph: bool) -> None:
    """Note ``t.grad`` before the pass first changes it (in-place adds need a copy)."""
    if t is None or id(t) in journal:
        return
    g = t._grad
    if g is None or graph:
        journal[id(t)] = (t, g, None, 0)
    else:
        # a snapshot, not backward math: numpy's copy avoids a kernel call on tiny grads
        journal[id(t)] = (t, g, g._data.copy(order="C"), g._vc[0])


def _restore(journal: dict) -> None:
    """Put back every .grad ``_remember`` noted, as it was before the pass."""
    for t, g, data, version in journal.values():
        t._grad = g
        if data is not None:
            g._data[...] = data
            g._vc[0] = version


def _merge_arrays(cur: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Two gradients reaching the same input, summed in a Numba kernel."""
    return add_out(np.ascontiguousarray(cur).reshape(-1),
                   np.ascontiguousarray(g, dtype=cur.dtype).reshape(-1)).reshape(cur.shape)


def _merge_tensors(cur: Tensor, g: Tensor) -> Tensor:
    with enable_grad():
        return cur + g


def _needed(order: list[Node], captures: dict) -> set[Node]:
    """Nodes that lie on a path from the roots to a captured gradient."""
    capture_nodes = {n for n, _ in captures}
    needed: set[Node] = set()
    for node in sorted(order, key=lambda n: n._seq):
        if any(nxt in needed or nxt in capture_nodes for nxt, _ in node.next_functions
               if nxt is not None):
            needed.add(node)
    return needed | {n for n in capture_nodes if type(n) is AccumulateGrad}
