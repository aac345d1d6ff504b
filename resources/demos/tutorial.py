"""The whole autograd tutorial in the terminal: network, grad_fn, backward, retain_graph, VJP.
整个 autograd 教程的终端版：网络、grad_fn、反向传播、retain_graph 与向量-雅可比积。

Run it with ``jitgrad demo tutorial [--lang en|zh]`` or ``python resources/demos/tutorial.py``.
The code below is ordinary PyTorch code; only the import line differs.
"""

from _demo import B_START, W_START, say, title  # JITGRAD_BACKEND=torch runs PyTorch

import engine as torch

title("1. A one-layer network", "1. 单层神经网络")
say(
    """
    Training a network means nudging its parameters against the gradient of a loss.
    Autograd computes those gradients for us. We build the smallest interesting case:
    an input x of 5 features, a weight matrix w (5x3), a bias b (3) and a target y.
    The original tutorial draws w and b with randn; we use fixed numbers instead so the
    output is the same on every run and on every backend.
    """,
    """
    训练网络，就是沿着损失函数梯度的反方向，一点点调整参数。
    这些梯度由 autograd 自动求出。我们先搭一个最小的例子：
    输入 x 有 5 个特征，权重 w 是 5x3 的矩阵，偏置 b 有 3 个元素，目标值是 y。
    原教程用 randn 随机生成 w 和 b；这里换成固定的数值，
    这样每次运行、换用任何后端，输出都完全一样。
    """,
)

x = torch.ones(5)  # input tensor
y = torch.zeros(3)  # expected output
w = torch.tensor(W_START, requires_grad=True)
b = torch.tensor(B_START, requires_grad=True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)

print("z =", z)
print("loss =", loss)

title("2. Tensors, functions and the graph", "2. 张量、函数与计算图")
say(
    """
    Every operation on a tensor that requires grad records a node in a graph. The node is
    stored in the result's grad_fn: it knows how the result was made and how to send a
    gradient back to the inputs. w and b are the parameters we want to learn, so we set
    requires_grad=True on them.
    """,
    """
    对需要梯度的张量做的每一次运算，都会在计算图里记下一个节点，
    保存在结果张量的 grad_fn 属性中：它知道这个结果是怎么算出来的，
    也知道如何把梯度传回给输入。w 和 b 是要学习的参数，
    所以创建它们时设置了 requires_grad=True。
    """,
)
print("Gradient function for z =", z.grad_fn)
print("Gradient function for loss =", loss.grad_fn)
say(
    """
    Following next_functions walks the graph from the loss back to the leaves. A 1-D
    vector times a matrix is recorded as a matrix product (MmBackward0) followed by a
    squeeze (SqueezeBackward4); the leaves w and b are reached through AccumulateGrad.
    """,
    """
    沿着 next_functions 可以从损失一路走回叶子节点。一维向量乘矩阵
    被记录为矩阵乘法（MmBackward0）再加一次压缩维度（SqueezeBackward4）；
    叶子 w 和 b 通过 AccumulateGrad 节点连接到图上。
    """,
)
print("loss.grad_fn.next_functions =", loss.grad_fn.next_functions)
print("z.grad_fn.next_functions =", z.grad_fn.next_functions)

title("3. Computing gradients", "3. 计算梯度")
say(
    """
    To improve w and b we need d(loss)/dw and d(loss)/db. One call, loss.backward(),
    runs the graph backwards and leaves the results in w.grad and b.grad.
    """,
    """
    为了改进 w 和 b，需要损失对它们的导数 d(loss)/dw 和 d(loss)/db。
    只需调用一次 loss.backward()，计算图就会被反向执行，
    结果存放在 w.grad 和 b.grad 中。
    """,
)
loss.backward()
print(w.grad)
print(b.grad)
say(
    """
    Only leaves created with requires_grad=True get a .grad. Each row of w.grad equals
    b.grad here because every input feature is 1.
    """,
    """
    只有设置了 requires_grad=True 的叶子节点才会得到 .grad。
    因为输入的每个特征都是 1，所以 w.grad 的每一行都等于 b.grad。
    """,
)

title("4. Backward twice needs retain_graph", "4. 第二次反向传播需要 retain_graph")
say(
    """
    To save memory, backward() frees the values the graph kept for the backward pass.
    Calling it a second time on the same graph therefore fails:
    """,
    """
    为了节省内存，backward() 执行完后会释放计算图为反向传播保存的中间值。
    因此在同一个图上再调用一次就会报错：
    """,
)
try:
    loss.backward()
except RuntimeError as err:
    print("RuntimeError:", err)
