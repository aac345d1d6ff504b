"""Every public function takes torch's parameter names.

torch's builtins have no ``inspect.signature``; their docstrings open with the signature
line(s), e.g. ``matmul(input, other, *, out=None) -> Tensor``. For every callable in
``engine.__all__`` the names on those lines must be parameters of the engine's function,
save the few listed below with the reason.
"""

import inspect
import re

import numpy as np
import pytest
import torch

import engine

# Options for memory layouts, pinned memory and generators, which the engine does not have.
NOT_APPLICABLE = {"layout", "pin_memory", "memory_format", "generator"}
# torch's save/load options for its pickles: the engine's format never pickles, so each is
# taken by name and refused when given (test_save_and_load_refuse_the_pickle_options);
# _use_new_zipfile_serialization is taken and ignored (the file is always a zip).
NEVER_PICKLED = {"save": {"pickle_module", "pickle_protocol"},
                 "load": {"pickle_module", "mmap", "pickle_load_args"}}
# torch documents these without a signature line of their own name.
# (The random stream's seed, initial_seed, get_rng_state and set_rng_state, and the
# default-device pair, are Python functions whose docstrings describe them in prose.)
UNDOCUMENTED = {"relu", "expand", "split", "norm", "manual_seed", "log_softmax", "seed",
                "initial_seed", "get_rng_state", "set_rng_state", "get_default_device",
                "set_default_device"}


def _torch_lines(name):
    doc = getattr(getattr(torch, name, None), "__doc__", None) or ""
    return [line.strip() for line in doc.splitlines() if line.strip().startswith(name + "(")]


def _names(line):
    """The parameter names of a signature line; None for a line that is not one (an
    example's output such as ``tensor([0, 1])``)."""
    depth, end = 0, None
    for i, ch in enumerate(line):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
        if depth == 0 and ch == ")":
            end = i
            break
    inner = line[line.index("(") + 1:end]
    while "[" in inner:  # type annotations: Optional[Union[int, List[int]]]
        inner, n = re.subn(r"\[[^\[\]]*\]", "", inner)
        if not n:
            return None
    found = []
    for part in inner.split(","):
        part = part.strip().replace("\\", "").lstrip("*").split("=")[0].split(":")[0].strip()
        if not re.fullmatch(r"[A-Za-z_]\w*|", part):
            return None
        found += [part] if part else []
    return found


def _signatures(name):
    return [n for line in _torch_lines(name) if (n := _names(line)) is not None]


def _functions():
    for name in engine.__all__:
        obj = getattr(engine, name)
        if inspect.isfunction(obj) or inspect.isbuiltin(obj) or (
                callable(obj) and hasattr(obj, "__wrapped__")):
            yield name


def _accepted(fn):
    """Every parameter name, a ``**kwargs``'s too (torch's lines name theirs)."""
    return {p.name for p in inspect.signature(fn).parameters.values()
            if p.kind is not p.POSITIONAL_ONLY}


def _missing(name):
    want = {n for names in _signatures(name) for n in names} - NOT_APPLICABLE
    return want - _accepted(getattr(engine, name))


FUNCTIONS = sorted(_functions())


def test_every_public_function_is_checked_or_has_no_torch_signature_line():
    assert {n for n in FUNCTIONS if not _signatures(n)} == UNDOCUMENTED
    assert len(FUNCTIONS) > 70


@pytest.mark.parametrize("name", FUNCTIONS)
def test_the_engine_takes_torchs_parameter_names(name):
    assert _missing(name) == set()


def test_save_and_load_refuse_the_pickle_options(tmp_path):
    for name, options in NEVER_PICKLED.items():
        assert options <= {n for names in _signatures(name) for n in names}  # still torch's
    path = tmp_path / "t.jg"
    engine.save(engine.ones(2), path, _use_new_zipfile_serialization=False)  # ignored
    assert engine.load(path).tolist() == [1.0, 1.0]
    never = "cannot be used: JitGrad's format never pickles"
    for kwargs in ({"pickle_module": object()}, {"pickle_protocol": 4}):
        with pytest.raises(TypeError, match=f"engine.save: {next(iter(kwargs))} {never}"):
            engine.save(engine.ones(2), path, **kwargs)
    for kwargs in ({"pickle_module": object()}, {"mmap": True}, {"encoding": "latin1"}):
        with pytest.raises(TypeError, match=f"engine.load: {next(iter(kwargs))} {never}"):
            engine.load(path, **kwargs)
    # torch's positional order: f, map_location, pickle_module
    assert engine.load(path, "cpu").tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match=f"engine.load: pickle_module {never}"):
        engine.load(path, None, object())


@pytest.mark.parametrize(("call", "expect"), [
    (lambda lib, x: lib.matmul(input=x, other=x.t()), [[14.0]]),
    (lambda lib, x: lib.sum(input=x, dim=1, keepdim=True, dtype=lib.float64), [[6.0]]),
    (lambda lib, x: lib.cat(tensors=[x, x], dim=1), [[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]]),
    (lambda lib, x: lib.clamp(input=x, min=1.5, max=2.5), [[1.5, 2.0, 2.5]]),
    (lambda lib, x: lib.add(input=x, other=x, alpha=2), [[3.0, 6.0, 9.0]]),
    (lambda lib, x: lib.pow(input=x, exponent=2), [[1.0, 4.0, 9.0]]),
    (lambda lib, x: lib.mm(input=x, mat2=x.t()), [[14.0]]),
    (lambda lib, x: lib.transpose(input=x, dim0=0, dim1=1), [[1.0], [2.0], [3.0]]),
    (lambda lib, x: lib.softmax(input=x, dim=1).sum(dim=1), [1.0]),
    (lambda lib, x: lib.where(condition=x > 1.5, input=x, other=lib.zeros_like(input=x)),
     [[0.0, 2.0, 3.0]]),
    (lambda lib, x: lib.full_like(input=x, fill_value=7).sum(), 21.0),
    (lambda lib, x: lib.split(tensor=x, split_size_or_sections=2, dim=1)[1], [[3.0]]),
    (lambda lib, x: x.lt(other=2.5).float(), [[1.0, 1.0, 0.0]]),
    (lambda lib, x: x.add(other=x, alpha=2), [[3.0, 6.0, 9.0]]),
    (lambda lib, x: x.div(other=2, rounding_mode="floor"), [[0.0, 1.0, 1.0]]),
])
def test_keyword_calls_with_torchs_names(call, expect):
    for lib in (engine, torch):
        got = call(lib, lib.tensor([[1.0, 2.0, 3.0]]))
        np.testing.assert_allclose(got.tolist(), expect, rtol=1e-6)
