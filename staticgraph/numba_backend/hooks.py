"""The opaque-op hook: how another module lowers a primitive this backend
does not know (scan's native loop, a custom op).

    from staticgraph.numba_backend import register_lowering

    def lower_scan(eqn: Eqn, ctx: LoweringContext) -> Callable[..., Sequence[np.ndarray]]:
        ...                                   # build once, per equation, at compile time
        def run(*values):                     # one value per eqn.inputs entry
            return outs                       # one array per eqn.outputs entry
        run.source = "..."                    # optional: shown by f.source / explain()
        return run

    register_lowering(scan_p, lower_scan)     # or register_lowering("scan", ...)

The generated orchestrator calls `run(*values)` where `values` are the
equation's inputs (arrays; literal Python scalars as they appear in
`eqn.inputs`). The returned arrays must not alias any input, and must not be
written by the callable later while a caller may still hold them: allocate
them per call, or reuse a buffer only while `sys.getrefcount` shows that
nobody else holds it (see `runtime.recycled`). `ctx` gives what a lowering
usually needs from the backend (see `LoweringContext`). A lowering that
returns `None` declines: the equation then runs through its `eval_with` /
`impl` fallback (subgraphs lowered by this backend).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared_ops import Primitive, format_site

from ..ir import Eqn, Graph

OpaqueCallable = Callable[..., Sequence[np.ndarray]]
LoweringFn = Callable[[Eqn, "LoweringContext"], OpaqueCallable | None]

LOWERINGS: dict[str, LoweringFn] = {}
# Modules of staticgraph whose `register()` registers lowerings with this backend;
# imported when the first program is compiled (an import error leaves the fallback).
BUILTIN_LOWERINGS = ("staticgraph.scan_lowering",)
_BUILTIN_ERRORS: dict[str, str] = {}


def register_lowering(prim: Primitive | str, fn: LoweringFn, replace: bool = True) -> None:
    """Lower equations of `prim` (a Primitive or its name) with `fn(eqn, ctx)`.

    `fn` runs once per equation when a program is compiled and returns a
    callable `(*input_values) -> tuple of output arrays` (or None to decline).
    """
    name = prim if isinstance(prim, str) else prim.name
    if name in LOWERINGS and not replace:
        raise ValueError(f"a lowering for {name!r} is already registered")
    LOWERINGS[name] = fn


def unregister_lowering(prim: Primitive | str) -> None:
    """Remove a registered lowering (tests)."""
    LOWERINGS.pop(prim if isinstance(prim, str) else prim.name, None)


@functools.cache
def register_builtin_lowerings() -> dict[str, str]:
    """Import the BUILTIN_LOWERINGS once; {module: error} for those that failed."""
    for name in BUILTIN_LOWERINGS:
        try:
            importlib.import_module(name).register()
        except Exception as exc:  # a module in progress must not break the backend
            _BUILTIN_ERRORS[name] = f"{type(exc).__name__}: {exc}"
    return _BUILTIN_ERRORS


def lowering_for(eqn: Eqn) -> LoweringFn | None:
    return LOWERINGS.get(eqn.prim.name)


@dataclass
class LoweringContext:
    """What the backend offers a lowering function.

    - `eqn`, `site` ('file.py:12', the user's line) and `check_numerics`;
    - `lower(graph) -> callable(*args) -> tuple`: a closed subgraph (a scan
      body) compiled by this backend into its own orchestrator (planned
      buffers, fused kernels); its outputs never alias its inputs;
    - `interpret(graph) -> callable(*args) -> list`: the reference interpreter;
    - `compile_group(group) -> kernel`: a fused kernel for this backend's target
      and cache, its compile costs reported by `explain()`;
    - `target`: the compiler `Target` in use (CPU here; CUDA for that backend);
    - `record(phase, seconds)` adds a compile cost; `note(text)` a line in
      `explain()`.
    """

    eqn: Eqn
    check_numerics: bool
    target: Any
    lower: Callable[[Graph], Callable[..., tuple]]
    interpret: Callable[[Graph], Callable[..., list]]
    compile_group: Callable[[Any], Any]
    record: Callable[[str, float], None]
    notes: list[str] = field(default_factory=list)

    @property
    def site(self) -> str:
        return format_site(self.eqn.site)

    def note(self, text: str) -> None:
        self.notes.append(text)
