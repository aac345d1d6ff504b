"""A graph rebuilt on every call: Python if/for on the data change its shape.
每次调用都重建的计算图：依据数据的 Python if/for 会改变图的结构。

Run it with ``jitgrad demo dynamic_graph [--lang en|zh]``.
"""

from _demo import say, title  # bilingual text; JITGRAD_BACKEND=torch switches to PyTorch

import engine as torch


def grad_fn_chain(t: torch.Tensor) -> list[str]:
    """Node names from ``t.grad_fn`` back to a leaf, following each node's first input."""
    names = []
    fn = t.grad_fn
    while fn is not None:
        names.append(fn.name())
        inputs = [nxt for nxt, _ in fn.next_functions if nxt is not None]
        fn = inputs[0] if inputs else None
    return names


def count_nodes(t: torch.Tensor) -> int:
    """How many distinct nodes the backward pass from ``t`` would visit."""
    seen, todo = set(), [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        todo.extend(nxt for nxt, _ in fn.next_functions)
    return len(seen)


w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)


def model(data: torch.Tensor) -> torch.Tensor:
    """A tiny model whose structure depends on the data it is given."""
    h = w * data
    if h.sum() > 0:  # a Python if on a value computed from the data
        h = torch.relu(h)
    else:
        h = torch.tanh(h)
    for _ in range(int(data.abs().sum().item())):  # a loop whose length comes from the data
        h = h * 0.5 + 1
    return h.pow(2).mean()


title("Define-by-run", "边运行边定义")
say(
    """
    There is no separate graph definition: the graph is whatever the Python code did on
    this call. Here the branch (relu or tanh) and the number of loop turns depend on the
    input, so each call records a different graph, and backward() follows exactly the
    graph of its own call.
    """,
    """
    这里没有单独的“定义计算图”步骤：这次调用中 Python 代码做了什么，图就是什么。
    下面的分支（relu 或 tanh）和循环次数都取决于输入，
    所以每次调用都会记录一张不同的图，而 backward() 只沿着本次调用的图执行。
    """,
)

batches = [
    torch.tensor([1.0, 0.0, 1.0]),
    torch.tensor([0.0, 1.0, 0.0]),
    torch.tensor([1.0, 1.0, 1.0]),
]
for step, data in enumerate(batches, 1):
    w.grad = None
    loss = model(data)
    loss.backward()
    chain = grad_fn_chain(loss)
    print(f"call {step}: data = {data.tolist()}  loss = {loss.item():.4f}")
    print(f"  nodes in graph: {count_nodes(loss)}")
    print("  grad_fn chain:", " <- ".join(chain))
    print("  w.grad =", w.grad)

say(
    """
    The three chains differ: call 1 went through ReluBackward0 and looped twice, call 2
    took TanhBackward0 and looped once, call 3 looped three times. Nothing had to be
    declared in advance, and each graph was freed by its own backward().
    """,
    """
    三条链各不相同：第 1 次经过 ReluBackward0 并循环两次，
    第 2 次经过 TanhBackward0 且只循环一次，第 3 次循环了三次。
    无需事先声明任何结构，每张图都在自己的 backward() 之后被释放。
    """,
)

# Leave a fresh, un-run graph behind: `jitgrad demo dynamic_graph --open` shows the graph of
# the first batch in the lab, ready to step.
w.grad = None
loss = model(batches[0])
