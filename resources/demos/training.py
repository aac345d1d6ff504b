"""The next step: train the one-layer network with plain SGD until the loss is small.
下一步：用最朴素的 SGD 训练单层网络，直到损失足够小。

Run it with ``jitgrad demo training [--lang en|zh]``.
"""

import time

from _demo import say, timing, title  # bilingual text; JITGRAD_BACKEND=torch switches backend
from tqdm import tqdm

import engine as torch

title("Data", "数据")
say(
    """
    Eight samples of five features each, and three yes/no labels per sample: label 0 says
    "feature 0 > feature 1", label 1 says "the features sum to more than 0", label 2 says
    "feature 4 > 0". Each rule is linear, so one layer can learn all three.
    """,
    """
    共 8 个样本，每个样本 5 个特征、3 个是/否标签：标签 0 表示“特征 0 大于特征 1”，
    标签 1 表示“特征之和大于 0”，标签 2 表示“特征 4 大于 0”。
    三条规则都是线性的，所以单层网络就能全部学会。
    """,
)
X = torch.tensor([[0.9, -0.2, 0.4, -0.7, 0.1],
                  [-0.5, 0.8, -0.3, 0.2, 0.6],
                  [0.3, 0.1, -0.9, 0.5, -0.4],
                  [-0.8, -0.6, 0.2, 0.7, 0.3],
                  [0.6, 0.4, 0.5, -0.1, -0.8],
                  [-0.2, -0.9, -0.4, -0.3, 0.9],
                  [0.1, 0.7, 0.8, 0.6, -0.2],
                  [-0.7, 0.3, -0.6, -0.5, -0.1]])
Y = torch.tensor([[1.0, 1.0, 1.0],
                  [0.0, 1.0, 1.0],
                  [1.0, 0.0, 0.0],
                  [0.0, 0.0, 1.0],
                  [1.0, 1.0, 0.0],
                  [1.0, 0.0, 1.0],
                  [0.0, 1.0, 0.0],
                  [0.0, 0.0, 0.0]])
w = torch.zeros(5, 3, requires_grad=True)
b = torch.zeros(3, requires_grad=True)
lr = 2.0
target_loss = 0.05
max_steps = 2000


def forward() -> torch.Tensor:
    """The network on the whole batch, and its mean binary cross-entropy."""
    z = torch.matmul(X, w) + b
    return torch.nn.functional.binary_cross_entropy_with_logits(z, Y)


title("Why the update runs under no_grad", "为什么参数更新要放在 no_grad 中")
say(
    """
    One SGD step is w <- w - lr * w.grad. Written as w -= lr * w.grad on a leaf that
    requires grad, autograd refuses, because it would have to record an in-place
    change of a parameter:
    """,
    """
    SGD 的一步是 w <- w - lr * w.grad。如果直接在需要梯度的叶子上写
    w -= lr * w.grad，会被拒绝，因为 autograd 将不得不记录对参数的原地修改：
    """,
)
forward().backward()
try:
    w -= lr * w.grad
except RuntimeError as err:
    print("RuntimeError:", err)
w.grad = None
b.grad = None
say(
    """
    Inside torch.no_grad() the update is plain arithmetic on the values, which is what we
    want. After each step the gradients are zeroed, otherwise they would accumulate.
    """,
    """
    在 torch.no_grad() 中，更新只是对数值的普通运算，这正是我们需要的。
    每一步之后都要把梯度清零，否则它们会不断累加。
    """,
)

title("Training", "训练")
history = []
start = time.perf_counter()
bar = tqdm(range(1, max_steps + 1), desc="SGD", unit="step", disable=None)
for step in bar:
    loss = forward()
    history.append(loss.item())
    if history[-1] < target_loss:
        bar.set_postfix(loss=f"{history[-1]:.4f}")
        break
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    if step % 10 == 0:
        bar.set_postfix(loss=f"{history[-1]:.4f}")
bar.close()
elapsed = time.perf_counter() - start

