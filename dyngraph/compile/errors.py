"""The errors and warnings of `dg.compile` (see docs/errors.md)."""

from __future__ import annotations

from shared_ops.errors import GraphCompareError


class TraceError(GraphCompareError, RuntimeError):
    """Python code in a compiled function needs a value the trace does not have
    (`.item()`, `float(t)`, `.numpy()`, `bool(t)`, printing), or does something
    a trace cannot record. Raised with `fullgraph=True`; names the user's line."""


class CompileWarning(UserWarning):
    """A compiled function ran eagerly instead (`fullgraph=False`) because its
    trace could not be completed; issued once per compiled function and line."""
