"""The compiled plan's interpreter: one Numba call runs a whole training step.

A plan (``engine.autograd.Plan``) lowers a captured graph to a flat program of
fixed-width instructions over one arena array that holds every value, gradient and
optimizer buffer of the step.  ``run_plan`` walks the program once: forward ops,
then backward ops, then the optimizer updates.  It is compiled once per dtype, so a
new graph structure is just a new program, never a new compile.

Program layout (``code``, int64): a header, ``WIDTH`` ints per instruction, then the
float constants (read through a float64 view of the same array, so the Python side
can change a learning rate without touching the instructions).  The backward and
optimizer ops call the same kernels the node-by-node loop calls, so a compiled step
computes the same gradient values as ``loss.backward()``.
"""

import math

import numba
import numpy as np

from engine.kernels import activation, elementwise, kernel, loss
from engine.kernels.loss import bce_logits_bwd_input
from engine.kernels.optim import adam_step, sgd_step

# The backward kernels come as their block kernels (``engine.kernels._entry``), which write
# into a given buffer: the plan's scratch region, so nothing is allocated per call.  Numba
# resolves a global dispatcher when it compiles ``run_plan``, hence names of their own.
abs_bwd_block = elementwise.abs_bwd.block
exp_bwd_block = elementwise.exp_bwd.block
log_bwd_block = elementwise.log_bwd.block
reciprocal_bwd_block = elementwise.reciprocal_bwd.block
relu_bwd_block = elementwise.relu_bwd.block
sigmoid_bwd_block = elementwise.sigmoid_bwd.block
sqrt_bwd_block = elementwise.sqrt_bwd.block
tanh_bwd_block = elementwise.tanh_bwd.block
log_softmax_bwd_block = activation.log_softmax_bwd.block
mse_bwd_block = loss.mse_bwd.block

MAGIC = 0x6A6974677261  # "jitgra": anything else (e.g. warm-up's dummy array) is a no-op
HEADER = 8  # magic, instruction count, float-constant base (in float64 slots), unused...
WIDTH = 12  # op, then up to 11 operands

# forward
MM = 1          # out, a, b, m, k, n, ta, tb           out(m,n) = op(a) @ op(b)
ADD = 2         # out, a, b, rows, cols, mode_a, mode_b, sign   broadcast a +/- b
UNARY = 3       # out, a, n, which
BCE = 4         # out, x, y, n, mean                   with-logits loss, no weights
MSE = 5         # out, x, y, n, mean
SUM = 6         # out, a, n, mean
ADD_ROWS = 7    # out, bias, rows, cols, mode          out += bias, in place
SCALE = 8       # out, a, n, fconst                    out = a * constant
BLAS = 9        # k: run the caller's matrix product number k, then resume
MUL = 10        # out, a, b, rows, cols, mode_a, mode_b         broadcast a * b
LOG_SOFTMAX = 11  # out, a, rows, cols                          over each row
NLL = 12        # out, x, t, rows, cols, mean, ignore_index     t: class indices in ``code``
# backward
ZERO = 20       # off, n
SEED = 21       # off                                  the loss's own gradient: 1
B_MM = 22       # g, a, b, ga, gb, m, k, n, ta, tb, scratch
B_ADD = 23      # g, ga, gb, rows, cols, mode_a, mode_b, sign   (ga/gb -1: not needed)
B_MUL = 30      # g, a, b, ga, gb, rows, cols, mode_a, mode_b   ga += g * b, gb += g * a
B_UNARY = 24    # g, saved, ga, n, which, scratch   (saved: the result, or log/abs's input)
B_BCE = 25      # g, x, y, gx, n, mean
B_MSE = 26      # g, x, y, gx, gy, n, mean, scratch
B_SUM = 27      # g, ga, n, mean
B_SCALE = 28    # g, ga, n, fconst
ACC = 29        # dst, src, rows, cols, trans          dst += src (transposed into dst)
B_LOG_SOFTMAX = 31  # g, y, ga, rows, cols, scratch
B_NLL = 32      # g, gx, t, rows, cols, mean, ignore_index
# optimizer
SGD = 40        # p, g, buf, n, fconst: lr, momentum, dampening, weight decay, nesterov, maximize
ADAM = 41       # p, g, m, v, vmax, n, fconst, step: the fconst block holds lr, beta1, beta2,
#                 eps, weight decay, amsgrad, maximize, decoupled; ``step`` counts in place

