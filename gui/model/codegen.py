"""The engine code equivalent to what the lab does, shown in the Code panel."""

from __future__ import annotations

import json

import numpy as np

import engine
from gui.model.config import NetworkConfig, TensorSpec, seeded_values, tensor_specs
from gui.model.graph_model import Op


def forward_code(cfg: NetworkConfig, ops: list[Op], no_grad: bool) -> str:
    """The engine code equivalent to the current network, tutorial style.

    Pasted into Python with real torch it rebuilds the lab's leaves bit for bit: the
    seeded parameters come from ``torch.manual_seed(seed)`` and ``randn`` in draw order,
    the others from literals.
    """
    lines = ["import engine as torch", ""]
    leaves = _drawn_leaves(cfg)
    if any(drawn for _, drawn in leaves):
        lines.append(f"torch.manual_seed({cfg.seed})")
    lines.extend(leaf_code(cfg, spec, drawn) for spec, drawn in leaves)
    ctx = "with torch.no_grad():\n    " if no_grad else ""
    # Unnamed intermediates (``x@w``, ``inp+1``) are valid expressions: inline them.
    body = [op_code(op, ops) for op in ops if op.output.isidentifier()]
    if ctx:
        lines.append(ctx.rstrip())
        lines.extend("    " + b for b in body)
    else:
        lines.extend(body)
    return "\n".join(lines)


def _drawn_leaves(cfg: NetworkConfig) -> list[tuple[TensorSpec, bool]]:
    """Each leaf, and whether ``torch.randn`` after the seed recreates it.

    A ``randn`` line only reproduces its parameter if every earlier draw happened too, so
    the rule is: a parameter is drawn while it and all parameters drawn before it still
    hold their seeded values; from the first hand-edited one on, literals.
    """
    seeded = seeded_values(cfg)
    in_step = True
    out: list[tuple[TensorSpec, bool]] = []
    for spec in tensor_specs(cfg):
        if spec.name in seeded:
            in_step = in_step and np.array_equal(cfg.values[spec.name], seeded[spec.name])
        out.append((spec, spec.name in seeded and in_step))
    return out


def leaf_code(cfg: NetworkConfig, spec: TensorSpec, drawn: bool = False) -> str:
    """The shortest constructor that recreates leaf ``spec``'s current values in float32;
    ``drawn`` (from :func:`_drawn_leaves`) says ``torch.randn`` does."""
    arr = np.asarray(cfg.values[spec.name], dtype=float)
    dims = ", ".join(str(d) for d in spec.shape)
    rg = spec.param and cfg.requires_grad.get(spec.name, True)
    flag = f", requires_grad={rg}" if spec.param else ""
    if drawn:
        return f"{spec.name} = torch.randn({dims}{flag})"
    if spec.name == "inp" and np.array_equal(arr, np.eye(cfg.n_in)):
        return f"inp = torch.eye({cfg.n_in}{flag})"
    if not arr.any():
        return f"{spec.name} = torch.zeros({dims}{flag})"
    if (arr == 1).all():
        return f"{spec.name} = torch.ones({dims}{flag})"
    if arr.size <= 16:
        vals = np.vectorize(_float32_literal, otypes=[object])(arr).tolist()
        return f"{spec.name} = torch.tensor({json.dumps(vals)}{flag})"
    return f"{spec.name} = torch.tensor(...)  # ({dims}) values from the table{flag and ','}" \
        f"{flag[1:]}"


def _float32_literal(v: float) -> float:
    """The shortest Python float that torch turns back into ``v``'s float32 value."""
    f = np.float32(v)
    short = float(str(f))
    # Decimal -> double -> float32 could in principle round twice; the exact double never does.
    return short if np.float32(short) == f else float(f)


def op_code(op: Op, ops: list[Op]) -> str:
    """``name = expr`` for one recorded op; ``ops`` resolves unnamed inputs."""
    a = [expr(x, ops) for x in op.inputs]
    if op.label == "matmul":
        code = f"torch.matmul({a[0]}, {a[1]})"
    elif op.label == "add":
        code = f"{a[0]} + {a[1]}"
    elif op.label == "pow":
        code = f"({a[0]}).pow(2)" if not a[0].isidentifier() else f"{a[0]}.pow(2)"
    elif op.label == "bce_with_logits":
        code = f"torch.nn.functional.binary_cross_entropy_with_logits({a[0]}, {a[1]})"
    elif op.label == "mse":
        code = f"(({a[0]} - {a[1]}) ** 2).mean()"
    elif op.label == "detach":
        code = f"{a[0]}.detach()"
    else:
        code = f"torch.{op.label}({a[0]})"
    return f"{op.output} = {code}"


def expr(name: str, ops: list[Op]) -> str:
    """Python for a tensor: its name, or the expression an unnamed one stands for."""
    if name.isidentifier() or name == "1":
        return name
    for op in ops:
        if op.output == name and op.label == "matmul":
            return f"torch.matmul({op.inputs[0]}, {op.inputs[1]})"
        if op.output == name and op.label == "add":
            return f"{op.inputs[0]} + {op.inputs[1]}"
    return name


def _root_gradient_code(root_name: str, tensors: dict[str, engine.Tensor]) -> str:
    """The ``gradient=`` argument for a non-scalar root, as the tutorial writes it."""
    return "torch.ones_like(inp)" if root_name == "out" and "inp" in tensors \
        else f"torch.ones_like({root_name})"


def backward_code(root_name: str, tensors: dict[str, engine.Tensor], has_gradient: bool,
                  retain_graph: bool) -> str:
    """``loss.backward(...)`` with the arguments the lab passes."""
    grad = _root_gradient_code(root_name, tensors) if root_name == "out" and "inp" in tensors \
        or has_gradient else ""
    args = [a for a in (grad, "retain_graph=True" if retain_graph else "") if a]
    return f"{root_name}.backward({', '.join(args)})"


def steps_args(root_name: str, tensors: dict[str, engine.Tensor], has_gradient: bool,
               retain_graph: bool) -> str:
    """The arguments of ``torch.autograd.backward_steps`` for the same pass."""
    parts = [root_name]
    if has_gradient:
        parts.append(_root_gradient_code(root_name, tensors))
    if retain_graph:
        parts.append("retain_graph=True")
    return ", ".join(parts)


def grad_fn_prints(tensors: dict[str, engine.Tensor], root_name: str) -> str:
    """What the tutorial prints: ``Gradient function for z = <AddBackward0 ...>``."""
    names = dict.fromkeys(n for n in ("z", root_name) if n in tensors)
    return "\n".join(f"Gradient function for {n} = {tensors[n].grad_fn}" for n in names)
