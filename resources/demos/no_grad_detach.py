"""Turning gradient tracking off: no_grad, detach(), frozen parameters and the speed gained.
关闭梯度跟踪：no_grad、detach()、冻结参数，以及由此带来的速度提升。

Run it with ``jitgrad demo no_grad_detach [--lang en|zh]``.
"""

import time

from _demo import B_START, W_START, say, timing, title  # JITGRAD_BACKEND=torch runs PyTorch

import engine as torch

x = torch.ones(5)
y = torch.zeros(3)
w = torch.tensor(W_START, requires_grad=True)
b = torch.tensor(B_START, requires_grad=True)

title("Tracking on and off", "开启与关闭跟踪")
say(
    """
    By default every operation on w or b is recorded, so the result requires grad. Inside
    `with torch.no_grad():` nothing is recorded: results have no grad_fn. This is what you
    want for inference, and for updating parameters in a training loop.
    """,
    """
    默认情况下，对 w 或 b 的每次运算都会被记录，所以结果需要梯度。
    在 `with torch.no_grad():` 中不做任何记录：结果没有 grad_fn。
    推理时、以及训练循环里更新参数时，正需要这样做。
    """,
)
z = torch.matmul(x, w) + b
print("tracked:     z.requires_grad =", z.requires_grad, "| z.grad_fn =", z.grad_fn.name())
with torch.no_grad():
    z = torch.matmul(x, w) + b
print("in no_grad:  z.requires_grad =", z.requires_grad, "| z.grad_fn =", z.grad_fn)
print("is_grad_enabled() outside no_grad:", torch.is_grad_enabled())

title("detach()", "detach()")
say(
    """
    detach() returns a tensor with the same values that is cut off from the graph: it
    requires no grad, and nothing done with it reaches w or b.
    """,
    """
    detach() 返回一个数值相同、但与计算图断开的张量：它不需要梯度，
    之后对它做的任何运算都不会传回 w 或 b。
    """,
)
z = torch.matmul(x, w) + b
z_det = z.detach()
print("z_det =", z_det)
print("z_det.requires_grad =", z_det.requires_grad, "| z_det.is_leaf =", z_det.is_leaf)

title("Freezing a parameter for fine-tuning", "冻结参数以进行微调")
say(
    """
    Fine-tuning often trains only part of a model. Turn requires_grad off on the frozen
    parameter (here w): backward() then fills only b.grad, and w.grad stays None.
    """,
    """
    微调时通常只训练模型的一部分。把被冻结参数（这里是 w）的 requires_grad
    关掉：backward() 只会填充 b.grad，而 w.grad 保持为 None。
    """,
)
w.requires_grad_(False)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
loss.backward()
print("w.grad =", w.grad)
print("b.grad =", b.grad)
w.requires_grad_(True)

title("What tracking costs", "跟踪的开销")
say(
    """
    Recording the graph costs time and memory: each op creates a node and keeps the values
    its backward needs. We time the same forward pass many times, with and without
    tracking. The numbers depend on your machine and change from run to run.
    """,
    """
    记录计算图需要时间和内存：每个运算都要创建节点，并保存反向传播所需的值。
    下面把同一个前向传播重复多次，分别在开启和关闭跟踪时计时。
    具体数字取决于你的机器，每次运行都会略有不同。
    """,
)


def forward() -> torch.Tensor:
    """One forward pass of the network, ending in the loss."""
    z = torch.matmul(x, w) + b
    return torch.nn.functional.binary_cross_entropy_with_logits(z, y)


def time_forward(repeats: int) -> float:
    """Microseconds per forward pass, the best of three rounds."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            forward()
        best = min(best, (time.perf_counter() - start) / repeats * 1e6)
    return best


forward()  # warm-up
tracked = time_forward(1000)
with torch.no_grad():
    untracked = time_forward(1000)
    print("loss computed without tracking requires grad:", forward().requires_grad)
timing(f"with tracking:    {tracked:8.1f} µs per forward",
       f"开启跟踪：        每次前向 {tracked:8.1f} 微秒")
timing(f"without tracking: {untracked:8.1f} µs per forward",
       f"关闭跟踪：        每次前向 {untracked:8.1f} 微秒")
timing(f"no_grad is {tracked / untracked:.2f}x as fast",
       f"no_grad 的速度是开启跟踪时的 {tracked / untracked:.2f} 倍")

# Leave a fresh, un-run graph behind: `jitgrad demo no_grad_detach --open` shows it in the lab.
w.grad = None
b.grad = None
loss = forward()
