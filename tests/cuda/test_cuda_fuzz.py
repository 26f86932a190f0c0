"""Differential fuzzing on the CUDA backend (simulator process): random programs
from tests/fuzz agree with the interpreter in values and gradients, as the
main process checks for every other backend. Few, small programs: every
kernel runs in the simulator's Python. `CUDA_FUZZ_EXAMPLES` raises the count."""

from __future__ import annotations

import os

import pytest
from fuzz.check import check_program
from fuzz.generate import programs
from fuzz.printer import to_code
from hypothesis import HealthCheck, Phase, given, note, settings

pytestmark = pytest.mark.cudasim

EXAMPLES = int(os.environ.get("CUDA_FUZZ_EXAMPLES", "30"))


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs(max_steps=6, allow_scan=False))
def test_cuda_agrees_with_the_interpreter_on_random_programs(program):
    note(to_code(program))
    check_program(program, ["interpret", "cuda"], fd=False)
