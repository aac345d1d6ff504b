"""The vector-Jacobian product example: gradients add up until you zero them.
向量-雅可比积示例：梯度会一直累加，直到手动清零。

Run it with ``jitgrad demo accumulation [--lang en|zh]``.
"""

from _demo import say, title  # bilingual text; JITGRAD_BACKEND=torch switches to PyTorch

import engine as torch

title("A tensor output", "输出是张量")
say(
    """
    out = (inp + 1)^2 has the same shape as inp, so backward() needs a vector v of that
    shape: it returns v^T . J (the vector-Jacobian product) without building J. With v all
    ones the result is d(out)/d(inp) = 2 * (inp + 1): 4 where inp is 1, 2 where it is 0.
    """,
    """
    out = (inp + 1)^2 与 inp 形状相同，所以 backward() 需要一个同形状的向量 v：
    它计算向量-雅可比积 v^T · J，而不用构造 J 本身。v 全为 1 时，
    结果就是 d(out)/d(inp) = 2 * (inp + 1)：inp 为 1 处得 4，为 0 处得 2。
    """,
)
inp = torch.eye(5, requires_grad=True)
out = (inp + 1).pow(2)
print("out.grad_fn =", out.grad_fn.name())

out.backward(torch.ones_like(inp), retain_graph=True)
print("First call\n", inp.grad)

title("Calling backward again", "再次调用 backward")
say(
    """
    The same call again does not overwrite inp.grad: it adds to it, so every value doubles.
    Accumulation is what lets several losses, or several mini-batches, share one .grad.
    """,
    """
    再次执行同样的调用，并不会覆盖 inp.grad，而是在原值上累加，所以每个值都翻倍。
    正因为有累加，多个损失或多个小批量才能共用同一个 .grad。
    """,
)
out.backward(torch.ones_like(inp), retain_graph=True)
print("Second call\n", inp.grad)

title("Zeroing first", "先清零")
say(
    """
    inp.grad.zero_() resets the buffer in place (it is the same tensor object), and the
    next call gives the single-pass values again. Optimizers do this before every step.
    """,
    """
    inp.grad.zero_() 原地把缓冲区清零（仍是同一个张量对象），
    下一次调用又会得到单次的梯度值。优化器在每一步之前都会这样做。
    """,
)
grad_before = inp.grad
inp.grad.zero_()
out.backward(torch.ones_like(inp), retain_graph=True)
print("Call after zeroing gradients\n", inp.grad)
print("same .grad object as before:", inp.grad is grad_before)
