"""``out=`` on the random factories, against torch: the samples are drawn in ``out``'s dtype
(so a float64 ``out`` holds torch's float64 stream, bit for bit), ``out`` is resized to the
asked-for shape, a ``dtype=`` that is not ``out``'s is refused, and so is an ``out`` that
requires grad; ``bernoulli`` writes its zeros and ones into any dtype."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch

import engine
from tests.engine._support.autograd_helpers import same_error
from tests.engine.ops.test_random import both

CALLS: dict[str, Callable[[Any, Any], Any]] = {
    "rand": lambda lib, o: lib.rand(17, out=o),
    "rand_tuple": lambda lib, o: lib.rand((2, 9), out=o),
    "randn": lambda lib, o: lib.randn(17, out=o),
    "randint": lambda lib, o: lib.randint(3, 10, (17,), out=o),
    "randperm": lambda lib, o: lib.randperm(17, out=o),
    "normal_numbers": lambda lib, o: lib.normal(2.0, 3.0, (17,), out=o),
    "normal_tensor_mean": lambda lib, o: lib.normal(lib.arange(17.0), 0.5, out=o),
    "normal_tensor_std": lambda lib, o: lib.normal(1.0, lib.arange(17.0), out=o),
    "normal_tensors": lambda lib, o: lib.normal(lib.arange(17.0), lib.ones(17, dtype=lib.float64),
                                               out=o),
    "bernoulli": lambda lib, o: lib.bernoulli(lib.linspace(0, 1, 17), out=o),
}
FLOAT_ONLY = {"rand", "rand_tuple", "randn", "normal_numbers", "normal_tensor_mean",
              "normal_tensor_std", "normal_tensors"}


@pytest.mark.parametrize("out_dtype", ["float32", "float64", "int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("seed", [0, 7])
def test_out_holds_torchs_samples_in_its_dtype(name: str, out_dtype: str, seed: int) -> None:
    if name in FLOAT_ONLY and out_dtype not in ("float32", "float64") or (
            name == "randperm" and out_dtype in ("bool", "uint8")) or (
            name == "randint" and out_dtype == "bool"):
        return  # refused: test_refused_out_dtypes_raise_torchs_errors
    holders = {}

    def run(lib: Any) -> tuple:
        o = lib.empty(17 if name != "rand_tuple" else 18, dtype=getattr(lib, out_dtype))
        holders[lib.__name__] = o
        return CALLS[name](lib, o), o

    both(run, seed)
    assert holders["engine"].shape == holders["torch"].shape


@pytest.mark.parametrize("name", ["rand", "randn", "randint", "randperm", "normal_numbers",
                                  "bernoulli"])
@pytest.mark.parametrize("size", [0, 5, 40])
def test_out_of_another_size_is_resized_silently(name: str, size: int) -> None:
    def run(lib: Any) -> tuple:
        o = lib.zeros(size)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = CALLS[name](lib, o)
        assert res is o
        return (o,)

    both(run)


def test_normal_of_tensors_warns_as_torch_when_it_resizes() -> None:
    texts = []
    for lib in (torch, engine):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            o = lib.zeros(5)
            lib.normal(lib.zeros(2), lib.ones(2), out=o)
        # torch adds where in its C++ the warning was raised
        texts.append([str(w.message).split(" (Triggered internally")[0] for w in caught])
        assert o.shape == (2,)
    assert texts[0] == texts[1] and len(texts[0]) == 1


def test_normal_of_a_tensor_mean_samples_in_outs_shape_broadcast_with_the_mean() -> None:
    both(lambda lib: (lib.normal(lib.arange(2.0), 0.5, out=lib.empty(3, 2)),))


ERRORS: list[Callable[[Any], Any]] = [
    lambda lib: lib.normal(lib.zeros(2), 1.0, out=lib.empty(0)),
    lambda lib: lib.normal(lib.zeros(2), 1.0, out=lib.empty(5)),
    lambda lib: lib.rand(3, out=lib.empty(3, dtype=lib.int64)),
    lambda lib: lib.randn(3, out=lib.empty(3, dtype=lib.int32)),
    lambda lib: lib.rand(3, out=lib.empty(3), dtype=lib.float64),
    lambda lib: lib.randint(10, (3,), out=lib.empty(3), dtype=lib.int64),
    lambda lib: lib.randperm(5, out=lib.empty(5, dtype=lib.int64), dtype=lib.int32),
    lambda lib: lib.normal(0.0, 1.0, (3,), out=lib.empty(3), dtype=lib.float64),
    lambda lib: lib.normal(lib.zeros(2), 1.0, out=lib.empty(2, dtype=lib.int64)),
    lambda lib: lib.rand(3, out=lib.empty(3, requires_grad=True)),
    lambda lib: lib.randint(3, (3,), out=lib.empty(3, requires_grad=True)),
    lambda lib: lib.randperm(3, out=lib.empty(3, requires_grad=True)),
    lambda lib: lib.normal(0.0, 1.0, (3,), out=lib.empty(3, requires_grad=True)),
    lambda lib: lib.normal(lib.zeros(2, requires_grad=True), 1.0, out=lib.empty(2)),
    lambda lib: lib.bernoulli(lib.full((2,), 0.5, requires_grad=True), out=lib.empty(2)),
    lambda lib: lib.randperm(5, out=lib.empty(5, dtype=lib.bool)),
    lambda lib: lib.randperm(257, out=lib.empty(0, dtype=lib.uint8)),
    lambda lib: lib.randperm(129, dtype=lib.int8),
    lambda lib: lib.randperm(32769, dtype=lib.int16),
]


@pytest.mark.parametrize(("n", "dtype"), [(256, "uint8"), (128, "int8"), (32768, "int16")])
def test_randperm_fills_every_value_a_small_dtype_holds(n: int, dtype: str) -> None:
    both(lambda lib: (lib.randperm(n, dtype=getattr(lib, dtype)),))


@pytest.mark.parametrize("call", ERRORS)
def test_refused_out_dtypes_raise_torchs_errors(call: Callable) -> None:
    same_error(lambda: call(engine), lambda: call(torch))


def test_bernoulli_takes_no_out_with_a_number_p() -> None:
    for lib in (torch, engine):
        with pytest.raises(TypeError, match="received an invalid combination of arguments"):
            lib.bernoulli(lib.zeros(3), 0.5, out=lib.empty(3))
