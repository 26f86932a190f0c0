"""The CPU target: njit loop skeletons around the shared element code."""

from __future__ import annotations

import functools
import os
from typing import Any

import llvmlite.binding as llvm
import numpy as np
from numba.core import config as numba_config

from . import cpu_skeleton, vecmath
from .codegen import ElementCode, literal_source
from .group import FusedGroup
from .kernel import CpuKernel
from .target import Target

PARALLEL_MIN_ENV = "GRAPHCOMPARE_PARALLEL_MIN"
DEFAULT_PARALLEL_MIN = 1 << 17


class CpuTarget(Target):
    """Numba CPU target.

    `vector_math=True` (default) computes exp/tanh/sigmoid with the
    vectorisable `vecmath` functions (<= 1.34 ulp for exp/tanh, 2.3 ulp for
    sigmoid; docs/compiler.md) and lets LLVM contract a*b+c into FMAs;
    `False` uses libm (`math.exp`, scalar calls) and strict IEEE arithmetic.
    Loops of at least `parallel_min` elements run on all cores (`prange`).
    `wide_vectors` (default: when the CPU Numba compiles for has AVX-512)
    vectorises the loops with 512-bit registers (`runtime.prefer_wide_vectors`).
    """

    name = "cpu"

    def __init__(self, inline: bool = True, vector_math: bool = True,
                 parallel_min: int | None = None, wide_vectors: bool | None = None) -> None:
        super().__init__(inline)
        self.vector_math = vector_math
        self.wide_vectors = has_avx512() if wide_vectors is None else wide_vectors
        if parallel_min is None:
            parallel_min = int(os.environ.get(PARALLEL_MIN_ENV, DEFAULT_PARALLEL_MIN))
        self.parallel_min = parallel_min

    def cache_tag(self) -> str:
        return (f"{super().cache_tag()}:vector_math={self.vector_math}"
                f":wide_vectors={self.wide_vectors}")

    def header(self) -> list[str]:
        return ["import math  # noqa: F401", "", "import numpy as np  # noqa: F401",
                "from numba import njit, prange  # noqa: F401", "",
                "from staticgraph.compiler import vecmath as _vm  # noqa: F401",
                "from staticgraph.compiler.runtime import (  # noqa: F401",
                "    prefer_wide_vectors, radd, scalar_fn, select, unit_stride_row)"]

    def bind_scalar(self, prim: str, params: dict[str, Any]) -> str:
        args = "".join(f", {k}={literal_source(v)}" for k, v in sorted(params.items()))
        return f"scalar_fn({prim!r}{args})"

    def math_override(self, prim: str, dtype: Any) -> str | None:
        if not self.vector_math:
            return None
        fn = vecmath.OVERRIDES.get(prim, {}).get(np.dtype(dtype).name)
        return f"_vm.{fn}" if fn else None

    def render_kernels(self, group: FusedGroup, code: ElementCode) -> list[str]:
        if self.wide_vectors:
            code.body.insert(0, "prefer_wide_vectors()")
        return cpu_skeleton.render_cpu_kernels(group, code, fastmath=self.vector_math)

    def make_kernel(self, group: FusedGroup, module: Any, **kwargs: Any) -> CpuKernel:
        return CpuKernel(group, module, parallel_min=self.parallel_min, **kwargs)


def has_avx512() -> bool:
    """Does the CPU Numba compiles for have AVX-512 ($NUMBA_CPU_FEATURES, else the host)?"""
    features = numba_config.CPU_FEATURES
    if features is None:
        return _host_has_avx512()
    return "+avx512f" in features.split(",")


@functools.cache
def _host_has_avx512() -> bool:
    """The host CPU's AVX-512 flag (asked of LLVM once: it cannot change)."""
    return bool(llvm.get_host_cpu_features().get("avx512f", False))
