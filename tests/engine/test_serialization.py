"""engine.save / engine.load: every object a state dict holds comes back exactly (dtype, shape,
bits, requires_grad, Parameter-ness, container types); a loaded state dict reproduces a model
and an optimizer; a foreign, truncated or hostile file raises a clear error naming the file and
changes nothing; a failed save leaves the existing file as it was."""

from __future__ import annotations

import io
import json
import math
import stat
import struct
import zipfile
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine import nn
from engine._base import device

SETTINGS = settings(deadline=None, max_examples=60, derandomize=True)
DTYPES = [engine.float32, engine.float64, engine.int64, engine.bool]


# ----------------------------------------------------------------------------- round trips


@st.composite
def tensors(draw) -> engine.Tensor:
    dtype = draw(st.sampled_from(DTYPES))
    arr = draw(hnp.arrays(dtype.np, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                     max_side=4)))
    t = engine.from_numpy(arr)
    if dtype.is_floating_point and draw(st.booleans()):
        return nn.Parameter(t, requires_grad=draw(st.booleans()))
    if dtype.is_floating_point:
        return t.requires_grad_(draw(st.booleans()))
    return t


KEYS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
LEAVES = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
          | st.text(max_size=8) | tensors())
TREES = st.recursive(
    LEAVES,
    lambda inner: (st.lists(inner, max_size=3) | st.tuples(inner, inner)
                   | st.dictionaries(KEYS, inner, max_size=3)
                   | st.dictionaries(st.text(max_size=4), inner, max_size=3).map(OrderedDict)),
    max_leaves=12)


