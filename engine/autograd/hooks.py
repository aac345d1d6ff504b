"""The user code a backward pass runs: tensor hooks, retained grads, node pre- and post-hooks.

Each runner checks what a hook returns as torch does (type, dtype, shape, count) and keeps
the pass's own representation: arrays on the fast path, tensors with create_graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine._base.dtypes import from_np
from engine.graph import AccumulateGrad, Node
from engine.kernels.accumulate import add_out, copy
from engine.tensor import Tensor, _wrap


def _wrapped(g: Any) -> Tensor | None:
    """A gradient as a tensor: arrays on the fast path, tensors with create_graph."""
    return g if g is None or isinstance(g, Tensor) else _wrap(g)


def _hook_result(fn: Any, old: Any, new: Any) -> Any:
    """A gradient a hook returned, checked as torch checks it (type, dtype, shape), in
    the pass's own representation (array, or tensor with create_graph)."""
    if new is None:
        return None
    if old is None:
        raise RuntimeError("can't replace a None gradient with a non-None value")
    if not isinstance(new, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(new).__name__}'")
    name = getattr(fn, "__name__", "<unknown>")
    graph = isinstance(old, Tensor)
    old = old._data if graph else old
    data = new._data
    if data.dtype != old.dtype:
        was, got = (from_np(d).tensor_type for d in (old.dtype, data.dtype))
        raise RuntimeError(
            f"hook '{name}' has changed the type of value (was engine.{was} got engine.{got})")
    if data.shape != old.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")
    return new if graph else data


def _hook_tuple(fn: Any, old: Sequence, res: Any) -> list:
    """A node hook's replacement tuple; a None entry drops that gradient, as in torch."""
    if not isinstance(res, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(res).__name__}'")
    if len(res) != len(old):
        raise RuntimeError(
            f"hook '{getattr(fn, '__name__', '<unknown>')}' has returned an incorrect number "
            f"of values (got {len(res)}, but expected {len(old)})")
    return [_hook_result(fn, o, r) for o, r in zip(old, res)]


def _run_tensor_hooks(hooks: dict, g: Any) -> Any:
    for fn in list(hooks.values()):
        res = fn(_wrapped(g))
        if res is not None:
            g = _hook_result(fn, g, res)
    return g


def _tensor_hooks(node: Node, buf: list) -> list:
    """Tensor hooks and retained grads: they see a gradient even where it is only captured."""
    if type(node) is AccumulateGrad:
        hooks = node.variable._leaf_hooks()
        if hooks:
            buf = [_run_tensor_hooks(hooks, buf[0])]
    elif node._tensor_hooks:
        buf = list(buf)
        for nr, hooks in node._tensor_hooks.items():
            if buf[nr] is not None and hooks:
                buf[nr] = _run_tensor_hooks(hooks, buf[nr])
    if node._retains:
        for nr, ref in node._retains.items():
            t = ref()
            g = buf[nr]
            if t is not None and g is not None and isinstance(g, Tensor):
                t._grad = g.clone() if t._grad is None else t._grad + g
            elif t is not None and g is not None:
                flat = g.reshape(-1)
                if t._grad is not None:
                    old = t._grad._data
                    flat = add_out(old.reshape(-1), flat.astype(old.dtype, copy=False))
                elif np.shares_memory(flat, g):
                    flat = copy(flat)  # .grad never aliases a buffer the pass still uses
                t._grad = _wrap(flat.reshape(g.shape))
    return buf


def _pre_hooks(node: Node, buf: list) -> list:
    """The node's own pre-hooks: only for a node that is about to run."""
    for fn in list(node._pre_hooks.values()):
        res = fn(tuple(_wrapped(g) for g in buf))
        if res is not None:
            buf = _hook_tuple(fn, buf, res)
    return buf


def _post_hooks(node: Node, ins: tuple, buf: list) -> tuple:
    """The node's hooks, after it ran: they see (and may replace) the gradients it made."""
    outs = tuple(_wrapped(g) for g in buf)
    for fn in list(node._hooks.values()):
        res = fn(tuple(_wrapped(g) for g in ins), outs)
        if res is not None:
            ins = tuple(_hook_tuple(fn, ins, res))
    return ins
