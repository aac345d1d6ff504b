"""Matrix products: ``mm``, ``mv``, ``dot``, ``bmm`` and ``matmul`` built from them.

``matmul`` follows torch's own decomposition (1-D operands are unsqueezed or folded,
batches are expanded and flattened for ``bmm``), so ``grad_fn`` chains read the same
as torch's.  Products of two matrices, forward and backward, go to BLAS through
``engine._base.blas`` (numpy's, or MKL's: ``JITGRAD_BLAS``): no hand-written loop beats
it, and it is the one place the engine's backward leaves Numba.
"""

from __future__ import annotations

import numpy as np

from engine._base import dtypes
from engine._base.arrays import broadcast_shape
from engine._base.blas import column_major, matmul_2d, takes
from engine.graph import Node
from engine.kernels import elementwise as ek
from engine.ops.base import edge, flat, out, recording, takes_out, unpack
from engine.ops.shape import (
    SqueezeBackward4,
    UnsqueezeBackward0,
    _unsafe_view,
    _view_out,
    contiguous,
    expand,
    mT,
    reshape,
    squeeze,
    t,
    unsqueeze,
)
from engine.tensor import Tensor


def _same_dtype(a: Tensor, b: Tensor, what: str) -> None:
    if a._data.dtype != b._data.dtype:
        an = dtypes.from_np(a._data.dtype).cpp_name
        bn = dtypes.from_np(b._data.dtype).cpp_name
        raise RuntimeError(f"expected {what} to have the same dtype, but got: {an} != {bn}")


def check_matrices(ad: np.ndarray, bd: np.ndarray, first: str) -> None:
    """torch's errors for a matrix product of two 2-D arrays (``first`` names the left one)."""
    if ad.ndim != 2 or bd.ndim != 2:
        raise RuntimeError(f"{first if ad.ndim != 2 else 'mat2'} must be a matrix")
    if ad.shape[1] != bd.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({ad.shape[0]}x"
                           f"{ad.shape[1]} and {bd.shape[0]}x{bd.shape[1]})")


def save_other(node: Node, a: Tensor, b: Tensor) -> None:
    """Save a if b needs grad, then b if a needs grad (what each gradient uses)."""
    keep = []
    if b._rg:
        keep.append(a)
    if a._rg:
        keep.append(b)
    node.save(*keep)


def layouts(a: np.ndarray, b: np.ndarray) -> tuple[str, str]:
    """The order torch gives the gradients of matrices ``a`` and ``b``: "F" for a
    column-major one (``blas.matmul_2d``'s ``order``, which only MKL's path reads)."""
    return ("F" if column_major(a) else "C"), ("F" if column_major(b) else "C")


_ROWS = ("C", "C")  # what numpy's products are given: their order is not read


class MmBackward0(Node):
    __slots__ = ("orders",)  # layouts(mat1, mat2)
    fresh_grads = True

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        saved = self.saved()
        oa, ob = self.orders
        ga = matmul_2d(g, saved[-1].T, order=oa) if fa is not None else None
        gb = matmul_2d(saved[0].T, g, order=ob) if fb is not None else None
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        saved = unpack(self)
        ga = mm(g, t(saved[-1])) if fa is not None else None
        gb = mm(t(saved[0]), g) if fb is not None else None
        return ga, gb


@takes_out(rule="same")
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Matrix product of two 2-D tensors.

    >>> engine.mm(engine.tensor([[1.0, 2.0]]), engine.tensor([[3.0], [4.0]]))
    tensor([[11.]])
    """
    ad, bd = input._data, mat2._data
    check_matrices(ad, bd, "self")
    _same_dtype(input, mat2, "m1 and m2")
    if takes(ad, bd):
        return _record(MmBackward0, input, mat2, matmul_2d(ad, bd), orders=layouts(ad, bd))
    # numpy's product: matmul_2d's own numpy path, without its calls (tiny graphs' hot path)
    return _record(MmBackward0, input, mat2, ad @ bd, orders=_ROWS)


class BmmBackward0(Node):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        saved = self.saved()
        ga = np.matmul(g, np.swapaxes(saved[-1], -1, -2)) if fa is not None else None
        gb = np.matmul(np.swapaxes(saved[0], -1, -2), g) if fb is not None else None
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        saved = unpack(self)
        ga = bmm(g, mT(saved[-1])) if fa is not None else None
        gb = bmm(mT(saved[0]), g) if fb is not None else None
        return ga, gb


@takes_out(rule="same")
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product of two 3-D tensors with the same batch size.

    >>> engine.bmm(engine.ones(4, 2, 3), engine.ones(4, 3, 5)).shape
    engine.Size([4, 2, 5])
    """
    ad, bd = input._data, mat2._data
    if ad.ndim != 3 or bd.ndim != 3:
        raise RuntimeError(f"batch{1 if ad.ndim != 3 else 2} must be a 3D tensor")
    if bd.shape[:2] != (ad.shape[0], ad.shape[2]):
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: "
            f"[{ad.shape[0]}, {ad.shape[2]}] but got: [{bd.shape[0]}, {bd.shape[1]}].")
    _same_dtype(input, mat2, "scalar type")
    return _record(BmmBackward0, input, mat2, np.matmul(ad, bd))


