"""Second and higher derivatives (``create_graph=True``) against torch, in float64.

For every case of ``op_cases.CASES`` and of ``op_cases.TORCH_CASES``: the first
gradients are taken with ``create_graph=True`` and an upstream gradient ``v`` that
itself requires grad, then a scalar function of those gradients is differentiated
again; the second-order gradients of the inputs and of ``v`` must equal torch's.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
import torch

import engine
from engine.autograd import functional as af
from tests.engine._support.op_cases import CASES as OP_CASES
from tests.engine._support.op_cases import TORCH_CASES as MORE_CASES
from tests.engine._support.op_cases import make_inputs
from tests.engine._support.op_cases import torch_case_inputs as more_inputs

RTOL, ATOL = 1e-9, 1e-10
LOOSE = {"rtol": 1e-5, "atol": 1e-6}  # cases that pass through float32


def _outs(res: Any) -> list:
    return list(res) if isinstance(res, (tuple, list)) else [res]


def _np(t: Any) -> np.ndarray | None:
    if t is None:
        return None
    if isinstance(t, torch.Tensor):  # (force: torch answers some zeros as a ZeroTensor)
        return t.detach().numpy(force=True)
    return np.asarray(t.detach().numpy())


def _derivatives(lib: Any, fn: Any, arrays: list[np.ndarray], grad_mask: list[bool],
                 seed: int, order: int) -> list[list]:
    """Gradients of each order: the first ones with an upstream ``v`` that requires grad,
    then, level after level, the gradients (w.r.t. the inputs and ``v``) of a random
    scalar function of the previous level's gradients. Stops early when nothing at a
    level has a history left."""
    xs = [lib.tensor(a, requires_grad=m and a.dtype.kind == "f")
          for a, m in zip(arrays, grad_mask)]
    outs = [o for o in _outs(fn(lib, *xs)) if o.requires_grad]
    rng = np.random.default_rng(seed)
    vs = [lib.tensor(rng.standard_normal(tuple(o.shape)).astype(_np(o).dtype),
                     requires_grad=True) for o in outs]
    leaves = [x for x in xs if x.requires_grad]
    levels = [list(lib.autograd.grad(outs, leaves, vs, create_graph=True, allow_unused=True))]
    wrt = leaves
    for k in range(1, order):
        total = None
        for g, x in zip(levels[-1], wrt):
            # (a weight for every slot whatever its gradient: both libraries draw the same)
            w = lib.tensor(rng.standard_normal(tuple(x.shape)).astype(_np(x).dtype))
            if g is None or not g.requires_grad:
                continue
            term = (g * g * w).sum() + (g * w).sin().sum()
            total = term if total is None else total + term
        if total is None:
            break
        wrt = leaves + vs
        levels.append(list(lib.autograd.grad(total, wrt, create_graph=k + 1 < order,
                                             allow_unused=True)))
    return levels


def _compare(case_id: str, fn: Any, arrays: list[np.ndarray], grad_mask: list[bool],
             order: int = 2) -> None:
    seed = zlib.crc32(case_id.encode())
    try:
        t_levels = _derivatives(torch, fn, arrays, grad_mask, seed, order)
    except RuntimeError as exc:  # pragma: no cover - depends on torch
        pytest.skip(f"torch cannot differentiate it {order} times: {exc}")
    e_levels = _derivatives(engine, fn, arrays, grad_mask, seed, order)
    loose = any(g is not None and _np(g).dtype == np.float32 for g in t_levels[0])
    tol = LOOSE if loose else {"rtol": RTOL, "atol": ATOL}
    assert len(e_levels[0]) == len(t_levels[0])
    for i, (e, t) in enumerate(zip(e_levels[0], t_levels[0])):
        assert (e is None) == (t is None), f"first gradient {i}"
    for k in range(order):
        e_gs = e_levels[k] if k < len(e_levels) else []
        t_gs = t_levels[k] if k < len(t_levels) else []
        if not e_gs or not t_gs:  # one side stopped: nothing depended on anything, all zero
            for g in e_gs + t_gs:
                assert g is None or not _np(g).any(), f"order {k + 1}"
            continue
        for i, (e, t) in enumerate(zip(e_gs, t_gs)):
            ea, ta = _np(e), _np(t)
            if ta is None and ea is None:
                continue
            # an unused input: torch says None, a zero gradient is the same derivative
            ref = ea if ta is None else ta
            ea = np.zeros_like(ref) if ea is None else ea
            ta = np.zeros_like(ref) if ta is None else ta
            np.testing.assert_allclose(ea, ta, err_msg=f"order {k + 1}, gradient {i}", **tol)


@pytest.mark.parametrize("case", OP_CASES, ids=lambda c: c.id)
def test_second_order_op_cases(case) -> None:
    arrays = make_inputs(case, "float64")
    _compare(case.id, case.fn, arrays, [a.grad for a in case.args])


@pytest.mark.parametrize("case", MORE_CASES, ids=lambda c: c.id)
def test_second_order_more_ops(case) -> None:
    arrays = [a.astype(np.float64) for a in more_inputs(case)]
    _compare(case.id, case.fn, arrays, [True] * len(arrays))


@pytest.mark.parametrize("case", OP_CASES + MORE_CASES, ids=lambda c: c.id)
def test_third_order_every_op(case) -> None:
    """The recorded backward of the backward (e.g. GeluBackwardBackward0, the scatter-add
    of gather's gradient) is itself differentiable."""
    if hasattr(case, "args"):
        arrays, mask = make_inputs(case, "float64"), [a.grad for a in case.args]
    else:
        arrays = [a.astype(np.float64) for a in more_inputs(case)]
        mask = [True] * len(arrays)
    _compare(case.id, case.fn, arrays, mask, order=3)


NAN, INF = float("nan"), float("inf")
SPECIAL = {  # torch's choices at zeros, ties, NaN and bounds, differentiated twice
    "norm2-zero-row": (lambda lib, x: x.norm(dim=1), [[0.0, 0.0], [1.0, -2.0]]),
    "norm3-zero-row": (lambda lib, x: x.norm(p=3, dim=1), [[0.0, 0.0], [1.0, -2.0]]),
    "norm1.5-zero": (lambda lib, x: x.norm(p=1.5, dim=1), [[0.0, 0.5], [1.0, -2.0]]),
    "norm0.5": (lambda lib, x: x.norm(p=0.5, dim=1), [[0.3, 0.5], [1.0, -2.0]]),
    "norm-inf-ties": (lambda lib, x: x.norm(p=INF, dim=1), [[2.0, -2.0], [1.0, -2.0]]),
    "std-constant-row": (lambda lib, x: x.std(1), [[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]]),
    "max-nan": (lambda lib, x: x.max(), [[1.0, NAN], [3.0, 2.0]]),
    "amax-nan": (lambda lib, x: x.amax(1), [[1.0, NAN], [3.0, 2.0]]),
    "max-dim-nan": (lambda lib, x: x.max(1)[0], [[1.0, NAN], [3.0, 2.0]]),
    "maximum-nan": (lambda lib, x: lib.maximum(x, x[0:1] * 0 + 1.0), [[NAN, 1.0], [0.5, 2.0]]),
    "clamp-at-bounds": (lambda lib, x: x.clamp(-1.0, 1.0), [[-1.0, 1.0], [0.5, 2.0]]),
    "leaky-relu-at-0": (lambda lib, x: lib.nn.functional.leaky_relu(x, 0.1),
                        [[0.0, 1.0], [-0.5, 2.0]]),
    "prod-one-zero": (lambda lib, x: x.prod(), [[0.0, 1.5], [-0.5, 2.0]]),
    "prod-two-zeros": (lambda lib, x: x.prod(0), [[0.0, 1.5], [0.0, 2.0]]),
    "logsumexp-minus-inf": (lambda lib, x: x.logsumexp(1), [[-INF, 1.0], [0.5, 2.0]]),
    "softmax-saturated": (lambda lib, x: lib.nn.functional.softmax(x, 1),
                          [[100.0, -100.0], [0.5, 2.0]]),
}


@pytest.mark.parametrize("name", list(SPECIAL))
def test_second_order_special_values(name) -> None:
    fn, values = SPECIAL[name]
    _compare(name, fn, [np.array(values)], [True])


# ---------------------------------------------------------------- the tutorial's Hessian
def _tutorial_loss(lib: Any) -> Any:
    x, y = lib.ones(5, dtype=lib.float64), lib.zeros(3, dtype=lib.float64)
    b = lib.tensor(np.random.default_rng(1).standard_normal(3))

    def loss(w: Any) -> Any:
        z = lib.matmul(x, w) + b
        return lib.nn.functional.binary_cross_entropy_with_logits(z, y)

    return loss


def test_hessian_of_tutorial_loss_wrt_w() -> None:
    w = np.random.default_rng(0).standard_normal((5, 3))
    h = af.hessian(_tutorial_loss(engine), engine.tensor(w))
    ref = torch.autograd.functional.hessian(_tutorial_loss(torch), torch.tensor(w))
    assert tuple(h.shape) == (5, 3, 5, 3)
    np.testing.assert_allclose(_np(h), ref.numpy(), rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- beyond second order
@pytest.mark.parametrize("expr", [
    lambda lib, x: lib.tanh(x) ** 3,
    lambda lib, x: (x.sin() * x.exp()).sum(),
    lambda lib, x: lib.nn.functional.softplus(x) * lib.nn.functional.gelu(x),
    lambda lib, x: lib.nn.functional.softmax(x, 0) * x.prod(),
], ids=["tanh-cubed", "sin-exp", "softplus-gelu", "softmax-prod"])
def test_third_derivative(expr) -> None:
    data = np.array([0.3, -0.7, 1.1])
    res = []
    for lib in (engine, torch):
        x = lib.tensor(data, requires_grad=True)
        y = expr(lib, x).sum()
        grads = []
        for _ in range(3):
            (y,) = lib.autograd.grad(y, x, create_graph=True)
            grads.append(_np(y))
            y = y.sum()
        res.append(grads)
    for order, (e, t) in enumerate(zip(*res), start=1):
        np.testing.assert_allclose(e, t, rtol=RTOL, atol=ATOL, err_msg=f"order {order}")


TORCH_CYCLE_WARNING = "ignore:Using backward\\(\\) with create_graph=True:UserWarning"


@pytest.mark.filterwarnings(TORCH_CYCLE_WARNING)
def test_leaf_grad_after_create_graph_has_history() -> None:
    grads = []
    for lib in (engine, torch):
        x = lib.tensor([0.5, -1.5, 2.0], dtype=lib.float64, requires_grad=True)
        (x.tanh() ** 3 * x).sum().backward(create_graph=True)
        assert x.grad.grad_fn is not None and x.grad.requires_grad
        gx = x.grad
        x.grad = None
        (gx * gx).sum().backward()
        grads.append((_np(gx), _np(x.grad)))
    for e, t in zip(*grads):
        np.testing.assert_allclose(e, t, rtol=RTOL, atol=ATOL)


@pytest.mark.filterwarnings(TORCH_CYCLE_WARNING)
def test_second_backward_accumulates_into_leaf_grad_like_torch() -> None:
    res = []
    for lib in (engine, torch):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        (x ** 3).sum().backward(create_graph=True)
        x.grad.sum().backward()  # adds d/dx sum(3 x^2) = 6x to the 3x^2 already there
        res.append(_np(x.grad))
    np.testing.assert_allclose(res[0], res[1], rtol=RTOL)


def test_softmax_not_last_dim_second_order() -> None:
    """Softmax saves its result with the dim moved last; the graph form must undo that."""
    data = np.random.default_rng(3).standard_normal((3, 4, 2))
    res = []
    for lib in (engine, torch):
        x = lib.tensor(data, requires_grad=True)
        y = lib.nn.functional.log_softmax(x, 1) + lib.nn.functional.softmax(x, 0) ** 2
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = lib.autograd.grad((g ** 2).sum(), x)
        res.append(_np(h))
    np.testing.assert_allclose(res[0], res[1], rtol=RTOL, atol=ATOL)


def test_every_node_class_has_a_graph_form() -> None:
    """Each concrete ``grad_fn`` class overrides ``apply_graph`` (create_graph=True)."""
    import importlib
    import pkgutil

    from engine.graph import Node

    for mod in pkgutil.walk_packages(engine.__path__, "engine."):
        importlib.import_module(mod.name)

    def subclasses(cls: type) -> list[type]:
        return [c for s in cls.__subclasses__() for c in (s, *subclasses(s))]

    missing = sorted({f"{c.__module__}.{c.__name__}" for c in subclasses(Node)
                      if c.apply_graph is Node.apply_graph and not c.__name__.startswith("_")})
    assert not missing


def test_gradient_of_x_to_the_zero_is_a_constant_like_torchs():
    """d/dx x**0 is zero with no history in both libraries, even with create_graph."""
    for lib in (engine, torch):
        x = lib.tensor([1.5, -2.0], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad((x ** 0).sum(), x, create_graph=True)
        assert g.tolist() == [0.0, 0.0] and not g.requires_grad
