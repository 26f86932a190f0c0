"""The public API as IDEs and readers see it: docstrings everywhere, a literal __all__."""

from __future__ import annotations

import ast
import inspect
import types
from pathlib import Path

import pytest

import dyngraph as dg
import dyngraph.nn.functional
import staticgraph as sg

OURS = ("dyngraph", "staticgraph", "shared_ops", "comparisons")

NAMESPACES = {
    "dg": dg, "sg": sg, "dg.nn": dg.nn, "dg.nn.functional": dyngraph.nn.functional,
    "dg.optim": dg.optim, "sg.train": sg.train, "sg.nn": sg.nn,
}

# Names the package modules import for their own use: importable, not public API.
INTERNAL = {
    dg: {"annotations", "A", "so", "np", "P", "NO_PARAMS", "apply_primitive",
         "normalize_axes", "normalize_axis"},
    sg: {"annotations", "np"},
}
# Submodules users reach as attributes (dg.nn, sg.train, ...); the package's other
# submodules are implementation and stay out of __all__.
SUBMODULES = {dg: {"autograd", "nn", "optim"}, sg: {"train", "nn", "layers", "initializers"}}


def _doc(obj) -> str | None:
    """The object's own docstring (a class or function does not inherit one)."""
    if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
        return obj.__doc__
    return inspect.getdoc(obj)


def undocumented_callables(namespace, prefix: str) -> list[str]:
    """`prefix.name` for each public callable of ours in `namespace` without a docstring."""
    missing = []
    for name in sorted(dir(namespace)):
        if name.startswith("_"):
            continue
        obj = getattr(namespace, name)
        if isinstance(obj, types.ModuleType) or not callable(obj):
            continue
        if (getattr(obj, "__module__", None) or "").split(".")[0] not in OURS:
            continue
        if not (_doc(obj) or "").strip():
            missing.append(f"{prefix}.{name}")
    return missing


def undocumented_members(cls) -> list[str]:
    """`Class.name` for each public method or property of `cls` (defined in it or in
    one of its bases from our packages, such as Tensor's mixins) without a docstring."""
    missing = []
    members: dict = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.split(".")[0] in OURS:
            members.update(vars(klass))
    for name, obj in members.items():
        if name.startswith("_"):
            continue
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        if callable(obj) or isinstance(obj, property):
            if not (obj.__doc__ or "").strip():
                missing.append(f"{cls.__name__}.{name}")
    return missing


@pytest.mark.parametrize("prefix", sorted(NAMESPACES))
def test_every_public_callable_has_a_docstring(prefix):
    assert undocumented_callables(NAMESPACES[prefix], prefix) == []


@pytest.mark.parametrize("cls", [dg.Tensor, sg.Symbol], ids=["Tensor", "Symbol"])
def test_every_tensor_and_symbol_member_has_a_docstring(cls):
    assert undocumented_members(cls) == []


def test_the_checks_report_a_missing_docstring(monkeypatch):
    monkeypatch.setattr(dg.exp, "__doc__", None)
    monkeypatch.setattr(sg.placeholder, "__doc__", "")
    monkeypatch.setattr(dg.Tensor.numel, "__doc__", None)
    monkeypatch.setattr(dg.Tensor, "shape", property(lambda self: self._data.shape))
    assert "dg.exp" in undocumented_callables(dg, "dg")
    assert "sg.placeholder" in undocumented_callables(sg, "sg")
    monkeypatch.setattr(dg.Tensor.relu, "__doc__", None)  # a mixin's method
    assert {"Tensor.numel", "Tensor.shape", "Tensor.relu"} <= set(
        undocumented_members(dg.Tensor))


def public_names(pkg) -> set[str]:
    """Non-underscore names of `pkg` that are not its internal imports or submodules."""
    names = set()
    for name in dir(pkg):
        obj = getattr(pkg, name)
        if name.startswith("_") or name in INTERNAL[pkg]:
            continue
        if isinstance(obj, types.ModuleType) and name not in SUBMODULES[pkg]:
            continue
        names.add(name)
    return names


@pytest.mark.parametrize("pkg", [dg, sg], ids=["dyngraph", "staticgraph"])
def test_all_is_a_literal_list_of_the_public_names(pkg):
    tree = ast.parse(Path(pkg.__file__).read_text())
    assigned = [node.value for node in tree.body if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "__all__" for t in node.targets)]
    assert len(assigned) == 1 and isinstance(assigned[0], ast.List)
    assert ast.literal_eval(assigned[0]) == pkg.__all__
    assert len(set(pkg.__all__)) == len(pkg.__all__), "a name is listed twice"
    assert [n for n in pkg.__all__ if not hasattr(pkg, n)] == []
    assert sorted(public_names(pkg) - set(pkg.__all__)) == [], "public but not in __all__"
    assert sorted(set(pkg.__all__) - public_names(pkg)) == [], "internal name in __all__"
    assert SUBMODULES[pkg] <= set(pkg.__all__)


@pytest.mark.parametrize("pkg", [dg, sg], ids=["dyngraph", "staticgraph"])
def test_star_import_gives_the_names_of_all(pkg):
    namespace: dict = {}
    exec(f"from {pkg.__name__} import *", namespace)
    assert set(pkg.__all__) <= set(namespace)


def test_factory_made_functions_look_defined_where_they_are_bound():
    """sg.exp, dg.exp, shared_ops.api.exp, sg.log1p ... carry their own name, module,
    docstring and signature, which the API reference renders."""
    import shared_ops.api as A
    from staticgraph.build import ops_tf1
    for fn, module, params in ((sg.exp, "staticgraph.build.ops", ["x"]),
                               (sg.add, "staticgraph.build.ops", ["x", "y"]),
                               (ops_tf1.log1p, "staticgraph.build.ops_tf1", ["x"]),
                               (dg.exp, "dyngraph.functions", ["input"]),
                               (A.exp, "shared_ops.api", ["x"])):
        assert fn.__module__ == module and fn.__qualname__ == fn.__name__, fn
        assert getattr(__import__(module, fromlist=["_"]), fn.__name__) is fn
        assert fn.__doc__ and list(inspect.signature(fn).parameters) == params
