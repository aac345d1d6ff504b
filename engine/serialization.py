"""``engine.save`` and ``engine.load``: tensors, parameters and state dicts in a safe file.

A save file is a zip archive, written uncompressed, holding

- ``manifest.json``: ``{"format": "jitgrad.save", "version": 1, "arrays": [...], "root": ...}``.
  Each array entry gives ``file``, ``dtype``, ``shape``, ``requires_grad`` and ``parameter``;
  ``root`` describes the saved object: JSON strings, ints, booleans and ``null`` stand for
  themselves, and tagged objects for the rest: ``{"float": "3ff8000000000000"}`` (the IEEE
  bits in hex, so every float comes back bit for bit, nan payloads included),
  ``{"tensor": 0}`` (an index into ``arrays``), ``{"list": [...]}``, ``{"tuple": [...]}``,
  and ``{"dict": [[key, value], ...]}`` / ``{"ordered_dict": ...}`` (keys keep their type: a
  string, number, bool or None).
- ``data/0``, ``data/1``, ...: each array's elements, C order, little-endian.

Nothing in the file is ever executed: loading parses JSON and copies bytes, and checks each
entry before it uses it, so a foreign, truncated or hostile file raises a ``RuntimeError``
that names the file and what is wrong with it.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any, Union

import numpy as np

from engine._base import device, dtypes
from engine.nn.parameter import Parameter
from engine.ops.creation import from_numpy
from engine.tensor import Tensor

FileLike = Union[str, os.PathLike, IO[bytes]]

_FORMAT, _VERSION, _MANIFEST = "jitgrad.save", 1, "manifest.json"
_DTYPES = {d.name: d for d in (dtypes.float32, dtypes.float64, dtypes.int64, dtypes.bool_)}
_ARRAY_FILE = re.compile(r"data/(0|[1-9][0-9]*)")
_FLOAT_BITS = re.compile(r"[0-9a-f]{16}")
_MAX_DIMS = 64  # a bound for hostile manifests; no real tensor comes near it
_MAX_DEPTH = 200  # nesting deeper than this is not a state dict


class _UnsaveableError(TypeError):
    pass


# ----------------------------------------------------------------------------- save


class _Encoder:
    """Turns an object into the manifest's ``root`` and a list of arrays; one entry per
    distinct tensor object, so a tensor saved twice loads as one object."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self.entries: list[dict[str, Any]] = []
        self._index: dict[int, int] = {}

    def value(self, obj: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise _UnsaveableError(f"the object is nested more than {_MAX_DEPTH} levels deep")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return {"float": struct.pack(">d", obj).hex()}
        if isinstance(obj, Tensor):
            return {"tensor": self._tensor(obj)}
        if type(obj) in (list, tuple):  # not subclasses (engine.Size, named tuples)
            return {type(obj).__name__: [self.value(v, depth + 1) for v in obj]}
        if isinstance(obj, dict):
            tag = "ordered_dict" if isinstance(obj, OrderedDict) else "dict"
            return {tag: [[self._key(k), self.value(v, depth + 1)] for k, v in obj.items()]}
        raise _UnsaveableError(f"can't save an object of type {type(obj).__name__} "
                               f"(engine.save takes tensors, numbers, strings, None and "
                               f"lists, tuples and dicts of them)")

    def _key(self, key: Any) -> Any:
        if key is not None and not isinstance(key, (bool, int, float, str)):
            raise _UnsaveableError(f"can't save a dict key of type {type(key).__name__} "
                                   f"(keys must be strings, numbers, bools or None)")
        return self.value(key)

    def _tensor(self, t: Tensor) -> int:
        if id(t) not in self._index:
            self._index[id(t)] = len(self.entries)
            arr = t._data
            self.arrays.append(arr)
            self.entries.append({
                "file": f"data/{len(self.entries)}", "dtype": dtypes.from_np(arr.dtype).name,
                "shape": list(arr.shape), "requires_grad": bool(t.requires_grad),
                "parameter": isinstance(t, Parameter)})
        return self._index[id(t)]


def _write(encoder: _Encoder, root: Any, out: IO[bytes]) -> None:
    manifest = {"format": _FORMAT, "version": _VERSION, "arrays": encoder.entries,
                "root": root}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_MANIFEST, json.dumps(manifest, allow_nan=False))
        for entry, arr in zip(encoder.entries, encoder.arrays):
            little = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
            zf.writestr(entry["file"], little.tobytes())


def _never_pickled(fn: str, options: dict[str, Any]) -> None:
    """Refuse torch's pickle options that were given a value (not None), naming them."""
    given = [k for k, v in options.items() if v is not None]
    if given:
        raise TypeError(f"engine.{fn}: {', '.join(sorted(given))} cannot be used: JitGrad's "
                        f"format never pickles (a zip of a JSON manifest and raw arrays)")


