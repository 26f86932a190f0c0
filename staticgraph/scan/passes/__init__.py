"""Graph -> Graph rewrites of scans, independent of any backend.

`SCAN_PASSES` run, in this order, on the whole program before fusion (see
`staticgraph.passes.passes_for`): reuse a forward scan's outputs in its
backward scan (`reuse.py`), seed a last-step-only cotangent into the carry
(`seed.py`), hoist loop-invariant and per-step-independent work out of the
loop (`hoist.py`), sink gradient accumulators after it (`sink.py`), and let
the weight-gradient GEMM read the saved outputs shifted instead of a
`delay` copy (`shift.py`). docs/scan.md, "The scan passes".
"""

from __future__ import annotations

from .hoist import hoist_scan_invariants
from .reuse import reuse_scan_outputs
from .seed import seed_first_step_cotangents
from .shift import shift_delayed_products
from .sink import sink_scan_accumulators

SCAN_PASSES = (("scan_reuse", reuse_scan_outputs), ("scan_seed", seed_first_step_cotangents),
               ("scan_hoist", hoist_scan_invariants), ("scan_sink", sink_scan_accumulators),
               ("scan_shift", shift_delayed_products))

__all__ = ["SCAN_PASSES", "hoist_scan_invariants", "reuse_scan_outputs",
           "seed_first_step_cotangents", "shift_delayed_products", "sink_scan_accumulators"]
