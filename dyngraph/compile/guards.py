"""Guards: what a trace is specialised to, as a hashable key.

A call's arguments are flattened (tuples, lists, dicts); each tensor
contributes (shape, dtype, requires_grad), with its leading dim left out
when the function is compiled with `dynamic=True`; each Python scalar or
string its type and value; any other object its identity. The grad mode
is part of every key. Tensors the function captures are checked after the
key matched (`captures_match`).
"""

from __future__ import annotations

from ..grad_mode import GRAD_MODE
from ..tensor import Tensor

_PLAIN = (bool, int, float, str, bytes, type(None))


def _freeze(tree):
    """A hashable copy of a `staticgraph.structure` tree."""
    if isinstance(tree, (list, tuple)):
        return tuple(_freeze(t) for t in tree)
    return tree


def tensor_spec(t: Tensor, dynamic: bool) -> tuple:
    shape = t.shape
    if dynamic and shape:
        shape = (None,) + shape[1:]
    return (shape, t.dtype.str, t._requires_grad)


def guard_key(leaves: list, tree, dynamic: bool) -> tuple:
    """The key of a call: grad mode, argument structure, and one spec per leaf."""
    specs = []
    for leaf in leaves:
        if isinstance(leaf, Tensor):
            specs.append(tensor_spec(leaf, dynamic))
        elif isinstance(leaf, _PLAIN):
            specs.append((type(leaf), leaf))
        else:
            specs.append(("object", id(leaf)))
    return (GRAD_MODE.enabled, dynamic, _freeze(tree), tuple(specs))


def describe_key(key: tuple) -> list[str]:
    """Readable guard lines for explain()."""
    grad, dynamic, _, specs = key
    lines = [f"grad mode {'on' if grad else 'off'}"]
    for i, spec in enumerate(specs):
        if len(spec) == 3:
            shape = "(" + ", ".join("*" if d is None else str(d) for d in spec[0]) + ")"
            lines.append(f"arg {i}: tensor shape {shape} dtype {spec[1][1:]} "
                         f"requires_grad={spec[2]}")
        elif spec[0] == "object":
            lines.append(f"arg {i}: the same object (id {spec[1]:#x})")
        else:
            lines.append(f"arg {i}: {spec[0].__name__} == {spec[1]!r}")
    return lines


def captures_match(captures: list, specs: list) -> bool:
    """Captured tensors still have the shape, dtype and requires_grad traced."""
    for t, spec in zip(captures, specs):
        if (t.shape, t.dtype.str, t._requires_grad) != spec:
            return False
    return True


def positional_key(args: tuple, dynamic: bool) -> tuple | None:
    """The key of a call with tensors only, positionally (no flattening); None
    for any other call. Never equal to a `guard_key`."""
    specs = []
    for a in args:
        if not isinstance(a, Tensor):
            return None
        shape = a._data.shape
        if dynamic and shape:
            shape = (None,) + shape[1:]
        specs.append((shape, a._data.dtype, a._requires_grad))
    return (GRAD_MODE.enabled, dynamic, "positional", tuple(specs))
