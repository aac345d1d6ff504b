"""``autograd.Variable``, torch's old wrapper: old tutorials still call it, and torch still
answers with a plain tensor."""

import warnings

import numpy as np
import pytest
import torch

import engine
from tests.engine._support.autograd_helpers import same_error


def _made(lib, requires_grad, from_graph):
    data = lib.tensor([1.0, -2.0], requires_grad=True)
    if from_graph:
        data = data * 3
    v = lib.autograd.Variable(data, requires_grad=requires_grad)
    return v, data


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("from_graph", [False, True])
def test_variable_is_a_detached_leaf_sharing_memory(requires_grad, from_graph):
    ours, theirs = _made(engine, requires_grad, from_graph), _made(torch, requires_grad, from_graph)
    for v, data in (ours, theirs):
        assert v.is_leaf and v.grad_fn is None
        assert v.requires_grad is requires_grad
        assert isinstance(v, type(data)) and isinstance(data, type(v).__mro__[0])
    assert ours[0].tolist() == theirs[0].tolist()
    v, data = ours
    v.detach()[0] = 7.0  # same memory as the data it wraps
    assert data.tolist()[0] == 7.0


def test_every_tensor_is_a_variable_and_an_empty_call_gives_an_empty_tensor():
    assert isinstance(engine.ones(1), engine.autograd.Variable)
    assert not isinstance(np.ones(1), engine.autograd.Variable)
    assert repr(engine.autograd.Variable()) == repr(torch.autograd.Variable()) == "tensor([])"


def test_variable_of_a_list_and_volatile():
    same_error(lambda: engine.autograd.Variable([1.0]), lambda: torch.autograd.Variable([1.0]))

    def warned(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.autograd.Variable(lib.ones(1), volatile=True)
        return [str(w.message) for w in caught]

    assert warned(engine) == [m.replace("torch.", "engine.") for m in warned(torch)]


def test_a_variable_trains_like_a_tensor():
    grads = []
    for lib in (engine, torch):
        w = lib.autograd.Variable(lib.tensor([0.5, -1.0]), requires_grad=True)
        (w * w).sum().backward()
        grads.append(w.grad.tolist())
    assert grads[0] == grads[1] == [1.0, -2.0]
