"""The shared op list (tests/op_cases.py) through the staticgraph interpreter.

Each case is built as a graph (array operands become placeholders, Python
scalars stay literals), run by a Session, and compared with the primitive's
NumPy impl and with dyngraph. Gradients come from `sg.gradients` with a
random cotangent and are compared with dyngraph's and with central finite
differences (float64).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from op_cases import BINARY_DOMAINS, CASES, differentiable_cases

import dyngraph as dg
import shared_ops as so
import staticgraph as sg


def _build(case, batch_none: bool = False):
    """(graph, placeholders by arg position, output symbol)."""
    graph = sg.Graph(case.id)
    with graph.as_default():
        args, holders = [], {}
        for i, a in enumerate(case.args):
            if isinstance(a, np.ndarray):
                shape = a.shape
                if batch_none and a.ndim:
                    shape = (None,) + shape[1:]
                holders[i] = sg.placeholder(shape, a.dtype, name=f"a{i}")
                args.append(holders[i])
            else:
                args.append(a)
        out = so.bind(case.primitive, *args, **case.params)
    return graph, holders, out


def _feed(case, holders) -> dict:
    return {p: case.args[i] for i, p in holders.items()}


def _dyngraph_out(case, requires_grad=()):
    args = [dg.tensor(a, requires_grad=i in requires_grad) if isinstance(a, np.ndarray) else a
            for i, a in enumerate(case.args)]
    return args, so.bind(case.primitive, *args, **case.params)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_forward_matches_numpy_and_dyngraph(case):
    graph, holders, out = _build(case)
    sg.check_graph(graph)
    expected = np.asarray(case.primitive.impl(*case.args, **case.params))
    assert out.dtype == expected.dtype
    with sg.Session(graph) as sess:
        got = np.asarray(sess.run(out, _feed(case, holders)))
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    _, dyn = _dyngraph_out(case)
    np.testing.assert_array_equal(got, dyn.numpy())


def _static_grads(case, ct):
    graph, holders, out = _build(case)
    with graph.as_default():
        xs = [holders[i] for i in case.diff_inputs()]
        grads = sg.gradients(out, xs, grad_ys=ct)
    with sg.Session(graph) as sess:
        values = sess.run(grads, _feed(case, holders))
    return [np.asarray(v) if g is not None else None for g, v in zip(grads, values)]


def _numeric_directional(case, ct, i, direction, eps=1e-6):
    def f(shift):
        args = list(case.args)
        args[i] = args[i] + shift * direction
        return np.sum(ct * case.primitive.impl(*args, **case.params))
    return (f(eps) - f(-eps)) / (2 * eps)


@pytest.mark.parametrize("case", differentiable_cases(), ids=lambda c: c.id)
def test_gradients_match_dyngraph_and_finite_differences(case):
    rng = np.random.default_rng(7)
    expected = np.asarray(case.primitive.impl(*case.args, **case.params))
    ct = rng.standard_normal(expected.shape).astype(expected.dtype)
    grads = _static_grads(case, ct)
    diff = case.diff_inputs()
    targs, tout = _dyngraph_out(case, requires_grad=diff)
    dyn = dg.grad(tout, [targs[i] for i in diff], grad_outputs=dg.tensor(ct),
                  allow_unused=True)
    for k, i in enumerate(diff):
        g = np.zeros_like(case.args[i]) if grads[k] is None else grads[k]
        assert g.shape == case.args[i].shape and g.dtype == case.args[i].dtype
        ref = np.zeros_like(g) if dyn[k] is None else dyn[k].numpy()
        np.testing.assert_allclose(g, ref, rtol=1e-12, atol=1e-12)
        if expected.dtype != np.float64:
            continue  # finite differences need float64 outputs
        direction = rng.standard_normal(case.args[i].shape)
        numeric = _numeric_directional(case, ct, i, direction)
        np.testing.assert_allclose(np.sum(g * direction), numeric, rtol=1e-5, atol=1e-7)


BATCH_CASES = [c for c in CASES if c.prim in (
    "add", "mul", "sub", "div", "exp", "tanh", "sigmoid", "relu", "softmax", "log_softmax",
    "sum", "mean", "max", "where", "clip", "cast") and all(
    not isinstance(a, np.ndarray) or a.ndim >= 2 for a in c.args)
    and all(isinstance(a, np.ndarray) for a in c.args)]


@pytest.mark.parametrize("case", BATCH_CASES, ids=lambda c: c.id)
def test_none_batch_dims(case):
    """Leading dims unknown at build time: same values, and the gradient still runs."""
    graph, holders, out = _build(case, batch_none=True)
    expected = np.asarray(case.primitive.impl(*case.args, **case.params))
    with graph.as_default():
        diff = [holders[i] for i in case.diff_inputs()]
        grads = sg.gradients(sg.sum(out), diff) if diff and expected.dtype.kind == "f" else []
    with sg.Session(graph) as sess:
        got, gvals = sess.run((out, [g for g in grads if g is not None]), _feed(case, holders))
    np.testing.assert_array_equal(np.asarray(got), expected)
    for g, x in zip(gvals, diff):
        assert np.shape(g) == case.args[[k for k, h in holders.items() if h is x][0]].shape


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "relu", "log", "sqrt"])
def test_float32_gradients_stay_float32(name):
    x = sg.placeholder((None, 3), np.float32)
    y = getattr(sg, name)(x) ** 2 * 0.5 + x / 3.0
    (g,) = sg.gradients(sg.sum(y), [x])
    assert g.dtype == np.float32
    with sg.Session() as sess:
        value = sess.run(g, {x: np.full((2, 3), 0.7, np.float32)})
    assert value.dtype == np.float32


def test_pow_with_python_exponent_keeps_float32():
    x = sg.placeholder((3,), np.float32)
    (g,) = sg.gradients(sg.sum(x ** 2), [x])
    assert g.dtype == np.float32
    text = str(x.graph)
    assert "int64" not in text  # y - 1 stays a weak Python scalar


def test_tf_style_helpers_match_numpy(rng):
    a = rng.standard_normal((2, 3))
    x = sg.placeholder((None, 3), "float64")
    fetches = {
        "square": sg.square(x), "min": sg.reduce_min(x, axis=1), "ones": sg.ones_like(x),
        "clip": sg.clip_by_value(x, -0.5, 0.5), "concat": sg.concat([x, x], axis=1),
        "stack": sg.stack([x, x * 2]), "mt": sg.matmul(x, x, transpose_b=True),
        "T": x.T, "neg": -x, "idx": x[:, 1:], "mean": x.mean(axis=0, keepdims=True),
        "rsub": 1.0 - x, "rdiv": 2.0 / (x * x + 1), "arr_left": np.ones(3) + x,
    }
    with sg.Session() as sess:
        out = sess.run(fetches, {x: a})
    ref = {
        "square": a * a, "min": a.min(axis=1), "ones": np.ones_like(a),
        "clip": np.clip(a, -0.5, 0.5), "concat": np.concatenate([a, a], 1),
        "stack": np.stack([a, a * 2]), "mt": a @ a.T, "T": a.T, "neg": -a, "idx": a[:, 1:],
        "mean": a.mean(axis=0, keepdims=True), "rsub": 1.0 - a, "rdiv": 2.0 / (a * a + 1),
        "arr_left": np.ones(3) + a,
    }
    for key, value in ref.items():
        np.testing.assert_allclose(out[key], value, rtol=1e-14, err_msg=key)


@given(name=st.sampled_from(sorted(BINARY_DOMAINS)),
       shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       unknown=st.lists(st.booleans(), min_size=2, max_size=2), seed=st.integers(0, 99))
def test_binary_ops_with_random_broadcast_shapes(name, shapes, unknown, seed):
    """Random broadcasting shapes, some dims unknown at build time: values and
    gradients agree with dyngraph."""
    rng = np.random.default_rng(seed)
    values = [np.asarray(sampler(rng, shape), dtype=np.float64)
              for sampler, shape in zip(BINARY_DOMAINS[name], shapes.input_shapes)]
    graph = sg.Graph(name)
    with graph.as_default():
        holders = [sg.placeholder(tuple(None if u and d != 1 else d for d in v.shape),
                                  "float64") for v, u in zip(values, unknown)]
        out = getattr(so, name)(*holders)
        ct = rng.standard_normal(shapes.result_shape)
        grads = sg.gradients(out, holders, grad_ys=ct)
    with sg.Session(graph) as sess:
        got, gvals = sess.run((out, grads), dict(zip(holders, values)))
    tensors = [dg.tensor(v, requires_grad=True) for v in values]
    ref = getattr(so, name)(*tensors)
    ref.backward(dg.tensor(ct))
    np.testing.assert_allclose(got, ref.detach().numpy(), rtol=1e-14)
    for g, t in zip(gvals, tensors):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("length", [0, 1, 3])
def test_slice_of_a_run_time_dim_keeps_its_length_unknown(length):
    """x[:1] on a (None, 3) placeholder is (None, 3): 1 row, or 0 for an empty x."""
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder((None, 3), np.float64)
        first = x[:1] * 2.0
    assert first.shape == (None, 3)
    value = np.arange(3.0 * length).reshape(length, 3)
    out = sg.Session(g, backend="interpret").run(first, {x: value})
    np.testing.assert_array_equal(out, value[:1] * 2.0)
