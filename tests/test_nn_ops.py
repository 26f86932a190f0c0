"""The reduction, indexing, einsum, convolution and pooling ops through their
engine wrappers (dg: PyTorch names and semantics; sg: TF1 names and
semantics) against plain-NumPy references (tests/nn_reference.py), on the
interpreter and the numba backend; second-order gradients of conv2d and
max_pool2d against finite differences."""

from __future__ import annotations

import nn_reference as ref
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba_backend_util import numba_cache_dir  # noqa: F401

import dyngraph as dg
import staticgraph as sg

F = dg.nn.functional


def run_static(fetches, feed, backends=("interpret", "numba")) -> list:
    """Values of fetches on each backend; they must agree with the interpreter."""
    results = []
    for backend in backends:
        with sg.Session(backend=backend) as sess:
            results.append(sess.run(fetches, feed))
    for values in results[1:]:
        for got, want in zip(values, results[0]):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    return results[0]


@pytest.fixture(autouse=True)
def fresh_graph():
    sg.reset_default_graph()
    yield


def leaf(rng, *shape) -> dg.Tensor:
    return dg.tensor(rng.standard_normal(shape), requires_grad=True)


# ---- convolution and pooling ------------------------------------------------------

@pytest.mark.parametrize("stride, padding, dilation", [
    (1, 0, 1), ((2, 1), (1, 2), 1), (2, 1, (2, 1)), (1, "same", 2)])
def test_dg_conv2d_matches_the_reference(rng, stride, padding, dilation):
    x, w, b = leaf(rng, 2, 3, 7, 6), leaf(rng, 4, 3, 3, 2), leaf(rng, 4)
    y = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    st_, dl = (np.broadcast_to(stride, 2), np.broadcast_to(dilation, 2))
    if padding == "same":
        pads = tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                     for k, d in zip((3, 2), dl))
    else:
        pads = tuple((p, p) for p in np.broadcast_to(padding, 2))
    want = ref.conv2d(x.detach().numpy(), w.detach().numpy(), st_, pads, dl)
    want += b.detach().numpy()[:, None, None]
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-12, atol=1e-12)


def test_dg_conv2d_groups_is_one_conv_per_group(rng):
    x, w = leaf(rng, 1, 4, 5, 5), leaf(rng, 6, 2, 3, 3)
    y = F.conv2d(x, w, groups=2, padding=1)
    xv, wv = x.detach().numpy(), w.detach().numpy()
    pads = ((1, 1), (1, 1))
    want = np.concatenate([ref.conv2d(xv[:, :2], wv[:3], padding=pads),
                           ref.conv2d(xv[:, 2:], wv[3:], padding=pads)], axis=1)
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-12)
    y.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape


def test_dg_max_pool2d_ceil_mode_frozen_values():
    x = dg.tensor(np.arange(25.0).reshape(1, 1, 5, 5), requires_grad=True)
    y = F.max_pool2d(x, 2, ceil_mode=True)  # PyTorch: 3x3, the last windows cut short
    np.testing.assert_array_equal(y.detach().numpy()[0, 0],
                                  [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    y.sum().backward()
    assert x.grad.numpy().sum() == 9 and x.grad.numpy()[0, 0, 4, 4] == 1
    assert F.max_pool2d(x, 2).shape == (1, 1, 2, 2)


def test_dg_max_pool2d_matches_the_reference_and_ties_pick_the_first(rng):
    xv = rng.standard_normal((2, 3, 7, 6))
    y = F.max_pool2d(dg.tensor(xv), 3, stride=2, padding=1)
    np.testing.assert_array_equal(y.numpy(), ref.max_pool2d(xv, (3, 3), (2, 2),
                                                            ((1, 1), (1, 1))))
    x = dg.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 0], [0, 0]])


@pytest.mark.parametrize("padding, stride", [("SAME", 1), ("SAME", 2), ("VALID", 2),
                                             ([[0, 0], [1, 0], [0, 2], [0, 0]], 1)])
