"""Shared by tests/test_numba_backend*.py: a session-wide temporary kernel cache dir,
and helpers that run one program through the interpreter and the numba backend.

Import the fixture into a test module (`from numba_backend_util import numba_cache_dir`)
to use it there; it is session-scoped, so every module shares one directory
(and its compiled kernels).
"""

from __future__ import annotations

import numpy as np
import pytest

import staticgraph as sg
from staticgraph.compiler.cache import ENV_VAR


@pytest.fixture(scope="session", autouse=True)
def numba_cache_dir(tmp_path_factory):
    """Point the kernel cache at a fresh temporary dir for the whole session."""
    path = tmp_path_factory.mktemp("graphcompare-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_VAR, str(path))
        yield path


def tolerance(dtype) -> dict:
    """float64: tight (vector exp/tanh are within a few ulp, sums reassociate);
    float32: looser."""
    if np.dtype(dtype) == np.float32:
        return {"rtol": 2e-5, "atol": 1e-6}
    return {"rtol": 1e-11, "atol": 1e-12}


def assert_close(got, want, dtype=np.float64) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if got.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, **tolerance(dtype))
    else:
        np.testing.assert_array_equal(got, want)


def run_both(graph: sg.Graph, fetches, feed: dict, steps: int = 1) -> tuple[list, list]:
    """Values of `fetches` after `steps` runs in an interpreter and a numba session."""
    results = []
    for backend in ("interpret", "numba"):
        with sg.Session(graph, backend=backend) as sess:
            for _ in range(steps):
                values = sess.run(fetches, feed)
        results.append(values)
    return results[0], results[1]
