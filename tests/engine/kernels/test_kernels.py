"""The Numba kernel registry: every kernel compiles for float32 and float64, and every
core op node whose backward does arithmetic really runs it in registered kernels.

The op -> kernel table below is explicit.  It is checked two ways: each name must be
in ``engine.kernels.REGISTRY``, and running the op table graphs backward with every
kernel replaced by a recording spy must show each node calling its listed kernels.
"""

from __future__ import annotations

import io
import sys
from collections import defaultdict

import numpy as np
import pytest

import engine
import engine.ops.inplace  # noqa: F401  (imported lazily by Tensor; its nodes are core)
from engine.graph import Node
from engine.kernels import REGISTRY
from engine.warmup import _compile, _load_all, warmup
from tests.engine._support.op_cases import CASES, TORCH_CASES, make_inputs

CORE_OP_MODULES = ("engine.ops.convert", "engine.ops.elementwise", "engine.ops.unary",
                   "engine.ops.reduce", "engine.ops.linalg", "engine.ops.shape",
                   "engine.ops.indexing", "engine.ops.loss", "engine.ops.inplace", "engine.graph")
CORE_KERNEL_GROUPS = ("accumulate", "broadcast", "elementwise", "indexing", "loss")

# node class -> kernels its backward must run (over the op table, some only when
# broadcasting, with alpha != 1, or with a Python-number operand)
OP_KERNELS: dict[str, set[str]] = {
    "AccumulateGrad": {"copy", "accumulate_"},
    "AddBackward0": {"sum_to", "scale_bwd"},
    "SubBackward0": {"sum_to", "scale_bwd"},
    "RsubBackward1": {"scale_bwd"},
    "MulBackward0": {"mul_bwd", "scale_bwd", "expand", "sum_to"},
    "DivBackward0": {"div_bwd_a", "div_bwd_b", "div_scalar_bwd", "expand", "sum_to"},
    "NegBackward0": {"neg_bwd"},
    "PowBackward0": {"pow_scalar_bwd"},
    "PowBackward1": {"pow_base_bwd", "pow_exp_bwd", "expand", "sum_to"},
    "PowBackward2": {"rpow_bwd"},
    "ExpBackward0": {"exp_bwd"},
    "LogBackward0": {"log_bwd"},
    "SqrtBackward0": {"sqrt_bwd"},
    "AbsBackward0": {"abs_bwd"},
    "SigmoidBackward0": {"sigmoid_bwd"},
    "TanhBackward0": {"tanh_bwd"},
    "ReluBackward0": {"relu_bwd"},
    "ReciprocalBackward0": {"reciprocal_bwd"},
    "SumBackward0": {"expand"},
    "SumBackward1": {"expand"},
    "MeanBackward0": {"expand"},
    "MeanBackward1": {"expand"},
    "DotBackward0": {"scale_bwd"},
    "ExpandBackward0": {"sum_to"},
    "IndexBackward0": {"scatter_add"},
    "AsStridedBackward0": {"scatter_add"},
    "BinaryCrossEntropyWithLogitsBackward0": {"bce_logits_bwd_input", "bce_logits_bwd_target",
                                              "expand"},
    "FillBackward3": {"sum_to"},
    "CopyBackwards": {"sum_to"},
    "CopySlices": {"sum_to"},
}
# Backward only moves or re-labels data (views, copies, casts, zero-filled scatters).
DATA_ONLY = {
    "ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0", "CloneBackward0",
    "AliasBackward0",
    "TransposeBackward0", "PermuteBackward0", "TBackward0", "SqueezeBackward0",
    "SqueezeBackward1", "SqueezeBackward2", "SqueezeBackward4", "UnsqueezeBackward0",
    "SelectBackward0", "SliceBackward0", "ToCopyBackward0", "FillBackward2", "ZeroBackward0",
    # second-order nodes recorded only with create_graph=True: they read back a slice
    "SelectBackwardBackward0", "SliceBackwardBackward0", "IndexBackwardBackward0",
}
# Matrix products go to BLAS through numpy by design (engine/ops/linalg.py docstring).
BLAS = {"MmBackward0", "BmmBackward0", "MvBackward0"}
# The later ops (issue 3) share family modules with the core ones; their nodes have rows in
# the torch-oracle op table, and tests/engine/ops/test_ops.py checks them against torch.
LATER_NODES = {c.grad_fn for c in TORCH_CASES} - set(OP_KERNELS) - DATA_ONLY - BLAS


def _core_node_classes(with_bases: bool = False) -> dict[str, type]:
    """Node classes of the core op modules (bases such as ``_Unary`` only if asked)."""
    found, todo = {}, [Node]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        private = cls is Node or cls.__name__.startswith("_")
        if cls.__module__ in CORE_OP_MODULES and cls.__name__ not in LATER_NODES and (
                with_bases or not private):
            found[cls.__name__] = cls
    return found


def _registry_names(groups=None) -> set[str]:
    _load_all()
    return {k.name for k in REGISTRY if groups is None or k.group in groups}


# ---------------------------------------------------------------- compilation
def test_warmup_compiles_every_kernel():
    buf = io.StringIO()
    seconds = warmup(out=buf)
    assert seconds >= 0
    groups = {k.group for k in REGISTRY}
    for group in groups:
        assert f" {group}" in buf.getvalue(), group
    assert "Numba kernels ready" in buf.getvalue()


_load_all()


@pytest.mark.parametrize("k", REGISTRY, ids=lambda k: f"{k.group}.{k.name}")
def test_kernel_compiles_for_float32_and_float64(k):
    for dt in (np.float32, np.float64):
        _compile(k, dt)  # warmup's own call, with arguments built from the signature
    sigs = [" ".join(str(t) for t in sig) for sig in k.fn.signatures]
    for dt in ("float32", "float64"):
        assert any(f"array({dt}, 1d" in s for s in sigs), f"{k.name} not compiled for {dt}"


