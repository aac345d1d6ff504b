"""``Module`` and the standard layers, one file per kind as in ``torch.nn.modules``."""

from engine.nn.modules.activation import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from engine.nn.modules.container import Sequential
from engine.nn.modules.linear import Dropout, Flatten, Identity, Linear
from engine.nn.modules.module import Module

__all__ = ["Dropout", "Flatten", "GELU", "Identity", "LeakyReLU", "Linear", "Module", "ReLU",
           "Sequential", "Sigmoid", "Softmax", "Tanh"]
