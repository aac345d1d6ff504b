"""Anomaly detection names the forward op whose backward produced a NaN, like torch."""

import re

import pytest
import torch

import engine


def _nan_backward(lib):
    x = lib.tensor([0.0, 1.0], requires_grad=True)
    return (x.sqrt() * 0).sum()  # sqrt's backward at 0 is inf, times 0 is NaN


@pytest.mark.parametrize("use_context", [True, False])
def test_nan_in_backward_raises_torchs_error_naming_the_node(use_context):
    messages = []
    for lib in (engine, torch):
        if use_context:
            with pytest.warns(UserWarning), lib.autograd.detect_anomaly():
                loss = _nan_backward(lib)
                with pytest.raises(RuntimeError) as err, pytest.warns(UserWarning) as rec:
                    loss.backward()
        else:
            lib.autograd.set_detect_anomaly(True)
            try:
                loss = _nan_backward(lib)
                with pytest.raises(RuntimeError) as err, pytest.warns(UserWarning) as rec:
                    loss.backward()
            finally:
                lib.autograd.set_detect_anomaly(False)
        messages.append(str(err.value))
        forward_stack = [str(w.message) for w in rec if "Traceback of forward" in str(w.message)]
        assert forward_stack and "test_anomaly.py" in forward_stack[0]
    assert messages[0] == messages[1] == (
        "Function 'SqrtBackward0' returned nan values in its 0th output.")


def test_without_anomaly_mode_nan_flows_silently_and_gradients_match():
    grads = []
    for lib in (engine, torch):
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        (x.sqrt() * 0).sum().backward()
        grads.append(x.grad.tolist())
    assert str(grads[0]) == str(grads[1]) == "[nan, 0.0]"
    assert not engine.autograd.anomaly.is_anomaly_enabled()


def test_check_nan_false_records_but_does_not_raise():
    with engine.autograd.set_detect_anomaly(True, check_nan=False):
        loss = _nan_backward(engine)
        assert re.search(r"test_anomaly\.py", "".join(loss.grad_fn.metadata["traceback_"]))
        loss.backward()
    assert not engine.autograd.anomaly.is_anomaly_enabled()


def test_mode_is_restored_and_nodes_made_outside_keep_no_stack():
    with engine.autograd.set_detect_anomaly(True):
        pass
    x = engine.tensor([1.0], requires_grad=True)
    assert "traceback_" not in (x * 2).grad_fn.metadata
