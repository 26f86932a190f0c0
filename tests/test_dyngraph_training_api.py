"""dyngraph's training-level API against NumPy references: layers, losses,
clipping, hooks, anomaly mode, RMSprop, schedulers, save/load, to()."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dyngraph as dg
import dyngraph.nn.functional as F


def _leaf(a):
    return dg.tensor(np.asarray(a, np.float64), requires_grad=True)


def _fd_grad(fn, x, eps=1e-6):
    """Central finite differences of a scalar NumPy function."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (fn(up) - fn(down)) / (2 * eps)
    return g


def test_dropout_train_and_eval():
    drop = dg.nn.Dropout(0.25)
    x = _leaf(np.ones((200, 50)))
    y = drop(x)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75)
    drop.eval()
    assert drop(x) is x
    assert F.dropout(x, 1.0).detach().numpy().sum() == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        dg.nn.Dropout(1.5)


def _layer_norm_ref(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def test_layer_norm_values_and_gradients(rng):
    x, w, b = rng.normal(size=(3, 4, 5)), rng.normal(size=5), rng.normal(size=5)
    ln = dg.nn.LayerNorm(5, dtype=np.float64)
    ln.load_state_dict({"weight": w, "bias": b})
    xd = _leaf(x)
    y = ln(xd)
    np.testing.assert_allclose(y.detach().numpy(), _layer_norm_ref(x, w, b), rtol=1e-10)
    (y * y).sum().backward()
    expected = _fd_grad(lambda v: (_layer_norm_ref(v, w, b) ** 2).sum(), x)
    np.testing.assert_allclose(xd.grad.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    with pytest.raises(dg.ShapeError, match="normalized_shape"):
        ln(dg.ones(3, 4))


def test_embedding_lookup_gradient_and_padding(rng):
    emb = dg.nn.Embedding(6, 3, padding_idx=0, dtype=np.float64)
    assert not emb.weight.detach().numpy()[0].any()
    ids = np.array([[1, 0, 4], [4, 5, 0]])
    out = emb(ids)
    np.testing.assert_array_equal(out.detach().numpy(), emb.weight.detach().numpy()[ids])
    (out * 2.0).sum().backward()
    counts = np.bincount(ids.ravel(), minlength=6).astype(float)
    counts[0] = 0
    np.testing.assert_allclose(emb.weight.grad.numpy(), 2 * counts[:, None] * np.ones(3))
    with pytest.raises(IndexError, match="index 6 is out of range for axis 0 with size 6"):
        emb(np.array([6]))
    with pytest.raises(dg.DTypeError):
        emb(np.array([1.0]))


def _nll_ref(logp, target, weight, ignore):
    keep = target != ignore
    safe = np.where(keep, target, 0)
    w = weight[safe] * keep
    terms = -logp[np.arange(len(target)), safe] * w
    return terms, w


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_with_weights_and_ignore_index(rng, reduction):
    logp, cw = rng.normal(size=(6, 4)), rng.random(4)
    target = np.array([0, 3, 2, -100, 1, 1])
    terms, w = _nll_ref(logp, target, cw, -100)
    expected = {"mean": terms.sum() / w.sum(), "sum": terms.sum(), "none": terms}[reduction]
    x = _leaf(logp)
    loss = F.nll_loss(x, target, weight=cw, reduction=reduction)
    np.testing.assert_allclose(loss.detach().numpy(), expected, rtol=1e-12)
    loss.sum().backward()
    grad = np.zeros_like(logp)
    scale = w / w.sum() if reduction == "mean" else w
    grad[np.arange(6), np.where(target < 0, 0, target)] = -scale
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-12)


def test_nll_loss_spatial_and_module(rng):
    logp = rng.normal(size=(2, 3, 4))
    target = rng.integers(0, 3, size=(2, 4))
    loss = dg.nn.NLLLoss(reduction="none")(_leaf(logp), target)
    expected = -np.take_along_axis(logp, target[:, None, :], 1)[:, 0, :]
    np.testing.assert_allclose(loss.detach().numpy(), expected)
    with pytest.raises(IndexError, match="nll_loss: target 3 is out of bounds for 3 classes"):
        F.nll_loss(_leaf(logp[:, :, 0]), np.array([3, 0]))


def test_binary_cross_entropy_and_with_logits(rng):
    p, t = rng.uniform(0.05, 0.95, size=(4, 3)), (rng.random((4, 3)) > 0.5).astype(float)
    x = _leaf(p)
    loss = dg.nn.BCELoss()(x, t)
    ref = lambda v: -(t * np.log(v) + (1 - t) * np.log(1 - v)).mean()  # noqa: E731
    np.testing.assert_allclose(loss.item(), ref(p), rtol=1e-12)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), _fd_grad(ref, p), rtol=1e-6)
    assert np.isfinite(F.binary_cross_entropy(_leaf([0.0, 1.0]), [1.0, 0.0]).item())
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(_leaf([1.5]), [1.0])
    z, pw = rng.normal(size=(4, 3)) * 4, rng.uniform(0.5, 2.0, size=3)
    zx = _leaf(z)
    loss = dg.nn.BCEWithLogitsLoss(pos_weight=pw, reduction="sum")(zx, t)
    s = 1 / (1 + np.exp(-z))

    def ref2(v):
        sv = 1 / (1 + np.exp(-v))
        return -(pw * t * np.log(sv) + (1 - t) * np.log(1 - sv)).sum()
    np.testing.assert_allclose(loss.item(), ref2(z), rtol=1e-10)
    loss.backward()
    np.testing.assert_allclose(zx.grad.numpy(), _fd_grad(ref2, z), rtol=1e-5)
    big = F.binary_cross_entropy_with_logits(_leaf([800.0, -800.0]), [0.0, 1.0], reduction="none")
    np.testing.assert_allclose(big.detach().numpy(), [800.0, 800.0])
    assert s.shape == z.shape


