"""The random stream (``Generator``: torch's mt19937 and its byte state) and the samplers
that fill numpy arrays from it with torch's transforms (``engine.kernels.random``).

It sits below the op families so that every one of them can draw from it: ``random``
holds the factories and ``Tensor`` methods, ``layers`` draws dropout masks here and
``nn.init`` its weights.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from engine._base import device as _device
from engine._base import dtypes
from engine.kernels import random as rk
from engine.tensor import Tensor, _wrap

_N = 624  # mt19937's words of state
_STATE_BYTES = 5056  # torch's CPUGeneratorImplState
_DEFAULT_SEED = 67280421310721  # torch's seed for a new Generator
_MAX_SEED = (1 << 64) - 1


def _kind(d: np.dtype) -> str:
    return dtypes.from_np(d).tensor_type.removesuffix("Tensor")


class Generator:
    """A random stream: torch's ``Generator`` on the CPU (mt19937, torch's byte state).

    >>> g = engine.Generator().manual_seed(3); a = engine.rand(2, generator=g)
    >>> a.tolist() == engine.rand(2, generator=g.manual_seed(3)).tolist(), g.initial_seed()
    (True, 3)
    """

    def __init__(self, device: Any = None) -> None:
        _device.check(device)
        self.device = _device.CPU
        self._bits = np.random.MT19937()
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed: Any) -> Generator:
        """Restart the stream from ``seed`` (any integer in [-2^63, 2^64)); returns self."""
        seed = int(seed)
        if not -(1 << 63) <= seed <= _MAX_SEED:
            raise ValueError("Overflow when unpacking long long")
        self._seed = seed & _MAX_SEED
        self._bits._legacy_seeding(self._seed & 0xFFFFFFFF)
        self._fresh = True  # torch tells a fresh seed from a used-up block in its state
        self._normal: float | None = None  # the second sample of a scalar Box-Muller pair
        self._float_normal = b"\x00" * 8  # torch's float cache, kept for its state only
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        seed = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed the stream last started from."""
        return self._seed

    def get_state(self) -> Tensor:
        """The state as torch's 5056 bytes (a uint8 tensor): seed, the twister's position
        and its 624 words, the cached normal sample."""
        raw = self._bits.state["state"]
        pos = int(raw["pos"])
        left, nxt = (1, 0 if self._fresh else _N) if pos >= _N else (_N + 1 - pos, pos)
        head = np.array([self._seed], "<u8").tobytes() + np.array([left, 1], "<i4").tobytes()
        normal = np.array([0.0, self._normal or 0.0, 0.0], "<f8").tobytes()
        valid = np.array([self._normal is not None, 0], "<i4").tobytes()
        state = (head + np.array([nxt], "<u8").tobytes()
                 + np.asarray(raw["key"], "<u8").tobytes() + normal + valid
                 + self._float_normal)
        return _wrap(np.frombuffer(state, np.uint8).copy())

    def set_state(self, new_state: Tensor) -> Generator:
        """Restore a state from ``get_state`` (this engine's or torch's); returns self."""
        data = new_state._data if isinstance(new_state, Tensor) else None
        if data is None or data.dtype != np.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        if data.size != _STATE_BYTES:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {_STATE_BYTES} but "
                               f"found the input RNG state size to be {data.size}")
        b = np.ascontiguousarray(data).tobytes()
        left, nxt = int(np.frombuffer(b, "<i4", 1, 8)[0]), int(np.frombuffer(b, "<u8", 1, 16)[0])
        key = np.frombuffer(b, "<u8", _N, 24).astype(np.uint32)
        self._bits.state = {"bit_generator": "MT19937",
                            "state": {"key": key, "pos": _N if left == 1 else nxt}}
        self._seed = int(np.frombuffer(b, "<u8", 1, 0)[0])
        self._fresh = left == 1 and nxt == 0
        valid = np.frombuffer(b, "<i4", 1, 5040)[0]
        self._normal = float(np.frombuffer(b, "<f8", 1, 5024)[0]) if valid else None
        self._float_normal = b[5048:]
        return self

    def words(self, n: int) -> np.ndarray:
        """The next ``n`` 32-bit draws, one per int64."""
        if n:
            self._fresh = False
        return self._bits.random_raw(n).view(np.int64)


