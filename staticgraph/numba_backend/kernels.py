"""Lowering of fused equations (and lone elementwise ops) to direct kernel calls.

The kernel comes from `compile_group` (disk-cached, size-generic). The
orchestrator calls one of its Numba variants directly, with the planned
buffers, skipping the checking wrapper (about 0.7 us instead of 5 us):

    K0(n0, t5_flat, t6_flat)                   # flat: same-shape contiguous arrays
    K1(s1, t7, y, C0, t17, loss.reshape(-1))   # nd: broadcasting, strided views

Which variant (`flat` or `nd`, serial or `_par` from `parallel_min`
elements) and its extent (`n` or the loop shape) are per-key entries of
`_B`. An orchestrator that calls BLAS keeps its kernels serial: BLAS's
thread pool is then the step's one pool, and a `prange` kernel's pool
(Numba's threading layer) between two matmuls would compete with OpenBLAS's
workers, which spin on the cores after each call (docs/compiler.md,
"Lowering"). The kernels do not bounds-check, so each key checks every array
against the kernel's broadcast pattern first (`prepare.check_kernel_shapes`);
a key that does not fit runs through the interpreter. The first call of a
key goes through `CpuKernel.launch`, which records the compile or cache load.
Values without planned storage (data-dependent shapes) use the checking
wrapper on fresh arrays instead.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..compiler.kernel import pattern_shape
from ..graph.ir import Eqn, Var
from .choice import VariantChoice
from .prepare import KeyBuffers, check_kernel_shapes


def _launch(kernel: Any, variant: str, *args: Any) -> None:
    kernel.launch(variant, list(args))


def fused_fresh(kernel: Any, *inputs: Any) -> list[np.ndarray]:
    """Run a kernel through its checking wrapper into newly allocated outputs."""
    group = kernel.group
    loop = kernel.loop_shape(inputs)
    outs = []
    for k in group.outputs:
        rank, bcast = group.step_pattern(k)
        outs.append(np.empty(pattern_shape(rank, bcast, loop), group.step_dtype(k)))
    if group.reduction is not None:
        outs.append(np.empty(group.reduction_shape(loop), group.reduction_dtype()))
    kernel(*inputs, out=outs)
    return outs


def is_plain(kernel: Any) -> bool:
    """Every array has the loop's full shape (no broadcasting) and any reduction
    is over all axes: the flat variant applies."""
    group, n = kernel.group, kernel.group.ndim
    ins = all(i.ndim == n and not i.broadcast for i in group.inputs if not i.scalar and i.ndim)
    outs = all(group.step_pattern(k) == (n, ()) for k in group.outputs)
    return ins and outs and "flat" in kernel.fns


class KernelSite:
    """One call of a kernel in the orchestrator: checks and picks per key.

    `calls_blas()` says whether the orchestrator calls BLAS (asked per key,
    once the whole orchestrator is written): then no parallel variant.
    """

    def __init__(self, kernel: Any, eqn: Eqn, flat: bool,
                 calls_blas: Callable[[], bool] = lambda: False) -> None:
        self.kernel, self.eqn, self.flat = kernel, eqn, flat
        self.calls_blas = calls_blas

    def loop(self, kb: KeyBuffers) -> tuple[int, ...]:
        key = ("loop", id(self))
        if key not in kb.memo:
            ins = [kb.shapes[x] if isinstance(x, Var) else () for x in self.eqn.inputs]
            outs = [kb.shapes[v] for v in self.eqn.outputs]
            kb.memo[key] = check_kernel_shapes(self.kernel.group, ins, outs)
        return kb.memo[key]

    def variants(self, kb: KeyBuffers) -> tuple[str, str | None]:
        """(serial variant, parallel variant or None) for this key's loop size."""
        serial = "flat" if self.flat else "nd"
        par = serial + "_par"
        big = math.prod(self.loop(kb)) >= self.kernel.parallel_min
        return serial, par if big and par in self.kernel.fns and not self.calls_blas() else None

    def fn(self, kb: KeyBuffers) -> Any:
        """The serial variant; for a large loop, a `VariantChoice` of both."""
        serial, par = self.variants(kb)
        key = ("fn", id(self))
        if key not in kb.memo:
            kb.memo[key] = self.kernel.fns[serial] if par is None else \
                VariantChoice(self.kernel, serial, par)
        return kb.memo[key]

    def recording_fn(self, kb: KeyBuffers) -> Any:
        serial, par = self.variants(kb)
        if par is not None:
            return self.fn(kb)  # records each variant's first call itself
        return functools.partial(_launch, self.kernel, serial)

    def extent(self, kb: KeyBuffers) -> Any:
        loop = self.loop(kb)
        return math.prod(loop) if self.flat else loop

    def kshape(self, kb: KeyBuffers) -> tuple[int, ...]:
        """The reduction buffer's shape in the nd variant (keepdims)."""
        axes = self.kernel.group.reduction.axes
        return tuple(1 if d in axes else s for d, s in enumerate(self.loop(kb)))


