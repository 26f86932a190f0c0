"""`NumbaRunner`: the "numba" backend (see the package doc for the design)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from shared_ops.errors import GraphCompareError

from ..graph.ir import Graph, Var
from ..passes import optimize, passes_for
from . import gemm, program_cache
from .explain import describe
from .program import Compilation, lower_program, op_error
from .runtime import entrust_arrays


def capabilities() -> frozenset[str]:
    """What this backend lowers natively, which enables passes (`passes_for`):
    scans as compiled loops; `gemm_update` as one BLAS call where NumPy's
    BLAS offers it."""
    return frozenset({"scan_loops"} | ({"gemm_update"} if gemm.available() else set()))


class NumbaRunner:
    """A program optimised, planned and lowered to a generated orchestrator.

    `runner(inputs, state)` runs it (the `backends.Runner` contract);
    `runner.source` is the generated Python (orchestrators, then the fused
    kernels they call); `runner.explain()` the passes, fused groups, memory
    plan, compile costs and source.
    """

    backend_name = "numba"

    def __init__(self, program: Graph, *, check_numerics: bool = False, target: Any = None,
                 passes=None) -> None:
        self.program = program
        self.check_numerics = check_numerics
        self.extra_phases: dict[str, float] = {}
        begin = time.perf_counter()
        self.capabilities = capabilities()
        if passes is None:
            passes = passes_for(self.capabilities)
        start = time.perf_counter()
        self.optimized, self.report = optimize(program, passes)
        self.comp = Compilation(check_numerics, target)
        self.comp.add_phase("passes", time.perf_counter() - start)
        self.lowered = lower_program(program, self.optimized, self.comp)
        self._run = self.lowered.fn
        self.program_cache = program_cache.record(self)
        self.init_seconds = time.perf_counter() - begin

    def __call__(self, inputs: Sequence[np.ndarray], state: dict[Var, np.ndarray]) -> list:
        try:
            if self.check_numerics:  # NaN/Inf are reported by the checks, naming the op
                with np.errstate(all="ignore"):
                    return self._run(inputs, state)
            return self._run(inputs, state)
        except GraphCompareError:
            raise
        except Exception as exc:  # NumPy raised inside generated code: name the op
            mapped = op_error(self.comp, exc)
            if mapped is None:
                raise
            raise mapped from None

    def record_phase(self, name: str, seconds: float) -> None:
        """A compile cost measured by the caller (the session's program extraction)."""
        self.extra_phases[name] = self.extra_phases.get(name, 0.0) + seconds

    @property
    def state_written_early(self) -> list[Var] | None:
        """The variables a run may have written when it raises: written in place
        by kernels before a line that may raise (a NumPy fallback, a registered
        lowering, a numerics check). The other updates are written by kernels
        with nothing fallible after them, or committed at the end by copies that
        cannot fail. None when that is not known (an update of run-time shape):
        a transaction backs up every target."""
        lowering = self.lowered.lowering
        plan = lowering.plan
        for _, value in self.optimized.updates:
            if value not in plan.into_variable and value in lowering.dynamic:
                return None
        return list(lowering.written_before_fallible)

    @staticmethod
    def entrust(arrays) -> None:
        """Let runs write these state arrays in place (the caller wants its own
        storage updated, as an eager in-place step does); others are copied first."""
        entrust_arrays(arrays)

    @property
    def plan(self):
        """The memory plan of the optimised program."""
        return self.lowered.lowering.plan

    @property
    def kernels(self) -> list:
        return list(self.comp.kernels)

    @property
    def phases(self) -> dict[str, float]:
        """Top-level compile costs so far, in pipeline order (seconds; nested
        phases are inside these, see `comp.tree`)."""
        other = max(self.init_seconds - self.comp.tree.total, 0.0)
        return {**self.extra_phases, **self.comp.phases, "runner setup (other)": other,
                **self.first_call_phases}

    @property
    def first_call_phases(self) -> dict[str, float]:
        return {f"first call: {k}": v for k, v in self.comp.first_call.items()
                if k != "kernel specialisations"}

    @property
    def compile_seconds(self) -> float:
        return sum(self.phases.values())

    @property
    def source(self) -> str:
        """The generated orchestrators (program first, then subgraphs) and kernels."""
        graphs = self.comp.graphs[-1:] + self.comp.graphs[:-1]  # the program first
        parts = [f"# ---- orchestrator: {g.graph.name or 'graph'}\n{g.source}" for g in graphs]
        parts += [f"# ---- registered lowering {label}\n{src}"
                  for label, src in self.comp.sources]
        parts += [f"# ---- kernel {k.group.name} (k_{k.key})\n{k.source}"
                  for k in self.comp.kernels]
        return "\n".join(parts)

    def explain(self, brief: bool = False) -> str:
        """Passes, fused groups, memory plan, compile costs as a tree, notes and
        the generated source; `brief=True`: one screen (costs two levels deep)."""
        return describe(self, brief)
