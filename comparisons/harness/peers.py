"""Optional peer libraries (PyTorch eager, torch.compile, JAX jit), loaded when importable.

Peers are never required. A peer that cannot be imported still gets a row
in every table: a benchmark competitor reads "not installed", a comparison
variant is skipped with "<library> not installed", so a report always has
the same shape. `disable` lets a run pretend a peer is absent (to test that
path, or to save its import). JAX runs in float64 (the workloads here are
float64). PyTorch keeps its own thread count unless `set_torch_threads` was
called (the comparisons pin it to one thread, the benchmarks' `--threads N`
to N). Comparison peers' memory is measured as RSS growth, since their
allocators are invisible to tracemalloc.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ..framework import Prepared, Variant
from .workload import Competitor, Step

NOT_INSTALLED = "not installed"
TORCH_LABEL = "PyTorch eager"
TORCH_COMPILE_LABEL = "torch.compile (peer)"
JAX_LABEL = "JAX jit"
_DISABLED: set[str] = set()
_CACHE: dict[str, ModuleType | None] = {}
_TORCH_THREADS: list[int] = []


def disable(*names: str) -> None:
    """Treat these peers ("torch", "jax") as not installed for this process."""
    _DISABLED.update(names)


def load(name: str) -> ModuleType | None:
    """The imported peer module ("torch" or "jax"), or None when missing, broken or disabled.

    JAX gets float64 enabled; PyTorch the thread count set by `set_torch_threads`.
    """
    if name in _DISABLED:
        return None
    if name not in _CACHE:
        try:
            _CACHE[name] = importlib.import_module(name)
        except Exception:  # ImportError, or a broken install raising anything
            _CACHE[name] = None
        module = _CACHE[name]
        if name == "torch" and module is not None and _TORCH_THREADS:
            module.set_num_threads(_TORCH_THREADS[0])
    module = _CACHE[name]
    if name == "jax" and module is not None:
        module.config.update("jax_enable_x64", True)
    return module


def set_torch_threads(n: int) -> None:
    """Give PyTorch n intra-op threads (now if loaded, else when it loads)."""
    _TORCH_THREADS[:] = [n]
    torch = _CACHE.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def load_torch() -> ModuleType | None:
    """The torch module, or None."""
    return load("torch")


def load_jax() -> ModuleType | None:
    """The jax module with float64 enabled, or None."""
    return load("jax")


def versions() -> dict[str, str]:
    """Versions of the peers, or "not installed"."""
    out = {}
    for name in ("torch", "jax"):
        mod = load(name)
        out[name] = getattr(mod, "__version__", "?") if mod is not None else NOT_INSTALLED
    torch = load_torch()
    if torch is not None:
        out["torch"] += f" ({torch.get_num_threads()} threads)"
    return out


# ---- benchmark competitors ------------------------------------------------------------------
def _competitor(key: str, label: str, mod: ModuleType | None,
                build: Callable[[ModuleType], Step], note: str) -> Competitor:
    if mod is None:
        return Competitor(key, label, None, missing=NOT_INSTALLED, note=note)
    return Competitor(key, label, lambda: build(mod), note=note)


def torch_competitor(build: Callable[[ModuleType], Step], label: str = TORCH_LABEL,
                     key: str = "torch", note: str = "") -> Competitor:
    """A PyTorch competitor (eager, or torch.compile inside `build`); `build(torch)`
    returns the step."""
    return _competitor(key, label, load_torch(), build, note)


def jax_competitor(build: Callable[[ModuleType], Step], label: str = JAX_LABEL,
                   key: str = "jax", note: str = "") -> Competitor:
    """A JAX competitor; `build(jax)` returns the step (jit it inside `build`)."""
    return _competitor(key, label, load_jax(), build, note)


# ---- comparison variants --------------------------------------------------------------------
def _missing(name: str) -> Callable[[], str | None]:
    return lambda: None if load(name) is not None else f"{name} {NOT_INSTALLED}"


def torch_variant(name: str, setup: Callable[[Any, ModuleType], Prepared] | None = None,
                  loop: Callable[[Any, int, ModuleType], Any] | None = None,
                  note: str = "") -> Variant:
    """A PyTorch peer (eager, or torch.compile inside `setup`); setup/loop get the
    torch module as last argument."""
    return _variant("torch", name, "eager", setup, loop, note)


def jax_variant(name: str, setup: Callable[[Any, ModuleType], Prepared] | None = None,
                loop: Callable[[Any, int, ModuleType], Any] | None = None,
                note: str = "") -> Variant:
    """A JAX peer (jit unless `name` says otherwise); setup/loop get the jax module."""
    return _variant("jax", name, "xla", setup, loop, note)


def _variant(lib: str, name: str, backend: str, setup, loop, note: str) -> Variant:
    wrapped_setup = None if setup is None else (lambda p: setup(p, load(lib)))
    wrapped_loop = None if loop is None else (lambda p, n: loop(p, n, load(lib)))
    return Variant(name, engine=lib, backend=backend, kind="peer", setup=wrapped_setup,
                   loop=wrapped_loop, available=_missing(lib), memory="rss", note=note)
