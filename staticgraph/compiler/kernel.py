"""The callable CPU kernel: checks arguments, picks a variant, records compiles.

`kernel(*inputs, out=(out0, ..., [red]))` writes the group's outputs into the
caller's buffers (elementwise outputs in `group.outputs` order, then the
reduction's output) and returns them. Nothing is allocated but array views.

Variant choice per call: `flat` when every array argument has the loop's
full shape and is C-contiguous (and any reduction is over all axes), else
`nd`; the `_par` version when the loop has at least `parallel_min` elements.
Adapters that validated shapes ahead of time may call `kernel.fns[name]`
directly with the documented signature (see `cpu_skeleton`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .cache import KernelCache
from .group import FusedGroup
from .stats import KernelRecord, Specialisation


def from_numba_cache(exc: BaseException) -> bool:
    """Did `exc` come out of Numba's cache loading (a corrupted file)?"""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(("caching.py", "serialize.py")):
            return True
        tb = tb.tb_next
    return False


class CpuKernel:
    """A compiled fused group for the CPU target."""

    def __init__(self, group: FusedGroup, module: Any, *, key: str, cache: KernelCache,
                 record: KernelRecord, source: str, parallel_min: int) -> None:
        self.group, self.module, self.key, self.cache = group, module, key, cache
        self.record, self.source, self.parallel_min = record, source, parallel_min
        self.fns = {name: getattr(module, name) for name in module.VARIANTS}
        self._arrays = [j for j, i in enumerate(group.inputs) if not i.scalar and i.ndim]
        self._zero_d = [j for j, i in enumerate(group.inputs) if not i.scalar and not i.ndim]
        self._out_patterns = [group.step_pattern(k) for k in group.outputs]
        self.n_out = len(group.outputs) + (group.reduction is not None)
        n = group.ndim
        self._plain = all(group.inputs[j].ndim == n and not group.inputs[j].broadcast
                          for j in self._arrays) and all(
            p == (n, ()) for p in self._out_patterns)  # every array has the loop's shape

    def __repr__(self) -> str:
        return f"<CpuKernel {self.group.name} k_{self.key[:12]} {tuple(self.fns)}>"

    # ---- shapes -------------------------------------------------------------

    def loop_shape(self, inputs: tuple) -> tuple[int, ...]:
        """The broadcast shape of the array inputs (the loop nest's extents)."""
        shapes = [inputs[j].shape for j in self._arrays]
        if shapes and all(s == shapes[0] for s in shapes) and len(shapes[0]) == self.group.ndim:
            return shapes[0]
        shape = np.broadcast_shapes(*shapes) if shapes else ()
        return (1,) * (self.group.ndim - len(shape)) + tuple(shape)

    def _check(self, inputs: tuple, outs: tuple, shape: tuple[int, ...]) -> None:
        """Shapes must match the kernel's pattern: it does not bounds-check."""
        n = len(shape)
        if self._plain and self.group.reduction is None and all(
                inputs[j].shape == shape for j in self._arrays) and all(
                o.shape == shape for o in outs):
            return
        for j in self._arrays:
            inp = self.group.inputs[j]
            want = pattern_shape(inp.ndim, inp.broadcast, shape)
            if inputs[j].ndim != inp.ndim or inputs[j].shape != want:
                raise ValueError(f"{self.group.name}: input x{j} has shape {inputs[j].shape}, "
                                 f"the kernel expects {want}")
        for m, (rank, bcast) in enumerate(self._out_patterns):
            want = pattern_shape(rank, bcast, shape)
            if outs[m].shape != want:
                raise ValueError(f"{self.group.name}: out[{m}] has shape {outs[m].shape}, "
                                 f"expected {want}")
        if self.group.reduction is not None:
            red, want = outs[-1], self.group.reduction_shape(shape)
            if red.shape != want or not red.flags.c_contiguous:
                raise ValueError(f"{self.group.name}: reduction out has shape {red.shape}, "
                                 f"expected a C-contiguous {want}")
        if n != self.group.ndim:
            raise ValueError(f"{self.group.name}: loop rank {n} != {self.group.ndim}")

    # ---- calling ------------------------------------------------------------

    def __call__(self, *inputs: Any, out: tuple | list) -> tuple:
        if len(inputs) != len(self.group.inputs) or len(out) != self.n_out:
            raise TypeError(f"{self.group.name}: expected {len(self.group.inputs)} inputs and "
                            f"{self.n_out} out buffers")
        out = tuple(out)
        shape = self.loop_shape(inputs)
        self._check(inputs, out, shape)
        variant, args = self.arguments(inputs, out, shape)
        self.launch(variant, args)
        return out

    def arguments(self, inputs: tuple, out: tuple, shape: tuple[int, ...]) -> tuple[str, list]:
        """(variant name, argument list) for one call."""
        size = math.prod(shape)
        values = list(inputs)
        for j in self._zero_d:
            values[j] = np.asarray(values[j])[()]
        n_elem = len(self.group.outputs)
        full = [values[j] for j in self._arrays] + list(out[:n_elem])
        flat = "flat" in self.fns and all(
            a.shape == shape and a.flags.c_contiguous for a in full)
        par = "_par" if size >= self.parallel_min else ""
        red = [] if self.group.reduction is None else [out[-1]]
        if flat:
            for j in self._arrays:
                values[j] = values[j].reshape(-1)
            elem = [o.reshape(-1) for o in out[:n_elem]]
            return "flat" + par, [size, *values, *elem, *(r.reshape(1) for r in red)]
        kshape = tuple(1 if d in self.group.reduction.axes else s
                       for d, s in enumerate(shape)) if red else ()
        variant = "nd" + par if "nd" + par in self.fns else "nd"
        elem = [o if o.ndim else o.reshape(1) for o in out[:n_elem]]  # 0-d: written at [0]
        return variant, [shape, *values, *elem, *(r.reshape(kshape) for r in red)]

    def launch(self, variant: str, args: list) -> None:
        """Run one variant; on its first compile (or cache load) record the cost."""
        fn = self.fns[variant]
        before = len(fn.overloads)
        start = time.perf_counter()
        try:
            fn(*args)
        except Exception as exc:
            if not from_numba_cache(exc):
                raise
            self.cache.purge(self.key, f"Numba could not load it: {type(exc).__name__}")
            fn(*args)
        if len(fn.overloads) != before:
            self._record(variant, fn, time.perf_counter() - start)

    def _record(self, variant: str, fn: Any, seconds: float) -> None:
        sig = list(fn.overloads)[-1]
        from_cache = fn.stats.cache_hits.get(sig, 0) > 0
        timers = fn.overloads[sig].metadata.get("timers", {}) if not from_cache else {}
        self.record.specialisations.append(Specialisation(
            variant, str(sig), seconds, float(timers.get("llvm_lock", 0.0)), from_cache))
        if not from_cache:
            self.cache.record_numba_files(self.key)


def pattern_shape(rank: int, bcast: tuple[int, ...], loop: tuple[int, ...]) -> tuple:
    """The shape an array of (rank, broadcast dims) must have in a loop of `loop`."""
    off = len(loop) - rank
    return tuple(1 if d in bcast else loop[d + off] for d in range(rank))
