"""TF1 names in staticgraph: placeholder orders, creation ops, random ops with
seeds, sg.nn losses and dropout, clip_by_global_norm, on the interpreter and
the numba backend."""

from __future__ import annotations

import numpy as np
import pytest

import staticgraph as sg

BACKENDS = ["interpret", "numba"]


@pytest.fixture
def graph():
    g = sg.Graph()
    with g.as_default():
        yield g


def test_placeholder_accepts_both_argument_orders(graph):
    a = sg.placeholder(sg.float32, shape=(None, 4))
    b = sg.placeholder((None, 4), sg.float64, name="b")
    c = sg.placeholder(sg.int32, [2], "c")
    d = sg.placeholder((3,))
    e = sg.placeholder(dtype="float64", shape=(2,))
    assert (a.dtype, a.shape) == (np.float32, (None, 4))
    assert (b.dtype, b.shape, b.name) == (np.float64, (None, 4), "b")
    assert (c.dtype, c.shape, c.name) == (np.int32, (2,), "c")
    assert (d.dtype, d.shape) == (np.float32, (3,))
    assert (e.dtype, e.shape) == (np.float64, (2,))


def test_placeholder_rejects_two_dtypes_and_bad_dtypes(graph):
    with pytest.raises(TypeError, match="two values for dtype"):
        sg.placeholder(sg.float32, (2,), dtype=sg.float64)
    with pytest.raises(sg.DTypeError, match="placeholder: unsupported dtype"):
        sg.placeholder((2,), dtype="complex64")


@pytest.mark.parametrize("backend", BACKENDS)
def test_placeholder_with_default_and_identity(graph, backend):
    default = sg.constant(np.arange(4.0).reshape(2, 2))
    p = sg.placeholder_with_default(default, (None, 2))
    y = sg.identity(p) * 2.0
    (g,) = sg.gradients(sg.reduce_sum(y), [p])
    assert p.shape == (None, 2)
    with sg.Session(backend=backend) as sess:
        np.testing.assert_array_equal(sess.run(y), np.arange(4.0).reshape(2, 2) * 2)
        fed = np.ones((3, 2))
        np.testing.assert_array_equal(sess.run(y, {p: fed}), fed * 2)
        np.testing.assert_array_equal(sess.run(g), np.full((2, 2), 2.0))
        with pytest.raises(sg.FeedError):
            sess.run(y, {p: np.ones((3, 3))})


def test_placeholder_with_default_checks_the_default_shape(graph):
    with pytest.raises(sg.ShapeError, match="does not fit the declared shape"):
        sg.placeholder_with_default(np.zeros((2, 3), np.float32), (None, 2))


def test_zeros_ones_fill(graph):
    z, o = sg.zeros((2, 3)), sg.ones([2], dtype=sg.int32)
    f, fs = sg.fill((2, 2), 7.0), sg.fill([3], sg.constant(np.float64(2.5)))
    with sg.Session() as sess:
        zv, ov, fv, fsv = sess.run([z, o, f, fs])
    assert zv.dtype == np.float32 and not zv.any() and zv.shape == (2, 3)
    assert ov.dtype == np.int32 and list(ov) == [1, 1]
    assert fv.dtype == np.float32 and (fv == 7).all()
    assert fsv.dtype == np.float64 and list(fsv) == [2.5] * 3
    with pytest.raises(sg.ShapeError, match="zeros: the shape must be known"):
        sg.zeros(sg.placeholder(sg.int32, (2,)))
    with pytest.raises(sg.ShapeError, match="fill: the value must be a scalar"):
        sg.fill((2,), [1.0, 2.0])