def same(a: Any, b: Any) -> bool:
    """Equal type and value, to the bit: floats by their bytes (so nan and -0.0 count),
    tensors by dtype, shape, bytes, requires_grad and class."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, engine.Tensor):
        return (a.dtype is b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
                and a.is_leaf and a.detach().numpy().tobytes() == b.detach().numpy().tobytes())
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return (len(a) == len(b) and all(same(ka, kb) and same(a[ka], b[kb])
                                         for ka, kb in zip(a, b)))
    return a == b


def round_trip_buffer(obj: Any) -> Any:
    buf = io.BytesIO()
    engine.save(obj, buf)
    buf.seek(0)
    return engine.load(buf)


@SETTINGS
@given(TREES)
def test_round_trip_through_a_buffer(obj):
    assert same(engine.load(io.BytesIO(_bytes_of(obj))), obj)
    assert same(round_trip_buffer(obj), obj)


def _bytes_of(obj: Any) -> bytes:
    buf = io.BytesIO()
    engine.save(obj, buf)
    return buf.getvalue()


@SETTINGS
@given(TREES)
def test_round_trip_through_a_path(tmp_path_factory, obj):
    path = tmp_path_factory.mktemp("rt") / "obj.pt"
    engine.save(obj, path)
    assert same(engine.load(path), obj)
    assert same(engine.load(str(path)), obj)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_every_dtype_keeps_its_values(dtype):
    values = {"float32": [1.5, -0.0, math.inf, math.nan, 3e38], "float64": [1e-310, -2.5, 1e300],
              "int64": [-2**63, 0, 2**63 - 1], "bool": [True, False, True]}[dtype.name]
    t = engine.from_numpy(np.array(values, dtype=dtype.np))
    back = round_trip_buffer(t)
    assert same(back, t)
    assert np.array_equal(back.numpy(), np.array(values, dtype=dtype.np), equal_nan=True)


def test_floats_keep_every_bit():
    values = [math.nan, -0.0, math.inf, -math.inf, 5e-324, 0.1, 1 / 3]
    back = round_trip_buffer(values)
    assert [struct.pack("<d", v) for v in back] == [struct.pack("<d", v) for v in values]


def test_views_and_strided_tensors_are_saved_as_their_values():
    base = engine.arange(12.0).reshape(3, 4)
    t, row = base.t(), base[1]
    t_back, row_back = round_trip_buffer([t, row])
    assert t_back.tolist() == t.tolist() and row_back.tolist() == [4.0, 5.0, 6.0, 7.0]
    row_back.add_(100.0)  # two views of one tensor come back as independent copies
    assert t_back[1].tolist() == [1.0, 5.0, 9.0]


def test_a_tensor_saved_twice_loads_as_one_object():
    w = engine.ones(2)
    a, b, c = round_trip_buffer([w, {"again": w}, engine.ones(2)])
    assert a is b["again"] and a is not c


def test_loaded_tensors_are_new_writable_leaves():
    x = engine.ones(3, requires_grad=True) * 2  # not a leaf
    y = engine.zeros(2)
    back_x, back_y = round_trip_buffer([x, y])
    assert back_x.is_leaf and back_x.requires_grad and back_x.grad_fn is None
    back_y[0] = 7.0
    assert y.tolist() == [0.0, 0.0]


def test_parameter_keeps_its_class_and_flag():
    p, q = round_trip_buffer([nn.Parameter(engine.ones(2)),
                              nn.Parameter(engine.ones(2), requires_grad=False)])
    assert isinstance(p, nn.Parameter) and p.requires_grad
    assert isinstance(q, nn.Parameter) and not q.requires_grad


# ----------------------------------------------------------------------------- models


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))


def test_load_state_dict_reproduces_the_model(tmp_path):
    model, other = _model(), _model()
    x = engine.randn(5, 4)
    engine.save(model.state_dict(), tmp_path / "model.pt")
    loaded = engine.load(tmp_path / "model.pt")
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(model.state_dict())
    assert other(x).tolist() != model(x).tolist()
    other.load_state_dict(loaded)
    assert other(x).tolist() == model(x).tolist()


@pytest.mark.parametrize("make", [lambda ps: engine.optim.Adam(ps, lr=0.05),
                                  lambda ps: engine.optim.SGD(ps, lr=0.1, momentum=0.9)],
                         ids=["Adam", "SGD"])
def test_optimizer_state_round_trips_and_training_continues_alike(tmp_path, make):
    x, y = engine.randn(6, 4), engine.randn(6, 2)

    def step(model, opt):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()

    model = _model()
    opt = make(model.parameters())
    for _ in range(3):
        step(model, opt)
    engine.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "ck.pt")
    ck = engine.load(tmp_path / "ck.pt")
    assert same(ck["opt"]["param_groups"], opt.state_dict()["param_groups"])
    assert list(ck["opt"]["state"]) == [0, 1, 2, 3]  # int keys stay ints
    twin = _model()
    twin_opt = make(twin.parameters())
    twin.load_state_dict(ck["model"])
    twin_opt.load_state_dict(ck["opt"])
    for _ in range(2):
        step(model, opt)
        step(twin, twin_opt)
    assert twin(x).tolist() == model(x).tolist()


def test_the_file_holds_json_and_raw_arrays_only(tmp_path):
    engine.save({"w": engine.tensor([1.0, 2.0], dtype=engine.float64)}, tmp_path / "f.pt")
    with zipfile.ZipFile(tmp_path / "f.pt") as zf:
        assert zf.namelist() == ["manifest.json", "data/0"]
        manifest = json.loads(zf.read("manifest.json"))
        assert zf.read("data/0") == struct.pack("<2d", 1.0, 2.0)
    assert manifest["arrays"] == [{"file": "data/0", "dtype": "float64", "shape": [2],
                                   "requires_grad": False, "parameter": False}]
    assert manifest["root"] == {"dict": [["w", {"tensor": 0}]]}


def test_load_options():
    t = engine.ones(2)
    data = _bytes_of(t)
    for kwargs in ({"weights_only": False}, {"map_location": "cpu"},
                   {"map_location": device.device("cpu")}):
        assert same(engine.load(io.BytesIO(data), **kwargs), t)
    with pytest.raises(RuntimeError, match="JitGrad runs on the CPU only"):
        engine.load(io.BytesIO(data), map_location="cuda")
    with pytest.raises(TypeError, match="map_location"):
        engine.load(io.BytesIO(data), map_location={"cuda:0": "cpu"})


# ----------------------------------------------------------------------------- save errors


@pytest.mark.parametrize("obj", [{1, 2}, np.zeros(2), object(), [nn.Linear(1, 1)],
                                 {(1, 2): 3}, b"bytes"],
                         ids=["set", "ndarray", "object", "module", "tuple_key", "bytes"])
def test_save_refuses_what_it_cannot_describe(tmp_path, obj):
    with pytest.raises(TypeError, match="engine.save: can't save"):
        engine.save(obj, tmp_path / "x.pt")
    assert not list(tmp_path.iterdir())


def test_save_into_a_missing_directory_says_so_like_torch(tmp_path):
    target = tmp_path / "missing" / "x.pt"
    with pytest.raises(RuntimeError) as ours:
        engine.save(engine.ones(1), target)
    with pytest.raises(RuntimeError) as theirs:
        torch.save(torch.ones(1), target)
    assert str(ours.value) == str(theirs.value)


def test_a_failing_save_leaves_the_existing_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    engine.save({"w": engine.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        engine.save({"w": engine.zeros(3), "bad": {1}}, path)

    def failing_writestr(self, name, data, *args, **kwargs):
        if name.startswith("data/"):
            raise OSError("No space left on device")
        return original(self, name, data, *args, **kwargs)

    original = zipfile.ZipFile.writestr
    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_writestr)
    with pytest.raises(OSError, match="No space left"):
        engine.save({"w": engine.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left
    assert engine.load(path)["w"].tolist() == [1.0, 1.0, 1.0]


def test_save_replaces_a_file_and_keeps_its_mode(tmp_path):
    path = tmp_path / "model.pt"
    engine.save(engine.ones(1), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o600)
    engine.save(engine.zeros(1), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert engine.load(path).tolist() == [0.0]


# ----------------------------------------------------------------------------- hostile files


def _archive(manifest: Any, members: dict[str, bytes] | None = None,
             compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        if manifest is not None:
            text = manifest if isinstance(manifest, (str, bytes)) else json.dumps(manifest)
            zf.writestr("manifest.json", text)
        for name, data in (members or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def _one_array(entry: dict[str, Any], data: bytes, root: Any = None, **manifest: Any) -> bytes:
    full = {"file": "data/0", "dtype": "float32", "shape": [2], "requires_grad": False,
            "parameter": False, **entry}
    body = {"format": "jitgrad.save", "version": 1, "arrays": [full],
            "root": {"tensor": 0} if root is None else root, **manifest}
    return _archive(body, {"data/0": data})


GOOD = struct.pack("<2f", 1.0, 2.0)


def _torch_file(**kwargs: Any) -> bytes:
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf, **kwargs)
    return buf.getvalue()


def _flip_data_byte(blob: bytes) -> bytes:
    at = blob.index(GOOD)
    return blob[:at] + bytes([blob[at] ^ 0xFF]) + blob[at + 1:]


def _nested(depth: int) -> Any:
    node: Any = None
    for _ in range(depth):
        node = {"list": [node]}
    return node


HOSTILE = {
    "random_bytes": (lambda: np.random.default_rng(0).bytes(300), "not a readable zip"),
    "empty": (lambda: b"", "not a readable zip"),
    "truncated": (lambda: _bytes_of({"w": engine.ones(50)})[:200], "not a readable zip"),
    "torch_zip_file": (_torch_file, "torch.save file"),
    "torch_legacy_pickle": (lambda: _torch_file(_use_new_zipfile_serialization=False),
                            "not a readable zip"),
    "zip_without_manifest": (lambda: _archive(None, {"a.txt": b"hi"}), "without manifest.json"),
    "manifest_not_json": (lambda: _archive(b"{not json"), "not valid JSON"),
    "manifest_not_utf8": (lambda: _archive(b"\xff\xfe\x00"), "not valid JSON"),
    "other_format": (lambda: _archive({"format": "numpy", "version": 1}),
                     "does not describe a JitGrad save file"),
    "newer_version": (lambda: _one_array({}, GOOD, version=2), "format version 2"),
    "no_root": (lambda: _archive({"format": "jitgrad.save", "version": 1, "arrays": []}),
                "lacks the arrays list or the root"),
    "path_outside": (lambda: _one_array({"file": "../../etc/passwd"}, GOOD),
                     "names the file '../../etc/passwd'"),
    "absolute_path": (lambda: _one_array({"file": "/etc/passwd"}, GOOD), "arrays live at"),
    "missing_member": (lambda: _one_array({"file": "data/7"}, GOOD),
                       "lists data/7, which the archive does not hold"),
    "huge_shape": (lambda: _one_array({"shape": [10**9, 10**9]}, GOOD),
                   "holds 8 bytes, but float32 of shape (1000000000, 1000000000) needs"),
    "short_data": (lambda: _one_array({"shape": [3]}, GOOD), "holds 8 bytes, but float32"),
    "negative_dim": (lambda: _one_array({"shape": [-2]}, GOOD), "invalid shape [-2]"),
    "float_dim": (lambda: _one_array({"shape": [2.0]}, GOOD), "invalid shape [2.0]"),
    "unknown_dtype": (lambda: _one_array({"dtype": "complex128"}, GOOD),
                      "unknown dtype 'complex128'"),
    "numpy_dtype_name": (lambda: _one_array({"dtype": "<f4"}, GOOD), "unknown dtype '<f4'"),
    "int_requires_grad": (lambda: _one_array({"dtype": "int64", "shape": [1],
                                              "requires_grad": True}, GOOD),
                          "int64 but marked requires_grad"),
    "flag_not_bool": (lambda: _one_array({"parameter": 1}, GOOD), "not true or false"),
    "entry_missing_keys": (lambda: _archive({"format": "jitgrad.save", "version": 1,
                                             "arrays": [{"file": "data/0"}],
                                             "root": {"tensor": 0}}, {"data/0": GOOD}),
                           "lacks file, dtype, shape"),
    "index_out_of_range": (lambda: _one_array({}, GOOD, root={"tensor": 3}),
                           "refers to array 3, but it lists 1 arrays"),
    "unknown_tag": (lambda: _one_array({}, GOOD, root={"pickle": "cos\nsystem"}),
                    "unknown entry type 'pickle'"),
    "two_tags": (lambda: _one_array({}, GOOD, root={"list": [], "tuple": []}),
                 "an entry that is not a value"),
    "bad_float": (lambda: _one_array({}, GOOD, root={"float": "1e400"}),
                  "float that is not 16 hex digits: '1e400'"),
    "list_key": (lambda: _one_array({}, GOOD, root={"dict": [[{"list": []}, 1]]}),
                 "dict key in the manifest is a list"),
    "bad_pairs": (lambda: _one_array({}, GOOD, root={"dict": [[1, 2, 3]]}),
                  "not a list of [key, value] pairs"),
    "bool_bytes": (lambda: _one_array({"dtype": "bool", "shape": [2]}, b"\x01\x07"),
                   "bytes other than 0 and 1"),
    "compressed": (lambda: _archive({"format": "jitgrad.save", "version": 1, "arrays": [
        {"file": "data/0", "dtype": "float32", "shape": [2], "requires_grad": False,
         "parameter": False}], "root": {"tensor": 0}}, {"data/0": GOOD}, zipfile.ZIP_DEFLATED),
                   "data/0 is compressed"),
    "corrupted_data": (lambda: _flip_data_byte(_one_array({}, GOOD)), "Bad CRC-32"),
    "deep_nesting": (lambda: _one_array({}, GOOD, root=_nested(300)), "nested more than 200"),
    "very_deep_json": (lambda: _archive('{"root": ' + "[" * 100_000 + "]" * 100_000 + "}"),
                       "not valid JSON"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_file_gives_a_clear_error_and_changes_nothing(tmp_path, kind):
    make, why = HOSTILE[kind]
    blob = make()
    path = tmp_path / "suspect.pt"
    path.write_bytes(blob)
    with pytest.raises(RuntimeError) as info:
        engine.load(path)
    message = str(info.value)
    assert message.startswith(f"engine.load: {str(path)!r} is not a valid JitGrad save file: ")
    assert why in message
    assert path.read_bytes() == blob
    assert [p.name for p in tmp_path.iterdir()] == ["suspect.pt"]


def test_hostile_buffer_is_named_by_its_type():
    with pytest.raises(RuntimeError, match=r"^engine.load: <BytesIO> is not a valid JitGrad "):
        engine.load(io.BytesIO(b"junk"))


def test_a_missing_file_raises_like_torch(tmp_path):
    with pytest.raises(FileNotFoundError):
        torch.load(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError):
        engine.load(tmp_path / "nope.pt")

