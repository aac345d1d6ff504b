"""Activations: leaky_relu, gelu, softplus, elu, silu, softmax and log_softmax.

Forward in numpy (GELU's in a Numba kernel, for ``erf``), backward in the paired
kernels of ``engine.kernels.activation``.  Softmax-like ops move their ``dim`` to
the end so the kernels see contiguous rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine._base import dtypes
from engine._base.arrays import wrap_dim
from engine.graph import Node
from engine.kernels import activation as ak
from engine.ops.base import const, edge, flat, out, recording, unpack
from engine.ops.selection import where
from engine.tensor import Tensor, _wrap


def _float(a: Tensor, kernel: str) -> np.ndarray:
    """The input as a float array; integer and bool inputs refuse, as torch's kernels do."""
    x = a._data
    if x.dtype.kind != "f":
        name = dtypes.from_np(x.dtype).scalar_name
        raise NotImplementedError(f'"{kernel}" not implemented for \'{name}\'')
    return x


# ---------------------------------------------------------------- pointwise
class _OneNumber(Node):
    """A pointwise activation whose backward kernel takes one number, ``param``."""

    __slots__ = ("param",)
    kernel: Any = None

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (x,) = self.saved()
        return (type(self).kernel(flat(g), flat(x), self.param).reshape(g.shape),)


class LeakyReluBackward0(_OneNumber):
    __slots__ = ()
    kernel = staticmethod(ak.leaky_relu_bwd)  # param: the negative slope

    def apply_graph(self, grads: list) -> tuple:
        x = unpack(self)[0]._data
        return (grads[0] * const(np.where(x > 0, 1.0, self.param).astype(x.dtype)),)


def leaky_relu(input: Tensor, negative_slope: float = 0.01,  # noqa: A002
               inplace: bool = False) -> Tensor:
    """``x`` where positive, ``negative_slope * x`` elsewhere.

    >>> F.leaky_relu(engine.tensor([-1.0, 2.0]), 0.1)
    tensor([-0.1000,  2.0000])
    """
    x = _float(input, "leaky_relu_cpu")
    res = np.where(x > 0, x, x * x.dtype.type(negative_slope))
    return _finish(input, x, res, LeakyReluBackward0, param=float(negative_slope))


class GeluBackward0(Node):
    __slots__ = ("approximate",)

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (x,) = self.saved()
        k = ak.gelu_bwd if self.approximate == "none" else ak.gelu_tanh_bwd
        return (k(flat(g), flat(x)).reshape(g.shape),)

    def apply_graph(self, grads: list) -> tuple:
        (x,) = unpack(self)
        if self.approximate == "none":
            return (_gelu_grad(grads[0], x),)
        c, k = float(np.sqrt(2.0 / np.pi)), 0.044715
        t = ((x + x ** 3 * k) * c).tanh()
        return (grads[0] * ((t + 1) * 0.5 + x * (1 - t * t) * ((x * x * (3 * k) + 1) * (0.5 * c))),)


def _gelu_grad(g: Tensor, x: Tensor) -> Tensor:
    """``g * gelu'(x)`` (exact GELU), recorded as torch's ``GeluBackwardBackward0``."""
    gd, xd = np.ascontiguousarray(g._data), np.ascontiguousarray(x._data)
    res = ak.gelu_bwd(flat(gd), flat(xd)).reshape(gd.shape)
    if not recording(g, x):
        return out(res)
    node = GeluBackwardBackward0((edge(g), edge(x)))
    node.save(g, x)
    return out(res, node)


def _gelu_second(x: np.ndarray) -> np.ndarray:
    """gelu''(x) = phi(x) (2 - x^2)."""
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi) * (2.0 - x * x)