def lower_kernel(lw, eqn: Eqn, kernel: Any, label: str) -> None:
    """Emit the call of `kernel` computing `eqn`'s outputs (see the module doc)."""
    group = kernel.group
    outs = list(eqn.outputs)
    if any(lw.storage_kind(v) is None for v in outs) or any(
            x in lw.dynamic for x in eqn.in_vars):
        name = lw.global_("FRESH", functools.partial(fused_fresh, kernel))
        lw.emit(f"{''.join(lw.name_for(v) + ', ' for v in outs)}= "
                f"{name}({', '.join(lw.expr(x) for x in eqn.inputs)})  # {label}")
        for v in outs:
            lw.bind(v, lw.names[v], ("fresh", v))
        return
    flat = is_plain(kernel) and all(lw.contig.get(x, True) for x in eqn.in_vars)
    site = KernelSite(kernel, eqn, flat, lambda: bool(lw.matmuls))
    fn = lw.entry(f"k_{group.name.removeprefix('fused_')}", site.fn, site.recording_fn)
    extent = lw.entry(f"{fn}_n" if flat else f"{fn}_shape", site.extent)
    for v in outs:
        lw.out_array(v)
    args = [_input_arg(lw, x, inp, flat) for x, inp in zip(eqn.inputs, group.inputs)]
    n_elem = len(group.outputs)
    for v in outs[:n_elem]:
        args.append(lw.flat(v) if flat or len(v.shape) == 0 else lw.names[v])
    if group.reduction is not None:
        red = outs[-1]
        args.append(lw.flat(red) if flat else _reduction_arg(lw, red, site))
    lw.emit(f"{fn}({extent}, {', '.join(args)})  # {label}")
    if lw.check:
        check = lw.global_("CHECK", lw.comp.numerics_check(eqn))
        lw.emit(f"{check}(({''.join(lw.names[v] + ', ' for v in outs)}), "
                f"({''.join(lw.expr(x) + ', ' for x in eqn.inputs)}))")


def _input_arg(lw, x, inp, flat: bool) -> str:
    if not isinstance(x, Var):
        return lw.expr(x)
    if not inp.scalar and inp.ndim == 0:
        return f"{lw.names[x]}[()]"
    return lw.flat(x) if flat else lw.names[x]


def _reduction_arg(lw, red: Var, site: KernelSite) -> str:
    """The reduction buffer viewed with keepdims shape (nd variant)."""
    reduction = site.kernel.group.reduction
    if reduction.keepdims:
        return lw.names[red]
    if lw.root[red][0] == "slot":
        return lw.entry(f"{lw.names[red]}_keep",
                        lambda kb: kb.view(red).reshape(site.kshape(kb)))
    shape = lw.entry(f"{lw.names[red]}_kshape", site.kshape)
    return f"{lw.names[red]}.reshape({shape})"
