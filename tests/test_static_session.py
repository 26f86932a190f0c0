"""Running graphs: Session fetch structures, feeds, variables and their
initialisation, assign/group semantics, sg.function with updates, the
backend registry and explain()."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import staticgraph as sg


@pytest.fixture
def graph():
    g = sg.Graph("session")
    with g.as_default():
        yield g


def test_fetch_structures_mirror_the_request(graph):
    x = sg.placeholder((2,), "float64", name="x")
    a, b = x + 1, sg.sum(x)
    op = sg.group(a)
    Pair = namedtuple("Pair", "first second")
    feed = {x: np.array([1.0, 2.0])}
    with sg.Session() as sess:
        assert isinstance(sess.run(b, feed), np.float64)
        single = sess.run(a, feed)
        assert isinstance(single, np.ndarray)
        lst = sess.run([a, b], feed)
        assert isinstance(lst, list) and len(lst) == 2
        tup = sess.run((b, (a, [b])), feed)
        assert isinstance(tup, tuple) and tup[1][1][0] == 3.0
        d = sess.run({"a": a, "nested": {"b": b, "op": op}}, feed)
        np.testing.assert_allclose(d["a"], [2, 3])
        assert d["nested"]["b"] == 3.0 and d["nested"]["op"] is None
        nt = sess.run(Pair(a, b), feed)
        assert isinstance(nt, Pair) and nt.second == 3.0
        assert sess.run(op, feed) is None
        assert sess.run([], feed) == []


def test_variables_initialise_on_first_use_and_by_initializer(graph):
    w = sg.Variable(np.array([1.0, 2.0]), name="w")
    step = sg.assign_add(w, np.array([1.0, 1.0]))
    init = sg.global_variables_initializer()
    with sg.Session() as sess:
        np.testing.assert_allclose(sess.run(step), [2.0, 3.0])  # first use: initial value
        np.testing.assert_allclose(sess.get(w), [2.0, 3.0])
        assert sess.run(init) is None
        np.testing.assert_allclose(sess.get(w), [1.0, 2.0])
        np.testing.assert_allclose(w.eval(sess), [1.0, 2.0])
        sess.set(w, [5.0, 6.0])
        np.testing.assert_allclose(sess.run(w * 2), [10.0, 12.0])
    np.testing.assert_allclose(w.initial_value, [1.0, 2.0])  # untouched by training


def test_state_belongs_to_the_session(graph):
    w = sg.Variable(0.0, name="w")
    assert w.dtype == np.float32  # Python floats default to float32, as in TF
    inc = sg.assign_add(w, 1.0)
    with sg.Session() as s1, sg.Session() as s2:
        s1.run(inc)
        s1.run(inc)
        s2.run(inc)
        assert s1.get(w) == 2.0 and s2.get(w) == 1.0


def test_reads_see_the_value_from_the_start_of_the_run(graph):
    w = sg.Variable(np.array(1.0), name="w")
    new = sg.assign(w, w * 10)
    both = sg.group(new, sg.assign_add(sg.Variable(np.array(0.0), name="v"), w))
    with sg.Session() as sess:
        old, value = sess.run([w, new])
        assert old == 1.0 and value == 10.0
        assert sess.get(w) == 10.0
        sess.run(both)
        v = [x for x in sg.global_variables(graph) if x.name == "v"][0]
        assert sess.get(w) == 100.0 and sess.get(v) == 10.0


def test_fetched_arrays_do_not_alias_state(graph):
    w = sg.Variable(np.zeros(3), name="w")
    with sg.Session() as sess:
        value = sess.run(w)
        value[:] = 7.0
        np.testing.assert_allclose(sess.get(w), 0.0)
        view = sess.run(w[1:])
        view[:] = 7.0
        np.testing.assert_allclose(sess.get(w), 0.0)


def test_assign_from_feed_does_not_alias_the_feed(graph):
    w = sg.Variable(np.zeros(2), name="w")
    x = sg.placeholder((2,), "float64")
    set_w = sg.assign(w, x)
    data = np.array([1.0, 2.0])
    with sg.Session() as sess:
        sess.run(set_w, {x: data})
        data[:] = -1
        np.testing.assert_allclose(sess.get(w), [1.0, 2.0])


def test_feeding_an_intermediate_symbol(graph):
    x = sg.placeholder((2,), "float64")
    h = x * 2
    y = h + 1
    with sg.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {h: np.array([10.0, 20.0])}), [11, 21])
        np.testing.assert_allclose(sess.run(y, {x: np.array([1.0, 2.0])}), [3, 5])


def test_eval_in_default_session(graph):
    x = sg.placeholder((), "float64")
    with sg.Session():
        assert (x * 3).eval({x: 2.0}) == 6.0
    assert sg.get_default_session() is None


def test_function_with_updates_trains(graph, rng):
    """Theano style: f = function(inputs, outputs, updates); plain least squares."""
    a, true_w = rng.standard_normal((20, 3)), np.array([1.0, -2.0, 0.5])
    x = sg.placeholder((None, 3), "float64", name="x")
    y = sg.placeholder((None,), "float64", name="y")
    w = sg.Variable(np.zeros(3), name="w")
    loss = sg.mean((sg.matmul(x, w) - y) ** 2)
    (gw,) = sg.gradients(loss, [w])
    train = sg.function([x, y], loss, updates=[(w, w - 0.2 * gw)])
    predict = sg.function([x], sg.matmul(x, w), session=train.session)
    losses = [train(a, a @ true_w) for _ in range(200)]
    assert isinstance(losses[0], np.float64) and losses[-1] < 1e-10 < losses[0]
    np.testing.assert_allclose(train.get(w), true_w, rtol=1e-5)
    np.testing.assert_allclose(predict(a[:2]), a[:2] @ true_w, rtol=1e-5)
    fresh = sg.function([x], sg.matmul(x, w))  # its own state: the initial value
    np.testing.assert_allclose(fresh(a[:2]), 0.0)


def test_function_output_structures_and_dict_updates(graph):
    x = sg.placeholder((2,), "float64", name="x")
    c = sg.Variable(np.array(0.0), name="count")
    f = sg.function([x], {"s": sg.sum(x), "both": (x * 2, c)}, updates={c: c + 1})
    out = f(np.array([1.0, 2.0]))
    assert out["s"] == 3.0 and out["both"][1] == 0.0
    assert f(np.array([1.0, 2.0]))["both"][1] == 1.0
    g = sg.function([], None, updates=[(c, 0.0)], session=f.session)
    assert g() == []
    assert f.get(c) == 0.0


def test_backend_registry_is_pluggable(graph):
    calls = []

    class Tracing(sg.runtime.interpreter.InterpretRunner):
        def __call__(self, inputs, state):
            calls.append(len(self.program.eqns))
            return super().__call__(inputs, state)

    sg.register_backend("tracing-test", Tracing)
    try:
        assert "tracing-test" in sg.backend_names()
        with pytest.raises(sg.BackendError, match="already registered"):
            sg.register_backend("tracing-test", Tracing)
        x = sg.placeholder((2,), "float64")
        f = sg.function([x], sg.sum(x * x), backend="tracing-test")
        assert f(np.array([1.0, 2.0])) == 5.0 and calls == [2]
        sg.register_backend("lazy-test", "staticgraph.runtime.interpreter:InterpretRunner")
        assert sg.get_backend("lazy-test") is sg.runtime.interpreter.InterpretRunner
        sg.register_backend("broken-test", "no.such.module:factory")
        with pytest.raises(sg.BackendError, match="could not be loaded"):
            sg.Session(backend="broken-test")
    finally:
        for name in ("tracing-test", "lazy-test", "broken-test"):
            sg.runtime.backends._BACKENDS.pop(name, None)


def test_programs_are_cached_per_request(graph):
    x = sg.placeholder((2,), "float64")
    y = x * 2
    with sg.Session() as sess:
        for _ in range(3):
            sess.run(y, {x: np.ones(2)})
        sess.run([y, y], {x: np.ones(2)})
        assert len(sess._plans) == 2
        program = next(iter(sess._plans.values())).program
        assert program.inputs == [x.var] and len(program.eqns) == 1


def test_explain_prints_the_program(graph, capsys):
    x = sg.placeholder((None, 2), "float64", name="x")
    w = sg.Variable(np.ones((2, 2)), name="w")
    loss = sg.sum(sg.relu(x @ w))
    unused = sg.exp(x)  # noqa: F841  (not needed: not in the program)
    with sg.Session() as sess:
        text = sess.explain(loss)
    printed = capsys.readouterr().out
    assert text in printed and "interpret" in text
    assert "matmul x w" in text and "relu" in text and "exp" not in text
    f = sg.function([x], loss, updates=[(w, w * 0.5)])
    text = f.explain()
    assert "updates:   w <-" in text


def test_op_run_and_variable_initializer(graph):
    w = sg.Variable(np.array([1.0]), name="w")
    bump = sg.group(sg.assign_add(w, 1.0))
    with sg.Session() as sess:
        bump.run()  # the default session inside `with`
        bump.run(sess)
        assert sess.get(w) == 3.0
        w.initializer.run(sess)
        assert sess.get(w) == 1.0
        assert [v.name for v in sg.trainable_variables(graph)] == ["w"]
    with pytest.raises(sg.GraphError, match="needs a session"):
        bump.run()
