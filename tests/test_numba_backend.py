"""backend="numba" agrees with the interpreter: every op of the shared list
(tests/op_cases.py, values and gradients), run-time (None) dims, cond, and the
semantics of state (updates in place, outputs never aliasing state).

The kernel cache is a session-wide temporary dir (numba_backend_util)."""

from __future__ import annotations

import numpy as np
import pytest
from numba_backend_util import assert_close, numba_cache_dir, run_both  # noqa: F401
from op_cases import CASES

import shared_ops as so
import staticgraph as sg
from staticgraph.numba_backend import NumbaRunner
from staticgraph.runtime.backends import auto_backend


def _case_graph(case, batch_none: bool = False):
    """The op applied to placeholders; its output and (float) gradients fetched."""
    graph = sg.Graph(case.id)
    with graph.as_default():
        holders, args = {}, []
        for i, a in enumerate(case.args):
            if isinstance(a, np.ndarray):
                shape = ((None,) + a.shape[1:]) if batch_none and a.ndim else a.shape
                holders[i] = sg.placeholder(shape, a.dtype, name=f"a{i}")
                args.append(holders[i])
            else:
                args.append(a)
        out = so.bind(case.primitive, *args, **case.params)
        fetches = [out]
        diff = [holders[i] for i in case.diff_inputs()]
        if diff and case.primitive.differentiable and out.dtype.kind == "f":
            ct = np.random.default_rng(3).standard_normal(
                np.shape(case.primitive.impl(*case.args, **case.params))).astype(out.dtype)
            grads = sg.gradients(out, diff, grad_ys=ct)
            fetches += [g for g in grads if g is not None]
    feed = {h: case.args[i] for i, h in holders.items()}
    return graph, fetches, feed


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_op_value_and_gradient_agree_with_the_interpreter(case):
    graph, fetches, feed = _case_graph(case)
    want, got = run_both(graph, fetches, feed)
    for g, w in zip(got, want):
        assert_close(g, w)


BATCH = [c for c in CASES if c.prim in ("add", "mul", "exp", "tanh", "sum", "max", "where",
                                          "softmax", "matmul", "transpose", "reshape")
         and all(isinstance(a, np.ndarray) and a.ndim >= 2 for a in c.args)]


@pytest.mark.parametrize("case", BATCH, ids=lambda c: c.id)
def test_none_dims(case):
    graph, fetches, feed = _case_graph(case, batch_none=True)
    want, got = run_both(graph, fetches, feed)
    for g, w in zip(got, want):
        assert_close(g, w)


def _mlp(dtype):
    """A small net: x @ w1 + b1, tanh, softmax cross-entropy; gradients and SGD."""
    graph = sg.Graph("mlp")
    rng = np.random.default_rng(0)
    with graph.as_default():
        x = sg.placeholder((None, 5), dtype, name="x")
        labels = sg.placeholder((None, 3), dtype, name="labels")
        w1 = sg.Variable(rng.standard_normal((5, 4)).astype(dtype), name="w1")
        b1 = sg.Variable(np.zeros(4, dtype), name="b1")
        w2 = sg.Variable(rng.standard_normal((4, 3)).astype(dtype), name="w2")
        h = sg.tanh(sg.matmul(x, w1) + b1)
        logp = sg.log_softmax(sg.matmul(h, w2), axis=1)
        loss = -sg.mean(sg.sum(labels * logp, axis=1))
        grads = sg.gradients(loss, [w1, b1, w2])
        train = sg.group(*[sg.assign(v, v - 0.1 * g) for v, g in zip([w1, b1, w2], grads)])
    data = {x: rng.standard_normal((6, 5)).astype(dtype),
            labels: np.eye(3, dtype=dtype)[rng.integers(0, 3, 6)]}
    return graph, [loss, w1, b1, w2, train], data


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_net_trains_like_the_interpreter(dtype):
    graph, fetches, data = _mlp(dtype)
    want, got = run_both(graph, fetches, data, steps=4)
    for g, w in zip(got[:4], want[:4]):
        assert_close(g, w, dtype)


def test_cond_forward_gradient_and_nested():
    graph = sg.Graph("cond")
    with graph.as_default():
        x = sg.placeholder((None, 3), np.float64, name="x")
        p = sg.placeholder((), np.bool_, name="p")
        q = sg.placeholder((), np.bool_, name="q")
        inner = lambda: sg.cond(q, lambda: sg.exp(x) * 2.0, lambda: x)  # noqa: E731
        y = sg.cond(p, inner, lambda: sg.tanh(x) + 1.0)
        loss = sg.sum(y * y)
        (g,) = sg.gradients(loss, [x])
    xv = np.linspace(-1, 1, 6).reshape(2, 3)
    for pv in (True, False):
        for qv in (True, False):
            want, got = run_both(graph, [y, loss, g], {x: xv, p: pv, q: qv})
            for a, b in zip(got, want):
                assert_close(a, b)


def test_batch_sizes_share_kernels_and_get_their_own_buffers():
    graph, fetches, data = _mlp(np.float64)
    x, labels = [k for k in data]
    f = sg.function([x, labels], fetches[0], backend="numba")
    f(data[x], data[labels])
    runner = f.runner
    compiled = runner.comp.specialisations()
    for n in (2, 9, 9, 2):
        value = f(np.ones((n, 5)), np.eye(3)[np.arange(n) % 3])
        ref = sg.function([x, labels], fetches[0])(np.ones((n, 5)), np.eye(3)[np.arange(n) % 3])
        assert_close(value, ref)
    assert runner.comp.specialisations() == compiled, "a new batch size recompiled"
    assert len(runner.lowered.buffers) == 3


