"""Threads and processes: compiled functions, sessions, tapes and the kernel cache.

- An `sg.function` (every registered backend but cuda) called from several
  threads at once returns what serial calls return; with updates, no update
  is lost: calls are serialised per session (docs/errors.md, "Guarantees").
- `Session.run` from several threads: the same.
- dyngraph: grad mode is per thread, so tapes built in different threads
  are independent (one thread's `no_grad()` or backward does not stop
  another thread's recording).
- Two processes compiling the same graph into one cache dir both succeed and
  leave the cache valid (once a compiled backend is registered).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg

BACKENDS = [b for b in sg.backend_names() if b not in ("cuda", "auto")]  # cuda: simulator
THREADS = 8


@pytest.fixture(autouse=True)
def fast_switching():
    """Switch threads every few microseconds so that races show up."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(old)


def model():
    """A small graph with matmul, cond and scan; returns (x, outputs)."""
    graph = sg.Graph("threads")
    with graph.as_default():
        x = sg.placeholder((None, 4), "float64", name="x")
        w = sg.Variable(np.linspace(-1, 1, 16).reshape(4, 4), name="w")
        h = sg.tanh(sg.matmul(x, w))
        s = sg.cond(sg.reduce_sum(h) > 0, lambda: h * 2.0, lambda: h - 1.0)
        hs = sg.scan(lambda acc, row: sg.tanh(acc + row), s, initializer=sg.zeros_like(s[0]))
        loss = sg.reduce_sum(hs * hs) + sg.reduce_mean(s)
        return x, [loss] + sg.gradients(loss, [x, w])


def inputs(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal((int(rng.integers(1, 6)), 4)) for _ in range(n)]


def run_threaded(fn, args: list) -> list:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(fn, args))


@pytest.mark.parametrize("backend", BACKENDS)
def test_function_from_threads_equals_serial_calls(backend):
    x, outs = model()
    f = sg.function([x], outs, backend=backend)
    args = inputs(24) * 4
    serial = [f(a) for a in args]
    for got, want in zip(run_threaded(f, args), serial):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def counter(backend: str):
    """f(x) returns n[0] and adds sum(x) to n (a float64 variable of shape (1,))."""
    graph = sg.Graph("counter")
    with graph.as_default():
        x = sg.placeholder((None,), "float64")
        n = sg.Variable(np.zeros(1), name="n")
        update = [(n, n + sg.reduce_sum(x))]
        return sg.function([x], n[0], updates=update, backend=backend), n


@pytest.mark.parametrize("backend", BACKENDS)
def test_updates_from_threads_are_not_lost(backend):
    f, n = counter(backend)
    calls = 400
    seen = run_threaded(lambda _: float(f(np.ones(3))), range(calls))
    assert f.get(n)[0] == 3.0 * calls  # every update landed
    assert sorted(seen) == [3.0 * k for k in range(calls)]  # as if run one after another


def test_session_run_from_threads():
    graph = sg.Graph("session-threads")
    with graph.as_default():
        x = sg.placeholder((None,), "float64")
        n = sg.Variable(np.zeros(()), name="n")
        total = n + sg.reduce_sum(x)
        incr = sg.assign_add(n, 1.0)
    with sg.Session(graph) as sess:
        seen = run_threaded(lambda k: sess.run([total, incr], {x: np.full(2, float(k))})[0],
                            range(300))
        assert sess.get(n) == 300.0
    assert len(seen) == 300


def test_two_functions_sharing_a_session_serialise():
    f, n = counter("interpret")
    graph = n.graph
    with graph.as_default():
        y = sg.placeholder((), "float64")
        g = sg.function([y], n, updates=[(n, n - y)], session=f.session)
    run_threaded(lambda k: f(np.ones(2)) if k % 2 else g(np.float64(2.0)), range(400))
    assert f.get(n)[0] == 0.0


# ---- dyngraph ----------------------------------------------------------------------------

