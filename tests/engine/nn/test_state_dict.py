"""state_dict / load_state_dict against torch: the same keys for the same structure
(Sequential, ModuleList, ModuleDict, parameter containers, buffers), values that round trip,
torch's ``_IncompatibleKeys`` and error texts, and torch weights giving torch's outputs."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import engine
from engine import nn
from tests.engine._support.autograd_helpers import same_error


def _lib(m: Any) -> Any:
    return engine if m is nn else torch


def _model(m: Any) -> Any:
    class Model(m.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = m.Sequential(m.Linear(4, 6), m.ELU())
            self.blocks = m.ModuleList([m.Sequential(m.Linear(6, 6), m.SiLU())
                                        for _ in range(2)])
            self.heads = m.ModuleDict({"logits": m.Linear(6, 3), "value": m.Linear(6, 1)})
            self.scale = m.ParameterList([m.Parameter(_lib(m).ones(6))])
            self.register_buffer("steps", _lib(m).zeros(1))
            self.loss = m.BCEWithLogitsLoss(pos_weight=_lib(m).ones(3))

        def forward(self, x: Any) -> Any:
            h = self.stem(x)
            for block in self.blocks:
                h = block(h) * self.scale[0]
            return self.heads["logits"](h).log_softmax(1) + self.heads["value"](h)

    return Model()


MODELS: dict[str, Callable[[Any], Any]] = {
    "sequential": lambda m: m.Sequential(m.Linear(3, 5), m.Softplus(), m.Linear(5, 2),
                                         m.LogSoftmax(dim=1)),
    "sequential_named": lambda m: m.Sequential(OrderedDict(
        [("fc1", m.Linear(3, 4)), ("act", m.ReLU()), ("fc2", m.Linear(4, 2, bias=False))])),
    "module_list": lambda m: m.ModuleList([m.Linear(2, 3), m.Tanh(), m.Linear(3, 3)]),
    "module_dict": lambda m: m.ModuleDict({"b": m.Linear(2, 2), "a": m.Sequential(
        m.Linear(2, 1), m.Sigmoid())}),
    "parameter_dict": lambda m: m.ParameterDict({"w": _lib(m).ones(2, 2), "b": _lib(m).ones(2)}),
    "custom": _model,
    "weighted_losses": lambda m: m.ModuleDict({"ce": m.CrossEntropyLoss(weight=_lib(m).ones(3)),
                                               "nll": m.NLLLoss(), "mse": m.MSELoss()}),
}


def _torch_state_as_numpy(tm: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}


@pytest.mark.parametrize("name", list(MODELS))
def test_keys_shapes_and_dtypes_match_torch(name: str) -> None:
    em, tm = MODELS[name](nn), MODELS[name](torch.nn)
    es, ts = em.state_dict(), tm.state_dict()
    assert type(es) is OrderedDict and list(es) == list(ts)
    for k in ts:
        assert tuple(es[k].shape) == tuple(ts[k].shape)
        assert es[k].dtype.name == str(ts[k].dtype).removeprefix("torch."), k
        assert not es[k].requires_grad and es[k].grad_fn is None
    assert list(em.state_dict(prefix="model.")) == list(tm.state_dict(prefix="model."))
    kept = em.state_dict(keep_vars=True)
    assert all(kept[n] is p for n, p in em.named_parameters())


@pytest.mark.parametrize("name", list(MODELS))
def test_torch_weights_load_and_round_trip(name: str) -> None:
    em, tm = MODELS[name](nn), MODELS[name](torch.nn)
    weights = _torch_state_as_numpy(tm)
    params_before = [id(p) for p in em.parameters()]
    result = em.load_state_dict({k: engine.tensor(v) for k, v in weights.items()})
    assert result == ([], []) and result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == repr(tm.load_state_dict(tm.state_dict()))
    assert [id(p) for p in em.parameters()] == params_before  # copied in place
    for k, v in em.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), weights[k])
    # and back: a second engine model loads the first's state_dict (numpy arrays too)
    other = MODELS[name](nn)
    other.load_state_dict({k: v.numpy() for k, v in em.state_dict().items()})
    for (k, a), (_, b) in zip(other.state_dict().items(), em.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a._data is not b._data, k  # values copied, not shared


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sequential", "sequential_named", "custom"])
def test_loaded_torch_weights_give_torchs_outputs_and_gradients(name: str, dt: str) -> None:
    em, tm = MODELS[name](nn), MODELS[name](torch.nn)
    tm = tm.to(getattr(torch, dt))
    em.load_state_dict(_torch_state_as_numpy(tm))  # float32 values into a float32 model
    em = em.to(getattr(engine, dt))
    em.load_state_dict(_torch_state_as_numpy(tm))  # and again at the dtype under test
    x = np.random.default_rng(0).normal(size=(5, 3 if name != "custom" else 4))
    ex = engine.tensor(x, dtype=getattr(engine, dt))
    tx = torch.tensor(x, dtype=getattr(torch, dt))
    eo, to = em(ex), tm(tx)
    tol = 1e-5 if dt == "float32" else 1e-12
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=tol, atol=tol)
    eo.sum().backward()
    to.sum().backward()
    for (en, ep), (tn, tp) in zip(em.named_parameters(), tm.named_parameters()):
        assert en == tn
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), rtol=tol * 10,
                                   atol=tol * 10)


def _altered(state: dict, drop: tuple = (), add: dict | None = None) -> OrderedDict:
    out = OrderedDict((k, v) for k, v in state.items() if k not in drop)
    out.update(add or {})
    return out


LOADS: dict[str, Callable[[Any, Any], Any]] = {
    "missing": lambda m, model: model.load_state_dict(
        _altered(model.state_dict(), drop=("0.bias", "2.weight"))),
    "unexpected": lambda m, model: model.load_state_dict(
        _altered(model.state_dict(), add={"3.weight": _lib(m).ones(2), "extra": _lib(m).ones(1)})),
    "missing_and_unexpected": lambda m, model: model.load_state_dict(
        _altered(model.state_dict(), drop=("2.bias",), add={"2.b": _lib(m).ones(2)})),
    "size_mismatch": lambda m, model: model.load_state_dict(
        _altered(model.state_dict(), add={"0.weight": _lib(m).ones(3, 5)})),
    "size_mismatch_not_strict": lambda m, model: model.load_state_dict(
        _altered(model.state_dict(), drop=("2.bias",), add={"2.weight": _lib(m).ones(1, 5)}),
        strict=False),
    "everything_wrong": lambda m, model: model.load_state_dict(
        _altered(model.state_dict(), drop=("0.weight",),
                 add={"0.bias": _lib(m).ones(4), "2.weight": _lib(m).ones(5, 2),
                      "zz": _lib(m).ones(1)})),
    "not_a_mapping": lambda m, model: model.load_state_dict([("0.weight", _lib(m).ones(5, 3))]),
}


@pytest.mark.parametrize("name", list(LOADS))
def test_bad_state_dicts_raise_torchs_error(name: str) -> None:
    em, tm = MODELS["sequential"](nn), MODELS["sequential"](torch.nn)
    same_error(lambda: LOADS[name](nn, em), lambda: LOADS[name](torch.nn, tm))


def test_a_failed_load_changes_nothing() -> None:
    em = MODELS["sequential"](nn)
    before = {k: v.numpy().copy() for k, v in em.state_dict().items()}
    with pytest.raises(RuntimeError):
        em.load_state_dict(_altered({k: engine.zeros(*v.shape) for k, v in
                                     em.state_dict().items()}, add={"2.bias": engine.ones(7)}))
    for k, v in em.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


@pytest.mark.parametrize(("drop", "add"), [
    (("0.bias",), {}), ((), {"x.y": 1.0}), (("2.weight", "2.bias"), {"2.w": 0.0, "9": 0.0}),
    ((), {})])
def test_non_strict_loads_report_torchs_incompatible_keys(drop: tuple, add: dict) -> None:
    em, tm = MODELS["sequential"](nn), MODELS["sequential"](torch.nn)
    weights = _torch_state_as_numpy(tm)
    er = em.load_state_dict(_altered({k: engine.tensor(v) for k, v in weights.items()}, drop,
                                     {k: engine.tensor([v]) for k, v in add.items()}),
                            strict=False)
    tr = tm.load_state_dict(_altered(tm.state_dict(), drop,
                                     {k: torch.tensor([v]) for k, v in add.items()}),
                            strict=False)
    assert repr(er) == repr(tr)
    assert er.missing_keys == tr.missing_keys and er.unexpected_keys == tr.unexpected_keys
    assert type(er).__name__ == type(tr).__name__ == "_IncompatibleKeys"
    assert er._fields == tr._fields
    for k, v in em.state_dict().items():  # the keys present were loaded all the same
        if k not in drop:
            np.testing.assert_array_equal(v.numpy(), weights[k])


def test_loading_converts_the_dtype_into_the_models() -> None:
    em = nn.Linear(2, 2)
    em.load_state_dict({"weight": np.full((2, 2), 0.1), "bias": engine.ones(2).double()})
    assert em.weight.dtype == engine.float32 and em.bias.dtype == engine.float32
    np.testing.assert_array_equal(em.weight.detach().numpy(), np.full((2, 2), 0.1, np.float32))


def test_assign_takes_the_given_tensors_as_torch_does() -> None:
    em, tm = MODELS["custom"](nn), MODELS["custom"](torch.nn)
    src_t = {k: torch.tensor(v).double() for k, v in _torch_state_as_numpy(tm).items()}
    src_e = {k: engine.tensor(v.numpy()) for k, v in src_t.items()}
    em.blocks[0][0].weight.requires_grad_(False)
    tm.blocks[0][0].weight.requires_grad_(False)
    assert repr(em.load_state_dict(src_e, assign=True)) == \
        repr(tm.load_state_dict(src_t, assign=True))
    for (en, ev), (tn, tv) in zip(em.state_dict(keep_vars=True).items(),
                                  tm.state_dict(keep_vars=True).items()):
        assert en == tn
        assert ev.dtype == engine.float64 and tv.dtype == torch.float64
        assert type(ev).__name__ == type(tv).__name__ and ev.requires_grad == tv.requires_grad
        assert np.shares_memory(ev._data, src_e[en]._data)
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert em.steps is src_e["steps"]

