"""``engine.device``: JitGrad runs on the CPU, and says so when asked for anything else."""

from __future__ import annotations

import builtins
import re
from typing import Any

# torch's list, in torch's order, so a misspelt device gets torch's message.
_KNOWN = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
          "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
          "privateuseone")


_MISSING = object()
_FORMS = " * (engine.device device)\n{} * (str type, int index = -1)\n"
_SPEC = re.compile(r"([a-zA-Z_]+)(?::(0|[1-9][0-9]*))?")


def _bad_arguments(got: str, mismatch: str = "") -> TypeError:
    return TypeError(f"device() received an invalid combination of arguments - got ({got}), "
                     f"but expected one of:\n{_FORMS.format(mismatch)}")


class device:  # noqa: N801 - named as in torch
    """A device name; only ``cpu`` can hold tensors.

    >>> engine.device("cpu"), str(engine.device("cpu:0")), engine.device("cuda").type
    (device(type='cpu'), 'cpu:0', 'cuda')
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any = _MISSING, index: int | None = None) -> None:  # noqa: A002
        if type is _MISSING:
            raise _bad_arguments("")
        if isinstance(type, device):
            type, index = type.type, type.index
        elif builtins.type(type) is int:  # torch reads a bare int as an accelerator's index
            raise RuntimeError("Cannot access accelerator device when none is available.")
        elif not isinstance(type, str):
            name = builtins.type(type).__name__
            raise _bad_arguments(name, "      didn't match because some of the arguments have "
                                       f"invalid types: (!{name}!)\n")
        else:
            if index is not None and builtins.type(index) is not int:
                raise TypeError("device(): argument 'index' (position 2) must be int, not "
                                f"{builtins.type(index).__name__}")
            match = _SPEC.fullmatch(type)
            if match is None:
                raise RuntimeError(f"Invalid device string: '{type}'")
            name, idx = match.groups()
            if name not in _KNOWN:
                raise RuntimeError(f"Expected one of {', '.join(_KNOWN)} device type at start "
                                   f"of device string: {type}")
            if idx is not None:
                if index is not None:
                    raise RuntimeError(f"type (string) must not include an index because index "
                                       f"was passed explicitly: {type}")
                index = int(idx)
            type = name
        if index is not None and index < 0:
            raise RuntimeError("Device index must not be negative")
        self.type = type
        self.index = index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, device) and other.type == self.type
                and other.index == self.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def check(dev: Any) -> device:
    """The device a tensor may live on: ``cpu`` (or None, meaning cpu); anything else raises
    an error saying that JitGrad runs on the CPU."""
    if dev is None:
        return CPU
    if isinstance(dev, int):  # torch reads a bare int as a CUDA ordinal
        dev = device("cuda", dev)
    dev = device(dev)
    if dev.type != "cpu":
        raise RuntimeError(
            f"JitGrad runs on the CPU only: device '{dev}' is not available "
            f"(engine.cuda.is_available() is False). Use device='cpu' or leave device out.")
    return CPU


def set_default_device(device: Any) -> None:
    """torch's default-device switch: the CPU (or None, which resets it) is the only choice.

    >>> engine.set_default_device("cpu"); engine.get_default_device()
    device(type='cpu')
    """
    check(device)


def get_default_device() -> device:
    """The device new tensors go to: always the CPU.

    >>> engine.get_default_device().type
    'cpu'
    """
    return CPU
