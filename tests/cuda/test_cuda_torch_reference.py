"""backend="cuda" against PyTorch's stored values and gradients
(tests/torch_reference/references.npz) for a few cases of the shared table:
elementwise kernels, a reduction, einsum, bmm, convolution and pooling."""

from __future__ import annotations

import pytest
from torch_reference import CASES
from torch_reference.cases import check, load_references, run_static, stored_case_arrays

pytestmark = pytest.mark.cudasim

CUDA_CASES = ["sin-cos", "log1p", "logsumexp", "einsum-sublist", "bmm", "conv2d",
              "max_pool2d-dilation"]


def test_the_cases_have_a_static_spelling():
    assert all(CASES[name].sg_fn is not None for name in CUDA_CASES)


@pytest.mark.parametrize("name", CUDA_CASES)
def test_cuda_matches_stored_torch(name):
    case, arrays = CASES[name], stored_case_arrays(load_references(), name)
    inputs = [arrays[f"x{i}"] for i in range(len(case.shapes))]
    check(case, run_static(case, inputs, arrays["weights"], "cuda"), arrays)
