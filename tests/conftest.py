"""Shared pytest setup: hypothesis profile, seeded RNG, dyngraph global state."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import dyngraph as dg

sys.path.insert(0, os.path.dirname(__file__))  # lets test files `import op_cases`
# numba sessions compile before their first run, so tests comparing backends test the
# compiled code from the first run on (tests/test_tiered.py turns tiering on itself)
os.environ.setdefault("GRAPHCOMPARE_TIERED", "0")

# Each test process compiles into its own kernel cache, never the user's, removed at exit
# (subprocesses the tests start inherit it, or get their own).
_KERNEL_CACHE = tempfile.mkdtemp(prefix="graphcompare-tests-")
os.environ["GRAPHCOMPARE_CACHE_DIR"] = _KERNEL_CACHE
atexit.register(shutil.rmtree, _KERNEL_CACHE, ignore_errors=True)

settings.register_profile(
    "default", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test (reproducible failures)."""
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _dyngraph_global_state():
    """Every test starts with grad mode on and float32 defaults, and must leave them so."""
    dg.set_default_dtype(np.float32)
    dg.manual_seed(0)
    yield
    grad_mode_leaked = not dg.is_grad_enabled()
    dtype_leaked = dg.get_default_dtype() != np.float32
    dg.set_grad_enabled(True)
    dg.set_default_dtype(np.float32)
    assert not grad_mode_leaked, "the test left grad mode disabled"
    assert not dtype_leaked, "the test left a non-default default dtype"
