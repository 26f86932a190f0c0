"""Cross-checks of dyngraph's training-level API against PyTorch itself.

The NumPy-reference tests (test_dyngraph_training_api.py,
test_dyngraph_recurrent.py) carry the guarantees; these compare with torch
where it is installed (it is not part of the test extra) and skip otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dyngraph as dg

torch = pytest.importorskip("torch")


def _pair(a):
    a = np.asarray(a, np.float64)
    return dg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _close(d, t, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(d.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first,bidirectional", [(False, False), (True, True)])
def test_recurrent_modules_load_torch_state_dicts(name, batch_first, bidirectional, rng):
    tm = getattr(torch.nn, name)(3, 4, num_layers=2, batch_first=batch_first,
                                 bidirectional=bidirectional, dtype=torch.float64)
    dm = getattr(dg.nn, name)(3, 4, num_layers=2, batch_first=batch_first,
                              bidirectional=bidirectional, dtype=np.float64)
    state = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    assert list(state) == [k for k, _ in dm.named_parameters()]
    dm.load_state_dict(state)
    xd, xt = _pair(rng.normal(size=(2, 5, 3)))
    od, sd = dm(xd)
    ot, st = tm(xt)
    _close(od, ot)
    hd, ht = (sd[0], st[0]) if name == "LSTM" else (sd, st)
    _close(hd, ht)
    ((od ** 2).sum() + hd.sum()).backward()
    ((ot ** 2).sum() + ht.sum()).backward()
    _close(xd.grad, xt.grad)
    tparams = dict(tm.named_parameters())
    for n, p in dm.named_parameters():
        _close(p.grad, tparams[n].grad, rtol=1e-9)


def test_losses_and_layer_norm_match_torch(rng):
    logp, target = rng.normal(size=(6, 4)), np.array([0, 3, 2, -100, 1, 1])
    cw = rng.random(4)
    xd, xt = _pair(logp)
    ld = dg.nn.functional.nll_loss(xd, target, weight=cw)
    lt = torch.nn.functional.nll_loss(xt, torch.tensor(target), weight=torch.tensor(cw))
    ld.backward()
    lt.backward()
    _close(ld, lt)
    _close(xd.grad, xt.grad)
    p, y = rng.uniform(0.01, 0.99, size=(5, 3)), (rng.random((5, 3)) > 0.5) * 1.0
    pd, pt = _pair(p)
    ld = dg.nn.functional.binary_cross_entropy(pd, y)
    lt = torch.nn.functional.binary_cross_entropy(pt, torch.tensor(y))
    ld.backward()
    lt.backward()
    _close(ld, lt)
    _close(pd.grad, pt.grad)
    zd, zt = _pair(rng.normal(size=(5, 3)) * 5)
    pw = rng.uniform(0.5, 2, size=3)
    ld = dg.nn.functional.binary_cross_entropy_with_logits(zd, y, pos_weight=pw)
    lt = torch.nn.functional.binary_cross_entropy_with_logits(
        zt, torch.tensor(y), pos_weight=torch.tensor(pw))
    ld.backward()
    lt.backward()
    _close(ld, lt)
    _close(zd.grad, zt.grad)
    w, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    xd, xt = _pair(rng.normal(size=(4, 2, 3)))
    wd, wt = _pair(w)
    bd, bt = _pair(b)
    yd = dg.nn.functional.layer_norm(xd, (2, 3), wd, bd)
    yt = torch.nn.functional.layer_norm(xt, (2, 3), wt, bt)
    (yd ** 3).sum().backward()
    (yt ** 3).sum().backward()
    _close(yd, yt)
    for a, c in ((xd, xt), (wd, wt), (bd, bt)):
        _close(a.grad, c.grad, rtol=1e-9)


def test_embedding_and_clip_grad_norm_match_torch(rng):
    te = torch.nn.Embedding(7, 3, padding_idx=2, dtype=torch.float64)
    de = dg.nn.Embedding(7, 3, padding_idx=2, dtype=np.float64)
    de.load_state_dict({"weight": te.weight.detach().numpy()})
    ids = np.array([[2, 1, 6], [6, 2, 0]])
    od, ot = de(ids), te(torch.tensor(ids))
    _close(od, ot)
    (od ** 2).sum().backward()
    (ot ** 2).sum().backward()
    total_d = dg.nn.utils.clip_grad_norm_(de.parameters(), 0.5)
    total_t = torch.nn.utils.clip_grad_norm_(te.parameters(), 0.5)
    assert total_d.item() == pytest.approx(total_t.item(), rel=1e-12)
    _close(de.weight.grad, te.weight.grad)


def test_rmsprop_and_schedulers_match_torch(rng):
    p0 = rng.normal(size=5)
    grads = [rng.normal(size=5) for _ in range(6)]
    wd, wt = _pair(p0)
    od = dg.optim.RMSprop([wd], lr=0.03, momentum=0.5, centered=True, weight_decay=0.1)
    ot = torch.optim.RMSprop([wt], lr=0.03, momentum=0.5, centered=True, weight_decay=0.1)
    sd = dg.optim.lr_scheduler.CosineAnnealingLR(od, T_max=4, eta_min=0.001)
    st = torch.optim.lr_scheduler.CosineAnnealingLR(ot, T_max=4, eta_min=0.001)
    for g in grads:
        wd.grad, wt.grad = dg.tensor(g), torch.tensor(g)
        od.step()
        ot.step()
        sd.step()
        st.step()
        assert math.isclose(sd.get_last_lr()[0], st.get_last_lr()[0], rel_tol=1e-9)
    _close(wd, wt)
    for make_d, make_t in ((lambda o: dg.optim.lr_scheduler.StepLR(o, 3, 0.3),
                            lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.3)),
                           (lambda o: dg.optim.lr_scheduler.LambdaLR(o, lambda e: 0.9 ** e),
                            lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.9 ** e))):
            a, b = _pair([1.0])
            od, ot = dg.optim.SGD([a], lr=0.7), torch.optim.SGD([b], lr=0.7)
            sd, st = make_d(od), make_t(ot)
            for _ in range(7):
                ot.step()
                sd.step()
                st.step()
                assert math.isclose(od.param_groups[0]["lr"], ot.param_groups[0]["lr"],
                                    rel_tol=1e-12)


def test_hooks_match_torch():
    xd, xt = _pair([1.0, -2.0, 3.0])
    yd, yt = xd * xd, xt * xt
    yd.register_hook(lambda g: g * 2.0)
    yt.register_hook(lambda g: g * 2.0)
    xd.register_hook(lambda g: g - 1.0)
    xt.register_hook(lambda g: g - 1.0)
    (yd.sum() * 3.0).backward()
    (yt.sum() * 3.0).backward()
    _close(xd.grad, xt.grad)


def test_conv_and_pool_modules_load_torch_weights(rng):
    tc = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, dtype=torch.float64)
    dc = dg.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, dtype=np.float64)
    assert [n for n, _ in dc.named_parameters()] == list(tc.state_dict())
    dc.load_state_dict({k: v.detach().numpy() for k, v in tc.state_dict().items()})
    xd, xt = _pair(rng.normal(size=(2, 4, 7, 7)))
    pool_d, pool_t = dg.nn.MaxPool2d(2, ceil_mode=True), torch.nn.MaxPool2d(2, ceil_mode=True)
    yd = dg.nn.Flatten()(pool_d(dc(xd)))
    yt = torch.nn.Flatten()(pool_t(tc(xt)))
    _close(yd, yt)
    (yd ** 2).sum().backward()
    (yt ** 2).sum().backward()
    _close(xd.grad, xt.grad, rtol=1e-9)
    _close(dc.weight.grad, tc.weight.grad, rtol=1e-9)
