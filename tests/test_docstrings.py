"""Every public function and class of the engine has a docstring with an example, and the
examples are true: each docstring runs as a doctest in a fresh namespace."""

from __future__ import annotations

import doctest
import inspect
import types
import warnings

import numpy as np
import pytest

import engine
import engine.autograd.functional
import engine.nn.functional
import engine.nn.init
import engine.optim.lr_scheduler
import engine.utils.data

# Modules whose public names are read from ``__all__``, and those read from their namespace
# (every public name defined in the engine).
_BY_ALL = (engine, engine.nn, engine.autograd, engine.utils.data)
_BY_NAMESPACE = (engine.nn.functional, engine.nn.init, engine.optim, engine.optim.lr_scheduler,
                 engine.autograd.functional)
# Classes whose public methods and properties are part of the surface.
_CLASSES = {"engine.Tensor": engine.Tensor, "engine.nn.Module": engine.nn.Module,
            "engine.optim.Optimizer": engine.optim.Optimizer}


def _module_names(mod: types.ModuleType) -> list[tuple[str, object]]:
    if mod in _BY_ALL:
        pairs = [(n, getattr(mod, n)) for n in mod.__all__]
    else:
        pairs = [(n, v) for n, v in vars(mod).items()
                 if not n.startswith("_")
                 and (getattr(v, "__module__", None) or "").startswith("engine")]
    return [(f"{mod.__name__}.{n}", v) for n, v in pairs
            if callable(v) and not isinstance(v, types.ModuleType)]


def _class_members(prefix: str, cls: type) -> list[tuple[str, object]]:
    out = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        raw = next(vars(k)[name] for k in cls.__mro__ if name in vars(k))
        if isinstance(raw, (staticmethod, classmethod)):
            raw = raw.__func__
        elif isinstance(raw, property):
            raw = raw.fget
        out.append((f"{prefix}.{name}", raw))
    return out


def _surface() -> dict[int, tuple[str, object]]:
    """One entry per distinct object (an op bound as ``engine.x`` and ``Tensor.x`` is one
    function with one docstring), named by its first public name."""
    pairs = [p for m in _BY_ALL + _BY_NAMESPACE for p in _module_names(m)]
    pairs += [p for c in _CLASSES.items() for p in _class_members(*c)]
    found: dict[int, tuple[str, object]] = {}
    for name, obj in pairs:
        found.setdefault(id(obj), (name, obj))
    return found


SURFACE = sorted(_surface().values(), key=lambda p: p[0])
MODULES = sorted((m for m in {*_BY_ALL, *_BY_NAMESPACE} if ">>>" in (m.__doc__ or "")),
                 key=lambda m: m.__name__)


def test_surface_is_found():
    names = {n for n, _ in SURFACE}
    assert len(SURFACE) > 150
    assert {"engine.zeros_like", "engine.Tensor.grad", "engine.Tensor.T", "engine.nn.Linear",
            "engine.nn.Module.parameters", "engine.optim.Optimizer.step",
            "engine.autograd.functional.jacobian"} <= names


def test_every_public_callable_has_a_docstring_with_an_example():
    missing = [n for n, o in SURFACE if not inspect.getdoc(o)]
    no_example = [n for n, o in SURFACE if inspect.getdoc(o) and ">>>" not in o.__doc__]
    skipped = [n for n, o in SURFACE if "+SKIP" in (o.__doc__ or "")]
    assert not missing, f"no docstring: {missing}"
    assert not no_example, f"no '>>>' example: {no_example}"
    assert not skipped, f"examples must run, not be skipped: {skipped}"


def _run(name: str, doc: str) -> doctest.TestResults:
    globs = {"engine": engine, "torch": engine, "nn": engine.nn, "F": engine.nn.functional,
             "np": np}
    test = doctest.DocTestParser().get_doctest(inspect.cleandoc(doc), globs, name, None, 0)
    report: list[str] = []
    runner = doctest.DocTestRunner(verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)
    return result


@pytest.mark.parametrize(("name", "obj"), SURFACE, ids=[n for n, _ in SURFACE])
def test_docstring_examples_run(name, obj):
    assert _run(name, obj.__doc__ or "").attempted > 0


@pytest.mark.parametrize("mod", MODULES, ids=[m.__name__ for m in MODULES])
def test_module_docstring_examples_run(mod):
    _run(mod.__name__, mod.__doc__ or "")
