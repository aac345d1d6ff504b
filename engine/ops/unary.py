"""Elementwise functions of one tensor: exp, log, sqrt, abs, sigmoid, tanh, relu, reciprocal.

Each op is its forward (numpy) beside its node, whose ``apply`` calls the paired
Numba backward kernel in ``engine.kernels.elementwise``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.graph import Node
from engine.kernels import activation as ak
from engine.kernels import buffers
from engine.kernels import elementwise as ek
from engine.ops.base import const, edge, flat, float_dtype, out, recording, unpack
from engine.tensor import Tensor


class _Unary(Node):
    """A one-input node whose backward is ``kernel(g, saved)``; ``graph(g, saved)`` is the
    same formula written with tensor ops, used to differentiate the backward pass."""

    __slots__ = ()
    fresh_grads = True
    kernel: Callable
    graph: Callable

    def apply(self, grads: list) -> tuple:
        g = grads[0]
        (s,) = self.saved()
        return (type(self).kernel(flat(g), flat(s)).reshape(g.shape),)

    def apply_graph(self, grads: list) -> tuple:
        (s,) = unpack(self)
        return (type(self).graph(grads[0], s),)


class ExpBackward0(_Unary):
    __slots__ = ()
    kernel = ek.exp_bwd
    graph = staticmethod(lambda g, r: g * r)


class LogBackward0(_Unary):
    __slots__ = ()
    kernel = ek.log_bwd
    graph = staticmethod(lambda g, x: g / x)


class SqrtBackward0(_Unary):
    __slots__ = ()
    kernel = ek.sqrt_bwd
    graph = staticmethod(lambda g, r: g / (2 * r))


class AbsBackward0(_Unary):
    __slots__ = ()
    kernel = ek.abs_bwd
    # torch: g * sgn(x), with sgn(NaN) = 0
    graph = staticmethod(lambda g, x: g * const(np.nan_to_num(np.sign(x._data), nan=0.0)))


class SigmoidBackward0(_Unary):
    __slots__ = ()
    kernel = ek.sigmoid_bwd
    graph = staticmethod(lambda g, r: g * ((1 - r) * r))


class TanhBackward0(_Unary):
    __slots__ = ()
    kernel = ek.tanh_bwd
    graph = staticmethod(lambda g, r: g * (1 - r * r))


class ReluBackward0(_Unary):
    __slots__ = ()
    kernel = ek.relu_bwd
    # torch's threshold_backward zeroes where x <= 0 only, so NaN keeps the gradient
    graph = staticmethod(lambda g, r: g * const((~(r._data <= 0)).astype(r._data.dtype)))


class ReciprocalBackward0(_Unary):
    __slots__ = ()
    kernel = ek.reciprocal_bwd
    graph = staticmethod(lambda g, r: -g * (r * r))


# ---------------------------------------------------------------- sin, cos, log1p, expm1, rsqrt
class SinBackward0(_Unary):
    __slots__ = ()
    kernel = ak.sin_bwd
    graph = staticmethod(lambda g, x: g * x.cos())


class CosBackward0(_Unary):
    __slots__ = ()
    kernel = ak.cos_bwd
    graph = staticmethod(lambda g, x: g * -x.sin())


class Log1PBackward0(_Unary):
    __slots__ = ()
    kernel = ak.log1p_bwd
    graph = staticmethod(lambda g, x: g / (x + 1))


class Expm1Backward0(_Unary):
    __slots__ = ()
    kernel = ak.expm1_bwd
    graph = staticmethod(lambda g, r: g * (r + 1))


class RsqrtBackward0(_Unary):
    __slots__ = ()
    kernel = ak.rsqrt_bwd
    graph = staticmethod(lambda g, r: g * (r ** 3) * -0.5)


def _sigmoid_steps(x: np.ndarray, res: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) step by step in ``res``: the same values as the plain numpy
    expression without its three temporaries."""
    np.negative(x, out=res)
    np.exp(res, out=res)
    np.add(res, 1, out=res)
    return np.reciprocal(res, out=res)


_ONE = {np.dtype(np.float32): np.ones(1, np.float32), np.dtype(np.float64): np.ones(1)}


def _sigmoid_block(x: np.ndarray, res: np.ndarray) -> np.ndarray:
    """``_sigmoid_steps`` on a flat block, its last two steps fused in one Numba pass
    (``sigmoid_tail``: the same IEEE operations, so the same values)."""
    one = _ONE.get(res.dtype)
    if one is None:  # float16: numpy all the way
        return _sigmoid_steps(x, res)
    np.negative(x, out=res)
    np.exp(res, out=res)
    ak.sigmoid_tail(res, one)
    return res


# Elements per block of the large path: the four steps of a block stay in the L2 cache.
_BLOCK = 1 << 17


def _blockwise(steps: Callable, block_steps: Callable | None = None
               ) -> Callable[[np.ndarray], np.ndarray]:
    """numpy forward ``steps(x, out)`` made cheap on large inputs: into a pooled buffer
    (no page faults), block by block (the steps run in cache), the blocks shared by two
    threads (``buffers.run_blocks``; numpy releases the GIL).  Every element goes through
    the same ufunc calls as on small inputs (or ``block_steps``, the same operations on a
    flat block), so the values are the same."""
    block_steps = block_steps or steps

    def fwd(x: np.ndarray) -> np.ndarray:
        if x.size < buffers.PARALLEL_MIN or not x.flags.c_contiguous or x.dtype.kind != "f":
            return steps(x, np.empty_like(x))  # out=: a 0-d input stays an array
        src = x.reshape(-1)
        res = buffers.empty(x.size, x.dtype)

        def part(lo: int, hi: int) -> None:
            with np.errstate(all="ignore"):  # errstate is per thread
                block_steps(src[lo:hi], res[lo:hi])

        buffers.run_blocks(part, x.size, _BLOCK)
        return res.reshape(x.shape)

    return fwd