RELU, SIGMOID, TANH, EXP, LOG, SQRT, ABS, RECIPROCAL = range(8)
FULL, ROW, SCALAR = 0, 1, 2  # how an operand of ADD broadcasts to (rows, cols)

# Up to this many multiply-adds a product runs as a loop in the interpreter; a larger one
# is a BLAS op: the interpreter returns its index and the caller runs it with numpy's BLAS
# (the same call the eager matmul makes), then resumes.  Compiling np.dot into the
# interpreter instead would add seconds to its compile and a SciPy dependency.
SMALL_MM = 4096


_inner = numba.njit(cache=True, nogil=True, error_model="numpy")  # helpers of run_plan


@_inner
def _mm(arena, out, a, b, m, k, n, ta, tb):
    """out(m, n) = op(a) @ op(b) for a small product; ``ta``/``tb``: the buffer holds the
    operand transposed.  Strided scalar loops: building array views costs more here."""
    ars, acs = (1, m) if ta else (k, 1)
    brs, bcs = (1, k) if tb else (n, 1)
    for i in range(m):
        for j in range(n):
            acc = 0.0
            for p in range(k):
                acc += arena[a + i * ars + p * acs] * arena[b + p * brs + j * bcs]
            arena[out + i * n + j] = acc


@_inner
def _add_into(arena, dst, src, r, c, trans):
    """arena[dst] += the (r, c) matrix at ``src``, or its transpose when ``trans``."""
    if trans:
        for i in range(r):
            for j in range(c):
                arena[dst + j * r + i] += arena[src + i * c + j]
    else:
        for i in range(r * c):
            arena[dst + i] += arena[src + i]


@_inner
def _at(off, mode, i, j, cols):
    """Where element (i, j) of a (rows, cols) broadcast reads operand ``off`` from."""
    if mode == FULL:
        return off + i * cols + j
    if mode == ROW:
        return off + j
    return off


