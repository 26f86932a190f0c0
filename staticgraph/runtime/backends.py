"""The backend registry: how a closed program becomes something that runs.

A backend is a factory `factory(program, *, check_numerics=False) -> Runner`.
`program` is a closed `Graph` (see `program.extract_program`): `inputs` are
the fed values, `variables` the state it reads or writes, `outputs` what to
return, `updates` the (variable, new value) pairs to commit after the run.

A Runner is called as `runner(inputs, state) -> outputs`: `inputs` is a list
of arrays in `program.inputs` order; `state` is a dict Var -> ndarray owned
by the session. The runner reads `state[v]` for the variables it uses (one
it only writes may be absent) and stores each update's value into `state`,
replacing the entry or, for a compiled backend, writing in place once
nothing reads the old value. Runners also have `explain() -> str` and a
`program` attribute.

"interpret" is built in; "numba" (staticgraph.numba_backend) is registered
lazily, and "auto" runs "cuda" where a GPU is usable, else "numba"
(`auto_backend()`). A compiled backend registers itself with
`register_backend("numba", factory)`, or lazily with a "module:attribute"
string so the import happens on first use. A factory with a
`check_available()` attribute is asked by `get_backend` (so `Session` and
`function` fail at once, with its BackendError, where it cannot run: "cuda"
without a GPU).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from ..errors import BackendError
from ..graph.ir import Graph, Var
from .interpreter import InterpretRunner


class Runner(Protocol):
    """A backend's compiled program: `runner(inputs, state) -> outputs`, and `explain()`."""

    program: Graph

    def __call__(self, inputs: Sequence[np.ndarray], state: dict[Var, np.ndarray]) -> list:
        ...

    def explain(self) -> str:
        ...


BackendFactory = Callable[..., Runner]
_BACKENDS: dict[str, BackendFactory | str] = {}


def register_backend(name: str, factory: BackendFactory | str, replace: bool = False) -> None:
    """Make `backend=name` available; `factory` may be a 'module:attr' string."""
    if name in _BACKENDS and not replace:
        raise BackendError(f"backend {name!r} is already registered")
    _BACKENDS[name] = factory


def backend_names() -> list[str]:
    """The names of the registered backends, sorted."""
    return sorted(_BACKENDS)


def get_backend(name: str) -> BackendFactory:
    """The factory for `name`; BackendError (listing the known ones) if unknown."""
    if not isinstance(name, str) or name not in _BACKENDS:
        raise BackendError(f"unknown backend {name!r}; available: {', '.join(backend_names())}")
    factory = _BACKENDS[name]
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise BackendError(f"backend {name!r} could not be loaded: {exc}") from exc
        _BACKENDS[name] = factory
    check = getattr(factory, "check_available", None)
    if check is not None:
        check()
    return factory


def make_runner(program: Graph, backend: str = "interpret", *,
                check_numerics: bool = False) -> Runner:
    """Compile (or just wrap) a closed program with the named backend."""
    return get_backend(backend)(program, check_numerics=check_numerics)


def auto_backend() -> str:
    """What backend="auto" runs: "cuda" where `staticgraph.cuda_available()` says a
    GPU is usable, else "numba"."""
    import staticgraph
    available = getattr(staticgraph, "cuda_available", None)
    if "cuda" in _BACKENDS and available is not None:
        try:
            if available():
                return "cuda"
        except Exception:  # a broken CUDA install is no GPU
            pass
    return "numba"


def _auto_factory(program: Graph, *, check_numerics: bool = False) -> Runner:
    return get_backend(auto_backend())(program, check_numerics=check_numerics)


register_backend("interpret", InterpretRunner)
register_backend("numba", "staticgraph.numba_backend:numba_backend")
register_backend("auto", _auto_factory)
register_backend("cuda", "staticgraph.cuda_backend.runner:CudaRunner")
