"""The tutorial's one-layer network: its grad_fn nodes, loss.backward(), w.grad and b.grad.
教程中的单层网络：grad_fn 节点、loss.backward()、w.grad 与 b.grad。

Run it with ``jitgrad demo one_layer [--lang en|zh]``.
"""

from _demo import B_START, W_START, say, title  # JITGRAD_BACKEND=torch runs PyTorch

import engine as torch

title("The network", "网络")
say(
    """
    x is the input (five ones), y the target (three zeros). w and b are the parameters, so
    they are created with requires_grad=True. Fixed numbers replace randn so every run, on
    JitGrad or on PyTorch, prints the same values.
    """,
    """
    x 是输入（五个 1），y 是目标（三个 0）。w 和 b 是参数，
    所以创建时设置 requires_grad=True。这里用固定数值代替 randn，
    无论运行多少次、用 JitGrad 还是 PyTorch，打印的数值都相同。
    """,
)
x = torch.ones(5)
y = torch.zeros(3)
w = torch.tensor(W_START, requires_grad=True)
b = torch.tensor(B_START, requires_grad=True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
print("z    =", z)
print("loss =", loss)

title("The graph behind loss", "loss 背后的计算图")
say(
    """
    Each result remembers the node that made it (grad_fn); each node lists where the
    gradient goes next (next_functions). Leaves show is_leaf=True and have no grad_fn.
    """,
    """
    每个结果都记得生成它的节点（grad_fn）；每个节点列出梯度接下来流向哪里
    （next_functions）。叶子节点 is_leaf=True，没有 grad_fn。
    """,
)
print("loss.grad_fn =", loss.grad_fn.name())
print("z.grad_fn    =", z.grad_fn.name())
matmul_node = z.grad_fn.next_functions[0][0]
print("z.grad_fn.next_functions      ->",
      [fn.name() for fn, _ in z.grad_fn.next_functions])
print("SqueezeBackward4.next_functions ->",
      [fn.name() for fn, _ in matmul_node.next_functions])
mm_node = matmul_node.next_functions[0][0]
print("MmBackward0.next_functions     ->",
      [None if fn is None else fn.name() for fn, _ in mm_node.next_functions])
bias_leaf = z.grad_fn.next_functions[1][0]
print("AccumulateGrad.variable is b:", bias_leaf.variable is b)
print("is_leaf: w", w.is_leaf, "| b", b.is_leaf, "| z", z.is_leaf, "| loss", loss.is_leaf)
say(
    """
    The x input has no slot in the graph (None): it does not require grad, so no
    gradient is sent to it.
    """,
    """
    输入 x 在图中对应 None：它不需要梯度，所以不会有梯度传给它。
    """,
)

title("Backward", "反向传播")
loss.backward()
print("w.grad =", w.grad)
print("b.grad =", b.grad)
say(
    """
    Check by hand: for the mean of binary cross-entropy over 3 outputs,
    d(loss)/dz = (sigmoid(z) - y) / 3. b enters z with weight 1, so b.grad is exactly that;
    w.grad[i, j] = x[i] * d(loss)/dz[j], and x is all ones.
    """,
    """
    手算验证：对 3 个输出取平均的二元交叉熵，d(loss)/dz = (sigmoid(z) - y) / 3。
    b 以系数 1 加到 z 上，所以 b.grad 正好等于它；
    w.grad[i, j] = x[i] * d(loss)/dz[j]，而 x 全是 1。
    """,
)
with torch.no_grad():
    by_hand = (torch.sigmoid(z) - y) / 3
print("(sigmoid(z) - y) / 3 =", by_hand)

# Leave a fresh, un-run graph behind: `jitgrad demo one_layer --open` shows it in the lab,
# ready to step through backward() node by node.
w.grad = None
b.grad = None
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
