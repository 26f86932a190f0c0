"""Bad uses of sessions, fetches, variables, numerics and backends in staticgraph
(docs/errors.md, section staticgraph). After each failure the same session,
function and variables run a good step with the right numbers.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from bad_inputs_util import documents, expect

import staticgraph as sg

FILE = os.path.basename(__file__)
F64 = "float64"


def here() -> str:
    return f"{FILE}:{sys._getframe(1).f_lineno}"


@pytest.fixture
def graph():
    g = sg.Graph("session")
    with g.as_default():
        yield g


def counter(graph):
    """A variable n, a placeholder x, n + sum(x), and an op that adds 1 to n."""
    with graph.as_default():
        n = sg.Variable(np.zeros(()), name="n")
        x = sg.placeholder((None,), F64, name="x")
        return n, x, n + sg.reduce_sum(x), sg.assign_add(n, 1.0)


# ---- GraphError at run time ------------------------------------------------------------------

@documents("staticgraph", "fetching a symbol of another graph",
           "fetching something that is not a symbol or op")
def test_bad_fetches(graph):
    n, x, total, incr = counter(graph)
    other = sg.Graph("other")
    with other.as_default():
        line, c = here(), sg.constant(1.0)
    with sg.Session(graph) as sess:
        expect(sg.GraphError, lambda: sess.run(c), "cannot fetch", line, "belongs to")
        for bad in ("loss", None, 3, [total, np.ones(2)]):
            expect(sg.GraphError, lambda bad=bad: sess.run(bad, {x: np.ones(2)}),
                   "cannot fetch")
        sess.run(incr)
        assert sess.run(total, {x: np.ones(2)}) == 3.0


@documents("staticgraph", "two updates of one variable in one run")
def test_two_updates_of_one_variable(graph):
    n, x, total, incr = counter(graph)
    line, decr = here(), sg.assign_sub(n, 1.0)
    with sg.Session(graph) as sess:
        expect(sg.GraphError, lambda: sess.run([incr, decr]), "'n' is updated twice", line)
        assert sess.get(n) == 0.0  # neither update was committed
        sess.run(incr)
        assert sess.get(n) == 1.0


@documents("staticgraph", "`sess.get` of something that is not a variable")
def test_get_of_a_placeholder(graph):
    n, x, total, incr = counter(graph)
    with sg.Session(graph) as sess:
        expect(sg.GraphError, lambda: sess.get(x), "is not a variable")
        expect(sg.GraphError, lambda: sess.set(total, 1.0), "is not a variable")
        assert sess.get(n) == 0.0


@documents("staticgraph", "`x.eval()` with no session", "running a closed session")
def test_eval_without_a_session_and_closed_sessions(graph):
    n, x, total, incr = counter(graph)
    expect(sg.GraphError, total.eval, "needs a session")
    expect(sg.GraphError, sg.group(incr).run, "needs a session")
    sess = sg.Session(graph)
    sess.run(incr)
    sess.close()
    expect(sg.GraphError, lambda: sess.run(total, {x: np.ones(2)}), "closed session")
    with sg.Session(graph) as fresh:  # a new session starts from the initial values
        assert total.eval({x: np.ones(2)}) == 2.0 and fresh.get(n) == 0.0


# ---- UninitializedVariableError ------------------------------------------------------------

@documents("staticgraph", "a variable is read before initialisation in "
           "`Session(auto_init=False)`")
def test_variable_read_before_initialisation(graph):
    with graph.as_default():
        line, w = here(), sg.Variable(np.ones(2), name="w")
        y = sg.reduce_sum(w * 2.0)
    with sg.Session(graph, auto_init=False) as sess:
        expect(sg.UninitializedVariableError, lambda: sess.run(y), "'w'", line,
               "global_variables_initializer")
        expect(sg.UninitializedVariableError, lambda: sess.get(w), "'w'")
        sess.run(sg.global_variables_initializer(graph))
        assert sess.run(y) == 4.0


# ---- NumericsError --------------------------------------------------------------------------

@documents("staticgraph", "`Session(check_numerics=True)` or `sg.function(..., "
           "check_numerics=True)`: an op's output holds NaN or Inf",
           "`check_numerics`: a fed value already holds NaN or Inf")
def test_check_numerics_names_op_and_line(graph):
    n, x, total, incr = counter(graph)
    line, logs = here(), sg.reduce_sum(sg.log(x))
    step = sg.assign_add(n, logs)
    with sg.Session(graph, check_numerics=True) as sess:
        expect(sg.NumericsError, lambda: sess.run(logs, {x: np.array([1.0, -1.0])}), "'log'",
               line, "NaN from finite inputs")
        expect(sg.NumericsError, lambda: sess.run(total, {x: np.array([np.inf, 1.0])}),
               "Inf", "already non-finite")
        expect(sg.NumericsError, lambda: sess.run(step, {x: np.array([0.0])}), "'log'", "Inf")
        assert sess.get(n) == 0.0  # the failed run committed no update
        assert sess.run(total, {x: np.ones(2)}) == 2.0
    f = sg.function([x], logs, updates=[(n, n + logs)], check_numerics=True)
    expect(sg.NumericsError, lambda: f(np.array([-2.0])), "'log'", line)
    assert f(np.array([1.0])) == 0.0 and f.get(n) == 0.0
    with sg.Session(graph) as sess, np.errstate(invalid="ignore"):
        assert np.isnan(sess.run(logs, {x: np.array([-1.0])}))  # off by default


# ---- BackendError ---------------------------------------------------------------------------

@documents("staticgraph", "an unknown backend name (checked when the Session or function "
           "is made)", "a lazily registered backend whose module cannot be imported",
           "registering a name twice")
def test_backend_errors(graph):
    n, x, total, incr = counter(graph)
    expect(sg.BackendError, lambda: sg.Session(graph, backend="nope"), "unknown backend 'nope'",
           "interpret")
    expect(sg.BackendError, lambda: sg.function([x], total, backend="nope"), "'nope'")
    sg.register_backend("broken-for-test", "no_such_module_xyz:factory")
    try:
        expect(sg.BackendError, lambda: sg.function([x], total, backend="broken-for-test"),
               "could not be loaded", "no_such_module_xyz")
        expect(sg.BackendError, lambda: sg.register_backend("interpret", object),
               "already registered")
    finally:
        from staticgraph.runtime import backends
        backends._BACKENDS.pop("broken-for-test", None)
    assert "broken-for-test" not in sg.backend_names()
    assert sg.function([x], total)(np.ones(3)) == 3.0


CUDA_ROW = ("`backend=\"cuda\"` where no GPU is usable (no driver or GPU, no numba-cuda/NVVM, or "
            "the CUDA simulator without the tests' opt-in); raised by `Session(...)` / "
            "`sg.function(...)` themselves. `sg.cuda_available()` asks first; "
            "`backend=\"auto\"` falls back to numba (docs/cuda.md)")


@documents("staticgraph", CUDA_ROW)
def test_cuda_backend_without_a_gpu(graph):
    if "cuda" not in sg.backend_names() or sg.cuda_available():
        pytest.skip("a usable GPU (or no cuda backend): nothing to refuse")
    n, x, total, incr = counter(graph)
    expect(sg.BackendError, lambda: sg.Session(graph, backend="cuda"), "'cuda'", "GPU")
    expect(sg.BackendError, lambda: sg.function([x], total, backend="cuda"), "'cuda'")
    assert sg.function([x], total, backend="auto")(np.ones(3)) == 3.0
