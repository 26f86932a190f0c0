"""docs/errors.md, "Agreement across engines and backends": each error on dyngraph and
every CPU backend, naming the op and the user's line; a good step afterwards works."""

from __future__ import annotations

import numpy as np
import pytest
from bad_inputs_util import documents, expect
from numba_backend_util import numba_cache_dir  # noqa: F401

import dyngraph as dg
import shared_ops.api as A
import staticgraph as sg
from shared_ops import DTypeError, ShapeError

SECTION = "agreement across engines and backends"
BACKENDS = ["interpret", "numba"]
HERE = "test_bad_inputs_agree.py:"


def _good_static_step(graph, x, backend: str) -> None:
    with graph.as_default():
        y = A.add(A.mul(x, 2.0), 1.0)
        with sg.Session(graph, backend=backend) as sess:
            got = sess.run(y, {x: np.arange(3.0)})
    np.testing.assert_allclose(got, 2 * np.arange(3.0) + 1)


@documents(SECTION, "`neg`, `sub`, `pow`, `sign` or `relu` of bool operands")
@pytest.mark.parametrize("op", [A.neg, A.sign, A.relu, lambda m: A.sub(m, m),
                                lambda m: A.pow(m, True)])
def test_bool_operands_are_refused(op):
    mask = np.array([True, False, True])
    expect(DTypeError, lambda: op(dg.tensor(mask)), "not defined for bool operands", HERE)
    graph = sg.Graph()
    with graph.as_default():
        m = sg.placeholder(np.bool_, (3,))
        before = len(graph.eqns)
        expect(DTypeError, lambda: op(m), "not defined for bool operands", HERE)
        assert len(graph.eqns) == before
        x = sg.placeholder(np.float64, (3,))
    _good_static_step(graph, x, "numba")
    np.testing.assert_array_equal(dg.logical_not(dg.tensor(mask)).numpy(), ~mask)


@documents(SECTION, "a Python list or tuple holding tensors or symbols as an operand")
def test_lists_holding_tensors_are_refused():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    expect(DTypeError, lambda: x * [x[0], 1.0, 2.0], "mul: a Python list holding", HERE)
    expect(DTypeError, lambda: dg.add(x, (1.0, 2.0, x[1])), "add: a Python tuple", HERE)
    (g,) = dg.grad(dg.sum(x * dg.stack([x[0], x[0], x[0]])), [x])
    np.testing.assert_allclose(g.numpy(), [7.0, 1.0, 1.0])
    graph = sg.Graph()
    with graph.as_default():
        p = sg.placeholder(np.float64, (3,))
        expect(DTypeError, lambda: A.maximum(p, [p[0], 1.0, 2.0]), "maximum: a Python list",
               HERE)
    _good_static_step(graph, p, "interpret")


@documents(SECTION, "a complex, object, string or bytes operand (array, NumPy scalar or "
                    "Python value; also `Tensor.copy_`)")
@pytest.mark.parametrize("value", [np.array([1j, 2, 3]), np.complex64(1j), 1j, "abc", b"ab",
                                   np.array([1, 2, 3], dtype=object), np.array(["a", "b", "c"])])
def test_unsupported_operands_are_refused(value):
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    expect(DTypeError, lambda: x * value, "mul: unsupported operand", HERE)
    target = dg.tensor([1.0, 2.0, 3.0])
    expect(DTypeError, lambda: target.copy_(value), "copy_: unsupported operand")
    np.testing.assert_array_equal(target.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_allclose((x * 2).detach().numpy(), [2.0, 4.0, 6.0])
    graph = sg.Graph()
    with graph.as_default():
        p = sg.placeholder(np.float64, (3,))
        msg = expect(DTypeError, lambda: p * value, "mul: ", HERE)
        assert "unsupported operand" in msg or "as a constant" in msg, msg
    _good_static_step(graph, p, "numba")


@documents(SECTION, "`dg.from_numpy` of an array whose dtype is not bool, integer or float")
def test_from_numpy_refuses_unsupported_dtypes():
    expect(DTypeError, lambda: dg.from_numpy(np.array([1j])), "from_numpy: dtype complex128")
    expect(DTypeError, lambda: dg.from_numpy(np.array(["a"])), "from_numpy: dtype <U1")
    shared = np.arange(3.0)
    t = dg.from_numpy(shared)
    shared[0] = 5.0
    assert t.numpy()[0] == 5.0


@documents(SECTION, "`max`, `softmax` or `log_softmax` over an empty axis, on a compiled "
                    "backend too (fused or not)")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make", [lambda x: A.max(x), lambda x: A.add(A.max(A.exp(x)), 1.0),
                                  lambda x: A.softmax(x, axis=0)])
def test_empty_axis_reductions_raise_on_every_backend(make, backend):
    graph = sg.Graph()
    with graph.as_default():
        x = sg.placeholder(np.float64, (None,))
        y = make(x)
        with sg.Session(graph, backend=backend) as sess:
            expect(ShapeError, lambda: sess.run(y, {x: np.zeros(0)}), "failed at run time",
                   HERE)
            np.testing.assert_allclose(sess.run(y, {x: np.zeros(3)}),
                                       make(np.zeros(3)))


@documents(SECTION, "`grad_ys` whose run-time shape differs from its ys")
@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_ys_shape_is_checked_at_run_time(backend):
    graph = sg.Graph()
    with graph.as_default():
        x = sg.placeholder(np.float64, (None,))
        gy = sg.placeholder(np.float64, (None,))
        (gx,) = sg.gradients(A.mul(x, x), [x], grad_ys=gy)
        with sg.Session(graph, backend=backend) as sess:
            expect(ShapeError, lambda: sess.run(gx, {x: np.ones(3), gy: np.ones(1)}),
                   "same_shape: failed at run time: grad_ys has shape (1,)", HERE)
            np.testing.assert_allclose(sess.run(gx, {x: np.ones(3), gy: np.arange(3.0)}),
                                       [0.0, 2.0, 4.0])
