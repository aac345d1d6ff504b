"""The large-tensor paths: the block kernels of the elementwise backward kernels run on two
threads, the pooled output buffers, and the blockwise two-thread forward of the unary ops.

Every fast path must give the very values of the serial path (bit for bit, NaN and the
sign of zero included) on sizes on both sides of its threshold, agree with torch, and a
pooled buffer must never be reused while anything (a .grad, a hook's copy, a view, a
torch tensor) can still see it.  No timings here: see ``benchmarks``.
"""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest
import torch

import engine
from engine.kernels import REGISTRY, buffers
from engine.kernels import elementwise as ek
from engine.ops import unary

# The thresholds are lowered for these tests (the paths are the same code at any size, and
# real-size arrays would make the file slow); the test named *real_thresholds* does not.
P = 1 << 12
SPLIT = 1 << 14  # a size with many blocks
SIZES = (P - 1, P, P + 7)


@pytest.fixture(autouse=True)
def small_thresholds(request, monkeypatch):
    if "real_thresholds" not in request.node.name:
        monkeypatch.setattr(buffers, "PARALLEL_MIN", P)
        monkeypatch.setattr(buffers, "BLOCK", 1000)  # several blocks, a partial last one
        monkeypatch.setattr(buffers, "POOL_MIN_BYTES", P * 4)
        monkeypatch.setattr(unary, "_BLOCK", 1000)
    yield
SPECIAL = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, -1.0, 1e-30, 3.0, -2.5, 1e30])

# entry point -> how many array arguments after g, and a scalar (or None)
ENTRIES = {
    "neg_bwd": (0, None), "scale_bwd": (0, 0.75), "div_scalar_bwd": (0, 3.0),
    "mul_bwd": (1, None), "div_bwd_a": (1, None), "div_bwd_b": (2, None),
    "pow_scalar_bwd": (1, 2.0), "pow_base_bwd": (2, None), "pow_exp_bwd": (3, None),
    "rpow_bwd": (1, 2.5), "exp_bwd": (1, None), "log_bwd": (1, None), "sqrt_bwd": (1, None),
    "abs_bwd": (1, None), "sigmoid_bwd": (1, None), "tanh_bwd": (1, None),
    "relu_bwd": (1, None), "reciprocal_bwd": (1, None),
}


