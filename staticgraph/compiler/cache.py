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
    kernels/k_<key>.lock      held while Numba loads or saves the entry's files
    kernels/__pycache__/k_<key>.*.nbi/.nbc   Numba's `cache=True` files

Every file is written to a temporary name and `os.replace`d, so two processes
compiling the same kernel both succeed. A `.py` whose marker is missing or
does not match, or a damaged Numba file, is discarded with a
`KernelCacheWarning` and rebuilt; so is an entry whose Numba files fail to
load (see `kernel.CpuKernel`). Never a crash.

What counts as damage. Numba rewrites its files as part of normal use: the
index (`.nbi`) gains an entry with every new specialisation, by this process
or another, and a data file (`.nbc`) is written again when its index entry is
renumbered. So the index is checked for its form only (two complete pickles,
which is what Numba reads), and `.sums` records each data file's SHA-256
together with its size and modification time: a data file whose size and time
are still the recorded ones must still have the recorded content (else it
was damaged in place), and one written since (by Numba, here or in another
process) must be a complete pickle. Legitimate use never looks like damage.

A cache dir that cannot be written (read-only, or removed while the process
runs) warns once per cache and carries on: a removed dir is made again; a
kernel module that cannot be written goes to a private directory of this
process, removed at exit; checksums and manifests that cannot be written are
not recorded.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.util
import io
import json
import os
import pickletools
import shutil
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

import shared_ops

from .cache_lock import LockedNumbaCache

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


def complete_pickles(data: bytes, count: int = 1) -> bool:
    """Whether `data` is exactly `count` complete pickles (read, never executed)."""
    stream = io.BytesIO(data)
    try:
        for _ in range(count):
            for _op in pickletools.genops(stream):
                pass
    except Exception:  # truncated or garbage: any parse failure
        return False
    return stream.tell() == len(data)


def _numba_file_ok(path: Path, data: bytes) -> bool:
    """A Numba index is a version pickle then the index pickle; a data file one pickle."""
    return complete_pickles(data, 2 if path.suffix == ".nbi" else 1)


def _read_sums(path: Path) -> dict | None:
    """The recorded {data file name: [sha256, size, mtime_ns]}; {} when there is no
    file; None when it cannot be read or has another shape."""
    try:
        if not path.exists():
            return {}
        sums = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(sums, dict):
        return None
    for entry in sums.values():
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and all(isinstance(n, int) for n in entry[1:])):
            return None
    return sums


_PRIVATE: list[Path] = []


