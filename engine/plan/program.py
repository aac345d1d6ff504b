"""``_Program``: a lowered step laid out in one arena, encoded for the interpreter, and
bound to the tensors it reads and writes."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine._base.blas import matmul_2d
from engine.graph import Node
from engine.kernels import interpreter as kp
from engine.plan.lowering import LoweringError, _Lowering, _plain, _Val
from engine.tensor import Tensor, _wrap

# Returned by ``run`` when a class target is out of range: only forward values were
# written, and the eager step raises the error eager code would.
_BAD_DATA = object()

# The optimizer state each update kind reads and writes, by a group's options (it exists:
# two eager steps ran before the capture).
_STATE_KEYS = {
    "sgd": lambda g: ("momentum_buffer",) if g["momentum"] != 0 else (),
    "adam": lambda g: ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if g["amsgrad"] else ()),
}

_NAMES = {getattr(kp, n): n for n in (
    "MM", "BLAS", "ADD", "MUL", "UNARY", "BCE", "MSE", "SUM", "ADD_ROWS", "SCALE",
    "LOG_SOFTMAX", "NLL", "ZERO", "SEED", "B_MM", "B_ADD", "B_MUL", "B_UNARY", "B_BCE",
    "B_MSE", "B_SUM", "B_SCALE", "B_LOG_SOFTMAX", "B_NLL", "ACC", "SGD", "ADAM")}


def _operand(item: Any, scratch: int, fbase: int) -> int:
    """An instruction operand as an int: a value's offset, ("g", value) its gradient's,
    ("f", k) the index of float constant k in the float64 view of the program."""
    if isinstance(item, _Val):
        return item.at()
    if isinstance(item, tuple):
        return fbase + item[1] if item[0] == "f" else item[1].gat()
    if item is None:
        return -1
    if item == "scratch":
        return scratch
    return int(item)


def _update_of(optimizer: Any) -> tuple[str, Any] | None:
    """The optimizer's own description of its update (``Optimizer._plan_update``)."""
    if optimizer is None:
        return None
    update = optimizer._plan_update()
    if update is None:
        raise LoweringError(f"the optimizer {type(optimizer).__name__}: the plan runs SGD, "
                            "Adam and AdamW steps")
    return update