def test_run_time_broadcast_outside_the_plan_runs_through_the_interpreter():
    """Two None dims the plan takes as equal, fed 1 and 4: NumPy broadcasting."""
    graph = sg.Graph("bcast")
    with graph.as_default():
        a = sg.placeholder((None, 3), np.float64, name="a")
        b = sg.placeholder((None, 3), np.float64, name="b")
        y = sg.exp(a) * b + a
    feed = {a: np.ones((1, 3)), b: np.arange(12.0).reshape(4, 3)}
    want, got = run_both(graph, y, feed)
    assert_close(got, want)
    bad = {a: np.ones((2, 3)), b: np.ones((4, 3))}
    with sg.Session(graph, backend="numba") as sess, pytest.raises(sg.ShapeError):
        sess.run(y, bad)


def _state_graph():
    graph = sg.Graph("state")
    with graph.as_default():
        a = sg.Variable(np.arange(4.0), name="a")
        b = sg.Variable(np.arange(4.0) * 10, name="b")
        x = sg.placeholder((4,), np.float64, name="x")
        swap = sg.group(sg.assign(a, b), sg.assign(b, a))
        step = sg.assign(a, a * 2.0 + x)
    return graph, a, b, x, swap, step


def test_updates_swap_and_fetched_variables_keep_their_old_value():
    graph, a, b, x, swap, step = _state_graph()
    for backend in ("interpret", "numba"):
        with sg.Session(graph, backend=backend) as sess:
            old_a, old_b, _ = sess.run([a, b, swap])
            np.testing.assert_array_equal(sess.get(a), np.arange(4.0) * 10)
            np.testing.assert_array_equal(sess.get(b), np.arange(4.0))
            value, new = sess.run([a, step], {x: np.ones(4)})
            np.testing.assert_array_equal(value, np.arange(4.0) * 10)  # read before the update
            np.testing.assert_array_equal(new, np.arange(4.0) * 20 + 1)
            np.testing.assert_array_equal(old_a, np.arange(4.0))
            value[:] = -1  # the caller's copy: the state does not change
            np.testing.assert_array_equal(sess.get(a), np.arange(4.0) * 20 + 1)


def test_in_place_update_keeps_the_state_array():
    graph, a, b, x, swap, step = _state_graph()
    with graph.as_default():
        only = sg.assign(a, a * 2.0 + x)
    with sg.Session(graph, backend="numba") as sess:
        sess.run(only, {x: np.ones(4)})
        storage = sess.state[a.var]
        sess.run(only, {x: np.ones(4)})
        assert sess.state[a.var] is storage
        np.testing.assert_array_equal(storage, (np.arange(4.0) * 2 + 1) * 2 + 1)


def test_a_state_array_shared_by_two_variables_is_never_written_through():
    graph, a, b, x, swap, step = _state_graph()
    with graph.as_default():
        only = sg.assign(a, a * 2.0 + x)
    with sg.Session(graph, backend="numba") as sess:
        shared = np.arange(4.0)
        sess.state[a.var] = sess.state[b.var] = shared  # as another backend may leave them
        for _ in range(2):
            sess.run(only, {x: np.ones(4)})
        np.testing.assert_array_equal(sess.get(b), np.arange(4.0))
        np.testing.assert_array_equal(sess.get(a), (np.arange(4.0) * 2 + 1) * 2 + 1)
        np.testing.assert_array_equal(shared, np.arange(4.0))


def test_check_numerics_names_the_op_inside_a_fused_group():
    graph = sg.Graph("nan")
    with graph.as_default():
        x = sg.placeholder((3,), np.float64, name="x")
        y = sg.exp(x * 2.0) + sg.log(x - 1.0)  # log of a negative: NaN
    with sg.Session(graph, backend="numba", check_numerics=True) as sess:
        with pytest.raises(sg.NumericsError, match="'log'.*test_numba_backend.py"):
            sess.run(y, {x: np.array([0.5, 2.0, 3.0])})
        np.testing.assert_allclose(sess.run(y, {x: np.array([2.0, 3.0, 4.0])}),
                                   np.exp([4.0, 6.0, 8.0]) + np.log([1.0, 2.0, 3.0]))


def test_auto_is_numba_without_a_gpu():
    if sg.cuda_available():
        pytest.skip("a GPU is usable here: auto picks cuda")
    assert auto_backend() == "numba"
    graph, fetches, data = _mlp(np.float64)
    with sg.Session(graph, backend="auto") as sess:
        sess.run(fetches[0], data)
        plan = next(iter(sess._plans.values()))
    assert isinstance(plan.runner, NumbaRunner)


def test_the_plan_never_overwrites_what_a_kernel_still_reads():
    """A fused sum clears its output before reading the inputs; `m + m.T` reads
    what an in-place output would have overwritten."""
    graph = sg.Graph("alias")
    with graph.as_default():
        a = sg.placeholder((3, 3), np.float64, name="a")
        m = sg.exp(a) * 2.0
        sym = m + sg.transpose(m) * 3.0
        peak = sg.max(sym, axis=0, keepdims=True)
        share = sg.sum(sg.cast(sg.equal(sym, peak), np.float64), axis=0, keepdims=True)
        out = share * 2.0
    f = sg.function([a], out, backend="numba")
    # Both candidates are unsafe, so the memory planner itself keeps them apart.
    assert len(f.runner.plan.in_place) == 0
    want, got = run_both(graph, out, {a: np.arange(9.0).reshape(3, 3) / 9})
    assert_close(got, want)
