"""The CUDA target at the compiler level: hand-built groups through
`compile_group(group, CudaTarget())` agree with NumPy for every variant
(flat, nd with broadcasting and strides, full / per-block / per-thread
reductions, empty loops), and the tiled matmul for awkward shapes."""

from __future__ import annotations

import numpy as np
import pytest

from staticgraph.compiler import GroupBuilder, compile_group
from staticgraph.compiler.cuda import CudaTarget
from staticgraph.cuda_backend import arrays, device
from staticgraph.cuda_backend.matmul import gemm_update_into, matmul_into

pytestmark = pytest.mark.cudasim
TARGET = CudaTarget()


def dev(a):
    return arrays.upload(np.asarray(a))


def test_launch_defaults():
    if device.simulator_enabled():
        assert (TARGET.threads, TARGET.max_blocks) == (4, 2)
    else:
        assert TARGET.threads == 256 and TARGET.max_blocks >= 32
    assert f"threads={TARGET.threads}" in TARGET.cache_tag()


@pytest.mark.parametrize("transposed", [False, True])
def test_elementwise_flat_and_strided(rng, transposed):
    b = GroupBuilder("chain")
    x, a = b.input(2, np.float32), b.scalar(float)
    y = b.op("sub", b.op("mul", b.op("tanh", b.op("add", b.op("mul", x, a), 1.0)),
                         b.op("sigmoid", x)), b.op("exp", b.op("neg", b.op("mul", x, x))))
    kernel = compile_group(b.build(outputs=[y]), TARGET)
    xv = rng.standard_normal((5, 3)).astype(np.float32)
    dx = dev(xv.T.copy())
    dx = arrays.view(dx, lambda v: v.T) if transposed else dev(xv)
    out = arrays.empty((5, 3), np.float32)
    kernel(dx, 0.5, out=(out,))
    assert kernel.last_launch[0] == ("elem_nd" if transposed else "elem_flat")
    want = np.tanh(xv * np.float32(0.5) + 1) * (1 / (1 + np.exp(-xv))) - np.exp(-xv * xv)
    np.testing.assert_allclose(arrays.download(out), want, rtol=2e-6, atol=1e-6)


def test_broadcast_patterns_zero_d_and_lower_rank_outputs(rng):
    b = GroupBuilder("bcast")
    col, row, s = b.input(2, np.float64, (1,)), b.input(1, np.float64), b.input(0, np.float64)
    c2 = b.op("mul", col, 2.0)  # only (n, 1): its buffer is (n, 1)
    y = b.op("add", b.op("mul", c2, row), s)
    kernel = compile_group(b.build(outputs=[c2, y]), TARGET)
    cv, rv, sv = rng.standard_normal((3, 1)), rng.standard_normal(4), np.array(0.25)
    o1, o2 = arrays.empty((3, 1), np.float64), arrays.empty((3, 4), np.float64)
    kernel(dev(cv), dev(rv), dev(sv), out=(o1, o2))
    np.testing.assert_allclose(arrays.download(o1), cv * 2)
    np.testing.assert_allclose(arrays.download(o2), cv * 2 * rv + 0.25)
    with pytest.raises(ValueError, match="has shape"):
        kernel(dev(cv), dev(np.ones(5)), dev(sv), out=(o1, o2))


@pytest.mark.parametrize("kind", ["sum", "mean", "max"])
@pytest.mark.parametrize("axes,keepdims", [((0, 1, 2), False), ((1,), False), ((0, 2), True),
                                           ((2,), True)])
def test_fused_reductions(rng, kind, axes, keepdims):
    b = GroupBuilder("red")
    x = b.input(3, np.float32)
    y = b.op("mul", x, x)
    kernel = compile_group(b.build(outputs=[y], reduce=(kind, y, axes, keepdims)), TARGET)
    xv = rng.standard_normal((2, 5, 3)).astype(np.float32)
    if kind == "max":
        xv[1, 2, 0] = np.nan
    want = getattr(np, kind)(xv * xv, axis=axes, keepdims=keepdims)
    out, red = arrays.empty(xv.shape, np.float32), arrays.empty(want.shape, np.float32)
    kernel(dev(xv), out=(out, red))
    np.testing.assert_allclose(arrays.download(out), xv * xv)
    np.testing.assert_allclose(arrays.download(red), want, rtol=1e-6)


def test_reduction_variants_per_block_and_per_thread(rng):
    b = GroupBuilder("rows")
    x = b.input(2, np.float64)
    kernel = compile_group(b.build(reduce=("sum", x, (1,), False)), TARGET)
    for n_red, variant in [(TARGET.threads - 1, "red_rows"), (TARGET.threads + 1, "red_axes")]:
        xv = rng.standard_normal((5, n_red))
        red = arrays.empty((5,), np.float64)
        kernel(dev(xv), out=(red,))
        assert kernel.last_launch[0] == variant
        np.testing.assert_allclose(arrays.download(red), xv.sum(axis=1))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mean: 0/0 in the simulator
@pytest.mark.parametrize("kind,want", [("sum", 0.0), ("max", -np.inf), ("mean", np.nan)])
def test_empty_reductions(kind, want):
    b = GroupBuilder("empty")
    x = b.input(1, np.float64)
    kernel = compile_group(b.build(reduce=(kind, x, (0,), False)), TARGET)
    red = arrays.empty((), np.float64)
    with np.errstate(all="ignore"):
        kernel(dev(np.zeros(0)), out=(red,))
    np.testing.assert_equal(arrays.download(red), want)