class MvBackward0(Node):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        saved = self.saved()
        ga = np.outer(g, saved[-1]) if fa is not None else None
        gb = saved[0].T @ g if fb is not None else None
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        saved = unpack(self)
        ga = unsqueeze(g, 1) * unsqueeze(saved[-1], 0) if fa is not None else None
        gb = mv(t(saved[0]), g) if fb is not None else None
        return ga, gb


@takes_out(rule="same", message=(
    "addmv input tensors must have the same dtype, but got {out}, {res}, and {res}"))
def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix-vector product.

    >>> engine.mv(engine.tensor([[1.0, 2.0], [3.0, 4.0]]), engine.tensor([1.0, 1.0]))
    tensor([3., 7.])
    """
    ad, vd = input._data, vec._data
    if ad.ndim != 2 or vd.ndim != 1 or ad.shape[1] != vd.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({ad.shape[0] if ad.ndim else 0}), mat "
            f"({'x'.join(map(str, ad.shape))}), vec ({'x'.join(map(str, vd.shape))})")
    _same_dtype(input, vec, "self and vec")
    return _record(MvBackward0, input, vec, ad @ vd)


class DotBackward0(Node):
    __slots__ = ()

    def apply(self, grads: list) -> tuple:
        g = float(grads[0])
        (fa, _), (fb, _) = self.next_functions
        saved = self.saved()
        ga = ek.scale_bwd(flat(saved[-1]), g) if fa is not None else None
        gb = ek.scale_bwd(flat(saved[0]), g) if fb is not None else None
        return ga, gb

    def apply_graph(self, grads: list) -> tuple:
        g = grads[0]
        (fa, _), (fb, _) = self.next_functions
        saved = unpack(self)
        ga = g * saved[-1] if fa is not None else None
        gb = g * saved[0] if fb is not None else None
        return ga, gb


@takes_out(rule="same", message="result dtype {out} does not match input dtype {res}")
def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """Inner product of two 1-D tensors.

    >>> engine.dot(engine.tensor([1.0, 2.0]), engine.tensor([3.0, 4.0]))
    tensor(11.)
    """
    ad, bd = input._data, tensor._data
    if ad.ndim != 1 or bd.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {ad.ndim}D and {bd.ndim}D tensors")
    if ad.shape != bd.shape:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{ad.size}] and src [{bd.size}] to have "
            f"the same number of elements, but got {ad.size} and {bd.size} elements respectively")
    _same_dtype(input, tensor, "both vectors")
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 is NaN, silently as torch
        res = np.asarray(ad @ bd)
    return _record(DotBackward0, input, tensor, res)


def _record(cls: type, a: Tensor, b: Tensor, res: np.ndarray, **attrs: object) -> Tensor:
    if not recording(a, b):
        return out(res)
    node = cls((edge(a), edge(b)))
    for name, value in attrs.items():
        setattr(node, name, value)
    save_other(node, a, b)
    return out(res, node)


# matmul's own products skip their out= wrapper (an out= belongs to matmul's caller)
_dot, _mv, _mm, _bmm = dot.__wrapped__, mv.__wrapped__, mm.__wrapped__, bmm.__wrapped__


@takes_out(rule="same")
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """torch.matmul: dot, mv, mm, or batched products with broadcasting, by dims.

    >>> engine.matmul(engine.ones(2, 3), engine.ones(3))
    tensor([3., 3.])
    >>> (engine.ones(5, 2, 3) @ engine.ones(3, 4)).shape
    engine.Size([5, 2, 4])
    """
    if not isinstance(other, Tensor) or not isinstance(input, Tensor):
        raise TypeError("matmul(): argument 'other' must be Tensor")
    d1, d2 = input._data.ndim, other._data.ndim
    if d1 == 0 or d2 == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{d1}D and {d2}D")
    if d1 == 1 and d2 == 1:
        return _dot(input, other)
    if d1 == 2 and d2 == 1:
        return _mv(input, other)
    if d1 == 1 and d2 == 2:  # torch's unsqueeze(0), mm, squeeze_(0) chain
        return _squeeze0(_mm(_unsqueeze0(input), other))
    if d1 == 2 and d2 == 2:
        return _mm(input, other)
    if _should_fold(input, other):
        return _folded(input, other)
    return _batched(input, other)


def _unsqueeze0(a: Tensor) -> Tensor:
    """``unsqueeze(a, 0)`` for a 1-D ``a``, minus its dim wrapping."""
    ad = a._data
    node = None
    if recording(a):
        node = UnsqueezeBackward0((edge(a),))
        node.shape = ad.shape
    return _view_out(a, ad[None], node)


def _squeeze0(m: Tensor) -> Tensor:
    """``squeeze(m, 0, _cls=SqueezeBackward4)`` for mm's (1, n) result, minus the dim
    checks the shape already guarantees."""
    node = None
    if recording(m):
        node = SqueezeBackward4((edge(m),))
        node.shape = m._data.shape
    return _view_out(m, m._data[0], node)


def _should_fold(a: Tensor, b: Tensor) -> bool:
    """torch's choice between folding the batch into one mm/mv and a broadcast bmm."""
    larger = a._data.ndim >= b._data.ndim
    t1 = a._data if larger else np.swapaxes(b._data, -1, -2)
    dim_t2 = b._data.ndim if larger else a._data.ndim
    if not (t1.ndim >= 3 and dim_t2 <= 2):
        return False
    if (b if larger else a)._rg:  # folding keeps the smaller operand's gradient small
        return True
    if a._data.ndim == 2:
        return False
    if t1.size == 0:
        return True
    # the batch dims must merge without a copy
    return all(t1.strides[i] == t1.strides[i + 1] * t1.shape[i + 1]
               for i in range(t1.ndim - 2))


