"""Devices: everything lives on the CPU, as on a CPU-only torch; asking for another device
gets one clear error. torch (2.13, CPU build) is the oracle for what the queries answer."""

import numpy as np
import pytest
import torch

import engine
from tests.engine._support.autograd_helpers import error_of, same_error

CPU_ONLY = "JitGrad runs on the CPU only: device '{}' is not available"

FACTORIES = {  # every non-random factory, called with a device
    "tensor": lambda lib, d: lib.tensor([1.0, 2.0], device=d),
    "zeros": lambda lib, d: lib.zeros(2, 3, device=d),
    "ones": lambda lib, d: lib.ones((2,), device=d),
    "full": lambda lib, d: lib.full((2,), 1.5, device=d),
    "eye": lambda lib, d: lib.eye(2, device=d),
    "arange": lambda lib, d: lib.arange(3, device=d),
    "linspace": lambda lib, d: lib.linspace(0, 1, 5, device=d),
    "logspace": lambda lib, d: lib.logspace(0, 1, 5, device=d),
    "empty": lambda lib, d: lib.empty(2, device=d),
    "zeros_like": lambda lib, d: lib.zeros_like(lib.ones(2), device=d),
    "ones_like": lambda lib, d: lib.ones_like(lib.ones(2), device=d),
    "full_like": lambda lib, d: lib.full_like(lib.ones(2), 3.0, device=d),
    "empty_like": lambda lib, d: lib.empty_like(lib.ones(2), device=d),
    "new_tensor": lambda lib, d: lib.ones(2).new_tensor([1.0], device=d),
    "new_zeros": lambda lib, d: lib.ones(2).new_zeros(2, device=d),
    "new_ones": lambda lib, d: lib.ones(2).new_ones(2, device=d),
    "new_full": lambda lib, d: lib.ones(2).new_full((2,), 1.0, device=d),
    "new_empty": lambda lib, d: lib.ones(2).new_empty(2, device=d),
}


def test_the_queries_answer_as_a_cpu_only_torch():
    pairs = [
        (engine.cuda.is_available(), torch.cuda.is_available()),
        (engine.cuda.device_count(), torch.cuda.device_count()),
        (engine.backends.mps.is_available(), torch.backends.mps.is_available()),
        (engine.backends.mps.is_built(), torch.backends.mps.is_built()),
        (engine.accelerator.is_available(), torch.accelerator.is_available()),
        (engine.accelerator.current_accelerator(), torch.accelerator.current_accelerator()),
        (engine.accelerator.device_count(), torch.accelerator.device_count()),
    ]
    assert [e for e, _ in pairs] == [t for _, t in pairs] == [False, 0, False, False, False,
                                                               None, 0]


def test_a_tensor_is_on_the_cpu():
    e, t = engine.ones(2), torch.ones(2)
    assert repr(e.device) == repr(t.device) == "device(type='cpu')"
    assert e.device == engine.device("cpu") and e.device.type == "cpu"
    assert e.is_cuda is t.is_cuda is False


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("where", ["cpu", "cpu:0", None])
def test_factories_take_the_cpu(name, where):
    e = FACTORIES[name](engine, where if where is None else engine.device(where))
    t = FACTORIES[name](torch, where)
    assert e.device == engine.device("cpu")
    assert e.dtype.name == str(t.dtype).removeprefix("torch.")
    assert tuple(e.shape) == tuple(t.shape)


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("where", ["cuda", "cuda:1", "mps", engine.device("cuda", 0)])
def test_factories_refuse_other_devices(name, where):
    err = error_of(lambda: FACTORIES[name](engine, where))
    assert type(err) is RuntimeError
    assert str(err).startswith(CPU_ONLY.format(engine.device(where)))
    assert "engine.cuda.is_available() is False" in str(err)


@pytest.mark.parametrize("call", [
    lambda x: x.cuda(), lambda x: x.cuda(0), lambda x: x.to("cuda"), lambda x: x.to("mps"),
    lambda x: x.to(device="cuda:0"), lambda x: x.to(engine.device("cuda"), engine.float64),
    lambda x: x.to(1), lambda x: x.type("torch.cuda.FloatTensor"),
])
def test_conversions_refuse_other_devices(call):
    err = error_of(lambda: call(engine.ones(2)))
    assert type(err) is RuntimeError and str(err).startswith("JitGrad runs on the CPU only")


def test_cpu_and_to_cpu_return_the_tensor_itself():
    e, t = engine.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    for lib_x in (e, t):
        assert lib_x.cpu() is lib_x
        assert lib_x.to("cpu") is lib_x
        assert lib_x.to(lib_x.device) is lib_x
        assert lib_x.to(device="cpu", non_blocking=True) is lib_x


@pytest.mark.parametrize("spec", ["cpu", "cpu:0", "cuda:3", "mps", "meta"])
def test_device_objects_match_torch(spec):
    e, t = engine.device(spec), torch.device(spec)
    assert (repr(e), str(e), e.type, e.index) == (repr(t), str(t), t.type, t.index)
    assert e == engine.device(e) and hash(e) == hash(engine.device(spec))


@pytest.mark.parametrize("args", [
    ("gpu",), ("cpu:x",), ("cpu:-1",), ("Cpu",), (" cpu",), ("cuda:01",), ("cpu:",), ("a:b:c",),
    ("cuda_x",), ("cpu", -1), ("cpu:0", 1), ("cpu", "x"), (0,), (3.5,), (None,), (),
])
def test_bad_device_arguments_get_torch_errors(args):
    same_error(lambda: engine.device(*args), lambda: torch.device(*args))


def test_the_device_check_lets_only_the_cpu_through():
    from engine._base import device as dev

    assert dev.check(None) == dev.check("cpu") == dev.check(engine.device("cpu", 0)) == dev.CPU
    assert "'cuda:2'" in str(error_of(lambda: dev.check(2)))  # an int is a CUDA ordinal
    np.testing.assert_array_equal(engine.zeros(2, device="cpu").numpy(), np.zeros(2))


@pytest.mark.parametrize("call", [
    lambda m: m.to("cuda"), lambda m: m.to(device="mps"), lambda m: m.to(engine.device("cuda", 1)),
    lambda m: m.cuda(), lambda m: m.cuda(0), lambda m: m.to(0),
])
def test_modules_refuse_other_devices(call):
    err = error_of(lambda: call(engine.nn.Linear(2, 1)))
    assert type(err) is RuntimeError and str(err).startswith("JitGrad runs on the CPU only")


def test_modules_stay_on_the_cpu():
    m = engine.nn.Linear(2, 1)
    assert m.cpu() is m and m.to("cpu") is m and m.to(engine.device("cpu")) is m
    assert m.to("cpu", engine.float64).weight.dtype is engine.float64
    assert m.weight.device == engine.device("cpu")


@pytest.mark.parametrize("dev", ["cpu", None, engine.device("cpu")])
def test_set_default_device_takes_the_cpu(dev):
    engine.set_default_device(dev)
    assert engine.get_default_device() == engine.device("cpu")
    assert str(engine.get_default_device()) == str(torch.get_default_device())
    assert engine.zeros(2).device == engine.device("cpu")


@pytest.mark.parametrize("dev", ["cuda", "mps", "cuda:1"])
def test_set_default_device_refuses_other_devices_at_once(dev):
    with pytest.raises(RuntimeError, match=CPU_ONLY.format(dev)):
        engine.set_default_device(dev)
    assert engine.get_default_device() == engine.device("cpu")
