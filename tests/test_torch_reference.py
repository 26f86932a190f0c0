"""dyngraph and staticgraph against PyTorch's stored values and gradients
(tests/torch_reference/references.npz, float64), without torch installed.

Each case of the shared table (tests/torch_reference/) runs on dyngraph and,
where staticgraph has the op, on the interpreter and the numba backend. Where
torch is installed, the references are recomputed and must equal the file.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from numba_backend_util import numba_cache_dir  # noqa: F401
from torch_reference import CASES
from torch_reference.cases import (
    REGENERATE,
    check,
    load_references,
    run_dyngraph,
    run_static,
    stored_case_arrays,
)

STATIC = sorted(name for name, case in CASES.items() if case.sg_fn is not None)


@pytest.fixture(scope="module")
def stored() -> dict:
    return load_references()


def test_the_file_holds_every_case_and_nothing_else(stored):
    names = {k.split("/")[0] for k in stored if k != "torch_version"}
    assert names == set(CASES), REGENERATE
    assert str(stored["torch_version"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_dyngraph_matches_stored_torch(name, stored):
    case, arrays = CASES[name], stored_case_arrays(stored, name)
    check(case, run_dyngraph(case, arrays), arrays)


@pytest.mark.parametrize("backend", ["interpret", "numba"])
@pytest.mark.parametrize("name", STATIC)
def test_staticgraph_matches_stored_torch(name, backend, stored):
    case, arrays = CASES[name], stored_case_arrays(stored, name)
    inputs = [arrays[f"x{i}"] for i in range(len(case.shapes))]
    check(case, run_static(case, inputs, arrays["weights"], backend), arrays)


def test_stored_references_equal_a_fresh_torch_run(stored):
    pytest.importorskip("torch")
    from torch_reference.generate import reference_arrays

    fresh = reference_arrays()
    assert sorted(fresh) == sorted(stored), REGENERATE
    for key, want in stored.items():
        if key == "torch_version":
            continue  # another torch version may compute the same numbers
        what = key.split("/", 1)[1]
        if what == "weights" or what.startswith("param/") or re.fullmatch(r"x\d+", what):
            np.testing.assert_array_equal(fresh[key], want, err_msg=f"{key}: {REGENERATE}")
        else:  # torch's own results: equal up to rounding
            np.testing.assert_allclose(fresh[key], want, rtol=1e-12, atol=1e-14,
                                       err_msg=f"{key}: {REGENERATE}")
