"""The op table behind test_ops.py and test_gradcheck.py (a MyGrad-style test factory).

Each ``OpCase`` is written once as ``fn(lib, *tensors)``; calling it with ``engine`` or
with ``torch`` as ``lib`` gives the engine op and its torch oracle, so both sides run
exactly the same expression (operators, Python-number operands, methods, indexing).

``args`` describes the tensor operands: shape, value domain, whether it requires
grad and, when it must not follow the dtype under test, a fixed dtype.
``grad_fn`` is torch's node name for the result; ``chain`` (optional) spells out the
whole ``next_functions`` graph, as rendered by ``render_chain``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import engine

# ---------------------------------------------------------------- value domains
# name -> sampler(rng, shape) returning float64 values
DOMAINS: dict[str, Callable[[np.random.Generator, tuple], np.ndarray]] = {
    "real": lambda r, s: r.uniform(-2.0, 2.0, s),
    "pos": lambda r, s: r.uniform(0.5, 2.0, s),
    # |x| >= 0.25: away from the kinks of abs/relu and the pole of 1/x
    "nonzero": lambda r, s: r.uniform(0.25, 2.0, s) * r.choice([-1.0, 1.0], s),
    "unit": lambda r, s: r.uniform(0.05, 0.95, s),
    "int": lambda r, s: r.integers(1, 5, s).astype(np.float64),
    "bool": lambda r, s: r.integers(0, 2, s).astype(np.float64),
    "large": lambda r, s: r.uniform(-40.0, 40.0, s),  # exp(-x) overflows float32 past 88
}


@dataclass(frozen=True)
class Arg:
    shape: tuple[int, ...]
    domain: str = "real"
    grad: bool = True
    dtype: str | None = None  # None: the dtype under test; else "float32", "int64", ...


@dataclass(frozen=True)
class OpCase:
    id: str
    fn: Callable[..., Any]
    args: tuple[Arg, ...]
    grad_fn: str | None | dict[str, str | None]  # a dict when it depends on the dtype
    chain: str | None = None
    tol: float = 1.0  # multiplies the dtype's tolerances (long reductions in float32)
    gradcheck: bool = True

    def engine_fn(self, *xs: Any) -> Any:
        return self.fn(engine, *xs)

    def torch_fn(self, *xs: Any) -> Any:
        import torch

        return self.fn(torch, *xs)

    def expected_grad_fn(self, dtype: str) -> str | None:
        return self.grad_fn[dtype] if isinstance(self.grad_fn, dict) else self.grad_fn

    @property
    def seed(self) -> int:
        return zlib.crc32(self.id.encode())


def make_inputs(case: OpCase, dtype: str, seed_offset: int = 0) -> list[np.ndarray]:
    """Fresh numpy inputs for ``case`` in ``dtype`` (args with a fixed dtype keep theirs)."""
    rng = np.random.default_rng(case.seed + seed_offset)
    arrays = []
    for a in case.args:
        values = DOMAINS[a.domain](rng, a.shape)
        arrays.append(np.asarray(values).astype(a.dtype or dtype))
    return arrays


def render_chain(fn: Any, depth: int = 8) -> str:
    """``Name(child, child)`` for a grad_fn and its next_functions (``None`` for no edge)."""
    if fn is None:
        return "None"
    name = type(fn).__name__
    kids = [k for k, _ in fn.next_functions]
    if not kids or depth == 0:
        return name
    return f"{name}({', '.join(render_chain(k, depth - 1) for k in kids)})"


CASES: list[OpCase] = []


def case(id: str, fn: Callable, *args: Arg, grad_fn: str | None, **kw: Any) -> None:  # noqa: A002
    CASES.append(OpCase(id, fn, tuple(args), grad_fn, **kw))


def A(*shape: int, domain: str = "real", grad: bool = True, dtype: str | None = None) -> Arg:  # noqa: N802
    return Arg(tuple(shape), domain, grad, dtype)


ACC = "AccumulateGrad"

# ---------------------------------------------------------------- binary arithmetic
BROADCAST_PAIRS = [
    ((5, 3), (5, 3)),
    ((5, 3), (3,)),
    ((3,), (5, 3)),
    ((4, 1), (1, 3)),
    ((2, 3, 4), (3, 1)),
    ((2, 1, 3), (4, 1)),
    ((3,), ()),
    ((), (3,)),
    ((), ()),
]

BINARY = {
    "add": (lambda lib, a, b: a + b, "AddBackward0", "real"),
    "sub": (lambda lib, a, b: a - b, "SubBackward0", "real"),
    "mul": (lambda lib, a, b: a * b, "MulBackward0", "real"),
    "div": (lambda lib, a, b: a / b, "DivBackward0", "nonzero"),
    "pow": (lambda lib, a, b: a ** b, "PowBackward1", "pos"),
}
for _name, (_fn, _node, _dom) in BINARY.items():
    for _sa, _sb in BROADCAST_PAIRS:
        dom_a = "pos" if _name == "pow" else "real"
        case(f"{_name}-{_sa}-{_sb}", _fn, A(*_sa, domain=dom_a), A(*_sb, domain=_dom),
             grad_fn=_node, chain=f"{_node}({ACC}, {ACC})")
    # only one side needs grad: the other edge is None
    case(f"{_name}-nograd-b", _fn, A(4, 3, domain="pos" if _name == "pow" else "real"),
         A(3, domain=_dom, grad=False), grad_fn=_node, chain=f"{_node}({ACC}, None)")
    case(f"{_name}-nograd-a", _fn, A(4, 3, domain="pos" if _name == "pow" else "real",
                                      grad=False),
         A(3, domain=_dom), grad_fn=_node, chain=f"{_node}(None, {ACC})")

case("add-fn-alpha", lambda lib, a, b: lib.add(a, b, alpha=2.5), A(4, 3), A(3),
     grad_fn="AddBackward0")
case("sub-fn-alpha", lambda lib, a, b: lib.sub(a, b, alpha=0.5), A(4, 3), A(4, 1),
     grad_fn="SubBackward0")
case("add-method", lambda lib, a, b: a.add(b), A(2, 3), A(3), grad_fn="AddBackward0")
case("mul-fn", lambda lib, a, b: lib.mul(a, b), A(2, 3), A(2, 1), grad_fn="MulBackward0")
case("div-fn", lambda lib, a, b: lib.div(a, b), A(2, 3), A(3, domain="nonzero"),
     grad_fn="DivBackward0")
case("pow-fn-tensor", lambda lib, a, b: lib.pow(a, b), A(2, 3, domain="pos"), A(3),
     grad_fn="PowBackward1")
case("pow-method-scalar", lambda lib, a: a.pow(3), A(2, 3), grad_fn="PowBackward0")

# Python numbers on either side (reflected operators)
SCALAR_CASES = [
    ("radd-right", lambda lib, a: a + 2.5, "real", "AddBackward0"),
    ("radd-left", lambda lib, a: 2.5 + a, "real", "AddBackward0"),
    ("add-int", lambda lib, a: a + 3, "real", "AddBackward0"),
    ("sub-right", lambda lib, a: a - 2, "real", "SubBackward0"),
    ("rsub-left", lambda lib, a: 2 - a, "real", "RsubBackward1"),
    ("rsub-left-float", lambda lib, a: 0.5 - a, "real", "RsubBackward1"),
    ("mul-right", lambda lib, a: a * 3.0, "real", "MulBackward0"),
    ("mul-left", lambda lib, a: -1.5 * a, "real", "MulBackward0"),
    ("div-right", lambda lib, a: a / 4.0, "real", "DivBackward0"),
    ("rdiv-left", lambda lib, a: 4.0 / a, "nonzero", "MulBackward0"),
    ("rdiv-left-int", lambda lib, a: 3 / a, "nonzero", "MulBackward0"),
    ("pow-2", lambda lib, a: a ** 2, "real", "PowBackward0"),
    ("pow-3-int", lambda lib, a: a ** 3, "real", "PowBackward0"),
    ("pow-half", lambda lib, a: a ** 0.5, "pos", "PowBackward0"),
    ("pow-neg", lambda lib, a: a ** -1.5, "pos", "PowBackward0"),
    ("pow-zero", lambda lib, a: a ** 0, "real", "PowBackward0"),
    ("pow-one", lambda lib, a: a ** 1.0, "real", "PowBackward0"),
    ("rpow-2", lambda lib, a: 2 ** a, "real", "PowBackward2"),
    ("rpow-half", lambda lib, a: 0.5 ** a, "real", "PowBackward2"),
    ("rpow-float", lambda lib, a: 3.5 ** a, "real", "PowBackward2"),
    ("mul-np-float64", lambda lib, a: a * np.float64(2.5), "real", "MulBackward0"),
    ("rmul-np-float64", lambda lib, a: np.float64(2.5) * a, "real", "MulBackward0"),
    ("add-np-int", lambda lib, a: a + np.int64(2), "real", "AddBackward0"),
    ("rsub-np-float32", lambda lib, a: np.float32(3.0) - a, "real", "RsubBackward1"),
    ("pow-np-float64", lambda lib, a: a ** np.float64(2.0), "real", "PowBackward0"),
    ("neg-op", lambda lib, a: -a, "real", "NegBackward0"),
    ("neg-fn", lambda lib, a: lib.neg(a), "real", "NegBackward0"),
    ("neg-method", lambda lib, a: a.neg(), "real", "NegBackward0"),
]
# torch keeps a (None, 0) edge for the number in add/sub/mul/div, none in rsub/pow/neg
ONE_EDGE = ("RsubBackward1", "PowBackward0", "PowBackward2", "NegBackward0")
for _id, _fn, _dom, _node in SCALAR_CASES:
    _chain = f"{_node}({ACC})" if _node in ONE_EDGE else f"{_node}({ACC}, None)"
    if _id.startswith("rdiv"):
        _chain = f"MulBackward0(ReciprocalBackward0({ACC}), None)"
    case(_id, _fn, A(4, 3, domain=_dom), grad_fn=_node, chain=_chain)
    case(f"{_id}-0d", _fn, A(domain=_dom), grad_fn=_node)

# ---------------------------------------------------------------- unary
UNARY = {
    "exp": ("ExpBackward0", "real"),
    "log": ("LogBackward0", "pos"),
    "sqrt": ("SqrtBackward0", "pos"),
    "abs": ("AbsBackward0", "nonzero"),
    "sigmoid": ("SigmoidBackward0", "real"),
    "tanh": ("TanhBackward0", "real"),
    "relu": ("ReluBackward0", "nonzero"),
    "reciprocal": ("ReciprocalBackward0", "nonzero"),
}
for _name, (_node, _dom) in UNARY.items():
    case(f"{_name}-fn", lambda lib, a, n=_name: getattr(lib, n)(a), A(4, 3, domain=_dom),
         grad_fn=_node, chain=f"{_node}({ACC})")
    case(f"{_name}-method", lambda lib, a, n=_name: getattr(a, n)(), A(2, 3, 2, domain=_dom),
         grad_fn=_node)
    case(f"{_name}-0d", lambda lib, a, n=_name: getattr(lib, n)(a), A(domain=_dom), grad_fn=_node)
case("abs-op", lambda lib, a: abs(a), A(5, domain="nonzero"), grad_fn="AbsBackward0")
for _name in ("relu", "sigmoid", "tanh"):
    case(f"F.{_name}", lambda lib, a, n=_name: getattr(lib.nn.functional, n)(a), A(3, 4),
         grad_fn=f"{_name.capitalize()}Backward0")
case("exp-log-chain", lambda lib, a: lib.log(lib.exp(a) + 1.0), A(3, 3),
     grad_fn="LogBackward0", chain=f"LogBackward0(AddBackward0(ExpBackward0({ACC}), None))")

# ---------------------------------------------------------------- reductions
REDUCE_KW = [
    ("all", {}, "0"),
    ("dim0", {"dim": 0}, "1"),
    ("dim-1", {"dim": -1}, "1"),
    ("tuple", {"dim": (0, 2)}, "1"),
    ("tuple-neg", {"dim": (-1, -3)}, "1"),
    ("keep", {"dim": 1, "keepdim": True}, "1"),
    ("tuple-keep", {"dim": (0, -1), "keepdim": True}, "1"),
    ("list", {"dim": [1]}, "1"),
]
for _red in ("sum", "mean"):
    _cap = _red.capitalize()
    for _id, _kw, _n in REDUCE_KW:
        case(f"{_red}-{_id}", lambda lib, a, r=_red, kw=_kw: getattr(a, r)(**kw), A(2, 3, 4),
             grad_fn=f"{_cap}Backward{_n}", chain=f"{_cap}Backward{_n}({ACC})")
    case(f"{_red}-fn", lambda lib, a, r=_red: getattr(lib, r)(a, 1), A(3, 4),
         grad_fn=f"{_cap}Backward1")
    case(f"{_red}-0d", lambda lib, a, r=_red: getattr(a, r)(), A(), grad_fn=f"{_cap}Backward0")
    case(f"{_red}-0d-dim", lambda lib, a, r=_red: getattr(a, r)(0), A(),
         grad_fn=f"{_cap}Backward1")
    case(f"{_red}-big", lambda lib, a, r=_red: getattr(a, r)(), A(64, 50), tol=20.0,
         grad_fn=f"{_cap}Backward0", gradcheck=False)

# ---------------------------------------------------------------- matrix products
MATMUL = [
    ("1x1", (3,), (3,), "DotBackward0"),
    ("2x1", (4, 3), (3,), "MvBackward0"),
    ("1x2", (3,), (3, 5), "SqueezeBackward4"),
    ("2x2", (4, 3), (3, 5), "MmBackward0"),
    ("3x2", (2, 4, 3), (3, 5), "UnsafeViewBackward0"),
    ("2x3", (4, 3), (2, 3, 5), "CloneBackward0"),
    ("3x1", (2, 4, 3), (3,), "UnsafeViewBackward0"),
    ("1x3", (3,), (2, 3, 5), "UnsafeViewBackward0"),
    ("3x3", (2, 4, 3), (2, 3, 5), "UnsafeViewBackward0"),
    ("3x3-bcast", (1, 4, 3), (2, 3, 5), "CloneBackward0"),
    ("4x3-bcast", (2, 1, 4, 3), (3, 3, 5), "UnsafeViewBackward0"),
    ("4x3", (2, 2, 4, 3), (2, 3, 5), "UnsafeViewBackward0"),
    ("4x1", (2, 2, 4, 3), (3,), "UnsafeViewBackward0"),
    ("1x4", (3,), (2, 2, 3, 5), "UnsafeViewBackward0"),
    ("4x2", (2, 2, 4, 3), (3, 5), "UnsafeViewBackward0"),
    ("2x4", (4, 3), (2, 2, 3, 5), "CloneBackward0"),
]
for _id, _sa, _sb, _node in MATMUL:
    case(f"matmul-{_id}", lambda lib, a, b: lib.matmul(a, b), A(*_sa), A(*_sb), grad_fn=_node)
    case(f"matmul-op-{_id}", lambda lib, a, b: a @ b, A(*_sa), A(*_sb), grad_fn=_node)
# torch's decomposition, spelled out for the main dim combinations
_FOLD_T = f"UnsafeViewBackward0(CloneBackward0(TransposeBackward0({ACC})))"
MATMUL_CHAINS = {
    "3x2": f"UnsafeViewBackward0(MmBackward0(ViewBackward0({ACC}), {ACC}))",
    "3x1": f"UnsafeViewBackward0(MvBackward0(ViewBackward0({ACC}), {ACC}))",
    "2x3": f"CloneBackward0(TransposeBackward0(UnsafeViewBackward0(MmBackward0({_FOLD_T}, "
           f"TBackward0({ACC})))))",
    "1x3": f"UnsafeViewBackward0(MvBackward0({_FOLD_T}, {ACC}))",
    "3x3": f"UnsafeViewBackward0(BmmBackward0(ViewBackward0(ExpandBackward0({ACC})), "
           f"ViewBackward0(ExpandBackward0({ACC}))))",
    "4x3-bcast": f"UnsafeViewBackward0(BmmBackward0("
                 f"UnsafeViewBackward0(CloneBackward0(ExpandBackward0({ACC}))), "
                 f"UnsafeViewBackward0(CloneBackward0(ExpandBackward0({ACC})))))",
}
for _id, _chain in MATMUL_CHAINS.items():
    _, _sa, _sb, _node = next(m for m in MATMUL if m[0] == _id)
    case(f"matmul-chain-{_id}", lambda lib, a, b: a @ b, A(*_sa), A(*_sb), grad_fn=_node,
         chain=_chain)
# the fold-or-bmm choice depends on which operand needs grad and on strides
MATMUL_PATHS = [
    ("2x3-nograd-a", lambda lib, a, b: a @ b, A(4, 3, grad=False), A(2, 3, 5)),
    ("1x3-nograd-a", lambda lib, a, b: a @ b, A(3, grad=False), A(2, 3, 5)),
    ("3x2-nograd-b", lambda lib, a, b: a @ b, A(2, 4, 3), A(3, 5, grad=False)),
    ("3x1-nograd-b", lambda lib, a, b: a @ b, A(2, 4, 3), A(3, grad=False)),
    ("3x2-strided-nograd-b", lambda lib, a, b: a.permute(1, 0, 2) @ b, A(4, 2, 3),
     A(3, 5, grad=False)),
    ("3x1-strided-nograd-b", lambda lib, a, b: a.transpose(0, 1) @ b, A(4, 2, 3),
     A(3, grad=False)),
    ("3x2-strided", lambda lib, a, b: a.permute(1, 0, 2) @ b, A(4, 2, 3), A(3, 5)),
    ("3x3-bcast-b", lambda lib, a, b: a @ b, A(2, 4, 3), A(1, 3, 5)),
    ("3x3-bcast-nograd", lambda lib, a, b: a @ b, A(1, 4, 3, grad=False), A(2, 3, 5)),
    ("4x1-nograd-b", lambda lib, a, b: a.transpose(0, 1) @ b, A(2, 2, 4, 3),
     A(3, grad=False)),
    ("1x4-strided-nograd-a", lambda lib, a, b: a @ b.transpose(0, 1), A(3, grad=False),
     A(2, 2, 3, 5)),
    ("2x4-strided-nograd-a", lambda lib, a, b: a @ b.transpose(0, 1), A(4, 3, grad=False),
     A(2, 2, 3, 5)),
    ("4x4-bcast", lambda lib, a, b: a @ b, A(2, 1, 4, 3), A(1, 3, 3, 2)),
]
for _id, _fn, _a, _b in MATMUL_PATHS:
    case(f"matmul-path-{_id}", _fn, _a, _b, grad_fn="UnsafeViewBackward0")
case("matmul-1x2-nograd-a", lambda lib, a, b: a @ b, A(3, grad=False), A(3, 5),
     grad_fn="SqueezeBackward4", chain=f"SqueezeBackward4(MmBackward0(None, {ACC}))")
case("matmul-1x2-chain", lambda lib, a, b: a @ b, A(3), A(3, 5), grad_fn="SqueezeBackward4",
     chain=f"SqueezeBackward4(MmBackward0(UnsqueezeBackward0({ACC}), {ACC}))")
case("matmul-2x2-nograd-b", lambda lib, a, b: a.matmul(b), A(4, 3), A(3, 2, grad=False),
     grad_fn="MmBackward0", chain=f"MmBackward0({ACC}, None)")
case("matmul-tutorial", lambda lib, x, w, b: lib.matmul(x, w) + b, A(5, grad=False), A(5, 3),
     A(3), grad_fn="AddBackward0",
     chain=f"AddBackward0(SqueezeBackward4(MmBackward0(None, {ACC})), {ACC})")
case("mm", lambda lib, a, b: lib.mm(a, b), A(4, 3), A(3, 5), grad_fn="MmBackward0",
     chain=f"MmBackward0({ACC}, {ACC})")
case("mm-method-t", lambda lib, a, b: a.mm(b.t()), A(4, 3), A(5, 3), grad_fn="MmBackward0",
     chain=f"MmBackward0({ACC}, TBackward0({ACC}))")
case("mv", lambda lib, a, b: lib.mv(a, b), A(4, 3), A(3), grad_fn="MvBackward0",
     chain=f"MvBackward0({ACC}, {ACC})")
case("dot", lambda lib, a, b: lib.dot(a, b), A(6), A(6), grad_fn="DotBackward0",
     chain=f"DotBackward0({ACC}, {ACC})")
case("dot-method", lambda lib, a, b: a.dot(b), A(4), A(4), grad_fn="DotBackward0")
case("bmm", lambda lib, a, b: lib.bmm(a, b), A(2, 4, 3), A(2, 3, 5), grad_fn="BmmBackward0",
     chain=f"BmmBackward0({ACC}, {ACC})")
case("bmm-method", lambda lib, a, b: a.bmm(b), A(3, 2, 2), A(3, 2, 4), grad_fn="BmmBackward0")

# ---------------------------------------------------------------- shape ops
SHAPE = [
    ("reshape", lambda lib, a: a.reshape(4, 3), (3, 4), "ViewBackward0"),
    ("reshape-tuple", lambda lib, a: a.reshape((2, -1)), (3, 4), "ViewBackward0"),
    ("reshape-fn", lambda lib, a: lib.reshape(a, (-1,)), (3, 4), "ViewBackward0"),
    ("reshape-noncontig", lambda lib, a: a.t().reshape(-1), (3, 4), "UnsafeViewBackward0"),
    ("reshape-0d", lambda lib, a: a.reshape(1, 1), (), "ViewBackward0"),
    ("reshape-alias", lambda lib, a: a.t().unsqueeze(0).reshape(4, 3), (3, 4),
     "ReshapeAliasBackward0"),
    ("reshape-alias-same", lambda lib, a: a.permute(1, 0, 2).reshape(3, 2, 4), (2, 3, 4),
     "ReshapeAliasBackward0"),
    ("view-strided", lambda lib, a: a.t().view(4, 3, 1), (3, 4), "ViewBackward0"),
    ("view", lambda lib, a: a.view(2, 6), (3, 4), "ViewBackward0"),
    ("view-infer", lambda lib, a: a.view(-1, 2), (3, 4), "ViewBackward0"),
    ("flatten", lambda lib, a: a.flatten(), (2, 3, 2), "ViewBackward0"),
    ("flatten-fn-1", lambda lib, a: lib.flatten(a, 1), (2, 3, 2), "ViewBackward0"),
    ("flatten-0-1", lambda lib, a: a.flatten(0, 1), (2, 3, 2), "ViewBackward0"),
    ("flatten-0d", lambda lib, a: a.flatten(), (), "ViewBackward0"),
    ("transpose", lambda lib, a: a.transpose(0, 1), (3, 4), "TransposeBackward0"),
    ("transpose-neg", lambda lib, a: lib.transpose(a, -1, 0), (2, 3, 4), "TransposeBackward0"),
    ("permute", lambda lib, a: a.permute(2, 0, 1), (2, 3, 4), "PermuteBackward0"),
    ("permute-tuple", lambda lib, a: lib.permute(a, (1, -1, 0)), (2, 3, 4), "PermuteBackward0"),
    ("T", lambda lib, a: a.T, (3, 4), "PermuteBackward0"),
    ("t", lambda lib, a: a.t(), (3, 4), "TBackward0"),
    ("t-fn", lambda lib, a: lib.t(a), (3, 4), "TBackward0"),
    ("t-1d", lambda lib, a: a.t(), (4,), "TBackward0"),
    ("mT", lambda lib, a: a.mT, (2, 3, 4), "TransposeBackward0"),
    ("squeeze-all", lambda lib, a: a.squeeze(), (3, 1, 4, 1), "SqueezeBackward0"),
    ("squeeze-1", lambda lib, a: a.squeeze(1), (3, 1, 4, 1), "SqueezeBackward1"),
    ("squeeze-neg", lambda lib, a: lib.squeeze(a, -1), (3, 1, 4, 1), "SqueezeBackward1"),
    ("squeeze-noop", lambda lib, a: a.squeeze(0), (3, 1, 4, 1), "SqueezeBackward1"),
    ("squeeze-tuple", lambda lib, a: a.squeeze((1, 3)), (3, 1, 4, 1), "SqueezeBackward2"),
    ("unsqueeze", lambda lib, a: a.unsqueeze(0), (3, 4), "UnsqueezeBackward0"),
    ("unsqueeze-neg", lambda lib, a: lib.unsqueeze(a, -1), (3, 4), "UnsqueezeBackward0"),
    ("unsqueeze-mid", lambda lib, a: a.unsqueeze(1), (3, 4), "UnsqueezeBackward0"),
    ("unsqueeze-0d", lambda lib, a: a.unsqueeze(0), (), "UnsqueezeBackward0"),
    ("expand", lambda lib, a: a.expand(4, 3), (1, 3), "ExpandBackward0"),
    ("expand-new-dims", lambda lib, a: a.expand(2, 4, 3), (4, 1), "ExpandBackward0"),
    ("expand-keep", lambda lib, a: a.expand(2, -1, 5), (3, 1), "ExpandBackward0"),
    ("expand-0d", lambda lib, a: a.expand(2, 3), (), "ExpandBackward0"),
    ("clone", lambda lib, a: a.clone(), (3, 4), "CloneBackward0"),
    ("clone-fn", lambda lib, a: lib.clone(a), (3, 4), "CloneBackward0"),
    ("contiguous-strided", lambda lib, a: a.t().contiguous(), (3, 4), "CloneBackward0"),
    ("contiguous-leaf", lambda lib, a: a.contiguous(), (3, 4), None),
    ("contiguous-view", lambda lib, a: a.reshape(4, 3).contiguous(), (3, 4), "ViewBackward0"),
]
for _id, _fn, _shape, _node in SHAPE:
    case(_id, _fn, A(*_shape), grad_fn=_node)
case("reshape-noncontig-chain", lambda lib, a: a.t().reshape(-1), A(3, 4),
     grad_fn="UnsafeViewBackward0",
     chain=f"UnsafeViewBackward0(CloneBackward0(TBackward0({ACC})))")

# ---------------------------------------------------------------- indexing
MASK_2D = np.array([[True, False, True, False], [False, False, True, True],
                    [True, True, False, False]])
ROWS = np.array([True, False, True])
BASIC = [
    ("int", lambda lib, a: a[1], "SelectBackward0"),
    ("neg-int", lambda lib, a: a[-1], "SelectBackward0"),
    ("two-ints", lambda lib, a: a[0, -2], "SelectBackward0"),
    ("slice", lambda lib, a: a[1:3], "SliceBackward0"),
    ("slice-step", lambda lib, a: a[::2], "SliceBackward0"),
    ("slice-step-start", lambda lib, a: a[:, 1::2], "SliceBackward0"),
    ("slice-neg", lambda lib, a: a[-2:, :-1], "SliceBackward0"),
    ("slice-full", lambda lib, a: a[:], "SliceBackward0"),
    ("int-slice", lambda lib, a: a[1, ::3], "SliceBackward0"),
    ("slice-int", lambda lib, a: a[1:, 2], "SelectBackward0"),
    ("none", lambda lib, a: a[None], "UnsqueezeBackward0"),
    ("none-mid", lambda lib, a: a[:, None], "UnsqueezeBackward0"),
    ("ellipsis", lambda lib, a: a[...], "AliasBackward0"),
    ("ellipsis-int", lambda lib, a: a[..., 0], "SelectBackward0"),
    ("none-ellipsis-step", lambda lib, a: a[None, ..., ::2], "SliceBackward0"),
    ("combo", lambda lib, a: a[1:, None, -1], "SelectBackward0"),
    ("adv-list", lambda lib, a: a[[0, 2, 0]], "IndexBackward0"),
    ("adv-list-col", lambda lib, a: a[:, [3, 0, 3, 3]], "IndexBackward0"),
    ("adv-pairs", lambda lib, a: a[[0, 0, 2], [1, 1, 3]], "IndexBackward0"),
    ("adv-tensor", lambda lib, a: a[lib.tensor([2, 1, 2])], "IndexBackward0"),
    ("mask", lambda lib, a: a[lib.tensor(MASK_2D)], "IndexBackward0"),
    ("mask-rows", lambda lib, a: a[lib.tensor(ROWS)], "IndexBackward0"),
    ("mask-from-compare", lambda lib, a: a[a > 0], "IndexBackward0"),
    ("slice-then-list", lambda lib, a: a[1:, [0, 2, 2]], "IndexBackward0"),
    ("neg-list", lambda lib, a: a[[-1, 0, -1]], "IndexBackward0"),
    ("bool-list", lambda lib, a: a[[True, False, True]], "IndexBackward0"),
    ("int-tensor-1el", lambda lib, a: a[lib.tensor([1])], "IndexBackward0"),
    ("ellipsis-list", lambda lib, a: a[..., [3, 3]], "IndexBackward0"),
    ("list-then-int", lambda lib, a: a[[2, 0], 1], "IndexBackward0"),
]
for _id, _fn, _node in BASIC:
    case(f"index-{_id}", _fn, A(3, 4), grad_fn=_node, gradcheck=_id != "mask-from-compare")
case("index-3d-combo", lambda lib, a: a[..., None, 1:], A(2, 3, 4), grad_fn="SliceBackward0",
     chain=f"SliceBackward0(UnsqueezeBackward0({ACC}))")
case("index-select-chain", lambda lib, a: a[0, 1], A(3, 4), grad_fn="SelectBackward0",
     chain=f"SelectBackward0(SelectBackward0({ACC}))")
case("index-1d-step", lambda lib, a: a[1::3], A(10), grad_fn="SliceBackward0")
# torch applies ints/slices first, so the arrays' dims are not moved to the front
case("index-int-slice-list", lambda lib, a: a[0, :, [0, 1]], A(2, 3, 4), grad_fn="IndexBackward0",
     chain=f"IndexBackward0(SelectBackward0({ACC}))")
case("index-none-list-mask", lambda lib, a: a[None, [1, 0], lib.tensor([True, False, False, True])],
     A(2, 4), grad_fn="IndexBackward0")
case("index-ellipsis-mask", lambda lib, a: a[..., lib.tensor([[True, False, True]] * 2)],
     A(3, 2, 3), grad_fn="IndexBackward0")

# ---------------------------------------------------------------- dtype conversion
# a conversion to the tensor's own dtype returns the tensor itself: no node
TO_COPY = "ToCopyBackward0"
for _target, _other in (("float32", "float64"), ("float64", "float32")):
    # a float32 result cannot resolve gradcheck's finite differences: no gradcheck
    fp64 = _target == "float64"
    case(f"to-{_target}", lambda lib, a, d=_target: a.to(getattr(lib, d)), A(3, 4),
         grad_fn={_target: None, _other: TO_COPY}, gradcheck=fp64)
    case(f"to-kw-{_target}", lambda lib, a, d=_target: a.to(dtype=getattr(lib, d)) * 2.0,
         A(3, 4), grad_fn="MulBackward0", gradcheck=fp64)
case("to-device-dtype", lambda lib, a: a.to("cpu", lib.float64), A(3, 4),
     grad_fn={"float64": None, "float32": TO_COPY})
case("to-other-tensor", lambda lib, a, b: a.to(b), A(3, 4), A(2, dtype="float64", grad=False),
     grad_fn={"float64": None, "float32": TO_COPY})
case("to-cpu", lambda lib, a: a.to("cpu"), A(3, 4), grad_fn=None)
case("float", lambda lib, a: a.float(), A(3, 4), grad_fn={"float32": None, "float64": TO_COPY},
     gradcheck=False)
case("double", lambda lib, a: a.double(), A(3, 4), grad_fn={"float64": None, "float32": TO_COPY})
case("double-then-float", lambda lib, a: a.double().float() * 1.0, A(3), grad_fn="MulBackward0",
     gradcheck=False)
case("double-mixed", lambda lib, a, b: a.double() * b, A(3, 4, dtype="float32"),
     A(4, dtype="float64"), grad_fn="MulBackward0", gradcheck=False,
     chain=f"MulBackward0(ToCopyBackward0({ACC}), {ACC})")

# ---------------------------------------------------------------- strided operands
# Kernels take flat buffers: transposed, permuted and expanded (0-stride) inputs and
# gradients must be laid out in C order before they get there.
STRIDED = [
    ("exp-of-t", lambda lib, a, b: lib.exp(a.t()) * b, (3, 4), (3,), "MulBackward0"),
    ("mul-t-bcast", lambda lib, a, b: a.t() * b, (3, 4), (4, 1), "MulBackward0"),
    ("div-permuted", lambda lib, a, b: a.permute(2, 0, 1) / b, (2, 3, 4), (2, 3),
     "DivBackward0"),
    ("pow-expanded", lambda lib, a, b: a.expand(4, 3) ** b, (1, 3), (4, 3), "PowBackward1"),
    ("sum-of-permute", lambda lib, a, b: (a.permute(2, 0, 1) * b).sum(1), (2, 3, 4), (3,),
     "SumBackward1"),
    ("mean-of-slice", lambda lib, a, b: (a[:, ::2] + b).mean(0), (4, 6), (3,),
     "MeanBackward1"),
    ("sigmoid-of-mT", lambda lib, a, b: (a.mT.sigmoid() - b).abs(), (2, 3, 4), (3,),
     "AbsBackward0"),
    ("index-of-t", lambda lib, a, b: a.t()[[0, 2, 2]] * b, (3, 4), (3,), "MulBackward0"),
]
for _id, _fn, _sa, _sb, _node in STRIDED:
    dom_a = "pos" if _id.startswith("pow") else "real"
    dom_b = "nonzero" if _id.startswith(("div", "sigmoid")) else "real"
    case(f"strided-{_id}", _fn, A(*_sa, domain=dom_a), A(*_sb, domain=dom_b), grad_fn=_node)

# ---------------------------------------------------------------- BCE with logits
def _bce(reduction: str, weight: bool = False, pos_weight: bool = False) -> Callable:
    def fn(lib, x, y, *extra):
        it = iter(extra)
        w = next(it) if weight else None
        pw = next(it) if pos_weight else None
        return lib.nn.functional.binary_cross_entropy_with_logits(
            x, y, weight=w, reduction=reduction, pos_weight=pw)

    return fn


BCE = "BinaryCrossEntropyWithLogitsBackward0"
for _red in ("mean", "sum", "none"):
    case(f"bce-{_red}", _bce(_red), A(4, 3), A(4, 3, domain="unit", grad=False),
         grad_fn=BCE, chain=f"{BCE}({ACC}, None)")
    case(f"bce-{_red}-target-grad", _bce(_red), A(4, 3), A(4, 3, domain="unit"),
         grad_fn=BCE, chain=f"{BCE}({ACC}, {ACC})")
    case(f"bce-{_red}-binary-target", _bce(_red), A(5, 2),
         A(5, 2, domain="bool", grad=False), grad_fn=BCE)
    for _ws in ((3,), (4, 1), (4, 3), ()):
        case(f"bce-{_red}-weight{_ws}", _bce(_red, weight=True), A(4, 3),
             A(4, 3, domain="unit"), A(*_ws, domain="pos", grad=False), grad_fn=BCE)
    for _ps in ((3,), (1, 3), (4, 3)):
        case(f"bce-{_red}-posw{_ps}", _bce(_red, pos_weight=True), A(4, 3),
             A(4, 3, domain="unit"), A(*_ps, domain="pos", grad=False), grad_fn=BCE)
    case(f"bce-{_red}-both", _bce(_red, weight=True, pos_weight=True), A(4, 3),
         A(4, 3, domain="unit"), A(4, 1, domain="pos", grad=False),
         A(3, domain="pos", grad=False), grad_fn=BCE)
    case(f"bce-{_red}-0d", _bce(_red), A(), A(domain="unit"), grad_fn=BCE)
case("bce-strided", lambda lib, x, y: lib.nn.functional.binary_cross_entropy_with_logits(
    x.t(), y.t(), reduction="none"), A(3, 4), A(3, 4, domain="unit"), grad_fn=BCE)
case("bce-large-logits", _bce("none"), A(6, domain="large"), A(6, domain="unit"),
     grad_fn=BCE, gradcheck=False)
case("tutorial", lambda lib, x, w, b, y: lib.nn.functional.binary_cross_entropy_with_logits(
    lib.matmul(x, w) + b, y), A(5, grad=False), A(5, 3), A(3), A(3, domain="bool", grad=False),
     grad_fn=BCE,
     chain=f"{BCE}(AddBackward0(SqueezeBackward4(MmBackward0(None, {ACC})), {ACC}), None)")

# ops whose backward used to crash on an explicit 0-d root gradient (engine.py turned it
# into shape (1,) with np.ascontiguousarray): dot's float(), select's 0-d assignment
ZERO_D_OUTPUT_CASES = frozenset({"dot", "dot-method", "matmul-1x1", "matmul-op-1x1",
                                 "index-two-ints", "index-select-chain"})

CASE_IDS = [c.id for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "duplicate case ids"


# ---------------------------------------------------------------- the later ops' torch table
# Issue 3's ops (one case per op and variant, run with ``lib`` = engine and ``lib`` =
# torch): used by tests/engine/ops/test_ops.py and tests/engine/autograd/test_higher_order.py.
TORCH_DOMAINS: dict[str, Callable[[np.random.Generator, tuple], np.ndarray]] = {
    "real": lambda r, s: r.uniform(-2.0, 2.0, s),
    "pos": lambda r, s: r.uniform(0.5, 2.0, s),
    "unit": lambda r, s: r.uniform(0.05, 0.95, s),
    # well separated values: no ties, no kinks within gradcheck's step
    "spread": lambda r, s: (r.permutation(int(np.prod(s))).reshape(s) - 3.3) * 0.37,
}
IDX = np.array([[0, 2], [1, 1], [3, 0]])  # gather index for a (3, 4) input, with a repeat
TARGET = np.array([0, 3, 1, 2, 3])


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable[..., Any]
    shapes: tuple[tuple[int, ...], ...]
    grad_fn: str | None
    domain: str = "real"
    fixed: tuple[Any, ...] | None = None  # explicit float inputs instead of random ones
    gradcheck: bool = True
    tol: float = 1.0
    extra: dict = field(default_factory=dict)


def nnf(lib: Any) -> Any:
    return lib.nn.functional


TORCH_CASES = [
    # elementwise
    Case("sin", lambda lib, x: lib.sin(x), ((3, 4),), "SinBackward0"),
    Case("cos", lambda lib, x: x.cos(), ((3, 4),), "CosBackward0"),
    Case("sinh", lambda lib, x: lib.sinh(x), ((3, 4),), "SinhBackward0"),
    Case("cosh", lambda lib, x: x.cosh(), ((3, 4),), "CoshBackward0"),
    Case("atan2", lambda lib, x, y: lib.atan2(x, y), ((3, 4), (4,)), "Atan2Backward0"),
    Case("atan2_method", lambda lib, x, y: x.atan2(y), ((2, 1, 3), (4, 1)), "Atan2Backward0"),
    Case("div_floor", lambda lib, x, y: lib.div(x, y, rounding_mode="floor"), ((3, 4), (4,)),
         "DivBackward2"),
    Case("div_trunc_number", lambda lib, x: x.div(0.3, rounding_mode="trunc"), ((3, 4),),
         "DivBackward2"),
    Case("log1p", lambda lib, x: lib.log1p(x), ((3, 4),), "Log1PBackward0", domain="pos"),
    Case("expm1", lambda lib, x: x.expm1(), ((3, 4),), "Expm1Backward0"),
    Case("rsqrt", lambda lib, x: lib.rsqrt(x), ((3, 4),), "RsqrtBackward0", domain="pos"),
    Case("square", lambda lib, x: lib.square(x), ((3, 4),), "PowBackward0"),
    Case("clamp", lambda lib, x: x.clamp(-0.5, 0.7), ((3, 4),), "ClampBackward1",
         domain="spread"),
    Case("clamp_min", lambda lib, x: lib.clamp(x, min=0.1), ((3, 4),), "ClampBackward1",
         domain="spread"),
    Case("clamp_max", lambda lib, x: x.clamp(max=0.1), ((3, 4),), "ClampBackward1",
         domain="spread"),
    Case("maximum", lambda lib, x, y: lib.maximum(x, y), ((3, 4), (4,)), "MaximumBackward0"),
    Case("minimum", lambda lib, x, y: lib.minimum(x, y), ((3, 1), (4,)), "MinimumBackward0"),
    Case("maximum_ties", lambda lib, x, y: lib.maximum(x, y), (), "MaximumBackward0",
         fixed=([1.0, 2.0, 3.0], [1.0, 5.0, 0.0]), gradcheck=False),
    Case("minimum_ties", lambda lib, x, y: lib.minimum(x, y), (), "MinimumBackward0",
         fixed=([1.0, 2.0, 3.0], [1.0, 5.0, 0.0]), gradcheck=False),
    Case("where", lambda lib, x, y: lib.where(x > 0, x, y), ((3, 4), (4,)), "WhereBackward0"),
    Case("where_scalar", lambda lib, x: lib.where(x > 0, x, 0.0), ((3, 4),), "WhereBackward0",
         domain="spread"),
    # activations
    Case("leaky_relu", lambda lib, x: nnf(lib).leaky_relu(x, 0.2), ((3, 4),), "LeakyReluBackward0",
         domain="spread"),
    Case("gelu", lambda lib, x: nnf(lib).gelu(x), ((3, 4),), "GeluBackward0"),
    Case("gelu_tanh", lambda lib, x: nnf(lib).gelu(x, approximate="tanh"), ((3, 4),),
         "GeluBackward0"),
    Case("softplus", lambda lib, x: nnf(lib).softplus(x, beta=2.0, threshold=3.0), ((3, 4),),
         "SoftplusBackward0", domain="spread"),
    Case("silu", lambda lib, x: nnf(lib).silu(x), ((3, 4),), "SiluBackward0"),
    Case("elu", lambda lib, x: nnf(lib).elu(x), ((3, 4),), "EluBackward0"),
    Case("elu_alpha", lambda lib, x: nnf(lib).elu(x, alpha=0.5), ((3, 4),), "EluBackward0",
         domain="spread"),
    Case("relu", lambda lib, x: nnf(lib).relu(x), ((3, 4),), "ReluBackward0", domain="spread"),
    Case("sigmoid", lambda lib, x: nnf(lib).sigmoid(x), ((3, 4),), "SigmoidBackward0"),
    Case("tanh", lambda lib, x: nnf(lib).tanh(x), ((3, 4),), "TanhBackward0"),
    Case("softmax", lambda lib, x: nnf(lib).softmax(x, dim=0), ((3, 4),), "SoftmaxBackward0"),
    Case("softmax_3d", lambda lib, x: x.softmax(1), ((2, 3, 4),), "SoftmaxBackward0"),
    Case("log_softmax", lambda lib, x: nnf(lib).log_softmax(x, dim=-1), ((3, 4),),
         "LogSoftmaxBackward0"),
    # reductions
    Case("max_all", lambda lib, x: x.max(), ((3, 4),), "MaxBackward1", domain="spread"),
    Case("max_all_ties", lambda lib, x: lib.max(x), (), "MaxBackward1",
         fixed=([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0]],), gradcheck=False),
    Case("min_all", lambda lib, x: x.min(), ((3, 4),), "MinBackward1", domain="spread"),
    Case("max_dim", lambda lib, x: x.max(dim=1).values, ((3, 4),), "MaxBackward0",
         domain="spread"),
    Case("max_dim_ties", lambda lib, x: lib.max(x, 1, keepdim=True)[0], (), "MaxBackward0",
         fixed=([[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]],), gradcheck=False),
    Case("min_dim", lambda lib, x: x.min(0)[0], ((3, 4),), "MinBackward0", domain="spread"),
    Case("amax", lambda lib, x: x.amax(1), ((3, 4),), "AmaxBackward0", domain="spread"),
    Case("amax_ties", lambda lib, x: lib.amax(x, (0, 1)), (), "AmaxBackward0",
         fixed=([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0]],), gradcheck=False),
    Case("amin_keepdim", lambda lib, x: x.amin(0, keepdim=True), ((3, 4),), "AminBackward0",
         domain="spread"),
    Case("prod_all", lambda lib, x: x.prod(), ((2, 3),), "ProdBackward0"),
    Case("prod_dim", lambda lib, x: lib.prod(x, 1), ((3, 4),), "ProdBackward1"),
    Case("prod_zeros", lambda lib, x: x.prod(1, keepdim=True), (), "ProdBackward1",
         fixed=([[1.0, 0.0, 3.0], [0.0, 2.0, 0.0], [2.0, 3.0, 4.0]],)),
    Case("var", lambda lib, x: x.var(), ((3, 4),), "VarBackward0"),
    Case("var_dim", lambda lib, x: lib.var(x, 1, keepdim=True), ((3, 4),), "VarBackward0"),
    Case("var_unbiased_false", lambda lib, x: x.var(0, unbiased=False), ((3, 4),),
         "VarBackward0"),
    Case("var_correction", lambda lib, x: x.var((0, 2), correction=2), ((3, 2, 4),),
         "VarBackward0"),
    Case("std", lambda lib, x: x.std(), ((3, 4),), "StdBackward0"),
    Case("std_dim", lambda lib, x: lib.std(x, 0, correction=0), ((3, 4),), "StdBackward0"),
    Case("logsumexp", lambda lib, x: x.logsumexp(1), ((3, 4),), "LogsumexpBackward0"),
    Case("logsumexp_dims", lambda lib, x: lib.logsumexp(x, (0, 2), keepdim=True), ((2, 3, 4),),
         "LogsumexpBackward0"),
    Case("norm", lambda lib, x: x.norm(), ((3, 4),), "LinalgVectorNormBackward0"),
    Case("norm_dim", lambda lib, x: lib.norm(x, dim=1), ((3, 4),), "LinalgVectorNormBackward0"),
    Case("norm_p1", lambda lib, x: x.norm(p=1, dim=0), ((3, 4),), "LinalgVectorNormBackward0",
         domain="spread"),
    Case("norm_p3", lambda lib, x: x.norm(p=3), ((3, 4),), "LinalgVectorNormBackward0"),
    Case("norm_inf", lambda lib, x: x.norm(p=float("inf"), dim=1), ((3, 4),),
         "LinalgVectorNormBackward0", domain="spread"),
    # shape
    Case("cat", lambda lib, x, y: lib.cat([x, y], dim=1), ((3, 2), (3, 4)), "CatBackward0"),
    Case("cat_neg_dim", lambda lib, x, y: lib.cat((x, y), -3), ((1, 2, 3), (2, 2, 3)),
         "CatBackward0"),
    Case("stack", lambda lib, x, y: lib.stack([x, y], 1), ((3, 4), (3, 4)), "StackBackward0"),
    Case("split", lambda lib, x: x.split(2, dim=1), ((3, 5),), "SplitBackward0"),
    Case("split_sizes", lambda lib, x: lib.split(x, [1, 2], 0), ((3, 4),),
         "SplitWithSizesBackward0"),
    Case("split_partial", lambda lib, x: x.split(2)[1], ((5, 2),), "SplitBackward0"),
    Case("chunk", lambda lib, x: x.chunk(3, dim=1), ((2, 7),), "SplitBackward0"),
    Case("unbind", lambda lib, x: x.unbind(1), ((2, 3),), "UnbindBackward0"),
    Case("repeat", lambda lib, x: x.repeat(2, 1, 3), ((3, 4),), "RepeatBackward0"),
    Case("gather", lambda lib, x: x.gather(1, lib.tensor(IDX)), ((3, 4),), "GatherBackward0"),
    Case("gather_dim0", lambda lib, x: lib.gather(x, 0, lib.tensor([[2, 0, 2]])), ((3, 4),),
         "GatherBackward0"),
    # layers and losses
    Case("linear", lambda lib, x, w, b: nnf(lib).linear(x, w, b), ((5, 3), (4, 3), (4,)),
         "AddmmBackward0"),
    Case("linear_nobias", lambda lib, x, w: nnf(lib).linear(x, w), ((5, 3), (4, 3)), "MmBackward0"),
    Case("addmm", lambda lib, b, x, w: lib.addmm(b, x, w), ((4,), (5, 3), (3, 4)),
         "AddmmBackward0"),
    Case("addmm_beta_alpha", lambda lib, b, x, w: lib.addmm(b, x, w, beta=0.5, alpha=-2),
         ((5, 1), (5, 3), (3, 4)), "AddmmBackward0"),
    Case("addmm_beta0", lambda lib, b, x, w: lib.addmm(b, x, w, beta=0, alpha=3),
         ((1, 4), (5, 3), (3, 4)), "AddmmBackward0"),
    Case("linear_3d", lambda lib, x, w, b: nnf(lib).linear(x, w, b), ((2, 5, 3), (4, 3), (4,)),
         "ViewBackward0"),
    Case("mse_loss", lambda lib, x, y: nnf(lib).mse_loss(x, y), ((3, 4), (3, 4)),
         "MseLossBackward0"),
    Case("mse_loss_none", lambda lib, x, y: nnf(lib).mse_loss(x, y, reduction="none"),
         ((3, 4), (3, 4)), "MseLossBackward0"),
    Case("mse_loss_sum", lambda lib, x, y: nnf(lib).mse_loss(x, y, reduction="sum"),
         ((3, 4), (3, 4)), "MseLossBackward0"),
    Case("l1_loss", lambda lib, x, y: nnf(lib).l1_loss(x, y), ((3, 4), (3, 4)), "MeanBackward0",
         domain="spread"),
    Case("l1_loss_none", lambda lib, x, y: nnf(lib).l1_loss(x, y, reduction="none"),
         ((3, 4), (3, 4)), "AbsBackward0", domain="spread"),
    Case("huber_loss", lambda lib, x, y: nnf(lib).huber_loss(x, y, delta=0.5),
         ((3, 4), (3, 4)), "HuberLossBackward0", domain="spread"),
    Case("huber_loss_none", lambda lib, x, y: nnf(lib).huber_loss(x, y, reduction="none"),
         ((3, 4), (3, 4)), "HuberLossBackward0", domain="spread"),
    Case("smooth_l1_loss_sum", lambda lib, x, y: nnf(lib).smooth_l1_loss(
        x, y, reduction="sum", beta=0.7), ((3, 4), (3, 4)), "SmoothL1LossBackward0",
         domain="spread"),
    Case("bce", lambda lib, x, y: nnf(lib).binary_cross_entropy(x, y), ((3, 4), (3, 4)),
         "BinaryCrossEntropyBackward0", domain="unit"),
    Case("bce_weight_sum", lambda lib, x, y: nnf(lib).binary_cross_entropy(
        x, y, weight=lib.tensor([1.0, 2.0, 0.5, 3.0], dtype=x.dtype), reduction="sum"),
        ((3, 4), (3, 4)), "BinaryCrossEntropyBackward0", domain="unit"),
    Case("bce_with_logits", lambda lib, x, y: nnf(lib).binary_cross_entropy_with_logits(x, y),
         ((3, 4), (3, 4)), "BinaryCrossEntropyWithLogitsBackward0"),
    Case("nll_loss", lambda lib, x: nnf(lib).nll_loss(x, lib.tensor(TARGET)), ((5, 4),),
         "NllLossBackward0"),
    Case("nll_loss_weight_ignore", lambda lib, x: nnf(lib).nll_loss(
        x, lib.tensor([0, 3, -100, 2, 3]), weight=lib.tensor([1.0, 2.0, 3.0, 0.5], dtype=x.dtype)),
        ((5, 4),), "NllLossBackward0"),
    Case("nll_loss_none", lambda lib, x: nnf(lib).nll_loss(x, lib.tensor(TARGET), reduction="none"),
         ((5, 4),), "NllLossBackward0"),
    Case("cross_entropy", lambda lib, x: nnf(lib).cross_entropy(x, lib.tensor(TARGET)), ((5, 4),),
         "NllLossBackward0"),
    Case("cross_entropy_sum_ignore", lambda lib, x: nnf(lib).cross_entropy(
        x, lib.tensor([1, -1, 0, -1, 3]), ignore_index=-1, reduction="sum"), ((5, 4),),
        "NllLossBackward0"),
    Case("cross_entropy_1d", lambda lib, x: nnf(lib).cross_entropy(x, lib.tensor(2)), ((4,),),
         "NllLossBackward0"),
    Case("cross_entropy_2d", lambda lib, x: nnf(lib).cross_entropy(
        x, lib.tensor([[[0, 1], [2, 1]]])),
         ((1, 3, 2, 2),), "NllLoss2DBackward0"),
    Case("cross_entropy_smoothing", lambda lib, x: nnf(lib).cross_entropy(
        x, lib.tensor([0, 3, -100, 2, 3]), label_smoothing=0.2), ((5, 4),), "AddBackward0"),
    Case("cross_entropy_smoothing_weight_none", lambda lib, x: nnf(lib).cross_entropy(
        x, lib.tensor(TARGET), weight=lib.tensor([1.0, 2.0, 3.0, 0.5], dtype=x.dtype),
        label_smoothing=0.1, reduction="none"), ((5, 4),), "AddBackward0"),
    Case("cross_entropy_probs_none", lambda lib, x, t: nnf(lib).cross_entropy(
        x, t, reduction="none"), ((5, 4), (5, 4)), "NegBackward0", domain="unit"),
    # torch records DivBackward1 (division by a number); the engine's div is DivBackward0
    Case("cross_entropy_probs_mean", lambda lib, x, t: nnf(lib).cross_entropy(
        x, t, label_smoothing=0.3), ((5, 4), (5, 4)), None, domain="unit"),
]

# Misuse, run on both libraries: the engine raises torch's exception with torch's text.
TORCH_ERRORS: dict[str, Callable[[Any], Any]] = {
    "clamp_without_bounds": lambda lib: lib.randn(3, 4).clamp(),
    "cat_sizes": lambda lib: lib.cat([lib.randn(3, 4), lib.randn(2, 3)]),
    "stack_sizes": lambda lib: lib.stack([lib.randn(3, 4), lib.randn(4, 3)]),
    "split_sizes": lambda lib: lib.randn(3, 4).split([1, 1]),
    "nll_target": lambda lib: nnf(lib).nll_loss(lib.randn(3, 4), lib.tensor([0, 7, 1])),
    "bce_range": lambda lib: nnf(lib).binary_cross_entropy(lib.randn(3, 4), lib.rand(3, 4)),
    "atan2_number": lambda lib: lib.atan2(lib.ones(2), 2.0),
    "div_rounding_mode": lambda lib: lib.div(lib.ones(2), 2, rounding_mode="round"),
    "div_int_by_zero": lambda lib: lib.div(lib.tensor([1, 2]), 0, rounding_mode="floor"),
}


def torch_case_inputs(case: Case) -> list[np.ndarray]:
    """float64 inputs of a ``Case``: its fixed values, or seeded draws from its domain."""
    if case.fixed is not None:
        return [np.array(a, dtype=np.float64) for a in case.fixed]
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    return [TORCH_DOMAINS[case.domain](rng, s) for s in case.shapes]
