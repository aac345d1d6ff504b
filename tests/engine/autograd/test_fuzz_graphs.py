"""Property-based parity: random computation graphs built twice, in the engine and in torch,
from the same numpy leaves; every intermediate value and every leaf gradient must agree.

The graphs come from ``fuzz_graphs.Builder``: unary ops, binary ops with broadcasting,
reductions over random dims, softmax, matmul/linear, views and indexing (strided, transposed,
expanded, repeated advanced indices), cat/stack, losses; float32 or float64; values reused as
shared sub-expressions and leaves reused; ``no_grad`` islands and ``detach``; retained
non-leaf grads; several backward passes with ``retain_graph`` (grads accumulate as in torch)
and sometimes a second root through the same graph.  ``tools/fuzz.py`` runs the same builder
for longer.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tests.engine._support.fuzz_graphs as fg

SETTINGS = settings(derandomize=True, deadline=None, max_examples=1200, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
@SETTINGS
@given(data=st.data())
def test_random_graph_parity(data):
    program = fg.build(fg.HypothesisDrawer(data))
    try:
        fg.compare(program)
    except fg.RejectedError:
        assume(False)
    except Exception as exc:  # show the whole program, runnable, with the failure
        raise AssertionError(f"{exc}\n--- reproducer ---\n{program.source()}") from exc


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fixed_seeds_cover_every_family(dtype):
    """A fixed batch of plain-random graphs: deterministic, and wide enough that every op
    family and every special step (no_grad, detach, retain_grad, repeated backward) occurs."""
    seen: set[str] = set()
    retained = repeated = islands = compared = 0
    for seed in range(150):
        program = fg.build(fg.RandomDrawer(seed), dtype=dtype)
        try:
            got, ref = fg.compare(program)
        except fg.RejectedError:
            continue
        compared += 1
        seen.update(program.ops())
        retained += bool(program.retained)
        repeated += len(program.backwards) > 1
        islands += any(s.no_grad for s in program.steps)
        # the comparison really saw gradients, not an empty dict
        assert set(got.grads) == set(ref.grads)
    for op in ("matmul", "linear", "softmax", "log_softmax", "bce_logits", "cross_entropy",
               "advanced", "step", "expand", "transpose", "cat", "stack", "detach", "where",
               "maximum", "amax", "logsumexp", "sum", "mean"):
        assert op in seen, op
    assert compared >= 130  # of 150: few graphs leave the range or are refused by torch
    assert retained > 5 and repeated > 20 and islands > 5


def test_repeated_backward_accumulates_like_torch():
    """The builder's repeated-backward path, checked by hand once: three passes triple the
    gradient of a graph with a shared sub-expression."""
    import torch

    import engine

    x0 = np.array([[0.5, -1.0], [2.0, 0.25]])
    grads = []
    for lib in (engine, torch):
        x = lib.tensor(x0, requires_grad=True)
        h = x.tanh()
        root = (h * h + h).sum()
        for i in range(3):
            root.backward(retain_graph=i < 2)
        grads.append(np.array(x.grad.detach().numpy()))
    one = (2 * np.tanh(x0) + 1) * (1 - np.tanh(x0) ** 2)
    np.testing.assert_allclose(grads[0], 3 * one, rtol=1e-12)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