def test_sg_conv2d_and_max_pool_follow_tf1(rng, padding, stride):
    xv, fv = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 2, 3, 4))
    x = sg.placeholder(sg.float64, (None, 6, 5, 3))
    y = sg.nn.conv2d(x, sg.constant(fv), strides=[1, stride, stride, 1], padding=padding)
    p = sg.nn.max_pool(y, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    (grad,) = sg.gradients(sg.reduce_sum(p), [x])
    got_y, got_p, got_g = run_static([y, p, grad], {x: xv})
    if padding == "SAME":
        pads = (ref.tf_same_padding(6, 3, stride), ref.tf_same_padding(5, 2, stride))
    elif padding == "VALID":
        pads = ((0, 0), (0, 0))
    else:
        pads = ((1, 0), (0, 2))
    want = ref.conv2d(xv.transpose(0, 3, 1, 2), fv.transpose(3, 2, 0, 1), (stride, stride),
                      pads).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got_y, want, rtol=1e-12, atol=1e-12)
    if padding == "SAME" and stride == 1:
        assert got_y.shape[1:3] == (6, 5)  # TF's SAME keeps the size at stride 1
    pool_pads = (ref.tf_same_padding(want.shape[1], 2, 2), ref.tf_same_padding(
        want.shape[2], 2, 2))
    np.testing.assert_array_equal(got_p, ref.max_pool2d(
        got_y.transpose(0, 3, 1, 2), (2, 2), (2, 2), pool_pads).transpose(0, 2, 3, 1))
    assert got_g.shape == xv.shape


def _fd(fn, x, v, eps=1e-6):
    return (fn(x + eps * v) - fn(x - eps * v)) / (2 * eps)


def test_conv2d_second_order_gradients(rng):
    """d/dw <grad_x sum(conv(x, w)^2), v>: conv2d_input_grad's and weight_grad's VJPs."""
    xv, wv, v = (rng.standard_normal((1, 2, 5, 4)), rng.standard_normal((3, 2, 2, 2)),
                 rng.standard_normal((1, 2, 5, 4)))
    params = {"stride": (2, 1), "padding": 1}

    def h(w_value, want_grad=False):
        x, w = dg.tensor(xv, requires_grad=True), dg.tensor(w_value, requires_grad=True)
        y = F.conv2d(x, w, **params)
        (gx,) = dg.grad((y * y).sum(), [x], create_graph=True)
        out = (gx * dg.tensor(v)).sum()
        return dg.grad(out, [w])[0].numpy() if want_grad else float(out.detach().numpy())

    direction = rng.standard_normal(wv.shape)
    lhs = float(np.sum(h(wv, True) * direction))
    assert np.isclose(lhs, _fd(h, wv, direction), rtol=1e-6, atol=1e-8)


def test_max_pool2d_second_order_gradients(rng):
    """The gradient of a function of max_pool2d's gradient goes through max_pool2d_pick."""
    xv, v = rng.standard_normal((1, 2, 6, 5)), rng.standard_normal((1, 2, 6, 5))

    def h(x_value, want_grad=False):
        x = dg.tensor(x_value, requires_grad=True)
        y = F.max_pool2d(x, 2, stride=1)
        (gx,) = dg.grad((y * y * y).sum(), [x], create_graph=True)
        out = (gx * dg.tensor(v)).sum()
        return dg.grad(out, [x])[0].numpy() if want_grad else float(out.detach().numpy())

    direction = rng.standard_normal(xv.shape)
    lhs = float(np.sum(h(xv, True) * direction))
    assert np.isclose(lhs, _fd(h, xv, direction), rtol=1e-6, atol=1e-8)


# ---- indexing ---------------------------------------------------------------------

def test_dg_gather_index_select_embedding(rng):
    x = leaf(rng, 3, 4)
    index = np.array([[3, 3], [0, 1], [2, 2]])
    y = dg.gather(x, 1, dg.tensor(index))
    np.testing.assert_array_equal(y.detach().numpy(), ref.gather(x.detach().numpy(), 1, index))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0, 2], [1, 1, 0, 0], [0, 0, 2, 0]])
    rows = x.index_select(0, dg.tensor([2, 2, 0]))
    np.testing.assert_array_equal(rows.detach().numpy(), x.detach().numpy()[[2, 2, 0]])
    table = leaf(rng, 5, 3)
    ids = dg.tensor([[0, 2], [2, 4]])
    out = F.embedding(ids, table, padding_idx=2)
    np.testing.assert_array_equal(out.detach().numpy(), table.detach().numpy()[ids.numpy()])
    out.sum().backward()
    np.testing.assert_array_equal(table.grad.numpy()[:, 0], [1, 0, 0, 0, 1])


