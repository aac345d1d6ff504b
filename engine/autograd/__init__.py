"""``engine.autograd``: backward, grad, gradcheck and the stepwise ``backward_steps``."""

from __future__ import annotations

from engine.autograd import functional
from engine.autograd.anomaly import detect_anomaly, set_detect_anomaly
from engine.autograd.function import Function, FunctionCtx
from engine.autograd.gradcheck import gradcheck
from engine.autograd.loop import Step, backward, backward_steps, grad
from engine.autograd.variable import Variable
from engine.graph import Node, RemovableHandle

# ``Plan`` (engine.plan, L5) is attached here by engine/__init__.py, the one module above
# both: autograd (L4) may not import it, and ``engine.autograd.Plan`` is its public name.
__all__ = ["Function", "FunctionCtx", "Variable", "detect_anomaly", "set_detect_anomaly",
           "backward", "grad", "gradcheck", "backward_steps", "Step", "Node", "RemovableHandle",
           "functional", "Plan"]
