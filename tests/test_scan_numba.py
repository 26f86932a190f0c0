"""Scan lowering (staticgraph/scan/loop/): each scan runs as one compiled
loop whose results and gradients equal the interpreter's (float64, tight), for
every length with one compiled function; reverse, nested structures, captured
variables, scan inside scan, and the Python-loop fallback."""

from __future__ import annotations

import numpy as np
import pytest
from scan_numba_util import Lowered, assert_close

import staticgraph as sg
from comparisons.rnn import models as rm
from comparisons.rnn import numpy_steps as rn
from shared_ops import ShapeError
from staticgraph.scan import loop as sl

BATCH, D_IN, HIDDEN = 3, 4, 5


def _rnn(cell: str, loss_kind: str = "mean"):
    """A graph: RNN over xs (None, B, D) from a zero state; loss and its gradients
    w.r.t. the weights, xs and the initial state."""
    rng = np.random.default_rng(1)
    params = rn.init_params(cell, D_IN, HIDDEN, rng)
    g = sg.Graph(f"test-{cell}")
    with g.as_default():
        w = {k: sg.Variable(params[k], name=k) for k in ("Wx", "Wh", "b")}
        xs = sg.placeholder((None, BATCH, D_IN), np.float64, name="xs")
        h0 = sg.placeholder((BATCH, HIDDEN), np.float64, name="h0")
        state0 = (h0, h0 * 0.5) if cell == "lstm" else h0
        hs = rm.scan_hidden_states(cell, w, xs, state0)
        loss = (hs * hs).sum() * 0.1 if loss_kind == "mean" else (hs[-1] * hs[-1]).sum()
        wrt = [w["Wx"], w["Wh"], w["b"], xs, h0]
        fetches = [loss, hs] + sg.gradients(loss, wrt)
    return Lowered(g, fetches, [xs, h0]), params


@pytest.fixture(scope="module")
def tanh_rnn():
    return _rnn("tanh")[0]


@pytest.fixture(scope="module")
def lstm():
    return _rnn("lstm")


def test_tanh_rnn_any_length_one_compiled_loop_each(tanh_rnn):
    rng = np.random.default_rng(0)
    h0 = rng.standard_normal((BATCH, HIDDEN))
    assert tanh_rnn.compiled_loops(), "the scans must compile"
    before = tanh_rnn.overloads()
    for length in (0, 1, 2, 6):
        xs = rng.standard_normal((length, BATCH, D_IN))
        assert_close(tanh_rnn.run(xs, h0), tanh_rnn.reference(xs, h0))
    assert tanh_rnn.overloads() == before == [1] * len(before)  # no recompile


def test_lstm_matches_interpreter_and_hand_written_bptt(lstm):
    lowered, params = lstm
    rng = np.random.default_rng(2)
    for length in (1, 4):
        xs, h0 = rng.standard_normal((length, BATCH, D_IN)), rng.standard_normal((BATCH, HIDDEN))
        got = lowered.run(xs, h0)
        assert_close(got, lowered.reference(xs, h0))
    xs = rng.standard_normal((5, BATCH, D_IN))
    h0 = np.zeros((BATCH, HIDDEN))
    loss, _, g_wx, g_wh, g_b, g_xs, _ = lowered.run(xs, h0)
    hs, cache = rn.forward("lstm", params, xs, (h0, h0 * 0.5))
    want = rn.backward("lstm", params, xs, (h0, h0 * 0.5), cache, 0.2 * hs)
    assert np.isclose(loss, 0.1 * np.sum(hs * hs), rtol=1e-13)
    assert_close([g_wx, g_wh, g_b, g_xs], [want["Wx"], want["Wh"], want["b"], want["xs"]])
    # the gates are column slices of one buffer: their kernels run over row views
    assert all("_rows((" in loop.source for loop in lowered.compiled_loops())


def test_loops_are_compiled_and_explained(tanh_rnn):
    kinds = sorted(type(loop).__name__ for loop in tanh_rnn.loops.values())
    # forward and backward; the delay went (the dWh GEMM reads h_t shifted: scan_shift)
    assert kinds == ["CompiledScan", "CompiledScan"]
    text = "\n".join(loop.explain() for loop in tanh_rnn.loops.values())
    assert "compiled loop" in text
    source = tanh_rnn.compiled_loops()[0].source
    assert "for t in range(T)" in source and "def scan_loop_into" in source


