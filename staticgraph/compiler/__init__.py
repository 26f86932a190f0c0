"""Fused-kernel compiler: target-neutral code generation, the CPU target, a disk cache.

Build a `FusedGroup` (by hand with `GroupBuilder`, or from the graph IR in an
adapter), `compile_group` it, and call the kernel with inputs and out
buffers::

    b = GroupBuilder("chain")
    x, a = b.input(1, np.float32), b.scalar(float)
    y = b.op("tanh", b.op("mul", x, a))
    kernel = compile_group(b.build(outputs=[y]))
    kernel(x_array, 0.5, out=(y_buffer,))

See docs/compiler.md for the design and measurements.
"""

from .cache import KernelCache, KernelCacheWarning, default_cache_dir
from .codegen import ElementCode, generate_element, render_element_function
from .compile import compile_group, default_cache
from .cpu import CpuTarget
from .group import FusedGroup, GroupBuilder, GroupInput, GroupStep, Reduction, Ref
from .kernel import CpuKernel
from .stats import GLOBAL_STATS, CompileStats, KernelRecord
from .target import Target

__all__ = [
    "GLOBAL_STATS", "CompileStats", "CpuKernel", "CpuTarget", "ElementCode", "FusedGroup",
    "GroupBuilder", "GroupInput", "GroupStep", "KernelCache", "KernelCacheWarning",
    "KernelRecord", "Reduction", "Ref", "Target", "compile_group", "default_cache",
    "default_cache_dir", "generate_element", "render_element_function",
]
