"""Layer functions: ``linear`` (torch's addmm path) and ``dropout``."""

from __future__ import annotations

import numpy as np

from engine._base.blas import matmul_2d
from engine._base.dtypes import from_np
from engine.graph import Node
from engine.kernels import elementwise as ek
from engine.ops import generator as rng
from engine.ops.base import edge, flat, out, recording, sum_to, takes_out, unbroadcast, unpack
from engine.ops.elementwise import mul
from engine.ops.linalg import check_matrices, layouts, matmul, mm, save_other
from engine.ops.shape import reshape, t
from engine.tensor import Tensor


def _scaled(g: np.ndarray, s: float) -> np.ndarray:
    return g if s == 1 else ek.scale_bwd(flat(g), float(s)).reshape(g.shape)


class AddmmBackward0(Node):
    """``beta * bias + alpha * mat1 @ mat2``: inputs are (bias, mat1, mat2), as torch
    orders them."""

    __slots__ = ("bias_shape", "bias_dtype", "beta", "alpha", "orders")

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (fb, _), (f1, _), (f2, _) = self.next_functions
        saved = self.saved()  # mat1 if mat2 needs grad, then mat2 if mat1 needs grad
        gb = unbroadcast(_scaled(g, self.beta), self.bias_shape, self.bias_dtype) \
            if fb is not None else None
        ga = _scaled(g, self.alpha)
        o1, o2 = self.orders
        g1 = matmul_2d(ga, saved[-1].T, order=o1) if f1 is not None else None
        g2 = matmul_2d(saved[0].T, ga, order=o2) if f2 is not None else None
        return gb, g1, g2

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fb, _), (f1, _), (f2, _) = self.next_functions
        saved = unpack(self)
        gb = sum_to(g * self.beta if self.beta != 1 else g, self.bias_shape, self.bias_dtype) \
            if fb is not None else None
        ga = g * self.alpha if self.alpha != 1 else g
        g1 = mm(ga, t(saved[-1])) if f1 is not None else None
        g2 = mm(t(saved[0]), ga) if f2 is not None else None
        return gb, g1, g2


@takes_out(rule="same")
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1,  # noqa: A002
          alpha: float = 1) -> Tensor:
    """``beta * input + alpha * mat1 @ mat2`` for matrices, with ``input`` broadcast to the
    product (with ``beta == 0`` it is ignored, nan and inf included, as in torch).

    >>> engine.addmm(engine.zeros(2), engine.ones(1, 3), engine.ones(3, 2))
    tensor([[3., 3.]])
    >>> engine.addmm(engine.ones(2), engine.ones(1, 3), engine.ones(3, 2), beta=0.5, alpha=2)
    tensor([[6.5000, 6.5000]])
    """
    m1, m2 = mat1._data, mat2._data
    check_matrices(m1, m2, "mat1")
    for what, a, b in (("mat1 and mat2", m1, m2), ("self and mat2", input._data, m2)):
        if a.dtype != b.dtype:
            raise RuntimeError(f"{what} must have the same dtype, but got "
                               f"{from_np(a.dtype).scalar_name} and {from_np(b.dtype).scalar_name}")
    shape = (m1.shape[0], m2.shape[1])
    bias = input._data.shape
    if len(bias) <= 2 and all(s in (1, d) for s, d in zip(bias[::-1], shape[::-1])):
        res = np.empty(shape, m2.dtype)
        if beta != 0:  # with beta == 0 the bias is not read, as in torch's gemm
            res[...] = input._data
        matmul_2d(m1, m2, out=res, alpha=alpha, beta=beta)
    else:  # a bias of more dims than the product: numpy broadcasts the sum
        prod = matmul_2d(m1, m2)
        res = (alpha * prod).astype(prod.dtype)
        res = res + (beta * input._data).astype(prod.dtype) if beta != 0 else np.broadcast_to(
            res, np.broadcast_shapes(res.shape, input._data.shape)).copy()
    if not recording(input, mat1, mat2):
        return out(res)
    node = AddmmBackward0((edge(input), edge(mat1), edge(mat2)))
    node.bias_shape, node.bias_dtype = input._data.shape, input._data.dtype
    node.beta, node.alpha = beta, alpha
    node.orders = layouts(m1, m2)
    save_other(node, mat1, mat2)
    return out(res, node)


_addmm = addmm.__wrapped__  # linear never takes out=, so it skips the wrapper


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """``input @ weight.T + bias``, recorded like torch (``AddmmBackward0``, ``TBackward0``).

    >>> F.linear(engine.ones(4, 3), engine.ones(2, 3), engine.zeros(2)).shape
    engine.Size([4, 2])
    """
    wt = t(weight)
    if bias is None:
        return matmul(input, wt)
    x = input._data
    if x.ndim == 2:
        return _addmm(bias, input, wt)
    lead = x.shape[:-1]
    # rows spelled out: with in_features == 0 a -1 could not be inferred
    rows = 1
    for s in lead:
        rows *= s
    flat_in = reshape(input, rows, x.shape[-1]) if x.ndim else input
    res = _addmm(bias, flat_in, wt)
    return reshape(res, *lead, weight._data.shape[0])


def dropout(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    The mask is torch's: ``bernoulli_(1 - p)`` from the engine's generator (after the same
    ``manual_seed`` the same elements are kept); outside training it returns ``input``
    unchanged.

    >>> x = engine.ones(4); F.dropout(x, 0.5, training=False) is x
    True
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    x = input._data
    if p == 1.0:
        mask = np.zeros(x.shape, x.dtype)
    else:
        keep = rng.bernoulli(np.empty(x.shape, x.dtype), 1.0 - p, rng.default_generator)
        mask = keep / x.dtype.type(1.0 - p)  # torch's mask, bit for bit
    return mul(input, out(mask))


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["addmm"]
METHODS = {}
