"""max_pool2d's indices (dyngraph's return_indices, sg.nn.max_pool_with_argmax),
max_unpool2d, and einsum's repeated letters and broadcasting, against NumPy
references and central differences on every static backend."""

from __future__ import annotations

import nn_reference as ref
import numpy as np
import pytest
from numba_backend_util import numba_cache_dir  # noqa: F401

import dyngraph as dg
import shared_ops as so
import staticgraph as sg
from shared_ops import IndexingError, ShapeError

F = dg.nn.functional


@pytest.fixture(autouse=True)
def fresh_graph():
    sg.reset_default_graph()
    yield


def _run(fetches, feed, backend="interpret") -> list:
    with sg.Session(backend=backend) as sess:
        return sess.run(fetches, feed)


# ---- max_pool2d indices and max_unpool2d -----------------------------------------

@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 2, 1), (3, 1, 1),
                                                     ((2, 3), (1, 2), (1, 0))])
def test_dg_max_pool2d_indices_match_the_reference(rng, kernel, stride, padding):
    xv = rng.standard_normal((2, 3, 7, 6))
    xv[0, 0, :2, :2] = 5.0  # a tie: the first maximum in row-major order wins
    values, indices = F.max_pool2d(dg.tensor(xv), kernel, stride, padding,
                                   return_indices=True)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    pads = tuple((p, p) for p in pair(padding))
    want = ref.max_pool2d_indices(xv, pair(kernel), pair(stride), pads)
    np.testing.assert_array_equal(indices.numpy(), want)
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(values.numpy(), ref.max_pool2d(xv, pair(kernel),
                                                                 pair(stride), pads))
    np.testing.assert_array_equal(  # each index names its value
        np.take_along_axis(xv.reshape(2, 3, -1), want.reshape(2, 3, -1), 2).reshape(
            want.shape), values.numpy())


def test_max_pool2d_module_and_unpool_round_trip(rng):
    xv = rng.standard_normal((2, 3, 6, 4))
    x = dg.tensor(xv, requires_grad=True)
    pool, unpool = dg.nn.MaxPool2d(2, return_indices=True), dg.nn.MaxUnpool2d(2)
    values, indices = pool(x)
    restored = unpool(values, indices)
    want = ref.max_unpool2d(values.detach().numpy(), indices.numpy(), (6, 4))
    np.testing.assert_array_equal(restored.detach().numpy(), want)
    weights = rng.standard_normal(want.shape)
    (restored * dg.tensor(weights)).sum().backward()
    kept = want != 0  # the gradient reaches exactly the maxima, with their weights
    np.testing.assert_array_equal(x.grad.numpy(), np.where(kept, weights, 0.0))
    odd = unpool(values, indices, output_size=(2, 3, 7, 5))  # PyTorch's output_size
    assert odd.shape == (2, 3, 7, 5)
    np.testing.assert_array_equal(odd.detach().numpy(), ref.max_unpool2d(
        values.detach().numpy(), indices.numpy(), (7, 5)))


def test_max_unpool2d_rejects_indices_outside_the_plane(rng):
    values = dg.tensor(rng.standard_normal((1, 1, 2, 2)))
    with pytest.raises(IndexingError, match="max_unpool2d"):
        F.max_unpool2d(values, dg.tensor(np.array([[[[0, 1], [2, 16]]]])), 2)
    with pytest.raises(ShapeError, match="max_unpool2d"):
        F.max_unpool2d(values, dg.tensor(np.zeros((1, 1, 2, 3), np.int64)), 2)


def test_max_unpool2d_second_order_gradient(rng):
    """d/dx of <grad of unpool(x), v> goes through max_unpool2d_pick's VJP."""
    xv = rng.standard_normal((1, 2, 4, 4))
    _, indices = F.max_pool2d(dg.tensor(xv), 2, return_indices=True)
    y = dg.tensor(rng.standard_normal((1, 2, 2, 2)), requires_grad=True)
    w = dg.tensor(rng.standard_normal((1, 2, 4, 4)), requires_grad=True)
    out = (F.max_unpool2d(y, indices, 2) * w).sum()
    (gy,) = dg.autograd.grad(out, [y], create_graph=True)
    (gy * gy).sum().backward()  # gy = w picked at indices; d/dw = 2 * gy scattered
    want = ref.max_unpool2d(2 * gy.detach().numpy(), indices.numpy(), (4, 4))
    np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("padding, include_batch", [("VALID", False), ("SAME", True)])
def test_sg_max_pool_with_argmax_follows_tf(rng, padding, include_batch):
    xv = rng.standard_normal((2, 5, 6, 3))
    x = sg.placeholder((None, 5, 6, 3), sg.float64)
    out, argmax = sg.nn.max_pool_with_argmax(x, [1, 3, 3, 1], [1, 2, 2, 1], padding,
                                             include_batch_in_index=include_batch)
    plain = sg.nn.max_pool(x, [1, 3, 3, 1], [1, 2, 2, 1], padding)
    (grad,) = sg.gradients(sg.reduce_sum(out * out), [x])
    got = {b: _run([out, argmax, plain, grad], {x: xv}, b) for b in ("interpret", "numba")}
    for a, b in zip(got["interpret"], got["numba"]):
        np.testing.assert_array_equal(a, b)
    value, index, pooled, gx = got["interpret"]
    np.testing.assert_array_equal(value, pooled)
    assert index.dtype == np.int64 and index.shape == value.shape
    nchw = xv.transpose(0, 3, 1, 2)
    pads = ((0, 0), (0, 0)) if padding == "VALID" else (
        ref.tf_same_padding(5, 3, 2), ref.tf_same_padding(6, 3, 2))
    plane = ref.max_pool2d_indices(nchw, (3, 3), (2, 2), pads).transpose(0, 2, 3, 1)
    channel = np.arange(3)[None, None, None, :]
    batch = np.arange(2)[:, None, None, None] * (5 * 6 * 3) if include_batch else 0
    np.testing.assert_array_equal(index, plane * 3 + channel + batch)  # (y*W + x)*C + c
    flat = xv.reshape(-1) if include_batch else xv.reshape(2, -1)
    picked = flat[index] if include_batch else np.take_along_axis(
        flat, index.reshape(2, -1), 1).reshape(index.shape)
    np.testing.assert_array_equal(picked, value)
    want = np.zeros(xv.size)
    np.add.at(want, (index + (0 if include_batch else np.arange(2)[:, None, None, None]
                              * xv[0].size)).ravel(), 2 * value.ravel())
    np.testing.assert_allclose(gx.ravel(), want, rtol=1e-12)