say(
    """
    The fix is to pass retain_graph=True to every backward() call except the last one.
    Let us rebuild the graph, keep it, and run backward twice:
    """,
    """
    解决办法是：除最后一次外，每次调用 backward() 都传入 retain_graph=True。
    下面重新构建计算图、保留它，并执行两次反向传播：
    """,
)
w.grad = None
b.grad = None
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
loss.backward(retain_graph=True)
print("after the 1st backward, b.grad =", b.grad)
loss.backward()
print("after the 2nd backward, b.grad =", b.grad)
say(
    """
    The second call worked, and b.grad doubled: gradients add up in .grad.
    """,
    """
    第二次调用成功了，而 b.grad 变成了原来的两倍：梯度会在 .grad 中累加。
    """,
)

title("5. The graph is built anew on every forward pass", "5. 每次前向传播都会重建计算图")
say(
    """
    Conceptually autograd keeps a directed acyclic graph (DAG) of Function objects: the
    leaves are the input tensors, the root is the output. backward() starts at the root,
    applies the chain rule node by node and adds the results into the leaves' .grad.
    The graph is dynamic: each forward pass builds a fresh one, so Python if statements
    and loops may change its shape from one iteration to the next.
    """,
    """
    从概念上讲，autograd 维护着一个由 Function 对象构成的有向无环图（DAG）：
    叶子是输入张量，根是输出张量。backward() 从根出发，
    逐个节点应用链式法则，把结果累加到叶子的 .grad 里。
    这个图是动态的：每次前向传播都会新建一张图，
    所以 Python 的 if 语句和循环可以让每次迭代的图结构都不一样。
    """,
)

title("6. Vector-Jacobian products and accumulation", "6. 向量-雅可比积与梯度累加")
say(
    """
    When the output is a tensor rather than a single number, backward() needs a vector v
    of the output's shape and computes v^T . J, the vector-Jacobian product, without
    ever building the Jacobian J. Here out = (inp + 1)^2, so d(out)/d(inp) = 2 * (inp + 1):
    4 on the diagonal of the identity matrix and 2 elsewhere.
    """,
    """
    当输出是张量而不是单个数值时，backward() 需要一个与输出形状相同的向量 v，
    计算的是向量-雅可比积 v^T · J，而不必真正构造雅可比矩阵 J。
    这里 out = (inp + 1)^2，所以 d(out)/d(inp) = 2 * (inp + 1)：
    单位矩阵对角线上是 4，其余位置是 2。
    """,
)
inp = torch.eye(5, requires_grad=True)
out = (inp + 1).pow(2)
out.backward(torch.ones_like(inp), retain_graph=True)
print("First call\n", inp.grad)
out.backward(torch.ones_like(inp), retain_graph=True)
print("\nSecond call\n", inp.grad)
inp.grad.zero_()
out.backward(torch.ones_like(inp), retain_graph=True)
print("\nCall after zeroing gradients\n", inp.grad)
say(
    """
    The second call printed 8 and 4: backward() adds into .grad instead of overwriting it.
    Zero the gradients (inp.grad.zero_()) before each new pass to get the plain values.
    """,
    """
    第二次调用输出 8 和 4：backward() 是往 .grad 里累加，而不是覆盖。
    想要得到单次的梯度，每次反向传播前先用 inp.grad.zero_() 清零。
    """,
)

title("7. Turning tracking off", "7. 关闭梯度跟踪")
say(
    """
    Sometimes no history is needed: when we only run the network forward, or when we
    freeze some parameters to fine-tune the rest. Inside torch.no_grad() no graph is
    recorded, and detach() gives a tensor cut off from the graph.
    """,
    """
    有时并不需要记录计算历史：例如只做前向推理，或冻结一部分参数来微调其余参数。
    在 torch.no_grad() 中不会记录计算图；detach() 则返回一个与图断开的张量。
    """,
)
z = torch.matmul(x, w) + b
print("z.requires_grad =", z.requires_grad)
with torch.no_grad():
    z = torch.matmul(x, w) + b
print("inside no_grad: z.requires_grad =", z.requires_grad)
z_det = (torch.matmul(x, w) + b).detach()
print("after detach(): z_det.requires_grad =", z_det.requires_grad)
say(
    """
    Next steps: `jitgrad demo training` uses these gradients to train the network, and
    `jitgrad demo list` shows the other demos.
    """,
    """
    下一步：`jitgrad demo training` 用这些梯度来训练网络；
    `jitgrad demo list` 列出其他示例。
    """,
)

# Leave a fresh, un-run graph behind: `jitgrad demo tutorial --open` shows it in the lab,
# ready to step through backward() node by node.
w.grad = None
b.grad = None
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