def test_clip_grad_norm_and_value():
    a, b = _leaf(np.zeros(3)), _leaf(np.zeros(2))
    a.grad, b.grad = dg.tensor(np.array([3.0, 0.0, 0.0])), dg.tensor(np.array([0.0, 4.0]))
    total = dg.nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad.numpy(), [3 / (5 + 1e-6), 0, 0])
    np.testing.assert_allclose(b.grad.numpy(), [0, 4 / (5 + 1e-6)])
    untouched = dg.nn.utils.clip_grad_norm_([a, b], max_norm=10.0)
    assert untouched.item() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(a.grad.numpy(), [3 / (5 + 1e-6), 0, 0])
    assert dg.nn.utils.clip_grad_norm_([a, b], 1.0, norm_type=math.inf).item() == \
        pytest.approx(4 / (5 + 1e-6))
    dg.nn.utils.clip_grad_value_([a], 0.1)
    np.testing.assert_allclose(a.grad.numpy(), [0.1, 0, 0])
    b.grad = dg.tensor(np.array([np.nan, 1.0]))
    with pytest.raises(dg.GradientError, match="non-finite"):
        dg.nn.utils.clip_grad_norm_([b], 1.0, error_if_nonfinite=True)


def test_register_hook_on_leaf_and_non_leaf():
    x = _leaf([1.0, 2.0])
    y = x * 3.0
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = y.register_hook(lambda g: g * 10.0)
    x.register_hook(lambda g: g + 1.0)
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], [6.0, 12.0])  # before the doubling hook
    np.testing.assert_allclose(x.grad.numpy(), [6 * 10 * 3 + 1, 12 * 10 * 3 + 1])
    handle.remove()
    x.grad = None
    y = x * 3.0
    (gx,) = dg.autograd.grad((y * y).sum(), [x])
    np.testing.assert_allclose(gx.numpy(), [18 + 1, 36 + 1])
    with pytest.raises(dg.GradientError, match="does not require grad"):
        dg.ones(2).register_hook(lambda g: g)


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_detect_anomaly_names_the_forward_op_and_line():
    x = _leaf([0.0, 1.0])
    y = dg.sqrt(x)  # the gradient at 0 is inf
    line = y.grad_fn.site[1]
    with dg.autograd.detect_anomaly():
        assert dg.autograd.is_anomaly_enabled()
        with pytest.raises(dg.GradientError,
                           match=rf"anomaly detected: the backward of 'sqrt' \(created at "
                                 rf".*test_dyngraph_training_api.py:{line}\) returned inf"):
            y.sum().backward()
    assert not dg.autograd.is_anomaly_enabled() and x.grad is None
    y.sum().backward()  # the failed walk left the tape as it was; inf, as in PyTorch
    assert np.isinf(x.grad.numpy()[0])


def _rmsprop_ref(p, grads, lr, alpha, eps, momentum, centered, wd):
    sq, ga, buf = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = g + wd * p
        sq = alpha * sq + (1 - alpha) * g * g
        if centered:
            ga = alpha * ga + (1 - alpha) * g
            avg = np.sqrt(sq - ga * ga) + eps
        else:
            avg = np.sqrt(sq) + eps
        if momentum:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


