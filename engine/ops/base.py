"""What every op shares: graph edges, output wrapping, broadcasting both ways.

Broadcast reduction lives here once (MyGrad's lesson) so each op writes only its math.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from engine._base import dtypes, grad_mode
from engine.graph import Node, _Saved
from engine.kernels import broadcast as bk
from engine.tensor import Tensor, _stale_view_requires_grad, _wrap

NO_EDGE = (None, 0)


def edge(t: Tensor) -> tuple[Node | None, int]:
    """Where a gradient for ``t`` must go: its grad_fn, its leaf accumulator, or nowhere."""
    x = t._x
    if x is None:  # the common case, without the grad_fn property's view handling
        if not t._rg:
            return NO_EDGE
        fn = t._fn
        return (fn, t._output_nr) if fn is not None else (t._accumulator(), 0)
    if not t._rg and not _stale_view_requires_grad(t):
        return NO_EDGE
    fn = t._fn if x.view is None else x.view.current_fn(t)  # a view's may need rebuilding
    if fn is not None:
        return (fn, t._output_nr)
    acc = x.accumulator() if x.accumulator is not None else None  # a leaf's usual case
    return (acc if acc is not None else t._accumulator(), 0)


def recording(*ts: Any) -> bool:
    """True when the op must record a node: grad mode on and some input requires grad."""
    if not grad_mode._state.enabled:
        return False
    found = False
    for t in ts:  # every input is looked at: a stale view's flag is brought up to date
        if isinstance(t, Tensor) and (t._rg or t._x is not None and _stale_view_requires_grad(t)):
            found = True
    return found


def out(data: Any, node: Node | None = None, nr: int = 0) -> Tensor:
    """Wrap a forward result, attaching ``node`` as its grad_fn."""
    if type(data) is not np.ndarray:
        data = np.asarray(data)
    return _wrap(data, node is not None, node, nr)


def flat(a: np.ndarray) -> np.ndarray:
    """A contiguous 1-D view (or copy) for the Numba kernels."""
    return a.reshape(-1)


@lru_cache(maxsize=4096)
def _plan(small: tuple[int, ...], big: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """Element strides of ``small`` laid over ``big`` (0 on broadcast dims)."""
    pad = (1,) * (len(big) - len(small)) + small
    strides = [0] * len(big)
    acc = 1
    for d in range(len(big) - 1, -1, -1):
        strides[d] = acc if pad[d] == big[d] and pad[d] != 1 else 0
        acc *= pad[d]
    shape = np.array(big, np.int64)
    st = np.array(strides, np.int64)
    shape.setflags(write=False)
    st.setflags(write=False)
    return shape, st, acc


def unbroadcast(g: np.ndarray, shape: tuple[int, ...], dtype: np.dtype | None = None
                ) -> np.ndarray:
    """Sum a gradient of the broadcast shape down to an input's ``shape`` (and dtype)."""
    if g.shape != shape:
        big, strides, size = _plan(shape, g.shape)
        g = bk.sum_to(flat(g), big, strides, size).reshape(shape)
    if dtype is not None and g.dtype != dtype:
        g = g.astype(dtype)
    return g


def sum_to(g: Tensor, shape: tuple[int, ...], dtype: np.dtype | None = None) -> Tensor:
    """``unbroadcast`` for tensors, recorded in the graph (used by ``apply_graph``)."""
    gs = g._data.shape
    if gs != shape:
        lead = len(gs) - len(shape)
        dims = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and gs[lead + i] != 1)
        g = (g.sum(dims, keepdim=True) if dims else g).reshape(shape)
    if dtype is not None and g._data.dtype != dtype:
        g = g.to(dtypes.from_np(dtype))  # the method: convert sits above this module
    return g


# ---------------------------------------------------------------- saved values as tensors
def _unpack_one(s: _Saved, node: Node) -> Tensor:
    """A saved value as a tensor connected to the graph.

    A node's own output is rebuilt from the saved buffer as that output, so save it
    with its own shape; ops that keep a reshaped copy rebuild it themselves.
    """
    t = s.tensor
    if t is None:
        return _wrap(s.data, True, node, s.output_nr)
    data = s.data
    if data is t._data:
        return t
    if t._rg and data.shape == t._data.shape and data.dtype != t._data.dtype:
        return t.to(dtypes.from_np(data.dtype))  # a recorded cast (convert sits above)
    return _wrap(data)  # a derived constant (e.g. a cast of an input without grad)


def unpack(node: Node) -> tuple:
    """``node``'s saved values as tensors in the graph, for ``apply_graph``."""
    return tuple(_unpack_one(s, node) for s in node._saved)


def saved_source(node: Node, i: int) -> Tensor:
    """The tensor ``node``'s ``i``-th saved value came from (for values derived from it)."""
    s = node._saved[i]
    return _unpack_one(s, node) if s.tensor is None else s.tensor


def const(a: np.ndarray) -> Tensor:
    """A constant tensor (no history) inside a differentiable backward formula."""
    return _wrap(a)


def expand_flat(a: np.ndarray, shape: tuple[int, ...], divisor: float = 1.0) -> np.ndarray:
    """``a`` broadcast to ``shape`` (divided by ``divisor``) as a flat contiguous buffer."""
    if a.shape == shape and divisor == 1.0:
        return flat(a)
    big, strides, _ = _plan(a.shape, shape)
    return bk.expand(flat(a), big, strides, _numel(shape), divisor)


