"""Rewrite passes over staticgraph programs and the `optimize` pipeline.

Each pass is a function `Graph -> Graph` that never mutates its input and
also rewrites control-flow subgraphs (cond branches). `optimize(program)`
runs `DEFAULT_PASSES` (or a backend's `passes_for(capabilities)`) with
`check_graph` after each one and returns the new
graph and an `OptimizeReport` (node counts and time per pass, fused groups
with their user lines). `plan_memory(program)` is an analysis: the buffer
plan a lowering uses. See docs/compiler.md, section "Passes".
"""

from __future__ import annotations

from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .fold import MAX_FOLD_ELEMENTS, fold_constants
from .fused_op import build_group, fused_p, make_fused_eqn, to_compiler_group
from .fusion import fuse_elementwise
from .keys import graph_key, params_key, value_key
from .memcheck import PlanViolation, simulate_plan
from .memory import MemoryPlan, Slot, plan_memory
from .pipeline import (
    CAPABILITIES,
    DEFAULT_PASSES,
    OptimizeReport,
    PassRecord,
    optimize,
    passes_for,
)
from .simplify import simplify
from .simplify_rules import RULES
from .symbolic import Monomial, infer_shapes

__all__ = [
    "CAPABILITIES", "DEFAULT_PASSES", "MAX_FOLD_ELEMENTS", "RULES", "MemoryPlan", "Monomial",
    "OptimizeReport", "PassRecord", "PlanViolation", "Slot", "build_group",
    "eliminate_common_subexpressions", "eliminate_dead_code", "fold_constants",
    "fuse_elementwise", "fused_p", "graph_key", "infer_shapes", "make_fused_eqn", "optimize",
    "params_key", "passes_for", "plan_memory", "simplify", "simulate_plan",
    "to_compiler_group", "value_key",
]
