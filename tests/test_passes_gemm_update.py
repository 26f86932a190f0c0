"""GEMM epilogue fusion (`passes.gemm_update`): the pass, the memory plan, the
numba lowering (one BLAS call into the variable) and the BLAS binding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_passes_memory import assert_plan_is_safe
from test_passes_util import assert_same_values, prims, program, run, tutorial_program

import staticgraph as sg
from staticgraph.numba_backend import gemm
from staticgraph.passes import DEFAULT_PASSES, optimize
from staticgraph.passes.gemm_update import fuse_gemm_update

F64 = "float64"
needs_blas = pytest.mark.skipif(not gemm.available(), reason="NumPy's BLAS exports no cblas GEMM")


def updated(w, x, g, lr):
    """The SGD update of a dense weight: w - lr * (x.T @ g)."""
    return w - lr * sg.matmul(sg.transpose(x), g)


@pytest.mark.parametrize("form", [
    lambda w, m: w - 0.5 * m, lambda w, m: w - m * 0.5,
    lambda w, m: w + 0.5 * m, lambda w, m: (m * -0.5) + w])
def test_the_pattern_becomes_one_equation(form, rng):
    prog = program(lambda w, a, b: form(w, sg.matmul(a, b)),
                   ((3, 4), F64), ((3, 2), F64), ((2, 4), F64))
    fused = fuse_gemm_update(prog)
    assert prims(fused) == ["gemm_update"]
    arrays = rng.standard_normal((3, 4)), rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
    assert_same_values(prog, fused, *arrays)  # the impl computes what the two ops did


@pytest.mark.parametrize("fn, specs", [
    # the product is read elsewhere too
    (lambda w, a, b: (lambda m: (w - 0.5 * m, m * 1.0))(sg.matmul(a, b)),
     [((3, 4), F64), ((3, 2), F64), ((2, 4), F64)]),
    # the scale is a tensor, not a Python scalar
    (lambda w, a, b: w - sg.sum(w) * sg.matmul(a, b), [((3, 4), F64), ((3, 2), F64),
                                                        ((2, 4), F64)]),
    # c - s*m with c broadcast (a row), and integer operands
    (lambda w, a, b: w - 0.5 * sg.matmul(a, b), [((1, 4), F64), ((3, 2), F64), ((2, 4), F64)]),
    (lambda w, a, b: w - 2 * sg.matmul(a, b), [((3, 4), "int64"), ((3, 2), "int64"),
                                               ((2, 4), "int64")]),
    # (s*m) - c is not an accumulation into c
    (lambda w, a, b: 0.5 * sg.matmul(a, b) - w, [((3, 4), F64), ((3, 2), F64), ((2, 4), F64)]),
])
def test_other_shapes_of_the_code_are_left_alone(fn, specs):
    prog = program(fn, *specs)
    assert "gemm_update" not in prims(fuse_gemm_update(prog))


def test_tutorial_updates_fuse_and_plan_into_the_weights():
    prog, arrays = tutorial_program(D_in=40, H=30)
    passes = list(DEFAULT_PASSES)
    passes.insert(len(passes) - 1, ("gemm_update", fuse_gemm_update))
    graph = optimize(prog, passes)[0]
    assert prims(graph).count("gemm_update") == 2 and prims(graph).count("matmul") == 3
    plan = assert_plan_is_safe(graph, *arrays)
    assert {v.label for v in plan.into_variable.values()} == {"w1", "w2"}
    for got, want in zip(run(graph, *arrays), run(prog, *arrays), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_an_accumulator_read_by_the_product_is_not_overwritten(rng):
    """w - s * (w.T @ g): BLAS would read w while writing it, so the plan must not
    give the result w's storage (nor may the lowering)."""
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder((4, 4), F64, name="x")
        w = sg.Variable(rng.standard_normal((4, 4)), name="w")
        new_w = w - 0.25 * sg.matmul(sg.transpose(w), x)
        step = sg.assign(w, new_w)
    prog = sg.extract_program(g, [], [x.var], effects=[step.var])
    fused = fuse_gemm_update(prog)
    assert "gemm_update" in prims(fused)
    plan = assert_plan_is_safe(fused, rng.standard_normal((4, 4)))
    assert not plan.into_variable


@needs_blas
@pytest.mark.parametrize("case", ["tutorial", "aliased", "not_a_variable"])
def test_numba_backend_agrees_with_the_interpreter(case, rng):
    results = {}
    for backend in ("interpret", "numba"):
        init = np.random.default_rng(1)
        g = sg.Graph()
        with g.as_default():
            x = sg.placeholder((None, 6), F64, name="x")
            gr = sg.placeholder((None, 5), F64, name="g")
            w = sg.Variable(init.standard_normal((6, 5)), name="w")
            if case == "tutorial":
                out, new = sg.sum(w), updated(w, x, gr, 1e-3)
            elif case == "aliased":
                out, new = sg.sum(w), w - 0.1 * sg.matmul(w, sg.matmul(sg.transpose(gr), gr))
            else:
                out, new = updated(w, x, gr, 1e-3) * 1.0, w * 0.5
            f = sg.function([x, gr], out, updates=[(w, new)], backend=backend)
        data = np.random.default_rng(2)
        feeds = [(data.standard_normal((7, 6)), data.standard_normal((7, 5))) for _ in range(3)]
        results[backend] = [np.array(f(*fd)) for fd in feeds] + [np.array(f.session.get(w))]
        if backend == "numba":
            assert "_gemm_update(" in f.source
    for got, want in zip(results["numba"], results["interpret"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def layouts(x: np.ndarray) -> list[np.ndarray]:
    """The same values in C order, Fortran order, a column slice, a strided view."""
    wide = np.concatenate([x, x], axis=1)[:, : x.shape[1]]
    return [x, np.asfortranarray(x), wide, np.repeat(x, 2, axis=1)[:, ::2]]


@needs_blas
@given(m=st.integers(0, 5), k=st.integers(0, 5), n=st.integers(0, 5),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_blas_call_matches_numpy_for_every_layout(m, k, n, dtype, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a_view in layouts(a):
        for b_view in layouts(b)[:3]:
            out = c.copy()
            gemm.gemm_update(a_view, b_view, out, -0.5)
            np.testing.assert_allclose(out, c - 0.5 * (a @ b), rtol=tol, atol=tol)
    out_t = np.array(c, order="F", copy=True)  # not C-contiguous (if 2-d): through a copy
    gemm.gemm_update(a, b, out_t, 2.0)
    np.testing.assert_allclose(out_t, c + 2.0 * (a @ b), rtol=tol, atol=tol)
