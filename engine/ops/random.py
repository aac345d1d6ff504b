"""Random numbers: torch's CPU stream, value for value.

After ``engine.manual_seed(s)`` every sampler here returns exactly the bits torch's CPU
generator returns after ``torch.manual_seed(s)``, so a tutorial's printed numbers, a
model's initial weights and a training run's losses are torch's own.  The stream is a
Mersenne Twister (mt19937) seeded by ``seed & 0xffffffff``; numpy's ``MT19937`` with its
legacy seeding yields the same 32-bit words, fast, and ``engine.kernels.random`` turns
them into values with torch's transforms (uniforms, Box-Muller normals in blocks of 16,
the one-at-a-time normals that keep a second sample for later, ``randperm``'s shuffle).
``Generator.get_state`` has torch's 5056-byte layout: a state taken from torch restores
here, and the other way round.

>>> _ = engine.manual_seed(0); engine.rand(3)
tensor([0.4963, 0.7682, 0.0885])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine._base import device as _device
from engine._base import dtypes
from engine._base.arrays import broadcast_shape, np_dtype
from engine.graph import Node
from engine.ops import generator as rng
from engine.ops.base import const, edge, out, recording, takes_out
from engine.ops.creation import _FACTORY_DTYPE, _factory, _finish, _shape
from engine.ops.generator import Generator, default_generator
from engine.ops.inplace import check_inplace
from engine.tensor import Tensor, _wrap


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; returns it.

    >>> _ = engine.manual_seed(0); a = engine.randn(3)
    >>> _ = engine.manual_seed(0); a.tolist() == engine.randn(3).tolist()
    True
    """
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system; returns the seed.

    >>> s = engine.seed(); engine.initial_seed() == s
    True
    """
    return default_generator.seed()


def initial_seed() -> int:
    """The default generator's last seed.

    >>> _ = engine.manual_seed(7); engine.initial_seed()
    7
    """
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state: torch's 5056 bytes.

    >>> s = engine.get_rng_state(); a = engine.rand(2); _ = engine.set_rng_state(s)
    >>> engine.rand(2).tolist() == a.tolist(), s.shape
    (True, engine.Size([5056]))
    """
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restore the default generator from ``get_rng_state`` (or ``torch.get_rng_state``).

    >>> _ = engine.set_rng_state(engine.manual_seed(1).get_state()); engine.initial_seed()
    1
    """
    default_generator.set_state(new_state)


# ---------------------------------------------------------------- factories
def _new(size: Sequence[Any], dtype: dtypes.dtype | None, device: Any) -> np.ndarray:
    _device.check(device)
    dims = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    for s in dims:  # torch's random factories word it unlike ``zeros``
        if int(s) < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {int(s)}: "
                               f"{[int(d) for d in dims]}")
    return np.empty(_shape(size), np_dtype(dtype))


@_factory("rand")
def rand(*size: Any, generator: Generator | None = None, dtype: dtypes.dtype | None = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1): ``rand(2, 3)`` or ``rand((2, 3))``.

    >>> _ = engine.manual_seed(0); engine.rand(2, dtype=engine.float64)
    tensor([0.9701, 0.7078], dtype=engine.float64)
    """
    arr = _new(size, dtype, device)
    rng.uniform(arr, 0.0, 1.0, rng.get(generator))
    return _finish(arr, requires_grad)