def private_dir() -> Path:
    """This process's own cache dir (made on first use, removed at exit)."""
    if not _PRIVATE:
        path = Path(tempfile.mkdtemp(prefix="graphcompare-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _PRIVATE.append(path)
    return _PRIVATE[0]


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
        self._warned: set[str] = set()
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            self._fall_back(err)

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(message, KernelCacheWarning, stacklevel=4)

    def _fall_back(self, err: OSError) -> None:
        """Use this process's private dir from now on (warned once)."""
        fallback = private_dir()
        self._warn_once("dir", f"kernel cache dir {self.dir} is unusable ({err}); "
                        f"using {fallback} for this process")
        self.root, self.dir = fallback, fallback / "kernels"
        self.dir.mkdir(parents=True, exist_ok=True)

    def write(self, path: Path, data: bytes) -> bool:
        """`atomic_write` into the cache dir; a removed dir is made again (warned
        once). False, warned once, when the dir cannot be written."""
        try:
            atomic_write(path, data)
            return True
        except FileNotFoundError:
            self._warn_once("removed", f"kernel cache dir {path.parent} was removed while "
                            "in use; making it again")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, data)
                return True
            except OSError as err:
                error = err
        except OSError as err:
            error = err
        self._warn_once("dir", f"kernel cache dir {path.parent} cannot be written "
                        f"({error}); compiling without recording there")
        return False

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
        self._lock_numba_caches(key, module)
        self._numba_dirs[key] = _numba_cache_dir(module) or self.dir / "__pycache__"
        self.verify_numba_files(key)
        self.modules[key] = module
        return module, "disk" if state == "valid" else "miss"

    def _lock_numba_caches(self, key: str, module: ModuleType) -> None:
        """Numba's loads and saves of the module's functions hold `k_<key>.lock`."""
        lock_path = self.dir / f"k_{key}.lock"
        for name in getattr(module, "VARIANTS", ()):
            fn = getattr(module, name, None)
            inner = getattr(fn, "_cache", None)
            if inner is not None and hasattr(inner, "save_overload") and \
                    not isinstance(inner, LockedNumbaCache):
                fn._cache = LockedNumbaCache(inner, lock_path)

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
        """The module and its marker; in the private dir when the cache dir cannot
        take them (the module must be a real file for Numba)."""
        data = source.encode()
        marker = json.dumps({"key": key, "sha256": _sha(data)}).encode()
        py, ok, _ = self.paths(key)
        if (marker_only or self.write(py, data)) and self.write(ok, marker):
            return
        if marker_only and py.exists():  # the module is there: importing it needs no marker
            return
        self._fall_back(OSError(f"cannot write {py.name}"))
        py, ok, _ = self.paths(key)
        atomic_write(py, data)
        atomic_write(ok, marker)

    def _import(self, key: str) -> ModuleType:
        name = f"k_{key}"
        spec = importlib.util.spec_from_file_location(name, self.paths(key)[0])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def verify_numba_files(self, key: str) -> bool:
        """Check Numba's files (see the module doc); purge the entry when one is damaged.
        Without a checksum file nothing was recorded: Numba's own load catches damage
        (`kernel.CpuKernel` purges an entry that fails to load)."""
        sums_path = self.paths(key)[2]
        if not sums_path.exists():
            return True
        sums = _read_sums(sums_path)
        bad = sums is None
        for path in self.numba_files(key) if not bad else ():
            try:
                stat, data = path.stat(), path.read_bytes()
            except FileNotFoundError:  # removed meanwhile (another process purged it)
                continue
            except OSError:
                bad = True
                break
            want = sums.get(path.name) if path.suffix == ".nbc" else None
            if want is not None and [stat.st_size, stat.st_mtime_ns] == want[1:]:
                bad = want[0] != _sha(data)  # untouched since recorded: same content
            else:
                bad = not _numba_file_ok(path, data)
            if bad:
                break
        if bad:
            self.purge(key, "a Numba cache file does not match its checksum or is incomplete")
        return not bad

    def record_numba_files(self, key: str) -> None:
        """Record the checksums of the entry's Numba data files (after a compile saved
        them); not recorded where the cache dir cannot be written."""
        sums = {}
        for p in self.numba_files(key):
            if p.suffix != ".nbc":
                continue
            try:
                stat, data = p.stat(), p.read_bytes()
            except OSError:
                continue
            sums[p.name] = [_sha(data), stat.st_size, stat.st_mtime_ns]
        self.write(self.paths(key)[2], json.dumps(sums, sort_keys=True).encode())

    def purge(self, key: str, reason: str) -> None:
        """Delete the entry's Numba files and sums, with a `KernelCacheWarning`."""
        warnings.warn(f"kernel cache entry k_{key} discarded ({reason}); recompiling",
                      KernelCacheWarning, stacklevel=3)
        for path in [*self.numba_files(key), self.paths(key)[2]]:
            try:
                path.unlink()
            except OSError:  # gone already, or a dir that cannot be written
                pass

    def clear(self) -> None:
        """Remove every entry (tests, `make clean`)."""
        for key in list(self.modules):
            for path in self.numba_files(key):
                path.unlink()
        for path in [*self.dir.glob("k_*"), *(self.dir / "__pycache__").glob("k_*")]:
            path.unlink()
        self.modules.clear()
