"""engine.nn against torch.nn: same architecture, same weights -> same outputs, names,
state dicts and reprs; plus Parameter, Module bookkeeping and engine.nn.init."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import engine
from engine import nn
from tests.engine._support.autograd_helpers import same_error

DT = {"float32": (engine.float32, torch.float32, 1e-5), "float64": (engine.float64,
                                                                     torch.float64, 1e-12)}


def both(build):
    """The same architecture built with each library (``build(lib_nn)``)."""
    return build(nn), build(torch.nn)


def all_layers(m):
    return m.Sequential(
        m.Linear(6, 8), m.ReLU(), m.Linear(8, 8), m.LeakyReLU(0.2), m.Dropout(0.3),
        m.Linear(8, 8, bias=False), m.GELU(), m.ELU(alpha=0.7), m.SiLU(),
        m.Softplus(beta=2.0, threshold=3.0), m.Identity(), m.Tanh(),
        m.Sequential(m.Linear(8, 5), m.Sigmoid()), m.Flatten(), m.Softmax(dim=1))


def copy_weights(dst: nn.Module, src: torch.nn.Module) -> None:
    dst.load_state_dict({k: engine.tensor(v.detach().numpy()) for k, v in
                         src.state_dict().items()})


@pytest.mark.parametrize("dt", list(DT))
def test_copied_weights_give_identical_outputs_and_grads(dt: str) -> None:
    edt, tdt, tol = DT[dt]
    em, tm = both(all_layers)
    tm = tm.to(tdt)
    em = em.to(edt)
    copy_weights(em, tm)
    em.eval()
    tm.eval()
    x = np.random.default_rng(0).standard_normal((4, 6))
    eo, to = em(engine.tensor(x, dtype=edt)), tm(torch.tensor(x, dtype=tdt))
    assert eo.dtype == edt
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=tol, atol=tol)
    w = np.random.default_rng(1).standard_normal(to.shape)
    (eo * engine.tensor(w, dtype=edt)).sum().backward()
    (to * torch.tensor(w, dtype=tdt)).sum().backward()
    for (en, ep), (tn, tp) in zip(em.named_parameters(), tm.named_parameters()):
        assert en == tn
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), rtol=tol * 10,
                                   atol=tol * 10)


ACTIVATIONS = {
    "ELU": lambda m: m.ELU(), "ELU_alpha": lambda m: m.ELU(alpha=2, inplace=True),
    "ELU_negative_alpha": lambda m: m.ELU(-0.5), "SiLU": lambda m: m.SiLU(),
    "SiLU_inplace": lambda m: m.SiLU(inplace=True), "Softplus": lambda m: m.Softplus(),
    "Softplus_options": lambda m: m.Softplus(2, 1.5), "LogSoftmax": lambda m: m.LogSoftmax(1),
    "LogSoftmax_last": lambda m: m.LogSoftmax(dim=-1),
    "LogSoftmax_first": lambda m: m.LogSoftmax(dim=0),
}


@pytest.mark.parametrize("dt", list(DT))
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_modules_match_torch(name: str, dt: str) -> None:
    edt, tdt, tol = DT[dt]
    em, tm = both(ACTIVATIONS[name])
    assert repr(em) == repr(tm)
    if getattr(tm, "inplace", False):  # accepted and shown, but the engine runs out of place
        return
    x = np.random.default_rng(2).uniform(-3, 3, (4, 5))
    ex = engine.tensor(x, dtype=edt, requires_grad=True)
    tx = torch.tensor(x, dtype=tdt, requires_grad=True)
    eo, to = em(ex), tm(tx)
    assert type(eo.grad_fn).__name__ == type(to.grad_fn).__name__
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=tol, atol=tol)
    w = np.random.default_rng(3).normal(size=(4, 5))
    (eo * engine.tensor(w, dtype=edt)).sum().backward()
    (to * torch.tensor(w, dtype=tdt)).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    same_error(lambda: em(engine.tensor([[1, 2]])), lambda: tm(torch.tensor([[1, 2]])))


def test_names_structure_and_repr_match_torch() -> None:
    em, tm = both(all_layers)
    assert repr(em) == repr(tm)
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert list(em.state_dict()) == list(tm.state_dict())
    assert [type(m).__name__ for m in em.modules()] == [type(m).__name__ for m in tm.modules()]
    assert [type(m).__name__ for m in em.children()] == \
        [type(m).__name__ for m in tm.children()]
    assert [n for n, _ in em.named_modules()] == [n for n, _ in tm.named_modules()]
    assert len(em) == len(tm) and type(em[-1]).__name__ == "Softmax"
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))


def test_custom_module_registers_attributes() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2)
            self.scale = nn.Parameter(engine.ones(2))
            self.register_buffer("offset", engine.zeros(2))
            self.note = "not registered"

        def forward(self, x: engine.Tensor) -> engine.Tensor:
            return self.fc(x) * self.scale + self.offset

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "fc.weight", "fc.bias"]
    assert list(net.state_dict()) == ["scale", "offset", "fc.weight", "fc.bias"]
    assert [n for n, _ in net.named_buffers()] == ["offset"]
    assert net(engine.ones(4, 3)).shape == (4, 2)
    shared = nn.Sequential(net.fc, net.fc)
    assert len(list(shared.parameters())) == 2
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter"):
        net.scale = engine.ones(2)
    del net.fc
    assert [n for n, _ in net.named_parameters()] == ["scale"]


def test_parameter_is_a_leaf_tensor_sharing_memory() -> None:
    data = engine.zeros(3)
    p = nn.Parameter(data)
    assert isinstance(p, nn.Parameter) and isinstance(p, engine.Tensor)
    assert not isinstance(data, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    data.numpy()[0] = 5.0
    assert p.tolist()[0] == 5.0
    assert not nn.Parameter(engine.zeros(1), requires_grad=False).requires_grad
    (p * 2).sum().backward()
    assert p.grad.tolist() == [2.0, 2.0, 2.0]


def test_parameter_is_a_tensor_subclass_printed_like_torchs() -> None:
    import torch

    p, tp = nn.Parameter(engine.tensor([1.0, 2.0])), torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    assert type(p) is nn.Parameter and issubclass(nn.Parameter, engine.Tensor)
    assert repr(p) == repr(tp).replace("torch.", "engine.")
    assert type(p * 2) is engine.Tensor and (p * 2).grad_fn.name() == "MulBackward0"


def test_linear_default_init_follows_torch() -> None:
    engine.manual_seed(0)
    lin = nn.Linear(50, 400)
    bound = 1 / math.sqrt(50)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert w.shape == (400, 50) and b.shape == (400,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound) has standard deviation bound / sqrt(3)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert abs(w.mean()) < 0.05 * bound
    assert lin.weight.dtype == engine.float32
    assert nn.Linear(2, 3, dtype=engine.float64).weight.dtype == engine.float64
    assert nn.Linear(2, 3, bias=False).bias is None
    engine.manual_seed(1)
    a = nn.Linear(4, 4).weight.tolist()
    engine.manual_seed(1)
    assert nn.Linear(4, 4).weight.tolist() == a


def test_state_dict_round_trip() -> None:
    a, b = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)), \
        nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x = engine.randn(5, 3)
    assert not np.allclose(a(x).detach().numpy(), b(x).detach().numpy())
    res = b.load_state_dict(a.state_dict())
    assert repr(res) == "<All keys matched successfully>"
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    sd = a.state_dict()
    assert all(not t.requires_grad for t in sd.values())
    weight_before = b[0].weight
    b.load_state_dict({k: v * 0 for k, v in sd.items()})
    assert b[0].weight is weight_before and b[0].weight.abs().sum().item() == 0
    assert a[0].weight.abs().sum().item() > 0  # a's tensors were not shared into b


def test_load_state_dict_errors() -> None:
    m = nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "bias"'):
        m.load_state_dict({"weight": engine.zeros(2, 3)})
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "extra"'):
        m.load_state_dict({**m.state_dict(), "extra": engine.zeros(1)})
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        m.load_state_dict({"weight": engine.zeros(3, 3), "bias": engine.zeros(2)})
    res = m.load_state_dict({"weight": engine.zeros(2, 3)}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == []


def test_train_eval_zero_grad_requires_grad() -> None:
    m = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.9))
    assert m.training and m[1].training
    m.eval()
    assert not m.training and not m[1].training
    x = engine.ones(2, 3)
    np.testing.assert_array_equal(m(x).detach().numpy(), m[0](x).detach().numpy())
    m.train()
    assert m[1].training
    m(x).sum().backward()
    assert m[0].weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert m[0].weight.grad.abs().sum().item() == 0
    m.zero_grad()
    assert m[0].weight.grad is None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    assert m[0](x).grad_fn is None


def test_dtype_conversion_keeps_parameter_objects() -> None:
    m = nn.Linear(2, 2)
    w = m.weight
    assert m.double() is m and m.weight is w and w.dtype == engine.float64
    assert m.float().weight.dtype == engine.float32
    assert m.to(engine.float64).bias.dtype == engine.float64
    assert m.to("cpu") is m
    assert isinstance(m.weight, nn.Parameter)


def test_init_functions() -> None:
    engine.manual_seed(0)
    t = nn.Parameter(engine.zeros(200, 100))
    assert nn.init.ones_(t) is t and t.detach().numpy().min() == 1
    nn.init.zeros_(t)
    assert t.detach().numpy().max() == 0 and t.grad_fn is None and t.requires_grad
    nn.init.uniform_(t, -2, 3)
    a = t.detach().numpy()
    assert a.min() >= -2 and a.max() < 3 and abs(a.mean() - 0.5) < 0.1
    nn.init.normal_(t, 1.0, 0.5)
    a = t.detach().numpy()
    assert abs(a.mean() - 1.0) < 0.02 and abs(a.std() - 0.5) < 0.02
    nn.init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * math.sqrt(6 / 300)
    assert np.abs(t.detach().numpy()).max() <= bound
    assert abs(t.detach().numpy().std() - bound / math.sqrt(3)) < 0.05 * bound
    nn.init.kaiming_uniform_(t, a=0, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 100)
    assert np.abs(t.detach().numpy()).max() <= bound
    nn.init.kaiming_uniform_(t, mode="fan_out")
    assert np.abs(t.detach().numpy()).max() <= math.sqrt(2) * math.sqrt(3 / 200)
    for name, param in (("relu", None), ("tanh", None), ("leaky_relu", 0.2), ("sigmoid", None),
                        ("linear", None), ("leaky_relu", None)):
        assert nn.init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param))
    with pytest.raises(ValueError, match="Fan in and fan out"):
        nn.init.xavier_uniform_(engine.zeros(3))
    v = t._version
    nn.init.zeros_(t)
    assert t._version == v + 1
