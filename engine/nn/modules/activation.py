"""Activation layers: ReLU, Tanh, Sigmoid, LeakyReLU, GELU, Softmax, LogSoftmax, Softplus,
ELU, SiLU."""

from __future__ import annotations

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


class LeakyReLU(Module):
    """``x`` if positive else ``negative_slope * x``.

    >>> nn.LeakyReLU(0.5)(engine.tensor([-2.0, 3.0]))
    tensor([-1.,  3.])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return act.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                           else "")


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


class Softmax(Module):
    """Softmax along ``dim``.

    >>> nn.Softmax(dim=-1)(engine.tensor([[0.0, 0.0], [1.0, 1.0]]))
    tensor([[0.5000, 0.5000],
            [0.5000, 0.5000]])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return act.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"



class LogSoftmax(Module):
    """``log(softmax(x))`` along ``dim``, computed stably.

    >>> nn.LogSoftmax(dim=1)(engine.tensor([[0.0, 0.0]]))
    tensor([[-0.6931, -0.6931]])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return act.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


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


class ELU(Module):
    """``x`` if positive else ``alpha * (exp(x) - 1)``.

    >>> nn.ELU()(engine.tensor([-1.0, 2.0])), nn.ELU(alpha=0.5)
    (tensor([-0.6321,  2.0000]), ELU(alpha=0.5))
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return act.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


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
