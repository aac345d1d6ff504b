"""Anomaly detection: find the forward op whose backward produced a NaN.

>>> with engine.autograd.detect_anomaly():
...     loss.backward()
RuntimeError: Function 'DivBackward0' returned nan values in its 1th output.

While it is on, every graph node remembers the stack of the forward call that made
it; when a node's backward returns NaN, that stack is printed in a warning and the
pass stops with the error above.  It is global (not per thread), like torch's.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from engine._base.grad_mode import anomaly as state


def is_anomaly_enabled() -> bool:
    return state.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return state.check_nan


class set_detect_anomaly:  # noqa: N801 - torch's name
    """Turn anomaly detection on or off: as a plain call or as a context manager.

    >>> from engine.autograd.anomaly import is_anomaly_enabled
    >>> with engine.autograd.set_detect_anomaly(True):
    ...     print(is_anomaly_enabled())
    True
    >>> is_anomaly_enabled()
    False
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._prev = (state.enabled, state.check_nan)
        state.enabled, state.check_nan = bool(mode), bool(check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        state.enabled, state.check_nan = self._prev


class detect_anomaly(set_detect_anomaly):  # noqa: N801
    """A context manager that turns anomaly detection on inside its block.

    A backward that yields NaN then raises, naming the op that made the NaN.

    >>> x = engine.tensor([0.0], requires_grad=True)
    >>> with engine.autograd.detect_anomaly():
    ...     try:
    ...         x.sqrt().mul(0).sum().backward()
    ...     except RuntimeError as e:
    ...         print(str(e).split(".")[0])
    Function 'SqrtBackward0' returned nan values in its 0th output
    """

    def __init__(self, check_nan: bool = True) -> None:
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", UserWarning, stacklevel=2)
        super().__init__(True, check_nan)


def check_outputs(node: Any, grads: tuple) -> None:
    """Raise if a backward returned NaN, after warning with the forward call's stack."""
    if not state.check_nan:
        return
    for i, g in enumerate(grads):
        if g is None:
            continue
        data = g._data if hasattr(g, "_data") else g
        if data.dtype.kind == "f" and np.isnan(data).any():
            stack = (node._metadata or {}).get("traceback_")
            if stack:
                warnings.warn(
                    f"Error detected in {node.name()}. Traceback of forward call that caused "
                    "the error:\n" + "".join(stack), UserWarning, stacklevel=2)
            raise RuntimeError(
                f"Function '{node.name()}' returned nan values in its {i}th output.")
