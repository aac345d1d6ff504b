"""engine._base.format.tensor_repr must match torch's repr (with ``torch.`` -> ``engine.``)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

_PATH = Path(__file__).resolve().parents[3] / "engine" / "_base" / "format.py"
_spec = importlib.util.spec_from_file_location("engine_format_under_test", _PATH)
_format = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_format)
tensor_repr = _format.tensor_repr

NAN, INF = float("nan"), float("inf")


def torch_repr(arr, requires_grad=False, grad_fn=False):
    """repr of the torch tensor holding ``arr``, with dtype names renamed."""
    t = torch.tensor(np.array(arr, order="C"), requires_grad=requires_grad or grad_fn)
    if grad_fn:
        t = t * 1
    return repr(t).replace("torch.", "engine.")


def check(arr, requires_grad=False, grad_fn=False):
    arr = np.asarray(arr)
    expected = torch_repr(arr, requires_grad, grad_fn)
    got = tensor_repr(
        arr,
        requires_grad=requires_grad,
        grad_fn_name="MulBackward0" if grad_fn else None,
    )
    assert got == expected, f"\n--- got ---\n{got}\n--- torch ---\n{expected}"


ALL_DTYPES = [np.float32, np.float64, np.int64, np.bool_]
FLOAT_DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (5,), (2, 3), (2, 3, 4), (2, 1, 3, 2), (1, 1, 1, 1)])
def test_dims_and_dtypes(shape, dtype):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal(shape) * 10).astype(dtype)
    check(arr)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3, 1), (3, 0, 2, 1)])
def test_empty(shape, dtype):
    check(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_empty_with_grad(dtype):
    check(np.zeros((0,), dtype=dtype), requires_grad=True)
    check(np.zeros((2, 0), dtype=dtype), grad_fn=True)


@pytest.mark.parametrize(
    "values",
    [
        [1.0, 2.0, -3.0],
        [100.0, 2.0, 0.0],
        [1e10, 1.0],
        [123456.0, 1.0],
        [0.5, 1.25, 3.0],
        [1e-5, 1.0],
        [1e-5, 2e-5],
        [1.0, 2000.0],
        [1.0, 999.0],
        [1e9, 2e9],
        [1e300, 1e-300],
        [1.5e38, 3e-38],
        [NAN, INF, -INF],
        [NAN, 1.0, -INF],
        [NAN, 0.5, INF],
        [NAN, 1e-7, INF],
        [0.0, -0.0],
        [-0.0, 1.0],
        [-0.0, 0.5],
        [-0.0, 1e-6],
        [0.0],
        [-0.0],
        [NAN],
        [-INF],
    ],
)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_float_styles(values, dtype):
    with np.errstate(over="ignore", under="ignore"):
        arr = np.array(values, dtype=dtype)
    check(arr)
    check(arr.reshape(-1, 1))
    check(arr[0])


def test_bool_and_int_alignment():
    check(np.array([True, False, True]))
    check(np.array([[True], [False]]))
    check(np.array([1, -20, 300, -4000], dtype=np.int64))
    check(np.array(np.iinfo(np.int64).min, dtype=np.int64))
    check(np.array([[1, 2], [33, -4]], dtype=np.int64))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_long_rows_wrap(dtype):
    rng = np.random.default_rng(1)
    check((rng.standard_normal(50) * 1000).astype(dtype))
    check((rng.standard_normal((3, 40)) * 3).astype(dtype))
    check((rng.standard_normal((2, 2, 30)) * 1e6).astype(dtype))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize(
    "shape", [(1001,), (5000,), (2, 600), (40, 40), (10, 10, 11), (7, 7, 7, 7), (1, 2000, 1)]
)
def test_summarized(shape, dtype):
    rng = np.random.default_rng(2)
    arr = (rng.standard_normal(shape) * 100).astype(dtype)
    check(arr)


def test_summarized_formatter_ignores_hidden_values():
    arr = np.ones(2000)
    arr[1000] = 1e-9  # hidden by summarisation: must not trigger sci mode
    check(arr)
    arr[0] = 1e-9
    check(arr)


def test_non_contiguous():
    arr = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7
    check(arr.transpose(2, 0, 1))
    check(arr[:, ::2, ::-1])
    check(np.arange(3000, dtype=np.int64).reshape(30, 100)[::2, 1::3].T)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape", [(), (3,), (30,), (2, 3), (4, 20), (2, 2, 2), (1500,), (20, 60)])
def test_grad_suffixes(shape, dtype):
    rng = np.random.default_rng(3)
    arr = (rng.standard_normal(shape) * 50).astype(dtype)
    check(arr, requires_grad=True)
    check(arr, grad_fn=True)


@pytest.mark.parametrize("n", range(1, 14))
def test_suffix_wrap_boundary(n):
    # One-line tensors whose length brushes the linewidth, so the suffix may wrap.
    arr = np.full(n, 1.5, dtype=np.float64)
    check(arr)
    check(arr, requires_grad=True)
    check(arr, grad_fn=True)
    check(arr.astype(np.float32), grad_fn=True)


SPECIAL = [0.0, -0.0, NAN, INF, -INF, 1.0, -1.0, 1e-5, 1e9, 0.5, 123.0]
DTYPE_NAMES = ["float32", "float64", "int64", "bool"]


def _value_strategy(dtype):
    if dtype == "float32":
        finite = st.floats(width=32, allow_nan=True, allow_infinity=True)
    else:
        finite = st.floats(allow_nan=True, allow_infinity=True)
    return st.one_of(
        st.sampled_from(SPECIAL),
        st.integers(-1000, 1000).map(float),
        st.floats(-10.0, 10.0),
        finite,
    )


def _build(values, shape, dtype):
    raw = np.array(values, dtype=np.float64).reshape(shape)
    if dtype in ("int64", "bool"):
        raw = np.nan_to_num(raw, nan=0.0, posinf=7.0, neginf=-7.0)
        raw = np.clip(raw, -1e15, 1e15)
        if dtype == "bool":
            return raw > 0
        return raw.astype(np.int64)
    with np.errstate(over="ignore"):
        return raw.astype(dtype)


@st.composite
def arrays(draw):
    dtype = draw(st.sampled_from(DTYPE_NAMES))
    if draw(st.integers(0, 9)) == 0:
        # Large 1-D/2-D arrays, filled cheaply from a seeded generator.
        shape = draw(st.sampled_from([(draw(st.integers(1000, 3000)),), (3, 400), (35, 31)]))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        scale = draw(st.sampled_from([1.0, 1e-6, 1e5, 1e10]))
        values = rng.standard_normal(int(np.prod(shape))) * scale
        if draw(st.booleans()):
            values[rng.integers(0, values.size, 5)] = [NAN, INF, -INF, -0.0, 0.0]
        if draw(st.booleans()):
            values = np.round(values)
        return _build(values, shape, dtype)
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=0, max_size=4)))
    size = int(np.prod(shape))
    values = draw(st.lists(_value_strategy(dtype), min_size=size, max_size=size))
    return _build(values, shape, dtype)


@settings(max_examples=200, deadline=None)
@given(arr=arrays(), grad=st.sampled_from(["none", "requires_grad", "grad_fn"]))
def test_matches_torch_property(arr, grad):
    if arr.dtype.kind != "f":
        grad = "none"
    check(arr, requires_grad=grad == "requires_grad", grad_fn=grad == "grad_fn")
