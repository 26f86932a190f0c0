"""Every documented staticgraph error (docs/errors.md, section staticgraph):
its type, and a message naming the op, the values involved and the user's
line. After a failed run the session still runs a good step."""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

import staticgraph as sg

FILE = os.path.basename(__file__)


def line_below(n: int = 1) -> str:
    """'test_static_errors.py:LINE' of the line n below the caller's."""
    return f"{FILE}:{sys._getframe(1).f_lineno + n}"


@pytest.fixture
def graph():
    g = sg.Graph("errors")
    with g.as_default():
        yield g


def assert_good_run(sess, x):
    """A good run after a failed one gives the right numbers."""
    value = np.arange(3.0).reshape(x.shape[:-1] and (1, 3) or (3,))
    np.testing.assert_allclose(sess.run(x * 2, {x: value}), 2 * value)


# ---- build time ----------------------------------------------------------------

def test_shape_error_at_build_names_op_shapes_and_line(graph):
    a = sg.placeholder((2, 3), "float64")
    b = sg.placeholder((4,), "float64")
    where = line_below(2)
    with pytest.raises(sg.ShapeError) as info:
        a + b
    msg = str(info.value)
    assert msg.startswith("add:") and "(2, 3)" in msg and "(4,)" in msg
    assert where in msg
    assert len(graph.eqns) == 0  # nothing half-built


def test_matmul_shape_error_names_line(graph):
    a = sg.placeholder((None, 3), "float64")
    w = sg.Variable(np.zeros((4, 2)))
    where = line_below(2)
    with pytest.raises(sg.ShapeError, match=re.escape(where)) as info:
        sg.matmul(a, w)
    assert "matmul" in str(info.value)


def test_dtype_error_at_build(graph):
    x = sg.placeholder((3,), "float32")
    with pytest.raises(sg.DTypeError, match="constant"):
        x + np.array(["a", "b", "c"])


def test_symbol_as_python_bool(graph):
    x = sg.placeholder((), "float64")
    with pytest.raises(sg.SymbolicValueError, match="sg.cond"):
        if x > 0:
            pass
    with pytest.raises(sg.SymbolicValueError):
        np.asarray(x)
    with pytest.raises(TypeError):  # SymbolicValueError is a TypeError too
        len(sg.placeholder((None, 2)))


def test_ops_mixing_graphs():
    g1, g2 = sg.Graph("g1"), sg.Graph("g2")
    with g1.as_default():
        a = sg.placeholder((3,))
    with g2.as_default():
        b = sg.placeholder((3,))
        where = line_below(2)
        with pytest.raises(sg.GraphError, match="different graphs") as info:
            a + b
    assert where in str(info.value)


def test_assign_errors(graph):
    w = sg.Variable(np.zeros(3))
    x = sg.placeholder((3,), "float64")
    with pytest.raises(sg.GraphError, match="must be a sg.Variable"):
        sg.assign(x, x)
    where = line_below(2)
    with pytest.raises(sg.ShapeError, match="assign") as info:
        sg.assign(w, sg.placeholder((4,), "float64"))
    assert where in str(info.value)
    with pytest.raises(sg.DTypeError, match="sg.cast"):
        sg.assign(w, sg.placeholder((3,), "float32"))


def test_variable_inside_cond_branch_is_rejected(graph):
    p = sg.placeholder((), "bool")
    with pytest.raises(sg.GraphError, match="inside sg.cond"):
        sg.cond(p, lambda: sg.Variable(1.0), lambda: sg.constant(0.0))


def test_gradients_of_integer_output(graph):
    x = sg.placeholder((3,), "int64")
    with pytest.raises(sg.DTypeError, match="floating point"):
        sg.gradients(sg.sum(x), [x])


def test_gradients_need_symbols(graph):
    x = sg.placeholder((3,), "float64")
    with pytest.raises(sg.GradientError, match="must be symbols"):
        sg.gradients(sg.sum(x), [np.ones(3)])


# ---- feeds -------------------------------------------------------------------------

def test_missing_feed_names_placeholder_and_op(graph):
    x = sg.placeholder((None, 3), "float64", name="x")
    y = sg.placeholder((None, 3), "float64", name="y")
    where = line_below()
    loss = sg.sum(x * y)
    with sg.Session() as sess:
        with pytest.raises(sg.FeedError) as info:
            sess.run(loss, {x: np.ones((2, 3))})
        msg = str(info.value)
        assert "placeholder 'y'" in msg and "op 'mul'" in msg and where in msg
        np.testing.assert_allclose(sess.run(loss, {x: np.ones((2, 3)), y: np.ones((2, 3))}),
                                   6.0)


def test_fetching_unfed_placeholder(graph):
    x = sg.placeholder((3,), name="x")
    with sg.Session() as sess, pytest.raises(sg.FeedError, match="'x'.*fetched"):
        sess.run(x)


def test_feed_wrong_shape_names_expected_and_given(graph):
    x = sg.placeholder((None, 3), "float64", name="x")
    with sg.Session() as sess:
        with pytest.raises(sg.FeedError) as info:
            sess.run(x * 2, {x: np.ones((2, 4))})
        msg = str(info.value)
        assert "'x'" in msg and "float64[?, 3]" in msg and "float64[2, 4]" in msg
        with pytest.raises(sg.FeedError, match=r"float64\[3\]"):
            sess.run(x * 2, {x: np.ones(3)})  # wrong rank


