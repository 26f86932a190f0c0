"""The CUDA tests: run in their own pytest process under the Numba CUDA simulator
(`NUMBA_ENABLE_CUDASIM=1 python -m pytest -m cudasim tests/cuda`, part of
`make test`), or on a real GPU (`benchmarks/gpu_check.py` runs them without
the simulator). Anywhere else (the main test process on a machine without a
GPU) every test here is skipped, and nothing imports numba.cuda in
simulator mode.

Every test here is marked `cudasim`; tests marked `gpu` need a real GPU and
skip under the simulator.
"""

from __future__ import annotations

import os
import tempfile

import pytest

from staticgraph.cuda_backend import device

SIMULATOR = device.simulator_enabled()
if SIMULATOR:
    device.allow_simulator()  # the simulator stands in for the GPU in these tests
    os.environ.setdefault("GRAPHCOMPARE_CACHE_DIR", tempfile.mkdtemp(prefix="gc-cudasim-"))
USABLE, REASON = device.cuda_status()


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    for item in items:
        if not str(item.fspath).startswith(here):
            continue
        item.add_marker(pytest.mark.cudasim)
        if not USABLE:
            item.add_marker(pytest.mark.skip(reason=f"no CUDA device or simulator: {REASON}"))
        elif SIMULATOR and item.get_closest_marker("gpu"):
            item.add_marker(pytest.mark.skip(reason="needs a real GPU (simulator active)"))
