"""Every differentiable op's VJP against central finite differences (float64).

The inner-product check: for random cotangent g and direction v,
    <vjp(g), v> == <g, (f(x + eps v) - f(x - eps v)) / (2 eps)>.
Rules run on raw NumPy arrays (as in a plain backward) and through dyngraph
(backward, and dg.grad with create_graph=True, where the rules run on Tensors).
Shapes come from fixed cases (op_cases.py) and from hypothesis, including
broadcasting with size-1 dims.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes
from op_cases import (
    BINARY_DOMAINS,
    CLIP_DOMAIN,
    UNARY_DOMAINS,
    OpCase,
    boolean,
    differentiable_cases,
    generic,
)

import dyngraph as dg
import shared_ops as so

EPS = 1e-6


def _cotangent(rng, out):
    out = np.asarray(out)
    return np.asarray(rng.standard_normal(out.shape), dtype=out.dtype)


def check_vjp(case: OpCase, rng, rtol=1e-5, atol=1e-7):
    """Inner-product check of every differentiable input; returns (g, cotangents)."""
    prim, args, params = case.primitive, case.args, case.params
    out = prim.impl(*args, **params)
    g = _cotangent(rng, out)
    diff = case.diff_inputs()
    needs = tuple(i in diff for i in range(len(args)))
    cts = prim.vjp(g, out, *args, needs=needs, **params)
    assert isinstance(cts, tuple) and len(cts) == len(args)
    for i, (a, ct) in enumerate(zip(args, cts)):
        if i not in diff:
            assert ct is None or not needs[i], f"input {i}: gradient for an input not needed"
            continue
        ct = np.asarray(ct)
        assert ct.shape == a.shape, f"input {i}: cotangent shape {ct.shape} != {a.shape}"
        assert ct.dtype == a.dtype, f"input {i}: cotangent dtype {ct.dtype} != {a.dtype}"
        v = rng.standard_normal(a.shape)
        plus = list(args)
        minus = list(args)
        plus[i], minus[i] = a + EPS * v, a - EPS * v
        fd = (np.asarray(prim.impl(*plus, **params), np.float64)
              - np.asarray(prim.impl(*minus, **params), np.float64)) / (2 * EPS)
        lhs, rhs = float(np.sum(ct * v)), float(np.sum(g * fd))
        assert np.isclose(lhs, rhs, rtol=rtol, atol=atol), (
            f"{case.id} input {i}: <vjp(g), v> = {lhs!r} but <g, J v> = {rhs!r}")
    return g, cts


def _tolerance(case: OpCase) -> dict:
    if any(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in case.args) or (
            case.params.get("dtype") == np.float32):
        return {"rtol": 1e-3, "atol": 1e-4}  # a float32 value in the chain
    return {}


def check_dyngraph(case: OpCase, g, cts, create_graph: bool):
    """Same cotangents through dyngraph's tape (backward / dg.grad)."""
    diff = case.diff_inputs()
    tensors = [dg.tensor(a, requires_grad=i in diff) if isinstance(a, np.ndarray) else a
               for i, a in enumerate(case.args)]
    out = case.primitive(*tensors, **case.params)  # bind -> dyngraph records the node
    assert isinstance(out, dg.Tensor) and out.requires_grad and out.grad_fn is not None
    np.testing.assert_array_equal(out.detach().numpy(),
                                  case.primitive.impl(*case.args, **case.params))
    leaves = [tensors[i] for i in diff]
    if create_graph:
        grads = dg.grad(out, leaves, grad_outputs=dg.tensor(g), create_graph=True)
    else:
        out.backward(dg.tensor(g))
        grads = [t.grad for t in leaves]
    for i, grad in zip(diff, grads):
        assert grad.shape == case.args[i].shape and grad.dtype == case.args[i].dtype
        np.testing.assert_allclose(grad.detach().numpy(), np.asarray(cts[i]), rtol=1e-12,
                                   atol=1e-14)


DIFF_CASES = differentiable_cases()