class GeluBackwardBackward0(Node):
    """The recorded exact-GELU gradient ``g * gelu'(x)``, inputs ``(g, x)``."""

    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        gg = np.ascontiguousarray(grads[0])
        g, x = self.saved()
        xd = np.ascontiguousarray(x)
        (fg, _), (fx, _) = self.next_functions
        dg = ak.gelu_bwd(flat(gg), flat(xd)).reshape(gg.shape) if fg is not None else None
        dx = (gg * g * _gelu_second(x)).astype(x.dtype) if fx is not None else None
        return dg, dx

    def apply_graph(self, grads: list) -> tuple:
        gg = grads[0]
        g, x = unpack(self)
        (fg, _), (fx, _) = self.next_functions
        dg = _gelu_grad(gg, x) if fg is not None else None
        dx = None
        if fx is not None:
            phi = (x * x * -0.5).exp() * float(1.0 / np.sqrt(2.0 * np.pi))
            dx = gg * g * (phi * (2 - x * x))
        return dg, dx


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """Gaussian error linear unit ``x * Phi(x)``: exact, or ``approximate='tanh'``.

    >>> F.gelu(engine.tensor([1.0]))
    tensor([0.8413])
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, "
                           f"got {approximate!r}")
    x = _float(input, "GeluKernelImpl")
    if approximate == "none":
        res = ak.gelu_fwd(flat(np.ascontiguousarray(x))).reshape(x.shape)
    else:
        c = np.sqrt(2.0 / np.pi)
        with np.errstate(over="ignore", invalid="ignore"):  # +-inf in, like torch: quietly
            res = (0.5 * x * (1.0 + np.tanh(c * (x + 0.044715 * x ** 3)))).astype(x.dtype)
    return _finish(input, x, res, GeluBackward0, approximate=approximate)


class SoftplusBackward0(Node):
    __slots__ = ("beta", "threshold")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (x,) = self.saved()
        return (ak.softplus_bwd(flat(g), flat(x), self.beta, self.threshold)
                .reshape(g.shape),)

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (x,) = unpack(self)
        z = x * self.beta
        return (where(const(z._data > self.threshold), g, g * z.sigmoid()),)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """Smooth relu ``log(1 + exp(beta x)) / beta``; linear where ``beta x > threshold``.

    >>> F.softplus(engine.tensor([0.0]))
    tensor([0.6931])
    """
    x = _float(input, "softplus_cpu")
    with np.errstate(over="ignore"):
        res = np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)
    return _finish(input, x, res.astype(x.dtype), SoftplusBackward0, beta=float(beta),
                   threshold=float(threshold))


class EluBackward0(_OneNumber):
    __slots__ = ()
    kernel = staticmethod(ak.elu_bwd)  # param: alpha

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (x,) = unpack(self)
        return (where(const(x._data > 0), g, g * x.exp() * self.param),)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere.

    >>> F.elu(engine.tensor([-1.0, 2.0]))
    tensor([-0.6321,  2.0000])
    """
    x = _float(input, "elu_cpu")
    with np.errstate(over="ignore"):
        res = np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(x))
    return _finish(input, x, res.astype(x.dtype, copy=False), EluBackward0, param=float(alpha))


class SiluBackward0(Node):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (x,) = self.saved()
        return (ak.silu_bwd(flat(g), flat(x)).reshape(g.shape),)

    def apply_graph(self, grads: list) -> tuple:
        (x,) = unpack(self)
        s = x.sigmoid()
        return (grads[0] * (s * (x * (1 - s) + 1)),)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """``x * sigmoid(x)`` (also called swish).

    >>> F.silu(engine.tensor([1.0]))
    tensor([0.7311])
    """
    x = _float(input, "silu_cpu")
    with np.errstate(over="ignore", invalid="ignore"):
        res = (x / (1 + np.exp(-x))).astype(x.dtype)
    return _finish(input, x, res, SiluBackward0)


def _finish(a: Tensor, x: np.ndarray, res: np.ndarray, cls: type, **attrs: Any) -> Tensor:
    if not recording(a):
        return out(res)
    node = cls((edge(a),))
    for k, v in attrs.items():
        setattr(node, k, v)
    node.save_as((a, x))
    return out(res, node)


