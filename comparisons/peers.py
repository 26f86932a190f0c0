"""Optional peer libraries (PyTorch eager, JAX jit): rows when importable.

Peers are never required: when a library cannot be imported its rows read
"skipped: <library> not installed". Their memory is measured as RSS growth,
since their allocators are invisible to tracemalloc. PyTorch runs on one
thread, like NumPy's ufuncs and dyngraph: its OpenMP workers spin-wait, and
on a shared machine that made elementwise ops tens of times slower.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .framework import Prepared, Variant

_CACHE: dict[str, ModuleType | None] = {}


def load(name: str) -> ModuleType | None:
    """The imported module, or None when it is missing or broken."""
    if name not in _CACHE:
        try:
            _CACHE[name] = importlib.import_module(name)
        except Exception:  # ImportError, or a broken install raising anything
            _CACHE[name] = None
        module = _CACHE[name]
        if name == "jax" and module is not None:
            module.config.update("jax_enable_x64", True)
        if name == "torch" and module is not None:
            module.set_num_threads(1)
    return _CACHE[name]


def _missing(name: str) -> Callable[[], str | None]:
    return lambda: None if load(name) is not None else f"{name} not installed"


def torch_variant(name: str, setup: Callable[[Any, ModuleType], Prepared] | None = None,
                  loop: Callable[[Any, int, ModuleType], Any] | None = None,
                  note: str = "") -> Variant:
    """A PyTorch eager peer; setup/loop get the torch module as last argument."""
    return _peer("torch", name, "eager", setup, loop, note)


def jax_variant(name: str, setup: Callable[[Any, ModuleType], Prepared] | None = None,
                loop: Callable[[Any, int, ModuleType], Any] | None = None,
                note: str = "") -> Variant:
    """A JAX peer (jit unless `name` says otherwise); setup/loop get the jax module."""
    return _peer("jax", name, "xla", setup, loop, note)


def _peer(lib: str, name: str, backend: str, setup, loop, note: str) -> Variant:
    wrapped_setup = None if setup is None else (lambda p: setup(p, load(lib)))
    wrapped_loop = None if loop is None else (lambda p, n: loop(p, n, load(lib)))
    return Variant(name, engine=lib, backend=backend, kind="peer", setup=wrapped_setup,
                   loop=wrapped_loop, available=_missing(lib), memory="rss", note=note)