def _folded(a: Tensor, b: Tensor) -> Tensor:
    """One operand is a batch, the other a vector or matrix: flatten the batch into rows."""
    transpose = b._data.ndim > a._data.ndim
    t1 = mT(b) if transpose else a
    t2 = (t(a) if a._data.ndim == 2 else a) if transpose else b
    lead = t1._data.shape[:-1]
    rows = int(np.prod(lead))
    folded = reshape(t1, rows, t1._data.shape[-1])
    if t2._data.ndim == 1:
        if folded._data.shape[1] != t2._data.shape[0]:
            raise RuntimeError(
                f"size mismatch, got input ({rows}), mat ({rows}x{folded._data.shape[1]}), "
                f"vec ({t2._data.shape[0]})")
        return _unsafe_view(_mv(folded, t2), lead)
    res = _unsafe_view(_mm(folded, t2), lead + (t2._data.shape[1],))
    return contiguous(mT(res)) if transpose else res


def _batched(a: Tensor, b: Tensor) -> Tensor:
    """Broadcast the batch dims, then one bmm (a 1-D right operand becomes a column)."""
    sa, sb = a._data.shape, b._data.shape
    if len(sa) == 3 and len(sb) == 3 and sa[0] != sb[0]:
        # a batch of one that needs grad is squeezed, so the fold path can take it
        if sa[0] == 1 and a._rg:
            return matmul(squeeze(a, 0), b)
        if sb[0] == 1 and b._rg:
            return matmul(a, squeeze(b, 0))
    n = sa[-2] if len(sa) > 1 else 1
    m1 = sa[-1]
    m2 = sb[-2] if len(sb) > 1 else sb[0]
    p = sb[-1] if len(sb) > 1 else 1
    batch = broadcast_shape(sa[:-2], sb[:-2])
    count = int(np.prod(batch))
    a3 = reshape(expand(a, *(batch + (n, m1))), count, n, m1)
    vector_rhs = len(sb) == 1
    if vector_rhs:
        b3 = unsqueeze(reshape(expand(b, *(batch + (m2,))), count, m2), 2)
    else:
        b3 = reshape(expand(b, *(batch + (m2, p))), count, m2, p)
    res = _bmm(a3, b3)
    if vector_rhs:
        res = squeeze(res, -1)
    shape = batch + ((n,) if len(sa) > 1 else ()) + ((p,) if len(sb) > 1 else ())
    return _unsafe_view(res, shape)


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["bmm", "dot", "matmul", "mm", "mv"]
METHODS = {name: globals()[name] for name in __all__}
