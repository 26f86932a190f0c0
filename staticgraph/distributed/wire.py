"""Programs to bytes and back, for shipping partitions to workers.

Primitives travel by name, never by value: a registered op as its registry
name, any other primitive (cond, scan, ...) as the module attribute that
holds it, so the worker's lowering tables, which are keyed by the primitive
object, find the worker's own primitive. Everything else is pickled with
cloudpickle (functions in params included).
"""

from __future__ import annotations

import importlib
import io
import pickle
import sys

import cloudpickle

from shared_ops import REGISTRY, Primitive

_PACKAGES = ("shared_ops", "staticgraph", "dyngraph")


_FOUND: dict[int, tuple[Primitive, tuple[str, str]]] = {}


def _module_attribute(prim: Primitive) -> tuple[str, str]:
    found = _FOUND.get(id(prim))
    if found is not None and found[0] is prim:
        return found[1]
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in _PACKAGES:
            continue
        for attr, value in list(vars(module).items()):
            if value is prim:
                _FOUND[id(prim)] = (prim, (name, attr))
                return name, attr
    raise pickle.PicklingError(f"primitive {prim.name!r} is neither registered nor a "
                               "module attribute of the library, so a worker cannot find it")


class _Pickler(cloudpickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Primitive):
            if REGISTRY.get(obj.name) is obj:
                return ("registry", obj.name)
            return ("module",) + _module_attribute(obj)
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        if pid[0] == "registry":
            return REGISTRY[pid[1]]
        return getattr(importlib.import_module(pid[1]), pid[2])


def dumps(obj) -> bytes:
    """`obj` as bytes, primitives by name."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def loads(data: bytes):
    """The object `dumps` wrote, with this process's primitives."""
    return _Unpickler(io.BytesIO(data)).load()