def test_feed_wrong_dtype_names_expected_and_given(graph):
    x = sg.placeholder((3,), "float32", name="x")
    with sg.Session() as sess:
        with pytest.raises(sg.FeedError) as info:
            sess.run(x * 2, {x: np.ones(3, np.float64)})
        msg = str(info.value)
        assert "'x'" in msg and "float32" in msg and "float64" in msg
        with pytest.raises(sg.FeedError, match="dtype"):
            sess.run(x * 2, {x: ["a", "b", "c"]})
        np.testing.assert_allclose(sess.run(x * 2, {x: [1, 2, 3]}), [2, 4, 6])  # lists convert


def test_bad_feed_keys(graph):
    x = sg.placeholder((3,))
    other = sg.Graph("other")
    with other.as_default():
        z = sg.placeholder((3,))
    with sg.Session(graph) as sess:
        with pytest.raises(sg.FeedError, match="keys must be symbols"):
            sess.run(x, {"x": np.ones(3, np.float32)})
        with pytest.raises(sg.FeedError, match="belongs to"):
            sess.run(x, {x: np.ones(3, np.float32), z: np.ones(3, np.float32)})
        with pytest.raises(sg.FeedError, match="must be a dict"):
            sess.run(x, [np.ones(3)])


def test_function_argument_errors(graph):
    x = sg.placeholder((3,), "float64", name="x")
    f = sg.function([x], x * 2)
    with pytest.raises(sg.FeedError, match="takes 1 inputs"):
        f(np.ones(3), np.ones(3))
    with pytest.raises(sg.FeedError, match="missing input"):
        f()
    with pytest.raises(sg.FeedError, match="expects shape"):
        f(np.ones(4))
    np.testing.assert_allclose(f(x=np.ones(3)), 2.0)


def test_function_missing_input_fails_at_compile(graph):
    x = sg.placeholder((3,), "float64", name="x")
    y = sg.placeholder((3,), "float64", name="y")
    with pytest.raises(sg.FeedError, match="placeholder 'y'"):
        sg.function([x], x + y)


# ---- running ---------------------------------------------------------------------

def test_fetch_from_another_graph(graph):
    x = sg.placeholder((3,), "float64")
    other = sg.Graph("other")
    with other.as_default():
        c = sg.constant(1.0)
    with sg.Session(graph) as sess:
        with pytest.raises(sg.GraphError, match="belongs to"):
            sess.run(c)
        with pytest.raises(sg.GraphError, match="cannot fetch"):
            sess.run([x, "loss"], {x: np.ones(3)})
        assert_good_run(sess, x)


def test_check_numerics_names_op_and_line(graph):
    x = sg.placeholder((3,), "float64")
    where = line_below()
    y = sg.log(x)
    out = sg.sum(y * 2)
    with sg.Session(check_numerics=True) as sess:
        with pytest.raises(sg.NumericsError) as info:
            sess.run(out, {x: np.array([1.0, -1.0, 2.0])})
        msg = str(info.value)
        assert "'log'" in msg and where in msg and "NaN" in msg
        assert_good_run(sess, x)
    with sg.Session() as sess, np.errstate(invalid="ignore"):
        assert np.isnan(sess.run(out, {x: np.array([1.0, -1.0, 2.0])}))  # off by default


def test_check_numerics_in_function_and_cond(graph):
    x = sg.placeholder((), "float64")
    where = line_below(2)
    out = sg.cond(x > 0, lambda: x * 2,
                  lambda: sg.sqrt(x))
    f = sg.function([x], out, check_numerics=True)
    assert f(np.float64(2.0)) == 4.0
    with pytest.raises(sg.NumericsError, match=re.escape(where)):
        f(np.float64(-1.0))


def test_run_time_shape_mismatch_names_op(graph):
    a = sg.placeholder((None, 3), "float64")
    b = sg.placeholder((None, 3), "float64")
    where = line_below()
    c = a + b
    with sg.Session() as sess:
        with pytest.raises(sg.ShapeError) as info:
            sess.run(c, {a: np.ones((2, 3)), b: np.ones((4, 3))})
        assert str(info.value).startswith("add:") and where in str(info.value)
        assert_good_run(sess, a)


def test_two_updates_of_one_variable(graph):
    w = sg.Variable(np.zeros(3), name="w")
    first, second = sg.assign_add(w, 1.0), sg.assign_sub(w, 1.0)
    with sg.Session() as sess:
        with pytest.raises(sg.GraphError, match="'w' is updated twice"):
            sess.run([first, second])
        sess.run(first)
        np.testing.assert_allclose(sess.get(w), 1.0)


def test_uninitialised_variable_without_auto_init(graph):
    w = sg.Variable(np.ones(2), name="w")
    with sg.Session(auto_init=False) as sess:
        with pytest.raises(sg.UninitializedVariableError, match="'w'"):
            sess.run(w * 2)
        sess.run(sg.global_variables_initializer())
        np.testing.assert_allclose(sess.run(w * 2), 2.0)


def test_unknown_backend():
    with pytest.raises(sg.BackendError, match="interpret"):
        sg.Session(backend="no-such-backend")
    with pytest.raises(sg.BackendError):
        sg.function([], [], backend="numbaa")


def test_closed_session(graph):
    c = sg.constant(1.0)
    sess = sg.Session()
    sess.close()
    with pytest.raises(sg.GraphError, match="closed"):
        sess.run(c)


def test_eval_without_session(graph):
    c = sg.constant(1.0)
    with pytest.raises(sg.GraphError, match="needs a session"):
        c.eval()


def test_errors_are_graphcompare_errors():
    for exc in (sg.FeedError, sg.GraphError, sg.NumericsError, sg.BackendError,
                sg.InvalidGraphError, sg.SymbolicValueError, sg.UninitializedVariableError):
        assert issubclass(exc, sg.GraphCompareError)
