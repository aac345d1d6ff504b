"""Elementwise kernels written once: ``@elementwise_kernel`` builds all three forms.

You write only the loop that fills ``out`` (one element, or one row, at a time)::

    @elementwise_kernel("elementwise", "aa")
    def mul_bwd(g, other, out):
        for i in range(g.size):
            out[i] = g[i] * other[i]

``sig`` codes the arguments before ``out`` (see ``engine.kernels``).  The decorator
compiles and registers two Numba kernels (``@numba.njit(cache=True)``, in
``engine.kernels.REGISTRY``, so ``python -m engine.warmup`` compiles them) and returns the
entry point:

- ``mul_bwd.block`` is ``mul_bwd_block(g, other, out)``: the loop itself, into a given
  buffer or a block of it (group "block", signature ``sig + "a"``).  Other kernels call
  it, e.g. the plan interpreter into its scratch region.
- ``mul_bwd.serial`` is ``mul_bwd_serial(g, other)``: a fresh ``out`` filled by the block
  kernel in one pass (registered as ``mul_bwd`` in ``group``).
- ``mul_bwd(g, other)``, the entry point the ops call: the serial kernel below
  ``buffers.PARALLEL_MIN`` elements, above it the block kernel over blocks on two
  threads into a pooled buffer (``engine.kernels.buffers``).  Each element goes through
  the same expression on either path, so the path never changes a result.

``like``: the argument ``out`` takes its size and dtype from (a loss kernel's ``g`` may
be one upstream value); the arguments of that size are cut into blocks, the others
passed whole.  ``rows``: the argument holding a row length the blocks must be whole rows
of (softmax).

The serial kernel and the entry point are generated from source text that uses the
body's argument names: one fixed arity per kernel, as ``*args`` would add ~50 ns to every
small call.  The serial kernel is compiled as if written in the body's file, because
Numba's cache finds a function through its source file and names the cache index after
its qualname (``elementwise.mul_bwd_serial-1.py311.nbi``), so each kernel keeps a stable
cache entry of its own.  The entry point looks ``.serial`` and ``.block`` up at call
time, so a test spy that replaces them sees the call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from engine.kernels import buffers, kernel


def elementwise_kernel(group: str, sig: str, like: int = 0, rows: int | None = None
                       ) -> Callable[[Callable], Callable]:
    """Register the block and serial kernels of the decorated loop; return its entry
    point (see the module docstring)."""

    def deco(body: Callable) -> Callable:
        name = body.__name__
        params = list(inspect.signature(body).parameters)
        if params[-1:] != ["out"] or len(params) != len(sig) + 1:
            raise TypeError(f"{name}{tuple(params)}: expected {len(sig)} arguments "
                            f"for signature {sig!r}, then 'out'")
        args = ", ".join(params[:-1])
        body.__name__ = body.__qualname__ = f"{name}_block"
        block = kernel("block", sig + "a")(body)
        serial_src = (f"def {name}_serial({args}):\n"
                      f"    out = np.empty_like({params[like]})\n"
                      f"    block({args}, out)\n"
                      f"    return out\n")
        serial_py = _define(serial_src, f"{name}_serial", body.__code__.co_filename,
                            {"np": np, "block": block, "__name__": body.__module__})
        serial_py.__doc__ = body.__doc__
        serial = kernel(group, sig, name=name)(serial_py)
        entry_src = (f"def {name}({args}):\n"
                     f"    if {params[like]}.size < buffers.PARALLEL_MIN:\n"
                     f"        return {name}.serial({args})\n"
                     f"    return _blocks({name}, ({args},), {like}, {rows})\n")
        entry = _define(entry_src, name, f"<elementwise_kernel {name}>",
                        {"buffers": buffers, "_blocks": _blocks,
                         "__name__": body.__module__})
        entry.__doc__ = body.__doc__
        entry.serial, entry.block = serial, block
        return entry

    return deco


def _define(src: str, name: str, filename: str, namespace: dict) -> Callable:
    """The function ``name`` that ``src`` defines, with ``namespace`` as its globals."""
    exec(compile(src, filename, "exec"), namespace)  # a fresh namespace, never a module's
    return namespace[name]


def _blocks(entry: Callable, args: tuple, like: int, rows: int | None) -> np.ndarray:
    """``entry``'s large path: its block kernel over blocks, on two threads, into a pooled
    buffer the size of ``args[like]``."""
    ref = args[like]
    n = ref.size
    out = buffers.empty(n, ref.dtype)
    cut = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.size == n]
    block = entry.block
    size = buffers.BLOCK if rows is None else max(1, buffers.BLOCK // args[rows]) * args[rows]

    def part(lo: int, hi: int) -> None:
        part_args = list(args)
        for i in cut:
            part_args[i] = args[i][lo:hi]
        block(*part_args, out[lo:hi])

    buffers.run_blocks(part, n, size)
    return out