def test_run_time_batch_and_length_share_one_specialisation():
    g = sg.Graph()
    with g.as_default():
        w = sg.Variable(np.linspace(-1, 1, 12).reshape(3, 4), name="w")
        xs = sg.placeholder((None, None, 3), np.float64)
        h0 = sg.placeholder((None, 4), np.float64)
        hs = sg.scan(lambda h, x: sg.tanh(x @ w + h), xs, initializer=h0)
        grads = sg.gradients(hs.sum(), [w, xs, h0])
    lowered = Lowered(g, [hs] + grads, [xs, h0])
    rng = np.random.default_rng(3)
    for length, batch in ((3, 2), (0, 5), (4, 1), (2, 7)):
        args = rng.standard_normal((length, batch, 3)), rng.standard_normal((batch, 4))
        assert_close(lowered.run(*args), lowered.reference(*args))
    assert lowered.overloads() == [1] * len(lowered.overloads()) and lowered.overloads()


def test_reverse_nested_structures_and_captured_variables():
    g = sg.Graph()
    with g.as_default():
        scale = sg.Variable(np.array([0.5, -1.5]), name="scale")
        a = sg.placeholder((None, 2), np.float64)
        b = sg.placeholder((None,), np.float64)

        def step(acc, x):
            s = acc["s"] * scale + x[0] * x[1]
            return {"s": sg.tanh(s), "p": acc["p"] + sg.sum(s) * x[1]}
        init = {"s": np.zeros(2), "p": np.float64(0.0)}
        out = sg.scan(step, (a, b), initializer=init, reverse=True)
        loss = sg.sum(out["s"] * out["s"]) + sg.sum(out["p"])
        grads = sg.gradients(loss, [scale, a, b])
    lowered = Lowered(g, [out["s"], out["p"]] + grads, [a, b])
    assert lowered.compiled_loops()
    rng = np.random.default_rng(4)
    for length in (0, 1, 5):
        args = rng.standard_normal((length, 2)), rng.standard_normal(length)
        assert_close(lowered.run(*args), lowered.reference(*args))


def test_scan_inside_scan_gradients():
    g = sg.Graph()
    with g.as_default():
        w = sg.Variable(np.array([[0.3, -0.2], [0.1, 0.4]]), name="w")
        xs = sg.placeholder((None, None, 2), np.float64)

        def outer(h, rows):
            inner = sg.scan(lambda c, r: sg.tanh(c @ w + r), rows, initializer=h)
            return inner[-1] * 0.9 + h * 0.1
        hs = sg.scan(outer, xs, initializer=np.zeros(2))
        grads = sg.gradients(sg.sum(hs * hs), [w, xs])
    lowered = Lowered(g, [hs] + grads, [xs])
    rng = np.random.default_rng(5)
    for shape in ((3, 2, 2), (1, 4, 2), (2, 1, 2)):
        x = rng.standard_normal(shape)
        assert_close(lowered.run(x), lowered.reference(x))
    nested = [loop for loop in lowered.compiled_loops() if loop.inners]
    assert nested, "the outer loops call the inner loops' compiled functions"


def test_unsupported_op_falls_back_to_a_python_loop():
    g = sg.Graph()
    with g.as_default():
        xs = sg.placeholder((None, 3), np.float64)
        out = sg.scan(lambda acc, x: sg.softmax(acc + x), xs, initializer=np.zeros(3))
        grad = sg.gradients(sg.sum(out * out), [xs])
    lowered = Lowered(g, [out] + grad, [xs])
    forward = next(loop for loop in lowered.loops.values()
                   if isinstance(loop, sl.FallbackScan) and "softmax" in loop.reason)
    assert "Python loop" in forward.explain() and "softmax" in forward.explain()
    x = np.random.default_rng(6).standard_normal((4, 3))
    assert_close(lowered.run(x), lowered.reference(x))
    assert_close(lowered.run(x[:0]), lowered.reference(x[:0]))


def test_fori_loop_and_scalar_carries():
    g = sg.Graph()
    with g.as_default():
        v = sg.placeholder((None,), np.float64)
        total = sg.scan(lambda acc, x: acc + x * x, v, initializer=np.float64(1.0))
        fact = sg.fori_loop(1, 6, lambda i, acc: acc * sg.cast(i, "float64"), np.float64(1.0))
        grad = sg.gradients(sg.sum(total), [v])
    lowered = Lowered(g, [total, fact] + grad, [v])
    assert len(lowered.compiled_loops()) >= 2
    for n in (0, 3):
        x = np.arange(n, dtype=np.float64)
        got = lowered.run(x)
        assert_close(got, lowered.reference(x))
    assert float(lowered.run(np.ones(1))[1]) == 120.0


def test_sequences_of_different_lengths_are_a_shape_error():
    g = sg.Graph()
    with g.as_default():
        a = sg.placeholder((None, 2), np.float64)
        b = sg.placeholder((None, 2), np.float64)
        out = sg.scan(lambda acc, x: acc + x[0] * x[1], (a, b), initializer=np.zeros(2))
    lowered = Lowered(g, [out], [a, b])
    loop = lowered.compiled_loops()[0]
    with pytest.raises(ShapeError, match="different lengths"):
        loop(np.zeros(2), np.zeros((3, 2)), np.zeros((4, 2)))


