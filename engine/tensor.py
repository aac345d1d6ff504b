"""The Tensor: a numpy buffer plus the autograd bookkeeping torch users expect.

Ops live in ``engine.ops`` and are attached as methods there; this module holds
only what a tensor *is*: data, ``requires_grad``, ``grad``, ``grad_fn``, hooks,
version counter and the in-place entry points.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from engine._base import dtypes, grad_mode
from engine._base.format import tensor_repr
from engine.graph import AccumulateGrad, RemovableHandle, _HookDict, add_hook
from engine.kernels.accumulate import accumulate_
from engine.kernels.accumulate import copy as copy_kernel

NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead."
)
# torch's C++ names of the element types, used in its grad-assignment message
_CPP_NAMES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double",
              np.dtype(np.int64): "long int", np.dtype(np.bool_): "bool"}
LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_INPLACE = "a view of " + LEAF_INPLACE
_NO_GRAD_VIEW = (
    "A view was created in no_grad mode and {} modified inplace with grad mode enabled. "
    "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
    "your code by moving both the view and the inplace either both inside the no_grad block "
    "(if you don't want the inplace to be tracked) or both outside (if you want the inplace "
    "to be tracked).")
_DETACH_VIEW = (
    "Can't detach views in-place. Use detach() instead. If you are using "
    "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as True, "
    "gradients are views of DDP buckets, and hence detach_() cannot be called on these "
    "gradients. To fix this error, please refer to the Optimizer.zero_grad() function in "
    "torch/optim/optimizer.py as the solution.")
_OVERLAP = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location. Please clone() the tensor before performing the operation.")
# How far up a chain of single-input nodes a view's leaf base is looked for.
_VIEW_DEPTH = 64


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
        self.hooks: _HookDict | None = None
        self.retains_grad = False
        self.accumulator: weakref.ref | None = None
        self.view: _ViewInfo | None = None
        self.name: str | None = None


class _ViewInfo:
    """What a view remembers of its base, for in-place ops through it (torch's view meta).

    ``base`` is the tensor owning the memory (never itself a view); ``no_grad`` whether
    the view was made with grad mode off; ``version`` the version counter's value when
    the view's ``grad_fn`` was last set.  When the shared counter has moved on (the base
    or another view of it was modified in place), the view's history is rebuilt from the
    base's current one as an ``AsStridedBackward0``, which is what torch does.
    """

    __slots__ = ("base", "no_grad", "version")

    def __init__(self, base: Tensor, no_grad: bool, version: int) -> None:
        self.base = base
        self.no_grad = no_grad
        self.version = version

    def positions(self, view: Tensor) -> np.ndarray | None:
        """The view's elements as flat (C-order) offsets into the base, or None when the
        view no longer lies in the base's memory (``.data`` was reassigned)."""
        return _positions(self.base._data, view._data)

    def current_fn(self, view: Tensor) -> Any:
        """The view's ``grad_fn``, rebuilt from the base's history if it is out of date."""
        version = view._vc[0]
        if version == self.version:
            return view._fn
        base = self.base
        if view._fn is None and not base._rg:
            self.version = version
            return None
        if self.no_grad:
            raise RuntimeError(_NO_GRAD_VIEW.format(
                "its base or another view of its base has been"))
        positions = self.positions(view)
        if positions is None:  # cut off from the base: keep the history it has
            self.version = version
            return view._fn
        from engine.ops.shape import as_strided_node

        fn = as_strided_node(base, positions) if base._rg else None
        was_leaf = view._fn is None
        view._set_history(fn, 0)
        view._rg = fn is not None or (was_leaf and view._rg)
        self.version = version
        return fn


def _stale_view_requires_grad(t: Tensor) -> bool:
    """For a tensor not marked as requiring grad: whether it is a view whose base gained a
    history since the view was made (``x[0:2].copy_(w)`` into a plain ``x``), in which
    case the view's own history is rebuilt now and it requires grad, as in torch."""
    info = t._x.view
    if info is None or info.version == t._vc[0]:
        return False
    info.current_fn(t)
    return t._rg


