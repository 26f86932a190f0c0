"""`dg.compile(fn_or_module, *, backend, dynamic, fullgraph, autograph)`."""

from __future__ import annotations

import functools

from ..nn.modules import Module
from .compiled import CompiledFunction
from .module import CompiledModule


def compile(fn=None, *, backend: str = "numba", dynamic: bool = False,
            fullgraph: bool = True, autograph: bool = False):
    """Trace `fn` (a function or a `dg.nn.Module`) into static graphs on first call
    and run the compiled graphs after; usable as `@dg.compile` or
    `@dg.compile(backend="interpret", ...)`. See docs/compile.md."""
    if fn is None:
        return functools.partial(compile, backend=backend, dynamic=dynamic,
                                 fullgraph=fullgraph, autograph=autograph)
    if isinstance(fn, Module):
        return CompiledModule(fn, backend=backend, dynamic=dynamic, fullgraph=fullgraph,
                              autograph=autograph)
    return CompiledFunction(fn, backend=backend, dynamic=dynamic, fullgraph=fullgraph,
                            autograph=autograph)
