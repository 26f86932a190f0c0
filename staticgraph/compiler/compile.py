"""Entry point: a fused group -> a cached, compiled kernel."""

from __future__ import annotations

import time
from typing import Any

from .cache import KernelCache, cache_key
from .cpu import CpuTarget
from .group import FusedGroup
from .stats import GLOBAL_STATS, CompileStats, KernelRecord
from .target import Target

_default_cache: KernelCache | None = None
_kernels: dict[tuple, Any] = {}


def default_cache() -> KernelCache:
    """The process-wide cache in the default dir (created on first use)."""
    global _default_cache
    if _default_cache is None:
        _default_cache = KernelCache()
    return _default_cache


def compile_group(group: FusedGroup, target: Target | None = None,
                  cache: KernelCache | None = None, stats: CompileStats | None = None) -> Any:
    """Generate, cache and wrap the kernel of `group` (compiles lazily on first call).

    The same group compiled twice in a process returns the same kernel object.
    Numba compiles a variant on its first call; the costs land in `stats`
    (default `GLOBAL_STATS`) through the kernel's `record`.
    """
    target = target or CpuTarget()
    cache = cache or default_cache()
    memo = (group, target.cache_tag(), getattr(target, "parallel_min", None), cache)
    kernel = _kernels.get(memo)
    if kernel is not None:
        return kernel
    start = time.perf_counter()
    source = target.render_module(group)
    key = cache_key(source, target.cache_tag())
    generated = time.perf_counter()
    module, state = cache.load(key, source)
    record = KernelRecord(group.name, key, generated - start,
                          time.perf_counter() - generated, state)
    (stats if stats is not None else GLOBAL_STATS).add(record)
    kernel = _kernels[memo] = target.make_kernel(
        group, module, key=key, cache=cache, record=record, source=source)
    return kernel