def test_integer_and_bool_reductions(rng):
    b = GroupBuilder("ints")
    k = b.input(2, np.int64)
    pos = b.op("greater", k, 0)
    kernel = compile_group(b.build(outputs=[pos], reduce=("sum", pos, (0, 1), False)), TARGET)
    kv = rng.integers(-3, 3, (3, 4))
    out, red = arrays.empty((3, 4), np.bool_), arrays.empty((), np.int64)
    kernel(dev(kv), out=(out, red))
    assert arrays.download(red) == (kv > 0).sum()
    b = GroupBuilder("anymax")
    m = b.input(1, np.bool_)
    kmax = compile_group(b.build(reduce=("max", m, (0,), False)), TARGET)
    red = arrays.empty((), np.bool_)
    kmax(dev(np.array([False, True, False])), out=(red,))
    assert bool(arrays.download(red))


@pytest.mark.parametrize("shapes", [((5, 3), (3, 4)), ((1, 7), (7, 1)), ((3,), (3, 2)),
                                    ((2, 3), (3,)), ((2, 1, 2, 3), (3, 3, 2)), ((3, 0), (0, 2))])
def test_tiled_matmul(rng, shapes):
    a, b = (rng.standard_normal(s) for s in shapes)
    want = np.matmul(a, b)
    out = arrays.empty(want.shape, np.float64)
    matmul_into(out, dev(a), dev(b))
    np.testing.assert_allclose(arrays.download(out), want, rtol=1e-12, atol=1e-12)


def test_matmul_on_transposed_views(rng):
    a = rng.standard_normal((3, 5)).astype(np.float32)
    out = arrays.empty((5, 5), np.float32)
    da = dev(a)
    matmul_into(out, arrays.view(da, lambda v: v.T), da)
    np.testing.assert_allclose(arrays.download(out), a.T @ a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sign", [-1, 1])
@pytest.mark.parametrize("in_place", [False, True])
def test_gemm_update_epilogue_equals_its_two_ops(rng, dtype, sign, in_place):
    a = rng.standard_normal((5, 3)).astype(dtype)
    b = rng.standard_normal((5, 4)).astype(dtype)
    c = rng.standard_normal((3, 4)).astype(dtype)
    product = np.multiply(0.25, dev_matmul(a.T, b))  # the tiled kernel's product
    want = c - product if sign < 0 else c + product
    dc = dev(c)
    out = dc if in_place else arrays.empty(c.shape, dtype)
    path = gemm_update_into(out, arrays.view(dev(a), lambda v: v.T), dev(b), dc, 0.25, sign)
    assert path == "tiled"
    np.testing.assert_array_equal(arrays.download(out), want)
    if not in_place:
        np.testing.assert_array_equal(arrays.download(dc), c)


def dev_matmul(a, b):
    out = arrays.empty((a.shape[0], b.shape[1]), a.dtype)
    matmul_into(out, dev(a), dev(b))
    return arrays.download(out)


def test_gemm_update_with_an_empty_inner_dim_leaves_c(rng):
    c = rng.standard_normal((2, 3))
    out = arrays.empty(c.shape, np.float64)
    gemm_update_into(out, dev(np.ones((2, 0))), dev(np.ones((0, 3))), dev(c), 0.5, -1)
    np.testing.assert_array_equal(arrays.download(out), c)
    assert gemm_update_into(arrays.empty((0, 3), np.float64), dev(np.ones((0, 2))),
                            dev(np.ones((2, 3))), dev(np.ones((0, 3))), 0.5, -1) == "empty"


def test_views_and_copies(rng):
    x = rng.standard_normal((2, 3, 4))
    d = dev(x)
    np.testing.assert_array_equal(arrays.download(arrays.view(d, lambda v: v[1, :, ::2])),
                                  x[1, :, ::2])
    t = arrays.view(d, lambda v: v.transpose(2, 0, 1))
    np.testing.assert_array_equal(arrays.download(arrays.reshape(t, (4, 6))),
                                  x.transpose(2, 0, 1).reshape(4, 6))
    z = arrays.empty((3, 4), np.float32)
    arrays.copy_into(z, arrays.view(d, lambda v: v[0]))  # casting copy
    np.testing.assert_allclose(arrays.download(z), x[0].astype(np.float32))
    arrays.fill_zeros(z)
    assert not arrays.download(z).any()


@pytest.mark.gpu
def test_large_chain_reduction_and_matmul_on_a_real_gpu(rng):
    """Sizes that need many blocks (grid-stride loops, multi-stage reductions)."""
    b = GroupBuilder("big")
    x = b.input(2, np.float32)
    y = b.op("tanh", b.op("mul", x, 0.5))
    kernel = compile_group(b.build(outputs=[y], reduce=("sum", y, (0, 1), False)), TARGET)
    xv = rng.standard_normal((1000, 3001)).astype(np.float32)
    out, red = arrays.empty(xv.shape, np.float32), arrays.empty((), np.float32)
    kernel(dev(xv), out=(out, red))
    want = np.tanh(xv * np.float32(0.5))
    np.testing.assert_allclose(arrays.download(out), want, rtol=2e-6, atol=1e-6)
    assert float(arrays.download(red)) == pytest.approx(want.astype(np.float64).sum(), rel=1e-5)
    a, c = rng.standard_normal((300, 257)), rng.standard_normal((257, 129))
    mm = arrays.empty((300, 129), np.float64)
    matmul_into(mm, dev(a), dev(c))
    np.testing.assert_allclose(arrays.download(mm), a @ c, rtol=1e-10, atol=1e-10)
