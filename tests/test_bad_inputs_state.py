"""Data and state in staticgraph (docs/errors.md, section "data and state"): a
closed session refuses every use; a failed run commits nothing on any backend
and raises the interpreter's error; fetches never alias feeds or each other;
compiled programs release their generated source."""

from __future__ import annotations

import gc
import linecache
import os
import sys

import numpy as np
import pytest
from bad_inputs_util import documents, expect

import staticgraph as sg

FILE = os.path.basename(__file__)
F64 = "float64"
BACKENDS = ["interpret", "numba"]


def here() -> str:
    return f"{FILE}:{sys._getframe(1).f_lineno}"


class Model:
    """w (3,), v (), x (None,): `step` adds 1 to w and max(x) to v."""

    def __init__(self, backend: str) -> None:
        self.graph = sg.Graph("state")
        with self.graph.as_default():
            self.x = sg.placeholder((None,), F64, name="x")
            self.w = sg.Variable(np.zeros(3), name="w")
            self.v = sg.Variable(np.zeros(()), name="v")
            new_w = sg.assign_add(self.w, np.ones(3))  # computed (in place) before max
            self.line, self.peak = here(), sg.reduce_max(self.x)
            self.step = sg.group(new_w, sg.assign_add(self.v, self.peak))
        self.sess = sg.Session(self.graph, backend=backend)

    def values(self) -> tuple:
        return self.sess.get(self.w).tolist(), float(self.sess.get(self.v))

    def good_step(self, before: tuple) -> None:
        self.sess.run(self.step, {self.x: np.array([1.0, 2.0])})
        w, v = before
        assert self.values() == ([a + 1 for a in w], v + 2.0)


# ---- a closed session ---------------------------------------------------------------------

@documents("data and state", "any use of a closed session: `run`, `get`, `set`, `explain`, "
           "`eval`, a `sg.function` sharing it, `Saver.save` / `Saver.restore`")
def test_a_closed_session_refuses_every_use(tmp_path):
    m = Model("interpret")
    with m.graph.as_default():
        f = sg.function([m.x], m.peak, session=m.sess)
    with m.sess:
        m.sess.run(m.step, {m.x: np.ones(2)})
        saver = sg.train.Saver()
        path = saver.save(m.sess, tmp_path / "ckpt")
    assert m.sess.closed
    uses = {"run()": lambda: m.sess.run(m.step, {m.x: np.ones(2)}),
            "get()": lambda: m.sess.get(m.w), "set()": lambda: m.sess.set(m.w, np.ones(3)),
            "explain()": lambda: m.sess.explain(m.peak),
            "eval": lambda: m.peak.eval({m.x: np.ones(2)}, session=m.sess),
            "function call": lambda: f(np.ones(2)),
            "Saver.save": lambda: saver.save(m.sess, tmp_path / "other"),
            "Saver.restore": lambda: saver.restore(m.sess, path)}
    for what, use in uses.items():
        msg = expect(sg.ClosedSessionError, use, "closed session")
        assert what.split(" ")[0].replace("eval", "run()") in msg, msg
    assert issubclass(sg.ClosedSessionError, sg.GraphError)
    assert issubclass(sg.ClosedSessionError, RuntimeError)  # as TF1's RuntimeError
    assert not (tmp_path / "other.npz").exists()
    with sg.Session(m.graph) as fresh:  # the trained values were saved, not stale ones
        saver.restore(fresh, path)
        assert fresh.get(m.w).tolist() == [1.0, 1.0, 1.0]
    m.sess.close()  # closing again is fine


# ---- a failed run commits nothing ----------------------------------------------------------

@documents("data and state", "a run that fails part way, on any backend (an op of a compiled "
           "backend where NumPy fails: `max` of an empty input, `log_softmax` of one)")
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_run_commits_no_update(backend):
    m = Model(backend)
    m.sess.run(m.step, {m.x: np.array([0.5])})
    before = m.values()
    for _ in range(2):  # twice: a compiled backend's second call takes its steady path
        expect(sg.ShapeError, lambda: m.sess.run(m.step, {m.x: np.zeros(0)}),
               "max:", "(0,)", m.line)
        assert m.values() == before
    m.good_step(before)


