"""A scan equation lowered to one compiled loop (docs/scan.md, "Scan lowering").

`lower_scan(eqn, ctx)` is the numba backend's lowering entry for `scan_p`;
`lower_one(eqn)` the same lowering without a backend (tests, benchmarks):
a `CompiledScan` (one njit loop), a `MovesScan` (a body that only moves
data) or a `FallbackScan` (a Python loop over the lowered body).
"""

from __future__ import annotations

from .codegen import Unsupported
from .compiled import CompiledScan, ScanLoweringWarning, compile_scan, lower_one
from .fallback import FallbackScan, LoweredBodyEvaluator
from .lower import lower_scan
from .moves import MovesScan

__all__ = ["CompiledScan", "FallbackScan", "LoweredBodyEvaluator", "MovesScan",
           "ScanLoweringWarning", "Unsupported", "compile_scan", "lower_one", "lower_scan"]
