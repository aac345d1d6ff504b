"""Concurrency: grad mode is per thread, and two threads training separate models at the
same time get bitwise the results of training them one after the other."""

from __future__ import annotations

import threading

import numpy as np

import engine

F = engine.nn.functional


def test_grad_mode_is_per_thread():
    """One thread sits inside no_grad while another records a graph, interleaved step by
    step with barriers."""
    w = engine.randn(3, requires_grad=True)
    barrier = threading.Barrier(2, timeout=30)
    seen: dict[str, object] = {}

    def quiet() -> None:
        with engine.no_grad():
            barrier.wait()          # 1: no_grad is on here
            barrier.wait()          # 2: the other thread has recorded
            seen["quiet_enabled"] = engine.is_grad_enabled()
            seen["quiet_rg"] = (w * 2).requires_grad
        seen["quiet_after"] = engine.is_grad_enabled()

    def loud() -> None:
        barrier.wait()              # 1
        seen["loud_enabled"] = engine.is_grad_enabled()
        y = (w * 2).sum()
        seen["loud_rg"] = y.requires_grad
        y.backward()
        engine.set_grad_enabled(False)  # a plain call: only this thread is switched off
        seen["loud_off"] = engine.is_grad_enabled()
        barrier.wait()              # 2

    threads = [threading.Thread(target=quiet), threading.Thread(target=loud)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert seen == {"quiet_enabled": False, "quiet_rg": False, "quiet_after": True,
                    "loud_enabled": True, "loud_rg": True, "loud_off": False}
    assert engine.is_grad_enabled()  # the main thread was never touched
    np.testing.assert_array_equal(w.grad.numpy(), np.full(3, 2.0, np.float32))


def test_new_thread_starts_with_grad_enabled():
    out: list[bool] = []
    with engine.no_grad():
        t = threading.Thread(target=lambda: out.append(engine.is_grad_enabled()))
        t.start()
        t.join(30)
    assert out == [True]


STEPS = 150


def _make(seed: int) -> tuple:
    engine.manual_seed(seed)
    model = engine.nn.Sequential(engine.nn.Linear(4, 8), engine.nn.Tanh(),
                                 engine.nn.Linear(8, 1))
    opt = engine.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(seed)
    x = engine.tensor(rng.standard_normal((32, 4)).astype(np.float32))
    y = engine.tensor(rng.standard_normal((32, 1)).astype(np.float32))
    return model, opt, x, y


def _train(model, opt, x, y, barrier: threading.Barrier | None, log: list) -> None:
    for _ in range(STEPS):
        if barrier is not None:
            barrier.wait()  # lock-step with the other thread: every step interleaves
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        with engine.no_grad():  # an evaluation pass between steps
            log.append((loss.item(), model(x[:4]).sum().item()))


def _snapshot(model) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


def test_two_threads_train_like_one_after_the_other():
    # one after the other, in the main thread
    serial = []
    for seed in (11, 12):
        model, opt, x, y = _make(seed)
        log: list = []
        _train(model, opt, x, y, None, log)
        serial.append((_snapshot(model), log))

    # the same two jobs at once, in lock-step
    jobs = [_make(seed) for seed in (11, 12)]
    logs: list[list] = [[], []]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2, timeout=60)

    def run(i: int) -> None:
        try:
            _train(*jobs[i], barrier, logs[i])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for i in range(2):
        params, log = serial[i]
        assert logs[i] == log  # every loss and evaluation, bitwise
        for a, b in zip(_snapshot(jobs[i][0]), params):
            np.testing.assert_array_equal(a, b)
    assert serial[0][1][-1][0] < serial[0][1][0][0]  # and the models did learn


def test_many_threads_free_running():
    """Four threads without lock-step, each its own model: same bits as serial runs."""
    seeds = (21, 22, 23, 24)
    expected = {}
    for s in seeds:
        model, opt, x, y = _make(s)
        _train(model, opt, x, y, None, [])
        expected[s] = _snapshot(model)
    jobs = {s: _make(s) for s in seeds}
    threads = [threading.Thread(target=_train, args=(*jobs[s], None, [])) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for s in seeds:
        for a, b in zip(_snapshot(jobs[s][0]), expected[s]):
            np.testing.assert_array_equal(a, b)
