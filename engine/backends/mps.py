"""``engine.backends.mps``: no Apple GPU backend; JitGrad runs on the CPU."""

from __future__ import annotations


def is_available() -> bool:
    """Always False.

    >>> engine.backends.mps.is_available(), engine.backends.mps.is_built()
    (False, False)
    """
    return False


def is_built() -> bool:
    """Always False: the engine is built without MPS.

    >>> engine.backends.mps.is_built()
    False
    """
    return False


__all__ = ["is_available", "is_built"]
