"""Optional peer libraries (PyTorch eager, JAX jit), loaded when importable.

A peer that cannot be imported still gets a row in every table, reading
"not installed", so a report always has the same shape. `disable` lets a
run pretend a peer is absent (to test that path, or to save its import).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

from .harness import Competitor, Step

NOT_INSTALLED = "not installed"
TORCH_LABEL = "PyTorch eager"
JAX_LABEL = "JAX jit"
_DISABLED: set[str] = set()
_CACHE: dict[str, ModuleType | None] = {}
_TORCH_THREADS: list[int] = []


def disable(*names: str) -> None:
    """Treat these peers ("torch", "jax") as not installed for this process."""
    _DISABLED.update(names)


def _load(name: str) -> ModuleType | None:
    if name in _DISABLED:
        return None
    if name not in _CACHE:
        try:
            _CACHE[name] = importlib.import_module(name)
        except Exception:  # ImportError, or a broken install raising anything
            _CACHE[name] = None
    return _CACHE[name]


def set_torch_threads(n: int) -> None:
    """Give PyTorch n intra-op threads (now if loaded, else when it loads)."""
    _TORCH_THREADS[:] = [n]
    torch = _CACHE.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def load_torch() -> ModuleType | None:
    """The torch module, or None."""
    first = "torch" not in _CACHE
    torch = _load("torch")
    if torch is not None and first and _TORCH_THREADS:
        torch.set_num_threads(_TORCH_THREADS[0])
    return torch


def load_jax() -> ModuleType | None:
    """The jax module with float64 enabled (the benches use float64), or None."""
    jax = _load("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
    return jax


def versions() -> dict[str, str]:
    """Versions of the peers, or "not installed"."""
    out = {}
    for name, loader in (("torch", load_torch), ("jax", load_jax)):
        mod = loader()
        out[name] = getattr(mod, "__version__", "?") if mod is not None else NOT_INSTALLED
    torch = load_torch()
    if torch is not None:
        out["torch"] += f" ({torch.get_num_threads()} threads)"
    return out


def _peer(key: str, label: str, mod: ModuleType | None,
          build: Callable[[ModuleType], Step], note: str) -> Competitor:
    if mod is None:
        return Competitor(key, label, None, missing=NOT_INSTALLED, note=note)
    return Competitor(key, label, lambda: build(mod), note=note)


def torch_competitor(build: Callable[[ModuleType], Step], label: str = TORCH_LABEL,
                     key: str = "torch", note: str = "") -> Competitor:
    """A PyTorch competitor; `build(torch)` returns the step."""
    return _peer(key, label, load_torch(), build, note)


def jax_competitor(build: Callable[[ModuleType], Step], label: str = JAX_LABEL,
                   key: str = "jax", note: str = "") -> Competitor:
    """A JAX competitor; `build(jax)` returns the step (jit it inside `build`)."""
    return _peer(key, label, load_jax(), build, note)
