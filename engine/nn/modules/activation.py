"""Activation layers: ReLU, Tanh, Sigmoid, LeakyReLU, GELU, Softmax, LogSoftmax, Softplus,
ELU, SiLU."""

from __future__ import annotations

from typing import Any

from engine.nn.modules.module import Module
from engine.ops import activation as act
from engine.ops.unary import relu, sigmoid, tanh
from engine.tensor import Tensor


class ReLU(Module):
    """``max(x, 0)`` elementwise.

    >>> nn.ReLU()(engine.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Tanh(Module):
    """Hyperbolic tangent elementwise.

    >>> nn.Tanh()(engine.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7616])
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return tanh(input)


class Sigmoid(Module):
    """Logistic sigmoid elementwise.

    >>> nn.Sigmoid()(engine.tensor([0.0, 2.0]))
    tensor([0.5000, 0.8808])
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return sigmoid(input)


class _OneNumber(Module):
    """An activation with one number, the attribute named ``number``, that it passes to
    ``fn``; ``inplace`` is accepted and shown, as torch shows it."""

    number: str
    fn: Any

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return type(self).fn(input, getattr(self, self.number))

    def extra_repr(self) -> str:
        text = f"{self.number}={getattr(self, self.number)}"
        return text + (", inplace=True" if self.inplace else "")


class LeakyReLU(_OneNumber):
    """``x`` if positive else ``negative_slope * x``.

    >>> nn.LeakyReLU(0.5)(engine.tensor([-2.0, 3.0]))
    tensor([-1.,  3.])
    """

    number, fn = "negative_slope", staticmethod(act.leaky_relu)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace


class GELU(Module):
    """Gaussian error linear unit (exact by default, or ``approximate='tanh'``).

    >>> nn.GELU()(engine.tensor([0.0, 1.0])), nn.GELU("tanh")
    (tensor([0.0000, 0.8413]), GELU(approximate='tanh'))
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return act.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _AlongDim(Module):
    """A normalisation along ``dim``: ``fn(input, dim)``."""

    fn = staticmethod(act.softmax)

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return type(self).fn(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """Softmax along ``dim``.

    >>> nn.Softmax(dim=-1)(engine.tensor([[0.0, 0.0], [1.0, 1.0]]))
    tensor([[0.5000, 0.5000],
            [0.5000, 0.5000]])
    """



class LogSoftmax(_AlongDim):
    """``log(softmax(x))`` along ``dim``, computed stably.

    >>> nn.LogSoftmax(dim=1)(engine.tensor([[0.0, 0.0]]))
    tensor([[-0.6931, -0.6931]])
    """

    fn = staticmethod(act.log_softmax)


class Softplus(Module):
    """Smooth relu ``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``.

    >>> nn.Softplus()(engine.tensor([0.0])), nn.Softplus(beta=2)
    (tensor([0.6931]), Softplus(beta=2, threshold=20.0))
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return act.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(_OneNumber):
    """``x`` if positive else ``alpha * (exp(x) - 1)``.

    >>> nn.ELU()(engine.tensor([-1.0, 2.0])), nn.ELU(alpha=0.5)
    (tensor([-0.6321,  2.0000]), ELU(alpha=0.5))
    """

    number, fn = "alpha", staticmethod(act.elu)

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace


class SiLU(Module):
    """``x * sigmoid(x)`` elementwise.

    >>> nn.SiLU()(engine.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7311])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return act.silu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""
