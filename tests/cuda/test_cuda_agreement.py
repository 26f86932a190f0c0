"""backend="cuda" gives the interpreter's NaN values, empty-axis errors and dtypes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from agreement_cases import (
    DTYPES,
    EMPTY_CASES,
    EMPTY_OK_CASES,
    INT_CASES,
    NAN_CASES,
    assert_same,
    compare,
    matrix_outcomes,
    run_static,
    scan_with_empty_max,
)
from extreme_cases import EXTREME_DTYPES, mismatches
from fuzz.agree import agreement_code, agreement_programs, check_agreement
from hypothesis import HealthCheck, given, note, settings
from pow_reference import POW_X, POW_Y, pytorch_pow_grads, static_pow_grads

import shared_ops.api as A
import staticgraph as sg
from shared_ops import ShapeError

pytestmark = [pytest.mark.cudasim, pytest.mark.filterwarnings("ignore::RuntimeWarning")]


@pytest.mark.parametrize("case", NAN_CASES + INT_CASES + EMPTY_OK_CASES, ids=str)
def test_nan_values_agree(case):
    assert_same(run_static(case, "cuda"), run_static(case, "interpret"), case.name)


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("case", EMPTY_CASES, ids=str)
def test_empty_axis_is_a_shape_error_naming_the_line(case, dynamic):
    with pytest.raises(ShapeError, match=r"(max|softmax).*agreement_cases\.py:\d+"):
        run_static(case, "cuda", dynamic)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_matrix_agrees_with_the_interpreter(dtype):
    want = matrix_outcomes(dtype, "interpret")
    bad = compare(matrix_outcomes(dtype, "cuda"), want, "cuda")
    assert not bad, "\n".join(bad)


@settings(max_examples=int(os.environ.get("CUDA_AGREEMENT_EXAMPLES", "15")), deadline=None,
          database=None, suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.data_too_large])
@given(agreement_programs(max_steps=3))
def test_random_programs_with_nan_empty_dims_and_every_dtype_agree(program):
    note(agreement_code(program))
    check_agreement(program, ["cuda"])


@pytest.mark.parametrize("index", [(None, -1), (None, 0, None), (Ellipsis, None)])
def test_gradient_of_an_index_with_new_axes(index):
    """getitem_grad writes into a view with stride-0 dims (the new axes)."""
    graph = sg.Graph()
    with graph.as_default():
        x = sg.placeholder(np.float64, (1,))
        y = A.getitem(x, index)
        fetches = [y] + sg.gradients(A.sum(A.mul(y, 0.5)), [x])
    want = sg.function([x], fetches, backend="interpret")(np.array([2.0]))
    got = sg.function([x], fetches, backend="cuda")(np.array([2.0]))
    assert_same(got, want, str(index))


@pytest.mark.parametrize("dynamic", [False, True])
def test_empty_max_inside_a_scan_body(dynamic):
    with pytest.raises(ShapeError, match=r"max: .*agreement_cases\.py:\d+"):
        scan_with_empty_max("cuda", dynamic)


def test_transpose_of_a_broadcast_view():
    """A view with a stride-0 size-1 dim copied into a buffer of the same shape."""
    graph = sg.Graph()
    with graph.as_default():
        x = sg.placeholder(np.float64, (3,))
        y = A.transpose(A.broadcast_to(x, (1, 3)))
        fetches = [y] + sg.gradients(A.sum(A.mul(y, 0.5)), [x])
    want = sg.function([x], fetches, backend="interpret")(np.arange(3.0))
    got = sg.function([x], fetches, backend="cuda")(np.arange(3.0))
    assert_same(got, want, "transpose of broadcast_to")


def test_host_fallback_raises_the_interpreters_error():
    """softmax of bool runs on the host: an empty axis is still a ShapeError."""
    graph = sg.Graph()
    with graph.as_default():
        x = sg.placeholder(np.bool_, (None,))
        y = A.softmax(x, axis=-1)
        with sg.Session(graph, backend="cuda") as sess:
            with pytest.raises(ShapeError, match=r"softmax: .*test_cuda_agreement\.py:\d+"):
                sess.run(y, {x: np.zeros(0, bool)})
            np.testing.assert_allclose(sess.run(y, {x: np.array([True, False])}),
                                       [np.e / (np.e + 1), 1 / (np.e + 1)])


def test_pow_gradients_follow_pytorch():
    """Negative bases give NaN w.r.t. y; 0 ** negative gives -inf (PyTorch)."""
    gs = np.linspace(-1.0, 1.0, POW_X.size)
    got = static_pow_grads("cuda", POW_X, POW_Y, gs)
    for a, e in zip(got, pytorch_pow_grads(POW_X, POW_Y, gs)):
        np.testing.assert_allclose(a, e, rtol=1e-12)


@pytest.mark.parametrize("dtype", EXTREME_DTYPES)
def test_reductions_of_extremes_are_numpys(dtype):
    bad = mismatches("cuda", dtype)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("dtype", [np.bool_, np.float32, np.int64])
@pytest.mark.parametrize("shape,axis", [((0, 0), 0), ((0, 3), 1), ((3, 0), 0)])
def test_reduction_into_an_empty_output(dtype, shape, axis):
    """A sum whose kept dims hold no element: an empty result, as in NumPy."""
    graph = sg.Graph()
    with graph.as_default():
        x = sg.placeholder(dtype, shape)
        y = A.sum(x, axis=axis, keepdims=True)
    value = np.zeros(shape, dtype)
    want = sg.function([x], [y], backend="interpret")(value)
    got = sg.function([x], [y], backend="cuda")(value)
    assert_same(got, want, f"sum over axis {axis} of {shape}")
