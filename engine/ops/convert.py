"""Conversions between element types and devices: ``to``, ``type``, ``cpu``, ``cuda`` and
``float``, ``double``, ``long``, ``int``, ..."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine._base import device as dev
from engine._base import dtypes
from engine.graph import Node
from engine.ops.base import edge, out, recording
from engine.tensor import Tensor


class ToCopyBackward0(Node):
    __slots__ = ("dtype",)

    def apply(self, grads: list) -> tuple:
        return (grads[0].astype(self.dtype),)

    def apply_graph(self, grads: list) -> tuple:
        return (cast(grads[0], self.dtype),)


_TO_FORMS = (
    " * (engine.device device = None, engine.dtype dtype = None, bool non_blocking = False, "
    "bool copy = False, *, engine.memory_format memory_format = None)\n"
    " * (engine.dtype dtype, bool non_blocking = False, bool copy = False, *, "
    "engine.memory_format memory_format = None)\n"
    " * (Tensor tensor, bool non_blocking = False, bool copy = False, *, "
    "engine.memory_format memory_format = None)\n")
_TO_KEYWORDS = ("device", "dtype", "non_blocking", "copy", "memory_format")


def _bad_to(args: tuple, kwargs: dict) -> TypeError:
    """torch's complaint about a call of ``to`` that matches none of its forms."""
    def kind(v: Any) -> str:
        if isinstance(v, dtypes.dtype):
            return "engine.dtype"
        return "engine.device" if isinstance(v, dev.device) else type(v).__name__

    got = ", ".join([kind(a) for a in args] + [f"{k}={kind(v)}" for k, v in kwargs.items()])
    if kwargs:
        got += ", "
    return TypeError(f"to() received an invalid combination of arguments - got ({got}), but "
                     f"expected one of:\n{_TO_FORMS}")


def _is_device(v: Any) -> bool:
    return isinstance(v, (str, dev.device)) or type(v) is int


