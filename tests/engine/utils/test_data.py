"""engine.utils.data against torch.utils.data: the same datasets, samplers and loader options
give the same batches (values, dtypes, structure), lengths and errors; a seeded shuffle
visits the samples in torch's order."""

from __future__ import annotations

import collections
import multiprocessing
import warnings
from typing import Any

import numpy as np
import pytest
import torch
import torch.utils.data as tdata
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
import engine.utils.data as edata

SETTINGS = settings(deadline=None, max_examples=40, derandomize=True)


def plain(x: Any) -> Any:
    """A batch as plain Python, the same for the engine's and torch's: tensors become
    (dtype name, values); containers keep their type's name."""
    if isinstance(x, (engine.Tensor, torch.Tensor)):
        return str(x.dtype).split(".")[-1], x.tolist()
    if isinstance(x, dict):
        return type(x).__name__, {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x).__name__, [plain(v) for v in x]
    return x


def both(fn, *args, **kwargs) -> tuple[Any, Any]:
    """``fn`` run with the engine's names and with torch's: (engine result, torch result)."""
    return fn(engine, edata, *args, **kwargs), fn(torch, tdata, *args, **kwargs)


def raised(fn) -> tuple[type, str]:
    with pytest.raises(Exception) as info:
        fn()
    return info.type, str(info.value)


def same_error(fn) -> None:
    assert raised(lambda: fn(engine, edata)) == raised(lambda: fn(torch, tdata))


# ----------------------------------------------------------------------------- datasets


def test_tensor_dataset_rows_and_length():
    e, t = both(lambda lib, d: d.TensorDataset(lib.arange(6.0).reshape(3, 2),
                                               lib.tensor([1, 0, 1])))
    assert len(e) == len(t) == 3
    assert plain(e[1]) == plain(t[1]) == ("tuple", [("float32", [2.0, 3.0]), ("int64", 0)])
    assert plain(e[1:]) == plain(t[1:])


def test_tensor_dataset_size_mismatch():
    same_error(lambda lib, d: d.TensorDataset(lib.zeros(3), lib.zeros(2)))
    assert raised(lambda: edata.TensorDataset(engine.zeros(3), engine.zeros(2))) == (
        AssertionError, "Size mismatch between tensors")


def test_dataset_base_needs_getitem():
    same_error(lambda lib, d: d.Dataset()[0])


def test_subset_picks_indices_in_order():
    e, t = both(lambda lib, d: d.Subset(list("abcdef"), [5, 1, 3]))
    assert len(e) == len(t) == 3
    assert [e[i] for i in range(3)] == [t[i] for i in range(3)] == ["f", "b", "d"]
    assert e.__getitems__([2, 0]) == t.__getitems__([2, 0]) == ["d", "f"]


def test_subset_uses_the_datasets_batched_fetch():
    calls = []

    class Batched(edata.Dataset):
        def __getitem__(self, i):
            return i

        def __getitems__(self, indices):
            calls.append(list(indices))
            return [10 * i for i in indices]

        def __len__(self):
            return 6

    loader = edata.DataLoader(edata.Subset(Batched(), [4, 2, 0]), batch_size=2)
    assert [b.tolist() for b in loader] == [[40, 20], [0]]
    assert calls == [[4, 2], [0]]


@SETTINGS
@given(n=st.integers(0, 40),
       weights=st.lists(st.integers(1, 9), min_size=1, max_size=5))
def test_random_split_fraction_lengths_match_torch(n, weights):
    fractions = [w / sum(weights) for w in weights]
    fractions[-1] = 1 - sum(fractions[:-1])
    with warnings.catch_warnings(record=True) as ew:
        warnings.simplefilter("always")
        e = edata.random_split(range(n), fractions)
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        t = tdata.random_split(range(n), fractions)
    assert [len(s) for s in e] == [len(s) for s in t]
    assert [str(w.message) for w in ew] == [str(w.message) for w in tw]
    assert sorted(i for s in e for i in s) == list(range(n))  # disjoint and complete


