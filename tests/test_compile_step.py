"""dg.compile of whole training steps: backward(), in-place updates, zero_grad and
SGD steps inside the compiled function, against the same code run eagerly
(float64, the interpreter and the numba backend)."""

from __future__ import annotations

import io

import numpy as np
import pytest

import dyngraph as dg

BACKENDS = ["interpret", "numba"]


def _close(a, b, backend: str) -> None:
    a, b = np.asarray(a), np.asarray(b)
    if backend == "interpret":  # the same primitives in the same order
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def _data(rng):
    return dg.tensor(rng.standard_normal((16, 6))), dg.tensor(rng.standard_normal((16, 3)))


def _manual_step(ws: list, lr: float = 1e-2):
    def step(x, y):
        loss = (x.mm(ws[0]).relu().mm(ws[1]) - y).pow(2).sum()
        loss.backward()
        with dg.no_grad():
            ws[0].sub_(lr * ws[0].grad)
            ws[1] -= lr * ws[1].grad
            ws[0].grad.zero_()
            ws[1].grad.zero_()
        return loss
    return step


@pytest.mark.parametrize("backend", BACKENDS)
def test_manual_sgd_step_matches_eager(rng, backend):
    x, y = _data(rng)
    init = [rng.standard_normal((6, 5)) * 0.3, rng.standard_normal((5, 3)) * 0.3]
    eager = [dg.tensor(w.copy(), requires_grad=True) for w in init]
    traced = [dg.tensor(w.copy(), requires_grad=True) for w in init]
    eager_step, compiled = _manual_step(eager), dg.compile(_manual_step(traced),
                                                           backend=backend)
    for _ in range(4):
        loss_e, loss_c = eager_step(x, y), compiled(x, y)
        _close(loss_e.item(), loss_c.item(), backend)
        assert not loss_c.requires_grad  # its backward ran inside the call
        for a, b in zip(eager, traced):
            _close(a._data, b._data, backend)
            np.testing.assert_array_equal(b.grad.numpy(), 0.0)
    # the first call traced with no .grad yet, the second with zeroed grads
    assert compiled.trace_count == 2


def _model():
    dg.manual_seed(5)
    return dg.nn.Sequential(dg.nn.Linear(6, 8, dtype=np.float64), dg.nn.Tanh(),
                            dg.nn.Linear(8, 3, dtype=np.float64))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("options", [dict(lr=0.05),
                                     dict(lr=0.05, momentum=0.9, nesterov=True,
                                          weight_decay=0.01),
                                     dict(lr=0.05, momentum=0.5, dampening=0.1)])
def test_optimizer_step_matches_eager(rng, backend, options):
    x, y = _data(rng)
    runs = []
    for compile_it in (False, True):
        model = _model()
        opt = dg.optim.SGD(model.parameters(), **options)

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()
            loss = dg.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss
        runs.append((dg.compile(step, backend=backend) if compile_it else step, model, opt))
    for _ in range(4):
        losses = [fn(x, y).item() for fn, _, _ in runs]
        _close(losses[0], losses[1], backend)
    (_, eager, eager_opt), (compiled, model, opt) = runs
    for a, b in zip(eager.parameters(), model.parameters()):
        _close(a._data, b._data, backend)
        _close(a.grad._data, b.grad._data, backend)
    for a, b in zip(eager.parameters(), model.parameters()):
        if options.get("momentum"):
            _close(eager_opt.state[id(a)], opt.state[id(b)], backend)
    assert compiled.trace_count == 2


