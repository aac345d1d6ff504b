"""Array-only Numba kernels.  They never see a Tensor.

Each kernel is registered with the group it belongs to and a signature string so
``engine.warmup`` can compile it for float32 and float64 ahead of first use:
``a`` float array, ``s`` float scalar, ``i`` read-only int64 array (a shape or strides,
as the ops cache them), ``w`` writable int64 array (a plan's program), ``n`` Python int.

An elementwise kernel is written once, as the loop that fills ``out``, with
``@elementwise_kernel`` (``engine.kernels._entry``): it registers the serial and the block
kernel and returns the entry point the ops call.  Other kernels use ``@kernel`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba

import engine._base.numba_cache  # (must run before numba is imported)

engine._base.numba_cache.track_kernel_sources()


@dataclass(frozen=True)
class Kernel:
    group: str
    name: str
    sig: str
    fn: Callable


REGISTRY: list[Kernel] = []


def kernel(group: str, sig: str, name: str | None = None) -> Callable[[Callable], Callable]:
    """Compile ``fn`` with ``@njit(cache=True)`` and register it for warm-up, as ``name``
    (default: the function's own name).

    ``error_model="numpy"``: a float division by zero gives inf/nan as in torch (the
    gradient of log or sqrt at 0) instead of raising ZeroDivisionError.
    """

    def deco(fn: Callable) -> Callable:
        jitted = numba.njit(cache=True, nogil=True, error_model="numpy")(fn)
        REGISTRY.append(Kernel(group, name or fn.__name__, sig, jitted))
        return jitted

    return deco