def _random_graph(seed_graph=None, seed_op=None):
    graph = sg.Graph()
    with graph.as_default():
        if seed_graph is not None:
            sg.set_random_seed(seed_graph)
        ops = [sg.random_normal((200, 50), mean=1.0, stddev=2.0, seed=seed_op),
               sg.random_uniform((200, 50), minval=-1.0, maxval=3.0, seed=seed_op),
               sg.truncated_normal((200, 50), stddev=0.5, seed=seed_op, dtype=sg.float64),
               sg.random_uniform((1000,), maxval=5, dtype=sg.int32, seed=seed_op)]
    return graph, ops


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_ops_draw_from_their_distributions(backend):
    graph, ops = _random_graph(1)
    with sg.Session(graph, backend=backend) as sess:
        normal, uniform, truncated, ints = sess.run(ops)
    assert normal.dtype == np.float32 and truncated.dtype == np.float64
    assert abs(normal.mean() - 1.0) < 0.1 and abs(normal.std() - 2.0) < 0.1
    assert uniform.min() >= -1.0 and uniform.max() < 3.0 and abs(uniform.mean() - 1.0) < 0.1
    assert np.abs(truncated).max() <= 1.0 and abs(truncated.std() - 0.44) < 0.03
    assert ints.dtype == np.int32 and set(np.unique(ints)) == {0, 1, 2, 3, 4}


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_ops_follow_tf1_seed_semantics(backend):
    graph, ops = _random_graph(7)
    with sg.Session(graph, backend=backend) as sess:
        first, second = sess.run(ops), sess.run(ops)
    for a, b in zip(first, second):
        assert not np.array_equal(a, b)  # a fresh draw every run
    with sg.Session(graph, backend=backend) as sess:  # a new session restarts the streams
        again = sess.run(ops)
    rebuilt_graph, rebuilt = _random_graph(7)  # the same program and seed: the same draws
    with sg.Session(rebuilt_graph, backend=backend) as sess:
        rebuilt_values = sess.run(rebuilt)
    other_graph, other = _random_graph(8)
    with sg.Session(other_graph, backend=backend) as sess:
        other_values = sess.run(other)
    for a, b, c, d in zip(first, again, rebuilt_values, other_values):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
        assert not np.array_equal(a, d)


def test_op_seed_alone_is_reproducible_and_no_seed_is_not():
    graph_a, ops_a = _random_graph(seed_op=3)
    graph_b, ops_b = _random_graph(seed_op=3)
    graph_c, ops_c = _random_graph()
    graph_d, ops_d = _random_graph()
    values = [sg.Session(g).run(o[0]) for g, o in ((graph_a, ops_a), (graph_b, ops_b),
                                                    (graph_c, ops_c), (graph_d, ops_d))]
    np.testing.assert_array_equal(values[0], values[1])
    assert not np.array_equal(values[2], values[3])


def test_backends_draw_the_same_values():
    graph, ops = _random_graph(5)
    reference = sg.Session(graph).run(ops)
    compiled = sg.Session(graph, backend="numba").run(ops)
    for a, b in zip(reference, compiled):
        np.testing.assert_array_equal(a, b)


def test_one_draw_is_shared_by_every_use_in_a_run(graph):
    r = sg.random_normal((3,), seed=1)
    total = sg.reduce_sum(r) * 2.0
    r_value, total_value = sg.Session().run([r, total])
    np.testing.assert_allclose(total_value, 2 * r_value.sum(), rtol=1e-6)


def test_random_op_errors(graph):
    with pytest.raises(sg.ShapeError, match="random_normal: every dim must be known"):
        sg.random_normal((None, 2))
    with pytest.raises(sg.DTypeError, match="random_normal: dtype must be a float"):
        sg.random_normal((2,), dtype=sg.int32)
    with pytest.raises(sg.DTypeError, match="random_uniform: an int dtype"):
        sg.random_uniform((2,), dtype=sg.int32)
    with pytest.raises(ValueError, match="need minval < maxval"):
        sg.random_uniform((2,), minval=1.0, maxval=1.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_masks_scales_and_differentiates(graph, backend):
    sg.set_random_seed(0)
    x = sg.placeholder(sg.float64, (None, 100))
    keep = sg.placeholder_with_default(sg.constant(np.float64(0.25)), ())
    y = sg.nn.dropout(x, keep_prob=keep)
    z = sg.nn.dropout(x, rate=0.75)
    (gx,) = sg.gradients(sg.reduce_sum(y * 3.0), [x])
    data = np.random.default_rng(0).normal(size=(50, 100)) + 5.0
    with sg.Session(backend=backend) as sess:
        yv, gv, zv = sess.run([y, gx, z], {x: data})
        kept = yv != 0
        np.testing.assert_allclose(yv[kept], data[kept] / 0.25)
        np.testing.assert_allclose(gv, np.where(kept, 3.0 / 0.25, 0.0))
        assert abs(kept.mean() - 0.25) < 0.03 and abs((zv != 0).mean() - 0.25) < 0.03
        np.testing.assert_array_equal(sess.run(y, {x: data, keep: 1.0}), data)
    assert sg.nn.dropout(x, keep_prob=1.0) is x


def test_dropout_noise_shape_and_errors(graph):
    x = sg.constant(np.ones((4, 6)))
    y = sg.nn.dropout(x, keep_prob=0.5, noise_shape=(4, 1), seed=2)
    value = sg.Session().run(y)
    assert all(len(set(row)) == 1 for row in value)  # one draw per row
    with pytest.raises(ValueError, match="exactly one of keep_prob and rate"):
        sg.nn.dropout(x)
    with pytest.raises(ValueError, match="keep_prob must be in"):
        sg.nn.dropout(x, keep_prob=0.0)
    with pytest.raises(ValueError, match="rate must be in"):
        sg.nn.dropout(x, rate=1.0)


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_losses_match_numpy(graph, backend, rng):
    logits_v = rng.normal(size=(5, 4))
    labels_v = np.array([0, 3, 1, 1, 2])
    probs_v = np.exp(_log_softmax(rng.normal(size=(5, 4))))
    logits = sg.placeholder(sg.float64, (None, 4))
    labels = sg.placeholder(sg.int64, (None,))
    sparse = sg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    dense = sg.nn.softmax_cross_entropy_with_logits(labels=probs_v, logits=logits)
    sig = sg.nn.sigmoid_cross_entropy_with_logits(labels=probs_v, logits=logits)
    grads = sg.gradients(sg.reduce_mean(sparse) + sg.reduce_sum(dense) + sg.reduce_sum(sig),
                         [logits])
    with sg.Session(backend=backend) as sess:
        sv, dv, gv, (g,) = sess.run([sparse, dense, sig, grads],
                                    {logits: logits_v, labels: labels_v})
    logp = _log_softmax(logits_v)
    one_hot = np.eye(4)[labels_v]
    np.testing.assert_allclose(sv, -logp[np.arange(5), labels_v], rtol=1e-12)
    np.testing.assert_allclose(dv, -(probs_v * logp).sum(-1), rtol=1e-12)
    sigmoid = 1 / (1 + np.exp(-logits_v))
    np.testing.assert_allclose(gv, -(probs_v * np.log(sigmoid) + (1 - probs_v)
                                     * np.log(1 - sigmoid)), rtol=1e-10)
    softmax = np.exp(logp)
    expected = ((softmax - one_hot) / 5 + (softmax * probs_v.sum(-1, keepdims=True) - probs_v)
                + (sigmoid - probs_v))
    np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-12)