default_generator = Generator()
default_generator.seed()  # as torch's: a new seed per process until manual_seed


def get(generator: Generator | None) -> Generator:
    """``generator``, or the default one for None."""
    return default_generator if generator is None else generator


def _store(arr: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Write ``flat`` into ``arr`` in the order its elements lie in memory, as torch fills a
    view (a transposed one column by column); returns ``arr``."""
    view = arr.transpose(np.argsort([-abs(s) for s in arr.strides], kind="stable"))
    view[...] = flat.reshape(view.shape)
    return arr


def _float_dtype(d: np.dtype, kernel: str) -> None:
    if d.kind != "f":
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_kind(d)}\'')


def uniform(arr: np.ndarray, low: float, high: float, gen: Generator) -> np.ndarray:
    """Fill ``arr`` with uniform samples in [low, high), as torch's ``uniform_``; returns it."""
    _float_dtype(arr.dtype, "check_uniform_bounds")
    if low > high:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={low:g} > to={high:g}")
    flat = np.empty(arr.size, arr.dtype)
    rk.uniform_fill(gen.words(arr.size * arr.itemsize // 4), flat, float(low), float(high))
    return _store(arr, flat)


def normal(arr: np.ndarray, mean: float, std: float, gen: Generator) -> np.ndarray:
    """Fill ``arr`` with normal samples, as torch's ``normal_``; returns it."""
    _float_dtype(arr.dtype, "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    n = arr.size
    if n >= 16 and arr.flags.c_contiguous:  # torch's block path
        flat = np.empty(n, arr.dtype)
        tail = 16 if n % 16 else 0
        rk.normal_fill(gen.words((n + tail) * arr.itemsize // 4), flat, float(mean),
                       float(std))
    else:  # one at a time (a view too), the second sample of each pair kept for later
        z = np.empty(n + 1)
        k = 0
        if n and gen._normal is not None:
            z[0], gen._normal, k = gen._normal, None, 1
        pairs = np.empty(2 * ((n - k + 1) // 2))
        rk.normal_pairs(gen.words(2 * pairs.size), pairs)
        z[k:k + pairs.size] = pairs
        if (n - k) % 2:
            gen._normal = float(pairs[-1])
        flat = np.empty(n)
        rk.scale_shift(z[:n], flat, float(mean), float(std))
    return _store(arr, flat)


def randint(arr: np.ndarray, low: int, high: int, gen: Generator) -> np.ndarray:
    """Fill ``arr`` with integers in [low, high), as torch's ``random_(low, high)``;
    returns it."""
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    if arr.dtype == np.bool_ and (low < 0 or high > 2):
        raise RuntimeError("to - 1 is out of bounds for bool")
    span = np.uint64(high - low)
    if high - low >= 1 << 28 and arr.dtype != np.float32:  # two words per value
        w = gen.words(2 * arr.size).view(np.uint64).reshape(-1, 2)
        r = (w[:, 0] << np.uint64(32)) | w[:, 1]
    else:
        r = gen.words(arr.size).view(np.uint64)
    with np.errstate(over="ignore"):
        values = (r % span + np.uint64(low & _MAX_SEED)).view(np.int64)
    return _store(arr, values)


def bernoulli(arr: np.ndarray, p: float | np.ndarray, gen: Generator) -> np.ndarray:
    """Fill ``arr`` with ones where a uniform draw falls below ``p`` (a number: a double per
    value; an array, broadcast to ``arr``: a uniform of its dtype per value); returns it."""
    if isinstance(p, np.ndarray):
        if not ((p >= 0) & (p <= 1)).all():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  "
                               "(Could this error message be improved?  If so, please report "
                               "an enhancement request to PyTorch.)")
        p = np.broadcast_to(p, arr.shape)
        u = uniform(np.empty_like(arr, p.dtype), 0.0, 1.0, gen)
    else:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")
        u = uniform(np.empty_like(arr, np.float64), 0.0, 1.0, gen)
    arr[...] = u < p
    return arr


def permutation(n: int, gen: Generator) -> np.ndarray:
    """``0 .. n-1`` shuffled as torch's ``randperm``."""
    perm = np.arange(n, dtype=np.float64)
    rk.shuffle(gen.words(max(n - 1, 0)), perm)
    return perm.astype(np.int64)
