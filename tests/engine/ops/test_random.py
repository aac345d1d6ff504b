"""The random stream against torch's CPU generator: the same seed gives the same bits.

Every sampler is run on both libraries after the same seed and the values compared with
``np.array_equal`` (bit for bit, not to a tolerance), for small sizes (below, at and
above torch's 16-value normal block) and large ones, float32 and float64, several seeds,
and in interleaved sequences, since each call must advance the state exactly as torch's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine

SIZES = [1, 3, 15, 16, 17, 100, 1000, 100003]
SEEDS = [0, 1, 12345, 2**32 + 7]
DTYPES = ["float32", "float64"]


def _np(t: Any) -> np.ndarray:
    return t.numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _same(a: Any, b: Any) -> None:
    x, y = _np(a), _np(b)
    assert x.dtype == y.dtype and x.shape == y.shape
    assert np.array_equal(x, y), np.flatnonzero(x.ravel() != y.ravel())[:10]


def both(fn: Callable[[Any], Any], seed: int = 0) -> None:
    """Run ``fn(lib)`` after ``lib.manual_seed(seed)`` on torch and the engine; every
    tensor it returns must hold the same bits."""
    torch.manual_seed(seed)
    want = fn(torch)
    engine.manual_seed(seed)
    got = fn(engine)
    for w, g in zip(want, got, strict=True):
        _same(w, g)


def dt(lib: Any, name: str) -> Any:
    return getattr(lib, name)


# ---------------------------------------------------------------- factories
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_rand_randn_match_torch(n: int, dtype: str, seed: int) -> None:
    both(lambda lib: (lib.rand(n, dtype=dt(lib, dtype)), lib.randn(n, dtype=dt(lib, dtype)),
                      lib.randn(n, dtype=dt(lib, dtype))), seed)


@pytest.mark.parametrize("shape", [(2, 3), (4, 5, 3), (0,), (7, 0, 2)])
def test_shapes_and_tuple_sizes(shape: tuple[int, ...]) -> None:
    both(lambda lib: (lib.rand(*shape), lib.randn(shape), lib.randint(3, 9, shape),
                      lib.rand(shape, dtype=lib.float64)))


@pytest.mark.parametrize("seed", SEEDS[:2])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bounds", [(10,), (3, 17), (-5, 5), (0, 2**28 - 1), (0, 2**28),
                                    (-(2**40), 2**40), (-(2**62), 2**62)])
def test_randint_matches_torch(bounds: tuple[int, ...], n: int, seed: int) -> None:
    both(lambda lib: (lib.randint(*bounds, (n,)),), seed)


def test_randint_named_arguments() -> None:
    both(lambda lib: (lib.randint(10, size=(4,)), lib.randint(2, 10, size=(4,)),
                      lib.randint(low=-3, high=3, size=(4,)), lib.randint(high=5, size=(2, 2)),
                      lib.randint_like(lib.zeros(3), high=4)))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_randint_dtypes(dtype: str) -> None:
    both(lambda lib: (lib.randint(0, 1000, (50,), dtype=dt(lib, dtype)),
                      lib.randint(-(2**24), 2**24, (50,), dtype=dt(lib, dtype))))


@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_randint_takes_two_words_from_2_to_the_28(dtype: str) -> None:
    """(float32 takes one word per value at any range; torch warns beyond 2^24 there.)"""
    both(lambda lib: (lib.randint(0, 2**28 - 1, (17,), dtype=dt(lib, dtype)),
                      lib.randint(0, 2**28, (17,), dtype=dt(lib, dtype))))


@pytest.mark.parametrize("seed", SEEDS[:2])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 15, 16, 17, 100, 1000, 100003])
def test_randperm_matches_torch(n: int, seed: int) -> None:
    both(lambda lib: (lib.randperm(n), lib.randperm(n, dtype=lib.float32)), seed)


@pytest.mark.parametrize("n", [3, 16, 17, 100, 1000])
@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_overloads_match_torch(n: int, dtype: str) -> None:
    def draws(lib: Any) -> tuple:
        d = dt(lib, dtype)
        mean = lib.tensor(np.linspace(-2, 2, n), dtype=d)
        std = lib.tensor(np.linspace(0.1, 3, n), dtype=d)
        return (lib.normal(mean, std), lib.normal(mean, 1.7), lib.normal(0.3, std),
                lib.normal(0.3, 1.9, (n,), dtype=d), lib.normal(mean, std.reshape(n, 1)))

    both(draws, 3)


@pytest.mark.parametrize("which", ["mean", "std", "both"])
def test_normal_records_zero_gradients_like_torch(which: str) -> None:
    names, grads = {}, {}
    for lib in (torch, engine):
        m = lib.tensor([0.0, 1.0, 2.0], requires_grad=which != "std")
        s = lib.tensor([[1.0], [2.0]], requires_grad=which != "mean")
        y = lib.normal(m, 1.5) if which == "mean" else lib.normal(
            0.5, s) if which == "std" else lib.normal(m, s)
        names[lib] = type(y.grad_fn).__name__
        y.sum().backward()
        grads[lib] = [t.grad for t in (m, s) if t.requires_grad]
    assert names[engine] == names[torch]
    for w, g in zip(grads[torch], grads[engine], strict=True):
        _same(w, g)


@pytest.mark.parametrize("n", [3, 16, 17, 1000])
@pytest.mark.parametrize("dtype", DTYPES)
def test_like_factories_match_torch(n: int, dtype: str) -> None:
    def draws(lib: Any) -> tuple:
        x = lib.zeros(n, 2, dtype=dt(lib, dtype))
        return (lib.rand_like(x), lib.randn_like(x), lib.randint_like(x, 7),
                lib.randint_like(x, -3, 3), lib.randn_like(x, dtype=lib.float64),
                lib.randint_like(lib.zeros(n, dtype=lib.int64), 5))

    both(draws, 1)


@pytest.mark.parametrize("n", [1, 3, 15, 16, 17, 100, 1000])
@pytest.mark.parametrize("dtype", DTYPES)
def test_inplace_samplers_match_torch(n: int, dtype: str) -> None:
    def draws(lib: Any) -> tuple:
        d = dt(lib, dtype)
        return (lib.zeros(n, dtype=d).normal_(), lib.zeros(n, dtype=d).normal_(0.37, 1.9),
                lib.zeros(n, dtype=d).uniform_(), lib.zeros(n, dtype=d).uniform_(-0.3, 2.7),
                lib.zeros(n, dtype=d).random_(10), lib.zeros(n, dtype=d).random_(-4, 4),
                lib.zeros(n, dtype=lib.int64).random_(2**40), lib.zeros(n, dtype=d).random_(),
                lib.zeros(n, dtype=lib.int64).random_(), lib.zeros(n, dtype=lib.bool).random_())

    both(draws, 5)


@pytest.mark.parametrize("n", [1, 3, 17, 1000])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bernoulli_matches_torch(n: int, dtype: str) -> None:
    """A number p takes a double per value; a tensor p a uniform of its own dtype."""

    def draws(lib: Any) -> tuple:
        d = dt(lib, dtype)
        p = lib.tensor(np.linspace(0, 1, n), dtype=d)
        return (lib.bernoulli(p), p.bernoulli(), lib.zeros(n, dtype=d).bernoulli_(0.3),
                lib.zeros(n, dtype=lib.int64).bernoulli_(),
                lib.zeros(n, dtype=d).bernoulli_(lib.full((n,), 0.7, dtype=lib.float64)),
                lib.zeros(2, n, dtype=d).bernoulli_(lib.full((n,), 0.4)),
                lib.bernoulli(p, 0.6))

    both(draws, 2)


VIEWS = {"transposed": lambda lib, d: lib.zeros(5, 6, dtype=d).t(),
         "small transposed": lambda lib, d: lib.zeros(3, 4, dtype=d).t(),
         "strided": lambda lib, d: lib.zeros(40, dtype=d)[::2],
         "permuted": lambda lib, d: lib.zeros(2, 3, 4, dtype=d).permute(2, 0, 1),
         "row slice": lambda lib, d: lib.zeros(6, 5, dtype=d)[1:4]}


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_views_fill_in_memory_order_like_torch(view: str, dtype: str) -> None:
    """torch fills a view in the order its elements lie in memory, and a non-contiguous
    view's normals come one at a time even from 16 values up."""

    def draws(lib: Any) -> tuple:
        make = VIEWS[view]
        d = dt(lib, dtype)
        out = [make(lib, d).normal_(), make(lib, d).uniform_(-1, 2), make(lib, d).random_(50),
               make(lib, d).bernoulli_(0.4)]
        base = lib.zeros(4, 6, dtype=d)
        base.t().normal_(1.0, 3.0)  # written through the view: the base holds torch's values
        return (*out, base)

    both(draws, 8)


