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
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from engine._base import grad_mode
from engine._base.dtypes import from_np
from engine._base.grad_mode import enable_grad
from engine.autograd.anomaly import check_outputs
from engine.graph import AccumulateGrad, Node
from engine.kernels.accumulate import add_out, copy
from engine.ops.base import edge
from engine.ops.convert import cast
from engine.ops.inplace import CopySlices
from engine.tensor import Tensor, _wrap

# Stands in for the gradients of a node that did not run: zip stops at next_functions.
_NONES = itertools.repeat(None)


class Step:
    """What one node did: the record ``backward_steps`` yields.

    ``node``          the grad_fn (or AccumulateGrad) that ran
    ``grad_outputs``  gradients that flowed into it, one per node output
    ``grad_inputs``   gradients it produced, aligned with ``node.next_functions``
    ``accumulated``   the leaf whose ``.grad`` it updated, if it was an AccumulateGrad
    ``index``         0, 1, 2, ... within the pass; ``remaining`` nodes still to run

    >>> x = engine.tensor([1.0, 2.0], requires_grad=True)
    >>> steps = list(engine.autograd.backward_steps((x * 3).sum()))
    >>> [(s.index, s.node.name(), s.remaining) for s in steps]
    [(0, 'SumBackward0', 2), (1, 'MulBackward0', 1), (2, 'AccumulateGrad', 0)]
    >>> steps[1].grad_outputs, steps[1].grad_inputs, steps[2].accumulated is x
    ((tensor([1., 1.]),), (tensor([3., 3.]), None), True)
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
        return tuple(_wrapped(g) for g in self._outs)

    @property
    def grad_inputs(self) -> tuple[Tensor | None, ...]:
        return tuple(_wrapped(g) for g in self._ins)

    def __repr__(self) -> str:
        leaf = " -> .grad" if self.accumulated is not None else ""
        return f"<Step {self.index}: {self.node.name()}{leaf}>"


def _as_tuple(x: Any) -> tuple:
    if x is None:
        return ()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _root_grads(roots: tuple[Tensor, ...], grads: Any, graph: bool) -> list:
    """The seed gradient of each root, checked in torch's order: each given gradient's
    type and shape, the implicit ones; then the counts; then that every root needs grad.

    Arrays for the fast path; tensors (the given ones, possibly with history) when the
    backward pass itself is recorded (``graph``)."""
    if grads is None and not graph:  # the common ``loss.backward()``: implicit ones
        for t in roots:
            if t._rg and t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
        _check_roots(roots)
        return [_ones(t._data) for t in roots]
    given = _as_tuple(grads) if grads is not None else (None,) * len(roots)
    out: list[np.ndarray | None] = []
    for i, (t, g) in enumerate(zip(roots, given)):
        if g is None:
            if t._rg and t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            ones = np.ones(t._data.shape, t._data.dtype)
            out.append(_wrap(ones) if graph else ones)
            continue
        if not isinstance(g, Tensor):
            raise TypeError(
                f"gradients can be either Tensors or None, but got {type(g).__name__}")
        gd = g._data
        if gd.shape != t._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {_size(gd.shape)} and "
                f"output[{i}] has a shape of {_size(t._data.shape)}.")
        if graph:
            out.append(g if gd.dtype == t._data.dtype else cast(g, t._data.dtype))
            continue
        if gd.dtype != t._data.dtype:
            gd = gd.astype(t._data.dtype)
        # (np.ascontiguousarray would turn a 0-d gradient into shape (1,))
        out.append(gd if gd.flags.c_contiguous else gd.copy(order="C"))
    if len(given) != len(roots):
        raise RuntimeError(f"got {len(roots)} tensors and {len(given)} gradients")
    _check_roots(roots)
    return out


# One 0-d array of ones per dtype: a scalar root's seed is a copy of it (np.ones costs
# several times as much as the copy).
_ONE: dict[np.dtype, np.ndarray] = {}


def _ones(d: np.ndarray) -> np.ndarray:
    """A new array of ones shaped as ``d``: the implicit seed gradient."""
    if d.ndim:
        return np.ones(d.shape, d.dtype)
    one = _ONE.get(d.dtype)
    if one is None:
        one = _ONE[d.dtype] = np.ones((), d.dtype)
    return one.copy()


def _check_roots(roots: tuple[Tensor, ...]) -> None:
    for i, t in enumerate(roots):
        if not t._rg:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn")


def _size(shape: tuple[int, ...]) -> str:
    return f"engine.Size([{', '.join(str(d) for d in shape)}])"


def _wrapped(g: Any) -> Tensor | None:
    """A gradient as a tensor: arrays on the fast path, tensors with create_graph."""
    return g if g is None or isinstance(g, Tensor) else _wrap(g)


def _hook_result(fn: Any, old: Any, new: Any) -> Any:
    """A gradient a hook returned, checked as torch checks it (type, dtype, shape), in
    the pass's own representation (array, or tensor with create_graph)."""
    if new is None:
        return None
    if old is None:
        raise RuntimeError("can't replace a None gradient with a non-None value")
    if not isinstance(new, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(new).__name__}'")
    name = getattr(fn, "__name__", "<unknown>")
    graph = isinstance(old, Tensor)
    old = old._data if graph else old
    data = new._data
    if data.dtype != old.dtype:
        was, got = (from_np(d).tensor_type for d in (old.dtype, data.dtype))
        raise RuntimeError(
            f"hook '{name}' has changed the type of value (was engine.{was} got engine.{got})")
    if data.shape != old.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")
    return new if graph else data


