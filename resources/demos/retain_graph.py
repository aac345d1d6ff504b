"""A second backward() fails once the graph is freed; retain_graph=True keeps it.
计算图释放后第二次 backward() 会失败；retain_graph=True 可以保留计算图。

Run it with ``jitgrad demo retain_graph [--lang en|zh]``.
"""

from _demo import B_START, W_START, say, title  # JITGRAD_BACKEND=torch runs PyTorch

import engine as torch

x = torch.ones(5)
y = torch.zeros(3)
w = torch.tensor(W_START, requires_grad=True)
b = torch.tensor(B_START, requires_grad=True)


def forward() -> torch.Tensor:
    """The tutorial's one-layer network and its loss."""
    z = torch.matmul(x, w) + b
    return torch.nn.functional.binary_cross_entropy_with_logits(z, y)


title("Without retain_graph", "不使用 retain_graph")
say(
    """
    Nodes keep some forward values (here the matrix-product inputs and the logits) for the
    backward pass. backward() frees them as soon as it is done, so the memory of a big
    graph is returned at once. A second backward() through the same graph then fails.
    """,
    """
    节点会为反向传播保存一些前向计算的值（这里是矩阵乘法的输入和 logits）。
    backward() 一结束就释放它们，大型计算图占用的内存可以立刻归还。
    于是，在同一个图上第二次调用 backward() 就会失败。
    """,
)
loss = forward()
loss.backward()
print("first backward:  b.grad =", b.grad)
try:
    loss.backward()
except RuntimeError as err:
    print("second backward: RuntimeError:", err)
print("after the failed call b.grad is unchanged:", b.grad)

title("With retain_graph=True", "使用 retain_graph=True")
say(
    """
    Passing retain_graph=True keeps the saved values, so the graph can be run again. The
    gradients of the two calls add up in .grad. The last call may omit the flag, which
    frees the graph.
    """,
    """
    传入 retain_graph=True 会保留这些保存的值，于是计算图可以再次执行。
    两次调用的梯度在 .grad 中相加。最后一次调用可以不带这个参数，
    这样计算图会被释放。
    """,
)
w.grad = None
b.grad = None
loss = forward()
loss.backward(retain_graph=True)
print("1st backward (retain_graph=True): b.grad =", b.grad)
loss.backward()
print("2nd backward:                     b.grad =", b.grad)

title("A graph that saved nothing", "没有保存任何值的计算图")
say(
    """
    The error is about freed saved values, not about the graph itself. (a + 1).sum() needs
    no forward values for its gradient, so it can be run backwards twice even without the
    flag, exactly as in PyTorch.
    """,
    """
    这个错误针对的是已被释放的保存值，而不是计算图本身。
    (a + 1).sum() 求梯度时不需要任何前向值，所以即使不加这个参数
    也能反向传播两次，和 PyTorch 的行为完全一致。
    """,
)
a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
s = (a + 1).sum()
s.backward()
s.backward()
print("a.grad after two calls =", a.grad)

# Leave a fresh, un-run graph behind: `jitgrad demo retain_graph --open` shows it in the lab,
# where the retain_graph switch decides whether a second backward works.
w.grad = None
b.grad = None
loss = forward()
