"""Render tensors the way ``repr(torch.Tensor)`` does (torch 2.13, default print options).

Pure numpy/stdlib. The only intended difference from torch is the dtype prefix:
``dtype=engine.float64`` instead of ``dtype=torch.float64``.
"""

from __future__ import annotations

import math

import numpy as np

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80

_PREFIX = "tensor("
_DTYPE_NS = "engine."
# Line wrapping of suffixes follows torch's decisions, which are based on the shorter
# "torch." dtype names; dtype suffixes are therefore measured as if named "torch.<dtype>".
_NS_EXTRA = len(_DTYPE_NS) - len("torch.")
# Dtypes whose name is implied by the printed values (torch's default dtype, int64, bool).
_IMPLICIT_DTYPES = (np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.bool_))


def _edges(a: np.ndarray) -> np.ndarray:
    """Keep only the first/last EDGEITEMS entries along every axis longer than 2*EDGEITEMS."""
    for axis, n in enumerate(a.shape):
        if n > 2 * EDGEITEMS:
            keep = np.r_[0:EDGEITEMS, n - EDGEITEMS : n]
            a = a.take(keep, axis=axis)
    return a


class _Formatter:
    """Choose one number style and column width for all the values that will be shown."""

    def __init__(self, shown: np.ndarray) -> None:
        self.is_float = shown.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        flat = shown.ravel()
        if not self.is_float:
            self.width = max([1, *(len(str(v)) for v in flat.tolist())])
            return
        vals = flat[np.isfinite(flat) & (flat != 0)]
        if vals.size == 0:
            return  # only zeros / nan / inf: keep the defaults
        mags = np.abs(vals).astype(np.float64)
        lo, hi = mags.min(), mags.max()
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        with np.errstate(over="ignore"):
            self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4)
        # Width is measured on the nonzero finite values only; int-mode adds the trailing ".".
        extra = 1 if self.int_mode and not self.sci_mode else 0
        self.width = max(len(self._text(v)) + extra for v in vals.tolist())

    def _text(self, v: float) -> str:
        """Unpadded text of one float in the chosen style (without the int-mode dot)."""
        if self.sci_mode:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            return f"{v:.0f}"
        return f"{v:.{PRECISION}f}"

    def __call__(self, v: float | bool) -> str:
        """Format one Python scalar, right-aligned to the common width."""
        if not self.is_float:
            text = str(v)
        else:
            text = self._text(v)
            if self.int_mode and not self.sci_mode and math.isfinite(v):
                text += "."
        return text.rjust(self.width)


def _body(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    """Nested-bracket text for ``a``; ``indent`` is the column of its opening bracket."""
    if a.ndim == 0:
        return fmt(a.item())
    n = a.shape[0]
    cut = summarize and n > 2 * EDGEITEMS
    if a.ndim == 1:
        if cut:
            items = [fmt(v) for v in a[:EDGEITEMS].tolist()] + [" ..."]
            items += [fmt(v) for v in a[n - EDGEITEMS :].tolist()]
        else:
            items = [fmt(v) for v in a.tolist()]
        per_line = max(1, (LINEWIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = [*range(EDGEITEMS), None, *range(n - EDGEITEMS, n)] if cut else range(n)
    parts = ["..." if i is None else _body(a[i], indent + 1, summarize, fmt) for i in rows]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def _layout_len(suffix: str) -> int:
    """Length torch would measure for ``suffix`` (dtype names counted with ``torch.``)."""
    return len(suffix) - (_NS_EXTRA if suffix.startswith("dtype=") else 0)


def _close(text: str, suffixes: list[str], indent: int) -> str:
    """Append ``, suffix`` items, wrapping onto a new indented line past LINEWIDTH, then ``)``."""
    # torch measures the last line as len - rfind("\n") + 1 (two more than its real length
    # when there is no newline); keep that quirk so wrapping decisions match.
    line_len = len(text) - text.rfind("\n") + 1
    out = [text]
    for s in suffixes:
        width = _layout_len(s)
        if line_len + width + 2 > LINEWIDTH:
            out.append(",\n" + " " * indent + s)
            line_len = indent + width
        else:
            out.append(", " + s)
            line_len += width + 2
    out.append(")")
    return "".join(out)


def tensor_repr(
    data: np.ndarray, *, requires_grad: bool = False, grad_fn_name: str | None = None
) -> str:
    """Return torch's repr of a tensor holding ``data``, with ``engine.`` dtype names."""
    data = np.asarray(data)
    indent = len(_PREFIX)
    dtype_suffix = f"dtype={_DTYPE_NS}{data.dtype.name}"
    suffixes = []
    if data.size == 0:
        body = "[]"
        if data.ndim != 1:
            suffixes.append(f"size={tuple(int(d) for d in data.shape)}")
        # Nothing to infer the dtype from, so only the default float dtype stays implicit.
        if data.dtype != np.float32:
            suffixes.append(dtype_suffix)
    else:
        summarize = data.size > THRESHOLD
        fmt = _Formatter(_edges(data) if summarize else data)
        body = _body(data, indent, summarize, fmt)
        if data.dtype not in _IMPLICIT_DTYPES:
            suffixes.append(dtype_suffix)
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _close(_PREFIX + body, suffixes, indent)
