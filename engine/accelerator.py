"""``engine.accelerator``: torch's device-neutral queries, answered as on a CPU-only torch."""

from __future__ import annotations


def is_available() -> bool:
    """Always False: the CPU is not an accelerator.

    >>> engine.accelerator.is_available()
    False
    """
    return False


def current_accelerator(check_available: bool = False) -> None:
    """None, as torch answers on a machine without one.

    >>> engine.accelerator.current_accelerator() is None
    True
    """
    return None


def device_count() -> int:
    """Always 0.

    >>> engine.accelerator.device_count()
    0
    """
    return 0


__all__ = ["current_accelerator", "device_count", "is_available"]
