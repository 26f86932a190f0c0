"""`sg.scan` and everything about it (docs/scan.md).

- `op.py`: the `scan` primitive, tracing the user's step function
  (`sg.scan`, `sg.fori_loop`);
- `grad.py`: its gradient, a reverse scan (registered in `GRAD_RULES` here);
- `passes/`: Graph -> Graph rewrites of scans (reuse, seed, hoist, sink,
  shift), run once on the whole program by a backend that declares
  "scan_loops" (`staticgraph.passes.passes_for`);
- `loop/`: a scan equation lowered to one compiled loop (`lower_scan`, the
  numba backend's lowering entry for `scan_p`).
"""

from __future__ import annotations

from . import grad  # noqa: F401  (registers scan's gradient rule)
from .op import fori_loop, scan, scan_p, split_operands

__all__ = ["fori_loop", "scan", "scan_p", "split_operands"]