@_factory("randn")
def randn(*size: Any, generator: Generator | None = None, dtype: dtypes.dtype | None = None,
          device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples.

    >>> _ = engine.manual_seed(0); engine.randn(3)
    tensor([ 1.5410, -0.2934, -2.1788])
    """
    arr = _new(size, dtype, device)
    rng.normal(arr, 0.0, 1.0, rng.get(generator))
    return _finish(arr, requires_grad)


@_factory("randint")
def randint(*args: Any, low: int | None = None, high: int | None = None,
            size: Sequence[int] | None = None, generator: Generator | None = None,
            dtype: dtypes.dtype | None = None, device: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Integers in ``[low, high)``: ``randint(high, size)`` or ``randint(low, high, size)``
    (the later arguments may be named: ``randint(10, size=(5,))``).

    >>> _ = engine.manual_seed(0); engine.randint(10, (5,)), engine.randint(3, 6, size=(2,))
    (tensor([4, 9, 3, 0, 3]), tensor([3, 4]))
    """
    args = (*args, *(v for v in (low, high, size) if v is not None))
    if len(args) == 2:
        args = (0, *args)
    if len(args) != 3 or not all(isinstance(a, (int, np.integer)) for a in args[:2]) or \
            not isinstance(args[2], (tuple, list)):
        got = ", ".join(type(a).__name__ for a in args)
        raise TypeError(f"randint() received an invalid combination of arguments - got "
                        f"({got}), but expected (int high, tuple of ints size) or "
                        f"(int low, int high, tuple of ints size)")
    low, high, size = args
    arr = _new((size,), dtype or dtypes.int64, device)
    rng.randint(arr, int(low), int(high), rng.get(generator))
    return _finish(arr, requires_grad)


@_factory("randperm")
def randperm(n: int, *, generator: Generator | None = None,
             dtype: dtypes.dtype | None = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of ``0 .. n-1``.

    >>> _ = engine.manual_seed(0); engine.randperm(5)
    tensor([4, 0, 1, 3, 2])
    """
    arr = _new((n,), dtype or dtypes.int64, device)
    if arr.dtype == np.bool_:
        raise NotImplementedError("\"randperm\" not implemented for 'Bool'")
    if arr.dtype.kind in "iu" and n - 1 > np.iinfo(arr.dtype).max:  # (int8_t, ...: C's names)
        raise RuntimeError(f"value cannot be converted to type {arr.dtype.name}_t without "
                           "overflow")
    arr[...] = rng.permutation(n, rng.get(generator))
    return _finish(arr, requires_grad)


def _like(t: Tensor, dtype: dtypes.dtype | None, device: Any) -> np.ndarray:
    _device.check(device)
    return np.empty(t._data.shape, t._data.dtype if dtype is None else np_dtype(dtype))


def rand_like(input: Tensor, *, generator: Generator | None = None,  # noqa: A002
              dtype: dtypes.dtype | None = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Uniform samples in ``input``'s shape and dtype (or ``dtype``).

    >>> engine.rand_like(engine.zeros(2, 3)).shape
    engine.Size([2, 3])
    """
    arr = _like(input, dtype, device)
    rng.uniform(arr, 0.0, 1.0, rng.get(generator))
    return _finish(arr, requires_grad)


def randn_like(input: Tensor, *, generator: Generator | None = None,  # noqa: A002
               dtype: dtypes.dtype | None = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """Standard normal samples in ``input``'s shape; the dtype must be floating.

    >>> engine.randn_like(engine.zeros(2, 3)).shape
    engine.Size([2, 3])
    """
    arr = _like(input, dtype, device)
    rng.normal(arr, 0.0, 1.0, rng.get(generator))
    return _finish(arr, requires_grad)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *,  # noqa: A002
                 generator: Generator | None = None, dtype: dtypes.dtype | None = None,
                 device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers in ``[low, high)`` (or ``[0, low)``) in ``input``'s shape and dtype.

    >>> _ = engine.manual_seed(0); engine.randint_like(engine.zeros(3), 10)
    tensor([4., 9., 3.])
    """
    if high is None:
        low, high = 0, low
    arr = _like(input, dtype, device)
    rng.randint(arr, int(low), int(high), rng.get(generator))
    return _finish(arr, requires_grad)


class NormalBackward1(Node):
    """``normal(mean_t, std)``: a sample does not move with its mean's value; torch sends
    the mean a zero gradient (its ``NormalBackward2`` and ``3`` do the same for the stds)."""

    __slots__ = ("shapes",)

    def apply(self, grads: list) -> tuple:
        return tuple(None if fn is None else np.zeros(shape, grads[0].dtype)
                     for (fn, _), shape in zip(self.next_functions, self.shapes, strict=True))

    def apply_graph(self, grads: list) -> tuple:
        return tuple(g if g is None else const(g) for g in self.apply(
            [np.empty(0, grads[0]._data.dtype)]))


class NormalBackward2(NormalBackward1):
    __slots__ = ()


class NormalBackward3(NormalBackward1):
    __slots__ = ()


def normal(mean: Any, std: Any = 1.0, size: Sequence[int] | None = None, *,
           generator: Generator | None = None, out: Tensor | None = None,
           dtype: dtypes.dtype | None = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Normal samples: ``normal(mean_t, std_t)`` (broadcast), ``normal(mean_t, 1.0)``,
    ``normal(0.0, std_t)`` or ``normal(0.0, 1.0, size)``, computed as torch does; with
    ``out=`` the samples are drawn in ``out``'s dtype (torch's ``normal_`` on ``out``).

    >>> _ = engine.manual_seed(0); engine.normal(engine.tensor([0.0, 10.0]), 1.0)
    tensor([1.5410, 9.7066])
    """
    if isinstance(mean, Tensor) and not isinstance(std, Tensor) and isinstance(out, Tensor):
        # torch samples in out's shape broadcast with the mean's: an empty out is refused
        shape = broadcast_shape(mean._data.shape, out._data.shape)
        return _normal_of_tensors(mean, std, shape, generator=generator, out=out)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        return _normal_of_tensors(mean, std, generator=generator, out=out)
    return _normal_of_numbers(mean, std, size, generator=generator, out=out, dtype=dtype,
                              device=device, requires_grad=requires_grad)


@_factory("normal")
def _normal_of_numbers(mean: float, std: float, size: Sequence[int] | None, *,
                       generator: Generator | None, dtype: dtypes.dtype | None,
                       device: Any, requires_grad: bool) -> Tensor:
    if size is None:
        raise TypeError("normal() received an invalid combination of arguments - got "
                        "(float, float), but expected (float mean, float std, "
                        "tuple of ints size)")
    arr = _new((size,), dtype, device)
    rng.normal(arr, float(mean), float(std), rng.get(generator))
    return _finish(arr, requires_grad)


@takes_out(rule="dtype", message=_FACTORY_DTYPE, name="normal")
def _normal_of_tensors(mean: Any, std: Any, shape: tuple[int, ...] | None = None, *,
                       generator: Generator | None = None,
                       dtype: dtypes.dtype | None = None) -> Tensor:
    """torch's order: samples of ``std`` (a number) then the mean added, or standard samples
    scaled by the stds then shifted, each step in place in the result's dtype (``out``'s
    when given, else the mean's, or the stds' for a number mean)."""
    gen = rng.get(generator)
    m_t, s_t = isinstance(mean, Tensor), isinstance(std, Tensor)
    if s_t and (std._data < 0).any():
        raise RuntimeError("normal expects all elements of std >= 0.0")
    d = np_dtype(dtype) if dtype is not None else (mean if m_t else std)._data.dtype
    if not s_t:
        res = rng.normal(np.empty(shape or mean._data.shape, d), 0.0, float(std), gen)
    else:
        shape = broadcast_shape(mean._data.shape, std._data.shape) if m_t else std._data.shape
        res = rng.normal(np.empty(shape, d), 0.0, 1.0, gen)
        np.multiply(res, std._data, out=res, casting="unsafe")
    np.add(res, mean._data if m_t else mean, out=res, casting="unsafe")
    inputs = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not recording(*inputs):
        return out(res)
    node = (NormalBackward3 if len(inputs) == 2 else NormalBackward1 if m_t
            else NormalBackward2)(tuple(edge(t) for t in inputs))
    node.shapes = [t._data.shape for t in inputs]
    return out(res, node)


def bernoulli(input: Tensor, p: float | None = None, *,  # noqa: A002
              generator: Generator | None = None, out: Tensor | None = None) -> Tensor:
    """Ones with probability ``input`` (a tensor of probabilities), or ``p`` if given;
    ``out=`` (not with ``p``, as in torch) takes the zeros and ones in any dtype.

    >>> _ = engine.manual_seed(0); engine.bernoulli(engine.tensor([0.1, 0.9, 0.5]))
    tensor([0., 1., 1.])
    """
    if out is not None and p is not None:
        raise TypeError("bernoulli() received an invalid combination of arguments - got "
                        "(Tensor, float, out=Tensor), but expected (Tensor input, *, "
                        "Generator generator, Tensor out) or (Tensor input, float p, *, "
                        "Generator generator)")
    return _bernoulli(input, p, generator=generator, out=out)


@takes_out(rule="any", name="bernoulli", resize_warning=False)  # torch resizes silently
def _bernoulli(input: Tensor, p: float | None, *,  # noqa: A002
               generator: Generator | None) -> Tensor:
    arr = np.empty(input._data.shape, input._data.dtype)
    rng.bernoulli(arr, input._data if p is None else float(p), rng.get(generator))
    return _wrap(arr)


# ---------------------------------------------------------------- in-place samplers
def _fill_(self: Tensor, sample: Any, *args: Any) -> Tensor:
    check_inplace(self)
    sample(self._data, *args)
    self._vc[0] += 1
    return self


def uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *,
             generator: Generator | None = None) -> Tensor:
    """Fill with uniform samples in ``[from_, to)``.

    >>> _ = engine.manual_seed(0); engine.zeros(2).uniform_(-1, 1)
    tensor([-0.0075,  0.5364])
    """
    return _fill_(self, rng.uniform, from_, to, rng.get(generator))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    """Fill with normal samples.

    >>> _ = engine.manual_seed(0); engine.zeros(2).normal_(10, 2)
    tensor([13.0820,  9.4131])
    """
    return _fill_(self, rng.normal, mean, std, rng.get(generator))


# random_() with no bounds: every integer the dtype holds exactly (torch's ranges)
_FULL_RANGE = {np.dtype(np.float32): 2**24 + 1, np.dtype(np.float64): 2**53 + 1,
               np.dtype(np.int64): 2**63, np.dtype(np.bool_): 2}


def random_(self: Tensor, from_: int | None = None, to: int | None = None, *,
            generator: Generator | None = None) -> Tensor:
    """Fill with integers in ``[from_, to)``; ``random_(to)`` means ``[0, to)`` and
    ``random_()`` every integer the dtype holds exactly (``[0, 2^24]`` for float32).

    >>> _ = engine.manual_seed(0); engine.zeros(3).random_(10)
    tensor([4., 9., 3.])
    """
    if to is None:
        from_, to = 0, (_FULL_RANGE[self._data.dtype] if from_ is None else from_)
    return _fill_(self, rng.randint, int(from_), int(to), rng.get(generator))


def bernoulli_(self: Tensor, p: float | Tensor = 0.5, *,
               generator: Generator | None = None) -> Tensor:
    """Fill with ones with probability ``p`` (a number, or a tensor of ``self``'s shape).

    >>> _ = engine.manual_seed(0); engine.zeros(4).bernoulli_(0.5)
    tensor([0., 0., 1., 0.])
    """
    prob = p._data if isinstance(p, Tensor) else float(p)
    return _fill_(self, rng.bernoulli, prob, rng.get(generator))


__all__ = ["Generator", "bernoulli", "default_generator", "get_rng_state", "initial_seed",
           "manual_seed", "normal", "rand", "rand_like", "randint", "randint_like", "randn",
           "randn_like", "randperm", "seed", "set_rng_state"]
METHODS = {"bernoulli": bernoulli, "bernoulli_": bernoulli_, "normal_": normal_,
           "random_": random_, "uniform_": uniform_}
