"""The BLAS libraries of this process, found and controlled through threadpoolctl.

The one place that finds a BLAS library and sets its threads: the numba
backend (its per-call thread choice and the GEMM-update call), the
benchmarks and the comparisons (thread pinning) all go through it.
threadpoolctl knows OpenBLAS, MKL, BLIS and FlexiBLAS; a BLAS it does not
know (Apple's Accelerate) is not found, and what needs it is off
(`numba_backend.blas.features` says so).

`numpy_blas()` is the library NumPy's `np.matmul` calls: in a NumPy wheel
its own bundled OpenBLAS, elsewhere the system's or the environment's BLAS.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from threadpoolctl import ThreadpoolController, threadpool_limits

_SYMBOL_PREFIXES = ("scipy_", "")  # SciPy's OpenBLAS builds prefix their symbols
_SYMBOL_SUFFIXES = ("64_", "_64", "")  # ILP64 builds (64-bit integer arguments)


@dataclass(frozen=True)
class BlasLibrary:
    """One loaded BLAS library: threadpoolctl's controller of it."""

    controller: Any  # threadpoolctl.LibController
    thread_calls: tuple = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "thread_calls", self._bind_thread_calls())

    @property
    def kind(self) -> str:
        """threadpoolctl's name of the implementation: 'openblas', 'mkl', ..."""
        return self.controller.internal_api

    @property
    def path(self) -> str:
        return self.controller.filepath

    def describe(self) -> str:
        return f"{self.kind} {self.controller.version} ({os.path.basename(self.path)})"

    def threads(self) -> int:
        """The library's thread count now."""
        return int(self.thread_calls[0]() or 1)

    def set_threads(self, n: int) -> None:
        """Set the library's thread count (process-wide)."""
        self.thread_calls[1](n)

    def _bind_thread_calls(self) -> tuple:
        """(get, set) of the thread count: a pthreads OpenBLAS's own C calls,
        bound once (a few us less per call than threadpoolctl's lookup of
        them, which also builds a symbol name each time); else threadpoolctl's."""
        found = None
        if self.kind == "openblas" and getattr(self.controller, "threading_layer", "") \
                != "openmp":
            found = self.cblas("openblas_get_num_threads", "openblas_set_num_threads")
        if found is None:
            return self.controller.get_num_threads, self.controller.set_num_threads
        (get, put), _ = found
        put.argtypes, put.restype = [ctypes.c_int], None
        return get, put

    def cblas(self, *names: str) -> tuple[list, bool] | None:
        """The C functions `names` of this library (found under its symbol
        prefix and suffix) and whether they take 64-bit integers, or None
        when it does not export them all."""
        lib = ctypes.CDLL(self.path)
        for prefix in _SYMBOL_PREFIXES:
            for suffix in _SYMBOL_SUFFIXES:
                fns = [getattr(lib, f"{prefix}{name}{suffix}", None) for name in names]
                if None not in fns:
                    return fns, bool(suffix)
        return None


def _package_blas(package: ModuleType) -> BlasLibrary | None:
    """The loaded BLAS a package calls: the one inside its directory or the
    directory next to it (`numpy.libs`, `numpy/.dylibs`); failing that, the
    first loaded BLAS of the kind its build configuration names."""
    home = os.path.realpath(os.path.dirname(package.__file__))
    own = (home + os.sep, home + ".libs" + os.sep)
    blas = ThreadpoolController().select(user_api="blas").lib_controllers
    for c in blas:
        if os.path.realpath(c.filepath).startswith(own):
            return BlasLibrary(c)
    configured = _configured_blas(package)
    for c in blas:
        if c.internal_api in configured:
            return BlasLibrary(c)
    return None


def _configured_blas(package: ModuleType) -> str:
    """The BLAS name in a package's build configuration ('' when unknown)."""
    try:
        config = package.show_config(mode="dicts")
        return str(config["Build Dependencies"]["blas"]["name"]).lower()
    except Exception:  # the layout differs across versions
        return ""


@functools.cache
def numpy_blas() -> BlasLibrary | None:
    """The BLAS behind NumPy's matmul, when threadpoolctl finds it."""
    import numpy
    return _package_blas(numpy)


def numpy_blas_name() -> str:
    """What NumPy's build configuration calls its BLAS, for messages."""
    import numpy
    return _configured_blas(numpy) or "unknown"


def loaded_blas() -> list[dict]:
    """threadpoolctl's description of every loaded BLAS (version, kernels, threads)."""
    return ThreadpoolController().select(user_api="blas").info()


def describe_loaded() -> str:
    """Every loaded BLAS in one line: kind, version, kernels, threads."""
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} "
                     f"({i.get('architecture', '?')} kernels, {i.get('num_threads')} threads)"
                     for i in loaded_blas()) or "none found"


@contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """Every loaded BLAS and OpenMP pool at `n` threads inside the block."""
    with threadpool_limits(limits=n):
        yield


def hold_threads(n: int) -> Any:
    """Every loaded BLAS and OpenMP pool at `n` threads from now on; the
    returned object restores them (`.restore_original_limits()`)."""
    return threadpool_limits(limits=n)
