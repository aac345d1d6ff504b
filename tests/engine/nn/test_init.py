"""engine.nn.init against torch.nn.init.

The random draws themselves come from the engine's generator, so the tests compare what
each initialiser asks for: spies on ``uniform_``/``normal_`` (the engine's) and on
``Tensor.uniform_``/``Tensor.normal_`` (torch's) record the bounds and standard deviations,
which must be torch's floats exactly.  Statistics, shapes, gains and errors besides."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch.nn.init import _calculate_fan_in_and_fan_out as torch_fans

import engine
from engine import nn
from engine.nn import init
from engine.ops import generator as stream
from tests.engine._support.autograd_helpers import same_error

SHAPES = [(3, 4), (7, 2), (5, 3, 2, 2), (2, 3, 4, 5, 2), (1, 1)]
INITS: dict[str, Callable[[Any, Any], Any]] = {
    "uniform": lambda ini, t: ini.uniform_(t, -0.3, 0.7),
    "normal": lambda ini, t: ini.normal_(t, mean=1.5, std=0.2),
    "xavier_uniform": lambda ini, t: ini.xavier_uniform_(t),
    "xavier_uniform_gain": lambda ini, t: ini.xavier_uniform_(t, gain=ini.calculate_gain("tanh")),
    "xavier_normal": lambda ini, t: ini.xavier_normal_(t),
    "xavier_normal_gain": lambda ini, t: ini.xavier_normal_(t, gain=0.3),
    "kaiming_uniform": lambda ini, t: ini.kaiming_uniform_(t),
    "kaiming_uniform_linear": lambda ini, t: ini.kaiming_uniform_(t, a=math.sqrt(5)),
    "kaiming_uniform_fan_out_relu": lambda ini, t: ini.kaiming_uniform_(t, mode="fan_out",
                                                                    nonlinearity="relu"),
    "kaiming_normal": lambda ini, t: ini.kaiming_normal_(t),
    "kaiming_normal_upper_mode": lambda ini, t: ini.kaiming_normal_(t, 0.2, "FAN_OUT"),
    "kaiming_normal_tanh": lambda ini, t: ini.kaiming_normal_(t, nonlinearity="tanh"),
    "kaiming_normal_selu": lambda ini, t: ini.kaiming_normal_(t, mode="fan_out",
                                                          nonlinearity="selu"),
}


class _Spy:
    """Records the (low, high) or (mean, std) of every draw, and fills nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float]] = []

    def engine(self, kind: str) -> Callable:
        def fill(tensor: Any, a: float = 0.0, b: float = 1.0) -> Any:
            self.calls.append((kind, a, b))
            return tensor
        return fill

    def torch(self, kind: str) -> Callable:
        def fill(tensor: Any, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Any:
            self.calls.append((kind, a, b))
            return tensor
        return fill


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> tuple[_Spy, _Spy]:
    """(engine spy, torch spy); the random stream refuses to be used directly: ``nn.init``'s
    handle on ``engine.ops.generator`` (its samplers and ``default_generator``) raises on
    any use, and every ``Generator`` refuses to hand out words (the one place any sampler,
    factory or method takes its bits from)."""
    es, ts = _Spy(), _Spy()
    monkeypatch.setattr(init, "uniform_", es.engine("uniform"))
    monkeypatch.setattr(init, "normal_", es.engine("normal"))
    monkeypatch.setattr(torch.Tensor, "uniform_", ts.torch("uniform"))
    monkeypatch.setattr(torch.Tensor, "normal_", ts.torch("normal"))

    class NoDirectDraws:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"an initialiser drew from the generator directly ({name})")

    def no_words(self: stream.Generator, n: int) -> Any:
        raise AssertionError(f"an initialiser drew {n} words from a generator directly")

    assert init.rng is stream  # the name the initialisers would reach the stream by
    monkeypatch.setattr(init, "rng", NoDirectDraws())
    monkeypatch.setattr(stream.Generator, "words", no_words)
    return es, ts


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", [n for n in INITS if n not in ("uniform", "normal")])
def test_each_initialiser_asks_for_torchs_exact_bound_or_std(spies: tuple[_Spy, _Spy],
                                                             name: str, shape: tuple) -> None:
    es, ts = spies
    e, t = engine.zeros(*shape), torch.zeros(*shape)
    assert INITS[name](init, e) is e
    INITS[name](torch.nn.init, t)
    assert len(es.calls) == 1
    assert es.calls == ts.calls  # the same floats, not just close ones


def test_linear_asks_for_torchs_bounds(spies: tuple[_Spy, _Spy]) -> None:
    es, ts = spies
    for fan_in, fan_out in ((3, 2), (10, 7), (1, 1)):
        nn.Linear(fan_in, fan_out)
        torch.nn.Linear(fan_in, fan_out)
    assert len(es.calls) == 6 and es.calls == ts.calls


