"""``engine.nn.init``: fill weights in place (without recording), from the engine's
generator (``engine.manual_seed``), with torch's formulas for the bounds."""

from __future__ import annotations

import math

import numpy as np

from engine.ops import generator as rng
from engine.tensor import Tensor


def _fill(t: Tensor, values: np.ndarray | float) -> Tensor:
    t._data[...] = values
    t._vc[0] += 1
    return t


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (torch's table).

    >>> nn.init.calculate_gain("relu")
    1.4142135623730951
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(t: Tensor) -> tuple[int, int]:
    shape = t._data.shape
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples from U(a, b).

    >>> w = nn.init.uniform_(engine.zeros(1000), -1, 1)
    >>> -1 <= w.min().item() < w.max().item() < 1
    True
    """
    return _fill(tensor, rng.uniform(np.empty_like(tensor._data), a, b, rng.default_generator))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples from N(mean, std^2).

    >>> w = nn.init.normal_(engine.zeros(10000), mean=3.0, std=0.1)
    >>> round(w.mean().item(), 1)
    3.0
    """
    return _fill(tensor, rng.normal(np.empty_like(tensor._data), mean, std,
                                    rng.default_generator))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros: ``nn.init.zeros_(layer.bias)``.

    >>> nn.init.zeros_(engine.ones(2))
    tensor([0., 0.])
    """
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones.

    >>> nn.init.ones_(engine.zeros(2))
    tensor([1., 1.])
    """
    return _fill(tensor, 1)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``.

    >>> nn.init.constant_(engine.zeros(2), 0.25)
    tensor([0.2500, 0.2500])
    """
    return _fill(tensor, val)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot init: U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))``.

    >>> w = nn.init.xavier_uniform_(engine.zeros(3, 5)); w.abs().max().item() <= 1.0
    True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """He init: U(-b, b) with ``b = gain * sqrt(3 / fan)``; ``Linear`` uses ``a=sqrt(5)``.

    >>> w = nn.init.kaiming_uniform_(engine.zeros(3, 4), a=5 ** 0.5)
    >>> w.abs().max().item() <= 0.5
    True
    """
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound)


__all__ = ["calculate_gain", "constant_", "kaiming_uniform_", "normal_", "ones_", "uniform_",
           "xavier_uniform_", "zeros_"]
