"""``engine.cuda``: JitGrad runs on the CPU, so there is no CUDA device to find."""

from __future__ import annotations


def is_available() -> bool:
    """Always False.

    >>> engine.cuda.is_available()
    False
    """
    return False


def device_count() -> int:
    """Always 0.

    >>> engine.cuda.device_count()
    0
    """
    return 0


__all__ = ["device_count", "is_available"]