def test_learning_rate_is_a_guard(rng):
    x, y = _data(rng)
    model = _model()
    opt = dg.optim.SGD(model.parameters(), lr=0.1)
    twin = _model()
    twin_opt = dg.optim.SGD(twin.parameters(), lr=0.1)

    def step(x, y, model=model, opt=opt):
        opt.zero_grad()
        dg.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    compiled = dg.compile(step, backend="interpret")
    for lr in (0.1, 0.1, 0.01, 0.01):
        opt.param_groups[0]["lr"] = twin_opt.param_groups[0]["lr"] = lr
        compiled(x, y)
        step(x, y, twin, twin_opt)
    for a, b in zip(twin.parameters(), model.parameters()):
        np.testing.assert_array_equal(a._data, b._data)
    assert compiled.trace_count == 3  # grads None, then set; then the new rate


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_accumulate_across_calls(rng, backend):
    x, _ = _data(rng)
    w = dg.tensor(rng.standard_normal((6, 2)), requires_grad=True)
    twin = dg.tensor(w.detach().numpy().copy(), requires_grad=True)

    def accumulate(x, w=w):
        (x @ w).tanh().sum().backward()
    compiled = dg.compile(accumulate, backend=backend)
    for _ in range(3):
        compiled(x)
        accumulate(x, twin)
        _close(w.grad.numpy(), twin.grad.numpy(), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inplace_update_of_an_argument_reaches_the_caller(rng, backend):
    def bump(x, v):
        x.add_(v)
        x.mul_(2.0)
        return x.sum()
    compiled = dg.compile(bump, backend=backend)
    a = rng.standard_normal((3, 4))
    x, twin = dg.tensor(a.copy()), dg.tensor(a.copy())
    for _ in range(2):
        _close(compiled(x, dg.tensor(np.ones(4))).item(), bump(twin, dg.tensor(np.ones(4))).item(),
               backend)
        _close(x.numpy(), twin.numpy(), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_inside_returns_gradients(rng, backend):
    x, _ = _data(rng)
    w = dg.tensor(rng.standard_normal((6, 2)), requires_grad=True)

    def grads(x):
        (g,) = dg.grad((x @ w).pow(2).sum(), [w])
        return g * 2.0
    compiled = dg.compile(grads, backend=backend)
    _close(compiled(x).numpy(), grads(x).numpy(), backend)
    assert w.grad is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_fill_copy_and_index_assignment_on_traced_tensors(rng, backend):
    def edits(x, src):
        h = x * 1.0
        h[0] = 5.0
        h[:, 1] = src[:, 0]
        g = x * 1.0
        g.fill_(2.5)
        k = x * 1.0
        k.copy_(src)
        z = x * 1.0
        z.zero_()
        return h, g, k, z
    compiled = dg.compile(edits, backend=backend)
    x, src = dg.tensor(rng.standard_normal((3, 4))), dg.tensor(rng.standard_normal((3, 4)))
    for got, want in zip(compiled(x, src), edits(x, src)):
        _close(got.numpy(), want.numpy(), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_call_changes_nothing(rng, backend):
    table = dg.tensor(rng.standard_normal((5, 3)), requires_grad=True)

    def lookup_step(index):
        loss = table.index_select(0, index).pow(2).sum()
        loss.backward()
        with dg.no_grad():
            table.sub_(0.1 * table.grad)
        return loss
    compiled = dg.compile(lookup_step, backend=backend)
    compiled(dg.tensor(np.array([0, 2])))
    values, grad = table.detach().numpy().copy(), table.grad.numpy().copy()
    with pytest.raises(dg.GraphCompareError):
        compiled(dg.tensor(np.array([1, 7])))
    np.testing.assert_array_equal(table.detach().numpy(), values)
    np.testing.assert_array_equal(table.grad.numpy(), grad)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dynamic_batch_whole_step(rng, backend):
    w = dg.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    twin = dg.tensor(w.detach().numpy().copy(), requires_grad=True)

    def make(weight):
        opt = dg.optim.SGD([weight], lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = ((x @ weight - y) ** 2).mean()
            loss.backward()
            opt.step()
            x.mul_(0.5)  # an argument changed in place: traced for this call's shapes
            return loss
        return step
    compiled, eager = dg.compile(make(w), backend=backend, dynamic=True), make(twin)
    for n in (4, 8, 4):
        a, b = rng.standard_normal((n, 6)), rng.standard_normal((n, 3))
        xs = [dg.tensor(a.copy()), dg.tensor(a.copy())]
        _close(compiled(xs[0], dg.tensor(b)).item(), eager(xs[1], dg.tensor(b)).item(),
               backend)
        _close(xs[0].numpy(), xs[1].numpy(), backend)
    _close(w._data, twin._data, backend)


def test_a_zeroed_grad_is_traced_as_zeros_and_checked_at_every_call(rng):
    x, y = _data(rng)
    ws = [dg.tensor(rng.standard_normal((6, 5)) * 0.3, requires_grad=True),
          dg.tensor(rng.standard_normal((5, 3)) * 0.3, requires_grad=True)]
    twin = [dg.tensor(w.detach().numpy().copy(), requires_grad=True) for w in ws]
    compiled, eager = dg.compile(_manual_step(ws), backend="numba"), _manual_step(twin)
    for _ in range(3):
        compiled(x, y)
        eager(x, y)
    assert compiled.trace_count == 2
    program = compiled.entries[-1].compiled.runner.program
    assert not program.outputs[1:] and len(program.updates) == 2  # no .grad in or out
    text = compiled.explain(file=io.StringIO())
    assert "guard: grad is all zeros, as traced" in text and "state: value" in text
    for w in (ws[0], twin[0]):  # a change the version counter does not see
        w.grad.numpy()[0, 0] = 3.0
    compiled(x, y)
    eager(x, y)
    assert compiled.trace_count == 3  # the guard read the array
    for a, b in zip(ws, twin):
        _close(a._data, b._data, "numba")
