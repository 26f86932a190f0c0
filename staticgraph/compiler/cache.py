"""Persistent on-disk kernel cache.

A kernel is keyed by the SHA-256 of its generated source (which spells out
ranks, broadcast pattern and dtypes), the target's options and the versions
of Python, NumPy, Numba, llvmlite and this library's own source. Sizes are
not in the key: kernels are generic in sizes.

Layout under the cache dir (default: the platform's user cache dir, e.g.
``~/.cache/graphcompare`` on Linux; or ``$GRAPHCOMPARE_CACHE_DIR``)::

    kernels/k_<key>.py        generated module (Numba needs a real file)
    kernels/k_<key>.ok        marker, written last: key + SHA-256 of the .py
    kernels/k_<key>.sums      SHA-256 of each Numba cache file of the entry
    kernels/__pycache__/k_<key>.*.nbi/.nbc   Numba's `cache=True` files

Every file is written to a temporary name and `os.replace`d, so two processes
compiling the same kernel both succeed. A `.py` whose marker is missing or
does not match, or a Numba file whose checksum does not match, is discarded
with a `KernelCacheWarning` and rebuilt; so is an entry whose Numba files fail
to load (see `kernel.CpuKernel`). Never a crash.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
import uuid
import warnings
from pathlib import Path
from types import ModuleType

import llvmlite
import numba
import numpy as np
import platformdirs

ENV_VAR = "GRAPHCOMPARE_CACHE_DIR"
NUMBA_SUFFIXES = (".nbi", ".nbc")


class KernelCacheWarning(UserWarning):
    """A kernel cache entry was unusable (corrupted, unreadable) and was rebuilt."""


def default_cache_dir() -> Path:
    """$GRAPHCOMPARE_CACHE_DIR, else the platform's user cache dir (platformdirs)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("graphcompare", appauthor=False))


@functools.cache
def library_fingerprint() -> str:
    """Versions plus the source of shared_ops and this package (scalar fns live there)."""
    import shared_ops
    h = hashlib.sha256()
    for part in (sys.version, np.__version__, numba.__version__, llvmlite.__version__):
        h.update(part.encode() + b"\0")
    for pkg_dir in (Path(shared_ops.__file__).parent, Path(__file__).parent):
        for path in sorted(pkg_dir.glob("*.py")):
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def cache_key(source: str, target_tag: str) -> str:
    """Content hash naming one kernel module."""
    h = hashlib.sha256()
    for part in (source, target_tag, library_fingerprint()):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:32]


def _numba_cache_dir(module: ModuleType) -> Path | None:
    """The directory Numba caches `module`'s kernels in ($NUMBA_CACHE_DIR moves it)."""
    for name in getattr(module, "VARIANTS", ()):
        path = getattr(getattr(getattr(module, name, None), "stats", None), "cache_path", None)
        if path:
            return Path(path)
    return None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a unique temporary file and `os.replace`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class KernelCache:
    """Writes, verifies and imports generated kernel modules."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.dir = self.root / "kernels"
        self.modules: dict[str, ModuleType] = {}
        self._numba_dirs: dict[str, Path] = {}  # where Numba keeps each entry's files
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            fallback = Path(tempfile.mkdtemp(prefix="graphcompare-"))
            warnings.warn(f"kernel cache dir {self.dir} is unusable ({err}); "
                          f"using {fallback} for this process", KernelCacheWarning, stacklevel=2)
            self.root, self.dir = fallback, fallback / "kernels"
            self.dir.mkdir()

    def paths(self, key: str) -> tuple[Path, Path, Path]:
        """(.py, .ok marker, .sums) of an entry."""
        stem = self.dir / f"k_{key}"
        return stem.with_suffix(".py"), stem.with_suffix(".ok"), stem.with_suffix(".sums")

    def numba_files(self, key: str) -> list[Path]:
        """Numba's cache files (index and data) belonging to entry `key`."""
        pycache = self._numba_dirs.get(key, self.dir / "__pycache__")
        if not pycache.is_dir():
            return []
        return sorted(p for p in pycache.glob(f"k_{key}.*") if p.suffix in NUMBA_SUFFIXES)

    def load(self, key: str, source: str) -> tuple[ModuleType, str]:
        """The imported module of entry `key`; "memory", "disk" or "miss" says whence."""
        module = self.modules.get(key)
        if module is not None:
            return module, "memory"
        state = self._check_source(key, source)
        if state == "corrupt":
            self.purge(key, f"k_{key}.py is truncated or does not match its marker")
        if state != "valid":
            self._write_source(key, source, marker_only=state == "unmarked")
        module = self._import(key)  # Numba reads its cache files at the first call
        self._numba_dirs[key] = _numba_cache_dir(module) or self.dir / "__pycache__"
        self.verify_numba_files(key)
        self.modules[key] = module
        return module, "disk" if state == "valid" else "miss"

    def _check_source(self, key: str, source: str) -> str:
        """valid | missing | unmarked (right .py, no marker yet) | corrupt."""
        py, ok, _ = self.paths(key)
        try:
            data = py.read_bytes() if py.exists() else None
            marker = json.loads(ok.read_text()) if ok.exists() else None
        except (OSError, ValueError):
            return "corrupt"
        expected = source.encode()
        if data is None and marker is None:
            return "missing"
        if data == expected and marker is None:
            return "unmarked"  # another process is between its two writes
        if data == expected and marker == {"key": key, "sha256": _sha(data)}:
            return "valid"
        return "corrupt"

    def _write_source(self, key: str, source: str, marker_only: bool = False) -> None:
        py, ok, _ = self.paths(key)
        data = source.encode()
        if not marker_only:
            atomic_write(py, data)
        atomic_write(ok, json.dumps({"key": key, "sha256": _sha(data)}).encode())

    def _import(self, key: str) -> ModuleType:
        name = f"k_{key}"
        spec = importlib.util.spec_from_file_location(name, self.paths(key)[0])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def verify_numba_files(self, key: str) -> bool:
        """Check Numba's files against the recorded sums; purge the entry on mismatch."""
        sums_path = self.paths(key)[2]
        try:
            sums = json.loads(sums_path.read_text()) if sums_path.exists() else {}
        except (OSError, ValueError):
            sums = None
        bad = sums is None
        for path in self.numba_files(key) if not bad else ():
            want = sums.get(path.name)
            if want is not None and want != _sha(path.read_bytes()):
                bad = True
                break
        if bad:
            self.purge(key, "a Numba cache file does not match its checksum")
        return not bad

    def record_numba_files(self, key: str) -> None:
        """Record the checksums of the entry's Numba files (after a compile saved them)."""
        sums = {p.name: _sha(p.read_bytes()) for p in self.numba_files(key)}
        atomic_write(self.paths(key)[2], json.dumps(sums, sort_keys=True).encode())

    def purge(self, key: str, reason: str) -> None:
        """Delete the entry's Numba files and sums, with a `KernelCacheWarning`."""
        warnings.warn(f"kernel cache entry k_{key} discarded ({reason}); recompiling",
                      KernelCacheWarning, stacklevel=3)
        for path in [*self.numba_files(key), self.paths(key)[2]]:
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def clear(self) -> None:
        """Remove every entry (tests, `make clean`)."""
        for key in list(self.modules):
            for path in self.numba_files(key):
                path.unlink()
        for path in [*self.dir.glob("k_*"), *(self.dir / "__pycache__").glob("k_*")]:
            path.unlink()
        self.modules.clear()
