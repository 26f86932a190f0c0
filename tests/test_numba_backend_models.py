"""backend="numba" on whole models: the tutorial training step (float64 and float32),
scan, opaque lowerings; what `explain()` and `f.source` show; and the steady state
(buffers planned once: no allocation per step).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from numba_backend_util import assert_close, numba_cache_dir, run_both  # noqa: F401

import staticgraph as sg
from shared_ops import REGISTRY
from staticgraph.numba_backend import choice, register_lowering, unregister_lowering

N, D_IN, H, D_OUT, LR = 32, 50, 64, 4, 1e-5


def tutorial(dtype=np.float64, backend="numba") -> sg.Function:
    """The tutorial two-layer net's SGD step as one function (loss out, updates in)."""
    rng = np.random.default_rng(0)
    graph = sg.Graph("tutorial")
    with graph.as_default():
        x = sg.placeholder((None, D_IN), dtype, name="x")
        y = sg.placeholder((None, D_OUT), dtype, name="y")
        w1 = sg.Variable(rng.standard_normal((D_IN, H)).astype(dtype), name="w1")
        w2 = sg.Variable(rng.standard_normal((H, D_OUT)).astype(dtype), name="w2")
        h_relu = sg.relu(sg.matmul(x, w1))
        loss = sg.sum((sg.matmul(h_relu, w2) - y) ** 2)
        g1, g2 = sg.gradients(loss, [w1, w2])
        f = sg.function([x, y], loss, updates=[(w1, w1 - LR * g1), (w2, w2 - LR * g2)],
                        backend=backend)
    f.w1, f.w2 = w1, w2
    return f


