"""Fused optimizer updates: one call per parameter updates it (and its state) in place.

The arithmetic follows torch's single-tensor ``SGD``/``Adam`` step operation by
operation, so a float64 training run matches torch's trajectory to rounding.
Flags arrive as floats (0.0 / 1.0) to keep one signature per dtype.
"""

import math

from engine.kernels import kernel


@kernel("optim", "aaasssssss")
def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """SGD with momentum/dampening/nesterov/weight decay; ``buf`` unused when momentum is 0."""
    for i in range(p.size):
        d = -g[i] if maximize != 0.0 else g[i]
        if weight_decay != 0.0:
            d = d + weight_decay * p[i]
        if momentum != 0.0:
            if first != 0.0:
                b = d
            else:
                b = buf[i] * momentum + (1.0 - dampening) * d
            buf[i] = b
            d = d + momentum * b if nesterov != 0.0 else b
        p[i] = p[i] + (-lr) * d


@kernel("optim", "aaaaasssssssss")
def adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad,
              maximize, decoupled):
    """Adam (``decoupled`` = 0) or AdamW (``decoupled`` = 1), optionally AMSGrad."""
    w1 = 1.0 - beta1
    bc1 = 1.0 - beta1 ** step
    bc2_sqrt = (1.0 - beta2 ** step) ** 0.5
    step_size = lr / bc1
    for i in range(p.size):
        d = -g[i] if maximize != 0.0 else g[i]
        if weight_decay != 0.0:
            if decoupled != 0.0:
                p[i] = p[i] * (1.0 - lr * weight_decay)
            else:
                d = d + weight_decay * p[i]
        if w1 < 0.5:  # torch's lerp, which picks its form by the weight
            mi = m[i] + w1 * (d - m[i])
        else:
            mi = d - (d - m[i]) * (1.0 - w1)
        m[i] = mi
        vi = v[i] * beta2 + (1.0 - beta2) * (d * d)
        v[i] = vi
        if amsgrad != 0.0:
            if vi > vmax[i] or math.isnan(vi):
                vmax[i] = vi
            vi = vmax[i]
        denom = math.sqrt(vi) / bc2_sqrt + eps
        p[i] = p[i] + (-step_size) * (mi / denom)