def _data(n: int, dtype, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(dtype)
    with np.errstate(over="ignore"):  # 1e30 is inf in float16
        x[rng.integers(0, n, 64)] = rng.choice(SPECIAL, 64).astype(dtype)
        k = min(n, SPECIAL.size)
        x[:k] = SPECIAL[:k].astype(dtype)  # also inside the first block
    return x


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equal (NaN == NaN, 0.0 != -0.0)."""
    return a.dtype == b.dtype and a.shape == b.shape and (
        np.ascontiguousarray(a).view(np.uint8) == np.ascontiguousarray(b).view(np.uint8)).all()


def _args(name: str, n: int, dtype) -> tuple:
    arrays, scalar = ENTRIES[name]
    args = [_data(n, dtype, k) for k in range(arrays + 1)]
    return tuple(args) + ((scalar,) if scalar is not None else ())


# ---------------------------------------------------------------- kernels
def test_every_kernel_has_a_registered_block_kernel():
    large = {k.name: k for k in REGISTRY if k.group == "block"}
    assert set(ENTRIES) == {k.name for k in REGISTRY if k.group == "elementwise"}
    for name in ENTRIES:
        twin = large[name + "_block"]
        assert twin.fn.targetoptions.get("error_model") == "numpy"
        assert twin.fn.targetoptions.get("nogil") is True  # two threads run it at once
        assert twin.sig == next(k.sig for k in REGISTRY if k.name == name) + "a"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_entry_equals_the_serial_kernel_across_the_threshold(name, dtype):
    entry, serial = getattr(ek, name), getattr(ek, name).serial
    for n in SIZES:
        args = _args(name, n, dtype)
        got, want = entry(*args), serial(*args)
        assert _same(got, want), (name, n)


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 0.5, -0.5, -1.0, 2.5, -3.0])
def test_pow_scalar_block_on_every_exponent_branch(p):
    g, x = _data(P + 3, np.float32, 1), _data(P + 3, np.float32, 2)
    assert _same(ek.pow_scalar_bwd(g, x, p), ek.pow_scalar_bwd.serial(g, x, p))


def test_rpow_block_with_base_zero_and_negative():
    g, res = _data(P + 3, np.float64, 1), np.abs(_data(P + 3, np.float64, 2))
    for base in (0.0, -2.0, 0.5):
        assert _same(ek.rpow_bwd(g, res, base), ek.rpow_bwd.serial(g, res, base))


# ---------------------------------------------------------------- against torch
def _t(a: np.ndarray, grad: bool = True) -> torch.Tensor:
    return torch.tensor(a, requires_grad=grad)


def _e(a: np.ndarray, grad: bool = True) -> engine.Tensor:
    return engine.tensor(a, requires_grad=grad)


UNARY = ["exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu", "reciprocal"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", UNARY)
def test_large_unary_forward_and_backward_match_torch(op, dtype):
    n = P + 5
    x = np.random.default_rng(7).uniform(0.1, 3.0, n).astype(dtype)
    x[::3] *= -1 if op in ("abs", "relu", "sigmoid", "tanh", "exp") else 1
    g = np.random.default_rng(8).standard_normal(n).astype(dtype)
    xe, xt = _e(x), _t(x)
    ye, yt = getattr(engine, op)(xe), getattr(torch, op)(xt)
    ye.backward(engine.tensor(g))
    yt.backward(torch.tensor(g))
    # float32: the engine's kernels round once from float64 where torch rounds each step
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=0)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), **tol)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), **tol)


BINARY = {
    "mul": lambda a, b: a * b, "div": lambda a, b: a / b, "pow": lambda a, b: a ** b,
    "neg_scale": lambda a, b: -(a * 0.75) / 3.0 + b, "pow_scalar": lambda a, b: a ** 2.5 + b,
    "square": lambda a, b: a ** 2 * b, "rpow": lambda a, b: 2.5 ** a * b,
}


@pytest.mark.parametrize("op", sorted(BINARY))
def test_large_binary_backward_matches_torch(op):
    n = P + 5
    rng = np.random.default_rng(9)
    a = rng.uniform(0.5, 2.0, n).astype(np.float32)
    b = rng.uniform(0.5, 2.0, n).astype(np.float32)
    fn = BINARY[op]
    ae, be, at, bt = _e(a), _e(b), _t(a), _t(b)
    fn(ae, be).sum().backward()
    fn(at, bt).sum().backward()
    np.testing.assert_allclose(ae.grad.numpy(), at.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(be.grad.numpy(), bt.grad.numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- blockwise forward
FORWARDS = {"sigmoid": unary._sigmoid_steps, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
            "tanh": np.tanh, "reciprocal": np.reciprocal, "abs": np.abs,
            "relu": lambda x: np.maximum(x, 0)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(FORWARDS))
def test_blockwise_forward_equals_one_numpy_call(op, dtype):
    fwd = getattr(unary, "_" + op)
    plain = FORWARDS[op]
    for n in (*SIZES, SPLIT + 12345):  # the last one runs on two threads
        x = _data(n, dtype, 3) * 10
        with np.errstate(all="ignore"):
            want = plain(x, np.empty_like(x)) if op == "sigmoid" else plain(x)
            got = fwd(x)
        assert _same(got, want), (op, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_sigmoid_fused_block_equals_the_four_numpy_steps(dtype):
    x = _data(P + 9, dtype, 6) * 20
    with np.errstate(all="ignore"):
        want = unary._sigmoid_steps(x, np.empty_like(x))
        got = unary._sigmoid_block(x, np.empty_like(x))
        assert _same(got, want)
        assert _same(unary._sigmoid(x), want)
        if dtype != np.float16:  # (the engine keeps no float16 tensors)
            assert _same(engine.sigmoid(engine.tensor(x)).numpy(), want)


def test_relu_and_abs_keep_their_integer_and_bool_paths():
    i = np.arange(-5, 5, dtype=np.int32)
    np.testing.assert_array_equal(unary._relu(i), np.maximum(i, 0))
    np.testing.assert_array_equal(unary._abs(i), np.abs(i))
    b = np.array([True, False])
    assert unary._relu(b).dtype == bool and unary._relu(b) is not b
    assert _same(unary._relu(np.float32(-0.0)[()].reshape(())), np.maximum(np.float32(-0.0), 0)
                 .reshape(()))


def test_blockwise_forward_keeps_shape_and_layout_rules():
    x = _data(2 * P, np.float32, 4).reshape(512, -1)
    with np.errstate(all="ignore"):
        assert _same(unary._exp(x), np.exp(x))
        got = unary._exp(x.T)  # not contiguous: the plain path, numpy's output layout
        assert _same(got, np.exp(x.T)) and got.strides == np.exp(x.T).strides
        assert unary._sigmoid(np.float32(0.5)[()].reshape(())).shape == ()


# ---------------------------------------------------------------- the pool
def _addr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_pool_reuses_only_unreferenced_buffers():
    n = buffers.POOL_MIN_BYTES // 4 + 11
    a = buffers.empty(n, np.float32)
    b = buffers.empty(n, np.float32)
    assert not np.shares_memory(a, b)
    view = a[5:]
    torch_view = torch.from_numpy(b)
    addr_a = _addr(a)
    del a, b
    c = buffers.empty(n, np.float32)
    assert not np.shares_memory(c, view)
    assert not np.shares_memory(c, torch_view.numpy())
    del view, torch_view
    gc.collect()
    d = buffers.empty(n, np.float32)
    e = buffers.empty(n, np.float32)
    assert addr_a in (_addr(d), _addr(e), _addr(c))  # a's memory came back
    assert not np.shares_memory(d, e)


def test_small_requests_bypass_the_pool():
    before = buffers.stats()["buffers"]
    a = buffers.empty(16, np.float64)
    assert a.base is None and buffers.stats()["buffers"] == before


def test_pool_limit_and_empty_cache():
    old = buffers.limit()
    try:
        for _ in range(3):
            buffers.empty(buffers.POOL_MIN_BYTES + 1, np.uint8)
        assert buffers.stats()["free_buffers"] >= 1
        buffers.limit(0)
        assert buffers.stats()["free_bytes"] == 0
    finally:
        buffers.limit(old)
    kept = buffers.empty(buffers.POOL_MIN_BYTES, np.uint8)
    buffers.empty_cache()
    assert buffers.stats()["free_bytes"] == 0 and buffers.stats()["buffers"] >= 1
    kept[:] = 1  # still valid memory


@pytest.mark.parametrize("n", [1000, P - 1, SPLIT + 999])
def test_run_blocks_covers_the_range_once_in_blocks(n):
    seen = np.zeros(n, np.int64)
    spans = []

    def mark(lo: int, hi: int) -> None:
        spans.append(hi - lo)
        seen[lo:hi] += 1

    buffers.run_blocks(mark, n, 1 << 8)
    assert (seen == 1).all() and max(spans) <= 1 << 8


def test_run_blocks_passes_errors_on_and_stops():
    done = []

    def boom(lo: int, hi: int) -> None:
        done.append(lo)
        if lo == 1 << 10:
            raise ValueError("block")

    with pytest.raises(ValueError, match="block"):
        buffers.run_blocks(boom, SPLIT * 4, 1 << 8)
    settled = len(done)
    import time
    time.sleep(0.05)
    assert len(done) == settled < SPLIT * 4 >> 8  # nothing runs after the call returned


def _sigmoid_pass(x: engine.Tensor) -> None:
    x.grad = None
    engine.sigmoid(x).backward(engine.ones(x.shape[0]))


def test_grads_handed_out_are_never_overwritten():
    n = P * 2
    x = _e(np.random.default_rng(5).standard_normal(n).astype(np.float32))
    _sigmoid_pass(x)
    first = x.grad
    snapshot = first.numpy().copy()
    hooked = []
    h = x.register_hook(lambda g: hooked.append(g) or None)
    for _ in range(3):
        _sigmoid_pass(x)
        assert not np.shares_memory(x.grad.numpy(), first.numpy())
        for old in hooked[:-1]:
            assert not np.shares_memory(old.numpy(), hooked[-1].numpy())
    h.remove()
    np.testing.assert_array_equal(first.numpy(), snapshot)
    for old in hooked:
        np.testing.assert_array_equal(old.numpy(), snapshot)


def test_autograd_grad_results_stay_intact():
    n = P * 2
    x = _e(np.random.default_rng(6).uniform(0.5, 1.5, n).astype(np.float32))
    keep = []
    for k in range(3):
        (gx,) = engine.autograd.grad((x * (k + 1.0)).exp().sum(), x)
        keep.append((gx, gx.numpy().copy()))
    for gx, copy in keep:
        np.testing.assert_array_equal(gx.numpy(), copy)
    for i in range(3):
        for j in range(i):
            assert not np.shares_memory(keep[i][0].numpy(), keep[j][0].numpy())


def test_forward_outputs_are_not_reused_while_alive():
    x = engine.tensor(np.linspace(-3, 3, P * 2, dtype=np.float32))
    ys = [engine.sigmoid(x * float(k)) for k in range(4)]
    for i in range(4):
        for j in range(i):
            assert not np.shares_memory(ys[i].numpy(), ys[j].numpy())
    np.testing.assert_array_equal(ys[0].numpy(), np.full(P * 2, 0.5, np.float32))


# ---------------------------------------------------------------- broadcast.expand
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("small,big", [
    ((), (P + 3,)), ((1,), (P - 1,)), ((), (512, 513)), ((513,), (512, 513)),
    ((512, 1), (512, 513)), ((3, 1, 5), (3, 17477, 5)), ((1, 7, 1), (9000, 7, 5)),
])
def test_expand_entry_equals_the_serial_kernel(small, big, dtype):
    from engine.kernels import broadcast as bk
    from engine.ops.base import _plan

    src = _data(int(np.prod(small)), dtype, 11).reshape(small)
    shape, strides, _ = _plan(src.shape, big)
    size = int(np.prod(big))
    for divisor in (1.0, 3.0):
        got = bk.expand(src.reshape(-1), shape, strides, size, divisor)
        want = bk.expand_serial(src.reshape(-1), shape, strides, size, divisor)
        assert _same(got, want), (small, big)
        with np.errstate(all="ignore"):
            ref = (np.broadcast_to(src, big) / divisor).astype(dtype).reshape(-1)
        assert _same(got, ref)


def test_large_sum_and_mean_backward_match_torch():
    x = np.random.default_rng(12).standard_normal((700, 601)).astype(np.float32)
    for red in ("sum", "mean"):
        xe, xt = _e(x), _t(x)
        (getattr(xe, red)() * 3.0).backward()
        (getattr(xt, red)() * 3.0).backward()
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-6)
        xe, xt = _e(x), _t(x)
        getattr(xe, red)(0).sum().backward()
        getattr(xt, red)(0).sum().backward()
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


# ---------------------------------------------------------------- activation kernels
# Trailing scalars of the kernels that take some (any values do: each entry point is
# compared with its own serial kernel); the row kernels take a row length instead.
SCALARS = {"clamp_bwd": (-0.5, 0.7), "mask_bwd": (1.0,), "leaky_relu_bwd": (0.01,),
           "softplus_bwd": (1.5, 2.0), "elu_bwd": (0.7,)}
ROW_KERNELS = {"softmax_bwd", "log_softmax_bwd"}
# entry point -> arrays after the first, trailing scalars: every elementwise kernel of the
# group, read from the registry, so a new one is tested without being listed here
ACTIVATIONS = {k.name: (k.sig.count("a") - 1, SCALARS.get(k.name, ()))
               for k in REGISTRY if k.group == "activation"
               and k.name not in ROW_KERNELS | {"sigmoid_tail"}}


def test_every_activation_kernel_has_an_entry_and_a_block_kernel():
    from engine.kernels import activation as ak

    sigs = {k.name: k.sig for k in REGISTRY if k.group == "activation"}
    assert set(SCALARS) <= set(ACTIVATIONS) and ROW_KERNELS <= set(sigs)
    for name, (_, scalars) in ACTIVATIONS.items():
        assert sigs[name].count("s") == len(scalars), name
    large = {k.name for k in REGISTRY if k.group == "block"}
    for name in set(ACTIVATIONS) | ROW_KERNELS:
        assert name + "_block" in large
        assert getattr(ak, name).serial is next(k.fn for k in REGISTRY if k.name == name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_entry_equals_the_serial_kernel(name, dtype):
    from engine.kernels import activation as ak

    arrays, scalars = ACTIVATIONS[name]
    for n in SIZES:
        args = tuple(_data(n, dtype, k) for k in range(arrays + 1)) + scalars
        if name == "pick_bwd":  # ties too
            args[1][::5] = args[2][::5]
        with np.errstate(all="ignore"):
            got, want = getattr(ak, name)(*args), getattr(ak, name).serial(*args)
        assert _same(got, want), (name, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax_bwd", "log_softmax_bwd"])
def test_row_kernels_entry_equals_the_serial_kernel(name, dtype):
    from engine.kernels import activation as ak

    for rows, n in ((P // 10, 10), (P // 10 + 1, 10), (3, P), (SPLIT // 7 + 1, 7)):
        g, y = _data(rows * n, dtype, 1), _data(rows * n, dtype, 2) * 0.1
        with np.errstate(all="ignore"):
            got, want = getattr(ak, name)(g, y, n), getattr(ak, name).serial(g, y, n)
        assert _same(got, want), (name, rows, n)


@pytest.mark.parametrize("op", ["silu", "gelu", "softplus", "leaky_relu", "sin", "clamp",
                                "maximum", "softmax", "log_softmax"])
def test_large_activations_backward_match_torch(op):
    x = np.random.default_rng(13).standard_normal((P // 64 + 1, 64)).astype(np.float32)
    y = np.random.default_rng(14).standard_normal(x.shape).astype(np.float32)
    fns = {
        "silu": lambda m, a, b: m.nn.functional.silu(a),
        "gelu": lambda m, a, b: m.nn.functional.gelu(a),
        "softplus": lambda m, a, b: m.nn.functional.softplus(a),
        "leaky_relu": lambda m, a, b: m.nn.functional.leaky_relu(a, 0.1),
        "sin": lambda m, a, b: m.sin(a),
        "clamp": lambda m, a, b: m.clamp(a, -0.5, 0.5),
        "maximum": lambda m, a, b: m.maximum(a, b),
        "softmax": lambda m, a, b: m.softmax(a, -1),
        "log_softmax": lambda m, a, b: m.log_softmax(a, -1),
    }
    xe, ye, xt, yt = _e(x), _e(y), _t(x), _t(y)
    w = np.random.default_rng(15).standard_normal(x.shape).astype(np.float32)
    (fns[op](engine, xe, ye) * engine.tensor(w)).sum().backward()
    (fns[op](torch, xt, yt) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    if op == "maximum":
        np.testing.assert_allclose(ye.grad.numpy(), yt.grad.numpy(), rtol=1e-4, atol=1e-5)


MORE_FORWARDS = {"sin": np.sin, "cos": np.cos, "log1p": np.log1p, "expm1": np.expm1,
                 "rsqrt": lambda x: 1.0 / np.sqrt(x)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(MORE_FORWARDS))
def test_more_forwards_blockwise_equal_one_numpy_call(op, dtype):
    fwd = getattr(unary, "_" + op)
    for n in (*SIZES, SPLIT + 77):
        x = _data(n, dtype, 5) * 4
        with np.errstate(all="ignore"):
            want, got = MORE_FORWARDS[op](x), fwd(x)
        assert _same(got, want), (op, n)
        assert _same(getattr(engine, op)(engine.tensor(x)).numpy(), want)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_the_large_paths_serially():
    """The parent's second thread does not exist in a forked child: the child must run
    the blocks alone instead of waiting for it."""
    x0 = np.random.default_rng(16).standard_normal(SPLIT + 3).astype(np.float32)

    def run() -> np.ndarray:
        x = engine.tensor(x0, requires_grad=True)
        engine.sigmoid(x).sum().backward()
        return x.grad.numpy()

    want = run()  # the parent has now used its second thread
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(w, b"1" if _same(run(), want) and not buffers.threads_ok() else b"0")
        finally:
            os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    got = os.read(r, 1)
    os.close(r)
    assert status == 0 and got == b"1"


# ---------------------------------------------------------------- loss kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["mse_bwd", "huber_bwd", "smooth_l1_bwd", "bce_bwd_input",
                                  "bce_bwd_target"])
def test_loss_entry_equals_the_serial_kernel(name, dtype):
    from engine.kernels import loss as lk

    for n in SIZES:
        x = np.random.default_rng(17).uniform(-0.1, 1.1, n).astype(dtype)
        x[:4] = [0.0, 1.0, np.nan, 0.5]
        y = np.random.default_rng(18).uniform(0, 1, n).astype(dtype)
        for g in (np.array([0.7], dtype), _data(n, dtype, 19)):
            for w in (np.empty(0, dtype), np.abs(_data(n, dtype, 20))):
                args = {"mse_bwd": (g, x, y, 3.0), "bce_bwd_input": (g, x, y, w, 3.0),
                        "huber_bwd": (g, x, y, 0.4, 3.0), "smooth_l1_bwd": (g, x, y, 0.4, 3.0),
                        "bce_bwd_target": (g, x, w, 3.0)}[name]
                with np.errstate(all="ignore"):
                    got, want = getattr(lk, name)(*args), getattr(lk, name).serial(*args)
                assert _same(got, want), (name, n, g.size, w.size)


@pytest.mark.parametrize("loss", ["mse_loss", "huber_loss", "smooth_l1_loss",
                                  "binary_cross_entropy"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_large_losses_backward_match_torch(loss, reduction):
    rng = np.random.default_rng(21)
    x = rng.uniform(0.05, 0.95, P + 3).astype(np.float32)
    y = rng.uniform(0, 1, P + 3).astype(np.float32)
    xe, ye, xt, yt = _e(x), _e(y), _t(x), _t(y)
    le = getattr(engine.nn.functional, loss)(xe, ye, reduction=reduction)
    lt = getattr(torch.nn.functional, loss)(xt, yt, reduction=reduction)
    (le.sum() if reduction == "none" else le).backward()
    (lt.sum() if reduction == "none" else lt).backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ye.grad.numpy(), yt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_sigmoid_at_the_real_thresholds_equals_the_small_path():
    n = buffers.PARALLEL_MIN + buffers.BLOCK // 2 + 1
    x0 = _data(n, np.float32, 22) * 8
    x = engine.tensor(x0, requires_grad=True)
    y = engine.sigmoid(x)
    y.backward(engine.tensor(_data(n, np.float32, 23)))
    with np.errstate(all="ignore"):
        want = unary._sigmoid_steps(x0, np.empty_like(x0))
        grad = ek.sigmoid_bwd.serial(_data(n, np.float32, 23), want)
    assert _same(y.detach().numpy(), want) and _same(x.grad.numpy(), grad)
    assert y.detach().numpy().base is not None  # pooled


# ---------------------------------------------------------------- accumulation
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES + (SPLIT + 3,))
def test_accumulation_entries_equal_numpy(n, dtype):
    from engine.kernels import accumulate as ak

    rng = np.random.default_rng(n)
    a, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    a[:len(SPECIAL)], b[:len(SPECIAL)] = SPECIAL, SPECIAL[::-1]
    np.testing.assert_array_equal(ak.add_out(a, b), a + b)
    np.testing.assert_array_equal(ak.copy(a), a)
    assert not np.shares_memory(ak.copy(a), a)
    dst = a.copy()
    ak.accumulate_(dst, b)
    np.testing.assert_array_equal(dst, a + b)


def test_large_grads_accumulate_and_merge_as_torch():
    """Two paths meeting at x (add_out), a new .grad (copy), then an existing one
    (accumulate_), on sizes past the threshold."""
    x0 = np.random.default_rng(8).standard_normal(SPLIT + 5)
    x, tx = _e(x0), torch.tensor(x0, requires_grad=True)
    for _ in range(2):
        (x.exp() + x.sin()).sum().backward()
        (tx.exp() + tx.sin()).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    held, values = x.grad, x.grad.numpy().copy()  # a .grad the user kept
    x.grad = None
    (x * 3.0).sum().backward()
    assert not np.shares_memory(x.grad.numpy(), held.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), np.full(x0.size, 3.0))
    np.testing.assert_array_equal(held.numpy(), values)
