"""``engine.nn``: neural-network building blocks (``functional`` for now)."""

from engine.nn import functional

__all__ = ["functional"]
