"""Inter-process locking of Numba's disk cache for one kernel cache entry."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: Numba's saves there go unlocked
    fcntl = None


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (made if missing) across processes; no lock
    where the file cannot be opened (a read-only dir: nobody saves there) or on
    platforms without `fcntl`."""
    fd = None
    if fcntl is not None:
        for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
            try:
                fd = os.open(path, flags, 0o644)
                break
            except OSError:
                continue
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


class LockedNumbaCache:
    """A Numba dispatcher's disk cache whose loads and saves hold the entry's lock.

    Numba updates a function's index without a lock: a save reads the index,
    names a new data file by the first free number, writes the index, then the
    data file. Two processes saving different specialisations of one kernel at
    once can both take the same number, leaving the index naming one
    specialisation's data file holding the other's code (which a later load
    runs on the wrong argument types). Under the lock a save, and a load (index
    then data file), see one consistent state."""

    def __init__(self, inner: object, lock_path: Path) -> None:
        self._inner, self._lock_path = inner, lock_path

    def load_overload(self, sig: object, target_context: object) -> object:
        with file_lock(self._lock_path):
            return self._inner.load_overload(sig, target_context)

    def save_overload(self, sig: object, data: object) -> None:
        with file_lock(self._lock_path):
            self._inner.save_overload(sig, data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)
