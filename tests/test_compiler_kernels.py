"""staticgraph.compiler CPU kernels agree with NumPy (the ops' impls composed).

Kernels are generic in sizes, so each group compiles once (module-scope
fixtures) and the tests vary shapes and values around it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_ops import REGISTRY
from staticgraph.compiler import CpuTarget, GroupBuilder, KernelCache, Ref, compile_group

FLOAT_TOL = {np.float32: dict(rtol=3e-6, atol=1e-6), np.float64: dict(rtol=1e-13, atol=1e-13)}


def reference(group, inputs):
    """Every step evaluated with NumPy impls (weak Python scalars stay weak), plus reduction."""
    values: list = []

    def val(a):
        if not isinstance(a, Ref):
            return a
        return inputs[a.index] if a.kind == "in" else values[a.index]

    with np.errstate(all="ignore"):
        for st_ in group.steps:
            values.append(REGISTRY[st_.prim].impl(*[val(a) for a in st_.args], **st_.param_dict))
        outs = [values[k] for k in group.outputs]
        red = group.reduction
        if red is not None:
            outs.append(REGISTRY[red.kind].impl(val(red.arg), axis=red.axes,
                                                keepdims=red.keepdims))
    return outs


def run(kernel, group, inputs, shape):
    """Call `kernel` with fresh out buffers (NaN-filled, so unwritten cells show)."""
    bufs = []
    for k in group.outputs:
        rank, bcast = group.step_pattern(k)
        sh = tuple(1 if d in bcast else shape[d + len(shape) - rank] for d in range(rank))
        bufs.append(np.full(sh, np.nan if group.step_dtype(k).kind == "f" else 0,
                            group.step_dtype(k)))
    if group.reduction is not None:
        dtype = group.reduction_dtype()
        bufs.append(np.full(group.reduction_shape(shape), np.nan if dtype.kind == "f" else 0,
                            dtype))
    return kernel(*inputs, out=tuple(bufs))


def assert_agrees(got, want, dtype=np.float64):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, equal_nan=True, **FLOAT_TOL[dtype])
        else:
            np.testing.assert_array_equal(g, w)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return KernelCache(tmp_path_factory.mktemp("kernels"))


# ---- every elementwise primitive in one group ---------------------------------

def all_prims_group(dtype):
    b = GroupBuilder("all_prims")
    x, y, s = b.input(1, dtype), b.input(1, dtype), b.scalar(float)
    pos = b.op("add", b.op("abs", x), 0.5)
    outs = [pos]
    for name in ("add", "sub", "mul", "div", "maximum", "minimum", "greater", "less", "equal",
                 "not_equal", "greater_equal", "less_equal", "logical_and", "logical_or"):
        outs.append(b.op(name, x, y))
    outs.append(b.op("pow", pos, y))
    for name in ("neg", "exp", "tanh", "sigmoid", "relu", "sign", "abs", "zeros_like",
                 "logical_not", "stop_gradient"):
        outs.append(b.op(name, x))
    outs += [b.op("log", pos), b.op("sqrt", pos), b.op("log", x), b.op("sqrt", x)]
    outs += [b.op(name, x) for name in ("sin", "cos", "expm1")]
    outs += [b.op("log1p", pos), b.op("log1p", b.op("mul", x, 2.0))]  # below -1: NaN
    outs.append(b.op("where", b.op("greater", x, s), x, y))
    outs.append(b.op("clip", x, lo=-0.5, hi=0.75))
    outs.append(b.op("clip", x, lo=None, hi=0.1))
    outs.append(b.op("cast", x, dtype=np.dtype(np.int32)))
    outs.append(b.op("mul", b.op("add", x, s), 2))
    covered = {b.steps[o.index].prim for o in outs}
    missing = {n for n, p in REGISTRY.items() if p.elementwise} - covered
    assert not missing, f"add {missing} to the all-primitives group"
    return b.build(outputs=outs)


@pytest.fixture(scope="module", params=[np.float32, np.float64])
def all_prims(request, cache):
    group = all_prims_group(request.param)
    return request.param, group, compile_group(group, cache=cache)


def test_all_primitives_agree_with_numpy(all_prims, rng):
    dtype, group, kernel = all_prims
    x = rng.standard_normal(37).astype(dtype)
    y = rng.standard_normal(37).astype(dtype)
    y[:5] = x[:5]  # equal values for the comparisons
    inputs = (x, y, 0.25)
    assert_agrees(run(kernel, group, inputs, x.shape), reference(group, inputs), dtype)


def test_all_primitives_exact_math(cache, rng):
    group = all_prims_group(np.float64)
    kernel = compile_group(group, CpuTarget(vector_math=False, inline=False), cache=cache)
    x, y = rng.standard_normal(11), rng.standard_normal(11)
    assert_agrees(run(kernel, group, (x, y, -0.5), x.shape), reference(group, (x, y, -0.5)))


def test_special_values(all_prims):
    dtype, group, kernel = all_prims
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 30.0, -30.0, 500.0,
                  -500.0, 88.5, -88.5, 710.0, -746.0], dtype=dtype)
    inputs = (x, np.ones_like(x), 0.0)
    got, want = run(kernel, group, inputs, x.shape), reference(group, inputs)
    for name in ("exp", "tanh", "sigmoid"):
        k = next(i for i, o in enumerate(group.outputs) if group.steps[o].prim == name)
        np.testing.assert_allclose(got[k], want[k], equal_nan=True, **FLOAT_TOL[dtype])
        assert np.array_equal(np.signbit(got[k]), np.signbit(want[k]))


@pytest.mark.parametrize("name, lo, hi, ulps", [
    ("exp", -80.0, 80.0, 1.5), ("tanh", -9.0, 9.0, 1.5), ("sigmoid", -80.0, 80.0, 3.0)])
def test_vector_math_accuracy_in_ulps(all_prims, name, lo, hi, ulps):
    dtype, group, kernel = all_prims
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(lo, hi, 20000), rng.uniform(-1, 1, 20000)]).astype(dtype)
    got = run(kernel, group, (x, x, 0.0), x.shape)
    k = next(i for i, o in enumerate(group.outputs) if group.steps[o].prim == name)
    xl = x.astype(np.longdouble)
    exact = {"exp": np.exp, "tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v))}[name](xl)
    tiny = np.abs(exact) >= np.finfo(dtype).tiny
    err = np.abs(got[k].astype(np.longdouble) - exact) / np.spacing(np.abs(exact).astype(dtype))
    assert err[tiny].max() <= ulps


# ---- random chains ----------------------------------------------------------

UNARY = ("neg", "tanh", "sigmoid", "abs", "relu", "exp")
BINARY = ("add", "sub", "mul", "maximum", "minimum")


def random_chain(seed, dtype):
    r = np.random.default_rng(seed)
    b = GroupBuilder(f"chain{seed}")
    vals = [b.input(1, dtype), b.input(1, dtype), b.scalar(float)]
    for _ in range(7):
        if r.random() < 0.4:
            op = UNARY[r.integers(len(UNARY))]
            arg = vals[r.integers(len(vals))]
            vals.append(b.op(op, b.op("tanh", arg) if op == "exp" else arg))
        else:
            a, c = (vals[i] for i in r.integers(len(vals), size=2))
            vals.append(b.op(BINARY[r.integers(len(BINARY))], a, c if r.random() < 0.8 else 1.5))
    return b.build(outputs=[vals[-1], vals[-3]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_chains(cache, seed, rng):
    dtype = (np.float32, np.float64)[seed % 2]
    group = random_chain(seed, dtype)
    kernel = compile_group(group, cache=cache)
    for n in (1, 5, 64):
        inputs = (rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype), 0.3)
        assert_agrees(run(kernel, group, inputs, (n,)), reference(group, inputs), dtype)


# ---- broadcasting, scalars, 0-d arrays, several outputs ------------------------

def broadcast_group():
    b = GroupBuilder("bcast")
    full = b.input(3, np.float64)
    row = b.input(1, np.float64)  # (c,) aligned right
    mid = b.input(3, np.float64, broadcast=(1,))  # (a, 1, c)
    zero_d = b.input(0, np.float32)
    s = b.scalar(float)
    small = b.op("add", mid, s)  # an output of shape (a, 1, c)
    t = b.op("mul", b.op("sub", full, row), small)
    u = b.op("maximum", t, zero_d)
    return b.build(outputs=[u, small, b.op("sigmoid", row)])


@pytest.fixture(scope="module")
def bcast(cache):
    group = broadcast_group()
    return group, compile_group(group, cache=cache)


@given(a=st.integers(1, 4), b=st.integers(1, 4), c=st.integers(1, 6), transpose=st.booleans())
def test_broadcasting(bcast, a, b, c, transpose):
    group, kernel = bcast
    r = np.random.default_rng(a * 100 + b * 10 + c)
    full = r.standard_normal((c, b, a)).T if transpose else r.standard_normal((a, b, c))
    inputs = (full, r.standard_normal(c), r.standard_normal((a, 1, c)), np.float32(0.1), 2.0)
    assert_agrees(run(kernel, group, inputs, (a, b, c)), reference(group, inputs))


def test_wrong_shapes_are_refused(bcast):
    group, kernel = bcast
    x = np.zeros((2, 3, 4))
    good = (x, np.zeros(4), np.zeros((2, 1, 4)), np.float32(0), 1.0)
    outs = (np.empty((2, 3, 4)), np.empty((2, 1, 4)), np.empty(4))
    kernel(*good, out=outs)
    with pytest.raises(ValueError, match="x2"):
        kernel(*good[:2], np.zeros((2, 3, 4)), *good[3:], out=outs)  # pattern says dim 1 is 1
    with pytest.raises(ValueError, match="out"):
        kernel(*good, out=(np.empty((2, 3, 5)), *outs[1:]))
    with pytest.raises(TypeError):
        kernel(*good, out=outs[:2])


# ---- fused reductions -----------------------------------------------------------

REDUCTIONS = [("sum", (0, 1, 2), False), ("mean", (0, 1, 2), True), ("max", (0, 1, 2), False),
              ("sum", (0,), False), ("sum", (2,), True), ("mean", (1,), False),
              ("max", (0, 2), True), ("sum", (1, 2), False)]


@pytest.mark.parametrize("kind, axes, keepdims", REDUCTIONS)
def test_fused_reductions(cache, rng, kind, axes, keepdims):
    b = GroupBuilder(f"{kind}{axes}")
    x, y = b.input(3, np.float32), b.input(1, np.float32)
    e = b.op("mul", b.op("exp", x), y)
    group = b.build(outputs=[e] if kind == "sum" else [], reduce=(kind, e, axes, keepdims))
    kernel = compile_group(group, cache=cache)
    for shape in [(2, 3, 4), (1, 5, 1)]:
        xs = rng.standard_normal(shape).astype(np.float32)
        if kind == "max":
            xs.flat[1] = np.nan
        inputs = (xs, rng.standard_normal(shape[-1]).astype(np.float32))
        assert_agrees(run(kernel, group, inputs, shape), reference(group, inputs), np.float32)
    xt = rng.standard_normal((4, 3, 2)).astype(np.float32).T  # not contiguous: the nd path
    inputs = (xt, rng.standard_normal(4).astype(np.float32))
    assert_agrees(run(kernel, group, inputs, xt.shape), reference(group, inputs), np.float32)


def test_integer_and_bool_group(cache, rng):
    b = GroupBuilder("ints")
    i, j = b.input(2, np.int32), b.input(2, np.int32)
    gt = b.op("greater", i, j)
    outs = [b.op("add", i, j), b.op("mul", i, 3), b.op("maximum", i, j), gt,
            b.op("where", gt, i, j), b.op("sign", i), b.op("abs", i),
            b.op("clip", i, lo=0, hi=5), b.op("cast", i, dtype=np.dtype(np.float32)),
            b.op("logical_and", gt, b.op("less", j, 2))]
    group = b.build(outputs=outs, reduce=("sum", gt, (1,), False))
    kernel = compile_group(group, cache=cache)
    inputs = tuple(rng.integers(-9, 9, size=(3, 7)).astype(np.int32) for _ in range(2))
    assert_agrees(run(kernel, group, inputs, (3, 7)), reference(group, inputs))


# ---- parallel variants ------------------------------------------------------------

def test_parallel_variants(cache, rng):
    par = CpuTarget(parallel_min=0)
    b = GroupBuilder("par")
    x, s = b.input(2, np.float64), b.scalar(float)
    t = b.op("tanh", b.op("mul", x, s))
    group = b.build(outputs=[t], reduce=("sum", t, (0, 1), False))
    kernel = compile_group(group, par, cache=cache)
    xs = rng.standard_normal((3, 70_001))  # several reduction chunks
    assert_agrees(run(kernel, group, (xs, 0.7), xs.shape), reference(group, (xs, 0.7)))
    assert kernel.record.specialisations[-1].variant == "flat_par"
    b2 = GroupBuilder("par_rows")
    x2 = b2.input(2, np.float32)
    e = b2.op("exp", x2)
    group2 = b2.build(outputs=[e], reduce=("max", e, (1,), True))
    kernel2 = compile_group(group2, par, cache=cache)
    x2s = rng.standard_normal((5, 33)).astype(np.float32).T.copy().T  # F-order: nd_par
    assert_agrees(run(kernel2, group2, (x2s,), x2s.shape), reference(group2, (x2s,)), np.float32)
    assert kernel2.record.specialisations[-1].variant == "nd_par"


# ---- row views ----------------------------------------------------------------------

def test_rows_variant_reads_and_writes_column_slices(cache, rng):
    """`rows` over strided views whose innermost rows are contiguous (column
    slices of wider buffers), with a broadcast row, a broadcast column and a
    reduction, agrees with the reference and with `nd`."""
    b = GroupBuilder("rows")
    x, bias, col = b.input(2, np.float32), b.input(1, np.float32), b.input(2, np.float32, (1,))
    t = b.op("tanh", b.op("add", b.op("mul", x, col), bias))
    group = b.build(outputs=[t], reduce=("sum", t, (0,), False))
    kernel = compile_group(group, cache=cache)
    wide = rng.standard_normal((6, 40)).astype(np.float32)
    xs = wide[:, 8:19]
    inputs = (xs, rng.standard_normal(11).astype(np.float32),
              rng.standard_normal((6, 1)).astype(np.float32))
    want = reference(group, inputs)
    for variant in ("rows", "nd"):
        out_wide = np.full((6, 30), np.nan, np.float32)
        out, red = out_wide[:, 5:16], np.full((1, 11), np.nan, np.float32)
        kernel.fns[variant]((6, 11), *inputs, out, red)
        assert_agrees([out, red.reshape(11)], want, np.float32)
        assert np.isnan(out_wide[:, :5]).all() and np.isnan(out_wide[:, 16:]).all()