class _Program:
    """A lowered step bound to its arena: the tensors it reads and writes are views into
    the arena from now on, and ``run`` replays the step after checking the guards."""

    def __init__(self, low: _Lowering, optimizer: Any) -> None:
        update = _update_of(optimizer)
        kind = update[0] if update is not None else None
        groups: list[tuple[dict, list[_Val]]] = []
        if optimizer is not None:
            where = {id(p): g for g in optimizer.param_groups for p in g["params"]}
            for g in optimizer.param_groups:
                mine = [v for v in low.leaves if where.get(id(v.tensor)) is g]
                if mine:
                    groups.append((g, mine))
        stepped = [v for _, vs in groups for v in vs]
        ids = {id(v) for v in stepped}
        params = stepped + [v for v in low.leaves if id(v) not in ids]  # stepped grads first
        states: list[tuple[_Val, dict, str, Tensor]] = []
        for g, vs in groups:
            for v in vs:
                st = optimizer.state.get(v.tensor, {})
                for key in _STATE_KEYS[kind](g):
                    t = st.get(key)
                    if not isinstance(t, Tensor) or t._data.shape != v.shape or \
                            t._data.dtype != low.dtype or not _plain(t):
                        raise LoweringError(f"the optimizer state '{key}' of a parameter is "
                                            "missing or not a plain tensor of its shape")
                    states.append((v, st, key, t))

        arena, state_off, tmp_grads, scratch = self._layout_arena(low, params, states)
        ins: list[tuple] = list(low.fwd)
        stepped_size = sum(v.size for v in stepped)
        if stepped_size:  # optimizer.zero_grad()
            ins.append((kp.ZERO, params[0].goff, stepped_size))
        ins.append((kp.ZERO, tmp_grads, scratch - tmp_grads))
        ins.append((kp.SEED, ("g", low.loss)))
        for group in reversed(low.bwd):
            ins.extend(group)
        fconst = list(low.fconst)
        offs = {(id(v), key): off for (v, _, key, _), off in zip(states, state_off)}
        hyper = self._emit_optimizer(kind, optimizer, groups, offs, scratch, ins, fconst)
        toffs = self._encode(low, ins, fconst, arena, scratch)
        self._hyper = [(g, self._fbase + k, last) for g, k, last in hyper]
        self._read_hyper = update[1] if update is not None else None
        self._bind_tensors(low, params, ids, states, state_off, toffs)
        self._optimizer = optimizer
        self._opt_state = optimizer.state if optimizer is not None else None
        self._n_groups = len(optimizer.param_groups) if optimizer is not None else 0
        self._group_lists = [(g, g["params"], len(g["params"])) for g, _ in groups]
        loss = low.loss
        self._loss = arena[loss.off:loss.off + 1].reshape(())

    def _layout_arena(self, low: _Lowering, params: list[_Val],
                      states: list[tuple[_Val, dict, str, Tensor]]
                      ) -> tuple[np.ndarray, list[int], int, int]:
        """Give every value, gradient and optimizer state its offset in one block: the
        parameters, their gradients (stepped ones first), the states, the inputs and
        numbers, the intermediate values and their gradients, then the scratch region.
        Returns the arena, the states' offsets, where the zeroed gradients begin and the
        scratch offset."""
        tmps = [v for k, v in low.values.items() if isinstance(k, Node) and v.store is v]
        size = 0

        def alloc(n: int) -> int:
            nonlocal size
            size += n
            return size - n

        for v in params:
            v.off = alloc(v.size)
        for v in params:
            v.goff = alloc(v.size)
        state_off = [alloc(v.size) for v, *_ in states]
        for v in low.inputs:
            v.off = alloc(v.size)
        for v, _ in low.numbers:
            v.off = alloc(1)
        for v in tmps:
            v.off = alloc(v.size)
        tmp_grads = size
        for v in tmps:
            v.goff = alloc(v.size)
        scratch = alloc(low.scratch)
        arena = np.zeros(max(size, 1), low.dtype)
        for v, x in low.numbers:  # cast to the step's dtype, as numpy casts x + 0.1
            arena[v.off] = x
        return arena, state_off, tmp_grads, scratch

    def _emit_optimizer(self, kind: str | None, optimizer: Any,
                        groups: list[tuple[dict, list[_Val]]], offs: dict, scratch: int,
                        ins: list[tuple], fconst: list[float]) -> list[tuple[dict, int, tuple]]:
        """Append the update of every stepped parameter to ``ins``; each group gets eight
        float constants for its options, filled (and refreshed) by ``run``.  Returns
        (group, constant index, options last written) per group."""
        hyper: list[tuple[dict, int, tuple]] = []
        self._steps: list[Tensor] = []
        for g, vs in groups:
            k = len(fconst)
            fconst.extend([0.0] * 8)
            hyper.append((g, k, ()))
            for v in vs:
                if kind == "sgd":
                    buf = offs.get((id(v), "momentum_buffer"), scratch)
                    ins.append((kp.SGD, v.off, v.goff, buf, v.size, ("f", k)))
                    continue
                st = optimizer.state[v.tensor]
                step = st.get("step")
                if not isinstance(step, Tensor) or step._data.shape != ():
                    raise LoweringError("an Adam parameter without a step count")
                self._steps.append(step)
                m, sq = offs[id(v), "exp_avg"], offs[id(v), "exp_avg_sq"]
                ins.append((kp.ADAM, v.off, v.goff, m, sq,
                            offs.get((id(v), "max_exp_avg_sq"), scratch), v.size, ("f", k),
                            int(step._data)))
        return hyper

    def _encode(self, low: _Lowering, ins: list[tuple], fconst: list[float],
                arena: np.ndarray, scratch: int) -> list[int]:
        """Write the program array: header, one row per instruction, the float constants
        (through a float64 view), then the class targets.  Large matrix products become
        BLAS rows whose operands are arena views made here once.  Returns the targets'
        offsets in the program array."""
        fbase = kp.HEADER + len(ins) * kp.WIDTH
        toffs, tsize = [], fbase + len(fconst)  # class targets after the float constants
        for t in low.targets:
            toffs.append(tsize)
            tsize += t._data.size
        ins = [tuple(toffs[x[1]] if isinstance(x, tuple) and x[0] == "t" else x for x in i)
               for i in ins]
        code = np.zeros(tsize, np.int64)
        code[0], code[1] = kp.MAGIC, len(ins)
        self._blas: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

        def matrix(ref: tuple) -> np.ndarray:
            item, r, c, trans = ref
            off = _operand(item, scratch, fbase)
            flat = arena[off:off + r * c]
            return flat.reshape(c, r).T if trans else flat.reshape(r, c)

        for i, instr in enumerate(ins):
            if instr[0] == kp.BLAS:  # (out, left, right) as views, made once
                _, (_, dst, left, right) = instr
                self._blas.append((matrix(left), matrix(right), matrix(dst)))
                instr = (kp.BLAS, len(self._blas) - 1)
            row = [instr[0]] + [_operand(x, scratch, fbase) for x in instr[1:]]
            code[kp.HEADER + i * kp.WIDTH:kp.HEADER + i * kp.WIDTH + len(row)] = row
        self._fbase = fbase
        self._fview = code.view(np.float64)
        self._fview[fbase:fbase + len(fconst)] = fconst
        self._code = code
        self.arena = arena
        self.ops = [_NAMES[i[0]] for i in ins]
        return toffs

    def _bind_tensors(self, low: _Lowering, params: list[_Val], ids: set[int],
                      states: list[tuple[_Val, dict, str, Tensor]], state_off: list[int],
                      toffs: list[int]) -> None:
        """Every tensor the step touches becomes a view into the arena (class targets into
        the program array), values kept; each parameter's ``.grad`` keeps its identity
        where it can, as accumulation does."""
        arena, code = self.arena, self._code
        bound: list[tuple[Tensor, np.ndarray]] = []

        def bind(t: Tensor, off: int) -> np.ndarray:
            view = arena[off:off + t._data.size].reshape(t._data.shape)
            view[...] = t._data
            t._data = view
            bound.append((t, view))
            return view

        for v in (*params, *low.inputs):
            bind(v.tensor, v.off)
        for t, off in zip(low.targets, toffs):  # class indices live in the program array
            view = code[off:off + t._data.size].reshape(t._data.shape)
            view[...] = t._data
            t._data = view
            bound.append((t, view))
        self._state = [(v.tensor, st, key, t, bind(t, off))
                       for (v, st, key, t), off in zip(states, state_off)]
        self._grads: list[tuple[Tensor, Tensor, np.ndarray, bool]] = []
        for v in params:
            t = v.tensor
            gview = arena[v.goff:v.goff + v.size].reshape(t._data.shape)
            g = t._grad
            if g is not None and _plain(g) and g._data.shape == gview.shape and \
                    g._data.dtype == gview.dtype:
                gview[...] = g._data
                g._data = gview  # .grad keeps its identity, as accumulation does
            else:
                g = _wrap(gview)
                t._grad = g
            self._grads.append((t, g, gview, id(v) in ids))
        self._checks = [(t, view, t._rg) for t, view in bound]

    def run(self) -> Tensor | object | None:
        """Replay the step, or return None when a guard says it no longer can: a tensor's
        data, ``requires_grad`` or ``.grad`` was replaced, a hook was added, or the
        optimizer's parameter groups changed.  ``_BAD_DATA``: a class target is out of
        range, and nothing but intermediate values was written."""
        for t, view, rg in self._checks:
            if t._data is not view or t._rg is not rg or t._x is not None and not _plain(t):
                return None
        opt = self._optimizer
        if opt is not None:
            if len(opt.param_groups) != self._n_groups:
                return None
            for g, lst, n in self._group_lists:
                if g["params"] is not lst or len(lst) != n:
                    return None
        if opt is not None and opt.state is not self._opt_state:
            return None  # load_state_dict: new state tensors
        for p, st, key, t, view in self._state:
            if self._opt_state.get(p) is not st or st.get(key) is not t or t._data is not view:
                return None
        for t, g, gview, stepped in self._grads:
            cur = t._grad
            if cur is not g:
                if cur is not None:
                    return None
                if not stepped:  # zero_grad(set_to_none=True) of an accumulating grad
                    gview[...] = 0
                t._grad = g
            if g._data is not gview:
                return None
        for i, (group, k, last) in enumerate(self._hyper):
            now = self._read_hyper(group)
            if now != last:  # a scheduler or the user changed an option: this step uses it
                if last and now[-1] != last[-1]:
                    return None  # the state the optimizer keeps changed (amsgrad, momentum)
                self._fview[k:k + len(now) - 1] = [float(x) for x in now[:-1]]
                self._hyper[i] = (group, k, now)
        code, arena = self._code, self.arena
        at = kp.run_plan(code, arena, 0)
        while at >= 0:  # a large matrix product: the eager path's BLAS, then the next op
            left, right, dst = self._blas[code[kp.HEADER + at * kp.WIDTH + 1]]
            matmul_2d(left, right, out=dst)
            at = kp.run_plan(code, arena, at + 1)
        if at == -2:  # a class index out of range: only forward values were written
            return _BAD_DATA
        for step in self._steps:  # Adam's per-parameter count, as its own step would
            step._data += 1
            step._vc[0] += 1
        for t, g, _, stepped in self._grads:
            g._vc[0] += 1
            if stepped:
                t._vc[0] += 1
        return _wrap(self._loss.copy())
