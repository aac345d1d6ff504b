"""``engine.nn.init``: fill weights in place (without recording), from the engine's
generator (``engine.manual_seed``), with torch's formulas for the bounds."""

from __future__ import annotations

import math
import warnings

import numpy as np

from engine.ops import generator as rng
from engine.tensor import Tensor


def _fill(t: Tensor, values: np.ndarray | float) -> Tensor:
    t._data[...] = values
    t._vc[0] += 1
    return t


_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (torch's table; ``1`` for the linear ones).

    >>> nn.init.calculate_gain("relu"), nn.init.calculate_gain("leaky_relu", 0.2)
    (1.4142135623730951, 1.3867504905630728)
    """
    if nonlinearity in _LINEAR:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
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


def eye_(tensor: Tensor) -> Tensor:
    """Fill a matrix with the identity (ones on the diagonal, zeros elsewhere).

    >>> nn.init.eye_(engine.zeros(2, 3))
    tensor([[1., 0., 0.],
            [0., 1., 0.]])
    """
    if tensor._data.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*tensor._data.shape))


# The initialisers below compute their bound or std with torch's expressions, in torch's
# order (so the floats are the same), and draw only through uniform_ and normal_.
def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot init: U(-b, b) with ``b = sqrt(3) * gain * sqrt(2 / (fan_in + fan_out))``.

    >>> w = nn.init.xavier_uniform_(engine.zeros(3, 5)); w.abs().max().item() <= 1.0
    True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot init: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    >>> w = nn.init.xavier_normal_(engine.zeros(200, 300)); round(w.std().item(), 2)
    0.06
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    """``gain / sqrt(fan)``, or None for a tensor with no elements (left as it is)."""
    if 0 in tensor._data.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
        return None
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """He init: U(-b, b) with ``b = sqrt(3) * gain / sqrt(fan)``; ``Linear`` uses ``a=sqrt(5)``.

    >>> w = nn.init.kaiming_uniform_(engine.zeros(3, 4), a=5 ** 0.5)
    >>> w.abs().max().item() <= 0.5
    True
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """He init: N(0, std^2) with ``std = gain / sqrt(fan)``.

    >>> w = nn.init.kaiming_normal_(engine.zeros(100, 400), nonlinearity="relu")
    >>> round(w.std().item(), 2)
    0.07
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std)


__all__ = ["calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_",
           "normal_", "ones_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_"]
