"""Bad inputs to the training-level API (docs/errors.md, "Training-level API"):
each test checks the error's type, message and line, then that the same
objects still give the right numbers."""

from __future__ import annotations

import numpy as np
import pytest
from bad_inputs_util import documents, expect

import dyngraph as dg
import dyngraph.nn.functional as F
import staticgraph as sg

S = "training-level api (docs/api-tf1.md, docs/api-pytorch.md)"
HERE = "test_bad_inputs_training_api.py"


@pytest.fixture
def graph():
    g = sg.Graph()
    with g.as_default():
        yield g


@documents(S, "`sg.placeholder` given two dtypes, or a dtype that is not bool/int/float",
           "`sg.placeholder_with_default` whose default does not fit the declared shape")
def test_placeholders(graph):
    expect(TypeError, lambda: sg.placeholder(sg.float32, (2,), dtype=sg.float64),
           "two values for dtype")
    expect(sg.DTypeError, lambda: sg.placeholder((2,), dtype="complex64"),
           "placeholder: unsupported dtype")
    expect(sg.ShapeError, lambda: sg.placeholder_with_default(np.zeros((2, 3), np.float32),
                                                              (None, 2)),
           "does not fit the declared shape (None, 2)")
    p = sg.placeholder_with_default(np.zeros((2, 2), np.float32), (None, 2))
    assert sg.Session().run(p, {p: np.ones((3, 2), np.float32)}).sum() == 6


@documents(S, "`sg.zeros` / `ones` / `fill` / `random_*` with a symbolic shape or unknown "
           "dims, or `fill` of a non-scalar value",
           "a random op of a non-float dtype (`random_uniform`: int without `maxval`), or "
           "`minval >= maxval`")
def test_creation_and_random_ops(graph):
    shape = sg.placeholder(sg.int32, (2,))
    expect(sg.ShapeError, lambda: sg.zeros(shape), "zeros: the shape must be known", HERE)
    expect(sg.ShapeError, lambda: sg.random_uniform(shape), "random_uniform", HERE)
    expect(sg.ShapeError, lambda: sg.ones((None, 2)), "every dim must be known")
    expect(sg.ShapeError, lambda: sg.fill((2,), [1.0, 2.0]), "must be a scalar")
    expect(sg.DTypeError, lambda: sg.random_normal((2,), dtype=sg.int32),
           "random_normal: dtype must be a float dtype, got int32")
    expect(sg.DTypeError, lambda: sg.random_uniform((2,), dtype=sg.int64), "needs maxval")
    expect(ValueError, lambda: sg.random_uniform((2,), minval=1.0, maxval=1.0),
           "need minval < maxval")
    r = sg.random_uniform((3,), minval=2.0, maxval=3.0, seed=1)
    value = sg.Session().run(r)
    assert ((value >= 2) & (value < 3)).all()


@documents(S, "`sg.nn.sparse_softmax_cross_entropy_with_logits` with a label outside "
           "[0, classes), found when the graph runs",
           "sparse softmax cross-entropy labels that are not ints, of the wrong rank, or "
           "logits whose class dim is unknown")
def test_sparse_softmax_labels(graph):
    logits = sg.placeholder(sg.float64, (None, 3))
    labels = sg.placeholder(sg.int32, (None,))
    loss = sg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    line = loss.var.site[1]
    sess = sg.Session(backend="numba")
    expect(sg.IndexingError, lambda: sess.run(loss, {logits: np.zeros((2, 3)),
                                                     labels: np.array([0, 3], np.int32)}),
           "label 3 is out of range for 3 classes", f"{HERE}:{line})")
    expect(sg.ShapeError, lambda: sg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=sg.placeholder(sg.float64, (None, None))), "must be known", HERE)
    expect(sg.ShapeError, lambda: sg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=logits, logits=logits), "one dim fewer than logits", HERE)
    expect(sg.DTypeError, lambda: sg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=sg.placeholder(sg.float32, (None,)), logits=logits), "labels must be ints")
    value = sess.run(loss, {logits: np.zeros((1, 3)), labels: np.array([2], np.int32)})
    np.testing.assert_allclose(value, [np.log(3)])


@documents(S, "`sg.nn.dropout` with both or neither of `keep_prob` / `rate`, or one out of "
           "range; `dg.nn.Dropout` / `F.dropout` with p outside [0, 1]")
def test_dropout_arguments(graph):
    x = sg.constant(np.ones(4))
    expect(ValueError, lambda: sg.nn.dropout(x), "exactly one of keep_prob and rate")
    expect(ValueError, lambda: sg.nn.dropout(x, keep_prob=0.5, rate=0.5), "exactly one")
    expect(ValueError, lambda: sg.nn.dropout(x, keep_prob=1.5), "keep_prob must be in")
    expect(ValueError, lambda: sg.nn.dropout(x, rate=-0.1), "rate must be in")
    expect(ValueError, lambda: dg.nn.Dropout(1.5), "between 0 and 1, but got 1.5")
    expect(ValueError, lambda: F.dropout(dg.ones(2), -0.5), "between 0 and 1")
    assert set(np.unique(sg.Session().run(sg.nn.dropout(x, rate=0.5, seed=3)))) <= {0.0, 2.0}