def to(a: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """torch's three forms: ``to(device=None, dtype=None, non_blocking=False, copy=False)``,
    ``to(dtype, non_blocking=False, copy=False)`` and ``to(other, ...)`` (other's dtype).

    Returns ``a`` itself when nothing changes and ``copy`` is False; otherwise a copy recorded
    in the graph (``ToCopyBackward0``). Devices other than the CPU refuse.

    >>> x = engine.tensor([1.0, 2.0]); x.to(engine.float64), x.to("cpu", engine.int64)
    (tensor([1., 2.], dtype=engine.float64), tensor([1, 2]))
    >>> x.to("cpu") is x, x.to(x) is x, x.to(copy=True) is x
    (True, True, False)
    """
    if kwargs.keys() - _TO_KEYWORDS:
        raise _bad_to(args, kwargs)
    rest = list(args)
    device, target = kwargs.get("device"), kwargs.get("dtype")
    if rest and isinstance(rest[0], Tensor):  # to(other)
        target = rest.pop(0).dtype
    elif rest and isinstance(rest[0], dtypes.dtype):  # to(dtype)
        target = rest.pop(0)
    elif rest and _is_device(rest[0]):  # to(device, dtype=None)
        device = rest.pop(0)
        if rest and isinstance(rest[0], dtypes.dtype):
            target = rest.pop(0)
    flags = dict(zip(("non_blocking", "copy"), rest))
    if len(rest) > 2 or not all(isinstance(f, bool) for f in flags.values()) or \
            flags.keys() & kwargs.keys() or \
            target is not None and not isinstance(target, dtypes.dtype):
        raise _bad_to(args, kwargs)
    dev.check(device)
    copy = flags.get("copy", kwargs.get("copy", False))
    return _cast(a, target or dtypes.from_np(a._data.dtype), copy)


def cast(a: Tensor, np_dtype: np.dtype) -> Tensor:
    """``a`` converted to a numpy dtype, recorded in the graph."""
    return _cast(a, dtypes.from_np(np.dtype(np_dtype)))


def _cast(a: Tensor, target: dtypes.dtype, copy: bool = False) -> Tensor:
    if a._data.dtype == target.np and not copy:
        return a
    res = a._data.astype(target.np)
    if recording(a) and target.is_floating_point:
        node = ToCopyBackward0((edge(a),))
        node.dtype = a._data.dtype
        return out(res, node)
    return out(res)


def type_(a: Tensor, dtype: Any = None, non_blocking: bool = False) -> str | Tensor:
    """With no ``dtype``: the legacy type name (``'engine.FloatTensor'``, torch's name with
    the engine's module). With one (a dtype or such a name): ``to(dtype)``.

    >>> x = engine.ones(2); x.type(), x.type(engine.int32).type()
    ('engine.FloatTensor', 'engine.IntTensor')
    >>> x.type("engine.DoubleTensor").dtype
    engine.float64
    """
    if dtype is None:
        return f"engine.{dtypes.from_np(a._data.dtype).tensor_type}"
    if isinstance(dtype, str):
        found = [d for d in dtypes.ALL if dtype in (f"engine.{d.tensor_type}",
                                                    f"torch.{d.tensor_type}")]
        if ".cuda." in dtype:
            dev.check("cuda")
        if not found:
            raise ValueError(f"invalid type: '{dtype}'")
        dtype = found[0]
    elif not isinstance(dtype, dtypes.dtype):
        raise TypeError("dtype must be a type, str, or dtype object")
    return _cast(a, dtype)


def cpu(a: Tensor, memory_format: Any = None) -> Tensor:
    """The tensor on the CPU: itself, since every tensor lives there.

    >>> x = engine.ones(2); x.cpu() is x
    True
    """
    return a


def cuda(a: Tensor, device: Any = None, non_blocking: bool = False,
         memory_format: Any = None) -> Tensor:
    """Refuses: JitGrad runs on the CPU (``engine.cuda.is_available()`` is False).

    >>> engine.ones(2).cuda()
    Traceback (most recent call last):
    ...
    RuntimeError: JitGrad runs on the CPU only: device 'cuda' is not available (engine.cuda.is_available() is False). Use device='cpu' or leave device out.
    """  # noqa: E501 - the message is one line
    dev.check(dev.device("cuda", device) if type(device) is int else device or "cuda")
    return a


def half(a: Tensor, memory_format: Any = None) -> Tensor:
    """Refuses: the engine has no float16 (its kernels are compiled for float32 and float64).

    >>> engine.ones(2).half()
    Traceback (most recent call last):
    ...
    TypeError: JitGrad has no float16 dtype: use float() (float32) or double() (float64)
    """
    raise TypeError("JitGrad has no float16 dtype: use float() (float32) or double() (float64)")


def caster(method: str, name: str) -> Any:
    """The ``float()``/``double()``/... method (``method``) converting to the dtype called
    ``name``."""

    def convert(a: Tensor, memory_format: Any = None) -> Tensor:
        """Convert to the dtype the method is named after: ``float``, ``double``, ``long``,
        ``int``, ``short``, ``char``, ``byte`` or ``bool`` (a recorded copy between float
        dtypes; the tensor itself when it has that dtype already).

        >>> x = engine.tensor([0.0, 1.5]); x.double()
        tensor([0.0000, 1.5000], dtype=engine.float64)
        >>> x.long(), x.bool(), x.long().float(), x.int()
        (tensor([0, 1]), tensor([False,  True]), tensor([0., 1.]), tensor([0, 1], dtype=engine.int32))
        """  # noqa: E501 - a doctest output line
        return _cast(a, dtypes.BY_NAME[name])

    convert.__name__ = convert.__qualname__ = method
    return convert


# engine.<name> and Tensor.<name> (collected by engine/__init__.py and engine.ops.methods)
__all__ = []
METHODS = {"to": to, "type": type_, "cpu": cpu, "cuda": cuda, "half": half,
           **{method: caster(method, name) for method, name in (
               ("float", "float32"), ("double", "float64"), ("long", "int64"), ("int", "int32"),
               ("short", "int16"), ("char", "int8"), ("byte", "uint8"), ("bool", "bool"))}}
