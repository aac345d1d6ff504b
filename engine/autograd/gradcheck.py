"""Finite-difference checking of analytical gradients, like ``torch.autograd.gradcheck``."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from engine._base import grad_mode
from engine.autograd.loop import grad
from engine.tensor import Tensor, _wrap


class GradcheckError(RuntimeError):
    """An analytical gradient disagrees with the numerical one."""


def _outputs(fn: Callable, inputs: tuple) -> tuple[Tensor, ...]:
    res = fn(*inputs)
    return (res,) if isinstance(res, Tensor) else tuple(res)


def gradcheck(func: Callable, inputs: Tensor | Sequence[Tensor], *, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Compare every Jacobian entry of ``func`` at ``inputs`` with central differences.

    Use float64 inputs that require grad.  Returns True, or raises ``GradcheckError``
    naming the output, input and the worst entry.

    >>> x = engine.randn(3, dtype=engine.float64, requires_grad=True)
    >>> engine.autograd.gradcheck(engine.tanh, (x,))
    True
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    for i in diff:
        if inputs[i]._data.dtype != np.float64:
            warnings.warn(f"Input #{i} is not float64; gradcheck is only reliable in float64",
                          UserWarning, stacklevel=2)
    outs = _outputs(func, inputs)
    for o_idx, o in enumerate(outs):
        if not o.requires_grad:
            continue
        n_out = o._data.size
        for i in diff:
            x = inputs[i]
            n_in = x._data.size
            analytic = np.zeros((n_in, n_out))
            for k in range(n_out):
                seed = np.zeros(n_out, o._data.dtype)
                seed[k] = 1
                o_k = _outputs(func, inputs)[o_idx]
                (g,) = grad(o_k, [x], _wrap(seed.reshape(o._data.shape)), allow_unused=True)
                if g is not None:
                    analytic[:, k] = g._data.reshape(-1)
            numeric = np.zeros((n_in, n_out))
            flat = x._data.reshape(-1)
            with grad_mode.no_grad():
                for j in range(n_in):
                    old = flat[j]
                    flat[j] = old + eps
                    plus = _outputs(func, inputs)[o_idx]._data.astype(np.float64).reshape(-1)
                    flat[j] = old - eps
                    minus = _outputs(func, inputs)[o_idx]._data.astype(np.float64).reshape(-1)
                    flat[j] = old
                    numeric[j] = (plus - minus) / (2 * eps)
            bad = ~np.isclose(analytic, numeric, rtol=rtol, atol=atol, equal_nan=True)
            if bad.any():
                j, k = np.argwhere(bad)[0]
                msg = (f"Jacobian mismatch for output {o_idx} with respect to input {i}: "
                       f"entry ({j}, {k}) numerical {numeric[j, k]:.6g} vs analytical "
                       f"{analytic[j, k]:.6g}\nnumerical:\n{numeric}\nanalytical:\n{analytic}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True
