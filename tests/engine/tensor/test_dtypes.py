"""The element types and torch's type promotion among them, with torch as the oracle: every
pair of dtypes, dimensioned and zero-dim operands, Python scalars of each kind."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from tests.engine._support.autograd_helpers import same_error

NAMES = ["float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]
OPS = {
    "add": lambda a, b: a + b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
    "radd": lambda a, b: b + a, "maximum": lambda a, b: a.maximum(b) if hasattr(b, "shape")
    else a,
}
SCALARS = [True, 3, -2, 1.5, np.float64(2.0), np.int64(3)]
ALIASES = {"int": "int32", "short": "int16", "long": "int64", "float": "float32",
           "double": "float64", "uint8": "uint8", "int8": "int8", "bool": "bool"}


def _values(name, shape, seed):
    rng = np.random.default_rng(seed)
    if name == "bool":
        return rng.random(shape) < 0.5
    lo = 0 if name == "uint8" else -5
    return rng.integers(lo, 6, shape).astype(name)


def _both(name, shape, seed):
    a = _values(name, shape, seed)
    return engine.tensor(a), torch.tensor(a)


def _same(e, t):
    assert e.dtype.name == str(t.dtype).removeprefix("torch."), (e.dtype, t.dtype)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_the_aliases_are_torchs(alias):
    assert getattr(engine, alias) is getattr(engine, ALIASES[alias])
    assert str(getattr(torch, alias)) == f"torch.{ALIASES[alias]}"


@settings(max_examples=150, deadline=None)
@given(a=st.sampled_from(NAMES), b=st.sampled_from(NAMES), op=st.sampled_from(sorted(OPS)),
       a0=st.booleans(), b0=st.booleans(), seed=st.integers(0, 2**16))
def test_promotion_between_tensors_matches_torch(a, b, op, a0, b0, seed):
    (ea, ta), (eb, tb) = _both(a, () if a0 else (3,), seed), _both(b, () if b0 else (3,), seed + 1)
    if op == "div":  # no division by zero: its integer result differs from platform to platform
        eb, tb = engine.where(eb == 0, 1, eb).to(eb.dtype), torch.where(tb == 0, 1, tb).to(tb.dtype)
    _same(OPS[op](ea, eb), OPS[op](ta, tb))


@settings(max_examples=100, deadline=None)
@given(a=st.sampled_from(NAMES), s=st.sampled_from(SCALARS), op=st.sampled_from(["add", "mul",
       "radd"]), a0=st.booleans(), seed=st.integers(0, 2**16))
def test_promotion_with_python_and_numpy_scalars_matches_torch(a, s, op, a0, seed):
    ea, ta = _both(a, () if a0 else (4,), seed)
    _same(OPS[op](ea, s), OPS[op](ta, s))


@pytest.mark.parametrize(("a", "b", "want"), [
    ("int8", "uint8", "int16"), ("int32", "float32", "float32"), ("int16", "int32", "int32"),
    ("uint8", "bool", "uint8"), ("int64", "float64", "float64"), ("int8", "int64", "int64"),
])
def test_named_promotions(a, b, want):
    e = engine.ones(2, dtype=getattr(engine, a)) + engine.ones(2, dtype=getattr(engine, b))
    assert e.dtype is getattr(engine, want)


def test_an_integer_tensor_keeps_its_dtype_with_an_int_and_goes_float32_with_a_float():
    x = engine.tensor([1, 2], dtype=engine.int32)
    assert (x + 1).dtype is engine.int32 and (x * 2).dtype is engine.int32
    assert (x + 1.5).dtype is engine.float32
    assert (engine.tensor([1, 2], dtype=engine.uint8) + True).dtype is engine.uint8


@pytest.mark.parametrize("name", NAMES)
def test_repr_names_the_dtype_as_torch_does(name):
    values = _values(name, (2,), 0)
    e, t = engine.tensor(values), torch.tensor(values)
    assert repr(e) == repr(t).replace("torch.", "engine.")
    assert e.type() == t.type().replace("torch.", "engine.")


@pytest.mark.parametrize("name", NAMES)
def test_from_numpy_shares_memory_in_every_dtype(name):
    a = _values(name, (3,), 1)
    e, t = engine.from_numpy(a), torch.from_numpy(a)
    _same(e, t)
    a[0] = 1
    assert e.tolist() == t.tolist() == a.tolist()


@pytest.mark.parametrize("kind", [np.float16, np.complex64, np.uint16])
def test_from_numpy_refuses_types_the_engine_does_not_store(kind):
    err = pytest.raises(TypeError, engine.from_numpy, np.zeros(2, kind))
    assert "The only supported types are: float64, float32, int64, int32" in str(err.value)


@pytest.mark.parametrize("name", ["int64", "int32", "int16", "int8", "uint8", "bool"])
def test_integer_tensors_cannot_require_grad(name):
    e, t = engine.tensor(_values(name, (2,), 0)), torch.tensor(_values(name, (2,), 0))
    same_error(lambda: e.requires_grad_(), lambda: t.requires_grad_())

    def flag(x):
        x.requires_grad = True

    same_error(lambda: flag(e), lambda: flag(t))
    same_error(lambda: engine.ones(2, dtype=getattr(engine, name), requires_grad=True),
               lambda: torch.ones(2, dtype=getattr(torch, name), requires_grad=True))


INT_OPS = {  # forward only, in numpy: kernels are compiled for float32 and float64 alone
    "sum": lambda x: x.sum(), "sum_dim": lambda x: x.sum(0), "prod": lambda x: x.prod(),
    "max": lambda x: x.max(), "argmax": lambda x: x.argmax(), "neg": lambda x: -x,
    "abs": lambda x: x.abs(), "exp": lambda x: x.exp(), "matmul": lambda x: x @ x.t(),
    "cat": lambda x: (engine if isinstance(x, engine.Tensor) else torch).cat([x, x]),
    "reshape": lambda x: x.reshape(-1), "index": lambda x: x[1:], "float": lambda x: x.float(),
    "clamp": lambda x: x.clamp(0, 2), "pow": lambda x: x ** 2,
}


@pytest.mark.parametrize("name", ["int32", "int16", "int8", "uint8"])
@pytest.mark.parametrize("op", sorted(INT_OPS))
def test_ops_on_the_new_integer_dtypes_match_torch(name, op):
    e, t = _both(name, (2, 3), 7)
    _same(INT_OPS[op](e), INT_OPS[op](t))


@pytest.mark.parametrize("name", NAMES)
def test_casts_between_every_pair(name):
    for method in ("float", "double", "long", "int", "short", "char", "byte", "bool"):
        e, t = _both(name, (4,), 3)
        _same(getattr(e, method)(), getattr(t, method)())


def test_dtype_names_for_messages():
    assert [(d.scalar_name, d.cpp_name) for d in (engine.int32, engine.int8, engine.uint8)] == [
        ("Int", "int"), ("Char", "signed char"), ("Byte", "unsigned char")]
    a, b = engine.ones(2, 2), engine.ones(2, 2, dtype=engine.int16)
    same_error(lambda: a.mm(b), lambda: torch.ones(2, 2).mm(torch.ones(2, 2, dtype=torch.int16)))


@settings(max_examples=100, deadline=None)
@given(a=st.sampled_from(NAMES[2:7]), b=st.sampled_from(NAMES[:7]), seed=st.integers(0, 2**16),
       mode=st.sampled_from(["floor", "trunc"]), scalar=st.sampled_from([None, 3, -2, 2.5]))
def test_rounded_division_keeps_torchs_dtype_and_values(a, b, seed, mode, scalar):
    (ea, ta), (eb, tb) = _both(a, (6,), seed), _both(b, (6,), seed + 1)
    if scalar is not None:
        eb = tb = scalar
    else:
        eb, tb = engine.where(eb == 0, 3, eb).to(eb.dtype), torch.where(tb == 0, 3, tb).to(tb.dtype)
    _same(engine.div(ea, eb, rounding_mode=mode), torch.div(ta, tb, rounding_mode=mode))


def _outcome(fn):
    try:
        r = fn()
    except Exception as exc:  # noqa: BLE001 - compared with torch's
        return type(exc).__name__, str(exc).replace("torch.", "engine.")
    return str(r.dtype).split(".")[-1], np.asarray(r.tolist(), float).round(4).tolist()


MIXED = {  # two operands of possibly different dtypes, forward only
    "cat": lambda lib, a, b: lib.cat([a, b]), "stack": lambda lib, a, b: lib.stack([a, b]),
    "where": lambda lib, a, b: lib.where(a > 1, a, b), "maximum": lambda lib, a, b:
    lib.maximum(a, b), "sub": lambda lib, a, b: a - b, "rsub": lambda lib, a, b: 1 - a,
    "rpow": lambda lib, a, b: 2 ** a, "eq": lambda lib, a, b: a == b,
    "index_int32": lambda lib, a, b: a[lib.tensor([0, 2], dtype=lib.int32)],
    "add_": lambda lib, a, b: a.clone().add_(b), "mul_": lambda lib, a, b: a.clone().mul_(b),
    "setitem": lambda lib, a, b: (lambda c: (c.__setitem__(0, b[1]), c)[1])(a.clone()),
    "matmul": lambda lib, a, b: a.reshape(3, 1) @ b.reshape(1, 3),
    "sum_float64": lambda lib, a, b: a.sum(dtype=lib.float64),
    "clamp_floats": lambda lib, a, b: a.clamp(0.5, 2.5),
}


@pytest.mark.parametrize("b", ["int8", "uint8", "float32", "int64"])
@pytest.mark.parametrize("a", ["int32", "int16", "int8", "uint8"])
@pytest.mark.parametrize("op", sorted(MIXED))
def test_mixed_dtype_ops_match_torch_values_or_errors(op, a, b):
    av, bv = np.array([1, 2, 3], a), np.array([2, 1, 3], b)
    assert _outcome(lambda: MIXED[op](engine, engine.tensor(av), engine.tensor(bv))) == \
        _outcome(lambda: MIXED[op](torch, torch.tensor(av), torch.tensor(bv)))


def test_integer_dtypes_never_reach_a_numba_kernel():
    """Kernels are compiled for float32 and float64 only: integer tensors compute in numpy,
    so running every op above on them adds no kernel signature with an integer array."""
    from engine.kernels import REGISTRY

    for name in ("int32", "int16", "int8", "uint8"):
        for op in INT_OPS.values():
            op(engine.tensor(_values(name, (2, 3), 5)))
        for op in MIXED.values():
            _outcome(lambda op=op, name=name: op(engine, engine.tensor(_values(name, (3,), 1)),
                                      engine.tensor(_values("uint8", (3,), 2))))
        w = engine.ones(3, requires_grad=True)  # and float work beside them, which does
        (w * engine.tensor(_values(name, (3,), 3))).exp().sum().backward()
    small_ints = ("int32", "int16", "int8", "uint8")
    compiled = [(k.name, str(sig)) for k in REGISTRY for sig in k.fn.signatures]
    assert any("float32" in sig for _, sig in compiled)
    assert not [c for c in compiled if any(f"array({t}," in c[1].lower() for t in small_ints)]
