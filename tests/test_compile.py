"""dg.compile: traced dyngraph code against eager dyngraph, float64, on the
interpreter and the numba backend; guards, retracing, dynamic dims."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg

BACKENDS = ["interpret", "numba"]


def _close(a, b) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)


def _weights(rng, *shapes):
    return [rng.standard_normal(s) * 0.3 for s in shapes]


@pytest.mark.parametrize("backend", BACKENDS)
def test_tutorial_sgd_trajectory_matches_eager(rng, backend):
    x, y = dg.tensor(rng.standard_normal((16, 8))), dg.tensor(rng.standard_normal((16, 3)))
    init = _weights(rng, (8, 5), (5, 3))
    eager = [dg.tensor(w, requires_grad=True) for w in init]
    traced = [dg.tensor(w.copy(), requires_grad=True) for w in init]

    def loss_of(x, y, w1, w2):
        return (x.mm(w1).relu().mm(w2) - y).pow(2).sum()

    step = dg.compile(lambda x, y: loss_of(x, y, *traced), backend=backend)
    for _ in range(4):
        for ws, fn in ((eager, lambda: loss_of(x, y, *eager)), (traced, lambda: step(x, y))):
            loss = fn()
            loss.backward()
            with dg.no_grad():
                for w in ws:
                    w -= 1e-3 * w.grad
                    w.grad.zero_()
        _close(loss_of(x, y, *eager).item(), loss_of(x, y, *traced).item())
    for a, b in zip(eager, traced):
        _close(a._data, b._data)
    assert step.trace_count == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_module_trains_through_parameters(rng, backend):
    def make():
        dg.manual_seed(3)
        return dg.nn.Sequential(dg.nn.Linear(6, 7, dtype=np.float64), dg.nn.Tanh(),
                                dg.nn.Linear(7, 2, dtype=np.float64))
    eager, model = make(), make()
    compiled = dg.compile(model, backend=backend)
    x, y = dg.tensor(rng.standard_normal((5, 6))), dg.tensor(rng.standard_normal((5, 2)))
    opts = [dg.optim.SGD(m.parameters(), lr=0.1) for m in (eager, compiled)]
    for _ in range(3):
        for m, opt in zip((eager, compiled), opts):
            opt.zero_grad()
            loss = dg.nn.functional.mse_loss(m(x), y)
            loss.backward()
            opt.step()
    for a, b in zip(eager.parameters(), compiled.parameters()):
        _close(a._data, b._data)
    assert compiled.trace_count == 1
    compiled.eval()
    compiled(x)
    assert compiled.trace_count == 2  # the training flag is a guard


@pytest.mark.parametrize("backend", BACKENDS)
def test_rnn_python_loop_unrolls_per_length(rng, backend):
    wx, wh = [dg.tensor(w, requires_grad=True) for w in _weights(rng, (3, 4), (4, 4))]

    def rnn(xs):
        h = dg.zeros(4, dtype=np.float64)
        for t in range(xs.shape[0]):
            h = (xs[t] @ wx + h @ wh).tanh()
        return h.sum()
    compiled = dg.compile(rnn, backend=backend)
    for length in (5, 3, 5):
        xs = dg.tensor(rng.standard_normal((length, 3)))
        out = compiled(xs)
        out.backward()
        gx, gh = wx.grad._data.copy(), wh.grad._data.copy()
        wx.grad = wh.grad = None
        rnn(xs).backward()
        _close(out.item(), rnn(xs).item())
        _close(gx, wx.grad._data)
        _close(gh, wh.grad._data)
        wx.grad = wh.grad = None
    assert compiled.trace_count == 2  # one trace per length


def test_guards_retrace_on_dtype_requires_grad_grad_mode_and_scalars(rng):
    calls = []

    def f(x, scale):
        calls.append(1)
        return (x * scale).sum()
    c = dg.compile(f, backend="interpret")
    x = dg.tensor(rng.standard_normal(3))
    c(x, 2.0)
    c(x, 2.0)
    assert c.trace_count == 1 and len(calls) == 1
    c(x, 3.0)
    assert c.trace_count == 2
    c(dg.tensor(rng.standard_normal(3), requires_grad=True), 2.0)
    assert c.trace_count == 3
    with dg.no_grad():
        c(dg.tensor(rng.standard_normal(3), requires_grad=True), 2.0)
    assert c.trace_count == 4
    c(dg.tensor(rng.standard_normal(3).astype(np.float32)), 2.0)
    assert c.trace_count == 5
    c(dg.tensor(rng.standard_normal(4)), 2.0)
    assert c.trace_count == 6
    _close(c(x, 3.0).item(), (x._data * 3.0).sum())
    assert c.trace_count == 6
    assert "traces: 6" in c.explain(file=open("/dev/null", "w"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_dynamic_one_trace_for_every_batch_size(rng, backend):
    w = dg.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    c = dg.compile(lambda x: (x @ w).relu().sum(), backend=backend, dynamic=True)
    for n in (3, 7, 1, 12):
        x = dg.tensor(rng.standard_normal((n, 4)))
        out = c(x)
        out.backward()
        _close(out.item(), np.maximum(x._data @ w._data, 0).sum())
        _close(w.grad._data, x._data.T @ ((x._data @ w._data > 0) * 1.0))
        w.grad = None
    assert c.trace_count == 1


def test_dynamic_shape_read_specialises(rng):
    c = dg.compile(lambda x: x.reshape(x.shape[0] * 2, -1).sum(0), backend="interpret",
                   dynamic=True)
    for n in (2, 4, 4):
        x = dg.tensor(rng.standard_normal((n, 4)))
        _close(c(x)._data, x._data.reshape(n * 2, -1).sum(0))
    assert c.trace_count == 2
    assert "symbolic dim was read" in c.explain(file=open("/dev/null", "w"))
    flat = dg.compile(lambda x: x.flatten(1).sum(0), backend="interpret", dynamic=True)
    for n in (2, 3):  # dyngraph's flatten needs the batch dim: traced per shape
        x = dg.tensor(rng.standard_normal((n, 2, 3)))
        _close(flat(x)._data, x._data.reshape(n, 6).sum(0))
    assert flat.trace_count == 2


@pytest.mark.parametrize("what, code", [
    ("item", lambda x: x * 2 if (x.sum() > 0).item() else x),
    ("float", lambda x: x * float(x.sum())),
    ("numpy", lambda x: dg.tensor(x.numpy() * 2)),
    ("bool", lambda x: x * 2 if x.sum() > 0 else x),
    ("print", lambda x: print(x) or x),
])
def test_data_dependent_python_names_user_line(rng, what, code):
    c = dg.compile(code, backend="interpret")
    with pytest.raises(dg.TraceError, match=r"test_compile\.py:\d+"):
        c(dg.tensor(rng.standard_normal(3)))
    assert c.trace_count == 0 and not c.entries  # no half-built cache entry


def test_fullgraph_false_falls_back_with_one_warning(rng):
    def f(x):
        return x * 2 if (x.sum() > 0).item() else -x
    c = dg.compile(f, backend="interpret", fullgraph=False)
    x = dg.tensor(np.abs(rng.standard_normal(3)))
    with pytest.warns(dg.CompileWarning, match=r"test_compile\.py:\d+"):
        out = c(x)
    _close(out._data, x._data * 2)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _close(c(-x)._data, x._data)
    assert c.fallback_count == 2 and c.trace_count == 0
    assert "eager fallback calls: 2" in c.explain(file=open("/dev/null", "w"))


def test_failed_trace_leaves_no_entry_and_names_line(rng):
    w = dg.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    c = dg.compile(lambda x: x @ w, backend="interpret")
    with pytest.raises(dg.ShapeError, match=r"test_compile\.py:\d+"):
        c(dg.tensor(rng.standard_normal((3, 5))))
    assert not c.entries and c.trace_count == 0 and w.grad is None
    assert c(dg.tensor(rng.standard_normal((3, 4)))).shape == (3, 2)


def test_outputs_own_their_memory_and_saved_values_survive_calls(rng):
    w = dg.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    c = dg.compile(lambda x: ((x @ w).tanh(), x), backend="numba")
    x1, x2 = dg.tensor(rng.standard_normal((2, 3))), dg.tensor(rng.standard_normal((2, 3)))
    y1, same = c(x1)
    assert not np.shares_memory(same._data, x1._data)
    y2, _ = c(x2)
    y1.sum().backward()
    expected = x1._data.T @ (1 - np.tanh(x1._data @ w._data) ** 2)
    _close(w.grad._data, expected)


def test_inplace_change_before_backward_is_detected(rng):
    w = dg.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    c = dg.compile(lambda x: (x @ w).sum(), backend="interpret")
    x = dg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    out = c(x)
    with dg.no_grad():
        w += 1.0
    with pytest.raises(dg.InPlaceError):
        out.backward()


@pytest.mark.parametrize("backend", BACKENDS)
def test_autograph_dynamic_net_one_trace_for_all_depths(rng, backend):
    w_in, w_mid = [dg.tensor(w, requires_grad=True) for w in _weights(rng, (4, 5), (5, 5))]
    twins = [dg.tensor(w._data.copy(), requires_grad=True) for w in (w_in, w_mid)]

    def net(x, depth, w_in, w_mid):
        h = (x @ w_in).relu()
        for _ in range(depth):
            h = (h @ w_mid).relu()
        if h.sum() > 1.0:
            h = h * 0.5
        return h.pow(2).sum()

    def step(x, depth):
        h = (x @ w_in).relu()
        for _ in range(depth):
            h = (h @ w_mid).relu()
        if h.sum() > 1.0:
            h = h * 0.5
        return h.pow(2).sum()
    c = dg.compile(step, backend=backend, autograph=True)
    x = dg.tensor(rng.standard_normal((6, 4)))
    for depth in (2, 0, 3, 1, 3):
        out = c(x, dg.tensor(depth))
        out.backward()
        ref = net(x, depth, *twins)
        ref.backward()
        _close(out.item(), ref.item())
        for a, b in zip((w_in, w_mid), twins):
            # depth 0: eager leaves w_mid.grad None, the one graph gives zeros
            expected = np.zeros(b.shape) if b.grad is None else b.grad._data
            np.testing.assert_allclose(a.grad._data, expected, rtol=1e-10, atol=1e-12)
            a.grad = b.grad = None
    assert c.trace_count == 1


def test_autograph_loop_longer_than_the_bound_traces_again(rng):
    def count_up(x, n):
        for _ in range(n):
            x = x + 1.0
        return x
    c = dg.compile(count_up, backend="interpret", autograph=True)
    x = dg.tensor(np.zeros(2))
    _close(c(x, dg.tensor(3))._data, [3.0, 3.0])
    _close(c(x, dg.tensor(20))._data, [20.0, 20.0])
    _close(c(x, dg.tensor(5))._data, [5.0, 5.0])
    assert c.trace_count == 3  # bound 8, then 16 and 32 for the call of 20 steps
    assert "loop bound now" in c.explain(file=open("/dev/null", "w"))


def test_autograph_while_and_python_values(rng):
    def halve_until_small(x, limit):
        while x.sum() > 1.0:
            x = x * 0.5
        if limit > 2:  # a Python value: plain Python control flow
            x = x + limit
        return x
    c = dg.compile(halve_until_small, backend="interpret", autograph=True)
    for start, limit in ((40.0, 3), (0.5, 1), (7.0, 3)):
        x = dg.tensor(np.full(2, start))
        expected = np.full(2, start)
        while expected.sum() > 1.0:
            expected = expected * 0.5
        _close(c(x, limit)._data, expected + (limit if limit > 2 else 0))
    assert c.trace_count == 2  # one per value of the Python scalar


def test_decorator_forms_and_create_graph_error(rng):
    @dg.compile
    def f(x):
        return (x * x).sum()

    @dg.compile(backend="interpret")
    def g(x):
        return (x * x).sum()
    x = dg.tensor(rng.standard_normal(3), requires_grad=True)
    _close(f(x).item(), g(x).item())
    with pytest.raises(dg.GradientError, match="create_graph"):
        dg.grad(g(x), x, create_graph=True)


def test_calls_from_several_threads(rng):
    import threading
    w = dg.tensor(rng.standard_normal((4, 4)), requires_grad=True)
    c = dg.compile(lambda x: (x @ w).tanh().sum(), backend="numba")
    xs = [rng.standard_normal((3, 4)) for _ in range(4)]
    results: dict = {}

    def work(k: int) -> None:
        for _ in range(20):
            out = c(dg.tensor(xs[k]))
            results[k] = out.item()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, x in enumerate(xs):
        _close(results[k], np.tanh(x @ w._data).sum())
    assert c.trace_count == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_detach_and_no_grad_cut_the_gradient(rng, backend):
    w = dg.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    twin = dg.tensor(w._data.copy(), requires_grad=True)

    def f(x, w):
        h = x @ w
        with dg.no_grad():
            scale = (x @ w).sum()
        return (h * scale + h * h.detach()).sum()
    c = dg.compile(lambda x: f(x, w), backend=backend)
    x = dg.tensor(rng.standard_normal((2, 3)))
    out = c(x)
    out.backward()
    ref = f(x, twin)
    ref.backward()
    _close(out.item(), ref.item())
    np.testing.assert_allclose(w.grad._data, twin.grad._data, rtol=1e-12, atol=1e-12)


def test_rebinding_a_closed_over_weight_traces_again(rng):
    w = dg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    c = dg.compile(lambda x: (x @ w).sum(), backend="interpret")
    x = dg.tensor(rng.standard_normal((4, 3)))
    c(x).backward()
    with dg.no_grad():
        w = (w - 0.1 * w.grad).detach().requires_grad_()  # a new tensor object
    out = c(x)
    _close(out.item(), (x._data @ w._data).sum())
    assert c.trace_count == 2