def test_random_split_int_lengths_cover_the_dataset():
    parts = edata.random_split(list(range(10)), [3, 7])
    assert [len(p) for p in parts] == [3, 7]
    assert sorted([*parts[0], *parts[1]]) == list(range(10))
    assert all(isinstance(p, edata.Subset) for p in parts)


@pytest.mark.parametrize("lengths", [[3, 3], [0.5, 0.6], [1.2, -0.2], [11]])
def test_random_split_errors(lengths):
    same_error(lambda lib, d: d.random_split(range(5), lengths))


# ----------------------------------------------------------------------------- samplers


def test_sequential_sampler():
    e, t = both(lambda lib, d: d.SequentialSampler(range(4)))
    assert list(e) == list(t) == [0, 1, 2, 3]
    assert len(e) == len(t) == 4


@SETTINGS
@given(n=st.integers(0, 30), batch_size=st.integers(1, 8), drop_last=st.booleans())
def test_batch_sampler_matches_torch(n, batch_size, drop_last):
    e, t = both(lambda lib, d: d.BatchSampler(d.SequentialSampler(range(n)), batch_size,
                                              drop_last))
    assert list(e) == list(t)
    assert len(e) == len(t) == len(list(e))


@pytest.mark.parametrize(("batch_size", "drop_last"), [(0, False), (True, False), (2.0, False),
                                                       (2, 1), (-1, True)])
def test_batch_sampler_errors(batch_size, drop_last):
    same_error(lambda lib, d: d.BatchSampler(range(4), batch_size, drop_last))


@pytest.mark.parametrize("num_samples", [None, 3, 7, 25])
def test_random_sampler_visits_every_index_once_per_pass(num_samples):
    sampler = edata.RandomSampler(range(7), num_samples=num_samples)
    for _ in range(2):
        drawn = list(sampler)
        assert len(drawn) == len(sampler) == (num_samples or 7)
        full, rest = divmod(len(drawn), 7)
        for k in range(full):
            assert sorted(drawn[7 * k:7 * k + 7]) == list(range(7))
        assert len(set(drawn[7 * full:])) == rest  # the last, partial pass repeats nothing


@pytest.mark.parametrize("num_samples", [5, 32, 70])
def test_random_sampler_with_replacement_stays_in_range(num_samples):
    drawn = list(edata.RandomSampler(range(4), replacement=True, num_samples=num_samples))
    assert len(drawn) == num_samples
    assert set(drawn) <= set(range(4))


@pytest.mark.parametrize("kwargs", [{"replacement": 1}, {"num_samples": 0},
                                    {"num_samples": -2}, {"num_samples": 2.0}])
def test_random_sampler_errors(kwargs):
    same_error(lambda lib, d: d.RandomSampler(range(4), **kwargs))


def test_random_sampler_on_an_empty_dataset():
    same_error(lambda lib, d: d.RandomSampler([]))


# ----------------------------------------------------------------------------- collate


def _collate_cases() -> dict[str, list[Any]]:
    point = collections.namedtuple("point", "x y")
    return {
        "ints": [1, 2, 3],
        "floats": [0.5, -1.25],
        "bools": [True, False],
        "mixed_bool_int": [True, 2],
        "strings": ["a", "bc"],
        "bytes": [b"a", b"b"],
        "tensors_f32": [[1.0, 2.0], [3.0, 4.0]],
        "tensors_f64": [np.array([1.0, 2.0]), np.array([3.0, 4.0])],
        "numpy_int64": [np.array([1, 2]), np.array([3, 4])],
        "numpy_bool": [np.array([True]), np.array([False])],
        "numpy_scalars_f32": [np.float32(1.5), np.float32(2.5)],
        "numpy_scalars_i64": [np.int64(1), np.int64(-4)],
        "tuples": [(1, 0.5, "a"), (2, 1.5, "b")],
        "lists": [[1, 2], [3, 4]],
        "dicts": [{"x": 1.0, "y": "u"}, {"x": 2.0, "y": "v"}],
        "ordered": [collections.OrderedDict(a=1, b=2), collections.OrderedDict(a=3, b=4)],
        "namedtuple": [point(1, 2.0), point(3, 4.0)],
        "nested": [{"pair": (np.array([1.0]), [1, {"k": 0.25}])},
                   {"pair": (np.array([2.0]), [2, {"k": 0.75}])}],
    }


