"""NaN and empty-axis semantics: dyngraph and every CPU backend give the interpreter's
values (NaN propagates through maximum/minimum/max, sign(nan) is nan) and its
error (max or softmax over an empty axis is a ShapeError naming the op and line)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from agreement_cases import (
    EMPTY_CASES,
    EMPTY_OK_CASES,
    INT_CASES,
    INT_POW_WANT,
    NAN_CASES,
    assert_same,
    run_dyngraph,
    run_static,
    scan_with_empty_max,
)
from fuzz.agree import agreement_code, agreement_programs, check_agreement
from hypothesis import HealthCheck, given, note, settings
from numba_backend_util import numba_cache_dir  # noqa: F401

from shared_ops import ShapeError

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.mark.parametrize("case", NAN_CASES + INT_CASES + EMPTY_OK_CASES, ids=str)
def test_nan_values_agree(case):
    want = run_static(case, "interpret")
    assert_same(run_dyngraph(case), want, case.name)
    assert_same(run_static(case, "numba"), want, case.name)
    assert_same(run_static(case, "numba", dynamic=True), want, case.name)


def test_integer_pow_gives_pytorchs_values():
    got = run_static(INT_CASES[0], "interpret")[0]
    np.testing.assert_array_equal(got, INT_POW_WANT)
    np.testing.assert_array_equal(run_static(INT_CASES[2], "numba")[0], INT_POW_WANT + 1)


def test_float16_mean_and_int_float_ops_follow_the_rule():
    by_name = {c.name: c for c in INT_CASES}
    assert run_static(by_name["mean-float16"], "numba")[0] == np.float16(100)
    got = run_static(by_name["mean-float16-fused"], "numba")[0]
    assert got.dtype == np.float16 and np.all(got == 200)
    got = run_static(by_name["exp-int8"], "numba")[0]
    np.testing.assert_allclose(got, np.exp([1.0, 2.0, -3.0]), rtol=1e-15)


def test_reference_values_are_numpys():
    got = run_static(NAN_CASES[0], "interpret")[0]
    np.testing.assert_array_equal(got, [np.nan, np.nan, np.nan, 2])
    assert np.isnan(run_static(NAN_CASES[5], "numba")[0][0])


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("backend", ["interpret", "numba"])
@pytest.mark.parametrize("case", EMPTY_CASES, ids=str)
def test_empty_axis_is_a_shape_error_naming_the_line(case, backend, dynamic):
    with pytest.raises(ShapeError, match=r"(max|softmax).*agreement_cases\.py:\d+"):
        run_static(case, backend, dynamic)


@pytest.mark.parametrize("case", EMPTY_CASES, ids=str)
def test_empty_axis_in_dyngraph(case):
    with pytest.raises(ShapeError, match=r"(max|softmax)"):
        run_dyngraph(case)


@settings(max_examples=int(os.environ.get("AGREEMENT_EXAMPLES", "40")), deadline=None,
          database=None, suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.data_too_large])
@given(agreement_programs())
def test_random_programs_with_nan_empty_dims_and_every_dtype_agree(program):
    note(agreement_code(program))
    check_agreement(program, ["interpret", "numba"])


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_empty_max_inside_a_scan_body(backend, dynamic):
    with pytest.raises(ShapeError, match=r"max: .*agreement_cases\.py:\d+"):
        scan_with_empty_max(backend, dynamic)
