"""The BLAS behind the engine's matrix products (``engine._base.blas``): numpy's or MKL's.

The BLAS-bound ops run on both backends.  With torch's own MKL version (sequential, as
torch runs at one thread) products give torch's very bits, float32 and float64, with the
operands passed transposed as torch passes them (forward ``x @ w.T``, backward ``g @ w``
and ``x.T @ g``) and ``addmm`` accumulating onto the bias inside the gemm, as torch's
does; otherwise they agree with numpy's path within rounding.  With ``numpy`` the engine
calls ``np.matmul`` exactly as before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine._base import blas

MKL = blas.find_mkl()
needs_mkl = pytest.mark.skipif(MKL is None, reason="MKL not installed: pip install .[mkl]")


def _mkl_version() -> str | None:
    before = blas.mode()
    blas.use("mkl")
    try:
        return blas.version()
    finally:
        blas.use(before)


# torch's bits need torch's MKL: the extra pins the one torch 2.13 bundles (2024.2); with
# another (2026.2 differs in 64x256x10, 3x5x7, 1x784x256, float64 non-transposed) they don't.
TORCHS_MKL = MKL is not None and _mkl_version() in torch.__config__.show()
needs_torchs_mkl = pytest.mark.skipif(not TORCHS_MKL, reason="not the MKL torch bundles")
SHAPES = [(3, 5, 7), (8, 8, 8), (64, 256, 10), (64, 10, 256), (1, 784, 256), (64, 784, 256),
          (1000, 64, 100), (256, 64, 784)]


@pytest.fixture(autouse=True)
def _torch_one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(params=["numpy", pytest.param("mkl", marks=needs_mkl)])
def backend(request):
    """Run the test with each backend, then restore the one in force."""
    before = blas.mode()
    blas.use(request.param)
    yield request.param
    blas.use(before)


def _pair(shape, seed, dtype=np.float32):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return a, torch.from_numpy(a.copy())


def _layout(a: np.ndarray, transposed: bool) -> np.ndarray:
    """``a`` itself, or the same values held transposed (an F-ordered view)."""
    return np.ascontiguousarray(a.T).T if transposed else a


def _check(got: np.ndarray, want: np.ndarray, bits: bool) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    if bits:
        np.testing.assert_array_equal(got, want)
    else:
        tol = 1e-5 if got.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max(initial=1.0))


# ----------------------------------------------------------------------------- choosing
def _import_fresh(env: dict) -> subprocess.CompletedProcess:
    """Import blas.py on its own (not the engine: no Numba) with ``env`` set."""
    code = ("import importlib.util as u, sys; s = u.spec_from_file_location('b', sys.argv[1]);"
            "m = u.module_from_spec(s); s.loader.exec_module(m);"
            "print(m.mode(), m.backend(), m.library_path())")
    base = {k: v for k, v in os.environ.items() if k != "JITGRAD_BLAS"}  # unset: the default
    return subprocess.run([sys.executable, "-c", code, blas.__file__], capture_output=True,
                          text=True, env={**base, **env}, timeout=60)


@pytest.mark.parametrize("value", ["numpy", "auto", "mkl", None])
def test_the_variable_chooses_at_import(value):
    env = {} if value is None else {"JITGRAD_BLAS": value}
    proc = _import_fresh(env)
    if value == "mkl" and MKL is None:
        assert "JITGRAD_BLAS=mkl, but libmkl_rt was not found" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    if value == "numpy" or MKL is None:
        assert proc.stdout.split() == ["numpy", "numpy", "None"]
    else:
        assert proc.stdout.split() == [value or "auto", "mkl", str(MKL)]


def test_a_bad_value_names_the_variable():
    proc = _import_fresh({"JITGRAD_BLAS": "openblas"})
    assert proc.returncode != 0
    assert ("ValueError: JITGRAD_BLAS must be one of auto, mkl, numpy, not 'openblas'"
            in proc.stderr)
    with pytest.raises(ValueError, match="JITGRAD_BLAS must be one of auto, mkl, numpy"):
        blas.use("MKL")


def test_mkl_required_but_missing_is_a_clear_error(tmp_path):
    before = (blas.mode(), blas.library_path())
    with pytest.raises(RuntimeError) as err:
        blas.use("mkl", dirs=[tmp_path])
    assert str(err.value) == (
        f"JITGRAD_BLAS=mkl, but libmkl_rt was not found (looked in: {tmp_path}); install it "
        "with `pip install jitgrad[mkl]`, or set JITGRAD_BLAS=auto or numpy")
    assert (blas.mode(), blas.library_path()) == before  # the failed switch changed nothing


def test_auto_without_mkl_is_numpy(tmp_path):
    before = blas.mode()
    try:
        blas.use("auto", dirs=[tmp_path])
        assert (blas.mode(), blas.backend(), blas.library_path()) == ("numpy", "numpy", None)
    finally:
        blas.use(before)


def test_the_search_finds_the_library_by_its_versioned_name(tmp_path):
    for name in ("libmkl_rt.so.2", "libmkl_rt.so.3", "libmkl_core.so.3"):
        (tmp_path / name).touch()
    assert blas.find_mkl([tmp_path / "none", tmp_path]) == tmp_path / "libmkl_rt.so.3"
    assert Path(sys.prefix) / "lib" == blas.library_dirs()[0]


@needs_mkl
def test_auto_leaves_small_products_to_numpy(monkeypatch):
    calls = []
    before = blas.mode()
    blas.use("auto")
    try:
        monkeypatch.setattr(blas, "_operand", lambda x: calls.append(x.shape) or (
            np.ascontiguousarray(x), blas._NO_TRANS, x.shape[1]))
        a = np.ones((8, 8), np.float32)
        blas.matmul_2d(a, a)
        assert calls == []
        big = np.ones((16, 16), np.float32)
        blas.matmul_2d(big, np.ones((16, 16), np.float32))
        assert calls == [(16, 16), (16, 16)]  # exactly MIN_MACS multiply-adds
        assert blas.MIN_MACS == 16 * 16 * 16
    finally:
        blas.use(before)


# ----------------------------------------------------------------------------- products
@needs_torchs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False)])
def test_mkl_products_are_torchs_bits(m, k, n, ta, tb, dtype):
    blas.use("mkl")
    try:
        a, b = _pair((m, k), 1, dtype), _pair((k, n), 2, dtype)
        x, y = _layout(a[0], ta), _layout(b[0], tb)
        want = (torch.from_numpy(x) @ torch.from_numpy(y)).numpy()
        _check(blas.matmul_2d(x, y), want, bits=True)
    finally:
        blas.use(os.environ.get(blas.ENV, "auto"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [(1, 784, 256), (64, 256, 10), (3, 5, 7), (0, 4, 3),
                                   (4, 0, 3), (70, 300, 90)])
def test_every_layout_and_dtype_agrees_with_numpy(backend, dtype, m, k, n):
    a = _pair((m, k), 3, dtype)[0]
    b = _pair((k, n), 4, dtype)[0]
    for x in (a, _layout(a, True), a[:, ::-1] if k else a):
        for y in (b, _layout(b, True)):
            want = np.matmul(x, y)
            _check(blas.matmul_2d(x, y), want, bits=backend == "numpy")
            dst = np.full((m, n), np.nan, dtype)
            assert blas.matmul_2d(x, y, out=dst) is dst
            _check(dst, want, bits=backend == "numpy")


def test_other_inputs_are_numpys(backend):
    ints = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(blas.matmul_2d(ints, ints.T), ints @ ints.T)
    batch = np.ones((2, 64, 256), np.float32)
    assert blas.matmul_2d(batch, np.ones((256, 10), np.float32)).shape == (2, 64, 10)
    with pytest.raises(ValueError):
        blas.matmul_2d(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32))


# ----------------------------------------------------------------------------- the ops
def _grads(lib, fn, shapes, seed, dtype):
    leaves = []
    for i, shape in enumerate(shapes):
        a = np.random.default_rng(seed + i).standard_normal(shape).astype(dtype)
        leaves.append(lib.tensor(a, requires_grad=True))
    res = fn(lib, *leaves)
    res.backward(lib.ones_like(res) * 0.5)
    return [np.asarray(res.detach().numpy())] + [np.asarray(t.grad.numpy()) for t in leaves]


OPS = {
    "mm": (lambda lib, a, b: lib.mm(a, b), lambda m, k, n: [(m, k), (k, n)]),
    "matmul_3d": (lambda lib, a, b: lib.matmul(a, b), lambda m, k, n: [(2, m, k), (k, n)]),
    "addmm": (lambda lib, c, a, b: lib.addmm(c, a, b), lambda m, k, n: [(n,), (m, k), (k, n)]),
    "addmm_scaled": (lambda lib, c, a, b: lib.addmm(c, a, b, beta=0.5, alpha=2.0),
                     lambda m, k, n: [(m, n), (m, k), (k, n)]),
    "linear": (lambda lib, x, w, b: lib.nn.functional.linear(x, w, b),
               lambda m, k, n: [(m, k), (n, k), (n,)]),
    "linear_nobias": (lambda lib, x, w: lib.nn.functional.linear(x, w),
                      lambda m, k, n: [(m, k), (n, k)]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("m,k,n", [(64, 784, 256), (5, 3, 4), (64, 256, 10)])
def test_ops_values_and_gradients_match_torch(backend, op, m, k, n, dtype):
    fn, shapes = OPS[op]
    got = _grads(engine, fn, shapes(m, k, n), 7, dtype)
    want = _grads(torch, fn, shapes(m, k, n), 7, dtype)
    for g, w in zip(got, want):
        _check(g, w, bits=False)


@needs_torchs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("m,k,n", [(64, 784, 256), (1000, 64, 100), (64, 256, 10), (5, 3, 4)])
def test_mkl_ops_give_torchs_bits(op, m, k, n, dtype):
    blas.use("mkl")
    try:
        fn, shapes = OPS[op]
        got = _grads(engine, fn, shapes(m, k, n), 11, dtype)
        want = _grads(torch, fn, shapes(m, k, n), 11, dtype)
        for g, w in zip(got, want):
            _check(g, w, bits=True)
    finally:
        blas.use(os.environ.get(blas.ENV, "auto"))


def _train(lib, steps: int = 4) -> tuple[list[float], list[np.ndarray]]:
    """A 784-256-10 MLP on a fixed batch of 64: SGD with momentum, cross-entropy."""
    rng = np.random.default_rng(5)
    x = lib.tensor(rng.standard_normal((64, 784)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 64))
    lib.manual_seed(0)
    net = lib.nn.Sequential(lib.nn.Linear(784, 256), lib.nn.ReLU(), lib.nn.Linear(256, 10))
    opt = lib.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy().copy() for p in net.parameters()]


def test_mlp_training_follows_torch(backend):
    (got, got_p), (want, want_p) = _train(engine), _train(torch)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for g, w in zip(got_p, want_p):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


def _mlp_products(lib) -> list[np.ndarray]:
    """A 784-256-10 MLP's forward and the gradients its products make, for a fixed upstream
    gradient (the bias gradients, sums over the batch, are left out: see the test)."""
    rng = np.random.default_rng(9)
    x = lib.tensor(rng.standard_normal((64, 784)).astype(np.float32), requires_grad=True)
    lib.manual_seed(0)
    net = lib.nn.Sequential(lib.nn.Linear(784, 256), lib.nn.ReLU(), lib.nn.Linear(256, 10))
    out = net(x)
    out.backward(lib.tensor(rng.standard_normal((64, 10)).astype(np.float32)))
    return [out.detach().numpy(), x.grad.numpy(), net[0].weight.grad.numpy(),
            net[2].weight.grad.numpy()]


@needs_torchs_mkl
def test_mkl_mlp_products_are_torchs_bits():
    """Every product of a training step is torch's to the bit with MKL.  A whole trajectory
    is not (yet): the engine's batch sums (bias gradients) and cross-entropy round
    differently from torch's, in the last bit, whichever BLAS runs."""
    blas.use("mkl")
    try:
        for g, w in zip(_mlp_products(engine), _mlp_products(torch)):
            np.testing.assert_array_equal(g, w)
    finally:
        blas.use(os.environ.get(blas.ENV, "auto"))


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2), (0, 3), (1, 0.3), (-1.5, 1)])
def test_numpy_addmm_keeps_the_engines_earlier_arithmetic(beta, alpha):
    """With JITGRAD_BLAS=numpy, addmm's bits are those of numpy's ``beta*c + alpha*(a@b)``
    as the engine computed it before MKL (the sum, the scaling and their order)."""
    before = blas.mode()
    blas.use("numpy")
    try:
        c, a, b = (_pair(s, i)[0] for i, s in enumerate([(70,), (9, 70), (70, 70)]))
        prod = a @ b
        want = c + prod if (beta, alpha) == (1, 1) else (alpha * prod).astype(np.float32) + (
            (beta * c).astype(np.float32) if beta else 0)
        got = engine.addmm(engine.tensor(c), engine.tensor(a), engine.tensor(b), beta=beta,
                           alpha=alpha).numpy()
        np.testing.assert_array_equal(got, np.broadcast_to(want, got.shape))
    finally:
        blas.use(before)


@needs_mkl
@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(1, 40), n=st.integers(1, 40),
       views=st.tuples(*[st.sampled_from(["c", "t", "step", "broadcast"])] * 2),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_any_layout_any_shape_on_mkl(m, k, n, views, dtype):
    """Every strided view the engine may hand over (transposed, stepped, broadcast rows),
    with size-1 dims: MKL's product is numpy's within rounding."""
    def view(shape, kind, seed):
        base = np.random.default_rng(seed).standard_normal(
            (shape[0], 2 * shape[1]) if kind == "step" else shape).astype(dtype)
        if kind == "step":
            return base[:, ::2]
        if kind == "broadcast":
            return np.broadcast_to(base[:1], shape)
        return _layout(base, kind == "t")

    a, b = view((m, k), views[0], 1), view((k, n), views[1], 2)
    before = blas.mode()
    blas.use("mkl")
    try:
        _check(blas.matmul_2d(a, b), np.matmul(a, b), bits=False)
    finally:
        blas.use(before)
