"""ModuleList, ModuleDict, ParameterList and ParameterDict against torch's: reprs,
registration order of parameters, state_dict keys, list and dict operations, errors."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import nn
from tests.engine._support.autograd_helpers import same_error


def both(build: Callable[[Any], Any]) -> tuple[Any, Any]:
    return build(nn), build(torch.nn)


def _lib(m: Any) -> Any:
    return engine if m is nn else torch


def _names(module: Any) -> tuple[list, list, list]:
    return ([n for n, _ in module.named_parameters()], list(module.state_dict()),
            [n for n, _ in module.named_modules()])


STRUCTURES: dict[str, Callable[[Any], Any]] = {
    "list": lambda m: m.ModuleList([m.Linear(2, 3), m.ReLU(), m.Linear(3, 1)]),
    "list_runs": lambda m: m.ModuleList([m.Linear(2, 2), m.Linear(2, 2), m.ReLU(),
                                         m.Linear(2, 3), m.Linear(2, 3), m.Linear(2, 3),
                                         m.Tanh()]),
    "list_of_sequentials": lambda m: m.ModuleList([m.Sequential(m.Linear(1, 1), m.ReLU())
                                                   for _ in range(2)]),
    "empty_list": lambda m: m.ModuleList(),
    "dict": lambda m: m.ModuleDict({"enc": m.Linear(4, 3), "act": m.GELU(),
                                    "dec": m.Linear(3, 4, bias=False)}),
    "dict_from_pairs": lambda m: m.ModuleDict([("z", m.Linear(1, 2)), ("a", m.Linear(2, 1))]),
    "empty_dict": lambda m: m.ModuleDict(),
    "nested": lambda m: m.Sequential(
        m.ModuleList([m.Linear(2, 4), m.ModuleDict({"k": m.Linear(4, 4), "q": m.SiLU()})]),
        m.ModuleDict({"head": m.Sequential(m.Linear(4, 2), m.LogSoftmax(dim=1)),
                      "aux": m.ModuleList([m.ELU(), m.Softplus(beta=2.0)])})),
    "parameter_list": lambda m: m.ParameterList([m.Parameter(_lib(m).zeros(2, 3)),
                                                 _lib(m).ones(4), _lib(m).zeros(())]),
    "parameter_dict": lambda m: m.ParameterDict({"w": _lib(m).zeros(2, 3),
                                                 "b": m.Parameter(_lib(m).ones(3))}),
    "parameter_dict_ordered": lambda m: m.ParameterDict(
        OrderedDict([("w", _lib(m).zeros(2)), ("b", _lib(m).ones(3, dtype=_lib(m).float64))])),
    "empty_parameter_list": lambda m: m.ParameterList(),
    "model_with_containers": lambda m: _Model(m),
}


def _Model(m: Any) -> Any:  # noqa: N802 - builds a class per library, like a torch model
    class Model(m.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = m.ModuleList([m.Linear(3, 3) for _ in range(2)])
            self.scales = m.ParameterList([m.Parameter(_lib(m).ones(3)) for _ in range(2)])
            self.heads = m.ModuleDict({"b": m.Linear(3, 1), "a": m.Linear(3, 2)})
            self.extra = m.ParameterDict({"bias": m.Parameter(_lib(m).zeros(1))})

    return Model()


@pytest.mark.parametrize("name", list(STRUCTURES))
def test_repr_names_and_state_dict_keys_match_torch(name: str) -> None:
    em, tm = both(STRUCTURES[name])
    assert repr(em) == repr(tm).replace("torch.", "engine.")
    assert _names(em) == _names(tm)
    for (_, ep), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
        assert tuple(ep.shape) == tuple(tp.shape) and ep.requires_grad == tp.requires_grad
        assert type(ep).__name__ == type(tp).__name__ == "Parameter"


def test_module_list_indexing_slicing_and_iteration() -> None:
    em, tm = both(STRUCTURES["list"])
    for i in (0, 1, 2, -1, -3):
        assert repr(em[i]) == repr(tm[i])
    for s in (slice(1, None), slice(None, None, -1), slice(0, 3, 2), slice(5, 9)):
        part = em[s]
        assert type(part) is nn.ModuleList
        assert repr(part) == repr(tm[s])
    assert em[1:][0] is em[1]  # a slice holds the same modules
    assert len(em) == len(tm) == 3
    assert [repr(m) for m in em] == [repr(m) for m in tm]
    for i in (3, -4):
        same_error(lambda: em[i], lambda: tm[i])  # noqa: B023 - called at once


LIST_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "append": lambda m, ml: ml.append(m.Tanh()),
    "extend": lambda m, ml: ml.extend([m.Sigmoid(), m.ELU(alpha=0.5)]),
    "iadd": lambda m, ml: ml.__iadd__([m.Softplus()]),
    "insert_front": lambda m, ml: ml.insert(0, m.SiLU()),
    "insert_middle": lambda m, ml: ml.insert(1, m.Linear(1, 1)),
    "insert_end": lambda m, ml: ml.insert(len(ml), m.GELU()),
    "setitem": lambda m, ml: ml.__setitem__(0, m.LeakyReLU(0.3)),
    "setitem_negative": lambda m, ml: ml.__setitem__(-1, m.Identity()),
    "delitem": lambda m, ml: ml.__delitem__(0),
    "delitem_negative": lambda m, ml: ml.__delitem__(-1),
    "delitem_slice": lambda m, ml: ml.__delitem__(slice(0, 2)),
    "pop": lambda m, ml: ml.pop(1),
}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(list(LIST_OPS)), max_size=8))
def test_module_list_operations_follow_torch(ops: list[str]) -> None:
    em, tm = both(lambda m: m.ModuleList([m.ReLU(), m.Linear(2, 2), m.Tanh()]))
    for op in ops:
        if op in ("setitem", "setitem_negative", "delitem", "delitem_negative", "pop") \
                and len(tm) < 2:
            continue
        if op == "insert_middle" and not tm:  # torch files it under "1" in an empty list
            continue
        er, tr = LIST_OPS[op](nn, em), LIST_OPS[op](torch.nn, tm)
        assert (er is em) == (tr is tm)
        assert repr(em) == repr(tm)
        assert _names(em) == _names(tm)


def test_module_list_add_returns_a_new_list() -> None:
    em, tm = both(lambda m: m.ModuleList([m.ReLU()]))
    er = em + nn.ModuleList([nn.Tanh()])
    tr = tm + torch.nn.ModuleList([torch.nn.Tanh()])
    assert repr(er) == repr(tr) and len(em) == 1 and er[0] is em[0]


def test_module_list_is_not_callable_like_torchs() -> None:
    same_error(lambda: nn.ModuleList()(1), lambda: torch.nn.ModuleList()(1))


def test_module_dict_operations_follow_torch() -> None:
    em, tm = both(STRUCTURES["dict"])
    assert list(em) == list(tm) and list(em.keys()) == list(tm.keys())
    assert [(k, repr(v)) for k, v in em.items()] == [(k, repr(v)) for k, v in tm.items()]
    assert [repr(v) for v in em.values()] == [repr(v) for v in tm.values()]
    assert ("act" in em, "nope" in em) == ("act" in tm, "nope" in tm) == (True, False)
    assert repr(em.pop("act")) == repr(tm.pop("act"))
    em["new"], tm["new"] = nn.Tanh(), torch.nn.Tanh()
    em.update([("x", nn.ReLU()), ("enc", nn.Identity())])
    tm.update([("x", torch.nn.ReLU()), ("enc", torch.nn.Identity())])
    del em["dec"], tm["dec"]
    assert repr(em) == repr(tm) and _names(em) == _names(tm)
    em.update(nn.ModuleDict({"y": nn.SiLU()}))
    tm.update(torch.nn.ModuleDict({"y": torch.nn.SiLU()}))
    assert repr(em) == repr(tm)
    em.clear()
    tm.clear()
    assert len(em) == len(tm) == 0 and repr(em) == repr(tm)
    same_error(lambda: em["missing"], lambda: tm["missing"])


CONTAINER_ERRORS: dict[str, Callable[[Any], Any]] = {
    "list_not_module": lambda m: m.ModuleList([3]),
    "list_append_object": lambda m: m.ModuleList().append(object()),
    "list_extend_not_iterable": lambda m: m.ModuleList().extend(3),
    "list_iadd_not_iterable": lambda m: m.ModuleList().__iadd__(2.5),
    "list_setitem_out_of_range": lambda m: m.ModuleList([m.ReLU()]).__setitem__(1, m.ReLU()),
    "list_delitem_out_of_range": lambda m: m.ModuleList([m.ReLU()]).__delitem__(-2),
    "dict_dot_name": lambda m: m.ModuleDict({"a.b": m.ReLU()}),
    "dict_empty_name": lambda m: m.ModuleDict({"": m.ReLU()}),
    "dict_int_name": lambda m: m.ModuleDict({1: m.ReLU()}),
    "dict_not_module": lambda m: m.ModuleDict({"x": 3}),
    "dict_update_not_iterable": lambda m: m.ModuleDict().update(3),
    "dict_update_element_not_iterable": lambda m: m.ModuleDict().update([3]),
    "dict_update_element_length": lambda m: m.ModuleDict().update([("a", m.ReLU(), 1)]),
    "dict_name_clashes_with_attribute": lambda m: m.ModuleDict({"training": m.ReLU()}),
    "add_module_existing_attribute": lambda m: m.Linear(1, 1).add_module("in_features",
                                                                         m.ReLU()),
    "parameter_list_index": lambda m: m.ParameterList([_lib(m).zeros(1)])[1],
    "parameter_list_extend_tensor": lambda m: m.ParameterList().extend(_lib(m).zeros(2)),
    "parameter_list_extend_number": lambda m: m.ParameterList().extend(3),
    "parameter_dict_missing": lambda m: m.ParameterDict()["zz"],
    "parameter_dict_int_key": lambda m: m.ParameterDict()[3],
    "parameter_dict_update_number": lambda m: m.ParameterDict().update(3),
    "parameter_dict_update_length": lambda m: m.ParameterDict().update([("a",)]),
}


@pytest.mark.parametrize("name", list(CONTAINER_ERRORS))
def test_misuse_raises_torchs_error(name: str) -> None:
    same_error(lambda: CONTAINER_ERRORS[name](nn), lambda: CONTAINER_ERRORS[name](torch.nn))


def test_parameter_list_operations_follow_torch() -> None:
    em, tm = both(STRUCTURES["parameter_list"])
    for m, pl in ((nn, em), (torch.nn, tm)):
        lib = _lib(m)
        assert pl.append(lib.full((2,), 3.0)) is pl
        pl += [lib.zeros(5)]
        pl.extend([m.Parameter(lib.ones(1), requires_grad=False)])
        pl[0] = lib.ones(2, 3)
        assert type(pl[-1]).__name__ == "Parameter" and not pl[-1].requires_grad
    assert repr(em) == repr(tm).replace("torch.", "engine.")
    assert _names(em) == _names(tm)
    assert len(em) == len(tm) == 6
    assert [p.tolist() for p in em] == [p.tolist() for p in tm]
    assert repr(em[1:4]) == repr(tm[1:4]).replace("torch.", "engine.")
    assert em[-1] is list(em.parameters())[-1]
    assert [p.tolist() for p in em.parameters()] == [p.tolist() for p in tm.parameters()]


def test_parameter_list_keeps_the_given_tensor_memory() -> None:
    t = engine.zeros(3)
    pl = nn.ParameterList([t])
    t.add_(1.0)  # a Parameter shares memory with the tensor it wraps, as in torch
    assert pl[0].tolist() == [1.0, 1.0, 1.0]


def test_parameter_list_holds_other_objects_as_torch_does() -> None:
    em, tm = nn.ParameterList([1.5, "x"]), torch.nn.ParameterList([1.5, "x"])
    assert repr(em) == repr(tm) and em[0] == tm[0] == 1.5
    assert list(em.parameters()) == [] == list(tm.parameters())


def test_parameter_dict_operations_follow_torch() -> None:
    em, tm = both(STRUCTURES["parameter_dict"])
    assert list(em) == list(tm) == ["b", "w"]  # a plain dict is taken in sorted key order
    for m, pd in ((nn, em), (torch.nn, tm)):
        lib = _lib(m)
        pd["c"] = lib.ones(2)
        pd.update([("z", lib.zeros(1)), ("a", lib.zeros(2))])
        pd.update(m.ParameterDict(OrderedDict([("q", lib.ones(1)), ("p", lib.ones(2))])))
        pd.update({"y": lib.zeros(3), "x": lib.zeros(4)})
        del pd["w"]
    assert list(em.keys()) == list(tm.keys())
    assert repr(em) == repr(tm).replace("torch.", "engine.")
    assert _names(em) == _names(tm)
    assert [(k, v.tolist()) for k, v in em.items()] == [(k, v.tolist()) for k, v in tm.items()]
    assert [v.shape for v in em.values()] == [tuple(v.shape) for v in tm.values()]
    assert ("c" in em, "w" in em) == ("c" in tm, "w" in tm) == (True, False)
    assert em.pop("c").tolist() == tm.pop("c").tolist() and len(em) == len(tm)
    assert type(em["z"]).__name__ == "Parameter" and em["z"].requires_grad


def test_containers_train_and_convert_their_children() -> None:
    em = STRUCTURES["model_with_containers"](nn)
    em.eval()
    assert not any(m.training for m in em.modules())
    em.double()
    assert {p.dtype for p in em.parameters()} == {engine.float64}
    x = engine.tensor(np.ones((2, 3)))
    out = em.heads["a"](em.blocks[1](em.blocks[0](x)) * em.scales[0]) + em.extra["bias"]
    out.sum().backward()
    assert all(p.grad is not None for n, p in em.named_parameters()
               if not n.startswith(("heads.b", "scales.1")))
