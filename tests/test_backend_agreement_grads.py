"""Gradient corner cases: PyTorch's values for `x ** y` at x = 0, tensors inside
Python lists refused, run-time shapes of grad_ys checked, on every CPU backend."""

from __future__ import annotations

import numpy as np
import pytest
from numba_backend_util import numba_cache_dir  # noqa: F401
from pow_reference import POW_X, POW_Y, pytorch_pow_grads, static_pow_grads

import dyngraph as dg
import shared_ops.api as A
import staticgraph as sg
from shared_ops import DTypeError, ShapeError

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
BACKENDS = ["interpret", "numba"]
# (x, y, d(x**y)/dx, d(x**y)/dy, d(x**y_scalar)/dx) as PyTorch gives them
POW_POINTS = [
    (0.0, 0.0, 0.0, 0.0, 0.0),
    (0.0, 2.0, 0.0, 0.0, 0.0),
    (0.0, 0.5, np.inf, 0.0, np.inf),
    (2.0, 0.0, 0.0, np.log(2.0), 0.0),
    (3.0, 2.0, 6.0, 9 * np.log(3.0), 6.0),
]


def _static_pow_grads(x, y, backend):
    graph = sg.Graph()
    with graph.as_default():
        px = sg.placeholder(np.float64, (None,))
        py = sg.placeholder(np.float64, (None,))
        fetches = sg.gradients(sg.sum(px ** py), [px, py]) + sg.gradients(sg.sum(px ** y), [px])
        with sg.Session(graph, backend=backend) as sess:
            return [float(v[0]) for v in sess.run(fetches, {px: np.array([x]),
                                                             py: np.array([y])})]


@pytest.mark.parametrize("x, y, gx, gy, gx_scalar", POW_POINTS)
def test_pow_gradients_are_pytorchs(x, y, gx, gy, gx_scalar):
    tx = dg.tensor([x], dtype=np.float64, requires_grad=True)
    ty = dg.tensor([y], dtype=np.float64, requires_grad=True)
    got_x, got_y = dg.grad(dg.sum(tx ** ty), [tx, ty])
    (got_xs,) = dg.grad(dg.sum(tx ** y), [tx])
    want = [gx, gy, gx_scalar]
    np.testing.assert_allclose([got_x.item(), got_y.item(), got_xs.item()], want)
    for backend in BACKENDS:
        np.testing.assert_allclose(_static_pow_grads(x, y, backend), want, err_msg=backend)


@pytest.mark.parametrize("backend", ["dyngraph", *BACKENDS])
@pytest.mark.parametrize("g", [1.0, -0.5], ids=["g=1", "g=-0.5"])
def test_pow_gradients_follow_pytorch_for_every_base_sign(backend, g):
    """Negative bases give NaN w.r.t. y; 0 ** negative gives -inf (PyTorch)."""
    gs = np.full_like(POW_X, g)
    want = pytorch_pow_grads(POW_X, POW_Y, gs)
    if backend == "dyngraph":
        tx, ty = (dg.tensor(v, requires_grad=True) for v in (POW_X, POW_Y))
        got = [t.numpy() for t in dg.grad(dg.sum((tx ** ty) * gs), [tx, ty])]
    else:
        got = static_pow_grads(backend, POW_X, POW_Y, gs)
    for name, a, e in zip(("d/dx", "d/dy"), got, want):
        np.testing.assert_allclose(a, e, rtol=1e-12, err_msg=f"{backend} {name}")


def test_pow_reference_is_pytorchs():
    torch = pytest.importorskip("torch")
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (POW_X, POW_Y))
    gs = np.linspace(-1.0, 1.0, POW_X.size)
    (tx ** ty).backward(torch.tensor(gs))
    want = pytorch_pow_grads(POW_X, POW_Y, gs)
    np.testing.assert_allclose(tx.grad.numpy(), want[0], rtol=1e-12)
    np.testing.assert_allclose(ty.grad.numpy(), want[1], rtol=1e-12)


@pytest.mark.parametrize("op", [
    lambda x: x + [x[0], 1.0],
    lambda x: dg.mul(x, [x[0], x[1]]),
    lambda x: dg.maximum(x, [[x[0], 1.0]]),
    lambda x: dg.where(x > 1, [x[0], 1.0], x),
    lambda x: A.sub(x, (1.0, x[1])),
])
def test_tensors_inside_python_lists_are_refused(op):
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(DTypeError, match=r"Python (list|tuple) holding tensors.*test_backend"):
        op(x)


def test_plain_python_lists_still_mix_with_tensors():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = dg.grad(dg.sum(x * [2.0, 3.0]), [x])
    np.testing.assert_array_equal(g.numpy(), [2.0, 3.0])


def test_symbols_inside_python_lists_are_refused():
    with sg.Graph().as_default():
        p = sg.placeholder(np.float32, (2,))
        with pytest.raises(DTypeError, match="Python list holding tensors or symbols"):
            _ = p + [p[0], 1.0]


@pytest.mark.parametrize("value", [
    np.array([1j, 2.0]), np.array([1, 2], dtype=object), 1j, "a", np.array(["a", "b"])])
def test_unsupported_operands_are_refused_by_both_engines(value):
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(DTypeError, match="unsupported operand"):
        _ = x * value
    with sg.Graph().as_default():
        p = sg.placeholder(np.float32, (2,))
        with pytest.raises(DTypeError, match="unsupported operand|as a constant"):
            _ = p * value


@pytest.mark.parametrize("array", [np.array([1j]), np.array([1, "a"], dtype=object),
                                   np.array(["a"]), np.zeros(1, dtype="datetime64[s]")])
def test_from_numpy_refuses_unsupported_dtypes(array):
    with pytest.raises(DTypeError, match="from_numpy: dtype .* is not supported"):
        dg.from_numpy(array)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_ys_run_time_shape_is_checked(backend):
    graph = sg.Graph()
    with graph.as_default():
        x = sg.placeholder(np.float64, (None,))
        gy = sg.placeholder(np.float64, (None,))
        (gx,) = sg.gradients(x * x, [x], grad_ys=gy)
        with sg.Session(graph, backend=backend) as sess:
            np.testing.assert_array_equal(
                sess.run(gx, {x: np.ones(3), gy: np.arange(3.0)}), [0.0, 2.0, 4.0])
            for bad in (np.ones(1), np.ones(4)):
                with pytest.raises(ShapeError, match=r"grad_ys has shape .*"
                                                     r"test_backend_agreement_grads\.py:\d+"):
                    sess.run(gx, {x: np.ones(3), gy: bad})
