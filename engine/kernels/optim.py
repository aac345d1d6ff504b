"""Fused optimizer updates: one call per parameter updates it (and its state) in place.

The arithmetic follows torch's single-tensor (``foreach=False``) step of each optimizer
operation by operation, rounding where torch's CPU kernels round: ``add(x, alpha=a)``,
``addcmul`` and ``lerp`` are fused multiply-adds (``fma(v * a, b, s)`` for
``s.addcmul(a, b, value=v)``), ``addcdiv`` is ``s + (v * a) / b`` and ``x / t`` for a float
``x`` is ``t.reciprocal() * x``.  So a float64 training run follows torch's trajectory to
rounding; not bit for bit, as torch's CPU ``sqrt`` is not correctly rounded (it is off by
one ulp for about one float64 in seventy).  The SGD and Adam kernels round each product
on its own, and the plan's interpreter replays them as they are.
Flags arrive as floats (0.0 / 1.0) to keep one signature per dtype.
"""

import math

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from engine.kernels import kernel


@intrinsic
def _fma(typingctx, a, b, c):  # noqa: ARG001 (Numba passes the typing context)
    """``a * b + c`` rounded once (LLVM's fma), in the widest of the three float types."""
    if not all(isinstance(t, types.Float) for t in (a, b, c)):
        return None
    ty = max((a, b, c), key=lambda t: t.bitwidth)

    def codegen(context, builder, sig, args):
        vals = [context.cast(builder, v, t, ty) for v, t in zip(args, sig.args)]
        llty = context.get_value_type(ty)
        fn = builder.module.declare_intrinsic("llvm.fma", [llty],
                                              ir.FunctionType(llty, [llty] * 3))
        return builder.call(fn, vals)

    return ty(a, b, c), codegen


@njit(cache=True, inline="always")
def _lerp(start, end, weight):
    """torch's lerp, which picks its form by the weight (exact at both ends)."""
    if weight < 0.5:
        return _fma(weight, end - start, start)
    return _fma(start - end, 1.0 - weight, end)


@njit(cache=True, inline="always")
def _direction(g, p, weight_decay, maximize):
    """The gradient, negated under ``maximize``, plus the L2 term ``weight_decay * p``."""
    d = -g if maximize != 0.0 else g
    if weight_decay != 0.0:
        d = _fma(p, weight_decay, d)
    return d


@njit(cache=True, inline="always")
def _weight_decay(lr, weight_decay, decoupled):
    """(L2 coefficient for the gradient, factor scaling the parameter first): the
    decoupled form (AdamW-like) shrinks ``p`` by ``1 - lr * weight_decay`` instead."""
    if decoupled != 0.0:
        return 0.0, 1.0 - lr * weight_decay
    return weight_decay, 1.0


@njit(cache=True, inline="always")
def _moments(p, g, m, v, i, l2, shrink, maximize, w1, w2, beta2):
    """Element ``i`` of an Adam-like step's first half: the decoupled shrink of ``p``, the
    direction, then both moments as torch's lerp and addcmul round them: (d, m_i, v_i)."""
    if shrink != 1.0:
        p[i] = p[i] * shrink
    d = _direction(g[i], p[i], l2, maximize)
    mi = _lerp(m[i], d, w1)
    m[i] = mi
    vi = _fma(w2 * d, d, v[i] * beta2)
    v[i] = vi
    return d, mi, vi


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


@kernel("optim", "aaaaasssssss")
def rmsprop_step(p, g, sq, gavg, buf, lr, alpha, eps, weight_decay, momentum, centered,
                 maximize):
    """RMSprop; ``gavg`` (centered) and ``buf`` (momentum > 0) unused otherwise."""
    w = 1.0 - alpha
    for i in range(p.size):
        d = _direction(g[i], p[i], weight_decay, maximize)
        s = _fma(w * d, d, sq[i] * alpha)
        sq[i] = s
        if centered != 0.0:
            ga = _lerp(gavg[i], d, w)
            gavg[i] = ga
            s = _fma(-ga, ga, s)
        avg = math.sqrt(s) + eps
        if momentum > 0.0:
            b = buf[i] * momentum + d / avg
            buf[i] = b
            p[i] = _fma(b, -lr, p[i])
        else:
            p[i] = p[i] + ((-lr) * d) / avg


@kernel("optim", "aaassss")
def adagrad_step(p, g, total, clr, eps, weight_decay, maximize):
    """Adagrad at the decayed rate ``clr`` (worked out by the caller from the step)."""
    for i in range(p.size):
        d = _direction(g[i], p[i], weight_decay, maximize)
        s = _fma(d, d, total[i])
        total[i] = s
        p[i] = p[i] + ((-clr) * d) / (math.sqrt(s) + eps)


@kernel("optim", "aaaasssss")
def adadelta_step(p, g, sq, acc, lr, rho, eps, weight_decay, maximize):
    """Adadelta: the step is ``sqrt(acc + eps) / sqrt(sq + eps) * grad``."""
    w = 1.0 - rho
    for i in range(p.size):
        d = _direction(g[i], p[i], weight_decay, maximize)
        s = _fma(w * d, d, sq[i] * rho)
        sq[i] = s
        delta = math.sqrt(acc[i] + eps) / math.sqrt(s + eps) * d
        acc[i] = _fma(w * delta, delta, acc[i] * rho)
        p[i] = _fma(delta, -lr, p[i])


@kernel("optim", "aaaasssssssssss")
def nadam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, mu, mu_next,
               mu_product, decoupled, maximize):
    """NAdam; ``mu_product`` is the running product of ``mu`` including this step's, as
    the state holds it (float32 unless loaded otherwise)."""
    w1 = 1.0 - beta1
    w2 = 1.0 - beta2
    bc2 = 1.0 - beta2 ** step
    grad_coef = -lr * (1.0 - mu) / (1.0 - mu_product)
    avg_coef = (-lr * mu_next) / (1.0 - mu_product * mu_next)
    l2, shrink = _weight_decay(lr, weight_decay, decoupled)
    for i in range(p.size):
        d, mi, vi = _moments(p, g, m, v, i, l2, shrink, maximize, w1, w2, beta2)
        denom = math.sqrt(vi / bc2) + eps
        p[i] = p[i] + (grad_coef * d) / denom
        p[i] = p[i] + (avg_coef * mi) / denom


@kernel("optim", "aaaassssssss")
def radam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled, maximize):
    """RAdam: the adaptive, rectified step once the approximated SMA length passes 5,
    plain bias-corrected momentum before."""
    w1 = 1.0 - beta1
    w2 = 1.0 - beta2
    bc1 = 1.0 - beta1 ** step
    bc2 = 1.0 - beta2 ** step
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * step * (beta2 ** step) / bc2
    adaptive = rho_t > 5.0
    rect = 0.0
    if adaptive:
        rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5
    bc2_sqrt = bc2 ** 0.5
    l2, shrink = _weight_decay(lr, weight_decay, decoupled)
    for i in range(p.size):
        _, mi, vi = _moments(p, g, m, v, i, l2, shrink, maximize, w1, w2, beta2)
        u = mi / bc1 * lr
        if adaptive:
            u = u * ((1.0 / (math.sqrt(vi) + eps)) * bc2_sqrt) * rect
        p[i] = p[i] - u
