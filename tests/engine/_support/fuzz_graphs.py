"""A random computation-graph builder shared by the parity property test and ``tools/fuzz.py``.

A graph is a small *program*: numpy leaves, then a list of steps, each one a line of Python
written against a library name ``lib`` (``engine`` or ``torch``) and ``F``
(``lib.nn.functional``).  Running the same program with both libraries builds the same graph
twice from the same numpy arrays, so values, every leaf ``.grad`` and retained non-leaf grads
can be compared.  ``Program.source()`` prints the program as a standalone script: that is the
reproducer a failure reports.

Choices come from a *drawer* so that hypothesis (``HypothesisDrawer``, which can shrink) and
the plain random CLI (``RandomDrawer``) share one builder.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# ---------------------------------------------------------------- drawers


class RandomDrawer:
    """Choices from a seeded numpy generator (the CLI fuzzer)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def int(self, lo: int, hi: int) -> int:  # inclusive bounds
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, seq: list) -> Any:
        return seq[int(self.rng.integers(0, len(seq)))]

    def flag(self, p: float = 0.5) -> bool:
        return bool(self.rng.random() < p)


class HypothesisDrawer:
    """Choices drawn through ``st.data()`` so hypothesis can shrink a failing graph."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data = data
        self.st = st

    def int(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))

    def choice(self, seq: list) -> Any:
        return self.data.draw(self.st.sampled_from(seq))

    def flag(self, p: float = 0.5) -> bool:
        return self.data.draw(self.st.booleans())


# ---------------------------------------------------------------- the program

@dataclass
class Leaf:
    name: str
    values: np.ndarray
    requires_grad: bool


@dataclass
class Const:
    name: str
    values: np.ndarray


@dataclass
class Step:
    name: str          # the value it defines, "v3"
    expr: str          # Python expression over lib, F and earlier names
    op: str            # the op family, for statistics
    no_grad: bool = False


@dataclass
class Node:
    """What the builder knows about a value while drawing: name, shape, grad-ness."""

    name: str
    shape: tuple[int, ...]
    grad: bool


@dataclass
class Program:
    dtype: str
    leaves: list[Leaf] = field(default_factory=list)
    consts: list[Const] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    retained: list[str] = field(default_factory=list)  # non-leaves with retain_grad()
    # each backward: (root expression over names and weight consts, retain_graph)
    backwards: list[tuple[str, bool]] = field(default_factory=list)

    def ops(self) -> list[str]:
        return [s.op for s in self.steps]

    def source(self) -> str:
        """A standalone script that builds this graph with ``lib`` (engine or torch)."""
        np.set_printoptions(precision=17, threshold=10**6)
        lines = ["from numpy import array, float32, float64, int64  # noqa: F401",
                 "import engine as lib  # or: import torch as lib",
                 "F = lib.nn.functional", ""]
        for lf in self.leaves:
            lines.append(f"{lf.name} = lib.tensor({lf.values!r}, "
                         f"requires_grad={lf.requires_grad})")
        for c in self.consts:
            lines.append(f"{c.name} = lib.tensor({c.values!r})")
        for s in self.steps:
            if s.no_grad:
                lines.append("with lib.no_grad():")
                lines.append(f"    {s.name} = {s.expr}")
            else:
                lines.append(f"{s.name} = {s.expr}")
        for r in self.retained:
            lines.append(f"{r}.retain_grad()")
        for root, keep in self.backwards:
            lines.append(f"({root}).backward(retain_graph={keep})")
        grads = ", ".join(f"{lf.name}.grad" for lf in self.leaves if lf.requires_grad)
        lines.append(f"print({grads})")
        np.set_printoptions()
        return "\n".join(lines)


_CODE_CACHE: dict[str, Any] = {}


def _compile(expr: str) -> Any:
    code = _CODE_CACHE.get(expr)
    if code is None:
        code = _CODE_CACHE[expr] = compile(expr, "<fuzz>", "eval")
    return code


@dataclass
class Result:
    values: dict[str, np.ndarray]           # every step's output
    grads: dict[str, np.ndarray | None]     # every leaf requiring grad, every retained node


def run(program: Program, lib: Any) -> Result:
    """Build and differentiate ``program`` with ``lib``; numpy copies of what came out."""
    env: dict[str, Any] = {"lib": lib, "F": lib.nn.functional}
    for lf in program.leaves:
        env[lf.name] = lib.tensor(lf.values.copy(), requires_grad=lf.requires_grad)
    for c in program.consts:
        env[c.name] = lib.tensor(c.values.copy())
    for s in program.steps:
        if s.no_grad:
            with lib.no_grad():
                env[s.name] = eval(_compile(s.expr), env)  # noqa: S307 - our own program text
        else:
            env[s.name] = eval(_compile(s.expr), env)  # noqa: S307
    for r in program.retained:
        env[r].retain_grad()
    for root, keep in program.backwards:
        eval(_compile(root), env).backward(retain_graph=keep)  # noqa: S307
    values = {s.name: _np(env[s.name]) for s in program.steps}
    grads: dict[str, np.ndarray | None] = {}
    for lf in program.leaves:
        if lf.requires_grad:
            g = env[lf.name].grad
            grads[lf.name] = None if g is None else _np(g)
    for r in program.retained:
        g = env[r].grad
        grads[r] = None if g is None else _np(g)
    return Result(values, grads)


def _np(t: Any) -> np.ndarray:
    d = t.detach()
    return np.array(d.numpy() if hasattr(d, "numpy") else d, copy=True)


# ---------------------------------------------------------------- the op catalogue
# Each builder gets (drawer, builder, inputs) and returns (expr, shape) or None when the
# op does not apply to those inputs.  Shapes are tracked here so every step is valid.

def _shape_str(shape: tuple[int, ...]) -> str:
    return "(" + "".join(f"{d}, " for d in shape).rstrip(" ") + ")" if shape else "()"


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


UNARY = {
    # name: (expression template over {x}, keeps values bounded for the next op)
    "neg": "-{x}",
    "exp": "{x}.tanh().exp()",
    "log": "({x}.abs() + 0.5).log()",
    "sqrt": "({x}.abs() + 0.1).sqrt()",
    "rsqrt": "({x}.abs() + 0.5).rsqrt()",
    "abs": "{x}.abs()",
    "tanh": "{x}.tanh()",
    "sigmoid": "{x}.sigmoid()",
    "relu": "{x}.relu()",
    "reciprocal": "({x}.abs() + 0.5).reciprocal()",
    "sin": "{x}.sin()",
    "cos": "{x}.cos()",
    "square": "{x}.square()",
    "log1p": "{x}.abs().log1p()",
    "expm1": "{x}.tanh().expm1()",
    "clamp": "{x}.clamp(-0.7, 0.9)",
    "clamp_min": "{x}.clamp(min=-0.3)",
    "pow2": "{x} ** 2",
    "pow3": "{x} ** 3",
    "pow_half": "({x}.abs() + 0.25) ** 0.5",
    "scale": "{x} * 1.5",
    "shift": "{x} + 0.25",
    "rsub": "1.0 - {x}",
    "rdiv": "2.0 / ({x}.abs() + 0.5)",
    "rpow": "2.0 ** {x}.tanh()",
    "leaky_relu": "F.leaky_relu({x}, 0.1)",
    "gelu": "F.gelu({x})",
    "gelu_tanh": "F.gelu({x}, approximate='tanh')",
    "silu": "F.silu({x})",
    "softplus": "F.softplus({x})",
    "clone": "{x}.clone()",
}

BINARY = {
    "add": "{a} + {b}",
    "sub": "{a} - {b}",
    "mul": "{a} * {b}",
    "div": "{a} / ({b}.abs() + 0.5)",
    "add_alpha": "lib.add({a}, {b}, alpha=0.5)",
    "maximum": "lib.maximum({a}, {b})",
    "minimum": "lib.minimum({a}, {b})",
    "pow": "({a}.abs() + 0.5) ** {b}.tanh()",
    "where": "lib.where({a} > 0, {a}, {b})",
}


class Builder:
    """Draws one program."""

    def __init__(self, draw: Any, dtype: str | None = None, max_steps: int = 14) -> None:
        self.d = draw
        self.dtype = dtype or draw.choice(["float32", "float64"])
        self.prog = Program(self.dtype)
        self.pool: list[Node] = []
        self.seed = draw.int(0, 2**31 - 1)
        self.rng = np.random.default_rng(self.seed)
        self.max_steps = max_steps

    # -- helpers ----------------------------------------------------------------
    def shape(self, max_dims: int = 3) -> tuple[int, ...]:
        shape = tuple(self.d.int(1, 3) for _ in range(self.d.int(0, max_dims)))
        if shape and self.d.int(0, 19) == 0:  # now and then an empty dimension
            k = self.d.int(0, len(shape) - 1)
            shape = shape[:k] + (0,) + shape[k + 1:]
        return shape

    def leaf(self, shape: tuple[int, ...], grad: bool = True) -> Node:
        name = f"x{len(self.prog.leaves)}"
        vals = self.rng.uniform(-2.0, 2.0, shape).astype(self.dtype)
        self.prog.leaves.append(Leaf(name, vals, grad))
        node = Node(name, shape, grad)
        self.pool.append(node)
        return node

    def const(self, vals: np.ndarray) -> str:
        name = f"c{len(self.prog.consts)}"
        self.prog.consts.append(Const(name, vals))
        return name

    def emit(self, expr: str, shape: tuple[int, ...], grad: bool, op: str,
             no_grad: bool = False) -> Node:
        name = f"v{len(self.prog.steps)}"
        self.prog.steps.append(Step(name, expr, op, no_grad))
        node = Node(name, tuple(shape), grad and not no_grad)
        self.pool.append(node)
        return node

    def pick(self) -> Node:
        # favour recent values (deep chains) but reuse old ones (shared sub-expressions)
        if self.d.flag():
            return self.pool[-1]
        return self.d.choice(self.pool)

    # -- op families --------------------------------------------------------------
    def op_unary(self, x: Node) -> tuple[str, tuple, str]:
        name = self.d.choice(sorted(UNARY))
        return UNARY[name].format(x=x.name), x.shape, name

    def op_binary(self, x: Node) -> tuple[str, tuple, str] | None:
        partners = [n for n in self.pool if _broadcast(x.shape, n.shape) is not None]
        if self.d.flag(0.3) or not partners:
            # a fresh leaf whose shape broadcasts against x
            shp = list(x.shape)
            shp = [1 if self.d.flag(0.3) else s for s in shp]
            if len(shp) < 3 and self.d.flag(0.3):
                shp = [self.d.int(1, 3)] + shp if not shp or shp[0] == 1 else [1] + shp
            if shp and self.d.flag(0.3):
                shp = shp[self.d.int(0, len(shp)):]
            other = self.leaf(tuple(shp), grad=self.d.flag(0.8))
        else:
            other = self.d.choice(partners)
        a, b = (x, other) if self.d.flag() else (other, x)
        name = self.d.choice(sorted(BINARY))
        shape = _broadcast(a.shape, b.shape)
        return BINARY[name].format(a=a.name, b=b.name), shape, name

    def _dim_args(self, x: Node) -> tuple[str, tuple]:
        """A random dim (or dims) with keepdim, and the resulting shape."""
        nd = len(x.shape)
        keep = self.d.flag()
        if nd == 0 or self.d.flag(0.2):
            return "", ()
        dim = self.d.int(-nd, nd - 1)
        d = dim % nd
        shape = tuple(1 if i == d else s for i, s in enumerate(x.shape)) if keep else \
            tuple(s for i, s in enumerate(x.shape) if i != d)
        return f"dim={dim}, keepdim={keep}", shape

    def op_reduce(self, x: Node) -> tuple[str, tuple, str] | None:
        name = self.d.choice(["sum", "mean", "amax", "amin", "max", "min", "prod", "var",
                              "std", "logsumexp", "norm", "sum_dims", "max_dim"])
        nd = len(x.shape)
        if name == "sum_dims":
            if nd < 2:
                return None
            dims = (0, nd - 1)
            shape = tuple(s for i, s in enumerate(x.shape) if i not in dims)
            return f"{x.name}.sum(dim={dims})", shape, name
        if name in ("max", "min"):
            return f"{x.name}.{name}()", (), name
        if name == "max_dim":
            if nd == 0:
                return None
            args, shape = self._dim_args(x)
            if not args:
                return None
            fn = self.d.choice(["max", "min"])
            return f"{x.name}.{fn}({args}).values", shape, fn + "_dim"
        args, shape = self._dim_args(x)
        if name == "prod":
            if not args:
                return f"{x.name}.prod()", (), name
            # prod takes one int dim
            return f"{x.name}.prod({args})", shape, name
        if name in ("var", "std"):
            n = math.prod(x.shape) if not args else x.shape[int(args.split(",")[0][4:]) % nd]
            if n < 2:
                return None
            return f"{x.name}.{name}({args})", shape, name
        if name == "logsumexp":
            if not args:
                return None
            return f"lib.logsumexp({x.name}, {args})", shape, name
        if name == "norm":
            return f"{x.name}.norm({args})", shape, name
        return f"{x.name}.{name}({args})", shape, name

    def op_softmax(self, x: Node) -> tuple[str, tuple, str] | None:
        if not x.shape:
            return None
        dim = self.d.int(-len(x.shape), len(x.shape) - 1)
        fn = self.d.choice(["softmax", "log_softmax"])
        return f"F.{fn}({x.name}, dim={dim})", x.shape, fn

    def op_matmul(self, x: Node) -> tuple[str, tuple, str] | None:
        nd = len(x.shape)
        if nd == 0:
            return None
        k = x.shape[-1]
        kind = self.d.choice(["new", "gram", "vec", "linear"])
        if kind == "gram" and nd >= 2:
            shape = x.shape[:-1] + (x.shape[-2],)
            return f"{x.name} @ {x.name}.mT", shape, "matmul_gram"
        if kind == "vec":
            w = self.leaf((k,), grad=self.d.flag(0.8))
            return f"lib.matmul({x.name}, {w.name})", x.shape[:-1], "matmul_vec"
        n = self.d.int(1, 3)
        if kind == "linear":
            w = self.leaf((n, k), grad=True)
            b = self.leaf((n,), grad=self.d.flag(0.8))
            return f"F.linear({x.name}, {w.name}, {b.name})", x.shape[:-1] + (n,), "linear"
        w = self.leaf((k, n), grad=self.d.flag(0.8))
        if self.d.flag(0.3) and nd >= 1:
            # the other operand on the left: (n, k)-shaped from a transposed leaf
            return f"{w.name}.T @ {x.name}.unsqueeze(-1)", x.shape[:-1] + (n, 1), "matmul_T"
        return f"{x.name} @ {w.name}", x.shape[:-1] + (n,), "matmul"

    def op_shape(self, x: Node) -> tuple[str, tuple, str] | None:
        nd = len(x.shape)
        kind = self.d.choice(["reshape", "flatten", "transpose", "permute", "unsqueeze",
                              "squeeze", "expand", "T", "select", "slice", "step",
                              "ellipsis", "advanced", "cat", "stack", "repeat", "view_T"])
        n = math.prod(x.shape)
        if kind == "reshape":
            if n > 1 and n % 2 == 0 and self.d.flag():
                shape = (2, n // 2)
            else:
                shape = (n,)
            return f"{x.name}.reshape({_shape_str(shape)})", shape, kind
        if kind == "flatten":
            return f"{x.name}.flatten()", (n,), kind
        if kind == "unsqueeze":
            dim = self.d.int(-nd - 1, nd)
            pos = dim % (nd + 1)
            return f"{x.name}.unsqueeze({dim})", x.shape[:pos] + (1,) + x.shape[pos:], kind
        if kind == "squeeze":
            return f"{x.name}.squeeze()", tuple(s for s in x.shape if s != 1), kind
        if kind == "expand":
            shape = tuple(self.d.int(1, 3) if s == 1 else s for s in x.shape)
            if nd < 3 and self.d.flag():
                shape = (self.d.int(1, 3),) + shape
            return f"{x.name}.expand({_shape_str(shape)})", shape, kind
        if kind == "cat":
            if nd == 0:
                return None
            dim = self.d.int(0, nd - 1)
            shape = tuple(2 * s if i == dim else s for i, s in enumerate(x.shape))
            return f"lib.cat([{x.name}, {x.name} * 0.5], dim={dim})", shape, kind
        if kind == "stack":
            dim = self.d.int(0, nd)
            return (f"lib.stack([{x.name}, {x.name}.tanh()], dim={dim})",
                    x.shape[:dim] + (2,) + x.shape[dim:], kind)
        if nd == 0 or (0 in x.shape and kind in ("select", "slice", "advanced")):
            return None
        if kind in ("transpose", "T", "view_T"):
            if nd < 2:
                return None
            if kind == "T" and nd == 2:
                return f"{x.name}.T", x.shape[::-1], kind
            d0, d1 = self.d.int(0, nd - 1), self.d.int(0, nd - 1)
            s = list(x.shape)
            s[d0], s[d1] = s[d1], s[d0]
            return f"{x.name}.transpose({d0}, {d1})", tuple(s), "transpose"
        if kind == "permute":
            perm = list(range(nd))
            for i in range(nd - 1, 0, -1):  # a drawn Fisher-Yates shuffle
                j = self.d.int(0, i)
                perm[i], perm[j] = perm[j], perm[i]
            return (f"{x.name}.permute({_shape_str(tuple(perm))})",
                    tuple(x.shape[p] for p in perm), kind)
        if kind == "select":
            i = self.d.int(-x.shape[0], x.shape[0] - 1)
            return f"{x.name}[{i}]", x.shape[1:], kind
        if kind == "slice":
            start = self.d.int(0, x.shape[-1] - 1)
            return f"{x.name}[..., {start}:]", x.shape[:-1] + (x.shape[-1] - start,), kind
        if kind == "step":
            if nd < 2:
                return f"{x.name}[::2]", ((x.shape[0] + 1) // 2,), kind
            return f"{x.name}[:, ::2]", (x.shape[0], (x.shape[1] + 1) // 2) + x.shape[2:], kind
        if kind == "ellipsis":
            return f"{x.name}[..., None]", x.shape + (1,), kind
        if kind == "repeat":
            reps = tuple(self.d.int(1, 2) for _ in range(nd))
            return (f"{x.name}.repeat{_shape_str(reps) if nd > 1 else '(' + str(reps[0]) + ')'}",
                    tuple(s * r for s, r in zip(x.shape, reps)), kind)
        # advanced indexing with repeated indices: gradients must add up
        idx = [self.d.int(0, x.shape[0] - 1) for _ in range(self.d.int(1, 4))]
        return f"{x.name}[{idx}]", (len(idx),) + x.shape[1:], kind

    def op_loss(self, x: Node) -> tuple[str, tuple, str] | None:
        kind = self.d.choice(["mse", "l1", "bce_logits", "bce", "cross_entropy", "nll",
                              "mse_sum"])
        if kind == "mse":
            c = self.const(self.rng.uniform(-1, 1, x.shape).astype(self.dtype))
            return f"F.mse_loss({x.name}, {c})", (), kind
        if kind == "mse_sum":
            c = self.const(self.rng.uniform(-1, 1, x.shape).astype(self.dtype))
            return f"F.mse_loss({x.name}, {c}, reduction='sum')", (), kind
        if kind == "l1":
            c = self.const(self.rng.uniform(-1, 1, x.shape).astype(self.dtype))
            return f"F.l1_loss({x.name}, {c})", (), kind
        if kind == "bce_logits":
            c = self.const(self.rng.uniform(0, 1, x.shape).astype(self.dtype))
            red = self.d.choice(["mean", "sum", "none"])
            return (f"F.binary_cross_entropy_with_logits({x.name}, {c}, reduction='{red}')",
                    x.shape if red == "none" else (), kind)
        if kind == "bce":
            c = self.const(self.rng.uniform(0, 1, x.shape).astype(self.dtype))
            return f"F.binary_cross_entropy({x.name}.sigmoid(), {c})", (), kind
        if len(x.shape) != 2 or x.shape[1] == 0:
            return None
        target = self.const(self.rng.integers(0, x.shape[1], x.shape[0]).astype(np.int64))
        if kind == "nll":
            return f"F.nll_loss(F.log_softmax({x.name}, dim=1), {target})", (), kind
        return f"F.cross_entropy({x.name}, {target})", (), kind

    FAMILIES = ("unary", "binary", "reduce", "softmax", "matmul", "shape", "loss")

    # -- the whole program --------------------------------------------------------
    def build(self) -> Program:
        for _ in range(self.d.int(1, 3)):
            self.leaf(self.shape(), grad=self.d.flag(0.85))
        for _ in range(self.d.int(1, self.max_steps)):
            x = self.pick()
            fam = self.d.choice(list(self.FAMILIES))
            res = getattr(self, "op_" + fam)(x)
            if res is None:
                res = self.op_unary(x)
            expr, shape, op = res
            if self.d.flag(0.1):  # a no_grad island
                self.emit(expr, shape, x.grad, op, no_grad=True)
            elif self.d.flag(0.08):
                self.emit(f"{x.name}.detach()", x.shape, False, "detach")
            else:
                used = set(re.findall(r"\b[xv]\d+\b", expr))
                self.emit(expr, shape, any(n.grad for n in self.pool if n.name in used), op)
        self._backwards()
        return self.prog

    def _root(self, nodes: list[Node]) -> str:
        terms = []
        for n in nodes:
            w = self.const(self.rng.uniform(-1.0, 1.0, n.shape).astype(self.dtype))
            terms.append(f"({n.name} * {w}).sum()")
        return " + ".join(terms)

    def _backwards(self) -> None:
        graded = [n for n in self.pool if n.grad]
        if not graded:
            return
        nonleaf = [n for n in graded if n.name.startswith("v")]
        if nonleaf and self.d.flag(0.3):
            self.prog.retained.append(self.d.choice(nonleaf).name)
        # the root uses the last value plus a few others: every path gets a gradient
        chosen = [graded[-1]] + [n for n in graded[:-1] if self.d.flag(0.3)]
        root = self._root(chosen)
        repeats = self.d.int(1, 3)
        for i in range(repeats):
            self.prog.backwards.append((root, i < repeats - 1))
        if self.d.flag(0.2):  # a second, different root through the same graph
            keep = self.prog.backwards[-1][0]
            self.prog.backwards[-1] = (keep, True)
            self.prog.backwards.append((self._root([self.d.choice(graded)]), False))


def build(draw: Any, dtype: str | None = None, max_steps: int = 14) -> Program:
    return Builder(draw, dtype, max_steps).build()


# ---------------------------------------------------------------- comparison

TOL = {"float32": (2e-3, 2e-4), "float64": (1e-9, 1e-10)}  # (rtol, atol per unit scale)


class RejectedError(Exception):
    """The torch run left the tame range (overflow, huge values): not a useful example."""


class BothRefusedError(RejectedError):
    """torch raised on this graph (an empty max, say) and so did the engine."""


def compare(program: Program) -> tuple[Result, Result]:
    """Run ``program`` in torch then the engine; raise AssertionError on any mismatch."""
    import torch

    import engine

    try:
        ref = run(program, torch)
    except Exception as exc:  # noqa: BLE001 - torch refuses the graph: so must the engine
        try:
            run(program, engine)
        except Exception:  # noqa: BLE001
            raise BothRefusedError from exc
        raise AssertionError(f"torch raised {type(exc).__name__}: {exc}; the engine did "
                             "not") from exc
    for step in program.steps:
        # std/var of a (nearly) constant row is a kink: which side rounding lands on decides
        # the gradient in both libraries, so such graphs say nothing
        v = ref.values[step.name]
        if step.op in ("std", "var") and v.size and np.min(np.abs(v)) < 1e-3:
            raise RejectedError
    for arr in list(ref.values.values()) + [g for g in ref.grads.values() if g is not None]:
        if arr.size and (not np.all(np.isfinite(arr)) or np.max(np.abs(arr)) > 1e4):
            raise RejectedError
    got = run(program, engine)
    rtol, atol = TOL[program.dtype]
    for name, want in ref.values.items():
        _close(got.values[name], want, rtol, atol, f"value {name}")
    for name, want in ref.grads.items():
        have = got.grads[name]
        if want is None or have is None:
            assert want is None and have is None, (
                f"grad of {name}: engine {'None' if have is None else 'set'}, torch "
                f"{'None' if want is None else 'set'}")
            continue
        _close(have, want, rtol, atol, f"grad {name}")
    return got, ref


def _close(have: np.ndarray, want: np.ndarray, rtol: float, atol: float, what: str) -> None:
    assert have.shape == want.shape, f"{what}: shape {have.shape} != torch {want.shape}"
    assert have.dtype == want.dtype, f"{what}: dtype {have.dtype} != torch {want.dtype}"
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(have, want, rtol=rtol, atol=atol * scale, equal_nan=True,
                               err_msg=what)