# ---------------------------------------------------------------- softmax family
class SoftmaxBackward0(Node):
    __slots__ = ("dim", "_shape")
    kernel = staticmethod(ak.softmax_bwd)

    def apply(self, grads: list) -> tuple:
        g0 = grads[0]
        (y,) = self.saved()  # the result, its dim moved last
        if g0.ndim == 0:
            return (type(self).kernel(g0.reshape(1), y.reshape(1), 1).reshape(()),)
        g = np.ascontiguousarray(np.moveaxis(g0, self.dim, -1))
        n = max(y.shape[-1], 1)
        gx = type(self).kernel(flat(g), flat(y), n).reshape(g.shape)
        return (np.ascontiguousarray(np.moveaxis(gx, -1, self.dim)),)

    def _result(self) -> Tensor:
        """The node's output (saved with its dim moved last) as a tensor in the graph."""
        (y,) = self.saved()
        if y.ndim == 0 or self.dim == y.ndim - 1:
            data = y
        else:
            data = np.moveaxis(y, -1, self.dim)
        if data.shape != self._shape:
            data = data.reshape(self._shape)
        return _wrap(data, True, self, 0)

    def apply_graph(self, grads: list) -> tuple:
        g, y = grads[0], self._result()
        dim = self.dim if g._data.ndim else None
        return (y * (g - (g * y).sum(dim, keepdim=True)),)


class LogSoftmaxBackward0(SoftmaxBackward0):
    __slots__ = ()
    kernel = staticmethod(ak.log_softmax_bwd)

    def apply_graph(self, grads: list) -> tuple:
        g, y = grads[0], self._result()
        dim = self.dim if g._data.ndim else None
        return (g - y.exp() * g.sum(dim, keepdim=True),)


def _softmax(input: Tensor, dim: int | None, dtype: dtypes.dtype | None, log: bool) -> Tensor:
    if dim is None:
        raise TypeError("softmax(): pass dim explicitly (torch's implicit choice is deprecated)")
    x = input._data
    d = wrap_dim(dim, x.ndim)
    if dtype is not None:
        x = x.astype(dtype.np)
    else:  # torch's kernel for the last dim is another than for the others
        last = "_lastdim" if d == max(x.ndim, 1) - 1 else ""
        x = _float(input, f"{'log_' if log else ''}softmax{last}_kernel_impl")
    last = x.ndim <= 1 or d == x.ndim - 1  # the common case needs no axis moved
    xm = (np.ascontiguousarray(x) if last else np.ascontiguousarray(np.moveaxis(x, d, -1))) \
        if x.ndim else x.reshape(1)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        # (an empty row has no max: it has nothing to normalise either)
        shifted = xm - (xm.max(axis=-1, keepdims=True) if xm.size else xm)
        if log:
            ym = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        else:
            e = np.exp(shifted)
            ym = e / e.sum(axis=-1, keepdims=True)
    ym = ym.astype(x.dtype, copy=False)
    if not x.ndim:
        res = ym.reshape(())
    else:
        res = np.ascontiguousarray(ym if last else np.moveaxis(ym, -1, d))
    if not recording(input):
        return out(res)
    node = (LogSoftmaxBackward0 if log else SoftmaxBackward0)((edge(input),))
    node.dim = d if x.ndim else 0
    node._shape = res.shape
    result = out(res, node)
    node.save_as((result, ym))
    return result


def softmax(input: Tensor, dim: int | None = None,  # noqa: A002
            dtype: dtypes.dtype | None = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (computed with the max subtracted).

    >>> F.softmax(engine.tensor([[1.0, 2.0]]), dim=1)
    tensor([[0.2689, 0.7311]])
    """
    return _softmax(input, dim, dtype, log=False)


def log_softmax(input: Tensor, dim: int | None = None,  # noqa: A002
                dtype: dtypes.dtype | None = None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed stably in one step.

    >>> F.log_softmax(engine.tensor([[1.0, 2.0]]), dim=1)
    tensor([[-1.3133, -0.3133]])
    """
    return _softmax(input, dim, dtype, log=True)


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["log_softmax", "softmax"]
METHODS = {name: globals()[name] for name in __all__}
