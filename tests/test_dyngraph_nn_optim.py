"""dg.nn modules and dg.optim against a hand-written NumPy reference (always)
and against PyTorch (only where torch is installed; CI does not install it)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dyngraph as dg
from dyngraph import nn

RNG = np.random.default_rng(11)
X = RNG.standard_normal((8, 4))
T = RNG.standard_normal((8, 3))


# ---- modules ------------------------------------------------------------------------

class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(4, 5, dtype=np.float64)
        self.act = nn.Tanh()
        self.out = nn.Linear(5, 3, bias=False, dtype=np.float64)
        self.scale = nn.Parameter(np.array([2.0]))
        self.not_a_param = dg.tensor([1.0])

    def forward(self, x):
        return self.out(self.act(self.hidden(x))) * self.scale


def test_module_registers_parameters_in_order():
    model = TwoLayer()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["scale", "hidden.weight", "hidden.bias", "out.weight"]
    params = list(model.parameters())
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in params)
    assert params[1].shape == (5, 4) and params[2].shape == (5,) and params[3].shape == (3, 5)
    assert [type(m).__name__ for m in model.children()] == ["Linear", "Tanh", "Linear"]


def test_module_call_backward_and_zero_grad():
    model = TwoLayer()
    loss = nn.MSELoss()(model(dg.tensor(X)), dg.tensor(T))
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_eval_propagate():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    assert model.training and model[1][0].training
    assert model.eval() is model
    assert not model.training and not model[1].training and not model[1][1].training
    model.train()
    assert model[1][1].training


def test_sequential_forward_and_indexing():
    dg.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 6, dtype=np.float64), nn.ReLU(),
                          nn.Linear(6, 2, dtype=np.float64), nn.Sigmoid())
    assert len(model) == 4 and isinstance(model[2], nn.Linear)
    w1, b1 = model[0].weight.detach().numpy(), model[0].bias.detach().numpy()
    w2, b2 = model[2].weight.detach().numpy(), model[2].bias.detach().numpy()
    expected = 1 / (1 + np.exp(-(np.maximum(X @ w1.T + b1, 0) @ w2.T + b2)))
    np.testing.assert_allclose(model(dg.tensor(X)).detach().numpy(), expected, rtol=1e-12)
    assert "Linear(in_features=4, out_features=6, bias=True)" in repr(model)


def test_linear_init_and_dtype():
    dg.manual_seed(0)
    lin = nn.Linear(100, 7)
    w = lin.weight.detach().numpy()
    assert w.dtype == np.float32 and lin.bias.dtype == np.float32
    assert np.abs(w).max() <= 1 / math.sqrt(100) and np.abs(w).max() > 0.05
    assert nn.Linear(3, 2, bias=False).bias is None


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    pred, target = dg.tensor(X[:, :3], requires_grad=True), dg.tensor(T)
    loss = nn.MSELoss(reduction)(pred, target)
    sq = (X[:, :3] - T) ** 2
    expected = {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction]
    np.testing.assert_allclose(loss.detach().numpy(), expected, rtol=1e-12)
    loss.sum().backward()
    scale = {"mean": 1 / sq.size, "sum": 1.0, "none": 1.0}[reduction]
    np.testing.assert_allclose(pred.grad.numpy(), 2 * (X[:, :3] - T) * scale, rtol=1e-12)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss("max")(pred, target)


def test_cross_entropy_loss():
    logits = dg.tensor(X[:, :3], requires_grad=True)
    labels = np.array([0, 2, 1, 1, 0, 2, 2, 1])
    loss = nn.CrossEntropyLoss()(logits, dg.tensor(labels))
    z = X[:, :3] - X[:, :3].max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    np.testing.assert_allclose(loss.item(), -logp[np.arange(8), labels].mean(), rtol=1e-12)


def test_state_dict_round_trip():
    a, b = TwoLayer(), TwoLayer()
    b.load_state_dict(a.state_dict())
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa.detach().numpy(), pb.detach().numpy())
    with pytest.raises(KeyError):
        b.load_state_dict({"scale": np.ones(1)})


def test_module_needs_super_init():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(AttributeError, match="super"):
        Broken()


# ---- optimizers: NumPy reference ---------------------------------------------------

def np_sgd(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """torch.optim.SGD's update, written out."""
    state = {}

    def step(name, p, g):
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if name not in state else momentum * state[name] + (1 - dampening) * g
            state[name] = buf
            g = g + momentum * buf if nesterov else buf
        return p - lr * g
    return step


def np_adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """torch.optim.Adam's update (bias-corrected), written out."""
    state = {}

    def step(name, p, g):
        g = g + weight_decay * p
        m, v, t = state.get(name, (np.zeros_like(p), np.zeros_like(p), 0))
        t += 1
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        state[name] = (m, v, t)
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return step


def np_linear_grads(w, b):
    """Loss and gradients of mean((x @ w.T + b - t)**2)."""
    diff = X @ w.T + b - T
    dy = 2 * diff / diff.size
    return float((diff ** 2).mean()), dy.T @ X, dy.sum(0)


