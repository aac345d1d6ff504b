"""Tensor.new_* factories, empty/empty_like, and the conversions (to, type, float(), ...),
against torch: dtypes, shapes, identity when nothing changes, and the recorded copies."""

import numpy as np
import pytest
import torch

import engine
from tests.engine._support.autograd_helpers import error_of, same_error


def _lib_dtype(lib, name):
    return None if name is None else getattr(lib, name)


def _same_meta(e, t):
    assert e.dtype.name == str(t.dtype).removeprefix("torch.")
    assert tuple(e.shape) == tuple(t.shape)
    assert e.requires_grad == t.requires_grad


NEW = {
    "new_tensor": lambda x, d: x.new_tensor([1, 2], dtype=d),
    "new_zeros": lambda x, d: x.new_zeros(2, 3, dtype=d),
    "new_zeros_tuple": lambda x, d: x.new_zeros((2, 3), dtype=d),
    "new_ones": lambda x, d: x.new_ones((2,), dtype=d),
    "new_empty": lambda x, d: x.new_empty(4, dtype=d),
    "new_full": lambda x, d: x.new_full((2, 2), 3, dtype=d),
    "new_full_float": lambda x, d: x.new_full((2,), 1.5, dtype=d),
}


@pytest.mark.parametrize("own", ["float32", "float64", "int32", "uint8"])
@pytest.mark.parametrize("asked", [None, "float64", "int64"])
@pytest.mark.parametrize("name", sorted(NEW))
def test_new_factories_follow_self_unless_told(name, own, asked):
    e = NEW[name](engine.ones(1, dtype=getattr(engine, own)), _lib_dtype(engine, asked))
    t = NEW[name](torch.ones(1, dtype=getattr(torch, own)), _lib_dtype(torch, asked))
    _same_meta(e, t)
    if "empty" not in name:
        assert e.tolist() == t.tolist()


def test_new_factories_take_requires_grad_and_not_selfs():
    x = engine.ones(2, requires_grad=True)
    assert not x.new_zeros(2).requires_grad and not x.new_tensor([1.0]).requires_grad
    assert x.new_ones(2, requires_grad=True).requires_grad
    same_error(lambda: engine.ones(1).new_zeros(2, dtype=engine.int64, requires_grad=True),
               lambda: torch.ones(1).new_zeros(2, dtype=torch.int64, requires_grad=True))


@pytest.mark.parametrize("dtype", [None, "float64", "int8"])
def test_empty_and_empty_like(dtype):
    for e, t in (
        (engine.empty(2, 3, dtype=_lib_dtype(engine, dtype)),
         torch.empty(2, 3, dtype=_lib_dtype(torch, dtype))),
        (engine.empty((4,), dtype=_lib_dtype(engine, dtype)),
         torch.empty((4,), dtype=_lib_dtype(torch, dtype))),
        (engine.empty_like(engine.ones(2, dtype=engine.int16), dtype=_lib_dtype(engine, dtype)),
         torch.empty_like(torch.ones(2, dtype=torch.int16), dtype=_lib_dtype(torch, dtype))),
    ):
        _same_meta(e, t)
    assert engine.empty(2, requires_grad=True).requires_grad


TO_FORMS = {
    "dtype": lambda lib, x: x.to(lib.float64),
    "dtype_kw": lambda lib, x: x.to(dtype=lib.int32),
    "device_dtype": lambda lib, x: x.to("cpu", lib.float64),
    "device_obj_dtype": lambda lib, x: x.to(lib.device("cpu"), lib.int64),
    "device_dtype_kw": lambda lib, x: x.to(device="cpu", dtype=lib.float64),
    "other": lambda lib, x: x.to(lib.zeros(1, dtype=lib.float64)),
    "dtype_flags": lambda lib, x: x.to(lib.float64, True, False),
    "same_dtype_copy": lambda lib, x: x.to(lib.float32, copy=True),
    "copy_only": lambda lib, x: x.to(copy=True),
    "device_copy": lambda lib, x: x.to("cpu", copy=True),
    "same": lambda lib, x: x.to(lib.float32),
    "nothing": lambda lib, x: x.to(),
    "non_blocking": lambda lib, x: x.to("cpu", non_blocking=True),
}


@pytest.mark.parametrize("form", sorted(TO_FORMS))
def test_to_forms_match_torch(form):
    e, t = engine.tensor([1.5, -2.0], requires_grad=True), torch.tensor([1.5, -2.0],
                                                                       requires_grad=True)
    re, rt = TO_FORMS[form](engine, e), TO_FORMS[form](torch, t)
    _same_meta(re, rt)
    assert (re is e) == (rt is t)
    assert (re.grad_fn is None) == (rt.grad_fn is None)
    if rt.grad_fn is not None:
        assert type(re.grad_fn).__name__ == rt.grad_fn.name() == "ToCopyBackward0"
        re.float().sum().mul(3).backward()
        rt.float().sum().mul(3).backward()
        np.testing.assert_array_equal(e.grad.numpy(), t.grad.numpy())
    assert re.detach().tolist() == rt.detach().tolist()


@pytest.mark.parametrize("args", [("cpu", "cpu"), (1.5,), ("cpu", engine.float64, 1)])
def test_to_with_arguments_it_has_no_form_for_is_a_type_error(args):
    err = error_of(lambda: engine.ones(1).to(*args))
    assert type(err) is TypeError and str(err).startswith(
        "to() received an invalid combination of arguments - got (")


def test_to_refuses_an_unknown_keyword_as_torch():
    same_error(lambda: engine.ones(1).to(foo=1), lambda: torch.ones(1).to(foo=1),
               upto="but expected one of:")


@pytest.mark.parametrize("name", ["float32", "float64", "int64", "int32", "int16", "int8",
                                  "uint8", "bool"])
def test_type_names_and_casts(name):
    e, t = engine.ones(2, dtype=getattr(engine, name)), torch.ones(2, dtype=getattr(torch, name))
    assert e.type() == t.type().replace("torch.", "engine.")
    for target in ("float64", "int16"):
        _same_meta(e.type(getattr(engine, target)), t.type(getattr(torch, target)))
    legacy = t.type()
    _same_meta(e.type(legacy.replace("torch.", "engine.")), t.type(legacy))
    assert e.type(e.dtype) is e and t.type(t.dtype) is t


def test_type_refuses_bad_names_as_torch():
    same_error(lambda: engine.ones(1).type("engine.Foo"), lambda: torch.ones(1).type("torch.Foo"))
    same_error(lambda: engine.ones(1).type(3), lambda: torch.ones(1).type(3))


@pytest.mark.parametrize("method", ["float", "double", "long", "int", "short", "char", "byte",
                                    "bool"])
def test_cast_methods_are_torchs(method):
    e, t = engine.tensor([0.0, 1.7, -2.5]), torch.tensor([0.0, 1.7, -2.5])
    re, rt = getattr(e, method)(), getattr(t, method)()
    _same_meta(re, rt)
    assert re.tolist() == rt.tolist()
    assert (getattr(re, method)() is re) and (getattr(rt, method)() is rt)


def test_casts_between_floats_are_recorded_and_to_integers_are_not():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.grad_fn.name() == "ToCopyBackward0" and x.int().grad_fn is None
    (y * y).sum().backward()
    assert x.grad.dtype is engine.float32 and x.grad.tolist() == [2.0, 4.0]


def test_half_refuses_clearly():
    err = error_of(lambda: engine.ones(2).half())
    assert type(err) is TypeError and "no float16" in str(err)