def test_inplace_samplers_return_self_and_bump_the_version() -> None:
    x = engine.zeros(4)
    v = x._version
    assert x.normal_() is x and x.uniform_() is x and x.random_(3) is x
    assert x.bernoulli_(0.5) is x
    assert x._version == v + 4


@pytest.mark.parametrize("seed", SEEDS)
def test_interleaved_sequence_matches_torch(seed: int) -> None:
    """Each call leaves the state where torch's leaves it: odd small normals keep their
    second sample for the next small normal call, across other samplers."""

    def seq(lib: Any) -> tuple:
        return (lib.rand(3), lib.randn(5), lib.randint(0, 10, (7,)), lib.randn(1),
                lib.randn(17), lib.randperm(9), lib.randn(3, dtype=lib.float64),
                lib.rand(100, dtype=lib.float64), lib.randn(2), lib.normal(0.0, 2.0, (1,)),
                lib.randint(-(2**40), 2**40, (3,)), lib.rand(1), lib.randn(100003),
                lib.zeros(3).normal_(), lib.randn(15))

    both(seq, seed)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["rand", "randn", "randint", "randperm"]),
                          st.integers(0, 40), st.sampled_from(DTYPES)), max_size=8),
       st.integers(0, 2**32))
def test_any_sequence_matches_torch(calls: list, seed: int) -> None:
    def seq(lib: Any) -> list:
        out = []
        for name, n, dtype in calls:
            if name == "randint":
                out.append(lib.randint(-3, 50, (n,)))
            elif name == "randperm":
                out.append(lib.randperm(n))
            else:
                out.append(getattr(lib, name)(n, dtype=dt(lib, dtype)))
        return out

    both(seq, seed)


