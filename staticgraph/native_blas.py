"""staticgraph's own BLAS: OpenBLAS with the best kernels for this CPU.

NumPy and SciPy ship OpenBLAS, which picks its kernels at load time from
the CPU it recognises. A CPU newer than the library (AMD Zen 5 with
OpenBLAS 0.3.30) gets the AVX2 ("Haswell") kernels even where it has
AVX-512, and every GEMM then runs at about 60% of the speed the AVX-512
("SkylakeX") kernels reach on the same core (measured: 32x128x128 float64
in 14 us instead of 25 us; 128x3200x128 in 1.13 ms instead of 1.80 ms).
The choice is process-wide (`OPENBLAS_CORETYPE`, read once at load), so
changing it for NumPy would change the rounding of the user's own NumPy
code. Instead, the numba backend loads a private copy of SciPy's OpenBLAS
with the better kernels and calls it from compiled code; NumPy, SciPy and
the user's code keep theirs.

- The copy lives in the cache dir (`blas/`, next to the kernel cache), is
  written atomically, checked (size and sampled hash) before each load and
  rewritten when it does not match; once loaded, the kernels it reports
  (`gotoblas_corename`) and one product against NumPy are checked too.
  Anything that fails gives a `NativeBlasWarning` and the backend goes on
  with NumPy's BLAS, as it does where the copy brings nothing.
- `$GRAPHCOMPARE_BLAS_CORETYPE`: `auto` (default: SkylakeX kernels when the
  CPU has AVX-512 and SciPy's OpenBLAS chose AVX2 ones, else no copy),
  `off` (no copy), or an OpenBLAS core name (`Haswell`, `SkylakeX`, ...)
  to load a copy with those kernels.
- Compiled code calls the copy's `cblas_dgemm`/`cblas_sgemm` by the symbol
  names in `SYMBOLS` (registered with LLVM here), so Numba's disk cache
  stays valid across processes; `native_gemm` holds the callers.
- Its thread pool is its own: the backend sets its thread count without
  touching NumPy's (`threadpoolctl` sees and limits it like any OpenBLAS).
"""

from __future__ import annotations

import ctypes
import functools
import glob
import hashlib
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

ENV_VAR = "GRAPHCOMPARE_BLAS_CORETYPE"
AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")
AVX512_FEATURES = ("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl")
SYMBOLS = {"graphcompare_cblas_dgemm": "cblas_dgemm", "graphcompare_cblas_sgemm": "cblas_sgemm"}
_SAMPLE = 1 << 20  # bytes hashed at each end of the library to check a copy


class NativeBlasWarning(UserWarning):
    """The private BLAS copy could not be used; NumPy's BLAS is used instead."""


class NativeBlas:
    """One loaded private copy: its path, kernels and thread controls."""

    def __init__(self, lib: ctypes.CDLL, path: Path, prefix: str) -> None:
        self.lib, self.path, self.prefix = lib, path, prefix
        corename = lib.gotoblas_corename
        corename.restype = ctypes.c_char_p
        self.core = corename().decode()
        self._get = getattr(lib, f"{prefix}openblas_get_num_threads")
        self._put = getattr(lib, f"{prefix}openblas_set_num_threads")
        self._put.argtypes = [ctypes.c_int]
        self._put_local = lib.openblas_set_num_threads_local
        self._put_local.argtypes, self._put_local.restype = [ctypes.c_int], ctypes.c_int

    def function(self, name: str) -> int:
        """Address of the library function `name` (without SciPy's prefix)."""
        return ctypes.cast(getattr(self.lib, self.prefix + name), ctypes.c_void_p).value

    def threads(self) -> int:
        return self._get()

    def set_threads(self, n: int) -> None:
        """This copy's thread count (it is nobody else's)."""
        self._put(n)

    def set_threads_local(self, n: int) -> int:
        """`openblas_set_num_threads_local`; returns the previous count. (In
        OpenBLAS 0.3.30 it changes the count for every thread, not only this one.)"""
        return self._put_local(n)

    def describe(self) -> str:
        return f"private OpenBLAS copy, {self.core} kernels"


def scipy_openblas() -> Path | None:
    """The OpenBLAS SciPy bundles (loaded first, so its own dependencies resolve)."""
    try:
        import scipy
        import scipy.linalg.cython_blas  # noqa: F401  (loads the library)
    except ImportError:
        return None
    libs = os.path.join(os.path.dirname(scipy.__file__), os.pardir, "scipy.libs")
    paths = [p for p in sorted(glob.glob(os.path.join(libs, "libscipy_openblas*.so*")))
             if "64_" not in os.path.basename(p)]
    return Path(paths[0]).resolve() if paths else None


