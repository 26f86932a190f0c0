"""Tiered execution: interpreter runs while the numba backend compiles in the
background, then compiled runs, on one session state. The compile is held
or failed by a hook (no sleeps, no timing)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from numba_backend_util import assert_close, numba_cache_dir  # noqa: F401

import staticgraph as sg
from staticgraph.runtime import tiered
from staticgraph.runtime.tiered import TieredRunner


@pytest.fixture
def hold_compile():
    """An Event the background compile waits on (set it to let the compile go)."""
    gate = threading.Event()
    hook = lambda program: gate.wait(60)  # noqa: E731
    tiered.COMPILE_HOOKS.append(hook)
    yield gate
    gate.set()
    tiered.COMPILE_HOOKS.remove(hook)


def training_graph():
    """A linear model trained by SGD: every run updates the variables."""
    g = sg.Graph("tiered")
    with g.as_default():
        x = sg.placeholder((None, 3), np.float64, name="x")
        y = sg.placeholder((None,), np.float64, name="y")
        w = sg.Variable(np.array([0.1, -0.2, 0.3]), name="w")
        b = sg.Variable(np.array(0.05), name="b")
        pred = sg.tanh(sg.matmul(x, w) + b)
        loss = sg.mean((pred - y) * (pred - y))
        train = sg.train.GradientDescentOptimizer(0.1).minimize(loss)
    return g, x, y, w, loss, train


def feed(x, y, step: int) -> dict:
    r = np.random.default_rng(step)
    return {x: r.standard_normal((8, 3)), y: r.standard_normal(8)}


def run_steps(sess, x, y, loss, train, steps) -> list:
    return [sess.run([loss, train], feed(x, y, s))[0] for s in steps]


def plan_runner(sess):
    (plan,) = sess._plans.values()
    return plan.runner


def test_runs_on_the_interpreter_while_compiling_then_switches(hold_compile):
    g, x, y, w, loss, train = training_graph()
    sess = sg.Session(g, backend="numba", tiered=True)
    first = run_steps(sess, x, y, loss, train, range(3))
    runner = plan_runner(sess)
    assert isinstance(runner, TieredRunner) and runner.tiers == ["interpret"] * 3
    assert "numba compiling in the background" in sess.explain([loss, train], feed(x, y, 0))
    reference = sg.Session(g, backend="interpret")
    want = run_steps(reference, x, y, loss, train, range(5))
    assert first == want[:3]  # the interpreted runs are the interpreter's, bit for bit
    np.testing.assert_array_equal(sess.get(w), _after(g, x, y, loss, train, w, 3))
    hold_compile.set()
    assert sess.wait_compiled(60)
    rest = run_steps(sess, x, y, loss, train, range(3, 5))
    assert runner.tiers == ["interpret"] * 3 + ["numba"] * 2
    assert_close(np.array(rest), np.array(want[3:]))
    assert_close(sess.get(w), reference.get(w))
    text = sess.explain([loss, train], feed(x, y, 0))
    assert "3 run(s) on the interpreter, 2 on numba" in text and "backend: numba" in text
    assert runner.kernels  # the compiled runner's attributes once it is ready


def _after(g, x, y, loss, train, w, steps: int) -> np.ndarray:
    sess = sg.Session(g, backend="interpret")
    run_steps(sess, x, y, loss, train, range(steps))
    return sess.get(w)


def test_the_background_warm_up_does_not_touch_the_session_state(hold_compile):
    g, x, y, w, loss, train = training_graph()
    sess = sg.Session(g, backend="numba", tiered=True)
    run_steps(sess, x, y, loss, train, range(1))
    hold_compile.set()
    assert sess.wait_compiled(60)
    np.testing.assert_array_equal(sess.get(w), _after(g, x, y, loss, train, w, 1))


def test_defaults_and_untiered_sessions(monkeypatch):
    g, x, y, w, loss, train = training_graph()
    monkeypatch.delenv(tiered.ENV_VAR, raising=False)
    assert sg.Session(g, backend="numba").tiered
    assert not sg.Session(g, backend="interpret").tiered
    monkeypatch.setenv(tiered.ENV_VAR, "0")
    assert not sg.Session(g, backend="numba").tiered
    sess = sg.Session(g, backend="numba", tiered=False)
    run_steps(sess, x, y, loss, train, range(1))
    assert not isinstance(plan_runner(sess), TieredRunner)
    assert sess.wait_compiled(0)
