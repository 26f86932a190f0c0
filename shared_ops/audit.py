"""Registry audit: does every primitive carry every field an engine needs?

`audit_primitive` returns a list of problems (empty when the primitive is
complete); the test suite runs `audit_registry` so that adding an op without
one of its rules fails loudly instead of breaking an engine later.
"""

from __future__ import annotations

import inspect

from .primitive import REGISTRY, Primitive


def _accepts_keyword(fn, name: str) -> bool:
    """True when `fn` can be called with `name=...` (a named or **kwargs parameter)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: give the benefit of doubt
        return True
    return any(p.name == name and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
               or p.kind is p.VAR_KEYWORD for p in params)


def audit_primitive(prim: Primitive) -> list[str]:
    """What `prim` lacks; [] when it has every required field."""
    problems = []
    if not isinstance(prim.name, str) or not prim.name:
        problems.append("name: missing")
    if not callable(prim.impl):
        problems.append("impl: missing (NumPy implementation)")
    if not callable(prim.abstract_eval):
        problems.append("abstract_eval: missing (shape/dtype rule)")
    if prim.differentiable:
        if not callable(prim.vjp):
            problems.append("vjp: missing on a differentiable primitive")
        elif not _accepts_keyword(prim.vjp, "needs"):
            problems.append("vjp: does not take the `needs` keyword")
    elif prim.vjp is not None:
        problems.append("vjp: set on a primitive marked not differentiable")
    if prim.elementwise:
        if prim.reduction:
            problems.append("flags: both elementwise and reduction")
        if not callable(prim.scalar):
            problems.append("scalar: missing on an elementwise primitive")
        elif prim.scalar_factory:
            try:
                params = inspect.signature(prim.scalar).parameters.values()
            except (TypeError, ValueError):
                params = []
            if any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
                problems.append("scalar: a scalar_factory must take only keyword parameters")
    elif prim.scalar is not None:
        problems.append("scalar: set on a primitive that is not elementwise")
    return problems


def audit_registry(registry: dict | None = None) -> dict[str, list[str]]:
    """{name: problems} for every incomplete primitive in the registry."""
    registry = REGISTRY if registry is None else registry
    report = {}
    for name, prim in registry.items():
        problems = audit_primitive(prim)
        if getattr(prim, "name", None) != name:
            problems.append(f"registered as {name!r} but named {getattr(prim, 'name', None)!r}")
        if problems:
            report[name] = problems
    return report
