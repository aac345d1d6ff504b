"""``engine.autograd``: backward, grad, gradcheck and the stepwise ``backward_steps``."""

from __future__ import annotations

from engine.autograd import functional
from engine.autograd.anomaly import detect_anomaly, set_detect_anomaly
from engine.autograd.function import Function, FunctionCtx
from engine.autograd.gradcheck import gradcheck
from engine.autograd.loop import Step, backward, backward_steps, grad
from engine.autograd.plan import Plan
from engine.graph import Node, RemovableHandle

__all__ = ["Function", "FunctionCtx", "detect_anomaly", "set_detect_anomaly", "backward", "grad",
           "gradcheck", "backward_steps", "Step", "Node", "RemovableHandle", "functional", "Plan"]