def test_kernels_use_numpy_float_semantics():
    """1/0 must give inf (torch's gradient of log or sqrt at 0), not ZeroDivisionError."""
    from engine.kernels import elementwise as ek

    for k in REGISTRY:
        assert k.fn.targetoptions.get("error_model") == "numpy", k.name
    g = np.ones(3)
    np.testing.assert_array_equal(ek.log_bwd(g, np.array([0.0, -0.0, 2.0])),
                                  [np.inf, -np.inf, 0.5])


def test_registry_names_are_unique_and_typed():
    names = [(k.group, k.name) for k in REGISTRY]
    assert len(names) == len(set(names))
    for k in REGISTRY:
        assert k.sig and set(k.sig) <= set("asinw"), k
        assert k.sig.startswith("a") or "a" in k.sig, k


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_keep_the_dtype(dtype):
    from engine.kernels import broadcast as bk
    from engine.kernels import elementwise as ek

    g = np.arange(1, 7, dtype=dtype)
    assert ek.mul_bwd(g, g).dtype == dtype
    assert ek.scale_bwd(g, 0.5).dtype == dtype
    summed = bk.sum_to(g, np.array([2, 3]), np.array([0, 1]), 3)
    np.testing.assert_array_equal(summed, np.array([5, 7, 9], dtype))
    assert summed.dtype == dtype
    spread = bk.expand(np.array([2.0, 4.0], dtype), np.array([2, 3]), np.array([1, 0]), 6, 2.0)
    np.testing.assert_array_equal(spread, np.array([1, 1, 1, 2, 2, 2], dtype))


# ---------------------------------------------------------------- op -> kernel registry
def test_every_core_node_class_is_classified():
    classes = set(_core_node_classes())
    table = set(OP_KERNELS) | DATA_ONLY | BLAS
    assert not (set(OP_KERNELS) & DATA_ONLY) and not (BLAS & (set(OP_KERNELS) | DATA_ONLY))
    assert classes - table == set(), "new node classes: add them to the kernel table"
    assert table - classes == set(), "the table names classes that no longer exist"


def test_listed_kernels_are_registered():
    names = _registry_names()
    for op, kernels in OP_KERNELS.items():
        assert kernels <= names, (op, kernels - names)


def test_every_core_kernel_has_a_user():
    used = set().union(*OP_KERNELS.values()) | {"add_out"}  # add_out: the backward loop
    assert _registry_names(CORE_KERNEL_GROUPS) <= used


@pytest.fixture(scope="module")
def observed():
    """node class name -> kernels it called, over the whole op table run backward."""
    calls: dict[str, set[str]] = defaultdict(set)
    current: list[str] = []
    mp = pytest.MonkeyPatch()
    _load_all()
    # Compile every kernel the workload needs before the spies go in: a kernel that calls
    # another (the serial kernel calls its block kernel) resolves that name when it compiles.
    _workload()
    classes = list(_core_node_classes(with_bases=True).values())

    def spy_for(k):
        def spy(*args):
            if current:
                calls[current[-1]].add(k.name)
            return k.fn(*args)
        return spy

    by_fn = {id(k.fn): spy_for(k) for k in REGISTRY}
    engine_modules = [m for n, m in list(sys.modules.items())
                      if n == "engine" or n.startswith("engine.")]
    # an @elementwise_kernel entry point holds its kernels as .serial and .block
    entries = [v for m in engine_modules for v in vars(m).values()
               if callable(v) and "serial" in getattr(v, "__dict__", {})]
    for holder in engine_modules + classes + entries:
        for attr, val in list(vars(holder).items()):
            if id(val) in by_fn:
                mp.setattr(holder, attr, by_fn[id(val)])

    def tracing(apply):
        def wrapped(self, grads):
            current.append(type(self).__name__)
            try:
                return apply(self, grads)
            finally:
                current.pop()
        return wrapped

    for cls in classes:
        if "apply" in vars(cls):
            mp.setattr(cls, "apply", tracing(vars(cls)["apply"]))
    try:
        _workload()
    finally:
        mp.undo()
    return calls


def _workload() -> None:
    """Every op case forward and backward (twice: the second pass accumulates into
    existing .grad), then the in-place graphs."""
    for case in CASES:
        xs = [engine.tensor(x, requires_grad=a.grad)
              for a, x in zip(case.args, make_inputs(case, "float64"))]
        out = case.engine_fn(*xs)
        if out.requires_grad:
            out.sum().backward()
            out = case.engine_fn(*xs)
            out.sum().backward()
    _inplace_graphs()


def _inplace_graphs():
    v = engine.tensor(2.0, dtype=engine.float64, requires_grad=True)
    src = engine.tensor([1.0, 2.0], dtype=engine.float64, requires_grad=True)
    base = engine.zeros(3, 2, dtype=engine.float64, requires_grad=True)
    y = base * 1.0
    y[0:2] = src  # the value broadcasts over two rows
    z = base * 1.0
    z.copy_(src)
    w = base * 1.0
    w.fill_(v)
    u = base * 1.0
    row = u[1]
    row.mul_(src)  # through a view: u gets CopySlices, the row AsStridedBackward0
    (y.sum() + z.sum() + w.sum() + u.sum() + row.sum()).backward()


@pytest.mark.parametrize("op", sorted(OP_KERNELS))
def test_node_runs_its_kernels(observed, op):
    assert OP_KERNELS[op] <= observed[op], f"{op} ran {sorted(observed[op])}"


@pytest.mark.parametrize("op", sorted(DATA_ONLY | BLAS))
def test_data_only_and_blas_nodes_run_no_kernel(observed, op):
    assert observed[op] == set()
