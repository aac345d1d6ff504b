"""``engine.nn``: neural-network building blocks (``functional`` for now)."""

from engine.nn import functional

__all__ = ["functional"]

# ---------------------------------------------------------------- issue 3: modules, init
from engine.nn import init  # noqa: E402
from engine.nn.modules import (  # noqa: E402
    GELU,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from engine.nn.parameter import Parameter  # noqa: E402

__all__ += ["GELU", "Dropout", "Flatten", "Identity", "LeakyReLU", "Linear", "Module",
            "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "init"]