def _to_lib(lib, x: Any) -> Any:
    """Each case's tensors: lists of floats named tensors_* become float32 tensors."""
    return lib.tensor(x) if isinstance(x, list) else x


@pytest.mark.parametrize("case", list(_collate_cases()))
def test_default_collate_matches_torch(case):
    batch = _collate_cases()[case]
    if case == "tensors_f32":
        e = edata.default_collate([engine.tensor(x) for x in batch])
        t = tdata.default_collate([torch.tensor(x) for x in batch])
    else:
        e, t = edata.default_collate(batch), tdata.default_collate(batch)
    assert plain(e) == plain(t)


LEAF_KINDS = {
    "int": st.integers(-50, 50), "float": st.floats(-1e6, 1e6), "bool": st.booleans(),
    "str": st.text(max_size=3),
    "f64_array": hnp.arrays(np.float64, 2, elements=st.floats(-10, 10)),
    "i64_array": hnp.arrays(np.int64, (1, 2), elements=st.integers(-9, 9)),
}


def _schemas():
    leaf = st.sampled_from(sorted(LEAF_KINDS))
    return st.recursive(leaf, lambda inner: (
        st.tuples(st.just("tuple"), st.lists(inner, min_size=1, max_size=3))
        | st.tuples(st.just("list"), st.lists(inner, min_size=1, max_size=3))
        | st.tuples(st.just("dict"), st.dictionaries(st.sampled_from("abc"), inner,
                                                     min_size=1))), max_leaves=6)


def _sample(draw, schema):
    if isinstance(schema, str):
        return draw(LEAF_KINDS[schema])
    kind, parts = schema
    if kind == "dict":
        return {k: _sample(draw, v) for k, v in parts.items()}
    items = [_sample(draw, p) for p in parts]
    return tuple(items) if kind == "tuple" else items


@st.composite
def batches(draw):
    schema = draw(_schemas())
    return [_sample(draw, schema) for _ in range(draw(st.integers(1, 4)))]


@SETTINGS
@given(batches())
def test_default_collate_of_nested_samples_matches_torch(batch):
    assert plain(edata.default_collate(batch)) == plain(tdata.default_collate(batch))


def test_default_collate_of_tensors_keeps_the_graph():
    rows = [engine.ones(2, requires_grad=True), engine.zeros(2, requires_grad=True)]
    batch = edata.default_collate(rows)
    batch.sum().backward()
    assert batch.grad_fn.name() == "StackBackward0"
    assert rows[0].grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("dt", ["uint8", "int8", "int16", "int32", "int64", "bool", "float32",
                                "float64"])
def test_default_collate_keeps_numpy_dtypes_as_torch(dt):
    arrays = [np.array([1, 0], dt), np.array([0, 1], dt)]
    scalars = [np.array(1, dt)[()], np.array(0, dt)[()]]
    for batch in (arrays, scalars):
        e, t = edata.default_collate(batch), tdata.default_collate(batch)
        assert e.tolist() == t.tolist() and str(e.dtype) == str(t.dtype).replace("torch", "engine")
    converted = edata.default_convert(arrays[0])
    assert str(converted.dtype) == str(tdata.default_convert(arrays[0]).dtype).replace(
        "torch", "engine")
    arrays[0][0] = 0  # shared with the array, as torch.as_tensor shares it
    assert converted.tolist() == tdata.default_convert(arrays[0]).tolist()