def test_numba_backend_runs_scans_through_the_lowering():
    if "numba" not in sg.backend_names():
        pytest.skip("numba backend not registered")
    lowered, params = _rnn("tanh", "last")
    rng = np.random.default_rng(7)
    g = lowered.program
    runner = sg.make_runner(g, "numba")
    for length in (1, 5):
        xs, h0 = rng.standard_normal((length, BATCH, D_IN)), rng.standard_normal((BATCH, HIDDEN))
        state = {v: params[v.name] for v in g.variables}
        assert_close(runner([xs, h0], state), lowered.reference(xs, h0))
    assert "compiled loop" in runner.explain()


def test_numba_backend_optimises_the_program_once(monkeypatch):
    """The scan passes and fusion run once on the whole program; lowering a
    scan runs no pass (every `optimize` call ends in `fused_summaries`)."""
    from staticgraph.passes import pipeline
    lowered, _ = _rnn("tanh", "last")
    calls = []
    original = pipeline.fused_summaries
    monkeypatch.setattr(pipeline, "fused_summaries", lambda g: calls.append(g) or original(g))
    runner = sg.make_runner(lowered.program, "numba")
    assert len(calls) == 1
    assert [r.name for r in runner.report.records].count("scan_hoist") == 1
    loops = [e for e in runner.optimized.eqns if e.prim is sg.scan_p]
    assert len(loops) == 2 and all(any(b.prim.name == "fused" for b in e.params["body"].eqns)
                                   for e in loops)
    assert runner.explain().count("compiled loop") >= 2


def test_shape_ops_in_the_body_compile():
    g = sg.Graph()
    with g.as_default():
        w = sg.Variable(np.linspace(-0.5, 0.5, 16).reshape(4, 4), name="w")
        xs = sg.placeholder((None, 2, 4), np.float64)

        def step(h, x):
            parts = sg.concatenate([h[:, :1] * 2.0, h[:, 1:]], axis=1)
            flat = sg.reshape(parts, (8,))
            back = sg.reshape(flat * 0.5, (2, 4))
            col = sg.expand_dims(sg.mean(x, axis=1), 1)
            z = sg.transpose(sg.transpose(back @ w) + sg.squeeze(sg.expand_dims(x, 0), 0).T)
            return sg.tanh(z + col - sg.max(x, axis=0))
        hs = sg.scan(step, xs, initializer=np.zeros((2, 4)))
        grads = sg.gradients(sg.sum(hs * hs), [w, xs])
    lowered = Lowered(g, [hs] + grads, [xs])
    fallbacks = [loop.reason for loop in lowered.loops.values()
                 if isinstance(loop, sl.FallbackScan)]
    assert not fallbacks, fallbacks
    rng = np.random.default_rng(8)
    for length in (0, 1, 3):
        x = rng.standard_normal((length, 2, 4))
        assert_close(lowered.run(x), lowered.reference(x))


def test_loop_module_is_cached_on_disk(tmp_path):
    from staticgraph.compiler import KernelCache
    g = sg.Graph()
    with g.as_default():
        xs = sg.placeholder((None, 3), np.float64)
        out = sg.scan(lambda acc, x: sg.tanh(acc * 0.5 + x), xs, initializer=np.zeros(3))
    eqn = next(e for e in g.eqns if e.prim is sg.scan_p)
    first = sl.compile_scan(eqn, cache=KernelCache(tmp_path))
    again = sl.compile_scan(eqn, cache=KernelCache(tmp_path))  # a new process, as it were
    assert (first.record.source, again.record.source) == ("miss", "disk")
    assert again.record.specialisations[-1].from_cache  # Numba's machine code, reloaded
    x = np.random.default_rng(9).standard_normal((4, 3))
    assert_close(list(again(np.zeros(3), x)), list(sg.scan_p.impl(np.zeros(3), x, **eqn.params)))
    del out


@pytest.mark.parametrize("index, rank, keeps", [
    ((slice(None), slice(2, 5)), 2, True), ((1,), 2, True), ((None, slice(None)), 1, True),
    ((slice(None), 3), 2, False), ((slice(None), slice(None, None, 2)), 2, False),
    ((slice(None), slice(1, 4), None), 2, True), ((Ellipsis, slice(1, 2)), 2, False)])
def test_views_that_keep_contiguous_rows(index, rank, keeps):
    from staticgraph.scan.loop.emit import _keeps_last_axis
    assert _keeps_last_axis(index, rank) is keeps
