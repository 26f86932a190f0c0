"""Counting ops and measuring memory, switched on only inside a measurement.

`count_ops` wraps, for the duration of a `with` block, every primitive's
`impl` (each call is one NumPy kernel: forward ops, the ops VJP rules run in
backward, in-place optimizer updates) and reads how far dyngraph's node
sequence counter moved (every tape node, primitive or custom Function, takes
the next number). Everything is restored on exit; the engines are never edited. Timed runs
never happen inside it: the wrappers cost time.

`measure_memory` reports the tracemalloc peak (NumPy registers its buffers
with tracemalloc, so this covers arrays and Python objects) or, for
libraries with their own allocator (PyTorch, JAX), the growth of the
process's resident set size.
"""

from __future__ import annotations

import importlib
import os
import sys
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

try:
    import resource  # POSIX only
except ImportError:  # Windows
    resource = None


@dataclass
class OpCounts:
    """Kernels run (primitive impl calls) and tape nodes recorded."""

    kernels: int = 0
    tape_nodes: int = 0


def _counting(fn, counts: OpCounts, field: str):
    def wrapper(*args, **kwargs):
        setattr(counts, field, getattr(counts, field) + 1)
        return fn(*args, **kwargs)
    return wrapper


@contextmanager
def count_ops() -> Iterator[OpCounts]:
    """Count primitive kernels and dyngraph tape nodes inside the block."""
    from shared_ops import REGISTRY

    next_seq = importlib.import_module("dyngraph.node").next_seq

    counts = OpCounts()
    saved_impls = {name: prim.impl for name, prim in REGISTRY.items()}
    first = next_seq()
    try:
        for prim in REGISTRY.values():
            prim.impl = _counting(prim.impl, counts, "kernels")
        yield counts
    finally:
        counts.tape_nodes = next_seq() - first - 1
        for name, impl in saved_impls.items():
            REGISTRY[name].impl = impl


@dataclass
class Memory:
    """Peak extra memory of a block and how it was measured."""

    peak_bytes: int = 0
    method: str = "tracemalloc"


def current_rss() -> int:
    """Resident set size of this process in bytes (Linux /proc, else ru_maxrss)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    if resource is None:  # Windows: no cheap RSS reading without extra packages
        return 0
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


@contextmanager
def measure_memory(method: str = "tracemalloc") -> Iterator[Memory]:
    """Peak bytes allocated in the block ("tracemalloc") or RSS growth ("rss")."""
    memory = Memory(method=method)
    if method == "rss":
        before = current_rss()
        try:
            yield memory
        finally:
            memory.peak_bytes = max(current_rss() - before, 0)
        return
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield memory
    finally:
        memory.peak_bytes = max(tracemalloc.get_traced_memory()[1] - base, 0)
        if not was_tracing:
            tracemalloc.stop()
