"""The fused updates of RMSprop, Adagrad, Adadelta, NAdam and RAdam: one kernel call per
parameter, in place, and the fused multiply-add they round with as torch's CPU kernels do."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numba
import numpy as np
import pytest
import torch

import engine
from engine import optim
from engine.kernels.optim import _fma
from engine.optim import adadelta, adagrad, nadam, radam, rmsprop

KERNELS = [(optim.RMSprop, rmsprop, "rmsprop_step"), (optim.Adagrad, adagrad, "adagrad_step"),
           (optim.Adadelta, adadelta, "adadelta_step"), (optim.NAdam, nadam, "nadam_step"),
           (optim.RAdam, radam, "radam_step")]


@pytest.mark.parametrize("cls,mod,kname", KERNELS, ids=[k for *_, k in KERNELS])
def test_one_fused_kernel_call_per_parameter_in_place(cls: type, mod: Any, kname: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = getattr(mod, kname)

    def counting(*args: Any) -> None:
        calls.append(args[0].size)
        real(*args)

    monkeypatch.setattr(mod, kname, counting)
    w = engine.ones(2, 3, requires_grad=True)
    b = engine.ones(3, requires_grad=True)
    frozen = engine.ones(4, requires_grad=True)  # no gradient: not updated
    (w.sum() + 2 * b.sum()).backward()
    buffer = w._data
    cls([w, b, frozen], lr=0.1).step()
    assert calls == [6, 3]
    assert w._data is buffer and w.detach().numpy().max() < 1.0
    assert frozen.tolist() == [1.0] * 4


def test_fma_rounds_once_as_torchs_add_with_alpha() -> None:
    fma = numba.njit(lambda a, b, c: _fma(a, b, c))
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(500), rng.standard_normal(500)
    alpha = 0.37123
    exact = [float(Fraction(y) * Fraction(alpha) + Fraction(x)) for x, y in zip(a, b)]
    ours = [fma(y, alpha, x) for x, y in zip(a, b)]
    theirs = torch.tensor(a).add(torch.tensor(b), alpha=alpha).tolist()
    assert ours == exact == theirs
    assert sum(x + alpha * y != e for x, y, e in zip(a, b, exact)) > 50  # rounding twice differs
    x = np.float32(1 + 2.0 ** -12)  # x * x - 1 = 2^-11 + 2^-24: kept only if rounded once
    assert fma(x, x, np.float32(-1.0)) == 2.0 ** -11 + 2.0 ** -24
    assert x * x - np.float32(1.0) == 2.0 ** -11
