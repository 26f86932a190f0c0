"""backend="cuda": a failed run commits nothing (variables kept on the device
included) and raises the interpreter's error; a closed session refuses use;
fetches never alias feeds."""

from __future__ import annotations

import numpy as np
import pytest
from test_bad_inputs_state import FAILING_RUNS, check_failing_run

import staticgraph as sg

pytestmark = pytest.mark.cudasim
F64 = "float64"


def model():
    graph = sg.Graph("cuda-state")
    with graph.as_default():
        x = sg.placeholder((None,), F64, name="x")
        y = sg.placeholder((None,), F64, name="y")
        w = sg.Variable(np.zeros(3), name="w")
        u = sg.Variable(np.zeros(2), name="u")
        step = sg.group(sg.assign_add(w, np.ones(3)), sg.assign_add(u, x * 2.0))
        mixed = sg.group(sg.assign_add(w, np.ones(3)), sg.assign_add(u, (x + y)[:2]))
    return graph, x, y, w, u, step, mixed


def test_a_failed_run_leaves_device_variables_as_they_were():
    graph, x, y, w, u, step, mixed = model()
    for backend in ("interpret", "cuda"):
        sess = sg.Session(graph, backend=backend)
        sess.run(step, {x: np.ones(2)})  # the variables now live on the device
        errors = []
        for bad in ({x: np.ones(3)}, ):  # u's update of the wrong run-time shape
            with pytest.raises(sg.ShapeError) as info:
                sess.run(step, bad)
            errors.append(type(info.value))
            np.testing.assert_array_equal(sess.get(w), np.ones(3))
            np.testing.assert_array_equal(sess.get(u), 2 * np.ones(2))
        with pytest.raises(sg.ShapeError):  # x + y of shapes that do not broadcast
            sess.run(mixed, {x: np.ones(2), y: np.ones(3)})
        np.testing.assert_array_equal(sess.get(w), np.ones(3))
        sess.run(step, {x: np.ones(2)})
        np.testing.assert_array_equal(sess.get(w), 2 * np.ones(3))
        np.testing.assert_array_equal(sess.get(u), 4 * np.ones(2))


def test_closed_session_and_fetches():
    graph, x, y, w, u, step, mixed = model()
    sess = sg.Session(graph, backend="cuda")
    fed = np.ones(2)
    a, b, c = sess.run([x, x * 2.0, x * 2.0], {x: fed})
    assert not np.shares_memory(a, fed) and not np.shares_memory(b, c) and b is not c
    sess.close()
    with pytest.raises(sg.ClosedSessionError):
        sess.get(w)


@pytest.mark.parametrize("case", FAILING_RUNS, ids=[c[0] for c in FAILING_RUNS])
def test_run_time_dims_that_do_not_fit_commit_nothing_on_cuda(case):
    check_failing_run("cuda", case)
