"""Array-valued params (boolean-mask and integer-array indices) through every pass.

Passes compare and hash equation params; an ndarray inside an index must be
keyed by its dtype, shape and bytes, never compared with `==` (its truth is
ambiguous). Each program here runs the whole pipeline on every CPU backend,
gradients included, and must agree with the interpreter.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba_backend_util import assert_close, numba_cache_dir  # noqa: F401

import staticgraph as sg
from staticgraph.passes.keys import same_value, value_key

INDICES = [
    pytest.param(np.array([True, False, True]), id="bool-mask"),
    pytest.param(np.array([2, 0]), id="int-array"),
    pytest.param(np.array([-1]), id="one-element-array"),
    pytest.param((np.array([1, 0]), slice(None)), id="array-and-slice"),
    pytest.param(-1, id="last"),
    pytest.param(0, id="first"),
]


def _scan_program(index, reverse: bool):
    g = sg.Graph()
    with g.as_default():
        xs = sg.placeholder(np.float64, (3, 2), name="xs")
        h0 = sg.placeholder(np.float64, (2,), name="h0")
        hs = sg.scan(lambda h, x: sg.tanh(h + x), xs, initializer=h0, reverse=reverse)
        y = hs[index]
        loss = sg.sum(y * y)
        fetches = [y] + sg.gradients(loss, [xs, h0])
    rng = np.random.default_rng(1)
    feed = {xs: rng.standard_normal((3, 2)), h0: rng.standard_normal(2)}
    return g, fetches, feed


def _run(graph, fetches, feed, backend):
    with sg.Session(graph, backend=backend) as sess:
        return sess.run(fetches, feed)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("index", INDICES)
def test_scan_output_indexed_then_differentiated(index, reverse):
    graph, fetches, feed = _scan_program(index, reverse)
    want = _run(graph, fetches, feed, "interpret")
    got = _run(graph, fetches, feed, "numba")
    for a, b in zip(got, want):
        assert_close(a, b)


def test_two_indices_differing_only_in_array_values_stay_apart():
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder(np.float64, (4,), name="x")
        a = x[np.array([True, False, True, False])]
        b = x[np.array([False, True, False, True])]
        c = x[np.array([True, False, True, False])]
        fetches = [a - b, a + c] + sg.gradients(sg.sum(a * b + c), [x])
    feed = {x: np.array([1.0, 2.0, 3.0, 4.0])}
    want = _run(g, fetches, feed, "interpret")
    assert_close(want[0], np.array([-1.0, -1.0]))
    for a_, b_ in zip(_run(g, fetches, feed, "numba"), want):
        assert_close(a_, b_)


def test_array_index_inside_scan_body_and_cond():
    g = sg.Graph()
    with g.as_default():
        xs = sg.placeholder(np.float64, (3, 4), name="xs")
        h0 = sg.placeholder(np.float64, (2,), name="h0")
        pick = np.array([True, False, False, True])
        hs = sg.scan(lambda h, x: sg.tanh(h + x[pick]), xs, initializer=h0)
        y = sg.cond(sg.sum(hs) > 0, lambda: hs[np.array([0, 2])], lambda: hs[np.array([1, 2])])
        fetches = [y] + sg.gradients(sg.sum(y), [xs, h0])
    rng = np.random.default_rng(2)
    feed = {xs: rng.standard_normal((3, 4)), h0: rng.standard_normal(2)}
    want = _run(g, fetches, feed, "interpret")
    for a, b in zip(_run(g, fetches, feed, "numba"), want):
        assert_close(a, b)


def test_same_value_keys_arrays_by_content_dtype_and_shape():
    mask = np.array([True, False])
    assert same_value((mask,), (np.array([True, False]),))
    assert not same_value((mask,), (np.array([False, True]),))
    assert not same_value((np.array([1]),), (1,))
    assert not same_value((np.array([0, 1]),), (np.array([0, 1], np.int32),))
    assert not same_value((np.array([-1]),), (-1,))
    hash(value_key((mask, slice(None), Ellipsis)))


def test_program_key_tells_large_array_indices_apart():
    """Programs that differ only in a long mask (equal reprs: NumPy elides the middle)
    have different program keys."""
    from staticgraph.numba_backend.program_cache import program_key

    keys = []
    for flip in (500, 1500):
        mask = np.ones(2000, bool)
        mask[flip] = False
        assert "..." in repr(mask) and "False" not in repr(mask)
        g = sg.Graph()
        with g.as_default():
            x = sg.placeholder(np.float64, (2000,))
            y = sg.sum(x[mask])
        fn = sg.function([x], [y], backend="numba")
        value = fn(np.arange(2000.0))[0]
        assert value == np.arange(2000.0).sum() - flip
        keys.append(program_key(fn.runner))
    assert keys[0] != keys[1]
