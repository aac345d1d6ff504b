"""The Tensor: a numpy buffer plus the autograd bookkeeping torch users expect.

This module holds only what a tensor *is*: data, ``requires_grad``, ``grad``, ``grad_fn``,
hooks and the version counter.  Ops, in-place writes and ``backward`` are functions in
``engine.ops`` and ``engine.autograd``, attached as methods once by ``engine/__init__.py``.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from engine._base import device, dtypes, messages
from engine._base.arrays import to_array, wrap_dim
from engine._base.format import tensor_repr
from engine._base.hooks import HookDict, RemovableHandle, add_hook
from engine.graph import AccumulateGrad
from engine.kernels.accumulate import accumulate_
from engine.kernels.accumulate import copy as copy_kernel
from engine.tensor.views import _ViewInfo


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``engine.Size([5, 3])``.

    >>> s = engine.zeros(5, 3).shape; s, s[0], s.numel()
    (engine.Size([5, 3]), 5, 15)
    """

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self) -> str:
        return f"engine.Size([{', '.join(str(d) for d in self)}])"


class _Extra:
    """Rarely used per-tensor state, kept off the hot path."""

    __slots__ = ("hooks", "retains_grad", "accumulator", "view", "name")

    def __init__(self) -> None:
        self.hooks: HookDict | None = None
        self.retains_grad = False
        self.accumulator: weakref.ref | None = None
        self.view: _ViewInfo | None = None
        self.name: str | None = None