def _row(x):
    return sg.reshape(x, (1, -1))


# Ops whose run-time dims do not fit, each feeding an update made after another
# update was computed: (op name, fn(x, y) on one line, good (x, y), bad (x, y)).
FAILING_RUNS = [
    ("add", lambda x, y: x + y, (2, 2), (2, 3)),
    ("matmul", lambda x, y: sg.matmul(sg.reshape(x, (2, -1)), sg.reshape(y, (-1, 1))),
     (4, 2), (4, 3)),
    ("reshape", lambda x, y: sg.reshape(x, (2, 2)) * 2.0 + y[0], (4, 1), (3, 1)),
    ("concatenate", lambda x, y: sg.concat([_row(x), _row(y)], 0), (2, 2), (2, 3)),
]


def check_failing_run(backend: str, case: tuple) -> None:
    """The run raises the interpreter's error type naming the op and its line, and
    commits neither update; the next good run commits both."""
    op, fn, good, bad = case
    graph = sg.Graph("failing")
    with graph.as_default():
        x, y = sg.placeholder((None,), F64, name="x"), sg.placeholder((None,), F64, name="y")
        w, v = sg.Variable(np.zeros(3), name="w"), sg.Variable(np.zeros(()), name="v")
        new_w = sg.assign_add(w, np.ones(3))
        step = sg.group(new_w, sg.assign_add(v, sg.reduce_sum(fn(x, y))))
    line = f"{FILE}:{fn.__code__.co_firstlineno}"
    sess = sg.Session(graph, backend=backend)
    feed = {x: np.ones(good[0]), y: np.ones(good[1])}
    sess.run(step, feed)
    v_before = float(sess.get(v))
    for _ in range(2):
        expect(sg.ShapeError, lambda: sess.run(step, {x: np.ones(bad[0]), y: np.ones(bad[1])}),
               f"{op}:", line)
        assert sess.get(w).tolist() == [1.0] * 3 and float(sess.get(v)) == v_before
    sess.run(step, feed)
    assert sess.get(w).tolist() == [2.0] * 3 and float(sess.get(v)) == 2 * v_before


@pytest.mark.parametrize("case", FAILING_RUNS, ids=[c[0] for c in FAILING_RUNS])
@pytest.mark.parametrize("backend", BACKENDS)
def test_run_time_dims_that_do_not_fit_commit_nothing(backend, case):
    check_failing_run(backend, case)