@pytest.mark.parametrize("case", DIFF_CASES, ids=lambda c: c.id)
def test_vjp_on_arrays(case, rng):
    check_vjp(case, rng, **_tolerance(case))


@pytest.mark.parametrize("create_graph", [False, True], ids=["backward", "create_graph"])
@pytest.mark.parametrize("case", DIFF_CASES, ids=lambda c: c.id)
def test_vjp_through_dyngraph(case, create_graph, rng):
    g, cts = check_vjp(case, rng, **_tolerance(case))
    check_dyngraph(case, g, cts, create_graph)


@pytest.mark.parametrize("case", [c for c in DIFF_CASES if len(c.diff_inputs()) > 1],
                         ids=lambda c: c.id)
def test_vjp_skips_inputs_not_needed(case, rng):
    """needs[i] False -> no cotangent for input i (the rule skips the work)."""
    out = case.primitive.impl(*case.args, **case.params)
    g = _cotangent(rng, out)
    for keep in case.diff_inputs():
        needs = tuple(i == keep for i in range(len(case.args)))
        cts = case.primitive.vjp(g, out, *case.args, needs=needs, **case.params)
        assert all(ct is None for i, ct in enumerate(cts) if i != keep)
        assert cts[keep] is not None


# ---- hypothesis: shapes ---------------------------------------------------------

def _run(case: OpCase, seed: int):
    rng = np.random.default_rng(seed)
    g, cts = check_vjp(case, rng)
    check_dyngraph(case, g, cts, create_graph=False)


seeds = st.integers(0, 2**32 - 1)


@given(st.sampled_from(sorted(BINARY_DOMAINS)),
       mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3), seeds)
def test_binary_elementwise_broadcasting(name, shapes, seed):
    rng = np.random.default_rng(seed)
    sa, sb = BINARY_DOMAINS[name]
    a, b = shapes.input_shapes
    x = np.asarray(sa(rng, a), np.float64)
    y = np.asarray(sb(rng, b), np.float64)
    _run(OpCase(name, (x, y)), seed)


@given(st.sampled_from(sorted(UNARY_DOMAINS)), array_shapes(min_dims=0, max_dims=3, max_side=3),
       seeds)
def test_unary_elementwise(name, shape, seed):
    x = np.asarray(UNARY_DOMAINS[name](np.random.default_rng(seed), shape), np.float64)
    _run(OpCase(name, (x,)), seed)


@given(mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3), seeds)
def test_where_broadcasting(shapes, seed):
    rng = np.random.default_rng(seed)
    c, a, b = shapes.input_shapes
    _run(OpCase("where", (boolean(rng, c), generic(rng, a), generic(rng, b))), seed)


@given(array_shapes(min_dims=0, max_dims=3, max_side=3),
       st.sampled_from([(-0.5, 0.5), (-0.5, None), (None, 0.5), (None, None)]), seeds)
def test_clip(shape, bounds, seed):
    x = CLIP_DOMAIN(np.random.default_rng(seed), shape)
    _run(OpCase("clip", (x,), {"lo": bounds[0], "hi": bounds[1]}), seed)


@st.composite
def shape_and_axes(draw, min_dims=0):
    shape = draw(array_shapes(min_dims=min_dims, max_dims=4, max_side=3))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), unique=True)) if shape else []
    return shape, tuple(sorted(axes))


@given(st.sampled_from(["sum", "mean", "max"]), shape_and_axes(), st.booleans(), seeds)
def test_reductions(name, shape_axes, keepdims, seed):
    shape, axes = shape_axes
    x = np.random.default_rng(seed).permutation(np.prod(shape, dtype=int)).reshape(shape)
    x = np.asarray(x + np.random.default_rng(seed).uniform(-0.3, 0.3, shape))  # distinct: max
    _run(OpCase(name, (x,), {"axis": axes, "keepdims": keepdims}), seed)


@given(st.sampled_from(["softmax", "log_softmax"]), array_shapes(min_dims=1, max_dims=3,
                                                                  max_side=4), st.data(), seeds)
