"""backend="cuda" gives the interpreter's NaN values, empty-axis errors and dtypes."""

from __future__ import annotations

import pytest
from agreement_cases import EMPTY_CASES, EMPTY_OK_CASES, NAN_CASES, assert_same, run_static

from shared_ops import ShapeError

pytestmark = [pytest.mark.cudasim, pytest.mark.filterwarnings("ignore::RuntimeWarning")]


@pytest.mark.parametrize("case", NAN_CASES + EMPTY_OK_CASES, ids=str)
def test_nan_values_agree(case):
    assert_same(run_static(case, "cuda"), run_static(case, "interpret"), case.name)


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("case", EMPTY_CASES, ids=str)
def test_empty_axis_is_a_shape_error_naming_the_line(case, dynamic):
    with pytest.raises(ShapeError, match=r"(max|softmax).*agreement_cases\.py:\d+"):
        run_static(case, "cuda", dynamic)