def _positions(base: np.ndarray, view: np.ndarray) -> np.ndarray | None:
    """Flat C-order indices into ``base`` of each element of ``view`` (same memory)."""
    if view.size == 0:
        return np.zeros(0, np.int64)
    item = base.itemsize
    if view.dtype != base.dtype or not np.may_share_memory(base, view):
        return None
    start = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    offsets = _byte_offsets(view) + start
    if base.flags.c_contiguous:
        pos = offsets // item
        ok = (offsets % item == 0) & (pos >= 0) & (pos < base.size)
        return pos.reshape(-1) if ok.all() else None
    where = _byte_offsets(base).reshape(-1)
    order = np.argsort(where, kind="stable")
    found = np.searchsorted(where[order], offsets.reshape(-1))
    found = np.minimum(found, where.size - 1)
    if not (where[order][found] == offsets.reshape(-1)).all():
        return None
    return order[found].astype(np.int64)


def _byte_offsets(a: np.ndarray) -> np.ndarray:
    """The byte offset of each element of ``a`` from its first one."""
    off = np.zeros(a.shape, np.int64)
    for d, (n, st) in enumerate(zip(a.shape, a.strides)):
        shape = [1] * a.ndim
        shape[d] = n
        off = off + (np.arange(n, dtype=np.int64) * st).reshape(shape)
    return off


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
        from engine.ops.creation import to_array

        _init(self, to_array(data, dtype), None, 0, [0])
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
    def device(self) -> str:
        """Always ``'cpu'``: the engine's only device.

        >>> engine.ones(1).device
        'cpu'
        """
        return "cpu"

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
            warnings.warn(NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got "
                                f"grad of type {type(value).__name__}")
            if value._data.dtype != self._data.dtype:
                theirs = _CPP_NAMES[value._data.dtype]
                ours = dtypes.from_np(self._data.dtype).tensor_type.removesuffix("Tensor")
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
                extra.hooks = _HookDict()
            return add_hook(extra.hooks, hook)
        if node._tensor_hooks is None:
            node._tensor_hooks = {}
        store = node._tensor_hooks.setdefault(self._output_nr, _HookDict())
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

    def _leaf_hooks(self) -> _HookDict | None:
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

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Gradients of this tensor w.r.t. the graph leaves; see ``autograd.backward``.

        >>> x = engine.tensor([1.0, 2.0], requires_grad=True)
        >>> (x ** 2).sum().backward(); x.grad
        tensor([2., 4.])
        """
        if inputs is None:  # autograd.backward's own path, without its layers
            run = _backward_run[0] if _backward_run else _load_backward_run()
            run(self, gradient, retain_graph, create_graph)
            return
        from engine.autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

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
            raise RuntimeError(_DETACH_VIEW)
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

    # -- in place -------------------------------------------------------------
    def _check_inplace(self, view: bool = False, other: Any = None) -> None:
        """torch's refusals before an in-place write: into a leaf that requires grad, into
        a view of one, into a view made under no_grad when the write would be recorded,
        and into memory that several elements share (an expanded view).

        ``view``: the write goes through a view taken first (``x[0] = v``); ``other``: the
        value written or combined in (it may require grad).
        """
        if grad_mode._state.enabled:
            info = self._x.view if self._x is not None else None
            if info is not None and info.no_grad and (
                    self._rg or info.base._rg or isinstance(other, Tensor) and other._rg):
                raise RuntimeError(_NO_GRAD_VIEW.format("is being"))
            if self._rg:
                if info is not None and info.base._rg and info.base._fn is None:
                    raise RuntimeError(VIEW_OF_LEAF_INPLACE)
                if self.grad_fn is None:
                    raise RuntimeError(VIEW_OF_LEAF_INPLACE if view else LEAF_INPLACE)
                if info is None and self._data.base is not None and self._leaf_base():
                    raise RuntimeError(VIEW_OF_LEAF_INPLACE)
        data = self._data
        if not data.flags.writeable and 0 in data.strides and data.size > 1:
            raise RuntimeError(_OVERLAP)

    def _leaf_base(self) -> Tensor | None:
        """The leaf requiring grad this tensor is a view of, if any.

        Views share their base's version counter, so the leaf is found by walking up
        the single-input nodes to an AccumulateGrad whose variable shares ``_vc``.
        """
        node = self.grad_fn
        for _ in range(_VIEW_DEPTH):
            if node is None or len(node.next_functions) != 1:
                return None
            node = node.next_functions[0][0]
            if type(node) is AccumulateGrad:
                leaf = node.variable
                return leaf if leaf._vc is self._vc and leaf._rg else None
        return None

    def _inplace(self, result: Tensor) -> Tensor:
        """Write an out-of-place ``result`` into this tensor and take over its history."""
        data = self._data
        res = result._data
        if res.dtype != data.dtype and not np.can_cast(res.dtype, data.dtype, "same_kind"):
            raise RuntimeError(
                f"result type {dtypes.from_np(res.dtype).name.capitalize()} can't be cast to "
                f"the desired output type {dtypes.from_np(data.dtype).name.capitalize()}")
        if res.shape != data.shape:
            raise RuntimeError(
                f"output with shape {list(data.shape)} doesn't match the broadcast shape "
                f"{list(res.shape)}")
        fn = result._fn
        info = self._x.view if self._x is not None else None
        positions = info.positions(self) if info is not None and fn is not None else None
        data[...] = res
        self._vc[0] += 1
        if fn is None:
            return self
        if positions is not None:
            # Through a view: the base takes a CopySlices over its old history, and the
            # view's own history is rebuilt from the base's (torch's rebase_history).
            from engine.ops.inplace import view_copy_slices

            base = info.base
            base._set_history(view_copy_slices(base, fn, positions, data.shape), 0)
            base._rg = True
            info.version = -1
            self._rg = True
            self.grad_fn  # noqa: B018 - rebuilds the view's history now, as torch does
            return self
        self._set_history(fn, result._output_nr)
        self._rg = True
        return self

    def _recording_copy(self) -> Tensor:
        """A snapshot of this tensor with its history, for in-place ops that record."""
        return _wrap(self._data.copy(), self._rg, self.grad_fn, self._output_nr)

    def _records(self, other: Any = None) -> bool:
        return grad_mode._state.enabled and (
            self._rg or (isinstance(other, Tensor) and other._rg))

    def zero_(self) -> Tensor:
        """Fill with zeros in place and return self (``w.grad.zero_()``).

        >>> engine.ones(2).zero_()
        tensor([0., 0.])
        """
        if self._x is None and not self._rg:  # a plain tensor (``w.grad``): fill_'s checks
            data = self._data  # reduce to the overlap one, and nothing can be recorded
            if not data.flags.writeable and 0 in data.strides and data.size > 1:
                raise RuntimeError(_OVERLAP)
            data.fill(0)
            self._vc[0] += 1
            return self
        return self.fill_(0)

    def fill_(self, value: float | Tensor) -> Tensor:
        """Set every element to ``value`` in place and return self.

        >>> engine.zeros(2).fill_(1.5)
        tensor([1.5000, 1.5000])
        """
        self._check_inplace(other=value)
        if self._records(value):
            from engine.ops.inplace import fill

            return self._inplace(fill(self, value))
        self._data[...] = value._data if isinstance(value, Tensor) else value
        self._vc[0] += 1
        return self

    def copy_(self, src: Tensor) -> Tensor:
        """Copy ``src``'s values (broadcast) into this tensor and return self.

        >>> engine.zeros(2, 2).copy_(engine.tensor([1.0, 2.0]))
        tensor([[1., 2.],
                [1., 2.]])
        """
        self._check_inplace(other=src)
        if self._records(src):
            from engine.ops.inplace import copy_from

            return self._inplace(copy_from(self, src))
        self._data[...] = src._data if isinstance(src, Tensor) else src
        self._vc[0] += 1
        return self

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        """In-place ``self += alpha * other``.

        >>> engine.ones(2).add_(engine.tensor([1.0, 2.0]), alpha=2)
        tensor([3., 5.])
        """
        return self._binary_inplace("add", other, alpha)

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        """In-place ``self -= alpha * other``.

        >>> engine.ones(2).sub_(0.5)
        tensor([0.5000, 0.5000])
        """
        return self._binary_inplace("sub", other, alpha)

    def mul_(self, other: Any) -> Tensor:
        """In-place ``self *= other``.

        >>> engine.tensor([1.0, 2.0]).mul_(3)
        tensor([3., 6.])
        """
        return self._binary_inplace("mul", other, 1)

    def div_(self, other: Any) -> Tensor:
        """In-place ``self /= other``.

        >>> engine.tensor([1.0, 2.0]).div_(4)
        tensor([0.2500, 0.5000])
        """
        return self._binary_inplace("div", other, 1)

    def _binary_inplace(self, op: str, other: Any, alpha: float) -> Tensor:
        self._check_inplace(other=other)
        records = self._records(other)
        if not records and alpha == 1 and op in _UFUNCS and _ufunc_inplace(
                self, _UFUNCS[op], other):
            return self
        from engine.ops import arithmetic

        fn = getattr(arithmetic, op)
        args = (other, alpha) if op in ("add", "sub") else (other,)
        if records:
            return self._inplace(fn(self._recording_copy(), *args))
        with grad_mode.no_grad():
            return self._inplace(fn(self.detach(), *args))

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace(view=_takes_view(index), other=value)
        from engine.ops.inplace import setitem

        if self._records(value):
            self._inplace(setitem(self._recording_copy(), index, value))
            return
        self._data[_np_index(index)] = value._data if isinstance(value, Tensor) else value
        self._vc[0] += 1


_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply}


def _ufunc_inplace(t: Tensor, ufunc: np.ufunc, other: Any) -> bool:
    """An unrecorded ``t += other`` (``-=``, ``*=``) written straight into ``t``'s buffer,
    as torch does, without the out-of-place result and its copy (``p -= lr * p.grad``).
    Only for a float tensor and an operand that neither changes the dtype nor broadcasts
    ``t``; False leaves every other case (and its errors) to the general path."""
    data = t._data
    if data.dtype.kind != "f":
        return False
    if isinstance(other, Tensor):
        od = other._data
        if od.dtype != data.dtype or (od.shape != data.shape and _broadcast(
                data.shape, od.shape) != data.shape):
            return False
    elif type(other) is float or type(other) is int:
        od = other
    else:
        return False
    if ufunc is np.multiply or type(od) is not np.ndarray and math.isfinite(od):
        ufunc(data, od, out=data)
    else:  # as the out-of-place ops: inf - inf is NaN, silently
        with np.errstate(invalid="ignore", over="ignore"):
            ufunc(data, od, out=data)
    t._vc[0] += 1
    return True


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    from engine.ops.base import broadcast_shape

    try:
        return broadcast_shape(a, b)
    except RuntimeError:
        return None


def _np_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index


def _takes_view(index: Any) -> bool:
    """Whether torch indexes a view first for ``x[index] = v`` (an int, part slice or None)."""
    for i in index if isinstance(index, tuple) else (index,):
        if i is None or isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            return True
        if isinstance(i, slice) and i != slice(None):
            return True
        if isinstance(i, Tensor) and i._data.ndim == 0 and i._data.dtype.kind in "iu":
            return True
    return False


# ``engine.autograd.loop.run``, imported on first use (it imports this module).
_backward_run: list[Callable[..., Any]] = []


def _load_backward_run() -> Callable[..., Any]:
    from engine.autograd.loop import run

    _backward_run.append(run)
    return run


def wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


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