for i in (0, 10, 50, 100, len(history) - 1):
    if i < len(history):
        print(f"step {i:4d}: loss = {history[i]:.4f}")

title("Summary", "总结")
with torch.no_grad():
    predictions = (torch.sigmoid(torch.matmul(X, w) + b) > 0.5).float()
    accuracy = (predictions == Y).float().mean().item()
steps = len(history) - 1
print(f"steps: {steps} | first loss: {history[0]:.4f} | final loss: {history[-1]:.4f}")
print(f"accuracy on the 24 labels: {accuracy:.0%}")
print("w =", w)
print("b =", b)
timing(f"{steps} steps in {elapsed:.2f} s ({elapsed / max(steps, 1) * 1e6:.0f} µs per step)",
       f"{steps} 步用时 {elapsed:.2f} 秒（每步 {elapsed / max(steps, 1) * 1e6:.0f} 微秒）")
say(
    f"""
    Starting from all-zero parameters (loss log 2 = 0.6931) plain gradient descent reached
    a loss below {target_loss} in {steps} steps. torch.optim.SGD does exactly these updates
    for you; the loop above is what it hides.
    """,
    f"""
    从全零参数开始（损失为 log 2 = 0.6931），朴素梯度下降用 {steps} 步
    把损失降到了 {target_loss} 以下。torch.optim.SGD 做的就是同样的更新，
    上面的循环正是它背后隐藏的过程。
    """,
)

title("The same training, compiled", "同样的训练，编译执行")
say(
    """
    The loop above rebuilds the same small graph at every step, so most of its time goes to
    Python bookkeeping, not arithmetic. torch.optim.SGD does the update, and JitGrad's
    engine.autograd.Plan captures one whole step (forward, backward, update) after two
    identical eager steps and replays it as one compiled Numba call. It is an extension of
    the engine: with real PyTorch this part runs the ordinary loop. Both give the numbers
    of the loop above.
    """,
    """
    上面的循环每一步都重建同一张小图，所以大部分时间花在 Python 的簿记上，而不是算术。
    这里由 torch.optim.SGD 负责更新，而 JitGrad 的 engine.autograd.Plan 会在两步相同的普通执行之后
    捕获完整的一步（前向、反向、更新），并把它作为一次编译好的 Numba 调用来重放。
    这是引擎自己的扩展：用真正的 PyTorch 运行时，这部分执行普通循环。
    两者给出的数值都与上面的循环相同。
    """,
)
w_c = torch.zeros(5, 3, requires_grad=True)
b_c = torch.zeros(3, requires_grad=True)
sgd = torch.optim.SGD([w_c, b_c], lr=lr)


def compiled_loss() -> torch.Tensor:
    return torch.nn.functional.binary_cross_entropy_with_logits(torch.matmul(X, w_c) + b_c, Y)


def eager_step() -> torch.Tensor:
    sgd.zero_grad()
    loss_c = compiled_loss()
    loss_c.backward()
    sgd.step()
    return loss_c


plan = torch.autograd.Plan(compiled_loss, sgd) if hasattr(torch.autograd, "Plan") else None
run_step = plan or eager_step
for _ in range(3):  # two eager steps, then the capture
    run_step()
start = time.perf_counter()
for _ in range(steps - 3):  # the rest of the steps above
    run_step()
per_step = (time.perf_counter() - start) / max(steps - 3, 1)
with torch.no_grad():
    final_c = compiled_loss().item()
print(f"{steps} steps, then the loss: {final_c:.4f}, w =")
print(w_c.detach())
compiled = plan is not None and plan.compiled
timing(f"{'compiled Plan' if compiled else 'eager loop'}: {per_step * 1e6:.1f} µs per step, "
       f"the hand-written loop {elapsed / max(steps, 1) * 1e6:.0f} µs",
       f"{'编译好的 Plan' if compiled else '普通循环'}：每步 {per_step * 1e6:.1f} 微秒，"
       f"手写循环每步 {elapsed / max(steps, 1) * 1e6:.0f} 微秒")