def test_grad_mode_is_per_thread():
    inside, done = threading.Event(), threading.Event()
    worker_modes = []

    def evaluate():
        with dg.no_grad():
            inside.set()
            done.wait(120)
            worker_modes.append(dg.is_grad_enabled())  # still off here

    worker = threading.Thread(target=evaluate)
    worker.start()
    try:
        assert inside.wait(120)
        x = dg.tensor(np.array([1.0, 2.0]), requires_grad=True)
        y = (x * x).sum()  # recorded although the worker is inside no_grad
        assert y.requires_grad and dg.is_grad_enabled()
        y.backward()
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    finally:
        done.set()
        worker.join()
    assert worker_modes == [False]


def test_new_threads_start_with_grad_mode_on():
    seen = []
    with dg.no_grad():
        thread = threading.Thread(target=lambda: seen.append(dg.is_grad_enabled()))
        thread.start()
        thread.join()
        assert not dg.is_grad_enabled()
    assert seen == [True]


def train(seed: int, steps: int = 30) -> np.ndarray:
    """A few SGD steps of a tiny MLP; evaluation under no_grad between steps."""
    rng = np.random.default_rng(seed)
    w1 = dg.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    w2 = dg.tensor(rng.standard_normal((5, 1)), requires_grad=True)
    x, t = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    for _ in range(steps):
        loss = ((dg.tanh(dg.tensor(x) @ w1) @ w2 - dg.tensor(t)) ** 2).mean()
        loss.backward()
        with dg.no_grad():
            for w in (w1, w2):
                w -= 0.1 * w.grad
                w.grad = None
            (dg.tanh(dg.tensor(x) @ w1) @ w2).sum()  # an evaluation, not recorded
    return np.concatenate([w1.detach().numpy().ravel(), w2.detach().numpy().ravel()])


def test_tapes_in_threads_are_independent():
    seeds = list(range(16))
    serial = [train(s) for s in seeds]
    for got, want in zip(run_threaded(train, seeds), serial):
        np.testing.assert_array_equal(got, want)


# ---- processes sharing the kernel cache ---------------------------------------------------

COMPILED = [b for b in BACKENDS if b != "interpret"]
SCRIPT = """
import json, sys, warnings
import numpy as np
import staticgraph as sg
graph = sg.Graph("cached")
with graph.as_default():
    x = sg.placeholder((None, 3), "float64")
    w = sg.Variable(np.linspace(-1, 1, 6).reshape(3, 2))
    loss = sg.reduce_sum(sg.tanh(sg.matmul(x, w)) * sg.sigmoid(x[:, :2]) - sg.exp(-x[:, 1:] ** 2))
    outs = [loss] + sg.gradients(loss, [x, w])
value = np.linspace(-2, 2, 12).reshape(4, 3)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    got = sg.function([x], outs, backend=sys.argv[1])(value)
want = sg.function([x], outs)(value)
ok = all(np.allclose(g, w, rtol=1e-12, atol=1e-12) for g, w in zip(got, want))
print(json.dumps({"ok": ok, "warnings": [str(w.message) for w in caught]}))
"""


def _spawn(backend: str, cache_dir):
    env = dict(os.environ, GRAPHCOMPARE_CACHE_DIR=str(cache_dir))
    return subprocess.Popen([sys.executable, "-c", SCRIPT, backend], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _result(proc) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("backend", COMPILED or [pytest.param("numba", marks=pytest.mark.skip(
    reason="no compiled backend registered yet"))])
def test_two_processes_compiling_one_graph_into_one_cache(backend, tmp_path):
    first = [_spawn(backend, tmp_path) for _ in range(2)]  # at the same time
    results = [_result(p) for p in first]
    assert all(r["ok"] for r in results), results
    again = _result(_spawn(backend, tmp_path))  # the cache they left is valid
    assert again == {"ok": True, "warnings": []}
