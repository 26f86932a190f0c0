"""The program-level entry of the persistent cache.

Kernels are cached one by one by the compiler (`kernels/k_<key>.*`, content
hashed, shared across programs). On top, each compiled program gets a
manifest `programs/p_<key>.json`, keyed by a SHA-256 of what the program
compiles to: the generated orchestrators (which spell out every op, shape
rank, dtype and literal), the kernels' keys (their source, target options,
library versions), the constants' bytes, and this package's own source. It
lists the kernels the program needs, so a new process can tell, before any
compile, whether everything is on disk:

- "hit": the manifest matches and every kernel module it names is on disk
  (Numba then loads machine code instead of compiling);
- "miss": first compile of this program here (the manifest is written);
- "partial": the manifest is there but some kernel entries are not.

A manifest that cannot be read or does not match its key is discarded with a
`ProgramCacheWarning` (a `KernelCacheWarning`) and rewritten; never a crash.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..compiler.cache import KernelCacheWarning, atomic_write, library_fingerprint
from ..passes.keys import value_key


class ProgramCacheWarning(KernelCacheWarning):
    """A program manifest was unreadable or did not match, and was rewritten."""


@dataclass
class ProgramCacheState:
    """What the cache knew of a program when it was compiled."""

    status: str  # "hit" | "miss" | "partial" | "off"
    path: str
    key: str = ""


@functools.cache
def _package_fingerprint() -> str:
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


_NUMBERED = re.compile(r"%\d+|\bt\d+(?![0-9])")


def canonical(source: str) -> str:
    """`source` with value numbers (`%12`, `t12`: process-wide counters) renumbered
    by first appearance and whitespace collapsed, so the same model built after
    others hashes the same."""
    seen: dict[str, str] = {}
    text = _NUMBERED.sub(lambda m: seen.setdefault(m.group(0), f"#{len(seen)}"), source)
    return " ".join(text.split())  # line breaks depend on the names' lengths


def program_key(runner: Any) -> str:
    """Content hash of what the program compiles to (see the module doc)."""
    h = hashlib.sha256()
    for part in (library_fingerprint(), _package_fingerprint(),
                 runner.comp.target.cache_tag()):
        h.update(part.encode() + b"\0")
    for graph in runner.comp.graphs:
        h.update(canonical(graph.source).encode() + b"\0")
        for name, value in sorted(graph.lowering.ns.items()):
            if name.startswith("C") and isinstance(value, np.ndarray):  # constants
                h.update(f"{name}:{value.dtype.str}:{value.shape}".encode() + value.tobytes())
            elif name.startswith(("IDX", "LIT")):  # by content: an array's repr elides
                h.update(f"{name}:{value_key(value)!r}".encode())
    for kernel in runner.comp.kernels:
        h.update(kernel.key.encode() + b"\0")
    return h.hexdigest()[:32]


def _read(path: Path, key: str) -> dict | None:
    """The manifest, or None when absent; ProgramCacheWarning when unusable."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        if data.get("key") != key or not isinstance(data.get("kernels"), list):
            raise ValueError("the manifest does not match its key")
        return data
    except (OSError, ValueError, AttributeError) as exc:
        warnings.warn(f"program cache entry {path.name} discarded ({exc}); rewriting it",
                      ProgramCacheWarning, stacklevel=4)
        return None


def record(runner: Any) -> ProgramCacheState:
    """Look the program up in the cache dir of its kernels; write its manifest."""
    cache = runner.comp.cache
    directory = Path(cache.root) / "programs"
    key = program_key(runner)
    path = directory / f"p_{key}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return ProgramCacheState("off", str(path), key)
    data = _read(path, key)
    kernels = [k.key for k in runner.comp.kernels]
    if data is not None:
        present = all(cache.paths(k)[0].exists() for k in data["kernels"])
        status = "hit" if present and sorted(data["kernels"]) == sorted(kernels) else "partial"
        if status == "hit":
            return ProgramCacheState(status, str(path), key)
    else:
        status = "miss"
    manifest = {"key": key, "program": runner.program.name, "kernels": kernels,
                "eqns": len(runner.optimized.eqns)}
    try:
        atomic_write(path, json.dumps(manifest, indent=1).encode())
    except OSError:
        pass
    return ProgramCacheState(status, str(path), key)
