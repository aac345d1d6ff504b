"""``engine.nn.functional``: stateless functions used to build networks."""

from engine.ops.loss import binary_cross_entropy_with_logits
from engine.ops.unary import relu, sigmoid, tanh

__all__ = ["binary_cross_entropy_with_logits", "relu", "sigmoid", "tanh"]