def test_requires_grad_and_device() -> None:
    x = engine.randn(2, 3, requires_grad=True, device="cpu")
    assert x.requires_grad and x.is_leaf and x.dtype == engine.float32
    for fn in (lambda: engine.rand(2, device="cuda"), lambda: engine.randperm(3, device=0),
               lambda: engine.randint(3, (2,), device="cuda:0"),
               lambda: engine.rand_like(x, device="cuda"), lambda: engine.Generator("cuda")):
        with pytest.raises(RuntimeError, match="JitGrad runs on the CPU only"):
            fn()


# ---------------------------------------------------------------- generators and state
def test_generator_objects_are_independent_of_the_default() -> None:
    g = engine.Generator().manual_seed(42)
    tg = torch.Generator().manual_seed(42)
    engine.manual_seed(0)
    torch.manual_seed(0)
    drawn = {}
    for lib, gen in ((torch, tg), (engine, g)):
        drawn[lib] = [lib.rand(4), lib.randn(20, generator=gen), lib.rand(4),
                     lib.randn(3, generator=gen), lib.randint(9, (5,), generator=gen),
                     lib.randperm(6, generator=gen), lib.normal(0.0, 1.0, (4,), generator=gen),
                     lib.zeros(3).uniform_(generator=gen), lib.rand(4)]
    for w, e in zip(drawn[torch], drawn[engine], strict=True):
        _same(w, e)


