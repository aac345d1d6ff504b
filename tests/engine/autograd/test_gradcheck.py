"""``engine.autograd.gradcheck`` on every op of the table (float64), and proof that it
catches a wrong gradient instead of passing silently."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.autograd import gradcheck
from engine.autograd.gradcheck import GradcheckError
from engine.ops import unary
from tests.engine._support.op_cases import CASES, make_inputs

CHECKED = [c for c in CASES if c.gradcheck]


def inputs_for(case) -> list[engine.Tensor]:
    return [engine.tensor(x, requires_grad=a.grad and x.dtype.kind == "f")
            for a, x in zip(case.args, make_inputs(case, "float64", seed_offset=5))]


@pytest.mark.parametrize("case", CHECKED, ids=lambda c: c.id)
def test_gradcheck(case):
    xs = inputs_for(case)
    assert any(x.requires_grad for x in xs)
    assert gradcheck(case.engine_fn, xs) is True


def test_every_op_family_is_gradchecked():
    ids = {c.id.split("-")[0] for c in CHECKED}
    for family in ("add", "sub", "mul", "div", "pow", "rpow", "neg", "exp", "log", "sqrt",
                   "abs", "sigmoid", "tanh", "relu", "reciprocal", "sum", "mean", "matmul",
                   "mm", "mv", "dot", "bmm", "reshape", "view", "flatten", "transpose",
                   "permute", "squeeze", "unsqueeze", "expand", "index", "clone", "bce"):
        assert family in ids, family


def _doubled_grad(x):
    y = x * 3.0
    if y.requires_grad:  # gradcheck's finite differences run under no_grad
        y.register_hook(lambda g: g * 2)  # the analytical gradient is now twice the truth
    return y.exp()


def test_gradcheck_detects_hook_doubling_the_gradient():
    x = engine.tensor(np.linspace(-1.0, 1.0, 4), dtype=engine.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(_doubled_grad, (x,))
    assert gradcheck(_doubled_grad, (x,), raise_exception=False) is False
    # without the hook the same function passes: the failure above is the hook's
    assert gradcheck(lambda t: (t * 3.0).exp(), (x,)) is True


def test_gradcheck_detects_a_broken_kernel(monkeypatch):
    """A backward kernel off by 1% must fail, even though the forward is right."""
    good = unary.ExpBackward0.kernel
    monkeypatch.setattr(unary.ExpBackward0, "kernel",
                        lambda g, res: good(g, res) * 1.01)
    x = engine.tensor([0.3, -0.7, 1.1], dtype=engine.float64, requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(engine.exp, (x,))


def test_gradcheck_detects_an_error_in_one_input_only():
    a = engine.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=engine.float64, requires_grad=True)
    b = engine.tensor([1.5, -0.5], dtype=engine.float64, requires_grad=True)

    def fn(a, b):
        b2 = b * 1.0
        if b2.requires_grad:
            b2.register_hook(lambda g: -g)
        return a * b2

    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(fn, (a, b))