def _hook_tuple(fn: Any, old: Sequence, res: Any) -> list:
    """A node hook's replacement tuple; a None entry drops that gradient, as in torch."""
    if not isinstance(res, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(res).__name__}'")
    if len(res) != len(old):
        raise RuntimeError(
            f"hook '{getattr(fn, '__name__', '<unknown>')}' has returned an incorrect number "
            f"of values (got {len(res)}, but expected {len(old)})")
    return [_hook_result(fn, o, r) for o, r in zip(old, res)]


def _run_tensor_hooks(hooks: dict, g: Any) -> Any:
    for fn in list(hooks.values()):
        res = fn(_wrapped(g))
        if res is not None:
            g = _hook_result(fn, g, res)
    return g


def backward_steps(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None,
                   retain_graph: bool | None = None, create_graph: bool = False,
                   inputs: Sequence[Tensor] | None = None, *,
                   accumulate: bool = True) -> Iterator[Step]:
    """Run backward from ``tensors`` one node per iteration, yielding a ``Step`` each time.

    >>> x = engine.tensor([1.0, 2.0], requires_grad=True)
    >>> for step in engine.autograd.backward_steps((x * x).sum()):
    ...     print(step.node.name(), [g.shape for g in step.grad_inputs if g is not None])
    SumBackward0 [engine.Size([2])]
    MulBackward0 [engine.Size([2]), engine.Size([2])]
    AccumulateGrad []

    With ``inputs`` only the nodes leading to them run.  With ``accumulate=False``
    nothing is written to ``.grad``: the gradients of ``inputs`` are captured
    instead and returned by the generator (``StopIteration.value``), which is how
    ``autograd.grad`` works.
    """
    return _loop(tensors, grad_tensors, retain_graph, create_graph, inputs, accumulate, True)