@kernel("plan", "wan")
def run_plan(code, arena, start):
    """Run the program in ``code`` over ``arena`` from instruction ``start``; returns the
    index of the BLAS op to run before resuming after it, -1 at the end, or -2 when a class
    index is out of range (before anything but the forward values was written)."""
    if code.size < HEADER or code[0] != MAGIC:
        return -1
    fc = code.view(np.float64)
    n_ops = code[1]
    for op_i in range(start, n_ops):
        base = HEADER + op_i * WIDTH
        op = code[base]
        c = code[base + 1:base + WIDTH]
        if op == BLAS:
            return op_i
        if op == MM:
            _mm(arena, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
        elif op == ADD or op == MUL:
            out, a, b, rows, cols, ma, mb = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
            sign = c[7]
            for i in range(rows):
                for j in range(cols):
                    x = arena[_at(a, ma, i, j, cols)]
                    y = arena[_at(b, mb, i, j, cols)]
                    if op == MUL:
                        arena[out + i * cols + j] = x * y
                    elif sign > 0:
                        arena[out + i * cols + j] = x + y
                    else:
                        arena[out + i * cols + j] = x - y
        elif op == ADD_ROWS:
            out, bias, rows, cols, mode = c[0], c[1], c[2], c[3], c[4]
            for i in range(rows):
                for j in range(cols):
                    arena[out + i * cols + j] += arena[_at(bias, mode, i, j, cols)]
        elif op == SCALE:
            s = fc[c[3]]
            for i in range(c[2]):
                arena[c[0] + i] = arena[c[1] + i] * s
        elif op == UNARY:
            out, a, n, which = c[0], c[1], c[2], c[3]
            for i in range(n):
                x = arena[a + i]
                if which == RELU:
                    arena[out + i] = x if x > 0 or x != x else 0.0
                elif which == SIGMOID:
                    arena[out + i] = 1.0 / (1.0 + math.exp(-x))
                elif which == TANH:
                    arena[out + i] = math.tanh(x)
                elif which == EXP:
                    arena[out + i] = math.exp(x)
                elif which == LOG:  # numpy's values at the edges: -inf at 0, NaN below
                    arena[out + i] = math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)
                elif which == SQRT:
                    arena[out + i] = math.sqrt(x) if x >= 0 else math.nan
                elif which == ABS:
                    arena[out + i] = abs(x)
                else:
                    arena[out + i] = 1.0 / x
        elif op == LOG_SOFTMAX:
            out, a, rows, cols = c[0], c[1], c[2], c[3]
            for r in range(rows):
                base = r * cols
                top = arena[a + base]
                for j in range(1, cols):
                    top = max(top, arena[a + base + j])
                total = 0.0
                for j in range(cols):
                    total += math.exp(arena[a + base + j] - top)
                lse = math.log(total)
                for j in range(cols):
                    arena[out + base + j] = (arena[a + base + j] - top) - lse
        elif op == NLL:
            out, x, t, rows, cols, ignore = c[0], c[1], c[2], c[3], c[4], c[6]
            total = 0.0
            count = 0
            for r in range(rows):
                k = code[t + r]
                if k == ignore:
                    continue
                if k < 0 or k >= cols:
                    return -2
                total -= arena[x + r * cols + k]
                count += 1
            arena[out] = total / count if c[5] else total  # all ignored: 0 / 0, NaN
        elif op == BCE:
            out, x, y, n = c[0], c[1], c[2], c[3]
            total = 0.0
            for i in range(n):
                xi = arena[x + i]
                log_sig = min(xi, 0.0) - math.log1p(math.exp(-abs(xi)))
                total += (1.0 - arena[y + i]) * xi - log_sig
            arena[out] = total / n if c[4] else total
        elif op == MSE:
            out, x, y, n = c[0], c[1], c[2], c[3]
            total = 0.0
            for i in range(n):
                d = arena[x + i] - arena[y + i]
                total += d * d
            arena[out] = total / n if c[4] else total
        elif op == SUM:
            out, a, n = c[0], c[1], c[2]
            total = 0.0
            for i in range(n):
                total += arena[a + i]
            arena[out] = total / n if c[3] else total
        elif op == ZERO:
            arena[c[0]:c[0] + c[1]] = 0.0
        elif op == SEED:
            arena[c[0]] = 1.0
        elif op == B_MM:
            g, a_off, b_off, ga, gb = c[0], c[1], c[2], c[3], c[4]
            m, k, n, ta, tb, scratch = c[5], c[6], c[7], c[8], c[9], c[10]
            if ga >= 0:  # d op(a) = g @ op(b)^T, an (m, k) matrix: b^T is b with tb flipped
                _mm(arena, scratch, g, b_off, m, n, k, 0, 1 - tb)
                _add_into(arena, ga, scratch, m, k, ta)
            if gb >= 0:  # d op(b) = op(a)^T @ g, a (k, n) matrix
                _mm(arena, scratch, a_off, g, k, m, n, 1 - ta, 0)
                _add_into(arena, gb, scratch, k, n, tb)
        elif op == B_ADD:
            g, ga, gb, rows, cols, ma, mb, sign = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
            for i in range(rows):
                for j in range(cols):
                    gij = arena[g + i * cols + j]
                    if ga >= 0:  # a broadcast operand's gradient sums over its copies
                        arena[_at(ga, ma, i, j, cols)] += gij
                    if gb >= 0:
                        arena[_at(gb, mb, i, j, cols)] += gij if sign > 0 else -gij
        elif op == B_UNARY:
            g, res, ga, n, which, scratch = c[0], c[1], c[2], c[3], c[4], c[5]
            gv, rv, d = arena[g:g + n], arena[res:res + n], arena[scratch:scratch + n]
            if which == RELU:
                relu_bwd_block(gv, rv, d)
            elif which == SIGMOID:
                sigmoid_bwd_block(gv, rv, d)
            elif which == TANH:
                tanh_bwd_block(gv, rv, d)
            elif which == EXP:
                exp_bwd_block(gv, rv, d)
            elif which == LOG:
                log_bwd_block(gv, rv, d)
            elif which == SQRT:
                sqrt_bwd_block(gv, rv, d)
            elif which == ABS:
                abs_bwd_block(gv, rv, d)
            else:
                reciprocal_bwd_block(gv, rv, d)
            _add_into(arena, ga, scratch, 1, n, 0)
        elif op == B_LOG_SOFTMAX:
            g, y, ga, rows, cols, scratch = c[0], c[1], c[2], c[3], c[4], c[5]
            n = rows * cols
            log_softmax_bwd_block(arena[g:g + n], arena[y:y + n], cols,
                                  arena[scratch:scratch + n])
            _add_into(arena, ga, scratch, 1, n, 0)
        elif op == B_NLL:
            g, gx, t, rows, cols, ignore = c[0], c[1], c[2], c[3], c[4], c[6]
            count = 0
            for r in range(rows):
                if code[t + r] != ignore:
                    count += 1
            coef = -arena[g] / count if c[5] else -arena[g]
            for r in range(rows):
                k = code[t + r]
                if k != ignore:
                    arena[gx + r * cols + k] += coef
        elif op == B_MUL:
            g, a, b, ga, gb = c[0], c[1], c[2], c[3], c[4]
            rows, cols, ma, mb = c[5], c[6], c[7], c[8]
            for i in range(rows):
                for j in range(cols):
                    gij = arena[g + i * cols + j]
                    if ga >= 0:  # the same product as mul_bwd: g * other
                        arena[_at(ga, ma, i, j, cols)] += gij * arena[_at(b, mb, i, j, cols)]
                    if gb >= 0:
                        arena[_at(gb, mb, i, j, cols)] += gij * arena[_at(a, ma, i, j, cols)]
        elif op == B_BCE:
            g, x, y, gx, n = c[0], c[1], c[2], c[3], c[4]
            none = arena[0:0]
            d = bce_logits_bwd_input(arena[g:g + 1], arena[x:x + n], arena[y:y + n], none, none,
                                     float(n) if c[5] else 1.0)
            for i in range(n):
                arena[gx + i] += d[i]
        elif op == B_MSE:
            g, x, y, gx, gy, n, scratch = c[0], c[1], c[2], c[3], c[4], c[5], c[7]
            d = arena[scratch:scratch + n]
            mse_bwd_block(arena[g:g + 1], arena[x:x + n], arena[y:y + n],
                          float(n) if c[6] else 1.0, d)
            for i in range(n):
                if gx >= 0:
                    arena[gx + i] += d[i]
                if gy >= 0:
                    arena[gy + i] -= d[i]
        elif op == B_SUM:
            g, ga, n = c[0], c[1], c[2]
            v = arena[g] / n if c[3] else arena[g]
            for i in range(n):
                arena[ga + i] += v
        elif op == B_SCALE:
            s = fc[c[3]]
            for i in range(c[2]):
                arena[c[1] + i] += arena[c[0] + i] * s
        elif op == ACC:
            _add_into(arena, c[0], c[1], c[2], c[3], c[4])
        elif op == SGD:
            p, g, buf, n, k = c[0], c[1], c[2], c[3], c[4]
            sgd_step(arena[p:p + n], arena[g:g + n], arena[buf:buf + n], fc[k], fc[k + 1],
                     fc[k + 2], fc[k + 3], fc[k + 4], fc[k + 5], 0.0)
        elif op == ADAM:
            p, g, m_, v_, vmax, n, k = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
            c[7] += 1  # a view of ``code``: the count carries over to the next call
            adam_step(arena[p:p + n], arena[g:g + n], arena[m_:m_ + n], arena[v_:v_ + n],
                      arena[vmax:vmax + n], fc[k], fc[k + 1], fc[k + 2], fc[k + 3], fc[k + 4],
                      float(c[7]), fc[k + 5], fc[k + 6], fc[k + 7])
    return -1
