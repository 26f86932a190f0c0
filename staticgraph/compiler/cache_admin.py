"""Inspecting and emptying the on-disk kernel cache (`graphcompare cache info|clear`)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .cache import ENV_VAR, default_cache_dir


@dataclass(frozen=True)
class CacheInfo:
    """Where the cache is and what it holds."""

    root: Path
    from_env: bool
    kernels: int
    programs: int
    files: int
    bytes: int

    def lines(self) -> list[str]:
        """Human-readable lines for the command line."""
        source = f"${ENV_VAR}" if self.from_env else "the platform's user cache dir"
        return [
            f"cache dir: {self.root} (from {source})",
            f"kernels:   {self.kernels} generated kernel modules",
            f"programs:  {self.programs} compiled program entries",
            f"on disk:   {self.files} files, {self.bytes / 2**20:.1f} MiB",
        ]


def _walk_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [Path(d) / f for d, _, names in os.walk(root) for f in names]


def cache_info(root: str | os.PathLike | None = None) -> CacheInfo:
    """Counts and sizes of the cache at `root` (default: the current cache dir)."""
    path = Path(root) if root is not None else default_cache_dir()
    files = _walk_files(path)
    size = 0
    for f in files:
        try:
            size += f.stat().st_size
        except OSError:  # removed meanwhile by another process
            pass
    kernels = sum(1 for f in files if f.parent == path / "kernels" and f.suffix == ".ok")
    programs = sum(1 for f in files if path / "programs" in f.parents)
    return CacheInfo(path, root is None and bool(os.environ.get(ENV_VAR)),
                     kernels, programs, len(files), size)


def clear_cache(root: str | os.PathLike | None = None) -> int:
    """Delete the cache's kernel and program entries; returns the number of files removed.

    Only the directories the library writes (`kernels/`, `programs/`) are removed, so a
    cache dir pointed at a folder that holds other files never loses them.
    """
    path = Path(root) if root is not None else default_cache_dir()
    removed = 0
    for sub in ("kernels", "programs"):
        target = path / sub
        removed += len(_walk_files(target))
        shutil.rmtree(target, ignore_errors=True)
    return removed
