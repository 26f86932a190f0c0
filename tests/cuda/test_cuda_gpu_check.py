"""benchmarks/gpu_check.py runs end to end at --tiny sizes (under the simulator
here; on a GPU machine it is the real check)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cudasim
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def test_gpu_check_tiny_runs_every_section(capsys):
    from benchmarks import gpu_check
    assert gpu_check.main(["--tiny", "--skip-tests", "--cpu-backend", "interpret"]) == 0
    out = capsys.readouterr().out
    assert "device: " in out
    for section in ("fused elementwise chain", "matmul", "tutorial training step",
                    "RNN BPTT training step"):
        assert f"## {section}" in out
    assert "FAILED" not in out and "0 failure(s)" in out
    assert "GFLOP/s" in out and "of copy" in out
