"""Containers: ``Sequential`` (modules applied one after another), ``ModuleList``,
``ModuleDict``, and the parameter containers ``ParameterList`` and ``ParameterDict``.

Each registers what it holds under torch's names (``"0"``, ``"1"``, ... or the keys), so
``parameters()`` order and ``state_dict`` keys are a torch model's.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from engine.nn.modules.module import Module, _addindent
from engine.nn.parameter import Parameter
from engine.tensor import Tensor


class _Keyed:
    """A dict-like container's length, iteration (its keys) and ``in``, over the mapping
    ``_keyed()`` returns."""

    def _keyed(self) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._keyed())

    def __iter__(self) -> Iterator[str]:
        return iter(self._keyed())

    def __contains__(self, key: object) -> bool:
        return key in self._keyed()


class Sequential(Module):
    """Modules applied one after another.

    >>> model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    >>> model[0]
    Linear(in_features=2, out_features=16, bias=True)
    """

    def __init__(self, *args: Module) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, input: Any) -> Any:  # noqa: A002
        for m in self._modules.values():
            input = m(input)
        return input

    def __getitem__(self, idx: int | slice) -> Module:
        mods = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(mods[idx]))
        n = len(mods)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range")
        return mods[idx % n][1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self



def _abs_index(idx: int, n: int) -> str:
    """An index into a list-like container as its key, negative ones counted from the end."""
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range")
    return str(idx % n)


class ModuleList(Module):
    """Modules in a list, each registered (so their parameters are the container's).

    >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    >>> _ = layers.append(nn.ReLU()); [n for n, _ in layers.named_parameters()][:2]
    ['0.weight', '0.bias']
    >>> layers
    ModuleList(
      (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)
      (3): ReLU()
    )
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: int | slice) -> Module | ModuleList:
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[_abs_index(idx, len(self))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(_abs_index(idx, len(self)), module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [_abs_index(idx, len(self))]):
            del self._modules[key]
        kept = list(self._modules.values())  # renumbered from 0, as torch keeps them
        self._modules.clear()
        self._modules.update((str(i), m) for i, m in enumerate(kept))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end.

        >>> nn.ModuleList().append(nn.ReLU())[0]
        ReLU()
        """
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each of ``modules``.

        >>> len(nn.ModuleList([nn.ReLU()]).extend([nn.Tanh(), nn.ReLU()]))
        3
        """
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleList.extend should be called with an iterable, but got "
                            + type(modules).__name__)
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put ``module`` before position ``index``, shifting the later ones up.

        >>> m = nn.ModuleList([nn.ReLU()]); m.insert(0, nn.Tanh()); m[0]
        Tanh()
        """
        for i in range(len(self._modules), index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self.add_module(str(index), module)

    def pop(self, key: int) -> Module:
        """Remove and return the module at ``key``.

        >>> nn.ModuleList([nn.ReLU(), nn.Tanh()]).pop(0)
        ReLU()
        """
        module = self[key]
        del self[key]
        return module

    def __repr__(self) -> str:
        # runs of equal consecutive reprs print once, as "(first-last): count x repr"
        runs: list[list] = []
        for i, m in enumerate(self):
            text = repr(m)
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        if not runs:
            return self._get_name() + "()"
        lines = [_addindent(f"({a}): {text}" if a == b else f"({a}-{b}): {b - a + 1} x {text}",
                            2) for a, b, text in runs]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


def _pairs(items: Any, owner: str) -> Iterator[tuple[Any, Any]]:
    """The (key, value) pairs of a mapping or an iterable of pairs, checked as torch does."""
    if isinstance(items, Mapping):
        yield from items.items()
        return
    for j, pair in enumerate(items):
        if not isinstance(pair, Iterable):
            raise TypeError(f"{owner} update sequence element #{j} should be Iterable; is"
                            + type(pair).__name__)
        if len(pair) != 2:
            raise ValueError(f"{owner} update sequence element #{j} has length {len(pair)}; 2 "
                             "is required")
        yield pair[0], pair[1]


class ModuleDict(_Keyed, Module):
    """Modules by name, each registered, in insertion order.

    >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
    >>> list(heads), heads["box"]
    (['cls', 'box'], Linear(in_features=4, out_features=2, bias=True))
    """

    def _keyed(self) -> Any:
        return self._modules

    def __init__(self, modules: Mapping[str, Module] | Iterable | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]


    def clear(self) -> None:
        """Remove every module.

        >>> d = nn.ModuleDict({"a": nn.ReLU()}); d.clear(); len(d)
        0
        """
        self._modules.clear()

    def pop(self, key: str) -> Module:
        """Remove and return the module named ``key``.

        >>> nn.ModuleDict({"a": nn.ReLU()}).pop("a")
        ReLU()
        """
        module = self[key]
        del self[key]
        return module

    def keys(self) -> Iterable[str]:
        """The names, in order.

        >>> list(nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()}).keys())
        ['b', 'a']
        """
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        """``(name, module)`` pairs, in order.

        >>> list(nn.ModuleDict({"a": nn.ReLU()}).items())
        [('a', ReLU())]
        """
        return self._modules.items()

    def values(self) -> Iterable[Module]:
        """The modules, in order.

        >>> list(nn.ModuleDict({"a": nn.ReLU()}).values())
        [ReLU()]
        """
        return self._modules.values()

    def update(self, modules: Mapping[str, Module] | Iterable) -> None:
        """Add (or replace) modules from a mapping or an iterable of ``(name, module)``.

        >>> d = nn.ModuleDict(); d.update([("b", nn.ReLU()), ("a", nn.Tanh())]); list(d)
        ['b', 'a']
        """
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleDict.update should be called with an iterable of key/value "
                            "pairs, but got " + type(modules).__name__)
        if isinstance(modules, ModuleDict):
            modules = modules.items()
        for key, module in _pairs(modules, "ModuleDict"):
            self[key] = module


_TENSOR_TYPES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                 "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                 "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def _describe(key: Any, value: Any, type_name: bool) -> str:
    """One line of a parameter container's repr, as torch writes it."""
    if not isinstance(value, Tensor):
        return f"  ({key}): Object of type: {type(value).__name__}"
    kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
    dt = value.dtype
    what = f"engine.{_TENSOR_TYPES.get(dt.name, dt.name)}" if type_name else str(dt)
    size = "x".join(str(d) for d in value.shape)
    return f"  ({key}): {kind} containing: [{what} of size {size}]"


