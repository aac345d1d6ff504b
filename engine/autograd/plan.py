"""``Plan``: a training step captured once and replayed in one Numba call.

A training loop rebuilds the same graph every iteration.  ``Plan(loss_fn, optimizer)``
runs the first steps eagerly (``loss_fn()``, ``zero_grad``, ``backward``, ``step``);
when two consecutive steps built the same graph from the same tensors, it lowers
that graph to a program for the interpreter in ``engine.kernels.interpreter`` and from then
on each call runs forward, backward and the optimizer update in a single call.

What a compiled call guarantees is what the eager step would have done: the same
loss, the same ``.grad`` values (computed by the same backward kernels), the same
parameter updates.  Before each call a few cheap guards check that the step can
still be replayed (grad mode on, anomaly detection off, no tensor's data, grad or
``requires_grad`` replaced, no hook added, the optimizer's groups unchanged); if one
fails the plan drops its program and goes back to eager steps, capturing again.

Limits, by design of a replay: Python control flow inside ``loss_fn`` is not seen
(two equal captures in a row are taken as the structure), and graphs with ops the
interpreter does not know stay eager (``plan.reason`` says why).  While compiled,
the tensors the step reads and writes live in one block of memory (their values
are unchanged): update inputs in place (``x.copy_(batch)``) to feed new data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine._base import grad_mode
from engine.graph import AccumulateGrad, Node
from engine.kernels import interpreter as kp
from engine.tensor import Tensor, _wrap

__all__ = ["Plan"]


class LoweringError(Exception):
    """The captured graph cannot be lowered; the message says which part and why."""


class _Val:
    """A value of the step: where it lives in the arena and where its gradient goes.

    ``store`` is the value owning the memory (itself, or the value a view aliases);
    ``trans`` marks a transposed view of a 2-D value, which only matrix products read.
    """

    __slots__ = ("shape", "store", "trans", "tensor", "grad", "off", "goff")

    def __init__(self, shape: tuple[int, ...], tensor: Tensor | None = None,
                 store: _Val | None = None, trans: bool = False, grad: bool = True) -> None:
        self.shape = shape
        self.tensor = tensor
        self.store = self if store is None else store.store
        self.trans = trans
        self.grad = grad if store is None else store.grad  # a view's gradient is its store's
        self.off = self.goff = -1

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def at(self) -> int:
        return self.store.off

    def gat(self) -> int:
        return self.store.goff if self.grad else -1


def _rows_cols(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return 1, shape[0]
    if len(shape) == 2:
        return shape
    raise LoweringError(f"a value of shape {list(shape)}: the plan handles up to 2-D values")


class _Lowering:
    """Walk a loss graph and emit forward and backward instructions."""

    def __init__(self, loss: Tensor) -> None:
        self.values: dict[Any, _Val] = {}
        self.leaves: list[_Val] = []       # parameters: leaves that require grad
        self.inputs: list[_Val] = []       # tensors read but not differentiated
        self.numbers: list[tuple[_Val, float]] = []  # Python numbers in the graph (x + 1)
        self.targets: list[Tensor] = []    # class-index tensors, kept in the program array
        self.fwd: list[tuple] = []
        self.bwd: list[list[tuple]] = []    # per node, in forward order; emitted reversed
        self.fconst: list[float] = []
        self.scratch = 0
        self.signature: list[Any] = []
        self.dtype = loss._data.dtype
        if self.dtype not in (np.float32, np.float64):
            raise LoweringError(f"a {self.dtype} loss: the plan runs float32 or float64 steps")
        root = loss.grad_fn
        if root is None or loss._data.size != 1:
            raise LoweringError("the loss must be a scalar with a grad_fn")
        nodes: dict[Node, None] = {}
        stack = [root]
        while stack:
            n = stack.pop()
            if n in nodes:
                continue
            nodes[n] = None
            _check_node(n)
            stack.extend(f for f, _ in n.next_functions if f is not None)
        for node in sorted(nodes, key=lambda n: n._seq):
            if type(node) is not AccumulateGrad:
                self._lower(node)
        self.loss = self.values[root]
        if self.loss.store is not self.loss:
            raise LoweringError("the loss is a view of another value")

    # -- values ----------------------------------------------------------------
    def _leaf(self, t: Tensor, grad: bool) -> _Val:
        v = self.values.get(id(t))
        if v is None:
            if not _plain(t):
                raise LoweringError("a leaf tensor with hooks, retain_grad or a view history")
            if t._data.dtype != self.dtype:
                raise LoweringError(f"a {t._data.dtype} tensor in a {self.dtype} step")
            if not t._data.flags.c_contiguous:
                raise LoweringError("a non-contiguous input tensor")
            _rows_cols(t._data.shape)
            v = _Val(t._data.shape, t, grad=grad)
            self.values[id(t)] = v
            (self.leaves if grad else self.inputs).append(v)
            self.signature.append(("leaf", t._data.shape, grad))
        return v

    def _input(self, node: Node, i: int, saved: int | None) -> _Val:
        """Input ``i`` of ``node``: its edge, or (an input without grad) saved value ``saved``."""
        fn, nr = node.next_functions[i]
        if fn is None:
            if saved is None:
                raise LoweringError(f"{node.name()}: input {i} does not require grad and the "
                                  "graph does not keep it")
            return self._saved(node, saved)
        if nr != 0:
            raise LoweringError(f"{node.name()}: reads output {nr} of a multi-output node")
        if type(fn) is AccumulateGrad:
            return self._leaf(fn.variable, True)
        return self.values[fn]

    def _saved(self, node: Node, j: int) -> _Val:
        s = node._saved[j]
        t = s.tensor
        if t is None or s.data is not t._data:
            raise LoweringError(f"{node.name()}: a saved value that is not an input tensor")
        if t._rg:
            fn = t.grad_fn
            if fn is None:
                return self._leaf(t, True)
            if t._output_nr != 0 or fn not in self.values:
                raise LoweringError(f"{node.name()}: a saved value outside the graph")
            return self.values[fn]
        base = t._x.view.base if t._x is not None and t._x.view is not None else t
        v = self._leaf(base, False)
        if base is t:
            return v
        if base._data.size != t._data.size or not t._data.flags.c_contiguous or \
                not np.shares_memory(base._data, t._data):
            raise LoweringError(f"{node.name()}: a saved view that is not a reshape of its base")
        return _Val(t._data.shape, store=v, grad=False)

    def _out(self, node: Node, shape: tuple[int, ...], store: _Val | None = None,
             trans: bool = False) -> _Val:
        _rows_cols(shape)
        v = _Val(shape, store=store, trans=trans)
        self.values[node] = v
        return v

    def _number(self, node: Node, x: Any) -> _Val:
        """A Python number an op took (``x + 1``, ``1 - x``), as a one-element value."""
        if not isinstance(x, (int, float)):
            raise LoweringError(f"{node.name()}: an operand that is neither a tensor nor a "
                                "number")
        v = _Val((), grad=False)
        self.numbers.append((v, float(x)))
        self.signature.append(("number", float(x)))
        return v

    def _const(self, x: float) -> int:
        self.fconst.append(float(x))
        return len(self.fconst) - 1

    # -- ops -------------------------------------------------------------------
    def _lower(self, node: Node) -> None:
        name = type(node).__name__
        lower = _LOWER.get(name)
        if lower is None:
            raise LoweringError(f"{name} is not an op the plan interpreter knows")
        self.signature.append(name)
        lower(self, node)
        self.signature.append(self.values[node].shape)

    def _mm(self, node: Node, out: _Val, a: _Val, b: _Val) -> None:
        m, k = _rows_cols(a.shape)
        k2, n = _rows_cols(b.shape)
        if len(a.shape) != 2 or len(b.shape) != 2 or k != k2:
            raise LoweringError(f"{node.name()}: operands of shapes {list(a.shape)} and "
                              f"{list(b.shape)}")
        self.scratch = max(self.scratch, m * k, k * n)
        ta, tb = int(a.trans), int(b.trans)
        if m * k * n <= kp.SMALL_MM:
            self.fwd.append((kp.MM, out, a, b, m, k, n, ta, tb))
            self.bwd.append([(kp.B_MM, ("g", out), a, b, ("g", a), ("g", b), m, k, n, ta, tb,
                              "scratch")])
            return
        # BLAS products: (destination, left, right) as (storage, rows, cols, transposed)
        g = ("g", out)
        self.fwd.append((kp.BLAS, ("blas", (out, m, n, 0), (a, m, k, ta), (b, k, n, tb))))
        group = []
        if a.grad:  # d op(a) = g @ op(b)^T
            group += [(kp.BLAS, ("blas", ("scratch", m, k, 0), (g, m, n, 0), (b, n, k, 1 - tb))),
                      (kp.ACC, ("g", a), "scratch", m, k, ta)]
        if b.grad:  # d op(b) = op(a)^T @ g
            group += [(kp.BLAS, ("blas", ("scratch", k, n, 0), (a, k, m, 1 - ta), (g, m, n, 0))),
                      (kp.ACC, ("g", b), "scratch", k, n, tb)]
        self.bwd.append(group)

    def mm(self, node: Node) -> None:
        a = self._input(node, 0, 0)
        b = self._input(node, 1, -1)
        self._mm(node, self._out(node, (a.shape[0], b.shape[-1])), a, b)

    def addmm(self, node: Node) -> None:
        bias = self._input(node, 0, None)
        a = self._input(node, 1, 0)
        b = self._input(node, 2, -1)
        out = self._out(node, (a.shape[0], b.shape[-1]))
        self._mm(node, out, a, b)
        mode = self._mode(node, bias, out.shape)
        rows, cols = _rows_cols(out.shape)
        self.fwd.append((kp.ADD_ROWS, out, bias, rows, cols, mode))
        self.bwd.append([(kp.B_ADD, ("g", out), None, ("g", bias), rows, cols, kp.FULL, mode, 1)])

    def _mode(self, node: Node, v: _Val, shape: tuple[int, ...]) -> int:
        if v.trans:
            raise LoweringError(f"{node.name()}: a transposed operand")
        if v.shape == shape:
            return kp.FULL
        if v.size == 1:
            return kp.SCALAR
        if len(shape) == 2 and v.shape in ((shape[1],), (1, shape[1])):
            return kp.ROW
        raise LoweringError(f"{node.name()}: broadcasting {list(v.shape)} to {list(shape)}")

    def add(self, node: Node, sign: int = 1) -> None:
        if node.alpha != 1:
            raise LoweringError(f"{node.name()}: alpha other than 1")
        a = self._input(node, 0, None)
        other = getattr(node, "other", None)  # set by add/sub for a Python number
        b = self._number(node, other) if other is not None and \
            node.next_functions[1][0] is None else self._input(node, 1, None)
        self._add(node, a, b, sign)

    def rsub(self, node: Node) -> None:
        if node.alpha != 1:
            raise LoweringError(f"{node.name()}: alpha other than 1")
        self._add(node, self._number(node, node.other), self._input(node, 0, None), -1)

    def _add(self, node: Node, a: _Val, b: _Val, sign: int) -> None:
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
        out = self._out(node, shape)
        ma, mb = self._mode(node, a, shape), self._mode(node, b, shape)
        rows, cols = _rows_cols(shape)
        self.fwd.append((kp.ADD, out, a, b, rows, cols, ma, mb, sign))
        self.bwd.append([(kp.B_ADD, ("g", out), ("g", a), ("g", b), rows, cols, ma, mb, sign)])

    def sub(self, node: Node) -> None:
        self.add(node, -1)

    def mul(self, node: Node) -> None:
        if node.b is None:  # times a Python number
            self.scale(node)
            return
        a = self._input(node, 0, 0)    # saved: a if b needs grad, then b if a needs grad
        b = self._input(node, 1, -1)
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
        out = self._out(node, shape)
        ma, mb = self._mode(node, a, shape), self._mode(node, b, shape)
        rows, cols = _rows_cols(shape)
        self.fwd.append((kp.MUL, out, a, b, rows, cols, ma, mb))
        self.bwd.append([(kp.B_MUL, ("g", out), a, b, ("g", a), ("g", b), rows, cols, ma, mb)])

    def scale(self, node: Node) -> None:
        a = self._flat_input(node)
        out = self._out(node, a.shape)
        k = self._const(node.scalar)
        self.fwd.append((kp.SCALE, out, a, a.size, ("f", k)))
        self.bwd.append([(kp.B_SCALE, ("g", out), ("g", a), a.size, ("f", k))])

    def _flat_input(self, node: Node) -> _Val:
        a = self._input(node, 0, None)
        if a.trans:
            raise LoweringError(f"{node.name()}: a transposed operand")
        return a

    def unary(self, node: Node) -> None:
        which = _UNARY[type(node).__name__]
        a = self._flat_input(node)
        out = self._out(node, a.shape)
        saved = a if which in (kp.LOG, kp.ABS) else out  # what the backward kernel reads
        self.fwd.append((kp.UNARY, out, a, a.size, which))
        self.bwd.append([(kp.B_UNARY, ("g", out), saved, ("g", a), a.size, which, "scratch")])
        self.scratch = max(self.scratch, a.size)

    def squeeze4(self, node: Node) -> None:
        a = self._flat_input(node)
        if len(a.shape) != 2 or a.shape[0] != 1:
            raise LoweringError(f"{node.name()} of shape {list(a.shape)}")
        self._out(node, (a.shape[1],), store=a)

    def transpose(self, node: Node) -> None:
        a = self._input(node, 0, None)
        if len(a.shape) != 2 or a.trans or a.store is not a:
            raise LoweringError(f"{node.name()} of a {len(a.shape)}-D value or a view")
        self._out(node, (a.shape[1], a.shape[0]), store=a, trans=True)

    def reduce(self, node: Node) -> None:
        a = self._flat_input(node)
        mean = int(type(node).__name__.startswith("Mean"))
        out = self._out(node, ())  # with keepdim the real shape is all ones: same memory
        if a.shape != tuple(node.shape):
            raise LoweringError(f"{node.name()}: an input of unexpected shape")
        self.fwd.append((kp.SUM, out, a, a.size, mean))
        self.bwd.append([(kp.B_SUM, ("g", out), ("g", a), a.size, mean)])

    def _loss_operands(self, node: Node) -> tuple[_Val, _Val, int]:
        if node.reduction not in ("mean", "sum"):
            raise LoweringError(f"{node.name()}: reduction '{node.reduction}'")
        x = self._input(node, 0, 0)
        y = self._input(node, 1, 1)
        if x.shape != y.shape or x.trans or y.trans:
            raise LoweringError(f"{node.name()}: input {list(x.shape)} and target "
                              f"{list(y.shape)}")
        return x, y, int(node.reduction == "mean")

    def log_softmax(self, node: Node) -> None:
        a = self._flat_input(node)
        if len(a.shape) != 2 or node.dim != 1:
            raise LoweringError(f"{node.name()}: over dim {node.dim} of a "
                                f"{len(a.shape)}-D value (the plan takes rows of a matrix)")
        out = self._out(node, a.shape)
        rows, cols = a.shape
        self.fwd.append((kp.LOG_SOFTMAX, out, a, rows, cols))
        self.bwd.append([(kp.B_LOG_SOFTMAX, ("g", out), out, ("g", a), rows, cols, "scratch")])
        self.scratch = max(self.scratch, a.size)

    def nll(self, node: Node) -> None:
        target, ignore, reduction, weighted = node.replay
        if weighted or reduction not in ("mean", "sum"):
            raise LoweringError(f"{node.name()}: class weights or reduction '{reduction}'")
        x = self._flat_input(node)
        t = target._data
        if len(x.shape) != 2 or t.shape != x.shape[:1] or t.dtype != np.int64 or \
                not t.flags.c_contiguous or target._rg or not _plain(target):
            raise LoweringError(f"{node.name()}: input {list(x.shape)} and target "
                                f"{list(t.shape)} of {t.dtype}")
        if not any(u is target for u in self.targets):
            self.targets.append(target)
        k = next(i for i, u in enumerate(self.targets) if u is target)
        self.signature.append(("target", t.shape, int(ignore)))
        out = self._out(node, ())
        rows, cols = x.shape
        mean = int(reduction == "mean")
        self.fwd.append((kp.NLL, out, x, ("t", k), rows, cols, mean, int(ignore)))
        self.bwd.append([(kp.B_NLL, ("g", out), ("g", x), ("t", k), rows, cols, mean,
                          int(ignore))])

    def bce(self, node: Node) -> None:
        if node.weight is not None or node.pos_weight is not None:
            raise LoweringError(f"{node.name()}: weight or pos_weight")
        x, y, mean = self._loss_operands(node)
        if y.grad or not x.grad:
            raise LoweringError(f"{node.name()}: a target that requires grad, or an input "
                              "that does not")
        out = self._out(node, ())
        self.fwd.append((kp.BCE, out, x, y, x.size, mean))
        self.bwd.append([(kp.B_BCE, ("g", out), x, y, ("g", x), x.size, mean)])

    def mse(self, node: Node) -> None:
        x, y, mean = self._loss_operands(node)
        out = self._out(node, ())
        self.fwd.append((kp.MSE, out, x, y, x.size, mean))
        self.bwd.append([(kp.B_MSE, ("g", out), x, y, ("g", x), ("g", y), x.size, mean,
                          "scratch")])
        self.scratch = max(self.scratch, x.size)


_UNARY = {"ReluBackward0": kp.RELU, "SigmoidBackward0": kp.SIGMOID, "TanhBackward0": kp.TANH,
          "ExpBackward0": kp.EXP, "LogBackward0": kp.LOG, "SqrtBackward0": kp.SQRT,
          "AbsBackward0": kp.ABS, "ReciprocalBackward0": kp.RECIPROCAL}
_LOWER: dict[str, Callable[[_Lowering, Node], None]] = {
    "MmBackward0": _Lowering.mm,
    "AddmmBackward0": _Lowering.addmm,
    "AddBackward0": _Lowering.add,
    "SubBackward0": _Lowering.sub,
    "RsubBackward1": _Lowering.rsub,
    "MulBackward0": _Lowering.mul,
    "SqueezeBackward4": _Lowering.squeeze4,
    "TBackward0": _Lowering.transpose,
    "SumBackward0": _Lowering.reduce,
    "MeanBackward0": _Lowering.reduce,
    "BinaryCrossEntropyWithLogitsBackward0": _Lowering.bce,
    "MseLossBackward0": _Lowering.mse,
    "LogSoftmaxBackward0": _Lowering.log_softmax,
    "NllLossBackward0": _Lowering.nll,
    **{name: _Lowering.unary for name in _UNARY},
}


def _plain(t: Tensor) -> bool:
    """No hooks, no retained grad, not a view: a tensor the plan may move into its arena."""
    x = t._x
    return x is None or not (x.hooks or x.retains_grad or x.view is not None)


def _check_node(n: Node) -> None:
    if n._pre_hooks or n._hooks or n._tensor_hooks or n._retains:
        raise LoweringError(f"{n.name()} has hooks or a retained grad")
    if n._released:
        raise LoweringError("the graph was already freed by a backward pass")


def _operand(item: Any, scratch: int, fbase: int) -> int:
    """An instruction operand as an int: a value's offset, ("g", value) its gradient's,
    ("f", k) the index of float constant k in the float64 view of the program."""
    if isinstance(item, _Val):
        return item.at()
    if isinstance(item, tuple):
        return fbase + item[1] if item[0] == "f" else item[1].gat()
    if item is None:
        return -1
    if item == "scratch":
        return scratch
    return int(item)


class _Program:
    """A lowered step bound to its arena: the tensors it reads and writes are views into
    the arena from now on, and ``run`` replays the step after checking the guards."""

    def __init__(self, low: _Lowering, optimizer: Any) -> None:
        kind = _optimizer_kind(optimizer)
        groups: list[tuple[dict, list[_Val]]] = []
        if optimizer is not None:
            where = {id(p): g for g in optimizer.param_groups for p in g["params"]}
            for g in optimizer.param_groups:
                mine = [v for v in low.leaves if where.get(id(v.tensor)) is g]
                if mine:
                    groups.append((g, mine))
        stepped = [v for _, vs in groups for v in vs]
        ids = {id(v) for v in stepped}
        params = stepped + [v for v in low.leaves if id(v) not in ids]  # stepped grads first
        tmps = [v for k, v in low.values.items() if isinstance(k, Node) and v.store is v]
        # The optimizer state the step updates: it exists, as two eager steps ran.
        state_keys = {"sgd": lambda g: ("momentum_buffer",) if g["momentum"] != 0 else (),
                      "adam": lambda g: ("exp_avg", "exp_avg_sq") + (
                          ("max_exp_avg_sq",) if g["amsgrad"] else ())}.get(kind)
        states: list[tuple[_Val, dict, str, Tensor]] = []
        for g, vs in groups:
            for v in vs:
                st = optimizer.state.get(v.tensor, {})
                for key in state_keys(g):
                    t = st.get(key)
                    if not isinstance(t, Tensor) or t._data.shape != v.shape or \
                            t._data.dtype != low.dtype or not _plain(t):
                        raise LoweringError(f"the optimizer state '{key}' of a parameter is "
                                            "missing or not a plain tensor of its shape")
                    states.append((v, st, key, t))

        size = 0

        def alloc(n: int) -> int:
            nonlocal size
            size += n
            return size - n

        for v in params:
            v.off = alloc(v.size)
        for v in params:
            v.goff = alloc(v.size)
        state_off = [alloc(v.size) for v, *_ in states]
        for v in low.inputs:
            v.off = alloc(v.size)
        for v, _ in low.numbers:
            v.off = alloc(1)
        for v in tmps:
            v.off = alloc(v.size)
        tmp_grads = size
        for v in tmps:
            v.goff = alloc(v.size)
        scratch = alloc(low.scratch)
        arena = np.zeros(max(size, 1), low.dtype)
        for v, x in low.numbers:  # cast to the step's dtype, as numpy casts x + 0.1
            arena[v.off] = x

        ins: list[tuple] = list(low.fwd)
        stepped_size = sum(v.size for v in stepped)
        if stepped_size:  # optimizer.zero_grad()
            ins.append((kp.ZERO, params[0].goff, stepped_size))
        ins.append((kp.ZERO, tmp_grads, scratch - tmp_grads))
        ins.append((kp.SEED, ("g", low.loss)))
        for group in reversed(low.bwd):
            ins.extend(group)
        fconst = list(low.fconst)
        self._hyper: list[tuple[dict, int, tuple]] = []
        offs = {(id(v), key): off for (v, _, key, _), off in zip(states, state_off)}
        self._steps: list[Tensor] = []
        for g, vs in groups:
            k = len(fconst)
            fconst.extend([0.0] * 8)
            self._hyper.append((g, k, ()))
            for v in vs:
                if kind == "sgd":
                    buf = offs.get((id(v), "momentum_buffer"), scratch)
                    ins.append((kp.SGD, v.off, v.goff, buf, v.size, ("f", k)))
                    continue
                st = optimizer.state[v.tensor]
                step = st.get("step")
                if not isinstance(step, Tensor) or step._data.shape != ():
                    raise LoweringError("an Adam parameter without a step count")
                self._steps.append(step)
                m, sq = offs[id(v), "exp_avg"], offs[id(v), "exp_avg_sq"]
                ins.append((kp.ADAM, v.off, v.goff, m, sq,
                            offs.get((id(v), "max_exp_avg_sq"), scratch), v.size, ("f", k),
                            int(step._data)))

        fbase = kp.HEADER + len(ins) * kp.WIDTH
        toffs, tsize = [], fbase + len(fconst)  # class targets after the float constants
        for t in low.targets:
            toffs.append(tsize)
            tsize += t._data.size
        ins = [tuple(toffs[x[1]] if isinstance(x, tuple) and x[0] == "t" else x for x in i)
               for i in ins]
        code = np.zeros(tsize, np.int64)
        code[0], code[1] = kp.MAGIC, len(ins)
        self._blas: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

        def matrix(ref: tuple) -> np.ndarray:
            item, r, c, trans = ref
            off = _operand(item, scratch, fbase)
            flat = arena[off:off + r * c]
            return flat.reshape(c, r).T if trans else flat.reshape(r, c)

        for i, instr in enumerate(ins):
            if instr[0] == kp.BLAS:  # (out, left, right) as views, made once
                _, (_, dst, left, right) = instr
                self._blas.append((matrix(left), matrix(right), matrix(dst)))
                instr = (kp.BLAS, len(self._blas) - 1)
            row = [instr[0]] + [_operand(x, scratch, fbase) for x in instr[1:]]
            code[kp.HEADER + i * kp.WIDTH:kp.HEADER + i * kp.WIDTH + len(row)] = row
        self._fview = code.view(np.float64)
        self._fview[fbase:fbase + len(fconst)] = fconst
        self._hyper = [(g, fbase + k, last) for g, k, last in self._hyper]
        self._read_hyper = _HYPER[kind] if kind else None
        self._code = code
        self.arena = arena
        self.ops = [_NAMES[i[0]] for i in ins]

        # Bind: every tensor the step touches becomes a view into the arena.
        bound: list[tuple[Tensor, np.ndarray]] = []

        def bind(t: Tensor, off: int) -> np.ndarray:
            view = arena[off:off + t._data.size].reshape(t._data.shape)
            view[...] = t._data
            t._data = view
            bound.append((t, view))
            return view

        for v in (*params, *low.inputs):
            bind(v.tensor, v.off)
        for t, off in zip(low.targets, toffs):  # class indices live in the program array
            view = code[off:off + t._data.size].reshape(t._data.shape)
            view[...] = t._data
            t._data = view
            bound.append((t, view))
        self._state = [(v.tensor, st, key, t, bind(t, off))
                       for (v, st, key, t), off in zip(states, state_off)]
        self._opt_state = optimizer.state if optimizer is not None else None
        self._grads: list[tuple[Tensor, Tensor, np.ndarray, bool]] = []
        for v in params:
            t = v.tensor
            gview = arena[v.goff:v.goff + v.size].reshape(t._data.shape)
            g = t._grad
            if g is not None and _plain(g) and g._data.shape == gview.shape and \
                    g._data.dtype == gview.dtype:
                gview[...] = g._data
                g._data = gview  # .grad keeps its identity, as accumulation does
            else:
                g = _wrap(gview)
                t._grad = g
            self._grads.append((t, g, gview, id(v) in ids))
        self._checks = [(t, view, t._rg) for t, view in bound]
        self._optimizer = optimizer
        self._n_groups = len(optimizer.param_groups) if optimizer is not None else 0
        self._group_lists = [(g, g["params"], len(g["params"])) for g, _ in groups]
        loss = low.loss
        self._loss = arena[loss.off:loss.off + 1].reshape(())

    def run(self) -> Tensor | object | None:
        """Replay the step, or return None when a guard says it no longer can: a tensor's
        data, ``requires_grad`` or ``.grad`` was replaced, a hook was added, or the
        optimizer's parameter groups changed.  ``_BAD_DATA``: a class target is out of
        range, and nothing but intermediate values was written."""
        for t, view, rg in self._checks:
            if t._data is not view or t._rg is not rg or t._x is not None and not _plain(t):
                return None
        opt = self._optimizer
        if opt is not None:
            if len(opt.param_groups) != self._n_groups:
                return None
            for g, lst, n in self._group_lists:
                if g["params"] is not lst or len(lst) != n:
                    return None
        if opt is not None and opt.state is not self._opt_state:
            return None  # load_state_dict: new state tensors
        for p, st, key, t, view in self._state:
            if self._opt_state.get(p) is not st or st.get(key) is not t or t._data is not view:
                return None
        for t, g, gview, stepped in self._grads:
            cur = t._grad
            if cur is not g:
                if cur is not None:
                    return None
                if not stepped:  # zero_grad(set_to_none=True) of an accumulating grad
                    gview[...] = 0
                t._grad = g
            if g._data is not gview:
                return None
        for i, (group, k, last) in enumerate(self._hyper):
            now = self._read_hyper(group)
            if now != last:  # a scheduler or the user changed an option: this step uses it
                if last and now[-1] != last[-1]:
                    return None  # the state the optimizer keeps changed (amsgrad, momentum)
                self._fview[k:k + len(now) - 1] = [float(x) for x in now[:-1]]
                self._hyper[i] = (group, k, now)
        code, arena = self._code, self.arena
        at = kp.run_plan(code, arena, 0)
        while at >= 0:  # a large matrix product: numpy's BLAS, then on from the next op
            left, right, dst = self._blas[code[kp.HEADER + at * kp.WIDTH + 1]]
            np.matmul(left, right, out=dst)
            at = kp.run_plan(code, arena, at + 1)
        if at == -2:  # a class index out of range: only forward values were written
            return _BAD_DATA
        for step in self._steps:  # Adam's per-parameter count, as its own step would
            step._data += 1
            step._vc[0] += 1
        for t, g, _, stepped in self._grads:
            g._vc[0] += 1
            if stepped:
                t._vc[0] += 1
        return _wrap(self._loss.copy())


_BAD_DATA = object()


def _sgd_hyper(g: dict) -> tuple:
    return (g["lr"], g["momentum"], g["dampening"], g["weight_decay"], g["nesterov"],
            g["maximize"], g["momentum"] != 0)


def _adam_hyper(g: dict) -> tuple:
    b1, b2 = g["betas"]
    return (g["lr"], b1, b2, g["eps"], g["weight_decay"], g["amsgrad"], g["maximize"],
            g["decoupled_weight_decay"], g["amsgrad"])


# The options each step reads, in the order the interpreter takes them; the last item
# says which state tensors the step keeps (a change of it means capturing again).
_HYPER = {"sgd": _sgd_hyper, "adam": _adam_hyper}


def _optimizer_kind(optimizer: Any) -> str | None:
    from engine.optim.adam import Adam, AdamW  # (engine.optim imports engine.autograd)
    from engine.optim.sgd import SGD

    if optimizer is None:
        return None
    if type(optimizer) is SGD:
        return "sgd"
    if type(optimizer) in (Adam, AdamW):
        return "adam"
    raise LoweringError(f"the optimizer {type(optimizer).__name__}: the plan runs SGD, Adam "
                        "and AdamW steps")


_NAMES = {getattr(kp, n): n for n in (
    "MM", "BLAS", "ADD", "MUL", "UNARY", "BCE", "MSE", "SUM", "ADD_ROWS", "SCALE",
    "LOG_SOFTMAX", "NLL", "ZERO", "SEED", "B_MM", "B_ADD", "B_MUL", "B_UNARY", "B_BCE",
    "B_MSE", "B_SUM", "B_SCALE", "B_LOG_SOFTMAX", "B_NLL", "ACC", "SGD", "ADAM")}


class Plan:
    """A training step, compiled after two identical eager steps into one Numba call.

    ``plan()`` does what ``optimizer.zero_grad(); loss = loss_fn(); loss.backward();
    optimizer.step()`` does and returns the loss (detached).  Without an optimizer it
    is ``loss = loss_fn(); loss.backward()``: gradients accumulate as usual.

    >>> x, y = engine.ones(5), engine.zeros(3)
    >>> w = engine.full((5, 3), 0.1, requires_grad=True); b = engine.zeros(3, requires_grad=True)
    >>> opt = engine.optim.SGD([w, b], lr=0.5)
    >>> step = engine.autograd.Plan(
    ...     lambda: F.binary_cross_entropy_with_logits(x @ w + b, y), opt)
    >>> [round(step().item(), 4) for _ in range(4)], step.compiled
    ([0.9741, 0.6338, 0.4404, 0.3275], True)
    >>> step.ops[:4]
    ['MM', 'ADD', 'BCE', 'ZERO']
    """

    def __init__(self, loss_fn: Callable[[], Tensor], optimizer: Any = None) -> None:
        self._fn = loss_fn
        self._optimizer = optimizer
        self._program: _Program | None = None
        self._last: tuple | None = None
        self.reason: str | None = "not captured yet: the first two steps run eagerly"

    @property
    def compiled(self) -> bool:
        """Whether the next call can run as one compiled step."""
        return self._program is not None

    @property
    def ops(self) -> list[str]:
        """The compiled program's instructions, by name ([] while eager)."""
        return list(self._program.ops) if self._program is not None else []

    def __call__(self) -> Tensor:
        prog = self._program
        if prog is not None:
            if grad_mode._state.enabled and not grad_mode.anomaly.enabled:
                loss = prog.run()
                if loss is _BAD_DATA:  # the eager step raises the error eager code would
                    return self._eager()
                if loss is not None:
                    return loss
            self._program = None
            self.reason = "a guard failed (a tensor, grad mode or the optimizer changed)"
        return self._eager()

    def _eager(self) -> Tensor:
        loss = self._fn()
        if not isinstance(loss, Tensor):
            raise TypeError(f"Plan: loss_fn must return a Tensor, got {type(loss).__name__}")
        low = None
        if grad_mode._state.enabled and not grad_mode.anomaly.enabled and loss._rg:
            try:
                low = _Lowering(loss)
            except LoweringError as e:
                self.reason = str(e)
                self._last = None
        opt = self._optimizer
        if opt is not None:
            opt.zero_grad()
        loss.backward()
        if opt is not None:
            opt.step()
        if low is not None:
            key = (low.signature, [v.tensor for v in (*low.leaves, *low.inputs)] + low.targets)
            last, self._last = self._last, key
            if last is not None and last[0] == key[0] and len(last[1]) == len(key[1]) and all(
                    a is b for a, b in zip(last[1], key[1])):
                try:
                    self._program = _Program(low, opt)
                    self.reason = None
                    self._last = None
                except LoweringError as e:
                    self.reason = str(e)
            else:
                self.reason = "waiting for a second identical step"
        return loss.detach()
