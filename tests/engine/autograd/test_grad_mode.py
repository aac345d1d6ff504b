"""``no_grad``, ``enable_grad``, ``set_grad_enabled`` and ``is_grad_enabled`` as torch's:
context managers, decorators, plain calls, and per thread."""

import threading

import pytest
import torch

import engine


@pytest.fixture(autouse=True)
def _restore_grad_mode():
    yield
    engine.set_grad_enabled(True)
    torch.set_grad_enabled(True)


def _both(body):
    """Run ``body(m)`` with the engine and with torch; both results must be equal."""
    e, t = body(engine), body(torch)
    assert e == t
    return e


def test_context_managers():
    def body(m):
        a = m.ones(2, requires_grad=True)
        states = [m.is_grad_enabled()]
        with m.no_grad():
            states.append(m.is_grad_enabled())
            states.append((a * 2).requires_grad)
            with m.enable_grad():
                states.append(m.is_grad_enabled())
                states.append((a * 2).requires_grad)
            with m.set_grad_enabled(True):
                states.append(m.is_grad_enabled())
            states.append(m.is_grad_enabled())
        with m.set_grad_enabled(False):
            states.append((a * 2).grad_fn is None)
        states.append(m.is_grad_enabled())
        return states

    assert _both(body) == [True, False, False, True, True, True, False, True, True]


def test_context_manager_restores_after_an_exception():
    def body(m):
        with pytest.raises(KeyError):
            with m.no_grad():
                raise KeyError
        return m.is_grad_enabled()

    assert _both(body) is True


def _decorated(make, m):
    """A function decorated with ``make(m)`` that reports the grad mode it runs in and
    whether it records, and a leaf to call it with."""
    @make(m)
    def f(x):
        return m.is_grad_enabled(), (x * 2).requires_grad

    return f, m.ones(2, requires_grad=True)


@pytest.mark.parametrize("make", [lambda m: m.no_grad(), lambda m: m.no_grad,
                                  lambda m: m.set_grad_enabled(False)])
def test_decorators_disable(make):
    def body(m):
        f, a = _decorated(make, m)
        return m.is_grad_enabled(), f(a), f(a), m.is_grad_enabled()

    assert _both(body) == (True, (False, False), (False, False), True)


@pytest.mark.parametrize("make", [lambda m: m.enable_grad(), lambda m: m.enable_grad,
                                  lambda m: m.set_grad_enabled(True)])
def test_decorators_enable_inside_no_grad(make):
    def body(m):
        f, a = _decorated(make, m)
        with m.no_grad():
            return f(a), m.is_grad_enabled()

    assert _both(body) == ((True, True), False)


def test_decorated_function_keeps_its_name_and_doc():
    @engine.no_grad()
    def predict(x):
        """Run the model."""
        return x

    assert predict.__name__ == "predict" and predict.__doc__ == "Run the model."


def test_set_grad_enabled_as_a_call_switches_immediately():
    def body(m):
        states = []
        m.set_grad_enabled(False)
        states.append(m.is_grad_enabled())
        a = m.ones(2, requires_grad=True)
        states.append((a * 2).requires_grad)
        m.set_grad_enabled(True)
        states.append(m.is_grad_enabled())
        states.append((a * 2).requires_grad)
        return states

    assert _both(body) == [False, False, True, True]


def test_set_grad_enabled_call_inside_no_grad_lasts_until_the_block_ends():
    def body(m):
        with m.no_grad():
            m.set_grad_enabled(True)
            inside = m.is_grad_enabled()
        return inside, m.is_grad_enabled()

    assert _both(body) == (True, True)


def test_set_grad_enabled_object_used_later_as_decorator_does_not_leak():
    def body(m):
        deco = m.set_grad_enabled(False)
        right_after = m.is_grad_enabled()

        @deco
        def f():
            return m.is_grad_enabled()

        return right_after, m.is_grad_enabled(), f(), m.is_grad_enabled()

    assert _both(body) == (False, True, False, True)


def test_one_no_grad_object_reused():
    def body(m):
        ctx = m.no_grad()

        @ctx
        def f():
            return m.is_grad_enabled()

        with ctx:
            inside = m.is_grad_enabled()
        return f(), inside, f(), m.is_grad_enabled()

    assert _both(body) == (False, False, False, True)


def test_grad_mode_is_per_thread():
    barrier = threading.Barrier(2, timeout=30)
    seen = {}

    def quiet_thread():
        with engine.no_grad():
            barrier.wait()  # 1: this thread is inside no_grad
            seen["quiet_inside"] = engine.is_grad_enabled()
            a = engine.ones(2, requires_grad=True)
            seen["quiet_records"] = (a * 2).requires_grad
            barrier.wait()  # 2: the other thread has checked
        seen["quiet_after"] = engine.is_grad_enabled()

    def busy_thread():
        barrier.wait()  # 1
        seen["busy"] = engine.is_grad_enabled()
        a = engine.ones(2, requires_grad=True)
        seen["busy_records"] = (a * 2).grad_fn is not None
        engine.set_grad_enabled(False)  # only this thread
        barrier.wait()  # 2
        seen["busy_off"] = engine.is_grad_enabled()

    threads = [threading.Thread(target=quiet_thread), threading.Thread(target=busy_thread)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert seen == {"quiet_inside": False, "quiet_records": False, "quiet_after": True,
                    "busy": True, "busy_records": True, "busy_off": False}
    assert engine.is_grad_enabled()  # the main thread was never touched


def test_new_thread_starts_with_grad_enabled():
    seen = []
    with engine.no_grad():
        t = threading.Thread(target=lambda: seen.append(engine.is_grad_enabled()))
        t.start()
        t.join(timeout=30)
        assert not engine.is_grad_enabled()
    assert seen == [True]


def test_backward_works_inside_no_grad():
    def body(m):
        a = m.ones(2, requires_grad=True)
        out = a * 3
        with m.no_grad():
            out.backward(m.ones(2))
        return a.grad.tolist()

    assert _both(body) == [3.0, 3.0]


def test_hooks_run_with_grad_disabled_and_the_mode_comes_back():
    def body(m):
        seen = []
        a = m.ones(3, requires_grad=True)
        h = a * 2
        h.register_hook(lambda g: seen.append((m.is_grad_enabled(), (g * a).requires_grad)))
        h.grad_fn.register_prehook(lambda go: seen.append(m.is_grad_enabled()))
        h.grad_fn.register_hook(lambda gi, go: seen.append(m.is_grad_enabled()))
        h.backward(m.ones(3))
        return seen, m.is_grad_enabled(), a.grad.requires_grad

    assert _both(body) == ([(False, False), False, False], True, False)


def test_stepping_restores_the_callers_mode_between_steps():
    a = engine.ones(3, requires_grad=True)
    out = (a * 2).exp()
    modes = []
    out.grad_fn.register_prehook(lambda go: modes.append(engine.is_grad_enabled()))
    for _ in engine.autograd.backward_steps(out, engine.ones(3)):
        modes.append(engine.is_grad_enabled())
    assert modes == [False, True, True, True]
