"""einsum's sublist form, `einsum(a, [0, 1], b, [1, 2], [0, 2])`, in dyngraph
and staticgraph: values and gradients against NumPy's einsum of the same
arguments (and central differences), and the conversion to subscripts."""

from __future__ import annotations

import numpy as np
import pytest
from nn_reference import fd_gradient
from numba_backend_util import numba_cache_dir  # noqa: F401

import dyngraph as dg
import shared_ops as so
import staticgraph as sg

# (sublists: one per operand, then the optional output sublist; operand shapes)
SUBLISTS = {
    "matmul": (([0, 1], [1, 2], [0, 2]), [(2, 3), (3, 4)]),
    "implicit-transpose": (([1, 0],), [(2, 3)]),
    "upper-and-lower": (([27, 0],), [(2, 3)]),
    "trace": (([5, 5],), [(3, 3)]),
    "diagonal": (([5, 5], [5]), [(3, 3)]),
    "batched-ellipsis": (([..., 0, 1], [..., 1, 2], [..., 0, 2]), [(2, 2, 3), (2, 3, 4)]),
    "ellipsis-last": (([..., 0], [0, ...]), [(2, 3, 4)]),
    "ellipsis-implicit": (([..., 1, 0], [..., 0]), [(2, 3, 4), (4,)]),
    "numpy-ints-and-tuples": (((np.int64(0), np.int64(1)), (1,), ()), [(2, 3), (3,)]),
}


def _interleave(operands, sublists) -> list:
    args = []
    for x, sub in zip(operands, sublists):
        args += [x, list(sub)]
    return args + [list(s) for s in sublists[len(operands):]]


def _fd_gradient(sublists, values, i, weights):
    """Central differences of sum(np.einsum(...) * weights) in values[i]."""
    return fd_gradient(lambda *args: np.einsum(*_interleave(args, sublists)), values, i,
                       weights)


def _numpy_case(name, rng):
    sublists, shapes = SUBLISTS[name]
    values = [rng.standard_normal(s) for s in shapes]
    want = np.einsum(*_interleave(values, sublists))
    return sublists, values, want, rng.standard_normal(np.shape(want))


@pytest.mark.parametrize("name", sorted(SUBLISTS))
def test_dg_einsum_sublists_match_numpy_with_gradients(name, rng):
    sublists, values, want, weights = _numpy_case(name, rng)
    tensors = [dg.tensor(v, requires_grad=True) for v in values]
    out = dg.einsum(*_interleave(tensors, sublists))
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12)
    (out * dg.tensor(weights)).sum().backward()
    for i, t in enumerate(tensors):
        np.testing.assert_allclose(t.grad.numpy(), _fd_gradient(sublists, values, i, weights),
                                   rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["interpret", "numba"])
@pytest.mark.parametrize("name", ["matmul", "upper-and-lower", "diagonal",
                                  "batched-ellipsis"])
def test_sg_einsum_sublists_match_numpy_with_gradients(name, backend, rng):
    sublists, values, want, weights = _numpy_case(name, rng)
    graph = sg.Graph(name)
    with graph.as_default():
        holders = [sg.placeholder(v.shape, sg.float64) for v in values]
        out = sg.einsum(*_interleave(holders, sublists))
        grads = sg.gradients(out, holders, grad_ys=weights)
    with sg.Session(graph, backend=backend) as sess:
        got = sess.run([out, *grads], dict(zip(holders, values)))
    np.testing.assert_allclose(got[0], want, rtol=1e-12)
    for i, g in enumerate(got[1:]):
        np.testing.assert_allclose(g, _fd_gradient(sublists, values, i, weights),
                                   rtol=1e-6, atol=1e-8)


def test_sublists_become_subscripts():
    a, b = np.zeros((2, 3)), np.zeros((3, 4))
    assert so.einsum_args((a, [0, 1], b, [1, 27], [27, 0])) == ("AB,Bb->bA", [a, b])
    assert so.einsum_args((a, [..., 51])) == ("...z", [a])
    assert so.einsum_args(("ij->ji", a)) == ("ij->ji", [a])


def test_the_equation_form_still_takes_a_list_of_operands(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    out = dg.einsum("ij,jk->ik", [dg.tensor(a), dg.tensor(b)])
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-12)
