"""`dg.compile`: dyngraph code traced into staticgraph graphs and compiled.

See docs/compile.md. The tracer records the same shared_ops primitives the
eager engine runs, so a compiled function computes what eager computes.
"""

from __future__ import annotations

from .api import compile
from .compiled import CompiledFunction
from .errors import CompileWarning, TraceError
from .module import CompiledModule

__all__ = ["CompiledFunction", "CompiledModule", "CompileWarning", "TraceError", "compile"]
