"""Bad inputs when running a staticgraph (docs/errors.md, section staticgraph).

Feeds of every wrong kind (shapes, dtypes, lists, Python scalars, non-numeric
and object arrays, None, symbols), function arguments, fetches, NaN/Inf with
check_numerics, run-time shape mismatches, uninitialised and doubly updated
variables, closed sessions and unknown backends; and inputs that must *work*:
non-contiguous, read-only and empty arrays, zero-length scans. After each
bad run the same session (or function) runs a good step and its variables
are unchanged.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from bad_inputs_util import documents, expect

import dyngraph as dg
import staticgraph as sg

FILE = os.path.basename(__file__)
F64 = "float64"
X = np.arange(6.0).reshape(2, 3)


class Model:
    """y = sum(x * w) with a variable w, its gradients, and an update of w."""

    def __init__(self, **session_options) -> None:
        self.graph = sg.Graph("run")
        with self.graph.as_default():
            self.x = sg.placeholder((None, 3), F64, name="x")
            self.w = sg.Variable(np.ones(3), name="w")
            self.line = f"{FILE}:{_lineno() + 1}"
            self.y = sg.reduce_sum(self.x * self.w)
            self.gx, self.gw = sg.gradients(self.y, [self.x, self.w])
            self.step = sg.assign_sub(self.w, 0.5 * self.gw)
        self.sess = sg.Session(self.graph, **session_options)

    def good_step(self) -> None:
        """A good run right after a bad one: right numbers, w unchanged by the failure."""
        w = self.sess.get(self.w)
        y, gx = self.sess.run([self.y, self.gx], {self.x: X})
        assert y == pytest.approx(float((X @ w).sum())) and np.allclose(gx, np.tile(w, (2, 1)))


def _lineno() -> int:
    import sys
    return sys._getframe(1).f_lineno


@pytest.fixture
def m() -> Model:
    return Model()


# ---- FeedError -----------------------------------------------------------------------------

@documents("staticgraph", "a placeholder an op needs is not fed",
           "a fetched placeholder is not fed")
def test_missing_feeds(m):
    expect(sg.FeedError, lambda: m.sess.run(m.y), "placeholder 'x'", "op 'mul'", m.line)
    expect(sg.FeedError, lambda: m.sess.run(m.x), "'x'", "it is fetched")
    m.good_step()


@documents("staticgraph", "a fed array of the wrong shape (or rank)")
@pytest.mark.parametrize("value", [np.ones((2, 4)), np.ones(3), np.ones((1, 1, 3)), 1.0],
                         ids=["dim", "rank-1", "rank-3", "python-scalar"])
def test_feeds_of_the_wrong_shape(m, value):
    expect(sg.FeedError, lambda: m.sess.run(m.y, {m.x: value}), "'x'", "float64[?, 3]")
    m.good_step()


@documents("staticgraph", "a fed array of another dtype (arrays are not cast)")
@pytest.mark.parametrize("value", [X.astype(np.float32), X.astype(np.int64), X > 0,
                                   np.float32(1.0) * X.astype(np.float32)],
                         ids=["float32", "int64", "bool", "float32-expr"])
def test_feeds_of_another_dtype(m, value):
    expect(sg.FeedError, lambda: m.sess.run(m.y, {m.x: value}), "expects dtype float64",
           value.dtype.name)
    m.good_step()


@documents("staticgraph", "a fed list/number that cannot become that dtype without "
           "changing kind")
def test_lists_and_numbers_convert_only_within_their_kind():
    graph = sg.Graph("kinds")
    with graph.as_default():
        i = sg.placeholder((3,), "int64", name="i")
        s = sg.placeholder((), F64, name="s")
    with sg.Session(graph) as sess:
        expect(sg.FeedError, lambda: sess.run(i * 2, {i: [1.5, 2.0, 3.0]}), "'i'", "int64")
        expect(sg.FeedError, lambda: sess.run(s * 2, {s: "2"}), "'s'", "float64")
        np.testing.assert_array_equal(sess.run(i * 2, {i: [1, 2, 3]}), [2, 4, 6])
        assert sess.run(s * 2, {s: 2}) == 4.0 and sess.run(s * 2, {s: True}) == 2.0


@documents("staticgraph", "a fed value that cannot become an array (ragged list, `None`, "
           "a dict, non-numeric or object arrays) or is a symbol")
@pytest.mark.parametrize("value", [[[1, 2, 3], [1, 2]], None, {"a": 1}, [["a", "b", "c"]],
                                   np.array([[1, 2, 3]], dtype=object), np.array([["a"] * 3])],
                         ids=["ragged", "none", "dict", "strings", "object", "str-array"])
def test_feeds_that_are_not_numbers(m, value):
    expect(sg.FeedError, lambda: m.sess.run(m.y, {m.x: value}), "'x'")
    expect(sg.FeedError, lambda: m.sess.run(m.y, {m.x: m.x}), "is a symbol")
    m.good_step()


@documents("staticgraph", "a feed key that is not a symbol, or of another graph",
           "`feed_dict` that is not a dict")
def test_bad_feed_keys(m):
    other = sg.Graph("other")
    with other.as_default():
        z = sg.placeholder((None, 3), F64)
    expect(sg.FeedError, lambda: m.sess.run(m.y, {"x": X}), "keys must be symbols")
    expect(sg.FeedError, lambda: m.sess.run(m.y, {m.x: X, z: X}), "belongs to")
    expect(sg.FeedError, lambda: m.sess.run(m.y, [X]), "must be a dict")
    m.good_step()


@documents("staticgraph", "`sg.function`: wrong number of arguments, a missing one, an "
           "unknown keyword", "`sg.function` inputs that are not symbols, or listed twice")
def test_function_arguments(m):
    f = sg.function([m.x], m.y, session=m.sess)
    expect(sg.FeedError, lambda: f(X, X), "takes 1 inputs, got 2")
    expect(sg.FeedError, f, "missing input(s) x")
    expect(sg.FeedError, lambda: f(z=X), "unexpected or repeated input 'z'")
    expect(sg.FeedError, lambda: f(X.astype(np.float32)), "float32")
    expect(sg.FeedError, lambda: sg.function([X], m.y), "inputs must be symbols")
    expect(sg.FeedError, lambda: sg.function([m.x, m.x], m.y), "listed twice")
    assert f(X) == f(x=X) == pytest.approx(15.0)


@documents("staticgraph", "`sg.function` whose outputs need a placeholder not among its "
           "inputs (raised when it is compiled)")
def test_function_missing_a_placeholder():
    graph = sg.Graph("fn")
    with graph.as_default():
        x, y = sg.placeholder((3,), F64, name="x"), sg.placeholder((3,), F64, name="y")
        line, z = f"{FILE}:{_lineno()}", x + y
    expect(sg.FeedError, lambda: sg.function([x], z), "placeholder 'y'", "op 'add'", line)
    np.testing.assert_allclose(sg.function([x, y], z)(np.ones(3), np.ones(3)), 2.0)


@documents("staticgraph", "a variable both fed and updated in one run")
def test_variable_fed_and_updated(m):
    expect(sg.FeedError, lambda: m.sess.run(m.step, {m.x: X, m.w: np.zeros(3)}),
           "'w' is both fed and updated")
    np.testing.assert_array_equal(m.sess.get(m.w), np.ones(3))
    assert m.sess.run(m.y, {m.x: X, m.w: np.zeros(3)}) == 0.0  # feeding alone is fine
    m.good_step()


@documents("staticgraph", "`sess.set` of a value of another shape or dtype")
def test_setting_a_variable_to_a_bad_value(m):
    expect(sg.FeedError, lambda: m.sess.set(m.w, np.zeros(4)), "'w'", "float64[3]")
    expect(sg.FeedError, lambda: m.sess.set(m.w, np.zeros(3, np.float32)), "float32")
    np.testing.assert_array_equal(m.sess.get(m.w), np.ones(3))
    m.sess.set(m.w, [1, 2, 3])
    m.good_step()


# ---- inputs that must work -------------------------------------------------------------

@pytest.mark.parametrize("kind", ["non-contiguous", "read-only", "fortran", "tensor"])
def test_unusual_but_valid_arrays_give_the_same_results(m, kind):
    value = {"non-contiguous": np.arange(12.0).reshape(2, 6)[:, ::2],
             "read-only": X.copy(), "fortran": np.asfortranarray(X),
             "tensor": dg.tensor(X, requires_grad=True)}[kind]
    if kind == "read-only":
        value.flags.writeable = False
    plain = np.array(np.asarray(value), copy=True)
    f = sg.function([m.x], [m.y, m.gx, m.gw], session=m.sess)
    for got, want in zip(f(value), f(plain)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.asarray(value), plain)  # the input was not written to
    m.good_step()


@documents("staticgraph", "`max` (a reduction with no identity) over an empty dim")
def test_empty_arrays(m):
    with m.graph.as_default():
        line, peak = f"{FILE}:{_lineno()}", sg.reduce_max(m.x, axis=0)
    empty = np.zeros((0, 3))
    y, gx, gw = m.sess.run([m.y, m.gx, m.gw], {m.x: empty})
    assert y == 0.0 and gx.shape == (0, 3) and np.array_equal(gw, np.zeros(3))
    expect(sg.ShapeError, lambda: m.sess.run(peak, {m.x: empty}), "max:", "(0, 3)", line)
    m.good_step()


def test_zero_length_scan_gives_empty_results_and_zero_gradients():
    graph = sg.Graph("scan0")
    with graph.as_default():
        xs, h0 = sg.placeholder((None, 2), F64), sg.placeholder((2,), F64)
        w = sg.Variable(np.eye(2) * 0.5)
        hs = sg.scan(lambda h, x: sg.tanh(sg.matmul(h, w) + x), xs, initializer=h0)
        grads = sg.gradients(sg.reduce_sum(hs), [w, h0, xs])
    f = sg.function([xs, h0], [hs] + grads)
    out = f(np.zeros((0, 2)), np.ones(2))
    assert out[0].shape == (0, 2) and out[3].shape == (0, 2)
    np.testing.assert_array_equal(out[1], np.zeros((2, 2)))
    np.testing.assert_array_equal(out[2], np.zeros(2))
    hs1 = f(np.ones((1, 2)), np.ones(2))[0]
    np.testing.assert_allclose(hs1, np.tanh(np.ones((1, 2)) * 1.5))


# ---- run-time shape errors ----------------------------------------------------------------

@documents("staticgraph", "dims unknown at build time disagree when run",
           "`scan` sequences of different lengths")
def test_run_time_shape_mismatches(m):
    with m.graph.as_default():
        other = sg.placeholder((None, 3), F64, name="other")
        line, z = f"{FILE}:{_lineno()}", sg.reduce_sum(m.x + other)
        h0 = sg.placeholder((3,), F64)
        line2, hs = f"{FILE}:{_lineno()}", sg.scan(lambda h, ab: h + ab[0] * ab[1], (m.x, other),
                                                    initializer=h0)
    expect(sg.ShapeError, lambda: m.sess.run(z, {m.x: X, other: np.ones((4, 3))}), "add:", line)
    expect(sg.ShapeError, lambda: m.sess.run(hs, {m.x: X, other: np.ones((3, 3)),
                                                  h0: np.zeros(3)}), "scan:", "lengths", line2)
    assert m.sess.run(z, {m.x: X, other: np.ones((2, 3))}) == 21.0
    m.good_step()


@documents("staticgraph", "an update whose value has another shape than its variable "
           "(run-time dims)")
def test_update_of_another_shape_at_run_time(m):
    with m.graph.as_default():
        grow = sg.assign(m.w, sg.reduce_sum(m.x, axis=0, keepdims=False) * 0 + m.x[0])
        v = sg.placeholder((None,), F64)
        bad = sg.assign(m.w, v)
    expect(sg.ShapeError, lambda: m.sess.run(bad, {v: np.ones(4)}), "'w'", "(4,)")
    np.testing.assert_array_equal(m.sess.get(m.w), np.ones(3))
    m.sess.run(grow, {m.x: X})
    np.testing.assert_array_equal(m.sess.get(m.w), X[0])
    m.good_step()