def data(n: int = N, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return (rng.standard_normal((n, D_IN)).astype(dtype),
            rng.standard_normal((n, D_OUT)).astype(dtype))


@pytest.fixture(scope="module")
def step() -> sg.Function:
    """One compiled tutorial step shared by this module's tests."""
    f = tutorial()
    f(*data())
    return f


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tutorial_step_trains_like_the_interpreter(dtype):
    fn, ref = tutorial(dtype), tutorial(dtype, backend="interpret")
    x, y = data(dtype=dtype)
    for _ in range(5):
        assert_close(fn(x, y), ref(x, y), dtype)
    assert_close(fn.get(fn.w1), ref.get(ref.w1), dtype)
    assert_close(fn.get(fn.w2), ref.get(ref.w2), dtype)


def test_explain_shows_passes_groups_plan_costs_and_source(step):
    text = step.explain(file=open("/dev/null", "w"))
    for expected in ("backend: numba", "passes", "fuse", "fused_sub_pow", "memory plan",
                     "into variable", "compile costs", "extract program", "memory plan",
                     "kernel compiles or loads", "program cache:", "generated source",
                     "def run(inputs, state, _B=None):", "test_numba_backend_models.py:"):
        assert expected.replace("kernel compiles or loads", "kernels compiling") in text, \
            expected


def test_source_is_python_naming_the_user_lines(step):
    source = step.source
    main = source.split("# ---- kernel")[0]
    compile(main.split("\n", 1)[1], "<orchestrator>", "exec")
    assert "loss = sg.sum((sg.matmul(h_relu, w2) - y) ** 2)" in main  # the user's own line
    assert "test_numba_backend_models.py:" in main
    assert "_matmul(x, w1, out=" in main  # BLAS into a planned buffer
    assert "written in place" in main  # both SGD updates go straight into the variables
    assert "@njit" in source  # the kernels follow


def test_steady_state_allocates_nothing(step):
    x, y = data()
    runner, state = step.runner, step.session.state
    runner([x, y], state)
    buffers = dict(runner.lowered.buffers)
    first = runner([x, y], state)[0]
    address = first.__array_interface__["data"][0]
    del first
    tracemalloc.start()
    try:
        runner([x, y], state)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(10):
            out = runner([x, y], state)[0]
            del out
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base < 4096, "an array was allocated in the steady state"  # >= 16 KiB each
    assert current - base < 512
    assert runner.lowered.buffers == buffers  # the same buffer objects every call
    again = runner([x, y], state)[0]
    assert again.__array_interface__["data"][0] == address  # the returned array is recycled
    kept = runner([x, y], state)[0]
    assert kept is not again  # ... unless the caller still holds it


def test_new_batch_size_does_not_recompile(step):
    before = step.runner.comp.specialisations()
    ref = tutorial(backend="interpret")
    for n in (3, 40):
        x, y = data(n)
        ref.session.set(ref.w1, step.get(step.w1))
        ref.session.set(ref.w2, step.get(step.w2))
        assert_close(step(x, y), ref(x, y))
    assert step.runner.comp.specialisations() == before


def test_scan_agrees_with_the_interpreter():
    graph = sg.Graph("rnn")
    with graph.as_default():
        xs = sg.placeholder((None, 2, 3), np.float64, name="xs")
        w = sg.Variable(np.random.default_rng(0).standard_normal((3, 3)) * 0.5, name="w")
        hs = sg.scan(lambda h, x: sg.tanh(sg.matmul(h, w) + x), xs, initializer=xs[0] * 0.0)
        loss = sg.sum(hs * hs)
        (gw,) = sg.gradients(loss, [w])
    for steps in (4, 1):
        feed = {xs: np.random.default_rng(steps).standard_normal((steps, 2, 3))}
        want, got = run_both(graph, [loss, gw], feed)
        for a, b in zip(got, want):
            assert_close(a, b)


def test_registered_lowering_replaces_an_op_and_may_decline():
    calls = []

    def lower_softmax(eqn, ctx):
        assert "test_numba_backend_models.py:" in ctx.site
        if eqn.params["axis"] != (1,):
            return None  # declined: the impl fallback runs

        def run(x):
            calls.append(x.shape)
            e = np.exp(x - x.max(axis=1, keepdims=True))
            return (e / e.sum(axis=1, keepdims=True),)
        run.source = "# softmax by hand"
        return run

    graph = sg.Graph("hook")
    with graph.as_default():
        x = sg.placeholder((None, 3), np.float64, name="x")
        y = sg.softmax(x, axis=1) * 2.0 + sg.softmax(x, axis=0)
    register_lowering(REGISTRY["softmax"], lower_softmax)
    try:
        want, got = run_both(graph, y, {x: np.arange(6.0).reshape(2, 3)})
        f = sg.function([x], y, backend="numba")
        assert "# softmax by hand" in f.source and "registered lowering" in f.source
    finally:
        unregister_lowering(REGISTRY["softmax"])
    assert_close(got, want)
    assert calls == [(2, 3)]


def test_a_lowering_is_registered_for_the_primitive_not_its_name():
    with pytest.raises(TypeError, match="takes the Primitive"):
        register_lowering("softmax", lambda eqn, ctx: None)


def _calls(probe, now: list, seconds: dict, n: int) -> list[int]:
    """`n` calls of `probe`, option k taking seconds[k]; the options picked."""
    picked = []
    for _ in range(n):
        option = probe.pick()
        now[0] += seconds[option]
        probe.done()
        picked.append(option)
    return picked


def test_probe_keeps_the_faster_option(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(choice.time, "perf_counter", lambda: now[0])
    probe = choice.Probe(default=0)
    _calls(probe, now, {0: 5.0, 1: 1.0}, choice.WARM_CALLS + 2 * choice.PROBE_CALLS)
    assert probe.best == 1
    now[0] += choice.REPROBE_S  # then the machine changes
    _calls(probe, now, {0: 1.0, 1: 5.0}, probe.next_call - probe.calls - 1)
    assert probe.best == 1  # no measurement yet: too few calls since the last one
    _calls(probe, now, {0: 1.0, 1: 5.0}, 2 * choice.PROBE_CALLS)
    assert probe.best == 0
    _calls(probe, now, {0: 1.0, 1: 5.0}, probe.next_call - probe.calls - 1)
    now[0] += choice.REPROBE_S
    slow = {probe.best: 1.0, 1 - probe.best: 10.0}  # the other option is far slower
    calls = probe.calls
    while probe.calls - calls < 2 * choice.PROBE_CALLS:
        option = probe.pick()
        now[0] += slow[option]
        probe.done()
        if not probe.left:
            break
    assert probe.calls - calls == 2  # one call of each: the measurement stopped at once
    assert probe.wait == 2 * choice.REPROBE_S


def test_a_rarely_called_probe_measures_on_few_of_its_calls(monkeypatch):
    """Calls seconds apart: the wait in seconds is always over, yet the other
    option runs on at most about a tenth of the calls."""
    now = [0.0]
    monkeypatch.setattr(choice.time, "perf_counter", lambda: now[0])
    probe = choice.Probe(default=0)
    picked = _calls(probe, now, {0: 10.0, 1: 12.0}, 1000)
    assert probe.best == 0 and 0 < picked.count(1) <= 110


def test_probe_measures_again_within_seconds_however_long_the_best_held(monkeypatch):
    """A shared machine's load changes within seconds: after any number of
    measurements that kept the best, the next one is at most 8 s away (once the
    calls since the last one reach SPACING per call it took)."""
    now = [0.0]
    monkeypatch.setattr(choice.time, "perf_counter", lambda: now[0])
    probe = choice.Probe(default=0)
    measurements = 0
    for _ in range(1000):
        option = probe.pick()
        started = probe.left == 2 * choice.PROBE_CALLS
        now[0] += 1.0 if option == 0 else 1.5  # option 0 stays the best
        probe.done()
        measurements += started
        if not probe.left:
            assert probe.next_probe - now[0] <= 8.0
    assert measurements >= 10 and probe.best == 0
