"""linspace and logspace against torch: shapes, dtypes, exact ends and torch's values.

torch counts the first half up from ``start`` and the second half down from ``end``; its
vectorised CPU kernel then rounds a few inner values differently from that formula (by an
ulp of the larger bound in float, so by one after truncation in integer dtypes), which is
the tolerance here.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from tests.engine._support.autograd_helpers import same_error

FLOATS = ["float32", "float64"]
INTS = ["int64", "int32", "int16"]
bounds = st.floats(-1e4, 1e4, allow_nan=False)


def _pair(fn, *args, dtype=None, **kw):
    e = getattr(engine, fn)(*args, dtype=None if dtype is None else getattr(engine, dtype), **kw)
    t = getattr(torch, fn)(*args, dtype=None if dtype is None else getattr(torch, dtype), **kw)
    assert e.dtype.name == str(t.dtype).removeprefix("torch.")
    assert tuple(e.shape) == tuple(t.shape)
    return e.detach().numpy(), t.detach().numpy()


@settings(max_examples=200, deadline=None)
@given(start=bounds, end=bounds, steps=st.integers(0, 300), dtype=st.sampled_from(FLOATS))
def test_linspace_matches_torch_within_an_ulp_with_exact_ends(start, end, steps, dtype):
    e, t = _pair("linspace", start, end, steps, dtype=dtype)
    if steps:
        assert e[0] == t[0] and e[-1] == t[-1]  # both ends exact, as torch's
    # an ulp of the larger bound: values near zero come from a difference of the bounds
    ulp = np.spacing(np.array(max(abs(start), abs(end), 1e-30), dtype))
    assert np.all(np.abs(e - t) <= 2 * ulp), (e - t)[np.abs(e - t) > 2 * ulp]


@settings(max_examples=100, deadline=None)
@given(start=st.integers(-1000, 1000), end=st.integers(-1000, 1000), steps=st.integers(0, 100),
       dtype=st.sampled_from(INTS))
def test_linspace_in_integer_dtypes_truncates_like_torch(start, end, steps, dtype):
    e, t = _pair("linspace", start, end, steps, dtype=dtype)
    if steps:
        assert e[0] == t[0] and e[-1] == t[-1]
    assert np.all(np.abs(e.astype(np.int64) - t) <= 1)


@pytest.mark.parametrize(("args", "kw"), [
    ((3, 10, 5), {}), ((0, 1, 1), {}), ((0, 1, 0), {}), ((1, 0, 4), {}), ((-2, 2, 9), {}),
    ((0, 10, 4), {"dtype": "int64"}), ((0, -10, 4), {"dtype": "int32"}),
    ((0.0, 1.0, 3), {"dtype": "float64"}), ((0, 1, 2), {"requires_grad": True}),
])
def test_linspace_examples_are_torchs_exactly(args, kw):
    e, t = _pair("linspace", *args, **kw)
    np.testing.assert_array_equal(e, t)


@pytest.mark.parametrize(("args", "kw"), [
    ((0, 3, 4), {}), ((0, 3, 4), {"base": 2}), ((0, 3, 4), {"dtype": "int64"}),
    ((-1, 1, 5), {"dtype": "float64"}), ((2, 2, 1), {}), ((0, 1, 0), {}),
    ((0, 2, 3), {"base": 0.5}),
])
def test_logspace_examples_match_torch(args, kw):
    e, t = _pair("logspace", *args, **kw)
    np.testing.assert_allclose(e, t, rtol=1e-6)


@settings(max_examples=100, deadline=None)
@given(start=st.floats(-5, 5), end=st.floats(-5, 5), steps=st.integers(0, 100),
       base=st.sampled_from([10.0, 2.0, 0.5, 3]), dtype=st.sampled_from(FLOATS))
def test_logspace_matches_torch(start, end, steps, base, dtype):
    e, t = _pair("logspace", start, end, steps, base, dtype=dtype)
    np.testing.assert_allclose(e, t, rtol=1e-5 if dtype == "float32" else 1e-12)


def test_tensor_bounds_and_requires_grad():
    e = engine.linspace(engine.tensor(0.0), engine.tensor(1.0), 3, requires_grad=True)
    t = torch.linspace(torch.tensor(0.0), torch.tensor(1.0), 3, requires_grad=True)
    assert e.requires_grad and e.is_leaf and e.tolist() == t.tolist()


@pytest.mark.parametrize("fn", ["linspace", "logspace"])
def test_misuse_gets_torchs_errors(fn):
    same_error(lambda: getattr(engine, fn)(0, 1, -1), lambda: getattr(torch, fn)(0, 1, -1))
    same_error(lambda: getattr(engine, fn)(0, 1, 3, dtype=engine.int64, requires_grad=True),
               lambda: getattr(torch, fn)(0, 1, 3, dtype=torch.int64, requires_grad=True))
