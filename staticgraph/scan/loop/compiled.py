"""Each `scan` equation becomes one compiled loop (docs/scan.md).

- `compile_scan(eqn)` generates ONE njit function for the scan, whose body
  the pipeline has already optimised (fusion included): `for t in range(T)`
  with the body inside, fused kernels and matmuls called from compiled code,
  buffers allocated before the loop, so no Python runs per step
  (`codegen.py`, `emit.py`). Nested scans compile the same way and are
  called from the outer loop. The module is content-hashed into the
  compiler's disk cache (`KernelCache`), keyed by the body's structure,
  dtypes and ranks, never by sizes: every T and batch size runs the same
  machine code. `CompiledScan` is the callable.
- `lower_one(eqn)` is that, or NumPy copies for a body that computes nothing
  (`moves.py`), or a Python loop over the lowered body when the body holds
  an op the loop cannot express (`fallback.py`; `explain()` says which and
  why).
"""

from __future__ import annotations

import functools
import hashlib
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numba.core.errors import NumbaPerformanceWarning

from shared_ops import AbstractArray, DTypeError, ShapeError, format_site

from ...compiler import GLOBAL_STATS, KernelRecord, compile_group
from ...compiler.cache import cache_key
from ...compiler.compile import default_cache
from ...compiler.kernel import from_numba_cache
from ...compiler.stats import Specialisation
from ...graph.ir import Eqn, Graph
from ..op import split_operands
from . import blas
from .codegen import Unsupported, eqn_title, render_module, write_loop
from .emit import emit_eqn
from .fallback import FallbackScan
from .moves import MovesScan, moves_only
from .shapes import check_concrete

_RUNTIME_FILES = ("runtime.py", "blas.py")
refcount = sys.getrefcount
_FREE = 3  # getrefcount of an array held only by a list slot: the slot, a local, the argument


class ScanLoweringWarning(UserWarning):
    """A scan loop that was expected to compile fell back to a Python loop."""


@functools.cache
def fingerprint() -> str:
    """Hash of the helpers the generated loops call (part of the cache key)."""
    h = hashlib.sha256(numba.__version__.encode() + blas.identity().encode())
    for name in _RUNTIME_FILES:
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:16]


def _numba_type(aval) -> Any:
    return numba.types.Array(numba.from_dtype(np.dtype(aval.dtype)), len(aval.shape), "C")


def _as_arg(value, dtype: np.dtype) -> np.ndarray:
    """A writable C-contiguous array of `dtype` (one Numba specialisation for all)."""
    if type(value) is np.ndarray:
        flags = value.flags
        if flags.c_contiguous and flags.writeable and value.dtype == dtype:
            return value
        if value.dtype != dtype:
            raise DTypeError(f"scan: operand of dtype {value.dtype} where the graph has {dtype}")
    return np.array(value, dtype=dtype, order="C", copy=True)


class CompiledScan:
    """One scan equation as one njit loop function (see the module doc).

    Called from Python, it runs `scan_loop_into` with the stacked outputs
    allocated here: the arrays of the previous call with the same shapes are
    reused when nobody holds them any more (fresh multi-megabyte arrays cost
    a page fault per 4 KiB on first touch).
    """

    compiled = True

    def __init__(self, eqn: Eqn, body: Graph, module: Any, key: str, source: str,
                 record: KernelRecord, kernels: list, inners: list, cache: Any) -> None:
        self.eqn, self.body, self.module, self.key, self.cache = eqn, body, module, key, cache
        self.source, self.record, self.kernels, self.inners = source, record, kernels, inners
        self.fn = module.scan_loop_into
        self.dtypes = [np.dtype(v.dtype) for v in eqn.inputs]
        p = eqn.params
        self._split = (p["num_consts"], p["num_carry"])
        self._ys: dict[tuple, list] = {}  # input shapes -> [(shape, dtype)] of the ys
        self._last: dict[tuple, list] = {}  # input shapes -> the ys returned last time

    def signature(self) -> tuple:
        K = self._split[1]
        ys = [AbstractArray((None,) + tuple(v.shape), v.dtype) for v in self.body.outputs[K:]]
        return tuple(_numba_type(v.aval) for v in self.eqn.inputs) + \
            tuple(_numba_type(a) for a in ys)

    def compile(self) -> None:
        """Compile (or load from the disk cache) the one specialisation, now."""
        before = len(self.fn.overloads)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaPerformanceWarning)
            try:
                self.fn.compile(self.signature())
            except Exception as exc:
                if not from_numba_cache(exc):
                    raise
                self.cache.purge(self.key, f"Numba could not load it: {exc}")
                self.fn.compile(self.signature())
        if len(self.fn.overloads) != before:
            sig = list(self.fn.overloads)[-1]
            hit = self.fn.stats.cache_hits.get(sig, 0) > 0
            timers = {} if hit else self.fn.overloads[sig].metadata.get("timers", {})
            self.record.specialisations.append(Specialisation(
                "scan_loop", str(sig), time.perf_counter() - start,
                float(timers.get("llvm_lock", 0.0)), hit))
            if not hit:
                self.cache.record_numba_files(self.key)

    def check(self, args: list) -> list[tuple]:
        """Once per distinct input shapes: lengths agree, the body's shapes fit;
        the (shape, dtype) of each stacked output."""
        consts, carry, xs = split_operands(args, *self._split)
        lengths = {x.shape[0] if x.ndim else None for x in xs}
        if len(lengths) != 1 or None in lengths:
            raise ShapeError(f"scan: sequences have different lengths {sorted(lengths)}"
                             f"{created_at(self.eqn)}")
        for a, v in zip(args, self.eqn.inputs):
            if a.ndim != len(v.shape) or any(s is not None and s != n
                                             for s, n in zip(v.shape, a.shape)):
                raise ShapeError(f"scan: operand {v!r} has shape {a.shape} at run time"
                                 f"{created_at(self.eqn)}")
        avals = [AbstractArray(a.shape, a.dtype) for a in consts + carry]
        avals += [AbstractArray(x.shape[1:], x.dtype) for x in xs]
        try:
            outs = check_concrete(self.body, avals)
        except ShapeError as exc:
            raise ShapeError(f"{exc}{created_at(self.eqn)}") from None
        T = lengths.pop()
        return [((T,) + tuple(a.shape), np.dtype(a.dtype)) for a in outs[self._split[1]:]]

    def _outputs(self, key: tuple) -> list[np.ndarray]:
        last = self._last.get(key)
        if last is not None and all(refcount(a) <= _FREE for a in last):
            return last
        ys = [np.empty(shape, dtype) for shape, dtype in self._ys[key]]
        self._last[key] = ys
        return ys

    def __call__(self, *values) -> tuple:
        args = [_as_arg(v, d) for v, d in zip(values, self.dtypes)]
        key = tuple(a.shape for a in args)
        if key not in self._ys:
            if len(self._ys) >= 64:
                self._ys.clear()
                self._last.clear()
            self._ys[key] = self.check(args)
        return self.fn(*args, *self._outputs(key))

    def explain(self) -> str:
        kernels = ", ".join(k.group.name for k in self.kernels) or "none"
        lines = [f"scan {self.body.name}: compiled loop k_{self.key[:12]} "
                 f"({len(self.body.eqns)} body eqns; fused kernels: {kernels})"]
        lines += ["  " + s.replace("\n", "\n  ") for s in (i.explain() for i in self.inners)]
        return "\n".join(lines)