def test_sg_gather_and_symbolic_index_accumulate_gradients():
    table = sg.Variable(np.arange(12.0).reshape(4, 3))
    ids = sg.placeholder((None,), sg.int64)
    pairs = sg.placeholder((None, 2), sg.int32)
    a = sg.gather(table, ids)
    b = table[pairs, 1]                    # E[ids, 1]: take then a basic index
    c = table[:, sg.constant([2, 0], dtype=np.int64)]
    d = sg.gather(table, [1], axis=1)
    loss = sg.reduce_sum(a) + sg.reduce_sum(b) + sg.reduce_sum(c) + sg.reduce_sum(d)
    (grad,) = sg.gradients(loss, [table])
    feed = {ids: np.array([1, 1, 3]), pairs: np.array([[0, 0], [3, 1]], np.int32)}
    va, vb, vc, vd, vg = run_static([a, b, c, d, grad], feed)
    t = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(va, t[[1, 1, 3]])
    np.testing.assert_array_equal(vb, t[[[0, 0], [3, 1]], 1])
    np.testing.assert_array_equal(vc, t[:, [2, 0]])
    np.testing.assert_array_equal(vd, t[:, [1]])
    want = np.zeros((4, 3))
    np.add.at(want, [1, 1, 3], 1)
    np.add.at(want, ([0, 0, 3, 1], 1), 1)
    want[:, [2, 0]] += 1
    want[:, 1] += 1
    np.testing.assert_array_equal(vg, want)


def test_one_hot_tf_and_torch_semantics():
    ids = sg.placeholder((None,), sg.int64)
    plain = sg.one_hot(ids, 3)
    valued = sg.one_hot(ids, 3, on_value=5.0, off_value=-1.0, dtype=np.float64)
    first = sg.one_hot(ids, 3, axis=0)
    got = run_static([plain, valued, first], {ids: np.array([0, 2, 3, -1])})
    eye = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(got[0], eye)  # TF: out of range gives a row of zeros
    assert got[0].dtype == np.float32 and got[1].dtype == np.float64
    np.testing.assert_array_equal(got[1], np.where(eye, 5.0, -1.0))
    np.testing.assert_array_equal(got[2], eye.T)
    out = F.one_hot(dg.tensor([1, 0, 3]))  # PyTorch: num_classes = max + 1, int64
    assert out.dtype == np.int64 and out.shape == (3, 4)


def test_argmax_argmin_first_of_ties_and_tf_default_axis():
    xv = np.array([[1.0, 3.0, 3.0], [np.nan, 0.0, 5.0], [2.0, -1.0, -1.0]])
    x = sg.placeholder((3, 3), sg.float64)
    fetched = run_static([sg.argmax(x), sg.argmax(x, 1), sg.argmin(x, 1),
                          sg.argmax(x, 1, output_type=sg.int32)], {x: xv})
    np.testing.assert_array_equal(fetched[0], [1, 0, 1])  # TF1: axis None means 0
    np.testing.assert_array_equal(fetched[1], [1, 0, 0])  # NaN counts as the largest
    np.testing.assert_array_equal(fetched[2], [0, 0, 1])
    assert fetched[3].dtype == np.int32
    t = dg.tensor(xv)
    assert int(dg.argmax(t).numpy()) == 3 and t.argmin(1, keepdim=True).shape == (3, 1)


# ---- reductions, einsum, split, add_n ------------------------------------------------