@pytest.mark.parametrize("momentum,centered,wd", [(0.0, False, 0.0), (0.9, True, 0.01)])
def test_rmsprop_matches_torch_rule(rng, momentum, centered, wd):
    p0, grads = rng.normal(size=4), [rng.normal(size=4) for _ in range(5)]
    w = _leaf(p0.copy())
    opt = dg.optim.RMSprop([w], lr=0.05, alpha=0.9, momentum=momentum, centered=centered,
                           weight_decay=wd)
    for g in grads:
        w.grad = dg.tensor(g)
        opt.step()
    np.testing.assert_allclose(w.detach().numpy(),
                               _rmsprop_ref(p0, grads, 0.05, 0.9, 1e-8, momentum, centered,
                                            wd), rtol=1e-12)


def test_lr_schedulers():
    w = _leaf([1.0])
    opt = dg.optim.SGD([w], lr=1.0)
    step = dg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    seen = []
    for _ in range(5):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        step.step()
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25] and step.get_last_lr() == [0.25]
    opt = dg.optim.SGD([w], lr=0.1)
    cos = dg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.02)
    values = [opt.param_groups[0]["lr"]]
    for _ in range(4):
        cos.step()
        values.append(opt.param_groups[0]["lr"])
    expected = [0.02 + 0.08 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    np.testing.assert_allclose(values, expected)
    opt = dg.optim.Adam([w], lr=0.2)
    lam = dg.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (1 + epoch))
    lam.step()
    lam.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2 / 3)
    with pytest.raises(ValueError, match="step_size"):
        dg.optim.lr_scheduler.StepLR(opt, step_size=0)


def test_save_and_load_state_dict(tmp_path):
    model = dg.nn.Sequential(dg.nn.Linear(3, 4), dg.nn.ReLU(), dg.nn.LayerNorm(4))
    path = tmp_path / "model.pt"
    dg.save(model.state_dict(), path)
    assert path.exists() and not (tmp_path / "model.pt.npz").exists()
    loaded = dg.load(path)
    assert set(loaded) == set(model.state_dict()) and isinstance(loaded["0.weight"], dg.Tensor)
    other = dg.nn.Sequential(dg.nn.Linear(3, 4), dg.nn.ReLU(), dg.nn.LayerNorm(4))
    other.load_state_dict(loaded)
    x = dg.ones(2, 3)
    np.testing.assert_array_equal(other(x).detach().numpy(), model(x).detach().numpy())
    assert set(np.load(path).files) == set(loaded)  # a plain .npz
    with pytest.raises(dg.DTypeError, match="only tensors, numeric arrays"):
        dg.save({"f": lambda: 1}, tmp_path / "bad.npz")
    (tmp_path / "junk").write_text("not an archive")
    with pytest.raises(ValueError, match="not a file written by dg.save"):
        dg.load(tmp_path / "junk")


def test_to_cpu_is_a_no_op_and_dtype_casts():
    x = _leaf([1.0, 2.0])
    assert x.to("cpu") is x and x.to("cpu:0") is x and x.cpu() is x and x.device == "cpu"
    assert x.device.type == "cpu" and x.to(dg.device("cpu")) is x and str(x.device) == "cpu"
    with pytest.raises(ValueError, match="not available"):
        dg.device("cuda:0")
    y = x.to("cpu", dg.float32)
    assert y.dtype == np.float32 and y.requires_grad
    assert x.to(dg.ones(1, dtype=np.float32)).dtype == np.float32
    assert x.to("cpu", copy=True) is not x
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        x.to("cuda")


def test_autograd_namespace_matches_the_top_level():
    assert dg.autograd.grad is dg.grad and dg.autograd.backward is dg.backward
    assert dg.autograd.Function is dg.Function

    class Square(dg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x
    x = _leaf([3.0])
    dg.autograd.backward([Square.apply(x).sum()])
    np.testing.assert_allclose(x.grad.numpy(), [6.0])


def test_conv2d_and_max_pool_modules(rng):
    conv = dg.nn.Conv2d(2, 3, kernel_size=2, bias=True, dtype=np.float64)
    assert conv.weight.shape == (3, 2, 2, 2) and conv.bias.shape == (3,)
    bound = 1 / np.sqrt(8)
    assert np.abs(conv.weight.detach().numpy()).max() <= bound
    x = rng.normal(size=(1, 2, 4, 4))
    out = dg.nn.MaxPool2d(3, stride=1)(conv(dg.tensor(x)))
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    ref = np.zeros((1, 3, 3, 3))
    for i in range(3):
        for j in range(3):
            ref[0, :, i, j] = np.einsum("ckl,ockl->o", x[0, :, i:i + 2, j:j + 2], w) + b
    np.testing.assert_allclose(out.detach().numpy(), ref.max(axis=(2, 3), keepdims=True))
    with pytest.raises(ValueError, match="padding_mode"):
        dg.nn.Conv2d(2, 3, 2, padding_mode="reflect")