def _as_parameter(value: Any) -> Any:
    """Tensors go in as parameters (as torch wraps them); anything else as it is."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


class ParameterList(Module):
    """Parameters in a list, registered as ``"0"``, ``"1"``, ...; tensors become parameters.

    >>> ps = nn.ParameterList([engine.zeros(2, 3), engine.ones(2)]); ps
    ParameterList(
        (0): Parameter containing: [engine.float32 of size 2x3]
        (1): Parameter containing: [engine.float32 of size 2]
    )
    >>> [n for n, _ in ps.named_parameters()]
    ['0', '1']
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return type(self)([self[i] for i in range(len(self))[idx]])
        return getattr(self, _abs_index(idx, len(self)))

    def __setitem__(self, idx: int, value: Any) -> None:
        setattr(self, _abs_index(idx, len(self)), _as_parameter(value))

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def append(self, value: Any) -> ParameterList:
        """Add ``value`` at the end (a tensor becomes a ``Parameter``).

        >>> type(nn.ParameterList().append(engine.zeros(1))[0]).__name__
        'Parameter'
        """
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Append each of ``values``.

        >>> len(nn.ParameterList().extend([engine.zeros(1), engine.ones(1)]))
        2
        """
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError("ParameterList.extend should be called with an iterable, but got "
                            + type(values).__name__)
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return "\n".join(_describe(i, v, False) for i, v in enumerate(self))


class ParameterDict(_Keyed, Module):
    """Parameters by name; a plain ``dict`` is added in sorted key order, as torch does.

    >>> ps = nn.ParameterDict({"w": engine.zeros(2), "b": engine.ones(3)}); list(ps)
    ['b', 'w']
    >>> ps
    ParameterDict(
        (b): Parameter containing: [engine.FloatTensor of size 3]
        (w): Parameter containing: [engine.FloatTensor of size 2]
    )
    """

    def _keyed(self) -> Any:
        return self._keys

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        self._keys: dict[str, None] = {}
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _attr(key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError("Index given to ParameterDict cannot be used as a key as it is not "
                            f"a string (type is '{type(key).__name__}'). Open an issue on "
                            "github if you need non-string keys.")
        return key

    def __getitem__(self, key: str) -> Any:
        return getattr(self, self._attr(key))

    def __setitem__(self, key: str, value: Any) -> None:
        attr = self._attr(key)
        self._keys[key] = None
        setattr(self, attr, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        delattr(self, self._attr(key))


    def keys(self) -> Iterable[str]:
        """The names, in order.

        >>> list(nn.ParameterDict([("z", engine.zeros(1)), ("a", engine.zeros(1))]).keys())
        ['z', 'a']
        """
        return self._keys.keys()

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(name, parameter)`` pairs, in order.

        >>> [k for k, _ in nn.ParameterDict({"a": engine.zeros(1)}).items()]
        ['a']
        """
        return ((k, self[k]) for k in self._keys)

    def values(self) -> Iterator[Any]:
        """The parameters, in order.

        >>> [p.shape for p in nn.ParameterDict({"a": engine.zeros(1)}).values()]
        [engine.Size([1])]
        """
        return (self[k] for k in self._keys)

    def pop(self, key: str) -> Any:
        """Remove and return the parameter named ``key``.

        >>> nn.ParameterDict({"a": engine.zeros(1)}).pop("a").shape
        engine.Size([1])
        """
        value = self[key]
        del self[key]
        return value

    def update(self, parameters: Any) -> None:
        """Add (or replace) entries from a mapping or an iterable of ``(name, value)``.

        >>> d = nn.ParameterDict(); d.update({"b": engine.zeros(1), "a": engine.zeros(1)})
        >>> list(d)
        ['a', 'b']
        """
        if not isinstance(parameters, Iterable):
            raise TypeError("ParametersDict.update should be called with an iterable of "
                            "key/value pairs, but got " + type(parameters).__name__)
        if isinstance(parameters, Mapping) and not isinstance(parameters, OrderedDict):
            parameters = sorted(parameters.items())  # a plain dict: torch sorts its keys
        elif isinstance(parameters, ParameterDict):
            parameters = list(parameters.items())
        for key, value in _pairs(parameters, "ParameterDict"):
            self[key] = value

    def extra_repr(self) -> str:
        return "\n".join(_describe(k, v, True) for k, v in self.items())