def test_softmax(name, shape, data, seed):
    axis = data.draw(st.integers(0, len(shape) - 1))
    _run(OpCase(name, (generic(np.random.default_rng(seed), shape),), {"axis": (axis,)}), seed)


@st.composite
def matmul_shapes(draw):
    batch = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3))
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    ba, bb = batch.input_shapes
    a = ba + (n, k) if draw(st.booleans()) else (k,)
    b = bb + (k, m) if draw(st.booleans()) else (k,)
    return a, b


@given(matmul_shapes(), seeds)
def test_matmul(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = shapes
    _run(OpCase("matmul", (generic(rng, a), generic(rng, b))), seed)


@given(array_shapes(min_dims=1, max_dims=4, max_side=3), st.data(), seeds)
def test_transpose_and_reshape(shape, data, seed):
    x = generic(np.random.default_rng(seed), shape)
    axes = tuple(data.draw(st.permutations(range(len(shape)))))
    _run(OpCase("transpose", (x,), {"axes": axes}), seed)
    _run(OpCase("reshape", (x,), {"shape": (-1,) + shape[:1]}), seed)


@given(mutually_broadcastable_shapes(num_shapes=1, min_dims=0, max_dims=3, max_side=3), seeds)
def test_broadcast_to(shapes, seed):
    (shape,) = shapes.input_shapes
    x = generic(np.random.default_rng(seed), shape)
    _run(OpCase("broadcast_to", (x,), {"shape": shapes.result_shape}), seed)


@given(array_shapes(min_dims=1, max_dims=3, max_side=4), st.data(), seeds)
def test_getitem(shape, data, seed):
    rng = np.random.default_rng(seed)
    x = generic(rng, shape)
    kind = data.draw(st.sampled_from(["slice", "ints", "mask"]))
    if kind == "slice":
        index = tuple(slice(data.draw(st.integers(0, d - 1)), None,
                            data.draw(st.sampled_from([1, 2, -1]))) for d in shape)
    elif kind == "ints":
        count = data.draw(st.integers(1, 6))  # repeats are likely: scatter-add
        index = (rng.integers(-shape[0], shape[0], count),)
    else:
        index = (rng.random(shape) < 0.6,)
    _run(OpCase("getitem", (x,), {"index": so.normalize_index(index)}), seed)


@given(st.lists(array_shapes(min_dims=2, max_dims=2, max_side=3), min_size=1, max_size=3),
       st.integers(0, 1), seeds)
def test_concatenate(shapes, axis, seed):
    rng = np.random.default_rng(seed)
    other = shapes[0][1 - axis]
    xs = tuple(generic(rng, (s[0], other) if axis == 0 else (other, s[1])) for s in shapes)
    _run(OpCase("concatenate", xs, {"axis": axis}), seed)


def test_max_ties_share_the_gradient():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    out = so.REGISTRY["max"].impl(x, axis=(1,), keepdims=False)
    (ct,) = so.REGISTRY["max"].vjp(np.array([1.0, 3.0]), out, x, needs=(True,), axis=(1,),
                                   keepdims=False)
    np.testing.assert_allclose(ct, [[0, 0.5, 0.5], [1, 1, 1]])


def test_maximum_tie_splits_the_gradient():
    x, y = np.array([1.0, 2.0]), np.array([1.0, 0.0])
    gx, gy = so.REGISTRY["maximum"].vjp(np.ones(2), np.maximum(x, y), x, y, needs=(True, True))
    np.testing.assert_allclose(gx, [0.5, 1.0])
    np.testing.assert_allclose(gy, [0.5, 0.0])


def test_pow_gradient_at_zero_base_is_finite():
    """d(x**y)/dy uses a safe log: 0 ** y has no NaN gradient."""
    x, y = np.array([0.0, 2.0]), np.array([2.0, 3.0])
    out = np.power(x, y)
    gx, gy = so.REGISTRY["pow"].vjp(np.ones(2), out, x, y, needs=(True, True))
    assert np.all(np.isfinite(gx)) and np.all(np.isfinite(gy))
    np.testing.assert_allclose(gy, [0.0, 8.0 * np.log(2.0)])


# ---- saved values: what a rule reads ----------------------------------------------

SHAPE_ONLY_CASES = [c for c in DIFF_CASES if c.primitive.vjp_shape_only]


def _stand_in(value):
    return so.AbstractArray(np.shape(value), np.asarray(value).dtype)


@pytest.mark.parametrize("case", SHAPE_ONLY_CASES, ids=lambda c: c.id)
def test_vjp_reads_only_the_shape_of_shape_only_inputs(case, rng):
    """`vjp_shape_only` inputs (and `out`, unless the rule reads it) can be
    replaced by shape+dtype stand-ins, as dyngraph does for large arrays."""
    prim, args, params = case.primitive, case.args, case.params
    out = prim.impl(*args, **params)
    g = _cotangent(rng, out)
    needs = tuple(i in case.diff_inputs() for i in range(len(args)))
    expected = prim.vjp(g, out, *args, needs=needs, **params)
    bare = [_stand_in(a) if i in prim.vjp_shape_only and isinstance(a, np.ndarray) else a
            for i, a in enumerate(args)]
    got = prim.vjp(g, out if prim.vjp_reads_out else None, *bare, needs=needs, **params)
    for e, r in zip(expected, got):
        if e is None:
            assert r is None
        else:
            np.testing.assert_array_equal(np.asarray(r), np.asarray(e))


def test_shape_only_declarations_cover_the_common_ops():
    """The declarations that keep an RNN's tape small (a typo here would not fail
    the stand-in test above, only lose the memory saving)."""
    expected = {"add": (0, 1), "sub": (0, 1), "tanh": (0,), "sigmoid": (0,), "relu": (0,),
                "exp": (0,), "sum": (0,), "mean": (0,), "reshape": (0,), "getitem": (0,),
                "div": (0,), "where": (1, 2), "transpose": (0,), "broadcast_to": (0,)}
    for name, positions in expected.items():
        assert so.REGISTRY[name].vjp_shape_only == positions, name
    assert so.REGISTRY["mul"].vjp_shape_only == ()
    assert so.REGISTRY["matmul"].vjp_shape_only == ()


@pytest.mark.parametrize("create_graph", [False, True], ids=["backward", "create_graph"])
@pytest.mark.parametrize("case", SHAPE_ONLY_CASES, ids=lambda c: c.id)
def test_dyngraph_saves_stand_ins_for_shape_only_inputs(case, create_graph, rng,
                                                       monkeypatch):
    """Inputs made by other ops (here `leaf * 1.0`) that the rule reads only the
    shape of are saved as stand-ins (here whatever their size), in a plain backward
    and with create_graph; the gradients are the rule's on arrays."""
    from dyngraph import dispatch
    monkeypatch.setattr(dispatch, "SMALL_VALUE_BYTES", -1)
    prim, args, params = case.primitive, case.args, case.params
    g, cts = check_vjp(case, rng, **_tolerance(case))
    diff = case.diff_inputs()
    leaves = {i: dg.tensor(args[i], requires_grad=True) for i in diff}
    inputs = [leaves[i] * 1.0 if i in leaves else
              (dg.tensor(a) if isinstance(a, np.ndarray) else a) for i, a in enumerate(args)]
    out = prim(*inputs, **params)
    for i in set(prim.vjp_shape_only) & set(diff):
        assert isinstance(out.grad_fn.inputs[i], so.AbstractArray), (case.id, i)
    grads = dg.grad(out, [leaves[i] for i in diff], grad_outputs=dg.tensor(g),
                    create_graph=create_graph)
    for i, grad in zip(diff, grads):
        np.testing.assert_allclose(grad.detach().numpy(), np.asarray(cts[i]), rtol=1e-12,
                                   atol=1e-14)