@pytest.mark.parametrize("backend", BACKENDS)
def test_log_softmax_of_an_empty_input_commits_nothing(backend):
    m = Model(backend)
    with m.graph.as_default():
        line, y = here(), sg.log_softmax(m.x)
        step = sg.group(sg.assign_add(m.w, np.ones(3)), sg.assign_add(m.v, sg.reduce_sum(y)))
    before = m.values()
    expect(sg.ShapeError, lambda: m.sess.run(step, {m.x: np.zeros(0)}), "log_softmax", line)
    assert m.values() == before
    m.good_step(before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_stopped_by_check_numerics_commits_nothing(backend):
    graph = sg.Graph("numerics")
    with graph.as_default():
        x = sg.placeholder((None,), F64, name="x")
        w, v = sg.Variable(np.zeros(3), name="w"), sg.Variable(np.zeros(()), name="v")
        new_w = sg.assign_add(w, np.ones(3))
        step = sg.group(new_w, sg.assign_add(v, sg.reduce_sum(sg.log(x))))
    sess = sg.Session(graph, backend=backend, check_numerics=True)
    sess.run(step, {x: np.ones(2)})
    expect(sg.NumericsError, lambda: sess.run(step, {x: -np.ones(2)}), "'log'")
    assert sess.get(w).tolist() == [1.0] * 3 and sess.get(v) == 0.0
    sess.run(step, {x: np.ones(2)})
    assert sess.get(w).tolist() == [2.0] * 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_update_of_the_wrong_run_time_shape_commits_nothing(backend):
    """The first update is computed in place, the second's value has the wrong shape."""
    m = Model(backend)
    with m.graph.as_default():
        u = sg.Variable(np.zeros(2), name="u")
        step = sg.group(sg.assign_add(m.w, np.ones(3)), sg.assign(u, m.x * 2.0))
    m.sess.run(step, {m.x: np.ones(2)})
    before, u_before = m.values(), m.sess.get(u).tolist()
    expect(sg.ShapeError, lambda: m.sess.run(step, {m.x: np.ones(3)}), "'u'")
    assert m.values() == before and m.sess.get(u).tolist() == u_before
    m.good_step(before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_function_call_and_optimizer_step_change_no_variable_or_slot(backend):
    graph = sg.Graph("train")
    with graph.as_default():
        x = sg.placeholder((None,), F64, name="x")
        w = sg.Variable(np.array([1.0, -2.0]), name="w")
        loss = sg.reduce_sum(w * w) * sg.reduce_max(x)
        train = sg.train.AdamOptimizer(0.1).minimize(loss)
        f = sg.function([x], loss, updates=[(w, w * 0.5)], backend=backend)
        sess = sg.Session(graph, backend=backend)
    sess.run(train, {x: np.ones(2)})
    variables = sg.global_variables(graph)
    before = [sess.get(v).copy() for v in variables]
    expect(sg.ShapeError, lambda: sess.run(train, {x: np.zeros(0)}), "max")
    for v, b in zip(variables, before):  # w, Adam's m and v slots, its step counter
        np.testing.assert_array_equal(sess.get(v), b)
    sess.run(train, {x: np.ones(2)})
    f_before = f.get(w).copy()
    expect(sg.ShapeError, lambda: f(np.zeros(0)), "max")
    np.testing.assert_array_equal(f.get(w), f_before)
    f(np.ones(2))
    np.testing.assert_array_equal(f.get(w), f_before * 0.5)


# ---- fetches own their arrays ---------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_fetches_never_alias_feeds_or_each_other(backend):
    graph = sg.Graph("fetch")
    with graph.as_default():
        x = sg.placeholder((None,), F64, name="x")
        w = sg.Variable(np.ones(2), name="w")
        y = x * 2.0
        f = sg.function([x], [x, y, y, w, w], backend=backend)
    sess = sg.Session(graph, backend=backend)
    fed = np.array([1.0, 2.0])
    fetched = sess.run([x, y, y, x, w, w], {x: fed}) + f(fed)
    arrays = [a for a in fetched if isinstance(a, np.ndarray)] + [fed]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            assert not np.shares_memory(a, b)
    fetched[0][0] = 100.0  # writing a fetch changes nothing else
    assert fed[0] == 1.0 and fetched[3][0] == 1.0
    np.testing.assert_array_equal(sess.run(y, {x: fed}), [2.0, 4.0])


# ---- generated source is released with its program ------------------------------------------

def test_closed_compiled_programs_leave_nothing_in_linecache():
    def build_run_close(i: int) -> None:
        graph = sg.Graph(f"g{i}")
        with graph.as_default():
            x = sg.placeholder((None, 3), F64, name="x")
            w = sg.Variable(np.ones((3, 2)), name="w")
            loss = sg.reduce_sum(sg.tanh(sg.matmul(x, w)))
            (gw,) = sg.gradients(loss, [w])
            step = sg.assign_sub(w, 0.1 * gw)
        with sg.Session(graph, backend="numba") as sess:
            sess.run([loss, step], {x: np.ones((4, 3))})
        f = sg.function([x], loss, backend="numba", session=sg.Session(graph))
        f(np.ones((2, 3)))
    build_run_close(0)
    gc.collect()
    before = len(linecache.cache)
    for i in range(30):
        build_run_close(i)
    gc.collect()
    assert len(linecache.cache) <= before