def test_default_collate_of_numpy_types_the_engine_lacks():
    """torch keeps float16 and uint16; the engine, without them, holds float32 and int64."""
    for dt, engine_dt in ((np.float16, engine.float32), (np.uint16, engine.int64)):
        batch = [np.array([1, 2], dt), np.array([3, 4], dt)]
        e, t = edata.default_collate(batch), tdata.default_collate(batch)
        assert e.tolist() == t.tolist() and e.dtype == engine_dt


def test_default_collate_of_floats_is_float64_exactly():
    batch = [1e300, 0.1, 2.0 ** -1074]
    e, t = edata.default_collate(batch), tdata.default_collate(batch)
    assert e.dtype == engine.float64 and e.tolist() == t.tolist() == batch


def test_ragged_tensors_give_torchs_error():
    def collate(lib, d):
        return d.default_collate([lib.zeros(3), lib.zeros(2)])
    same_error(collate)
    assert raised(lambda: collate(engine, edata)) == (
        RuntimeError,
        "stack expects each tensor to be equal size, but got [3] at entry 0 and [2] at entry 1")


def test_ragged_loader_batch_gives_torchs_error():
    class Ragged(edata.Dataset):
        def __getitem__(self, i):
            return engine.zeros(3 - i)

        def __len__(self):
            return 2

    with pytest.raises(RuntimeError, match=r"got \[3\] at entry 0 and \[2\] at entry 1"):
        next(iter(edata.DataLoader(Ragged(), batch_size=2)))


@pytest.mark.parametrize("batch", [[[1, 2], [3]], [object(), object()],
                                   [np.array(["a"]), np.array(["b"])]],
                         ids=["ragged_lists", "objects", "numpy_strings"])
def test_default_collate_errors(batch):
    same_error(lambda lib, d: d.default_collate(batch))


@pytest.mark.parametrize("sample", [np.array([1.0, 2.0], np.float32), np.int64(3), 3, "s",
                                    (np.array([1]), 2.5), {"a": np.array([True])},
                                    np.array(["text"])],
                         ids=["array", "np_scalar", "int", "str", "tuple", "dict", "np_text"])
def test_default_convert_matches_torch(sample):
    assert plain(edata.default_convert(sample)) == plain(tdata.default_convert(sample))


def test_default_convert_shares_memory_with_the_array():
    a = np.zeros(2)
    t = edata.default_convert(a)
    a[0] = 5.0
    assert t.tolist() == [5.0, 0.0]


# ----------------------------------------------------------------------------- DataLoader


def _dataset(lib, d, n: int):
    return d.TensorDataset(lib.arange(2.0 * n).reshape(n, 2), lib.arange(n))


@SETTINGS
@given(n=st.integers(1, 25), batch_size=st.integers(1, 7), drop_last=st.booleans())
def test_loader_batches_and_length_match_torch(n, batch_size, drop_last):
    e, t = both(lambda lib, d: d.DataLoader(_dataset(lib, d, n), batch_size=batch_size,
                                            drop_last=drop_last))
    assert len(e) == len(t)
    assert [plain(b) for b in e] == [plain(b) for b in t]
    assert len(list(e)) == len(e)


def test_loader_without_batching_converts_each_sample():
    data = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    e, t = both(lambda lib, d: d.DataLoader(data, batch_size=None))
    assert len(e) == len(t) == 2
    assert [plain(b) for b in e] == [plain(b) for b in t]


def test_loader_with_a_batch_sampler_and_collate_fn():
    e, t = both(lambda lib, d: d.DataLoader(list(range(10)), batch_sampler=[[0, 9], [3, 4, 5]],
                                            collate_fn=lambda b: sum(b)))
    assert list(e) == list(t) == [9, 12]
    assert len(e) == len(t) == 2


