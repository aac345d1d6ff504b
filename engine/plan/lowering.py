"""Lowering: a captured loss graph walked in creation order into interpreter instructions.

``_Lowering(loss)`` gives each value of the step a ``_Val`` (its place in the arena, and
its gradient's), the forward instructions, per node the backward ones, the float
constants and the leaves, inputs, numbers and class targets the program must bind.
A graph the interpreter cannot run raises ``LoweringError`` saying which part and why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.graph import AccumulateGrad, Node
from engine.kernels import interpreter as kp
from engine.tensor import Tensor


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
        if node.beta != 1 or node.alpha != 1:
            raise LoweringError(f"{node.name()}: beta or alpha other than 1")
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
