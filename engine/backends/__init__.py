"""``engine.backends``: what torch.backends answers about devices JitGrad does not use."""

from engine.backends import mps

__all__ = ["mps"]
