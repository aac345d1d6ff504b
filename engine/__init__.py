"""JitGrad's engine: a Numba-compiled autograd with torch's API.

``import engine as torch`` runs the classic autograd tutorial unchanged:

>>> import engine as torch
>>> x = torch.ones(5); y = torch.zeros(3)
>>> w = torch.randn(5, 3, requires_grad=True); b = torch.randn(3, requires_grad=True)
>>> z = torch.matmul(x, w) + b
>>> loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
>>> loss.backward(); w.grad.shape
engine.Size([5, 3])
"""

# First: it sets NUMBA_CACHE_DIR before any module imports numba.
from engine._base import numba_cache  # noqa: F401  # isort: skip
from engine import autograd, nn, ops, optim, plan
from engine._base.dtypes import bool_ as bool  # noqa: A001 - torch's name
from engine._base.dtypes import dtype, float32, float64, int64
from engine._base.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from engine.ops import methods
from engine.ops.activation import log_softmax, softmax
from engine.ops.creation import (
    arange,
    eye,
    from_numpy,
    full,
    full_like,
    manual_seed,
    ones,
    ones_like,
    rand,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from engine.ops.elementwise import add, div, mul, neg, pow, square, sub
from engine.ops.extrema import amax, amin, argmax, argmin, max, min  # noqa: A004 - torch's names
from engine.ops.join import cat, chunk, gather, split, stack, unbind
from engine.ops.layers import addmm
from engine.ops.linalg import bmm, dot, matmul, mm, mv
from engine.ops.reduce import logsumexp, mean, norm, prod, std, sum, var  # noqa: A004
from engine.ops.selection import clamp, maximum, minimum, where
from engine.ops.shape import (
    clone,
    expand,
    flatten,
    permute,
    reshape,
    squeeze,
    t,
    transpose,
    unsqueeze,
)
from engine.ops.unary import (
    abs,
    cos,
    exp,
    expm1,
    log,
    log1p,
    reciprocal,
    relu,
    rsqrt,
    sigmoid,
    sin,
    sqrt,
    tanh,
)
from engine.tensor import Size, Tensor

# The one place that attaches the ops to Tensor: every layer below is imported by now.
methods.bind(autograd.backward)

float = float32  # noqa: A001 - torch's aliases
double = float64
long = int64
clip = clamp
concat = cat

# Plan's public name is ``engine.autograd.Plan``; autograd (L4) may not import engine.plan
# (L5), so the top level, which sees every layer, attaches it.
autograd.Plan = plan.Plan

__version__ = "0.1.0"

__all__ = [
    "Size",
    "Tensor",
    "abs",
    "add",
    "addmm",
    "amax",
    "amin",
    "arange",
    "argmax",
    "argmin",
    "autograd",
    "bmm",
    "bool",
    "cat",
    "chunk",
    "clamp",
    "clip",
    "clone",
    "concat",
    "cos",
    "div",
    "dot",
    "double",
    "dtype",
    "enable_grad",
    "exp",
    "expand",
    "expm1",
    "eye",
    "flatten",
    "float",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "full_like",
    "gather",
    "int64",
    "is_grad_enabled",
    "log",
    "log1p",
    "log_softmax",
    "logsumexp",
    "long",
    "manual_seed",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mm",
    "mul",
    "mv",
    "neg",
    "nn",
    "no_grad",
    "norm",
    "ones",
    "ones_like",
    "ops",
    "optim",
    "permute",
    "pow",
    "prod",
    "rand",
    "randn",
    "randn_like",
    "reciprocal",
    "relu",
    "reshape",
    "rsqrt",
    "set_grad_enabled",
    "sigmoid",
    "sin",
    "softmax",
    "split",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "sub",
    "sum",
    "t",
    "tanh",
    "tensor",
    "transpose",
    "unbind",
    "unsqueeze",
    "var",
    "where",
    "zeros",
    "zeros_like",
]