def test_logsumexp_var_std_moments(rng):
    xv = rng.standard_normal((3, 4)) * 300
    xv[0] = -np.inf
    x = sg.placeholder((None, 4), sg.float64)
    lse, var, std = sg.reduce_logsumexp(x, 1), sg.reduce_variance(x[1:], 0), \
        sg.reduce_std(x[1:], 1, keepdims=True)
    mean, variance = sg.nn.moments(x[1:], axes=[0])
    got = run_static([lse, var, std, mean, variance], {x: xv})
    assert got[0][0] == -np.inf
    np.testing.assert_allclose(got[0][1:], ref.logsumexp(xv[1:], 1), rtol=1e-12)
    np.testing.assert_allclose(got[1], xv[1:].var(0), rtol=1e-12)
    np.testing.assert_allclose(got[2], xv[1:].std(1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(got[3], xv[1:].mean(0), rtol=1e-12)
    np.testing.assert_allclose(got[4], xv[1:].var(0), rtol=1e-12)
    t = dg.tensor(xv[1:])
    np.testing.assert_allclose(t.var(1).numpy(), xv[1:].var(1, ddof=1))  # unbiased default
    np.testing.assert_allclose(t.var(1, unbiased=False).numpy(), xv[1:].var(1))
    np.testing.assert_allclose(dg.std(t, 0, correction=0, keepdim=True).numpy(),
                               xv[1:].std(0, keepdims=True))
    np.testing.assert_allclose(t.var(False).numpy(), xv[1:].var())
    np.testing.assert_allclose(dg.logsumexp(t, 1).numpy(), ref.logsumexp(xv[1:], 1))


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["ij,jk", "...ij,...jk->...ik", "bij,bkj->bik", "i,i", "ij->ji",
                        "ijk,jl", "ab,cd->abcd", "...i->..."]), st.integers(0, 2 ** 16))
def test_einsum_matches_numpy(spec, seed):
    rng = np.random.default_rng(seed)
    shapes = {"ij,jk": [(2, 3), (3, 4)], "...ij,...jk->...ik": [(2, 2, 3), (2, 3, 4)],
              "bij,bkj->bik": [(2, 2, 3), (2, 4, 3)], "i,i": [(3,), (3,)],
              "ij->ji": [(2, 3)], "ijk,jl": [(2, 3, 2), (3, 2)], "ab,cd->abcd": [(2, 1),
                                                                                 (1, 3)],
              "...i->...": [(2, 3, 4)]}[spec]
    values = [rng.standard_normal(s) for s in shapes]
    tensors = [dg.tensor(v, requires_grad=True) for v in values]
    out = dg.einsum(spec, *tensors)
    np.testing.assert_allclose(out.detach().numpy(), np.einsum(spec, *values), rtol=1e-12)
    weights = rng.standard_normal(out.shape)
    (out * dg.tensor(weights)).sum().backward()
    for i, t in enumerate(tensors):  # <grad_i, v> against central differences
        v = rng.standard_normal(t.shape)

        def f(value, i=i):
            args = values[:i] + [value] + values[i + 1:]
            return float(np.sum(np.einsum(spec, *args) * weights))
        fd = (f(values[i] + 1e-6 * v) - f(values[i] - 1e-6 * v)) / 2e-6
        assert np.isclose(float(np.sum(t.grad.numpy() * v)), fd, rtol=1e-6, atol=1e-8)


def test_split_add_n_bmm(rng):
    xv = rng.standard_normal((5, 4))
    x = sg.placeholder((None, 4), sg.float64)
    a, b = sg.split(x, 2, axis=1)
    c, d, e = sg.split(x, [1, -1, 2], axis=1)
    total = sg.add_n([a, b, a])
    got = run_static([a, b, c, d, e, total], {x: xv})
    np.testing.assert_array_equal(got[0], xv[:, :2])
    np.testing.assert_array_equal(got[3], xv[:, 1:2])
    np.testing.assert_allclose(got[5], 2 * xv[:, :2] + xv[:, 2:])
    pieces = dg.tensor(xv).split(2)  # PyTorch: chunks of 2, the last one shorter
    assert [p.shape for p in pieces] == [(2, 4), (2, 4), (1, 4)]
    u, v = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 4, 5))
    np.testing.assert_allclose(dg.bmm(dg.tensor(u), dg.tensor(v)).numpy(), u @ v)