def test_sparse_labels_out_of_range_raise_at_run_time(graph):
    logits = sg.placeholder(sg.float64, (None, 3))
    labels = sg.placeholder(sg.int32, (None,))
    loss = sg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    line = loss.var.site[1]
    sess = sg.Session()
    with pytest.raises(sg.IndexingError, match=rf"label 3 is out of range.*:{line}\)"):
        sess.run(loss, {logits: np.zeros((2, 3)), labels: np.array([0, 3], np.int32)})
    assert sess.run(loss, {logits: np.zeros((1, 3)), labels: np.array([2], np.int32)})[0] \
        == pytest.approx(np.log(3))
    with pytest.raises(sg.DTypeError, match="labels must be ints"):
        sg.nn.sparse_softmax_cross_entropy_with_logits(
            labels=sg.placeholder(sg.float64, (None,)), logits=logits)
    with pytest.raises(sg.ShapeError, match=r"one dim fewer than logits.*test_static_tf1"):
        sg.nn.sparse_softmax_cross_entropy_with_logits(labels=logits, logits=logits)


def test_sg_nn_activations_and_l2_loss(graph, rng):
    x_v = rng.normal(size=(3, 4))
    x = sg.constant(x_v)
    out = sg.Session().run([sg.nn.relu(x), sg.nn.softmax(x), sg.nn.log_softmax(x, axis=0),
                            sg.nn.l2_loss(x), sg.nn.sigmoid(x), sg.nn.tanh(x)])
    np.testing.assert_allclose(out[0], np.maximum(x_v, 0))
    np.testing.assert_allclose(out[1], np.exp(_log_softmax(x_v)), rtol=1e-12)
    np.testing.assert_allclose(out[2], _log_softmax(x_v.T).T, rtol=1e-12)
    np.testing.assert_allclose(out[3], (x_v ** 2).sum() / 2)
    np.testing.assert_allclose(out[4], 1 / (1 + np.exp(-x_v)))
    np.testing.assert_allclose(out[5], np.tanh(x_v))


@pytest.mark.parametrize("clip_norm", [0.5, 100.0])
def test_clip_by_global_norm(graph, rng, clip_norm):
    a_v, b_v = rng.normal(size=(3, 2)), rng.normal(size=(4,))
    clipped, norm = sg.clip_by_global_norm([sg.constant(a_v), None, sg.constant(b_v)],
                                           clip_norm)
    assert clipped[1] is None
    a_c, b_c, n = sg.Session().run([clipped[0], clipped[2], norm])
    expected_norm = np.sqrt((a_v ** 2).sum() + (b_v ** 2).sum())
    scale = min(1.0, clip_norm / expected_norm)
    np.testing.assert_allclose(n, expected_norm)
    np.testing.assert_allclose(a_c, a_v * scale)
    np.testing.assert_allclose(b_c, b_v * scale)