@documents(S, "`sg.gradients` through a `while_loop` without `maximum_iterations`",
           "a `while_loop` body that changes a loop variable's shape (outside "
           "`shape_invariants`) or dtype, a `cond` that is not one boolean scalar, a bad "
           "`maximum_iterations`, or `fori_loop` bounds that are not int scalars")
def test_while_loop(graph):
    x = sg.placeholder(sg.float64, (2,))
    y = sg.while_loop(lambda v: sg.reduce_sum(v) < 10.0, lambda v: v * 2.0, [x])
    line = y.var.site[1]
    expect(sg.GradientError, lambda: sg.gradients(sg.reduce_sum(y), [x]),
           "pass maximum_iterations", f"{HERE}:{line})")
    expect(sg.ShapeError, lambda: sg.while_loop(lambda v: sg.reduce_sum(v) < 1.0,
                                                lambda v: sg.concat([v, v], 0), [x]),
           "body returns shape (4,) for loop variable 0 of shape (2,)", HERE)
    expect(sg.DTypeError, lambda: sg.while_loop(lambda v: v < 3,
                                                lambda v: sg.cast(v, sg.float32),
                                                [sg.constant(0)]), "body returns dtype")
    expect(sg.DTypeError, lambda: sg.while_loop(lambda v: v, lambda v: v, [x]),
           "cond must return one boolean scalar")
    expect(sg.ShapeError, lambda: sg.while_loop(lambda v: v < 3, lambda v: v + 1,
                                                [sg.constant(0)], maximum_iterations=-2),
           "maximum_iterations must be a Python int")
    expect(sg.DTypeError, lambda: sg.fori_loop(0, sg.placeholder(sg.float32, ()),
                                               lambda i, v: v, 0.0), "integer scalars")
    assert list(sg.Session().run(y, {x: np.ones(2)})) == [8.0, 8.0]


@documents(S, "a `sg.custom_gradient` function that does not return `(outputs, grad_fn)`, "
           "reads variables without a `variables` keyword on `grad_fn`, or a `grad_fn` "
           "returning the wrong number or shape of gradients")
def test_custom_gradient(graph):
    w = sg.Variable(np.float64(2.0), name="w")

    @sg.custom_gradient
    def reads_w(x):
        return x * w, lambda dy: dy

    @sg.custom_gradient
    def bare(x):
        return x * 2.0

    @sg.custom_gradient
    def bad_shape(x):
        return x * 2.0, lambda dy: sg.reduce_sum(dy)

    @sg.custom_gradient
    def good(x):
        return x * 2.0, lambda dy: dy * 3.0
    x = sg.constant(np.ones(2))
    expect(sg.GradientError, lambda: reads_w(x), "must accept a keyword argument 'variables'",
           HERE)
    expect(sg.GradientError, lambda: bare(x), "must return (outputs, grad_fn)")
    expect(sg.ShapeError, lambda: sg.gradients(sg.reduce_sum(bad_shape(x)), [x]),
           "gradient of shape () for an input of shape (2,)")
    (g,) = sg.gradients(sg.reduce_sum(good(x)), [x])
    assert list(sg.Session().run(g)) == [3.0, 3.0]


@documents(S, "`sg.train.Saver(max_to_keep=...)` that is not None or an int >= 0")
def test_saver_max_to_keep(graph, tmp_path):
    expect(ValueError, lambda: sg.train.Saver(max_to_keep=-1), "max_to_keep must be")
    sg.Variable(np.ones(2), name="v")
    with sg.Session() as sess:
        path = sg.train.Saver(max_to_keep=1).save(sess, tmp_path / "m", global_step=3)
    assert path.endswith("m-3.npz")


@documents(S, "`register_hook` on a tensor that does not require grad, or a hook returning "
           "something other than a Tensor or None, or another shape")
def test_register_hook():
    expect(dg.GradientError, lambda: dg.ones(2).register_hook(lambda g: g),
           "does not require grad")
    x = dg.tensor(np.ones(2), requires_grad=True)
    handle = (x * 2).register_hook(lambda g: np.ones(2))
    y = x * 3
    y.register_hook(lambda g: "oops")
    expect(dg.GradientError, lambda: y.sum().backward(), "hook returned str")
    z = x * 4
    z.register_hook(lambda g: g.sum())
    expect(dg.GradientError, lambda: z.sum().backward(), "gradient of shape ()")
    assert x.grad is None
    handle.remove()
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])


@documents(S, "a backward rule returning NaN or Inf inside `dg.autograd.detect_anomaly()`",
           "`clip_grad_norm_(..., error_if_nonfinite=True)` with a non-finite total norm")
