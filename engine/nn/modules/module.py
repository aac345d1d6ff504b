"""``Module``: the base class of every layer.

A module keeps its parameters, buffers and submodules in ordered dicts filled by
attribute assignment, exactly like torch, so ``state_dict`` keys, ``repr`` and
iteration order match a torch model built the same way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from engine._base import device as _device
from engine._base import dtypes, grad_mode
from engine.nn.parameter import Parameter
from engine.ops import creation
from engine.tensor import Tensor, _reset_grads


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")


def _addindent(s: str, spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    return first + "\n" + "\n".join(" " * spaces + line for line in lines)


class Module:
    """Base class of every layer and model; subclass it and write ``forward``.

    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(2, 1)
    ...     def forward(self, x):
    ...         return self.fc(x)
    >>> [name for name, _ in Net().named_parameters()]
    ['fc.weight', 'fc.bias']
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of one call; every subclass writes it, ``module(x)`` runs it.

        >>> class Double(nn.Module):
        ...     def forward(self, x):
        ...         return 2 * x
        >>> Double()(engine.tensor([1.0, 2.0]))
        tensor([2., 4.])
        """
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- registration -------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign before Module.__init__() call")
        params, mods, bufs = self._parameters, self._modules, self._buffers
        # (store, the class it holds, what torch calls it, the stores a new entry leaves)
        for store, cls, kind, others in ((params, Parameter, "parameter", (bufs, mods)),
                                         (mods, Module, "child module", (params, bufs))):
            if isinstance(value, cls):
                for other in (self.__dict__, *others):
                    other.pop(name, None)
                store[name] = value
                return
            if name in store:
                if value is not None:
                    raise TypeError(f"cannot assign '{type(value).__name__}' as {kind} "
                                    f"'{name}' (torch.nn.{cls.__name__} or None expected)")
                store[name] = None
                return
        if name in bufs:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}'")
            bufs[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Tensor | None) -> None:
        """Add a parameter (or ``None``, a declared but absent one).

        >>> m = nn.Module(); m.register_parameter("w", nn.Parameter(engine.ones(2))); m.w
        Parameter containing:
        tensor([1., 1.], requires_grad=True)
        """
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (torch.nn.Parameter or None required)")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Add a non-trainable tensor saved in ``state_dict`` (e.g. running statistics).

        >>> m = nn.Module(); m.register_buffer("count", engine.zeros(1))
        >>> list(m.state_dict()), list(m.parameters())
        (['count'], [])
        """
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (``register_module`` is the same).

        >>> m = nn.Module(); m.add_module("act", nn.ReLU()); m
        Module(
          (act): ReLU()
        )
        """
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if not name:
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module

    register_module = add_module

    # -- iteration ----------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = ""
                      ) -> Iterator[tuple[str, Module]]:
        """This module and all below it, each once, with dotted names.

        >>> [name for name, _ in nn.Sequential(nn.Linear(2, 2), nn.ReLU()).named_modules()]
        ['', '0', '1']
        """
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, mod in self._modules.items():
            if mod is not None:
                yield from mod.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        """This module and all below it, each once.

        >>> [type(m).__name__ for m in nn.Sequential(nn.Linear(2, 2), nn.ReLU()).modules()]
        ['Sequential', 'Linear', 'ReLU']
        """
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for the direct submodules.

        >>> [name for name, _ in nn.Sequential(nn.Linear(2, 2), nn.ReLU()).named_children()]
        ['0', '1']
        """
        seen: set[int] = set()
        for name, mod in self._modules.items():
            if mod is not None and id(mod) not in seen:
                seen.add(id(mod))
                yield name, mod

    def children(self) -> Iterator[Module]:
        """The direct submodules.

        >>> list(nn.Sequential(nn.Linear(2, 2), nn.ReLU()).children())[1]
        ReLU()
        """
        for _, m in self.named_children():
            yield m

    def _named(self, store: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, t in getattr(mod, store).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Tensor]]:
        """``(name, parameter)`` pairs, shared parameters once.

        >>> [(n, p.shape) for n, p in nn.Linear(3, 2).named_parameters()]
        [('weight', engine.Size([2, 3])), ('bias', engine.Size([2]))]
        """
        return self._named("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """The parameters to hand to an optimizer: ``SGD(model.parameters(), lr=0.1)``.

        >>> sum(p.numel() for p in nn.Linear(3, 2).parameters())
        8
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True
                      ) -> Iterator[tuple[str, Tensor]]:
        """``(name, buffer)`` pairs, this module's and (by default) its submodules'.

        >>> m = nn.Sequential(nn.Module()); m[0].register_buffer("n", engine.zeros(1))
        >>> [name for name, _ in m.named_buffers()]
        ['0.n']
        """
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """The buffers (tensors registered with ``register_buffer``).

        >>> m = nn.Module(); m.register_buffer("n", engine.zeros(1)); list(m.buffers())
        [tensor([0.])]
        """
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -- state --------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Switch this module and its children to training mode (or eval when False).

        >>> m = nn.Sequential(nn.Dropout()); m.train(False)[0].training
        False
        """
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``Dropout`` becomes the identity.

        >>> x = engine.ones(4); nn.Dropout(0.5).eval()(x) is x
        True
        """
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradient tracking of every parameter on or off (e.g. to freeze a layer).

        >>> [p.requires_grad for p in nn.Linear(2, 1).requires_grad_(False).parameters()]
        [False, False]
        """
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the parameters' gradients (to None by default, as torch).

        >>> m = nn.Linear(2, 1); m(engine.ones(1, 2)).sum().backward()
        >>> m.zero_grad(); m.weight.grad is None
        True
        """
        _reset_grads(self.parameters(), set_to_none)

    def state_dict(self, destination: OrderedDict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        """Parameters and buffers by dotted name (detached, sharing memory).

        >>> list(nn.Linear(2, 1).state_dict())
        ['weight', 'bias']
        """
        dest = OrderedDict() if destination is None else destination
        for mod_prefix, mod in self.named_modules(prefix=prefix.rstrip(".")):
            for store in (mod._parameters, mod._buffers):
                for name, t in store.items():
                    if t is not None:
                        key = f"{mod_prefix}.{name}" if mod_prefix else name
                        dest[key] = t if keep_vars else t.detach()
        return dest

    def load_state_dict(self, state_dict: dict, strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's tensors (shapes must match);
        with ``assign=True`` take the given tensors themselves (their dtype and memory; a
        parameter keeps its ``requires_grad``).

        >>> a, b = nn.Linear(2, 1), nn.Linear(2, 1)
        >>> b.load_state_dict(a.state_dict())
        <All keys matched successfully>
        >>> b.weight.tolist() == a.weight.tolist()
        True
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = _unexpected_keys(self, state_dict)
        errors = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            arr = _as_tensor(state_dict[key])._data
            if arr.shape != target._data.shape:
                errors.append(f'size mismatch for {key}: copying a param with shape '
                              f'{_size(arr.shape)} from checkpoint, the shape in current model '
                              f'is {_size(target._data.shape)}.')
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        if assign:
            for mod_prefix, mod in self.named_modules():
                for store in (mod._parameters, mod._buffers):
                    for name, t in store.items():
                        key = f"{mod_prefix}.{name}" if mod_prefix else name
                        if t is not None and key in state_dict:
                            src = _as_tensor(state_dict[key])
                            store[name] = Parameter(src, t.requires_grad) \
                                if isinstance(t, Parameter) else src
            return _IncompatibleKeys(missing, unexpected)
        with grad_mode.no_grad():
            for key, target in own.items():
                if key in state_dict:
                    target._data[...] = _as_tensor(state_dict[key])._data
                    target._vc[0] += 1
        return _IncompatibleKeys(missing, unexpected)

    # -- conversion ---------------------------------------------------------
    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and on this module.

        >>> m = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        >>> _ = m.apply(lambda mod: print(type(mod).__name__))
        Linear
        ReLU
        Sequential
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _cast(self, dtype: dtypes.dtype) -> Module:
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is None or t._data.dtype.kind != "f" or t._data.dtype == dtype.np:
                        continue
                    t._data = t._data.astype(dtype.np)
                    if t._grad is not None:
                        t._grad._data = t._grad._data.astype(dtype.np)
        return self

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64, in place.

        >>> nn.Linear(2, 1).double().weight.dtype
        engine.float64
        """
        return self._cast(dtypes.float64)

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32, in place.

        >>> nn.Linear(2, 1).double().float().weight.dtype
        engine.float32
        """
        return self._cast(dtypes.float32)

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(engine.float64)`` casts; ``to('cpu')`` is a no-op (the only device), and
        any other device refuses as ``Tensor.to`` does.

        >>> nn.Linear(2, 1).to("cpu").to(engine.float64).bias.dtype
        engine.float64
        """
        dtype = kwargs.get("dtype")
        _device.check(kwargs.get("device"))
        for a in args:
            if isinstance(a, dtypes.dtype):
                dtype = a
            elif isinstance(a, (str, _device.device, int)) and not isinstance(a, bool):
                _device.check(a)
        return self._cast(dtype) if dtype is not None else self

    def cpu(self) -> Module:
        """This module: its parameters already live on the CPU.

        >>> m = nn.Linear(2, 1); m.cpu() is m
        True
        """
        return self

    def cuda(self, device: Any = None) -> Module:
        """Refuses, as ``Tensor.cuda`` does: JitGrad runs on the CPU.

        >>> nn.Linear(2, 1).cuda()
        Traceback (most recent call last):
        ...
        RuntimeError: JitGrad runs on the CPU only: device 'cuda' is not available (engine.cuda.is_available() is False). Use device='cpu' or leave device out.
        """  # noqa: E501 - the message is one line
        _device.check("cuda" if device is None else _device.device("cuda", device)
                      if isinstance(device, int) else device)
        return self

    # -- display ------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr line.

        >>> nn.Linear(2, 1).extra_repr()
        'in_features=2, out_features=1, bias=True'
        """
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, mod in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(mod), 2))
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __dir__(self) -> list[str]:
        keys = list(super().__dir__())
        return sorted(set(keys + list(self._parameters) + list(self._modules)
                          + list(self._buffers)))


def _unexpected_keys(root: Module, state_dict: Mapping) -> list[str]:
    """Keys that name neither a child nor a tensor of the module their prefix reaches,
    module by module from the root, in torch's order (so ``"0.weight.x"`` passes: its
    ``"weight"`` is Linear's)."""
    found = []
    for mod_prefix, mod in root.named_modules():
        prefix = f"{mod_prefix}." if mod_prefix else ""
        local = {n for store in (mod._parameters, mod._buffers)
                 for n, t in store.items() if t is not None}
        for key in state_dict:
            if key.startswith(prefix):
                head = key[len(prefix):].split(".", 1)[0]
                if head not in mod._modules and head not in local:
                    found.append(key)
    return found


def _as_tensor(value: Any) -> Tensor:
    """A state_dict value as a tensor (the engine also takes numpy arrays, copied)."""
    return value if isinstance(value, Tensor) else creation.tensor(value)


def _typename(obj: Any) -> str:
    """How torch's messages name a value's type (``torch.typename``)."""
    cls = type(obj)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__name__}"


def _size(shape: tuple[int, ...]) -> str:
    return f"engine.Size([{', '.join(str(d) for d in shape)}])"

