"""Lowerings of opaque primitives: one entry per Primitive, `fn(eqn, ctx)`.

`scan` is built in (`staticgraph.scan.loop.lower_scan`: one compiled loop);
another module adds its own (a custom op):

    from staticgraph.numba_backend import register_lowering

    def lower_my_op(eqn: Eqn, ctx: LoweringContext) -> Callable[..., Sequence[np.ndarray]]:
        ...                                   # build once, per equation, at compile time
        def run(*values):                     # one value per eqn.inputs entry
            return outs                       # one array per eqn.outputs entry
        run.source = "..."                    # optional: shown by f.source / explain()
        return run

    register_lowering(my_op_p, lower_my_op)

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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared_ops import Primitive, format_site

from ..graph.ir import Eqn, Graph
from ..scan.loop.lower import lower_scan
from ..scan.op import scan_p

OpaqueCallable = Callable[..., Sequence[np.ndarray]]
LoweringFn = Callable[[Eqn, "LoweringContext"], OpaqueCallable | None]

LOWERINGS: dict[Primitive, LoweringFn] = {scan_p: lower_scan}


def register_lowering(prim: Primitive, fn: LoweringFn, replace: bool = True) -> None:
    """Lower equations of `prim` with `fn(eqn, ctx)`.

    `fn` runs once per equation when a program is compiled and returns a
    callable `(*input_values) -> tuple of output arrays` (or None to decline).
    Raises TypeError when `prim` is not a Primitive (an op name finds no
    equation: the table is keyed by the primitive object), ValueError when
    `prim` has a lowering and `replace` is False.
    """
    if not isinstance(prim, Primitive):
        raise TypeError(f"register_lowering takes the Primitive, not {prim!r}")
    if prim in LOWERINGS and not replace:
        raise ValueError(f"a lowering for {prim.name!r} is already registered")
    LOWERINGS[prim] = fn


def unregister_lowering(prim: Primitive) -> None:
    """Remove a registered lowering (tests)."""
    LOWERINGS.pop(prim, None)


def lowering_for(eqn: Eqn) -> LoweringFn | None:
    """The lowering registered for the equation's primitive, if any."""
    return LOWERINGS.get(eqn.prim)


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