def created_at(eqn: Eqn) -> str:
    """' (scan created at file.py:12)', or '' when the site is unknown."""
    site = format_site(eqn.site)
    return f" (scan created at {site})" if site else ""


def compile_scan(eqn: Eqn, *, kernel_fn=compile_group, cache=None) -> CompiledScan:
    """Generate, cache, load and compile the loop function of one scan eqn (its
    body as the pipeline left it: fused groups become kernel calls).

    Raises `Unsupported` when the body cannot be compiled into the loop.
    """
    start = time.perf_counter()
    body, params = eqn.params["body"], eqn.params
    header: list[str] = []
    kernels: dict[int, tuple[str, Any]] = {}
    inners: list[CompiledScan] = []

    def kernel_global(group):
        kernel = kernel_fn(group)
        if id(kernel) not in kernels:
            prefix = f"_k{len(kernels)}"
            mod = kernel.module.__name__
            header.extend(f"{prefix}_{v} = sys.modules[{mod!r}].{v}  # {group.name}"
                          for v in ("flat", "nd", "rows") if v in kernel.fns)
            kernels[id(kernel)] = (prefix, kernel)
        return kernels[id(kernel)]

    def inner_global(inner_eqn):
        inner = compile_scan(inner_eqn, kernel_fn=kernel_fn, cache=cache)
        name = f"_s{len(inners)}"
        header.append(f"{name} = sys.modules[{inner.module.__name__!r}].scan_loop")
        inners.append(inner)
        return name

    more, fn_lines = write_loop(body, params, kernel_global, inner_global, emit_eqn)
    source = render_module(header + more, fn_lines, eqn_title(eqn))
    key = cache_key(source, f"scan-loop:{fingerprint()}")
    generated = time.perf_counter()
    cache = cache or default_cache()
    module, state = cache.load(key, source)
    record = KernelRecord(f"scan_loop {body.name}", key, generated - start,
                          time.perf_counter() - generated, state)
    GLOBAL_STATS.add(record)
    scan = CompiledScan(eqn, body, module, key, source, record,
                        [k for _, k in kernels.values()], inners, cache)
    scan.compile()
    return scan


def lower_one(eqn: Eqn, *, kernel_fn=compile_group, lower_graph=None,
              warn: bool = False) -> CompiledScan | MovesScan | FallbackScan:
    """The compiled loop of `eqn` (NumPy copies if its body computes nothing), or
    the Python-loop fallback when it cannot be compiled."""
    if moves_only(eqn):
        return MovesScan(eqn)
    try:
        return compile_scan(eqn, kernel_fn=kernel_fn)
    except Unsupported as exc:
        reason = str(exc)
    except numba.core.errors.NumbaError as exc:  # a bug in the generated code
        reason = f"Numba could not compile the generated loop: {str(exc).splitlines()[0]}"
        warn = True
    if warn:
        warnings.warn(f"scan{created_at(eqn)} runs as a Python loop: {reason}",
                      ScanLoweringWarning, stacklevel=2)
    return FallbackScan(eqn, eqn.params["body"], reason,
                        lambda e: lower_one(e, kernel_fn=kernel_fn), lower_graph)
