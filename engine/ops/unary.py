"""Elementwise functions of one tensor: exp, log, sqrt, abs, sigmoid, tanh, relu,
reciprocal, sin, cos, sinh, cosh, log1p, expm1, rsqrt.

Each op is its node class (the Numba backward kernel from ``engine.kernels.elementwise``
or ``engine.kernels.activation``, and the same formula in tensor ops for a second
derivative) directly above the one line that builds its forward with ``unary_op``.
The numpy forwards for large inputs (``_blockwise``) come first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.graph import Node
from engine.kernels import activation as ak
from engine.kernels import buffers
from engine.kernels import elementwise as ek
from engine.ops.base import const, edge, flat, float_dtype, out, recording, takes_out, unpack
from engine.tensor import Tensor


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
_sin = _blockwise(_ufunc_steps(np.sin))
_cos = _blockwise(_ufunc_steps(np.cos))
_sinh = _blockwise(_ufunc_steps(np.sinh))
_cosh = _blockwise(_ufunc_steps(np.cosh))
_log1p = _blockwise(_ufunc_steps(np.log1p))
_expm1 = _blockwise(_ufunc_steps(np.expm1))


def _relu_steps(x: np.ndarray, res: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=res)


_relu_float = _blockwise(_relu_steps)
_abs_float = _blockwise(_ufunc_steps(np.abs))


def _rsqrt_steps(x: np.ndarray, res: np.ndarray) -> np.ndarray:
    """1 / sqrt(x) in ``res``: the values of ``1.0 / np.sqrt(x)``."""
    np.sqrt(x, out=res)
    return np.divide(1.0, res, out=res)


_rsqrt = _blockwise(_rsqrt_steps)


def _relu(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return _relu_float(x)
    return np.maximum(x, 0) if x.dtype.kind != "b" else x.copy()


def _abs(x: np.ndarray) -> np.ndarray:
    return _abs_float(x) if x.dtype.kind == "f" else np.abs(x)


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


def unary_op(name: str, fwd: Callable, node_cls: type, keep: str, example: tuple[str, str],
             float_only: bool = True) -> Callable[[Tensor], Tensor]:
    """Build the function for a one-input op: numpy ``fwd``, its node class, whether the
    backward needs the "input" or the "result", a docstring ``example`` (an input and what
    the engine prints for it), and whether an integer input is first cast to float."""

    def op(input: Tensor) -> Tensor:  # noqa: A002 - torch's name
        x = input._data
        if float_only and x.dtype.kind != "f":
            x = x.astype(float_dtype(x.dtype))
        with np.errstate(all="ignore"):
            res = fwd(x)
        if type(res) is not np.ndarray or res.dtype != x.dtype:
            res = np.asarray(res, dtype=x.dtype)
        if not recording(input):
            return out(res)
        node = node_cls((edge(input),))
        result = out(res, node)
        node.save_as((input, x)) if keep == "input" else node.save(result)
        return result

    op.__name__ = op.__qualname__ = name
    arg, shown = example
    op.__doc__ = (f"Elementwise {name}; its gradient node is ``{node_cls.__name__}``.\n\n"
                  f"    >>> engine.{name}(engine.tensor({arg}))\n    {shown}\n")
    return takes_out(op)


class ExpBackward0(_Unary):
    __slots__ = ()
    kernel = ek.exp_bwd
    graph = staticmethod(lambda g, r: g * r)


exp = unary_op("exp", _exp, ExpBackward0, "result", ("[0.0, 1.0]", "tensor([1.0000, 2.7183])"))


class LogBackward0(_Unary):
    __slots__ = ()
    kernel = ek.log_bwd
    graph = staticmethod(lambda g, x: g / x)


log = unary_op("log", _log, LogBackward0, "input", ("[1.0, 4.0]", "tensor([0.0000, 1.3863])"))


class SqrtBackward0(_Unary):
    __slots__ = ()
    kernel = ek.sqrt_bwd
    graph = staticmethod(lambda g, r: g / (2 * r))


sqrt = unary_op("sqrt", _sqrt, SqrtBackward0, "result", ("[4.0, 9.0]", "tensor([2., 3.])"))


class AbsBackward0(_Unary):
    __slots__ = ()
    kernel = ek.abs_bwd
    # torch: g * sgn(x), with sgn(NaN) = 0
    graph = staticmethod(lambda g, x: g * const(np.nan_to_num(np.sign(x._data), nan=0.0)))


abs = unary_op("abs", _abs, AbsBackward0, "input",  # noqa: A001 - torch's name
               ("[-1.5, 2.0]", "tensor([1.5000, 2.0000])"), float_only=False)


class SigmoidBackward0(_Unary):
    __slots__ = ()
    kernel = ek.sigmoid_bwd
    graph = staticmethod(lambda g, r: g * ((1 - r) * r))


sigmoid = unary_op("sigmoid", _sigmoid, SigmoidBackward0, "result",
                   ("[0.0, 2.0]", "tensor([0.5000, 0.8808])"))


class TanhBackward0(_Unary):
    __slots__ = ()
    kernel = ek.tanh_bwd
    graph = staticmethod(lambda g, r: g * (1 - r * r))


tanh = unary_op("tanh", _tanh, TanhBackward0, "result", ("[0.0, 1.0]", "tensor([0.0000, 0.7616])"))


class ReluBackward0(_Unary):
    __slots__ = ()
    kernel = ek.relu_bwd
    # torch's threshold_backward zeroes where x <= 0 only, so NaN keeps the gradient
    graph = staticmethod(lambda g, r: g * const((~(r._data <= 0)).astype(r._data.dtype)))


relu = unary_op("relu", _relu, ReluBackward0, "result",
                ("[-1.0, 2.0]", "tensor([0., 2.])"), float_only=False)


class ReciprocalBackward0(_Unary):
    __slots__ = ()
    kernel = ek.reciprocal_bwd
    graph = staticmethod(lambda g, r: -g * (r * r))


reciprocal = unary_op("reciprocal", _reciprocal, ReciprocalBackward0, "result",
                      ("[2.0, 4.0]", "tensor([0.5000, 0.2500])"))


class SinBackward0(_Unary):
    __slots__ = ()
    kernel = ak.sin_bwd
    graph = staticmethod(lambda g, x: g * x.cos())


sin = unary_op("sin", _sin, SinBackward0, "input",
               ("[0.0, 0.5]", "tensor([0.0000, 0.4794])"))


class CosBackward0(_Unary):
    __slots__ = ()
    kernel = ak.cos_bwd
    graph = staticmethod(lambda g, x: g * -x.sin())


cos = unary_op("cos", _cos, CosBackward0, "input",
               ("[0.0, 0.5]", "tensor([1.0000, 0.8776])"))


class SinhBackward0(_Unary):
    __slots__ = ()
    kernel = ak.sinh_bwd
    graph = staticmethod(lambda g, x: g * x.cosh())


sinh = unary_op("sinh", _sinh, SinhBackward0, "input",
                ("[0.0, 1.0]", "tensor([0.0000, 1.1752])"))


class CoshBackward0(_Unary):
    __slots__ = ()
    kernel = ak.cosh_bwd
    graph = staticmethod(lambda g, x: g * x.sinh())


cosh = unary_op("cosh", _cosh, CoshBackward0, "input",
                ("[0.0, 1.0]", "tensor([1.0000, 1.5431])"))


class Log1PBackward0(_Unary):
    __slots__ = ()
    kernel = ak.log1p_bwd
    graph = staticmethod(lambda g, x: g / (x + 1))


log1p = unary_op("log1p", _log1p, Log1PBackward0, "input",
                 ("[0.0, 1.0]", "tensor([0.0000, 0.6931])"))


class Expm1Backward0(_Unary):
    __slots__ = ()
    kernel = ak.expm1_bwd
    graph = staticmethod(lambda g, r: g * (r + 1))


expm1 = unary_op("expm1", _expm1, Expm1Backward0, "result",
                 ("[0.0, 1.0]", "tensor([0.0000, 1.7183])"))


class RsqrtBackward0(_Unary):
    __slots__ = ()
    kernel = ak.rsqrt_bwd
    graph = staticmethod(lambda g, r: g * (r ** 3) * -0.5)


rsqrt = unary_op("rsqrt", _rsqrt, RsqrtBackward0, "result",
                 ("[4.0, 16.0]", "tensor([0.5000, 0.2500])"))


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = ["abs", "cos", "cosh", "exp", "expm1", "log", "log1p", "reciprocal", "relu",
           "rsqrt", "sigmoid", "sin", "sinh", "sqrt", "tanh"]
METHODS = {name: globals()[name] for name in __all__}
