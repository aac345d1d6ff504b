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
from engine import accelerator, autograd, backends, cuda, nn, ops, optim, plan, utils
from engine._base.device import device, get_default_device, set_default_device
from engine._base.dtypes import bool_ as bool  # noqa: A001 - torch's name
from engine._base.dtypes import dtype, float32, float64, int8, int16, int32, int64, uint8
from engine._base.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from engine.ops import methods

# Each op family lists its torch functions in its own __all__.
from engine.ops.activation import *  # noqa: F403
from engine.ops.creation import *  # noqa: F403
from engine.ops.elementwise import *  # noqa: F403
from engine.ops.extrema import *  # noqa: F403
from engine.ops.join import *  # noqa: F403
from engine.ops.layers import *  # noqa: F403
from engine.ops.linalg import *  # noqa: F403
from engine.ops.random import *  # noqa: F403
from engine.ops.reduce import *  # noqa: F403
from engine.ops.selection import *  # noqa: F403
from engine.ops.shape import *  # noqa: F403
from engine.ops.unary import *  # noqa: F403
from engine.serialization import load, save
from engine.tensor import Size, Tensor

# The one place that attaches the ops to Tensor: every layer below is imported by now.
methods.bind(autograd.backward)

float = float32  # noqa: A001 - torch's aliases
double = float64
long = int64
int = int32  # noqa: A001
short = int16

# Plan's public name is ``engine.autograd.Plan``; autograd (L4) may not import engine.plan
# (L5), so the top level, which sees every layer, attaches it.
autograd.Plan = plan.Plan

__version__ = "0.1.0"

__all__ = [
    "Size", "Tensor", "autograd", "bool", "double", "dtype", "enable_grad", "float", "float32",
    "float64", "int64", "is_grad_enabled", "long", "nn", "no_grad", "ops", "optim",
    "set_grad_enabled", "save", "load", "utils",
    "accelerator", "backends", "cuda", "device", "get_default_device", "int", "int8", "int16",
    "int32", "set_default_device", "short", "uint8",
    *(name for family in methods.FAMILIES for name in family.__all__),
]