@pytest.mark.filterwarnings("ignore:divide by zero")
def test_anomaly_and_clipping():
    x = dg.tensor(np.array([0.0, 1.0]), requires_grad=True)
    y = dg.log(x)
    line = y.grad_fn.site[1]
    with dg.autograd.detect_anomaly():
        expect(dg.GradientError, lambda: y.sum().backward(retain_graph=True),
               "anomaly detected: the backward of 'log'", f"{HERE}:{line})", "inf")
    assert x.grad is None
    x.grad = dg.tensor(np.array([np.inf, 1.0]))
    expect(dg.GradientError, lambda: dg.nn.utils.clip_grad_norm_([x], 1.0,
                                                                 error_if_nonfinite=True),
           "non-finite")
    x.grad = dg.tensor(np.array([3.0, 4.0]))
    assert dg.nn.utils.clip_grad_norm_([x], 1.0).item() == pytest.approx(5.0)


@documents(S, "`F.nll_loss` with a target outside [0, C) (other than `ignore_index`), or "
           "input and target shapes that do not fit; `F.layer_norm` whose "
           "`normalized_shape` is not the input's last dims",
           "`F.binary_cross_entropy` with input values outside [0, 1]")
def test_losses():
    logp = dg.tensor(np.log(np.full((2, 3), 1 / 3)), requires_grad=True)
    expect(sg.IndexingError, lambda: F.nll_loss(logp, np.array([3, 0])),
           "nll_loss: target 3 is out of bounds for 3 classes", HERE)
    expect(dg.ShapeError, lambda: F.nll_loss(logp, np.array([0, 1, 2])), "does not fit")
    expect(dg.ShapeError, lambda: F.layer_norm(logp, (2,)), "normalized_shape (2,)")
    expect(ValueError, lambda: F.binary_cross_entropy(dg.tensor([1.5]), [1.0]),
           "between 0 and 1", HERE)
    assert F.nll_loss(logp, np.array([0, -100])).item() == pytest.approx(np.log(3))


@documents(S, "`nn.RNN` / `LSTM` / `GRU` input or hidden state of the wrong shape, an "
           "unknown `nonlinearity`; `nn.Conv2d` with `padding_mode` other than 'zeros' or "
           "groups that do not divide the channels",
           "`optim.RMSprop` with a negative hyper-parameter; a scheduler with a bad "
           "`step_size`, `T_max` or `lr_lambda`")
def test_modules_and_optimizers():
    lstm = dg.nn.LSTM(3, 4)
    expect(dg.ShapeError, lambda: lstm(dg.ones(5, 2, 4)), "input must be", HERE)
    expect(dg.ShapeError, lambda: lstm(dg.ones(5, 2, 3), (dg.zeros(1, 3, 4), dg.zeros(1, 3, 4))),
           "expected hidden state of shape (1, 2, 4)")
    expect(ValueError, lambda: dg.nn.RNN(3, 4, nonlinearity="x"),
           "Unknown nonlinearity")
    expect(ValueError, lambda: dg.nn.Conv2d(2, 4, 3, padding_mode="circular"), "padding_mode")
    expect(ValueError, lambda: dg.nn.Conv2d(3, 4, 3, groups=2), "groups=2 must divide")
    w = dg.tensor(np.ones(2), requires_grad=True)
    expect(ValueError, lambda: dg.optim.RMSprop([w], lr=-0.1), "invalid lr value")
    opt = dg.optim.SGD([w], lr=0.1)
    expect(ValueError, lambda: dg.optim.lr_scheduler.StepLR(opt, 0), "step_size")
    expect(ValueError, lambda: dg.optim.lr_scheduler.CosineAnnealingLR(opt, 0), "T_max")
    expect(TypeError, lambda: dg.optim.lr_scheduler.LambdaLR(opt, 3), "lr_lambda")
    assert opt.param_groups[0]["lr"] == 0.1
    out, _ = lstm(dg.ones(5, 2, 3))
    assert out.shape == (5, 2, 4)


@documents(S, "`dg.save` of something other than a flat mapping of names to tensors, "
           "numeric arrays or numbers",
           "`dg.load` of a file that is not an `.npz` archive, or does not exist; a "
           "`map_location` other than the CPU",
           "`Tensor.to` a device other than the CPU")
def test_save_load_and_devices(tmp_path):
    path = tmp_path / "good.npz"
    dg.save({"w": dg.ones(2)}, path)
    expect(dg.DTypeError, lambda: dg.save({"f": print}, path), "only tensors")
    expect(dg.DTypeError, lambda: dg.save([dg.ones(2)], path), "expects a state dict")
    (tmp_path / "junk").write_text("text")
    expect(ValueError, lambda: dg.load(tmp_path / "junk"), "not a file written by dg.save")
    expect(FileNotFoundError, lambda: dg.load(tmp_path / "missing.npz"), "no file")
    expect(ValueError, lambda: dg.load(path, map_location="cuda"), "map_location")
    np.testing.assert_array_equal(dg.load(path)["w"].numpy(), [1.0, 1.0])  # kept intact
    expect(ValueError, lambda: dg.ones(2).to("cuda"), "device 'cuda' is not available")
    assert dg.ones(2).to("cpu").shape == (2,)
