"""``engine.device``: JitGrad runs on the CPU, and says so when asked for anything else."""

from __future__ import annotations

from typing import Any

# torch's list, in torch's order, so a misspelt device gets torch's message.
_KNOWN = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
          "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
          "privateuseone")


class device:  # noqa: N801 - named as in torch
    """A device name; only ``cpu`` can hold tensors.

    >>> engine.device("cpu"), str(engine.device("cpu:0")), engine.device("cuda").type
    (device(type='cpu'), 'cpu:0', 'cuda')
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002 - torch's name
        if isinstance(type, device):
            type, index = type.type, type.index
        elif not isinstance(type, str):
            raise TypeError("device() received an invalid combination of arguments - got "
                            f"({type.__class__.__name__})")
        else:
            name, _, idx = type.partition(":")
            if name not in _KNOWN:
                raise RuntimeError(f"Expected one of {', '.join(_KNOWN)} device type at start "
                                   f"of device string: {type}")
            if idx:
                if not idx.isdigit():
                    raise RuntimeError(f"Invalid device string: '{type}'")
                if index is not None:
                    raise RuntimeError(f"type (string) must not include an index because index "
                                       f"was passed explicitly: {type}")
                index = int(idx)
            type = name
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
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
