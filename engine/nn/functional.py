"""``engine.nn.functional``: stateless functions used to build networks."""

from engine.ops.activation import elu, gelu, leaky_relu, log_softmax, silu, softmax, softplus
from engine.ops.layers import dropout, linear
from engine.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from engine.ops.pointwise_loss import huber_loss, kl_div, l1_loss, mse_loss, smooth_l1_loss
from engine.ops.unary import relu, sigmoid, tanh

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "elu",
    "gelu",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
]