def corename_of(path: Path) -> str:
    """The kernels an already loaded OpenBLAS chose for this CPU."""
    fn = ctypes.CDLL(str(path)).gotoblas_corename
    fn.restype = ctypes.c_char_p
    return fn().decode()


def host_has_avx512() -> bool:
    import llvmlite.binding as ll
    features = ll.get_host_cpu_features()
    return all(features.get(f, False) for f in AVX512_FEATURES)


def choose_core(setting: str, own_core: str, has_avx512: bool) -> str | None:
    """The kernels for a private copy, or None for no copy (see the module doc)."""
    setting = setting.strip() or "auto"
    if setting.lower() == "off":
        return None
    if setting.lower() == "auto":
        upgrade = has_avx512 and own_core.lower() not in AVX512_CORES
        return "SkylakeX" if upgrade else None
    if setting.lower() in AVX512_CORES and not has_avx512:
        warnings.warn(f"{ENV_VAR}={setting}: this CPU has no AVX-512; using NumPy's BLAS",
                      NativeBlasWarning, stacklevel=2)
        return None
    return setting


def _sample_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(_SAMPLE))
        f.seek(max(0, path.stat().st_size - _SAMPLE))
        h.update(f.read(_SAMPLE))
    return h.hexdigest()


def private_copy(source: Path, directory: Path, core: str) -> Path:
    """A copy of `source` under `directory` for kernels `core` (one file per core:
    a path loads once per process). Rewritten when it does not match `source`."""
    directory.mkdir(parents=True, exist_ok=True)
    st = source.stat()
    dest = directory / f"{source.stem}.{core.lower()}.{st.st_size}.so"
    if dest.exists():
        if dest.stat().st_size == st.st_size and _sample_hash(dest) == _sample_hash(source):
            return dest
        warnings.warn(f"the private BLAS copy {dest} does not match {source}; copying "
                      "it again", NativeBlasWarning, stacklevel=2)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def open_copy(path: Path, core: str) -> NativeBlas:
    """Load the copy at `path` with kernels `core`; raises OSError when it is unusable."""
    previous = os.environ.get("OPENBLAS_CORETYPE")
    os.environ["OPENBLAS_CORETYPE"] = core  # read once, by the library's constructor
    try:
        lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_LOCAL)
    finally:
        if previous is None:
            del os.environ["OPENBLAS_CORETYPE"]
        else:
            os.environ["OPENBLAS_CORETYPE"] = previous
    prefix = "scipy_" if hasattr(lib, "scipy_cblas_dgemm") else ""
    blas = NativeBlas(lib, path, prefix)
    if blas.core.lower() != core.lower():
        raise OSError(f"it chose {blas.core} kernels, not {core}")
    _check_product(blas)
    return blas


def _check_product(blas: NativeBlas) -> None:
    """One small product through the copy must equal NumPy's."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 4))
    c = np.zeros((3, 4))
    dgemm = ctypes.CFUNCTYPE(None, *([ctypes.c_int] * 6), ctypes.c_double, ctypes.c_void_p,
                             ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_double,
                             ctypes.c_void_p, ctypes.c_int)(blas.function("cblas_dgemm"))
    dgemm(101, 111, 111, 3, 4, 5, 1.0, a.ctypes.data, 5, b.ctypes.data, 4, 0.0,
          c.ctypes.data, 4)
    if not np.allclose(c, a @ b, rtol=1e-12, atol=1e-12):
        raise OSError("a test product through it gave a wrong result")


def register(blas: NativeBlas) -> None:
    """Point the symbols compiled code calls (`SYMBOLS`) at this copy."""
    import llvmlite.binding as ll
    for symbol, name in SYMBOLS.items():
        ll.add_symbol(symbol, blas.function(name))


@functools.cache
def load() -> NativeBlas | None:
    """The private copy the numba backend calls, or None (NumPy's BLAS is used)."""
    source = scipy_openblas()
    if source is None:
        return None
    core = choose_core(os.environ.get(ENV_VAR, "auto"), corename_of(source), host_has_avx512())
    if core is None:
        return None
    from .compiler.cache import default_cache_dir
    try:
        blas = open_copy(private_copy(source, default_cache_dir() / "blas", core), core)
    except OSError as e:
        warnings.warn(f"staticgraph could not load OpenBLAS with {core} kernels ({e}); "
                      "using NumPy's BLAS", NativeBlasWarning, stacklevel=2)
        return None
    register(blas)
    return blas


def mode_tag() -> str:
    """Which BLAS compiled loops call (part of their cache key)."""
    return "native" if load() is not None else "numpy"