def test_elementwise_math_fuses_and_matches_numpy(rng):
    xv = rng.uniform(-0.9, 3.0, (4, 3))
    x = sg.placeholder((None, 3), sg.float64)
    y = sg.log1p(x) * sg.expm1(x) + sg.sin(x) * sg.cos(x)
    (g,) = sg.gradients(sg.reduce_sum(y), [x])
    got_y, got_g = run_static([y, g], {x: xv})
    np.testing.assert_allclose(got_y, np.log1p(xv) * np.expm1(xv) + np.sin(xv) * np.cos(xv),
                               rtol=1e-12)
    want_g = (np.expm1(xv) / (1 + xv) + np.log1p(xv) * np.exp(xv) + np.cos(2 * xv))
    np.testing.assert_allclose(got_g, want_g, rtol=1e-10)
    with sg.Session(backend="numba") as sess:
        sess.run(y, {x: xv})
        assert "log1p" in sess.explain(y) and "fused" in sess.explain(y)
    t = dg.tensor(xv)
    np.testing.assert_allclose(t.log1p().numpy() + t.sin().numpy(), np.log1p(xv) + np.sin(xv))


def test_the_ops_page_example_runs():
    """docs/ops.md's code block, run as a reader would."""
    import pathlib
    import re
    text = (pathlib.Path(__file__).parents[1] / "docs" / "ops.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/ops.md", "exec"), {})


def test_new_ops_inside_a_scan_body_agree_across_backends():
    """A scan step with a symbolic index, logsumexp and cos: numba's scan lowering
    (fallbacks inside the loop) against the interpreter, values and gradients."""
    table = sg.Variable(np.arange(12.0).reshape(6, 2))
    ids = sg.placeholder(sg.int64, (None, 3))

    def step(acc, row):
        return acc + sg.reduce_logsumexp(table[row], axis=0) * sg.cos(acc) * 0.1

    out = sg.scan(step, ids, initializer=sg.constant(np.zeros(2)))
    (grad,) = sg.gradients(sg.reduce_sum(out), [table])
    value, grad_value = run_static([out, grad], {ids: np.array([[0, 1, 1], [5, 2, 0]])})
    first = ref.logsumexp(np.arange(12.0).reshape(6, 2)[[0, 1, 1]], 0) * 0.1
    np.testing.assert_allclose(value[0], first, rtol=1e-12)
    assert grad_value[3].tolist() == [0.0, 0.0] and grad_value[1].sum() > 0


def test_empty_batches_give_empty_values_and_zero_gradients():
    x = dg.tensor(np.zeros((0, 3, 5, 5)), requires_grad=True)
    w = dg.tensor(np.ones((2, 3, 3, 3)), requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w), 2)
    assert y.shape == (0, 2, 1, 1)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 5, 5) and not w.grad.numpy().any()
    table = dg.tensor(np.ones((4, 2)), requires_grad=True)
    F.embedding(dg.tensor(np.zeros(0, np.int64)), table).sum().backward()
    assert not table.grad.numpy().any()


def test_primitives_are_registered_with_their_flags():
    import shared_ops as so
    elementwise = {"log1p", "expm1", "sin", "cos"}
    not_differentiable = {"argmax", "argmin", "one_hot", "max_pool2d_argmax"}
    others = {"logsumexp", "var", "take", "take_grad", "gather", "gather_grad", "einsum",
              "einsum_embed", "add_n", "conv2d", "conv2d_input_grad", "conv2d_weight_grad",
              "max_pool2d", "max_pool2d_grad", "max_pool2d_pick", "max_unpool2d",
              "max_unpool2d_pick", "max_unpool2d_scatter_add"}
    for name in elementwise | not_differentiable | others:
        prim = so.REGISTRY[name]
        assert prim.elementwise == (name in elementwise), name
        assert prim.differentiable == (name not in not_differentiable), name
        assert (prim.scalar is not None) == (name in elementwise), name
    assert all(so.REGISTRY[n].reduction for n in ("logsumexp", "var", "argmax", "argmin"))