def _loop(tensors: Any, grad_tensors: Any, retain_graph: bool | None, create_graph: bool,
          inputs: Sequence[Tensor] | None, accumulate: bool, records: bool) -> Iterator[Any]:
    """The backward loop itself; yields a ``Step`` per node when ``records`` is on (for
    ``run``, which only drives it to the end, it never yields)."""
    roots = _as_tuple(tensors)
    graph = bool(create_graph)
    seeds = _root_grads(roots, grad_tensors, graph)
    keep = graph if retain_graph is None else bool(retain_graph)
    # The fast path runs the Numba kernels on arrays with recording off; create_graph
    # runs each node's tensor formula with recording on, so the pass is differentiable.
    merge = _merge_tensors if graph else _merge_arrays
    state = grad_mode._state
    root_edges = [edge(t) for t in roots]

    # Discover the graph and count how many gradients each node waits for.
    deps: dict[Node, int] = {}
    stack = []
    for node, _ in root_edges:
        if node not in deps:
            deps[node] = 0
            stack.append(node)
    order: list[Node] = []
    # Without ``inputs`` every node is checked (below) in this same order, so the check
    # is made here, in one walk.
    check = inputs is None
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

    # Where gradients are captured (autograd.grad) instead of accumulated.
    targets = _as_tuple(inputs)
    captures: dict[tuple[Node, int], list[int]] = {}
    for i, t in enumerate(targets):
        if not t._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        captures.setdefault(edge(t), []).append(i)
    needed = _needed(order, captures) if targets else None
    # Fail before touching anything: freed or modified saved tensors raise here.  A node
    # that saved nothing and was never released has nothing to check, except CopySlices,
    # which also checks the node it wraps.
    for node in order if not check else ():
        if (node._saved or node._released or type(node) is CopySlices) and (
                needed is None or node in needed):
            node.check_saved()

    buffers: dict[Node, list] = {}
    for (node, nr), g in zip(root_edges, seeds):
        buf = buffers.setdefault(node, [None] * node.num_outputs)
        buf[nr] = g if buf[nr] is None else merge(buf[nr], g)
    captured: list[np.ndarray | None] = [None] * len(targets)
    # AccumulateGrad first among ready nodes, then the most recently created node.  Only
    # roots can be ready at the start: every other node waits for a gradient.
    if len(buffers) == 1:  # one root: nothing else can be ready
        (root,) = buffers
        ready = [(type(root) is not AccumulateGrad, -root._seq, root)]
    else:
        ready = [(type(n) is not AccumulateGrad, -n._seq, n) for n in buffers if not deps[n]]
        heapq.heapify(ready)
    heappush, heappop = heapq.heappush, heapq.heappop
    single = None  # a node that became ready while no other was: it runs next, unheaped
    anomaly = grad_mode.anomaly
    index = 0
    remaining = len(order)
    finished = False
    journal: dict[int, tuple] = {}  # every .grad this pass changes, as it was before
    # Large gradients bound for a leaf whose .grad is None are adopted instead of copied
    # when the pass owns them alone: only for a plain backward (no Step hands them out,
    # nothing is captured), and only buffers a node made itself (``owned``: sink -> array).
    adopt = not records and not graph and not targets
    owned: dict[Node, np.ndarray] = {}
    # Such a plain pass, when no user code can run in it and no node reads a .grad's
    # memory (``_pure``), also holds back what its AccumulateGrad nodes add until every
    # node has run (``_commit``): nothing can look at a .grad in between, and a failure
    # finds every .grad untouched without the journal's snapshot (a copy of each .grad).
    # Decided (None: not yet) at the first .grad large enough (``_DEFER_MIN``) for its
    # snapshot to cost more than the check.
    defer: bool | None = None if adopt and accumulate else False
    deferred: list[tuple[Tensor, Any, bool]] = []
    caller = state.enabled
    try:
        while True:
            if single is not None:
                node = single
                single = None
            elif ready:
                node = heappop(ready)[2]
            else:
                break
            remaining -= 1
            buf = buffers.pop(node, None)
            ins: tuple = ()
            if buf is not None and (needed is None or node in needed or
                                    any((node, k) in captures for k in range(len(buf)))):
                # Hooks and nodes record only with create_graph, as in torch; the
                # caller's mode is back before each Step is handed out.
                if records:
                    caller = state.enabled
                state.enabled = graph
                try:
                    is_sink = type(node) is AccumulateGrad
                    ran = True
                    plain = not (targets or node._retains or node._tensor_hooks or
                                 node._pre_hooks or node._hooks)  # the common node: no hook
                    if plain and not is_sink:
                        if buf[0] is not None or any(g is not None for g in buf):
                            ins = node.apply_graph(buf) if graph else node.apply(buf)
                            nexts = node.next_functions
                            if len(ins) < len(nexts):  # one gradient per input, always
                                ins = (*ins, *(None,) * (len(nexts) - len(ins)))
                        else:
                            ins = (None,) * len(node.next_functions)
                    elif plain and accumulate and (node.variable._x is None or
                                                   not node.variable._x.hooks):
                        # the common leaf: no hook, nothing captured (the general path's
                        # steps for that case)
                        g = buf[0]
                        if g is not None:
                            v = node.variable
                            mine = bool(owned) and owned.pop(node, None) is g
                            if defer is None:
                                grad = v._grad
                                if grad is not None and grad._data.size >= _DEFER_MIN:
                                    defer = not anomaly.enabled and _pure(order, seeds)
                            if defer:
                                deferred.append((v, g, mine))
                            else:
                                _remember(journal, v, graph)
                                ins = (node.apply_owned(buf) if mine else
                                       node.apply_graph(buf) if graph else node.apply(buf))
                    else:
                        retains = node._retains
                        if retains:
                            for ref in retains.values():
                                _remember(journal, ref(), graph)
                        hooked = is_sink and node.variable._x is not None and bool(
                            node.variable._leaf_hooks())
                        if node._tensor_hooks or retains or hooked:
                            buf = _tensor_hooks(node, buf)
                        if targets:
                            for k, g in enumerate(buf):
                                for slot in captures.get((node, k), ()):
                                    captured[slot] = g
                        if is_sink:
                            ran = accumulate and (not targets or (node, 0) in captures)
                        else:
                            ran = needed is None or node in needed
                        if ran:
                            if node._pre_hooks:
                                buf = _pre_hooks(node, buf)
                            nexts = node.next_functions
                            if buf[0] is not None or any(g is not None for g in buf):
                                if is_sink:
                                    mine = bool(owned) and owned.pop(node, None) is buf[0] and not (
                                        hooked or node._pre_hooks)  # no hook kept a reference
                                    if defer is None:
                                        grad = node.variable._grad
                                        if grad is not None and grad._data.size >= _DEFER_MIN:
                                            defer = not anomaly.enabled and _pure(order, seeds)
                                    if defer:
                                        deferred.append((node.variable, buf[0], mine))
                                    else:
                                        _remember(journal, node.variable, graph)
                                        ins = (node.apply_owned(buf) if mine else
                                               node.apply_graph(buf) if graph else
                                               node.apply(buf))
                                else:
                                    ins = node.apply_graph(buf) if graph else node.apply(buf)
                                if len(ins) < len(nexts):  # one gradient per input, always
                                    ins = (*ins, *(None,) * (len(nexts) - len(ins)))
                            else:  # a pre-hook dropped every incoming gradient
                                ins = (None,) * len(nexts)
                            if node._hooks:
                                ins = _after(node, ins, buf)
                    if ran and anomaly.enabled:
                        check_outputs(node, ins)
                finally:
                    state.enabled = caller
                if ran:
                    if not keep and (node._saved is not None or type(node) is CopySlices):
                        node.release()
                    if records:
                        leaf = node.variable if is_sink else None
                        yield Step(node, buf, ins, leaf, index, remaining)
                    index += 1
            # Route the gradients and release the nodes that now have all of theirs.
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
                            owned[nxt] = g
                    else:
                        cur = b[nr]
                        b[nr] = g if cur is None else merge(cur, g)
                        if adopt and type(nxt) is AccumulateGrad:
                            owned[nxt] = b[nr]  # the sum is a fresh buffer
                left = deps[nxt] - 1
                deps[nxt] = left
                if not left:
                    if single is None and not ready:  # the only ready node: no heap needed
                        single = nxt
                        continue
                    if single is not None:
                        heappush(ready, (type(single) is not AccumulateGrad, -single._seq, single))
                        single = None
                    heappush(ready, (type(nxt) is not AccumulateGrad, -nxt._seq, nxt))
        if deferred:
            _commit(deferred, journal)
        finished = True
    except GeneratorExit:  # the caller stopped stepping: not a failure
        raise
    except BaseException:
        _restore(journal)  # a failed pass leaves every .grad as it found it
        raise
    finally:
        # Also when the caller abandons the generator half way: a pass without
        # retain_graph consumes the graph, finished or not.
        if not keep and not finished:
            for node in order:
                if needed is None or node in needed:
                    node.release()
    return tuple(captured)


