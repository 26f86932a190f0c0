"""The machine line at the top of a report: CPU, cores, BLAS, library versions."""

from __future__ import annotations

import os
import platform
from importlib import metadata

import numpy as np

from . import peers, threads


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, else platform's guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def core_count() -> str:
    """Logical CPUs, and how many this process may use when that differs."""
    total = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = total
    return f"{total} logical CPUs" + ("" if usable == total else f" ({usable} usable)")


def blas_info() -> str:
    """The loaded BLAS libraries (threadpoolctl's runtime view), else NumPy's build config."""
    from staticgraph.runtime.blas_libraries import loaded_blas
    libs = loaded_blas()
    if libs:
        return "; ".join(
            f"{i.get('prefix')} {i.get('version')} ({i.get('architecture', '?')}, "
            f"{i.get('num_threads')} threads)" for i in libs)
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} (build config)"
    except Exception:  # show_config's layout differs across NumPy versions
        return "unknown BLAS"


def coretype_note() -> str:
    """What `OPENBLAS_CORETYPE` does to every OpenBLAS in the process, if set."""
    core = os.environ.get("OPENBLAS_CORETYPE")
    if not core:
        return "Every OpenBLAS chose its kernels for this CPU itself."
    return (f"OPENBLAS_CORETYPE={core} is set in this environment: every OpenBLAS (NumPy's, "
            f"and SciPy's that the compiled loops call) runs {core} kernels, whatever the CPU "
            f"(on an AVX-512 CPU with Haswell, GEMMs run at about 60% of the AVX-512 "
            f"kernels' speed; XLA generates its own code).")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def library_versions() -> dict[str, str]:
    """Versions of Python and every library a benchmark may use."""
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in ("numba", "scipy", "graphcompare"):
        out[dist] = _version(dist)
    out.update(peers.versions())
    return out


def load_average() -> str:
    """The 1-minute load average (other processes competing for the cores)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def machine_line(load_at_start: str | None = None) -> str:
    """One line describing where (and under what load) the figures were measured."""
    libs = ", ".join(f"{k} {v}" for k, v in library_versions().items())
    load = f"{load_at_start} at start, {load_average()} at end" if load_at_start \
        else load_average()
    return (f"{cpu_model()}, {core_count()}, {platform.system()} {platform.machine()}; "
            f"load average {load}; math threads: {threads.describe()}; "
            f"BLAS: {blas_info()}; OPENBLAS_CORETYPE: "
            f"{os.environ.get('OPENBLAS_CORETYPE') or 'not set'}; {libs}")
