"""The issue's examples: small networks trained end to end with engine.nn and engine.optim,
written exactly as one would with torch."""

from __future__ import annotations

import sys
import time

import numpy as np

import engine
from engine import nn, optim
from engine.nn import functional as F  # noqa: N812 - the usual alias


def two_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons``, in numpy)."""
    t_up, t_down = rng.uniform(0, np.pi, n), rng.uniform(0, np.pi, n)
    up = np.stack([np.cos(t_up), np.sin(t_up)], 1)
    down = np.stack([1 - np.cos(t_down), 0.5 - np.sin(t_down)], 1)
    x = np.concatenate([up, down]) + rng.normal(0, noise, (2 * n, 2))
    y = np.concatenate([np.zeros(n, np.int64), np.ones(n, np.int64)])
    return x, y


def clusters(n_per_class: int, rng: np.random.Generator, centers: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs around ``centers`` (10 classes in 64 dims, like 8x8 digits)."""
    y = np.repeat(np.arange(len(centers)), n_per_class)
    x = centers[y] + rng.normal(0, 1.8, (len(y), centers.shape[1]))
    perm = rng.permutation(len(y))
    return x[perm], y[perm]


def progress(epoch: int, epochs: int, loss: float, acc: float, width: int = 20) -> str:
    done = round(width * epoch / epochs)
    return f"epoch {epoch:2d}/{epochs} [{'#' * done}{'.' * (width - done)}] " \
           f"loss {loss:.4f} acc {acc:.3f}"


def accuracy(model: nn.Module, x: engine.Tensor, y: np.ndarray) -> float:
    with engine.no_grad():
        return float((model(x).argmax(1).numpy() == y).mean())


def test_two_moons_mlp_reaches_95_percent() -> None:
    start = time.perf_counter()
    engine.manual_seed(0)
    rng = np.random.default_rng(0)
    x_np, y_np = two_moons(200, 0.1, rng)
    x, y = engine.tensor(x_np, dtype=engine.float32), engine.tensor(y_np)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    acc = accuracy(model, x, y_np)
    assert acc >= 0.95, acc
    assert time.perf_counter() - start < 10


def test_mlp_64_32_10_reaches_95_percent_test_accuracy(capsys) -> None:
    start = time.perf_counter()
    engine.manual_seed(1)
    rng = np.random.default_rng(1)
    centers = rng.normal(0, 1.0, (10, 64))
    x_train, y_train = clusters(100, rng, centers)
    x_test, y_test = clusters(30, rng, centers)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 10))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    sched = optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    xt = engine.tensor(x_test, dtype=engine.float32)
    epochs, batch = 15, 50
    for epoch in range(1, epochs + 1):
        model.train()
        order = rng.permutation(len(y_train))
        total = 0.0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(engine.tensor(x_train[idx], dtype=engine.float32)),
                                   engine.tensor(y_train[idx]), label_smoothing=0.05)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        model.eval()
        print(progress(epoch, epochs, total / len(order), accuracy(model, xt, y_test)),
              file=sys.stdout)
    acc = accuracy(model, xt, y_test)
    assert acc >= 0.95, acc
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == epochs and lines[-1].startswith(f"epoch {epochs}/{epochs} [####")
    assert time.perf_counter() - start < 10