# A .grad with at least this many elements makes a plain pass check whether it may hold
# back its additions (``_pure``): a snapshot of a smaller one costs less than the check.
_DEFER_MIN = 4096


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


def _commit(deferred: list[tuple[Tensor, Any, bool]], journal: dict) -> None:
    """Apply the held-back additions in their order.  First those that give a leaf a new
    .grad (or replace a strided one), journaled as usual; the in-place additions into
    existing buffers come last, each cast and made contiguous beforehand, so once the
    first of them runs nothing can fail any more."""
    later = []
    for v, g, mine in deferred:
        grad = v._grad
        if grad is None or not grad._data.flags.c_contiguous:
            _remember(journal, v, False)
            v._accumulate(g, mine)
        else:
            later.append((v, g.astype(v._data.dtype, copy=False).reshape(-1)))
    for v, g in later:
        v._accumulate(g)


# Below this many elements copying a gradient into a new .grad costs less than the
# checks that would let the leaf adopt it.
_ADOPT_MIN = 1 << 14


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


def _tensor_hooks(node: Node, buf: list) -> list:
    """Tensor hooks and retained grads: they see a gradient even where it is only captured."""
    if type(node) is AccumulateGrad:
        hooks = node.variable._leaf_hooks()
        if hooks:
            buf = [_run_tensor_hooks(hooks, buf[0])]
    elif node._tensor_hooks:
        buf = list(buf)
        for nr, hooks in node._tensor_hooks.items():
            if buf[nr] is not None and hooks:
                buf[nr] = _run_tensor_hooks(hooks, buf[nr])
    if node._retains:
        for nr, ref in node._retains.items():
            t = ref()
            g = buf[nr]
            if t is not None and g is not None and isinstance(g, Tensor):
                t._grad = g.clone() if t._grad is None else t._grad + g
            elif t is not None and g is not None:
                flat = g.reshape(-1)
                if t._grad is not None:
                    old = t._grad._data
                    flat = add_out(old.reshape(-1), flat.astype(old.dtype, copy=False))
                elif np.shares_memory(flat, g):
                    flat = copy(flat)  # .grad never aliases a buffer the pass still uses
                t._grad = _wrap(flat.reshape(g.shape))
    return buf


def _pre_hooks(node: Node, buf: list) -> list:
    """The node's own pre-hooks: only for a node that is about to run."""
    for fn in list(node._pre_hooks.values()):
        res = fn(tuple(_wrapped(g) for g in buf))
        if res is not None:
            buf = _hook_tuple(fn, buf, res)
    return buf


def _after(node: Node, ins: tuple, buf: list) -> tuple:
    outs = tuple(_wrapped(g) for g in buf)
    for fn in list(node._hooks.values()):
        res = fn(tuple(_wrapped(g) for g in ins), outs)
        if res is not None:
            ins = tuple(_hook_tuple(fn, ins, res))
    return ins


def run(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
        create_graph: bool = False, inputs: Iterable[Tensor] | None = None,
        accumulate: bool = True) -> tuple:
    """Run a whole backward pass; returns the captured gradients."""
    gen = _loop(tensors, grad_tensors, retain_graph, create_graph,
                None if inputs is None else tuple(inputs), accumulate, False)
    try:
        next(gen)  # without Step records the loop runs to its end in one go
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the backward loop yielded without Step records")