def test_generator_seeds() -> None:
    g = engine.Generator()
    assert g.initial_seed() == torch.Generator().initial_seed() == 67280421310721
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert engine.manual_seed(7) is engine.default_generator
    assert engine.initial_seed() == 7
    for s in (-1, 2**64 - 1, 1.5):
        assert engine.manual_seed(s).initial_seed() == torch.manual_seed(s).initial_seed()
    s = engine.seed()
    assert engine.initial_seed() == s and 0 <= s < 2**64
    assert g.seed() == g.initial_seed()


@pytest.mark.parametrize("bad", [2**64, -(2**63) - 1])
def test_seed_overflow_says_what_torch_says(bad: int) -> None:
    with pytest.raises(ValueError) as want:
        torch.manual_seed(bad)
    with pytest.raises(ValueError) as got:
        engine.manual_seed(bad)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("draw", [("rand", 0), ("rand", 3), ("randn", 3), ("randn", 624),
                                  ("rand", 624), ("randn", 17), ("rand", 1000)])
def test_state_bytes_equal_torchs(draw: tuple[str, int]) -> None:
    """After the same seed and draws, the 5056 state bytes are torch's (the cached normal
    included), and each library restores the other's state."""

    def run(lib: Any) -> None:
        getattr(lib, draw[0])(draw[1])

    torch.manual_seed(11)
    run(torch)
    want = torch.get_rng_state()
    engine.manual_seed(11)
    run(engine)
    got = engine.get_rng_state()
    assert got.dtype == engine.uint8 and got.shape == (5056,)
    assert repr(got[:20]).replace("engine.", "torch.") == repr(want[:20])
    assert np.array_equal(got.numpy(), want.numpy())
    engine.manual_seed(99)
    engine.set_rng_state(engine.from_numpy(want.numpy().copy()))
    for name, n in (("randn", 3), ("rand", 5), ("randn", 40)):
        _same(getattr(torch, name)(n), getattr(engine, name)(n))
    torch.manual_seed(99)
    torch.set_rng_state(torch.from_numpy(got.numpy().copy()))
    engine.set_rng_state(got)
    _same(torch.randn(7), engine.randn(7))


def test_state_round_trip_restores_the_stream() -> None:
    g = engine.Generator().manual_seed(3)
    engine.randn(5, generator=g)
    state = g.get_state()
    a = [engine.randn(3, generator=g), engine.rand(700, generator=g)]
    g.manual_seed(99)
    assert g.set_state(state) is g
    b = [engine.randn(3, generator=g), engine.rand(700, generator=g)]
    for x, y in zip(a, b, strict=True):
        _same(x, y)
    assert g.initial_seed() == 3


@pytest.mark.parametrize("bad", [lambda lib: lib.zeros(10, dtype=lib.uint8),
                                 lambda lib: lib.zeros(5056)])
def test_bad_state_says_what_torch_says(bad: Callable) -> None:
    with pytest.raises((RuntimeError, TypeError)) as want:
        torch.set_rng_state(bad(torch))
    with pytest.raises((RuntimeError, TypeError)) as got:
        engine.set_rng_state(bad(engine))
    assert type(got.value) is type(want.value) and str(got.value) == str(want.value)


# ---------------------------------------------------------------- modules
@pytest.mark.parametrize("sizes", [(784, 256), (5, 3), (1, 1), (17, 4)])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_linear_initialisation_matches_torch(sizes: tuple[int, int], seed: int) -> None:
    torch.manual_seed(seed)
    want = torch.nn.Linear(*sizes)
    engine.manual_seed(seed)
    got = engine.nn.Linear(*sizes)
    _same(want.weight.detach(), got.weight)
    _same(want.bias.detach(), got.bias)
    both(lambda lib: (lib.randn(3),), seed)  # and the stream goes on from there: see below
    torch.manual_seed(seed)
    torch.nn.Linear(*sizes)
    engine.manual_seed(seed)
    engine.nn.Linear(*sizes)
    _same(torch.randn(5), engine.randn(5))


