"""The one backward loop, and the public calls that hand off to it.

``backward_steps`` runs a backward pass one node at a time and yields a ``Step`` after
each node.  ``Tensor.backward``, ``autograd.backward``, ``autograd.grad`` and the desktop
app's stepper all drive this same generator, ``_loop``; its phases live on ``_Pass``.

``_plain`` is that loop specialised for the common ``loss.backward()`` that nothing
observes (one root, implicit seed, no hook, no retained grad, no anomaly mode, no
``create_graph``, no ``inputs``, no Step records, only the engine's own nodes, small
leaves): the same phases in the same order with the same arrays, inlined, without the
branches that only an observer needs.  It gives up, having changed nothing, as soon as
its walk meets an observer, and the phased loop runs instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Any

import numpy as np

from engine._base import grad_mode
from engine._base.grad_mode import anomaly
from engine.autograd._pass import _DEFER_MIN, _NONES, _merge_arrays, _Pass, _remember, _restore
from engine.autograd.hooks import _wrapped
from engine.graph import AccumulateGrad, Node
from engine.ops.base import edge
from engine.ops.convert import cast
from engine.ops.creation import zeros_like
from engine.ops.inplace import CopySlices
from engine.tensor import Tensor, _wrap


@dataclass(eq=False, slots=True)  # identity equality: each step is one event
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

    node: Node
    _outs: list
    _ins: tuple
    accumulated: Tensor | None
    index: int
    remaining: int

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
    root_edges = [edge(t) for t in roots]
    p = _Pass(graph, accumulate, () if inputs is None else _as_tuple(inputs), records)
    p.discover(root_edges, inputs is None)  # without inputs every node is checked here
    if inputs is not None:
        p.check_saved()
    p.seed(root_edges, seeds)
    state = grad_mode._state
    finished = False
    index = 0
    remaining = len(p.order)
    run_node, route, buffers = p.run, p.route, p.buffers  # looked up once, not per node
    try:
        # Hooks and nodes record only with create_graph, as in torch; the caller's mode
        # is back while a Step is out and when the pass ends.
        caller, state.enabled = state.enabled, graph
        try:
            node = p.next_ready()
            while node is not None:
                remaining -= 1
                buf, ins = run_node(node, buffers.pop(node, None))
                if ins is not None:
                    if not keep and (node._saved is not None or type(node) is CopySlices):
                        node.release()
                    if records:
                        state.enabled = caller
                        try:
                            leaf = node.variable if type(node) is AccumulateGrad else None
                            yield Step(node, buf, ins, leaf, index, remaining)
                        finally:
                            caller, state.enabled = state.enabled, graph
                    index += 1
                node = route(node, buf, ins)
        finally:
            state.enabled = caller
        if p.deferred:
            p.commit()
        finished = True
    except GeneratorExit:  # the caller stopped stepping: not a failure
        raise
    except BaseException:
        p.restore()  # a failed pass leaves every .grad as it found it
        raise
    finally:
        # Also when the caller abandons the generator half way: a pass without
        # retain_graph consumes the graph, finished or not.
        if not keep and not finished:
            p.release()
    return tuple(p.captured)


# Per node class: 1 for AccumulateGrad, 0 for the engine's own op nodes (no user code
# runs in them; their ``release`` is Node's, which the fast path inlines), -1 for the
# others (custom Functions; CopySlices, which runs the node it wraps), which leave the
# pass to the phased loop.
_KIND: dict[type, int] = {AccumulateGrad: 1, CopySlices: -1}


def _kind(cls: type) -> int:
    plain = cls.__module__.startswith("engine.ops.") and cls.release is Node.release
    kind = _KIND[cls] = 0 if plain else -1
    return kind


def _plain_deps(root: Node) -> dict[Node, int] | None:
    """``_plain``'s discover and check_saved, in one walk: how many gradients each node
    waits for (its keys: every node of the pass), or None at the first observer."""
    deps = {root: 0}
    stack = [root]
    kinds = _KIND
    while stack:
        node = stack.pop()
        if node._hooks or node._pre_hooks or node._tensor_hooks or node._retains:
            return None
        cls = type(node)
        kind = kinds.get(cls)
        if kind is None:
            kind = _kind(cls)
        if kind:
            if kind < 0:
                return None
            v = node.variable
            if v._data.size >= _DEFER_MIN or v._x is not None and v._x.hooks:
                return None  # (large leaves: the phased loop may adopt or defer)
        elif node._saved:  # Node.check_saved's test, inline; it raises the error
            for saved in node._saved:
                if saved.counter[0] != saved.version:
                    node.check_saved()
        elif node._released:
            node.check_saved()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            if nxt in deps:
                deps[nxt] += 1
            else:
                deps[nxt] = 1
                stack.append(nxt)
    return deps


def _plain(tensors: Any, retain_graph: bool | None) -> bool:
    """``_loop`` for an unobserved ``backward()`` of one root with the implicit seed (the
    caller checked the arguments); False, with nothing changed, when the pass needs the
    phased loop.  Same checks, order, gradients and failure handling as ``_loop``:
    the walk checks every saved tensor before any node runs, each .grad is journaled
    before its first addition, and a failure restores them and frees the graph."""
    if isinstance(tensors, Tensor):
        root_t = tensors
    else:
        roots = _as_tuple(tensors)
        if len(roots) != 1:
            return False
        root_t = roots[0]
    d = root_t._data
    if not root_t._rg or d.size != 1:
        _root_grads((root_t,), None, False)  # (always raises: torch's error)
    seed = _ones(d)
    root, nr = edge(root_t)
    deps = _plain_deps(root)
    if deps is None:
        return False
    if root.num_outputs == 1:
        buffers = {root: [seed]}
    else:
        buffers = {root: [None] * root.num_outputs}
        buffers[root][nr] = seed
    keep = bool(retain_graph)
    journal: dict = {}
    summed: dict = {}  # sink -> the sum of its gradients, a new buffer its leaf may adopt
    ready: list = []
    pop = buffers.pop
    state = grad_mode._state
    caller, state.enabled = state.enabled, False
    finished = False
    try:
        node = root
        while node is not None:
            buf = pop(node, None)
            nexts = node.next_functions
            if buf is None:  # no gradient reached it: it does not run, but counts as done
                ins = _NONES
            elif type(node) is AccumulateGrad:
                if ready:  # nothing can fail after the last node: no snapshot for it
                    _remember(journal, node.variable, False)
                # (a buffer always holds a gradient: nothing here drops one)
                if summed and summed.pop(node, None) is buf[0]:
                    node.apply_owned(buf)
                else:
                    node.apply(buf)
                ins = ()
            else:
                ins = node.apply(buf)
                if len(ins) < len(nexts):  # one gradient per input, always
                    ins = (*ins, *(None,) * (len(nexts) - len(ins)))
                if not keep and node._saved is not None:  # Node.release, inline
                    node._saved = None
                    node._released = True
            # route, as _Pass.route: hand on the gradients, queue what became ready
            single = None
            for (nxt, k), g in zip(nexts, ins):
                if nxt is None:
                    continue
                if g is not None:
                    b = buffers.get(nxt)
                    if b is None:
                        if nxt.num_outputs == 1:
                            buffers[nxt] = [g]
                        else:
                            buffers[nxt] = b = [None] * nxt.num_outputs
                            b[k] = g
                    else:
                        cur = b[k]
                        b[k] = g if cur is None else _merge_arrays(cur, g)
                        if type(nxt) is AccumulateGrad:
                            summed[nxt] = b[k]
                left = deps[nxt]
                if left > 1:
                    deps[nxt] = left - 1
                elif single is None and not ready:  # the only ready node: no heap
                    single = nxt
                else:
                    if single is not None:
                        heappush(ready, (type(single) is not AccumulateGrad, -single._seq,
                                         single))
                        single = None
                    heappush(ready, (type(nxt) is not AccumulateGrad, -nxt._seq, nxt))
            node = single if single is not None else heappop(ready)[2] if ready else None
        finished = True
    except BaseException:
        _restore(journal)  # a failed pass leaves every .grad as it found it
        raise
    finally:
        state.enabled = caller
        if not keep and not finished:
            for node in deps:
                node.release()
    return True


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


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Sequence[Tensor] | None = None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the graph's leaves.

    >>> x = engine.tensor([1.0, 2.0], requires_grad=True)
    >>> engine.autograd.backward((x * x).sum()); x.grad      # as (x * x).sum().backward()
    tensor([2., 4.])
    >>> out = 3 * x
    >>> engine.autograd.backward(out, engine.ones_like(out), retain_graph=True); x.grad
    tensor([5., 7.])
    """
    if inputs is None:
        if grad_tensors is None and not create_graph and not anomaly.enabled and \
                _plain(tensors, retain_graph):
            return
    else:
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
        for t in inputs:
            t.retain_grad()  # as torch: a non-leaf input keeps its .grad from now on
    run(tensors, grad_tensors, retain_graph, create_graph, inputs)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` w.r.t. ``inputs``, returned; no ``.grad`` is touched.

    >>> w = engine.tensor([1.0, 2.0], requires_grad=True)
    >>> engine.autograd.grad((w ** 2).sum(), [w]), w.grad
    ((tensor([2., 4.]),), None)
    """
    targets = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if not targets:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    captured = run(outputs, grad_outputs, retain_graph, create_graph, targets,
                   accumulate=False)
    result: list[Tensor | None] = []
    for i, (t, g) in enumerate(zip(targets, captured)):
        if g is None:
            if materialize_grads:
                result.append(zeros_like(t))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior.")
            result.append(None)
        elif isinstance(g, Tensor):  # create_graph: a gradient with its own history
            result.append(g if g._data.dtype == t._data.dtype else cast(g, t._data.dtype))
        else:
            result.append(_wrap(g.astype(t._data.dtype, copy=False).reshape(t._data.shape)))
    return tuple(result)
