"""Shared helpers for the ``test_autograd_*`` files: building twin engine/torch tensors
and comparing what the two libraries do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import engine


def twin(shape: tuple[int, ...], seed: int = 0, requires_grad: bool = True,
         dtype: np.dtype = np.float32) -> tuple[engine.Tensor, torch.Tensor]:
    """The same random values as an engine tensor and a torch tensor."""
    data = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return (engine.tensor(data, requires_grad=requires_grad),
            torch.tensor(data, requires_grad=requires_grad))


def from_torch(t: torch.Tensor) -> engine.Tensor:
    """An engine leaf with ``t``'s values, dtype and requires_grad flag."""
    return engine.tensor(t.detach().numpy().copy(), requires_grad=t.requires_grad)


def arr(t: Any) -> np.ndarray:
    """Values of an engine or torch tensor as a numpy array."""
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().numpy())


def assert_close(e: Any, t: Any, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    ea, ta = arr(e), arr(t)
    assert ea.shape == ta.shape, (ea.shape, ta.shape)
    np.testing.assert_allclose(ea, ta, rtol=rtol, atol=atol)


def error_of(fn: Callable[[], Any]) -> BaseException:
    """The exception ``fn`` raises (the test fails if it raises nothing)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - any type: the caller compares it with torch
        return exc
    raise AssertionError("expected an exception")


def same_error(engine_fn: Callable[[], Any], torch_fn: Callable[[], Any],
               upto: str | None = None) -> BaseException:
    """Both calls raise the same exception type with the same message (``torch.`` read as
    ``engine.``), optionally compared only up to and including ``upto``."""
    e, t = error_of(engine_fn), error_of(torch_fn)
    assert type(e) is type(t), (type(e), type(t), str(e))
    em, tm = str(e), str(t).replace("torch.", "engine.")
    if upto is not None:
        assert upto in tm, tm
        tm = tm[: tm.index(upto) + len(upto)]
        em = em[: len(tm)]
    assert em == tm, (em, tm)
    return e


def plain_name(fn: Any) -> str:
    """A node's name without torch's C++ namespace (``torch::autograd::AccumulateGrad``)."""
    return fn.name().replace("torch::autograd::", "")



def function_of(lib: Any, forward: Callable[..., Any], backward: Callable[..., Any]) -> type:
    """A custom ``lib.autograd.Function`` with these ``forward`` and ``backward``."""
    return type("Custom", (lib.autograd.Function,),
                {"forward": staticmethod(forward), "backward": staticmethod(backward)})