@pytest.mark.parametrize("dt", [engine.float32, engine.float64], ids=str)
@pytest.mark.parametrize("name", list(INITS))
def test_the_draws_have_the_asked_for_distribution(name: str, dt: Any) -> None:
    """Fill a large tensor for real: in bounds, with the mean and std the formula gives."""
    shape = (400, 300)
    w = INITS[name](init, engine.zeros(*shape, dtype=dt))
    assert w.dtype == dt and w.shape == shape
    v = w.numpy().astype(np.float64)
    fan_in, fan_out = shape[1], shape[0]
    if name == "uniform":
        lo, hi = -0.3, 0.7
    elif name == "normal":
        lo, hi = None, (1.5, 0.2)
    else:
        spy = _Spy()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(torch.Tensor, "uniform_", spy.torch("uniform"))
            mp.setattr(torch.Tensor, "normal_", spy.torch("normal"))
            INITS[name](torch.nn.init, torch.zeros(*shape))
        kind, a, b = spy.calls[0]
        lo, hi = (a, b) if kind == "uniform" else (None, (a, b))
    assert fan_in and fan_out
    if lo is not None:
        assert lo <= v.min() and v.max() <= hi
        assert v.min() < lo + (hi - lo) * 0.01 and v.max() > hi - (hi - lo) * 0.01
        assert abs(v.mean() - (lo + hi) / 2) < (hi - lo) * 0.01
        np.testing.assert_allclose(v.std(), (hi - lo) / math.sqrt(12), rtol=0.02)
    else:
        mean, std = hi
        assert abs(v.mean() - mean) < std * 0.02
        np.testing.assert_allclose(v.std(), std, rtol=0.02)


def test_fan_in_and_fan_out_follow_torch() -> None:
    for shape in SHAPES + [(4, 0), (0, 3, 2)]:
        got = init._calculate_fan_in_and_fan_out(engine.zeros(*shape))
        assert got == torch_fans(torch.zeros(*shape)), shape


@pytest.mark.parametrize(("nonlinearity", "param"), [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("selu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", 3),
    ("leaky_relu", math.sqrt(5))])
def test_calculate_gain_is_torchs(nonlinearity: str, param: float | None) -> None:
    got = init.calculate_gain(nonlinearity, param)
    want = torch.nn.init.calculate_gain(nonlinearity, param)
    assert got == want and type(got) is type(want)


ERRORS: dict[str, Callable[[Any, Any], Any]] = {
    "xavier_uniform_1d": lambda ini, lib: ini.xavier_uniform_(lib.zeros(3)),
    "xavier_normal_0d": lambda ini, lib: ini.xavier_normal_(lib.zeros(())),
    "kaiming_uniform_1d": lambda ini, lib: ini.kaiming_uniform_(lib.zeros(3)),
    "kaiming_normal_1d": lambda ini, lib: ini.kaiming_normal_(lib.zeros(5)),
    "kaiming_mode": lambda ini, lib: ini.kaiming_uniform_(lib.zeros(3, 4), mode="fan_avg"),
    "kaiming_nonlinearity": lambda ini, lib: ini.kaiming_normal_(lib.zeros(3, 4),
                                                             nonlinearity="swish"),
    "gain_unknown": lambda ini, lib: ini.calculate_gain("swish"),
    "gain_slope_string": lambda ini, lib: ini.calculate_gain("leaky_relu", "0.1"),
    "gain_slope_bool": lambda ini, lib: ini.calculate_gain("leaky_relu", True),
    "eye_1d": lambda ini, lib: ini.eye_(lib.zeros(3)),
    "eye_3d": lambda ini, lib: ini.eye_(lib.zeros(2, 2, 2)),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_misuse_raises_torchs_error(name: str) -> None:
    same_error(lambda: ERRORS[name](init, engine), lambda: ERRORS[name](torch.nn.init, torch))


@pytest.mark.parametrize("fn", [init.kaiming_uniform_, init.kaiming_normal_])
def test_kaiming_on_an_empty_tensor_warns_and_does_nothing(fn: Callable) -> None:
    t = engine.zeros(0, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fn(t) is t
        getattr(torch.nn.init, fn.__name__)(torch.zeros(0, 3))
    assert [str(w.message) for w in caught] == ["Initializing zero-element tensors is a "
                                                "no-op"] * 2


@pytest.mark.parametrize("shape", [(2, 3), (4, 4), (3, 1)])
def test_deterministic_fills_equal_torchs(shape: tuple) -> None:
    for name, fn in (("zeros_", lambda ini, t: ini.zeros_(t)),
                     ("ones_", lambda ini, t: ini.ones_(t)),
                     ("constant_", lambda ini, t: ini.constant_(t, -0.25)),
                     ("eye_", lambda ini, t: ini.eye_(t))):
        e, t = engine.full(shape, 7.0), torch.full(shape, 7.0)
        assert fn(init, e) is e, name
        fn(torch.nn.init, t)
        assert e.tolist() == t.tolist(), name


def test_initialising_a_parameter_records_nothing_and_keeps_it_a_leaf() -> None:
    layer = nn.Linear(4, 3)
    for fn in (init.xavier_uniform_, init.kaiming_normal_, init.zeros_, init.eye_):
        before = layer.weight._vc[0]
        out = fn(layer.weight)
        assert out is layer.weight and out.grad_fn is None and out.is_leaf
        assert out.requires_grad and layer.weight._vc[0] == before + 1
    layer(engine.ones(2, 4)).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy(), np.full((3, 4), 2.0))
