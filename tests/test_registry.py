"""Registry audit: every primitive carries every field the engines need."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from op_cases import CASES, differentiable_cases, shared_ops_primitives

import shared_ops as so
from shared_ops.audit import audit_primitive, audit_registry

ISSUE_OPS = [
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "abs", "tanh", "sigmoid",
    "relu", "maximum", "minimum", "clip", "where", "greater", "less", "equal", "sum", "mean",
    "max", "matmul", "transpose", "reshape", "broadcast_to", "expand_dims", "squeeze",
    "concatenate", "getitem", "softmax", "log_softmax", "cast",
]


def test_registry_is_complete():
    assert audit_registry() == {}


def test_issue_ops_are_registered():
    missing = [name for name in ISSUE_OPS if name not in so.REGISTRY]
    assert not missing
    assert callable(so.stack)  # stack is built from expand_dims + concatenate


def test_comparisons_are_not_differentiable():
    for name in ("greater", "less", "equal", "not_equal", "greater_equal", "less_equal",
                 "sign", "logical_and", "logical_or", "logical_not"):
        assert not so.REGISTRY[name].differentiable, name


@pytest.mark.parametrize("name", sorted(so.REGISTRY))
def test_primitive_fields(name):
    prim = so.REGISTRY[name]
    assert prim.name == name
    assert callable(prim.impl) and callable(prim.abstract_eval)
    if prim.differentiable:
        assert callable(prim.vjp)
    if prim.elementwise:
        assert callable(prim.scalar)


def _required_fields(prim) -> list[str]:
    return (["impl", "abstract_eval"] + (["vjp"] if prim.differentiable else [])
            + (["scalar"] if prim.elementwise else []))


@pytest.mark.parametrize("name, field_name", [
    (name, f) for name in sorted(so.REGISTRY) for f in _required_fields(so.REGISTRY[name])])
def test_audit_flags_a_removed_field(name, field_name):
    """Removing any field a primitive needs makes the audit complain."""
    prim = so.REGISTRY[name]
    broken = dataclasses.replace(prim, **{field_name: None})
    problems = audit_primitive(broken)
    assert any(p.startswith(field_name) for p in problems), problems
    fake_registry = {**so.REGISTRY, name: broken}
    assert name in audit_registry(fake_registry)


def test_audit_flags_fake_incomplete_primitives():
    identity = lambda x: x  # noqa: E731
    complete = so.Primitive("fake", identity, identity, vjp=lambda g, out, x, *, needs: (g,),
                            scalar=identity, elementwise=True)
    assert audit_primitive(complete) == []
    no_needs = dataclasses.replace(complete, vjp=lambda g, out, x: (g,))
    assert any("needs" in p for p in audit_primitive(no_needs))
    both = dataclasses.replace(complete, reduction=True)
    assert any("reduction" in p for p in audit_primitive(both))
    bad_factory = dataclasses.replace(complete, scalar_factory=True)
    assert any("factory" in p for p in audit_primitive(bad_factory))
    stray_vjp = dataclasses.replace(complete, differentiable=False)
    assert any("not differentiable" in p for p in audit_primitive(stray_vjp))
    misnamed = {"other": complete}
    assert "other" in audit_registry(misnamed)


def test_register_rejects_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        so.register(dataclasses.replace(so.REGISTRY["add"]))


def test_every_shared_op_has_test_cases():
    """The op-level tests below cover every primitive shared_ops defines."""
    covered = {c.prim for c in CASES}
    assert set(shared_ops_primitives()) <= covered
    with_vjp_cases = {c.prim for c in differentiable_cases()}
    needing = {n for n in shared_ops_primitives() if so.REGISTRY[n].differentiable}
    assert needing <= with_vjp_cases, needing - with_vjp_cases


def test_scalar_factories_take_params():
    clip = so.REGISTRY["clip"].scalar(lo=-1.0, hi=1.0)
    assert clip(3.0) == 1.0 and clip(-3.0) == -1.0 and clip(0.25) == 0.25
    cast = so.REGISTRY["cast"].scalar(dtype=np.dtype(np.float32))
    assert cast(1.5) == np.float32(1.5)