def test_sg_max_pool_with_argmax_int32_and_bad_format():
    x = sg.placeholder((1, 4, 4, 2), sg.float32)
    _, argmax = sg.nn.max_pool_with_argmax(x, 2, 2, "VALID", Targmax=sg.int32)
    assert argmax.dtype == np.int32
    with pytest.raises(ShapeError, match="NHWC"):
        sg.nn.max_pool_with_argmax(x, 2, 2, "VALID", data_format="NCHW")


# ---- einsum: repeated letters, broadcasting, ellipsis, implicit output ---------------

EINSUMS = {"ii->i": [(3, 3)], "ii->": [(3, 3)], "ii": [(4, 4)], "bii->bi": [(2, 3, 3)],
           "iij->ij": [(3, 3, 2)], "iji->j": [(2, 3, 2)], "iik->k": [(2, 2, 4)],
           "iij,jk->ik": [(3, 3, 2), (2, 4)], "ii,i->i": [(3, 3), (3,)],
           "...ii->...i": [(2, 3, 3)], "...ij->...ji": [(2, 4, 3, 5)],
           "ij,jk": [(2, 3), (3, 4)], "ij,ij->ij": [(1, 3), (4, 3)],
           "...ij,...jk->...ik": [(1, 2, 3), (5, 3, 4)], "...i,...i": [(2, 1, 3), (4, 3)]}


def _fd_gradient(spec, values, i, weights):
    """Central differences of sum(einsum(spec, ...) * weights) in values[i]."""
    return ref.fd_gradient(lambda *args: np.einsum(spec, *args), values, i, weights)


@pytest.mark.parametrize("spec", sorted(EINSUMS))
def test_dg_einsum_matches_numpy_with_gradients(spec, rng):
    values = [rng.standard_normal(s) for s in EINSUMS[spec]]
    tensors = [dg.tensor(v, requires_grad=True) for v in values]
    out = dg.einsum(spec, *tensors)
    want = np.einsum(spec, *values)
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12)
    weights = rng.standard_normal(want.shape)
    (out * dg.tensor(weights)).sum().backward()
    for i, t in enumerate(tensors):
        np.testing.assert_allclose(t.grad.numpy(), _fd_gradient(spec, values, i, weights),
                                   rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["interpret", "numba"])
@pytest.mark.parametrize("spec", ["ii->i", "bii->bi", "iij,jk->ik", "ij,ij->ij", "ii"])
def test_sg_einsum_matches_numpy_with_gradients(spec, backend, rng):
    values = [rng.standard_normal(s) for s in EINSUMS[spec]]
    holders = [sg.placeholder(v.shape, sg.float64) for v in values]
    out = sg.einsum(spec, *holders)
    weights = rng.standard_normal(np.einsum(spec, *values).shape)
    grads = sg.gradients(sg.reduce_sum(out * weights), holders)
    got = _run([out] + grads, dict(zip(holders, values)), backend)
    np.testing.assert_allclose(got[0], np.einsum(spec, *values), rtol=1e-12)
    for i, g in enumerate(got[1:]):
        np.testing.assert_allclose(g, _fd_gradient(spec, values, i, weights),
                                   rtol=1e-6, atol=1e-8)


def test_einsum_diagonal_is_a_copy_and_second_order_works(rng):
    xv = rng.standard_normal((3, 3))
    x = dg.tensor(xv, requires_grad=True)
    diag = dg.einsum("ii->i", x)
    assert not np.shares_memory(diag.detach().numpy(), x.detach().numpy())
    (g,) = dg.autograd.grad((diag ** 3).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), np.diag(3 * np.diag(xv) ** 2))
    g.sum().backward()  # d/dx sum(3 diag(x)^2) = diag(6 diag(x))
    np.testing.assert_allclose(x.grad.numpy(), np.diag(6 * np.diag(xv)), rtol=1e-12)


def test_einsum_embed_writes_the_diagonal():
    got = so.einsum_embed(np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2, 2)), "ij->iij")
    want = np.zeros((2, 2, 2))
    want[0, 0], want[1, 1] = [1.0, 2.0], [3.0, 4.0]
    np.testing.assert_array_equal(got, want)


def test_einsum_rejects_a_repeated_letter_over_different_sizes():
    with pytest.raises(ShapeError, match="einsum: .*'i'"):  # NumPy's words, the op named
        dg.einsum("ii->i", dg.ones(2, 3))
    with pytest.raises(ShapeError, match="'i' repeats in 'ii'"):
        sg.einsum("ii->i", sg.placeholder((2, 3), sg.float64))
    with pytest.raises(ShapeError, match="einsum:"):
        dg.einsum("ij,ij->ij", dg.ones(2, 3), dg.ones(3, 3))
