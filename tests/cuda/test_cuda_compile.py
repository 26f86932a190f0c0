"""dg.compile with backend="cuda" (under the simulator here): a few SGD steps of
the tutorial net and a traced cond agree with eager dyngraph in float64."""

from __future__ import annotations

import numpy as np

import dyngraph as dg


def test_tutorial_steps_match_eager_on_cuda():
    rng = np.random.default_rng(0)
    x, y = dg.tensor(rng.standard_normal((6, 5))), dg.tensor(rng.standard_normal((6, 2)))
    init = [rng.standard_normal((5, 4)) * 0.3, rng.standard_normal((4, 2)) * 0.3]
    eager = [dg.tensor(w, requires_grad=True) for w in init]
    traced = [dg.tensor(w.copy(), requires_grad=True) for w in init]

    def loss_of(x, y, w1, w2):
        return (x.mm(w1).relu().mm(w2) - y).pow(2).sum()
    step = dg.compile(lambda x, y: loss_of(x, y, *traced), backend="cuda")
    for _ in range(2):
        for ws, loss in ((eager, loss_of(x, y, *eager)), (traced, step(x, y))):
            loss.backward()
            with dg.no_grad():
                for w in ws:
                    w -= 1e-2 * w.grad
                    w.grad.zero_()
    for a, b in zip(eager, traced):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-12)
    assert step.trace_count == 1


def test_autograph_cond_on_cuda():
    w = dg.tensor(np.array([[1.0, -2.0], [0.5, 1.0]]), requires_grad=True)

    def f(x):
        h = x @ w
        if h.sum() > 0:
            h = h * 2.0
        else:
            h = -h
        return h.sum()
    c = dg.compile(f, backend="cuda", autograph=True)
    for sign in (1.0, -1.0):
        x = dg.tensor(np.full((3, 2), sign))
        out = c(x)
        out.backward()
        h = x.numpy() @ w.detach().numpy()
        expected = 2 * h.sum() if h.sum() > 0 else -h.sum()
        np.testing.assert_allclose(out.item(), expected, rtol=1e-12)
        w.grad = None
    assert c.trace_count == 1


def test_whole_training_step_on_cuda():
    rng = np.random.default_rng(1)
    x, y = dg.tensor(rng.standard_normal((6, 5))), dg.tensor(rng.standard_normal((6, 2)))
    init = rng.standard_normal((5, 2)) * 0.3
    runs = []
    for backend in (None, "cuda"):
        w = dg.tensor(init.copy(), requires_grad=True)
        opt = dg.optim.SGD([w], lr=0.1, momentum=0.9)

        def step(x, y, w=w, opt=opt):
            opt.zero_grad()
            loss = (x.mm(w) - y).pow(2).mean()
            loss.backward()
            opt.step()
            return loss
        runs.append((step if backend is None else dg.compile(step, backend=backend), w))
    for _ in range(3):
        losses = [fn(x, y).item() for fn, _ in runs]
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)
    np.testing.assert_allclose(runs[1][1].detach().numpy(), runs[0][1].detach().numpy(),
                               rtol=1e-12)