def save(obj: Any, f: FileLike, pickle_module: Any = None, pickle_protocol: int | None = None,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Write ``obj`` (a tensor, a Parameter, a module's or an optimizer's state dict, or
    nested lists, tuples, dicts and OrderedDicts of tensors, numbers, strings, bools and
    None) to ``f``, a path or a binary file object.

    The format is a zip archive with a JSON manifest and raw arrays; nothing is pickled, so
    ``pickle_module`` and ``pickle_protocol`` (torch's) are refused with a ``TypeError`` if
    given, and ``_use_new_zipfile_serialization`` is ignored (the file is always a zip).
    dtype, shape, ``requires_grad`` and Parameter-ness come back on ``load``; gradients and
    graphs are not saved. A tensor that appears twice is saved once and loads as one object,
    but two views of one tensor are saved as two independent copies. A path is written
    atomically: the file is written beside it and then moved into place, so a failed save
    leaves any existing file as it was.

    >>> import io; buf = io.BytesIO(); engine.save({"w": engine.ones(2), "step": 3}, buf)
    >>> _ = buf.seek(0); engine.load(buf)
    {'w': tensor([1., 1.]), 'step': 3}
    """
    _never_pickled("save", {"pickle_module": pickle_module, "pickle_protocol": pickle_protocol})
    encoder = _Encoder()
    try:
        root = encoder.value(obj)
    except _UnsaveableError as exc:
        raise TypeError(f"engine.save: {exc}") from None
    if not isinstance(f, (str, os.PathLike)):
        _write(encoder, root, f)
        return
    path = Path(f)
    if not path.parent.is_dir():
        raise RuntimeError(f"Parent directory {path.parent} does not exist.")  # torch's text
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            _write(encoder, root, out)
            out.flush()
            os.fsync(out.fileno())
        # mkstemp makes the file private; keep the mode of the file it replaces, or the
        # usual one for a new file.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------- load


class _BadFileError(Exception):
    pass


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise _BadFileError(what)


class _Decoder:
    """Rebuilds the saved object from a checked manifest; each array is read (and checked
    against its declared size) the first time the structure refers to it."""

    def __init__(self, zf: zipfile.ZipFile, entries: list[Any]) -> None:
        self.zf = zf
        self.entries = entries
        self.tensors: dict[int, Tensor] = {}

    def value(self, node: Any, depth: int = 0) -> Any:
        _check(depth <= _MAX_DEPTH, f"the structure is nested more than {_MAX_DEPTH} levels")
        if node is None or isinstance(node, (bool, str, int)):
            return node
        _check(isinstance(node, dict) and len(node) == 1,
               f"the manifest has an entry that is not a value: {_short(node)}")
        (tag, body), = node.items()
        if tag == "float":
            return self._float(body)
        if tag == "tensor":
            _check(type(body) is int and 0 <= body < len(self.entries),
                   f"the manifest refers to array {_short(body)}, but it lists "
                   f"{len(self.entries)} arrays")
            if body not in self.tensors:
                self.tensors[body] = self._tensor(self.entries[body])
            return self.tensors[body]
        if tag in ("list", "tuple"):
            _check(isinstance(body, list), f"a {tag} in the manifest is not a JSON list")
            items = [self.value(v, depth + 1) for v in body]
            return items if tag == "list" else tuple(items)
        if tag in ("dict", "ordered_dict"):
            _check(isinstance(body, list) and all(isinstance(p, list) and len(p) == 2
                                                  for p in body),
                   f"a {tag} in the manifest is not a list of [key, value] pairs")
            out = OrderedDict() if tag == "ordered_dict" else {}
            for key, value in body:
                key = self.value(key, depth + 1)
                _check(key is None or isinstance(key, (bool, int, float, str)),
                       f"a dict key in the manifest is a {type(key).__name__}")
                out[key] = self.value(value, depth + 1)
            return out
        raise _BadFileError(f"the manifest has an unknown entry type {tag!r}")

    @staticmethod
    def _float(body: Any) -> float:
        _check(isinstance(body, str) and _FLOAT_BITS.fullmatch(body) is not None,
               f"the manifest has a float that is not 16 hex digits: {_short(body)}")
        return struct.unpack(">d", bytes.fromhex(body))[0]

    def _tensor(self, entry: Any) -> Tensor:
        _check(isinstance(entry, dict) and {"file", "dtype", "shape", "requires_grad",
                                            "parameter"} <= entry.keys(),
               f"an array entry lacks file, dtype, shape, requires_grad or parameter: "
               f"{_short(entry)}")
        name, dtype_name, shape = entry["file"], entry["dtype"], entry["shape"]
        _check(isinstance(name, str) and _ARRAY_FILE.fullmatch(name) is not None,
               f"an array entry names the file {_short(name)}; arrays live at data/<n>")
        _check(isinstance(dtype_name, str) and dtype_name in _DTYPES,
               f"array {name} has the unknown dtype {_short(dtype_name)} (known: "
               f"{', '.join(_DTYPES)})")
        _check(isinstance(shape, list) and len(shape) <= _MAX_DIMS
               and all(type(n) is int and n >= 0 for n in shape),
               f"array {name} has an invalid shape {_short(shape)}")
        flags = entry["requires_grad"], entry["parameter"]
        _check(all(type(b) is bool for b in flags),
               f"array {name} has requires_grad or parameter that is not true or false")
        dtype = _DTYPES[dtype_name]
        _check(not flags[0] or dtype.is_floating_point,
               f"array {name} is {dtype_name} but marked requires_grad")
        arr = self._read(name, dtype.np, shape)
        if flags[1]:
            return Parameter(from_numpy(arr), requires_grad=flags[0])
        return from_numpy(arr).requires_grad_(flags[0])

    def _read(self, name: str, np_dtype: np.dtype, shape: list[int]) -> np.ndarray:
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise _BadFileError(f"the manifest lists {name}, which the archive does not "
                                f"hold") from None
        nbytes = math.prod(shape) * np_dtype.itemsize
        # Sizes come from the archive's directory: nothing is read or allocated before they
        # agree, so a huge declared shape costs nothing.
        _check(info.file_size == nbytes,
               f"{name} holds {info.file_size} bytes, but {np_dtype.name} of shape "
               f"{tuple(shape)} needs {nbytes}")
        _check(info.compress_type == zipfile.ZIP_STORED,
               f"{name} is compressed; engine.save writes arrays uncompressed")
        raw = self.zf.read(name)
        if np_dtype.kind == "b":
            _check(not np.any(np.frombuffer(raw, np.uint8) > 1),
                   f"{name} is bool but holds bytes other than 0 and 1")
        little = np.frombuffer(raw, dtype=np_dtype.newbyteorder("<"))
        return little.astype(np_dtype).reshape(shape)  # a fresh, writable, native array


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _manifest(zf: zipfile.ZipFile) -> tuple[list[Any], Any]:
    names = zf.namelist()
    if _MANIFEST not in names:
        if any(n.endswith("data.pkl") for n in names):
            raise _BadFileError("it is a torch.save file (a pickle inside a zip); engine.load "
                                "reads only files written by engine.save")
        raise _BadFileError("it is a zip archive without manifest.json, not a file written "
                            "by engine.save")
    _check(names.count(_MANIFEST) == 1, "it holds manifest.json more than once")
    info = zf.getinfo(_MANIFEST)
    _check(info.file_size <= 1 << 30, f"its manifest.json declares {info.file_size} bytes")
    try:
        manifest = json.loads(zf.read(_MANIFEST).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _BadFileError(f"its manifest.json is not valid JSON ({exc})") from None
    _check(isinstance(manifest, dict) and manifest.get("format") == _FORMAT,
           "its manifest.json does not describe a JitGrad save file")
    _check(manifest.get("version") == _VERSION,
           f"it is format version {_short(manifest.get('version'))}; this engine reads "
           f"version {_VERSION}")
    _check(isinstance(manifest.get("arrays"), list) and "root" in manifest,
           "its manifest.json lacks the arrays list or the root")
    return manifest["arrays"], manifest["root"]


def _file_name(f: FileLike) -> str:
    if isinstance(f, (str, os.PathLike)):
        return repr(os.fspath(f))
    name = getattr(f, "name", None)
    return repr(name) if isinstance(name, str) else f"<{type(f).__name__}>"


def load(f: FileLike, map_location: Any = None, pickle_module: Any = None, *,
         weights_only: bool = True, mmap: bool | None = None, **pickle_load_args: Any) -> Any:
    """Read an object written by ``engine.save`` from ``f`` (a path or a binary file object).

    Loading never runs code, whatever ``weights_only`` says (the format holds no code).
    torch's options for its pickles (``pickle_module``, ``mmap``, ``pickle_load_args``) are
    refused with a ``TypeError`` if given: the format never pickles. It
    returns new objects and changes nothing else: use ``model.load_state_dict(...)`` to copy
    the result into a model. ``map_location`` may be None or the CPU. A file that
    ``engine.save`` did not write (a torch ``.pt`` file, a truncated or corrupted file, a
    manifest that points outside the archive or declares sizes the data does not have) raises
    a ``RuntimeError`` naming the file and the problem.

    >>> import io; buf = io.BytesIO()
    >>> engine.save([nn.Parameter(engine.zeros(1)), (2.5, None)], buf)
    >>> _ = buf.seek(0); engine.load(buf)
    [Parameter containing:
    tensor([0.], requires_grad=True), (2.5, None)]
    """
    _never_pickled("load", {"pickle_module": pickle_module, "mmap": mmap, **pickle_load_args})
    if not (map_location is None or isinstance(map_location, (str, device.device))):
        raise TypeError(f"engine.load: map_location must be None, a string or an "
                        f"engine.device, not {type(map_location).__name__}")
    device.check(map_location)
    where = _file_name(f)
    try:
        source = f if isinstance(f, (str, os.PathLike)) else io.BytesIO(f.read())
        with zipfile.ZipFile(source) as zf:
            entries, root = _manifest(zf)
            return _Decoder(zf, entries).value(root)
    except _BadFileError as exc:
        raise RuntimeError(f"engine.load: {where} is not a valid JitGrad save file: "
                           f"{exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise RuntimeError(f"engine.load: {where} is not a valid JitGrad save file: it is "
                           f"not a readable zip archive ({exc})") from None


__all__ = ["load", "save"]