@lru_cache(maxsize=4096)
def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def scalar_or_data(x: Any) -> tuple[Any, np.dtype | None, bool]:
    """(value, numpy dtype or None for a Python number, is zero-dim)."""
    if isinstance(x, Tensor):
        d = x._data
        return d, d.dtype, d.ndim == 0
    if isinstance(x, (np.number, np.bool_)):  # checked first: np.float64 is a float
        # torch treats a numpy scalar as the Python number; numpy (NEP 50) would let
        # np.float64(2) turn a float32 result into float64
        return x.item(), None, True
    if isinstance(x, (bool, int, float)):
        return x, None, True
    raise TypeError(f"unsupported operand type: {type(x).__name__}")


def operand_meta(t: Any) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) of a tensor operand, None for a number."""
    return (t._data.shape, t._data.dtype) if isinstance(t, Tensor) else None


def float_dtype(d: np.dtype) -> np.dtype:
    """Integer/bool inputs of float-only ops compute in the default float32, as torch."""
    return d if d.kind == "f" else dtypes.DEFAULT.np


# ---------------------------------------------------------------- out=
_RESIZED = (
    "An output with one or more elements was resized since it had shape {}, which does not "
    "match the required output shape {}. This behavior is deprecated, and in a future PyTorch "
    "release outputs will not be resized unless they have zero elements. You can explicitly "
    "reuse an out tensor t by resizing it, inplace, to zero elements with t.resize_(0).")


def takes_out(fn: Callable | None = None, *, rule: str = "cast", message: str | None = None,
              name: str | None = None, error: type = RuntimeError,
              resize_warning: bool = True) -> Any:
    """Give ``fn`` torch's keyword-only ``out=``: with a tensor there, the result is written
    into it (resized if its shape differs, cast to its dtype) and ``out`` is returned.

    torch's ops differ in the dtypes ``out`` may have, so ``rule`` says which: ``"cast"`` (the
    result must be castable: no float into an integer ``out``), ``"dtype"`` (factories, sum
    and prod compute in ``out``'s dtype, and a ``dtype=`` given must be it), ``"same"``
    (matrix products: the result's own dtype) or ``"any"`` (every dtype takes the result:
    bernoulli's zeros and ones). ``message`` is the op's text for a refused
    dtype, a format string with ``res``/``out`` (torch's ScalarType names) and
    ``res_cpp``/``out_cpp`` (its C++ names), raised as ``error``. ``name`` is the op torch
    names in its errors, when not ``fn``'s own; ``resize_warning`` whether torch warns when
    it resizes a non-empty ``out``.
    """
    if fn is None:
        return functools.partial(takes_out, rule=rule, message=message, name=name, error=error,
                                 resize_warning=resize_warning)
    spec = _Out(name or fn.__name__, rule, message or (_CAST if rule == "cast" else _SAME),
                error, resize_warning)

    @functools.wraps(fn)
    def op(*args: Any, out: Tensor | None = None, **kwargs: Any) -> Any:
        if out is None:
            return fn(*args, **kwargs)
        spec.check(out, args, kwargs)
        return spec.write(out, fn(*args, **kwargs))

    sig = inspect.signature(fn)
    op.__signature__ = sig.replace(parameters=[*sig.parameters.values(), inspect.Parameter(
        "out", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="Tensor | None")])
    return op


_CAST = "result type {res} can't be cast to the desired output type {out}"
_SAME = "Expected out tensor to have dtype {res_cpp}, but got {out_cpp} instead"


class _Out:
    """What one op's ``out=`` checks and how it writes (see ``takes_out``)."""

    __slots__ = ("name", "rule", "text", "error", "warn")

    def __init__(self, name: str, rule: str, text: str, error: type, warn: bool) -> None:
        self.name, self.rule, self.text, self.error, self.warn = name, rule, text, error, warn

    def refuse(self, res: dtypes.dtype, target: dtypes.dtype) -> Exception:
        return self.error(self.text.format(res=res.scalar_name, out=target.scalar_name,
                                           res_cpp=res.cpp_name, out_cpp=target.cpp_name))

    def check(self, target: Any, args: tuple, kwargs: dict) -> None:
        """Refuse a non-tensor ``out`` and recorded arguments; ``"dtype"`` fills in dtype."""
        if not isinstance(target, Tensor):
            raise TypeError(f"{self.name}(): argument 'out' must be Tensor, not "
                            f"{type(target).__name__}")
        given = [target, *args, *kwargs.values()]
        given += [t for a in given if isinstance(a, (list, tuple)) for t in a]  # cat's
        if grad_mode._state.enabled and any(isinstance(t, Tensor) and t.requires_grad
                                            for t in given):
            raise RuntimeError(f"{self.name}(): functions with out=... arguments don't support "
                               "automatic differentiation, but one of the arguments requires "
                               "grad.")
        if self.rule == "dtype":
            own = dtypes.from_np(target._data.dtype)
            asked = kwargs.setdefault("dtype", own) or own
            if asked is not own:
                raise self.refuse(asked, own)
            kwargs["dtype"] = own

    def write(self, target: Tensor, res: Any) -> Tensor:
        """Copy ``res`` into ``target`` (resized when its shape differs) and return it."""
        if not isinstance(res, Tensor):  # (values, indices) pairs: torch takes a tuple there
            raise TypeError(f"{self.name}(): out= takes one tensor; this call returns several")
        res, od = res._data, target._data
        r, o = dtypes.from_np(res.dtype), dtypes.from_np(od.dtype)
        if self.rule == "same" and r is not o or self.rule == "cast" and not dtypes.can_cast(
                r.np, o.np):
            raise self.refuse(r, o)
        if od.shape != res.shape:
            if od.size and self.warn:
                warnings.warn(_RESIZED.format(list(od.shape), list(res.shape)), UserWarning,
                              stacklevel=3)
            target._data = od = np.empty(res.shape, od.dtype)
        np.copyto(od, res, casting="unsafe")
        target._vc[0] += 1
        return target
