"""dyngraph's array rules (the fast backward's VJPs on raw ndarrays) give the
shared rules' gradients: same values, dtypes and shapes, on every path (small
and large arrays, broadcasting, 0-d, mixed dtypes)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dyngraph as dg
from dyngraph.array_rules import ARRAY_RULES, SMALL_ELEMENTS
from shared_ops import REGISTRY

SHAPE_PAIRS = [((), ()), ((1,), (1,)), ((16,), (16,)), ((4, 8), (8,)), ((4, 8), (1, 8)),
               ((3, 1), (1, 5)), ((2, 3), ()), ((SMALL_ELEMENTS + 1,), (SMALL_ELEMENTS + 1,)),
               ((40, 64), (64,))]
DTYPES = [np.float32, np.float64]


def _same(fast, shared) -> None:
    assert len(fast) == len(shared)
    for f, s in zip(fast, shared):
        if s is None:
            assert f is None
            continue
        f, s = np.asarray(f), np.asarray(s)
        assert f.shape == s.shape and f.dtype == s.dtype
        np.testing.assert_allclose(f, s, rtol=1e-6, atol=0)


@settings(max_examples=60, deadline=None)
@given(pair=st.sampled_from(SHAPE_PAIRS),
       dtypes=st.tuples(st.sampled_from(DTYPES), st.sampled_from(DTYPES)),
       needs=st.sampled_from([(True, True), (True, False), (False, True)]),
       seed=st.integers(0, 2**16))
def test_add_array_rule_matches_the_shared_rule(pair, dtypes, needs, seed):
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(pair[0]), dtype=dtypes[0])
    y = np.asarray(rng.standard_normal(pair[1]), dtype=dtypes[1])
    prim = REGISTRY["add"]
    out = np.asarray(prim.impl(x, y))
    g = np.asarray(rng.standard_normal(out.shape), dtype=out.dtype)
    fast = ARRAY_RULES[prim](g, out, (x, y), needs)
    _same(fast, prim.vjp(g, out, x, y, needs=needs))


@pytest.mark.parametrize("shape", [(), (1,), (16,), (SMALL_ELEMENTS + 1,), (32, 128)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_array_rule_matches_the_shared_rule(shape, dtype):
    rng = np.random.default_rng(0)
    x = np.asarray(rng.standard_normal(shape), dtype=dtype)
    prim = REGISTRY["tanh"]
    out = np.asarray(prim.impl(x))
    g = np.asarray(rng.standard_normal(shape), dtype=dtype)
    _same(ARRAY_RULES[prim](g, out, (x,), (True,)), prim.vjp(g, out, x, needs=(True,)))


@pytest.mark.parametrize("shape", [(12,), (SMALL_ELEMENTS + 1,), (256, 40), (40, 64)])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_array_rule_matches_the_shared_rule_bit_for_bit(shape, dtype):
    """NaN, inf and signed zeros in g and in the output (strided g included)."""
    rng = np.random.default_rng(1)
    x = np.asarray(rng.standard_normal(shape), dtype=dtype)
    g = np.asarray(rng.standard_normal((2,) + shape), dtype=dtype)[1]  # a strided view
    flat_x, flat_g = x.reshape(-1), g.reshape(-1)
    flat_x[:6] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0]
    flat_g[:6] = [1.0, 2.0, 3.0, np.nan, np.inf, -0.0]
    flat_g[6:9] = [np.nan, -np.inf, -0.0]  # where x is random
    prim = REGISTRY["relu"]
    out = np.asarray(prim.impl(x))
    fast, = ARRAY_RULES[prim](g, out, (x,), (True,))
    shared, = prim.vjp(g, out, x, needs=(True,))
    assert fast.shape == shared.shape and fast.dtype == shared.dtype
    width = {2: np.uint16, 4: np.uint32, 8: np.uint64}[fast.dtype.itemsize]
    np.testing.assert_array_equal(np.ascontiguousarray(fast).view(width),
                                  np.ascontiguousarray(shared).view(width))


def test_backward_through_the_array_rules_matches_finite_differences():
    """x*a + b, tanh, in turn, on a small and a large tensor (both tanh paths)."""
    for size in (3, SMALL_ELEMENTS + 5):
        rng = np.random.default_rng(size)
        x0 = rng.standard_normal(size)
        a, b = rng.standard_normal(size), rng.standard_normal(())

        def f(v, a=a, b=b):
            for _ in range(3):
                v = np.tanh(v * a + b)
            return v.sum()

        x = dg.tensor(x0, requires_grad=True)
        y = x
        for _ in range(3):
            y = (y * dg.tensor(a) + dg.tensor(b)).tanh()
        y.sum().backward()
        eps = 1e-6
        i = size // 2
        up, down = x0.copy(), x0.copy()
        up[i] += eps
        down[i] -= eps
        assert x.grad.numpy()[i] == pytest.approx((f(up) - f(down)) / (2 * eps), rel=1e-6)