def test_loader_with_a_sampler():
    e, t = both(lambda lib, d: d.DataLoader(list(range(10)), sampler=[9, 1, 4], batch_size=2))
    assert [plain(b) for b in e] == [plain(b) for b in t] == [("int64", [9, 1]),
                                                              ("int64", [4])]


def test_loader_shuffle_covers_each_sample_once_per_epoch():
    loader = edata.DataLoader(_dataset(engine, edata, 13), batch_size=4, shuffle=True)
    assert len(loader) == 4
    for _ in range(3):
        seen = [i for _, ys in loader for i in ys.tolist()]
        assert sorted(seen) == list(range(13))


def test_loader_workers_run_in_process():
    """num_workers > 0 gives the same batches and starts no process."""
    plain_loader = edata.DataLoader(_dataset(engine, edata, 9), batch_size=4)
    workers = edata.DataLoader(_dataset(engine, edata, 9), batch_size=4, num_workers=3,
                               persistent_workers=True, prefetch_factor=4)
    batches = [plain(b) for b in workers]
    assert not multiprocessing.active_children()
    assert batches == [plain(b) for b in plain_loader]
    assert workers.prefetch_factor == 4
    assert edata.DataLoader([1], num_workers=2).prefetch_factor == 2


def test_loader_iterator_has_a_length():
    e, t = both(lambda lib, d: iter(d.DataLoader(list(range(10)), batch_size=3)))
    assert len(e) == len(t) == 4
    assert next(e).tolist() == next(t).tolist() == [0, 1, 2]


@pytest.mark.parametrize("kwargs", [
    {"num_workers": -1}, {"timeout": -1}, {"prefetch_factor": 2},
    {"num_workers": 1, "prefetch_factor": -1}, {"persistent_workers": True},
    {"sampler": [0, 1], "shuffle": True}, {"batch_sampler": [[0]], "batch_size": 2},
    {"batch_sampler": [[0]], "shuffle": True}, {"batch_sampler": [[0]], "drop_last": True},
    {"batch_sampler": [[0]], "sampler": [0]}, {"batch_size": None, "drop_last": True},
    {"batch_size": 0}, {"batch_size": 2, "drop_last": "yes"}])
def test_loader_option_errors(kwargs):
    same_error(lambda lib, d: d.DataLoader(list(range(4)), **kwargs))


# ----------------------------------------------------------------------------- the stream


def _seeded_orders(lib, d, seed: int, use_generator: bool) -> list[list[int]]:
    lib.manual_seed(seed)
    generator = lib.Generator().manual_seed(seed + 1) if use_generator else None
    loader = d.DataLoader(list(range(20)), batch_size=6, shuffle=True, generator=generator)
    orders = []
    for _ in range(3):
        orders.append([i for b in loader for i in b.tolist()])
        lib.randn(3)  # draws between epochs move the global stream for both alike
    return orders


@pytest.mark.parametrize("use_generator", [False, True])
def test_shuffle_order_matches_torch(use_generator):
    e, t = both(_seeded_orders, 7, use_generator)
    assert e == t


@pytest.mark.parametrize("replacement", [False, True])
def test_random_sampler_order_matches_torch(replacement):
    def draws(lib, d):
        lib.manual_seed(3)
        return list(d.RandomSampler(range(9), replacement=replacement, num_samples=40))
    e, t = both(draws)
    assert e == t


@pytest.mark.parametrize("use_generator", [False, True])
def test_random_split_matches_torch(use_generator):
    def split(lib, d):
        lib.manual_seed(11)
        generator = lib.Generator().manual_seed(5) if use_generator else None
        kwargs = {"generator": generator} if use_generator else {}
        parts = d.random_split(range(30), [0.3, 0.3, 0.4], **kwargs)
        return [list(p) for p in parts], lib.randn(2).tolist()
    e, t = both(split)
    assert e[0] == t[0]
    assert e[1] == pytest.approx(t[1])  # the stream moved on alike