OPTIMIZERS = {
    "sgd": (lambda ps: dg.optim.SGD(ps, lr=0.1), lambda: np_sgd(0.1)),
    "sgd-momentum": (lambda ps: dg.optim.SGD(ps, lr=0.05, momentum=0.9),
                     lambda: np_sgd(0.05, momentum=0.9)),
    "sgd-nesterov-wd": (
        lambda ps: dg.optim.SGD(ps, lr=0.05, momentum=0.8, weight_decay=0.01, nesterov=True),
        lambda: np_sgd(0.05, momentum=0.8, weight_decay=0.01, nesterov=True)),
    "sgd-dampening": (lambda ps: dg.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.5),
                      lambda: np_sgd(0.05, momentum=0.9, dampening=0.5)),
    "adam": (lambda ps: dg.optim.Adam(ps, lr=0.05), lambda: np_adam(0.05)),
    "adam-wd": (lambda ps: dg.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1),
                lambda: np_adam(0.01, betas=(0.8, 0.99), weight_decay=0.1)),
}


def _train_dyngraph(make_opt, steps=8):
    dg.manual_seed(4)
    model = nn.Linear(4, 3, dtype=np.float64)
    w0, b0 = model.weight.detach().numpy().copy(), model.bias.detach().numpy().copy()
    opt = make_opt(model.parameters())
    losses, params = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.MSELoss()(model(dg.tensor(X)), dg.tensor(T))
        loss.backward()
        opt.step()
        losses.append(loss.item())
        params.append((model.weight.detach().numpy().copy(), model.bias.detach().numpy().copy()))
    return (w0, b0), losses, params


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_matches_numpy_reference(name):
    make_opt, make_ref = OPTIMIZERS[name]
    (w, b), losses, params = _train_dyngraph(make_opt)
    ref = make_ref()
    for loss, (pw, pb) in zip(losses, params):
        ref_loss, gw, gb = np_linear_grads(w, b)
        w, b = ref("w", w, gw), ref("b", b, gb)
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
        np.testing.assert_allclose(pw, w, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(pb, b, rtol=1e-12, atol=1e-14)
    assert losses[-1] < losses[0]


def test_optimizer_zero_grad_and_param_checks():
    p = dg.tensor(np.ones(2), requires_grad=True)
    opt = dg.optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradients: nothing happens
    assert p.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        dg.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError):
        dg.optim.SGD([dg.tensor([1.0])], lr=0.1)


def test_optimizer_param_groups():
    a, b = dg.tensor(np.ones(1), requires_grad=True), dg.tensor(np.ones(1), requires_grad=True)
    opt = dg.optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    (a + b).sum().backward()
    opt.step()
    assert a.tolist() == [0.9] and b.tolist() == [0.0]


# ---- optimizers: PyTorch ---------------------------------------------------------

TORCH_OPTIMIZERS = {
    "sgd-momentum": ("SGD", {"lr": 0.05, "momentum": 0.9}),
    "sgd-nesterov-wd": ("SGD", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.01,
                                "nesterov": True}),
    "adam": ("Adam", {"lr": 0.05}),
    "adam-wd": ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
}


@pytest.mark.parametrize("name", list(TORCH_OPTIMIZERS))
def test_optimizer_matches_torch(name):
    torch = pytest.importorskip("torch")
    cls_name, kwargs = TORCH_OPTIMIZERS[name]
    (w0, b0), losses, params = _train_dyngraph(
        lambda ps: getattr(dg.optim, cls_name)(ps, **kwargs))
    lin = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w0))
        lin.bias.copy_(torch.from_numpy(b0))
    opt = getattr(torch.optim, cls_name)(lin.parameters(), **kwargs)
    x, t = torch.from_numpy(X), torch.from_numpy(T)
    for loss, (pw, pb) in zip(losses, params):
        opt.zero_grad()
        tloss = torch.nn.MSELoss()(lin(x), t)
        tloss.backward()
        opt.step()
        np.testing.assert_allclose(loss, tloss.item(), rtol=1e-10)
        np.testing.assert_allclose(pw, lin.weight.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(pb, lin.bias.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_backward_matches_torch_on_a_small_net():
    torch = pytest.importorskip("torch")
    x0 = RNG.standard_normal((5, 4))
    w0 = RNG.standard_normal((4, 3))
    x, w = dg.tensor(x0, requires_grad=True), dg.tensor(w0, requires_grad=True)
    out = ((x @ w).tanh().softmax(-1).log() * dg.tensor(T[:5])).sum() + (x.abs() ** 1.5).mean()
    out.backward()
    tx = torch.tensor(x0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    tout = ((tx @ tw).tanh().softmax(-1).log() * torch.from_numpy(T[:5])).sum() + (
        tx.abs() ** 1.5).mean()
    tout.backward()
    np.testing.assert_allclose(out.item(), tout.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)
