"""The "cuda" backend: staticgraph programs on an NVIDIA GPU through numba-cuda.

Importing this package is light: `numba.cuda` is imported only when a runner
is built or `cuda_available()` is asked. `backend="cuda"` resolves to
`runner.CudaRunner` (registered lazily in `staticgraph.runtime.backends`).
See docs/cuda.md.
"""

from __future__ import annotations

from .device import allow_simulator, cuda_available, cuda_status, require_cuda

__all__ = ["CudaRunner", "allow_simulator", "cuda_available", "cuda_status", "require_cuda"]


def __getattr__(name: str):
    if name == "CudaRunner":
        from .runner import CudaRunner
        return CudaRunner
    raise AttributeError(name)