def _stale_view_requires_grad(t: Tensor) -> bool:
    """For a tensor not marked as requiring grad: whether it is a view whose base gained a
    history since the view was made (``x[0:2].copy_(w)`` into a plain ``x``), in which
    case the view's own history is rebuilt now and it requires grad, as in torch."""
    info = t._x.view
    if info is None or info.version == t._vc[0]:
        return False
    info.current_fn(t)
    return t._rg


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    >>> w = engine.randn(5, 3, requires_grad=True)
    >>> loss = (engine.ones(5) @ w).sum()
    >>> loss.backward(); w.grad.shape
    engine.Size([5, 3])
    """

    __slots__ = ("_data", "_rg", "_grad", "_fn", "_output_nr", "_vc", "_x", "__weakref__")
    __array_priority__ = 1000  # numpy defers to our reflected operators

    def __init__(self, data: Any, dtype: dtypes.dtype | None = None,
                 requires_grad: bool = False) -> None:
        _init(self, to_array(data._data if isinstance(data, Tensor) else data, dtype),
              None, 0, [0])
        if requires_grad:
            self.requires_grad = True

    # -- what it is ---------------------------------------------------------
    @property
    def shape(self) -> Size:
        """The size of each dimension, as an ``engine.Size``.

        >>> engine.zeros(2, 3).shape
        engine.Size([2, 3])
        """
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Size | int:
        """The shape, or the length of one dimension.

        >>> x = engine.zeros(2, 3); x.size(), x.size(-1)
        (engine.Size([2, 3]), 3)
        """
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[wrap_dim(dim, self._data.ndim)]

    @property
    def dtype(self) -> dtypes.dtype:
        """The element type.

        >>> engine.tensor([1.0]).dtype, engine.tensor([1]).dtype
        (engine.float32, engine.int64)
        """
        return dtypes.from_np(self._data.dtype)

    @property
    def ndim(self) -> int:
        """The number of dimensions.

        >>> engine.zeros(2, 3).ndim
        2
        """
        return self._data.ndim

    def dim(self) -> int:
        """The number of dimensions, as a method.

        >>> engine.tensor(1.0).dim()
        0
        """
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements (``nelement`` is the same).

        >>> engine.zeros(2, 3).numel()
        6
        """
        return self._data.size

    nelement = numel

    @property
    def device(self) -> device.device:
        """Always the CPU: the engine's only device.

        >>> engine.ones(1).device
        device(type='cpu')
        """
        return device.CPU

    @property
    def is_cuda(self) -> bool:
        """Always False: JitGrad runs on the CPU.

        >>> engine.ones(1).is_cuda
        False
        """
        return False

    def is_floating_point(self) -> bool:
        """Whether the dtype is float32 or float64.

        >>> engine.tensor([1.0]).is_floating_point(), engine.tensor([1]).is_floating_point()
        (True, False)
        """
        return self._data.dtype.kind == "f"

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        try:
            fn = self.grad_fn
            name = None if fn is None else type(fn).__name__
        except RuntimeError:  # a stale view made under no_grad, printed as torch does
            fn, name = True, "Invalid"
        return tensor_repr(self._data, requires_grad=self._rg and fn is None,
                           grad_fn_name=name)

    __str__ = __repr__

    # -- conversion -----------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The data as a numpy array sharing memory (only for tensors without grad).

        >>> engine.tensor([1.0, 2.0]).numpy()
        array([1., 2.], dtype=float32)
        """
        if self._rg:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number.

        >>> engine.tensor([2.5]).item()
        2.5
        """
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        """The data as (nested) Python lists.

        >>> engine.tensor([[1, 2], [3, 4]]).tolist()
        [[1, 2], [3, 4]]
        """
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous"
            )
        return bool(self.item())

    # -- autograd state -----------------------------------------------------
    @property
    def grad_fn(self) -> Any:
        """The node that made this tensor (None for a leaf).

        >>> x = engine.ones(2, requires_grad=True); x.grad_fn is None, (x * 2).grad_fn.name()
        (True, 'MulBackward0')
        """
        x = self._x
        if x is None or x.view is None:
            return self._fn
        return x.view.current_fn(self)

    @grad_fn.setter
    def grad_fn(self, fn: Any) -> None:
        self._fn = fn
        x = self._x
        if x is not None and x.view is not None:
            x.view.version = self._vc[0]

    def _set_history(self, fn: Any, nr: int) -> None:
        """Take ``fn`` as this tensor's history; a retained grad follows the new one."""
        retained = self._x is not None and self._x.retains_grad
        if retained:  # the retained grad now belongs to the new history only
            self._x.retains_grad = False
            old = self._fn
            if old is not None and old._retains:
                old._retains.pop(self._output_nr, None)
        self.grad_fn = fn
        self._output_nr = nr
        if retained and fn is not None:
            self.retain_grad()

    @property
    def _base(self) -> Tensor | None:
        """The tensor whose memory this view shows (None when not a view), as torch's."""
        x = self._x
        return x.view.base if x is not None and x.view is not None else None

    def _is_view(self) -> bool:
        return self._base is not None

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded; settable on leaves.

        >>> x = engine.ones(2); x.requires_grad = True; (x * 2).requires_grad
        True
        """
        return self._rg or (self._x is not None and _stale_view_requires_grad(self))

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self.grad_fn is not None:
            msg = "you can only change requires_grad flags of leaf variables."
            if not flag:
                msg += (" If you want to use a computed variable in a subgraph that doesn't "
                        "require differentiation use var_no_grad = var.detach().")
            raise RuntimeError(msg)
        if flag and self._data.dtype.kind != "f":
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        self._rg = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self.

        >>> engine.zeros(2).requires_grad_()
        tensor([0., 0.], requires_grad=True)
        """
        if requires_grad and self.grad_fn is not None:
            return self  # a non-leaf already requires grad; torch allows asking again
        if requires_grad and self.grad_fn is None and self._data.dtype.kind != "f":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        """True for a tensor no recorded op made (its ``grad_fn`` is None).

        >>> x = engine.ones(2, requires_grad=True); x.is_leaf, (x * 2).is_leaf
        (True, False)
        """
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        """The gradient that ``backward`` accumulated here (None before any).

        >>> x = engine.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward(); x.grad
        tensor([2., 4.])
        """
        if self.grad_fn is not None and not (self._x and self._x.retains_grad):
            warnings.warn(messages.NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got "
                                f"grad of type {type(value).__name__}")
            if value._data.dtype != self._data.dtype:
                theirs = dtypes.from_np(value._data.dtype).cpp_name
                ours = dtypes.from_np(self._data.dtype).scalar_name
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{theirs}' to a tensor with "
                    f"grad_dtype '{ours}'. The gradient must match the tensor's grad_dtype "
                    "(defaults to the tensor's dtype). You can set the tensor's grad_dtype "
                    "attribute with a specific dtype, or None to allow any dtype. Set "
                    "grad_dtype with caution. Diverging the dtypes of a tensor and its "
                    "gradient may break downstream systems that assume they match.")
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value._data.shape)}' to a "
                    f"tensor of size '{list(self._data.shape)}'. Please ensure that the "
                    "gradient and the tensor are the same size")
        self._grad = value

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf.

        >>> y = engine.ones(2, requires_grad=True) * 2; y.retain_grad(); y.retains_grad
        True
        """
        return bool(self._x and self._x.retains_grad)

    def retain_grad(self) -> None:
        """Keep this non-leaf's gradient in ``.grad`` after backward.

        >>> y = engine.ones(2, requires_grad=True) * 2; y.retain_grad()
        >>> (y * 3).sum().backward(); y.grad
        tensor([3., 3.])
        """
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self.retains_grad:
            return
        self._extra().retains_grad = True
        node = self.grad_fn
        if node._retains is None:
            node._retains = {}
        node._retains[self._output_nr] = weakref.ref(self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` whenever this tensor's gradient is computed.

        The hook may return a tensor to use instead of ``grad``.

        >>> w = engine.ones(2, requires_grad=True)
        >>> h = w.register_hook(lambda g: g * 2)
        >>> w.sum().backward(); w.grad
        tensor([2., 2.])
        >>> h.remove()
        """
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node = self.grad_fn
        if node is None:
            extra = self._extra()
            if extra.hooks is None:
                extra.hooks = HookDict()
            return add_hook(extra.hooks, hook)
        if node._tensor_hooks is None:
            node._tensor_hooks = {}
        store = node._tensor_hooks.setdefault(self._output_nr, HookDict())
        return add_hook(store, hook)

    @property
    def _version(self) -> int:
        return self._vc[0]

    def _extra(self) -> _Extra:
        if self._x is None:
            self._x = _Extra()
        return self._x

    def _accumulator(self) -> AccumulateGrad:
        """The leaf's AccumulateGrad node, shared by every use of the leaf (like torch)."""
        extra = self._extra()
        node = extra.accumulator() if extra.accumulator is not None else None
        if node is None:
            node = AccumulateGrad(self)
            extra.accumulator = weakref.ref(node)
        return node

    def _leaf_hooks(self) -> HookDict | None:
        return self._x.hooks if self._x is not None else None

    def _accumulate(self, g: np.ndarray, owned: bool = False) -> None:
        """Add ``g`` into ``.grad`` in a Numba kernel; ``.grad`` keeps its identity.

        ``owned``: no one else holds ``g``, so a new ``.grad`` may take it as it is."""
        data = self._data
        if g.dtype != data.dtype:
            g = g.astype(data.dtype)
        grad = self._grad
        if grad is None:
            if owned and g.flags.c_contiguous and g.flags.writeable:
                self._grad = _wrap(g.reshape(data.shape))
            else:
                self._grad = _wrap(copy_kernel(g.reshape(-1)).reshape(data.shape))
            return
        gd = grad._data
        if gd.flags.c_contiguous:
            # (a 1-D array is its own flat view: reshape would only make another)
            accumulate_(gd if gd.ndim == 1 else gd.reshape(-1),
                        g if g.ndim == 1 else g.reshape(-1))
            grad._vc[0] += 1
        else:  # a user-assigned strided grad: keep the object, fix its layout
            grad._data = np.ascontiguousarray(grad._data + g.reshape(data.shape))
            grad._vc[0] += 1

    # -- views of the autograd state ------------------------------------------
    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph.

        >>> (engine.ones(2, requires_grad=True) * 2).detach()
        tensor([2., 2.])
        """
        out = _wrap(self._data)
        out._vc = self._vc
        return out

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph, in place; it becomes a leaf (not for views).

        >>> y = engine.ones(2, requires_grad=True) * 2; _ = y.detach_(); y.is_leaf
        True
        """
        if self._x is not None and self._x.view is not None:
            raise RuntimeError(messages.DETACH_VIEW)
        self._fn = None
        self._output_nr = 0
        self._rg = False
        return self

    @property
    def data(self) -> Tensor:
        """The same buffer outside autograd; unlike ``detach()`` its in-place changes are
        not counted (torch's documented ``.data`` escape hatch).

        >>> w = engine.ones(2, requires_grad=True); _ = w.data.mul_(3); w
        tensor([3., 3.], requires_grad=True)
        """
        return _wrap(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data


def _init(t: Tensor, data: np.ndarray, fn: Any, nr: int, vc: list) -> None:
    t._data = data
    t._rg = fn is not None
    t._grad = None
    t._fn = fn
    t._output_nr = nr
    t._vc = vc
    t._x = None


def _reset_grads(params: Iterable[Tensor], set_to_none: bool) -> None:
    """``zero_grad`` of modules and optimizers: each ``.grad`` to None, or zeroed in place."""
    for p in params:
        if p._grad is None:
            continue
        if set_to_none:
            p._grad = None
        else:
            p._grad.zero_()


def _wrap(data: np.ndarray, requires_grad: bool = False, fn: Any = None, nr: int = 0) -> Tensor:
    """Fast internal constructor: no checks, no copies."""
    t = Tensor.__new__(Tensor)
    t._data = data
    t._rg = requires_grad
    t._grad = None
    t._fn = fn
    t._output_nr = nr
    t._vc = [0]
    t._x = None
    return t

