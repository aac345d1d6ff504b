"""Every random draw of the samplers, ``random_split`` and the loader, made with the same
calls, in the same order, as torch's: a seeded engine then shuffles exactly like a seeded
torch, because the engine's generator reproduces torch's CPU stream.

This module is the one place the data package reaches the random stream.
"""

from __future__ import annotations

from typing import Any

from engine._base import dtypes
from engine.ops import creation, random


def seed_draw(generator: Any = None) -> int:
    """One 63-bit draw, as torch's ``empty((), dtype=int64).random_(generator=...)``."""
    return int(creation.empty((), dtype=dtypes.int64).random_(generator=generator).item())


def fresh_generator() -> Any:
    """A new generator seeded from the global stream, as ``RandomSampler`` makes one per epoch
    when it was given none."""
    generator = random.Generator()
    generator.manual_seed(seed_draw())
    return generator


def permutation(n: int, generator: Any) -> list[int]:
    """``randperm(n, generator=generator)`` as a list."""
    return random.randperm(n, generator=generator).tolist()


def integers(high: int, size: int, generator: Any) -> list[int]:
    """``size`` draws from ``[0, high)``, as ``randint(high=..., size=(size,), ...)``."""
    return random.randint(high=high, size=(size,), dtype=dtypes.int64,
                            generator=generator).tolist()