def _ufunc_steps(ufunc: np.ufunc) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def steps(x: np.ndarray, res: np.ndarray) -> np.ndarray:
        return ufunc(x, out=res)

    return steps


_sigmoid = _blockwise(_sigmoid_steps, _sigmoid_block)
_exp = _blockwise(_ufunc_steps(np.exp))
_log = _blockwise(_ufunc_steps(np.log))
_sqrt = _blockwise(_ufunc_steps(np.sqrt))
_tanh = _blockwise(_ufunc_steps(np.tanh))
_reciprocal = _blockwise(_ufunc_steps(np.reciprocal))


def _relu_steps(x: np.ndarray, res: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=res)


_relu_float = _blockwise(_relu_steps)
_abs_float = _blockwise(_ufunc_steps(np.abs))


def _rsqrt_steps(x: np.ndarray, res: np.ndarray) -> np.ndarray:
    """1 / sqrt(x) in ``res``: the values of ``1.0 / np.sqrt(x)``."""
    np.sqrt(x, out=res)
    return np.divide(1.0, res, out=res)


def _relu(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return _relu_float(x)
    return np.maximum(x, 0) if x.dtype.kind != "b" else x.copy()


def _abs(x: np.ndarray) -> np.ndarray:
    return _abs_float(x) if x.dtype.kind == "f" else np.abs(x)


# name -> (forward, node class, save "input" or "result", needs a float input)
_TABLE: dict[str, tuple[Callable, type, str, bool]] = {
    "exp": (_exp, ExpBackward0, "result", True),
    "log": (_log, LogBackward0, "input", True),
    "sqrt": (_sqrt, SqrtBackward0, "result", True),
    "abs": (_abs, AbsBackward0, "input", False),
    "sigmoid": (_sigmoid, SigmoidBackward0, "result", True),
    "tanh": (_tanh, TanhBackward0, "result", True),
    "relu": (_relu, ReluBackward0, "result", False),
    "reciprocal": (_reciprocal, ReciprocalBackward0, "result", True),
    "sin": (_blockwise(_ufunc_steps(np.sin)), SinBackward0, "input", True),
    "cos": (_blockwise(_ufunc_steps(np.cos)), CosBackward0, "input", True),
    "log1p": (_blockwise(_ufunc_steps(np.log1p)), Log1PBackward0, "input", True),
    "expm1": (_blockwise(_ufunc_steps(np.expm1)), Expm1Backward0, "result", True),
    "rsqrt": (_blockwise(_rsqrt_steps), RsqrtBackward0, "result", True),
}

# name -> (docstring example input, what the engine prints for it)
_EXAMPLES: dict[str, tuple[str, str]] = {
    "exp": ("[0.0, 1.0]", "tensor([1.0000, 2.7183])"),
    "log": ("[1.0, 4.0]", "tensor([0.0000, 1.3863])"),
    "sqrt": ("[4.0, 9.0]", "tensor([2., 3.])"),
    "abs": ("[-1.5, 2.0]", "tensor([1.5000, 2.0000])"),
    "sigmoid": ("[0.0, 2.0]", "tensor([0.5000, 0.8808])"),
    "tanh": ("[0.0, 1.0]", "tensor([0.0000, 0.7616])"),
    "relu": ("[-1.0, 2.0]", "tensor([0., 2.])"),
    "reciprocal": ("[2.0, 4.0]", "tensor([0.5000, 0.2500])"),
    "sin": ("[0.0, 0.5]", "tensor([0.0000, 0.4794])"),
    "cos": ("[0.0, 0.5]", "tensor([1.0000, 0.8776])"),
    "log1p": ("[0.0, 1.0]", "tensor([0.0000, 0.6931])"),
    "expm1": ("[0.0, 1.0]", "tensor([0.0000, 1.7183])"),
    "rsqrt": ("[4.0, 16.0]", "tensor([0.5000, 0.2500])"),
}


def unary_op(name: str, fwd: Callable, node_cls: type, keep: str, float_only: bool,
             example: tuple[str, str]) -> Callable[[Tensor], Tensor]:
    """Build the function for a one-input op: numpy ``fwd``, its node class, whether the
    backward needs the "input" or the "result", and a docstring ``example``."""

    def op(a: Tensor) -> Tensor:
        x = a._data
        if float_only and x.dtype.kind != "f":
            x = x.astype(float_dtype(x.dtype))
        with np.errstate(all="ignore"):
            res = fwd(x)
        if type(res) is not np.ndarray or res.dtype != x.dtype:
            res = np.asarray(res, dtype=x.dtype)
        if not recording(a):
            return out(res)
        node = node_cls((edge(a),))
        result = out(res, node)
        node.save_as((a, x)) if keep == "input" else node.save(result)
        return result

    op.__name__ = op.__qualname__ = name
    arg, shown = example
    op.__doc__ = (f"Elementwise {name}; its gradient node is ``{node_cls.__name__}``.\n\n"
                  f"    >>> engine.{name}(engine.tensor({arg}))\n    {shown}\n")
    return op


def _make(name: str) -> Callable[[Tensor], Tensor]:
    return unary_op(name, *_TABLE[name], _EXAMPLES[name])


exp = _make("exp")
log = _make("log")
sqrt = _make("sqrt")
abs = _make("abs")  # noqa: A001 - torch's name
sigmoid = _make("sigmoid")
tanh = _make("tanh")
relu = _make("relu")
reciprocal = _make("reciprocal")
sin = _make("sin")
cos = _make("cos")
log1p = _make("log1p")
expm1 = _make("expm1")
rsqrt = _make("rsqrt")