def test_init_normal_matches_torch() -> None:
    torch.manual_seed(2)
    want = [torch.nn.init.normal_(torch.zeros(n), 0.5, 2.0) for n in (3, 40)]
    engine.manual_seed(2)
    got = [engine.nn.init.normal_(engine.zeros(n), 0.5, 2.0) for n in (3, 40)]
    for w, g in zip(want, got, strict=True):
        _same(w, g)


@pytest.mark.parametrize("n", [1, 20, 1000])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.3, 0.5, 0.9])
def test_dropout_matches_torch(n: int, dtype: str, p: float) -> None:
    def draws(lib: Any) -> tuple:
        x = lib.tensor(np.linspace(-1, 1, n), dtype=dt(lib, dtype))
        return (lib.nn.functional.dropout(x, p), lib.nn.Dropout(p)(x), lib.rand(3))

    both(draws, 4)


# ---------------------------------------------------------------- misuse
ERRORS = [
    lambda lib: lib.randint(5, 3, (2,)),
    lambda lib: lib.randint(3, 3, (2,)),
    lambda lib: lib.randint(0, 3, (2,), dtype=lib.bool),
    lambda lib: lib.randint(0, 3, (2,), requires_grad=True),
    lambda lib: lib.randperm(-1),
    lambda lib: lib.randperm(4, requires_grad=True),
    lambda lib: lib.randn(3, dtype=lib.int64),
    lambda lib: lib.rand(3, dtype=lib.int64),
    lambda lib: lib.rand(3, dtype=lib.bool),
    lambda lib: lib.rand(-1),
    lambda lib: lib.normal(0.0, -1.0, (3,)),
    lambda lib: lib.normal(lib.zeros(3), lib.tensor([1.0, -1.0, 1.0])),
    lambda lib: lib.normal(lib.zeros(3, dtype=lib.int64), 1.0),
    lambda lib: lib.zeros(3).normal_(0, -1),
    lambda lib: lib.zeros(3).uniform_(2, 1),
    lambda lib: lib.zeros(3, dtype=lib.int64).uniform_(0, 1),
    lambda lib: lib.zeros(3, dtype=lib.int64).normal_(),
    lambda lib: lib.rand_like(lib.zeros(3, dtype=lib.int64)),
    lambda lib: lib.randn_like(lib.zeros(3, dtype=lib.int64)),
    lambda lib: lib.zeros(3).random_(3, 2),
    lambda lib: lib.zeros(2, requires_grad=True).normal_(),
    lambda lib: lib.zeros(3).bernoulli_(1.5),
    lambda lib: lib.zeros(3).bernoulli_(-0.1),
    lambda lib: lib.bernoulli(lib.tensor([0.5, 2.0])),
    lambda lib: lib.zeros(2).bernoulli_(lib.tensor([0.5, -1.0])),
]


@pytest.mark.parametrize("call", ERRORS)
def test_misuse_says_what_torch_says(call: Callable) -> None:
    with pytest.raises(Exception) as want:
        call(torch)
    with pytest.raises(Exception) as got:
        call(engine)
    assert type(got.value) is type(want.value)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("call", [lambda lib: lib.randint(3), lambda lib: lib.randint(0, 3, 2),
                                  lambda lib: lib.randint(0.5, 3.5, (2,)),
                                  lambda lib: lib.normal(0.0, 1.0)])
def test_bad_signatures_raise_type_errors(call: Callable) -> None:
    with pytest.raises(TypeError, match="received an invalid combination of arguments"):
        call(torch)
    with pytest.raises(TypeError, match="received an invalid combination of arguments"):
        call(engine)
