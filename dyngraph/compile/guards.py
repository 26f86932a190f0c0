"""Guards: what a trace is specialised to, as a hashable key.

A call's arguments are flattened (tuples, lists, dicts); each tensor
contributes (shape, dtype, requires_grad), with its leading dim left out
when the function is compiled with `dynamic=True`; each Python scalar or
string its type and value; any other object its identity. The grad mode
is part of every key, and so is the identity of the tensors the function's
closure cells and globals name (`closure_key`: rebinding a closed-over
weight to a new tensor traces again). Tensors the function captures are
checked after the key matched (`captures_match`).
"""

from __future__ import annotations

from ..grad_mode import GRAD_MODE
from ..tensor import Tensor

_PLAIN = (bool, int, float, str, bytes, type(None))


def _freeze(tree):
    """A hashable copy of a `staticgraph.graph.structure` tree."""
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
    grad, dynamic, _, specs = key[:4]
    lines = [f"grad mode {'on' if grad else 'off'}"]
    closure = key[4] if len(key) > 4 else ()
    if any(c is not None for c in closure):
        lines.append("the tensors the function's closure and globals name: the same objects")
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


def _identities(value):
    if isinstance(value, Tensor):
        return id(value)
    if isinstance(value, (list, tuple)):
        return tuple(id(v) for v in value if isinstance(v, Tensor))
    return None


def closure_key(fn) -> tuple:
    """Identities of the tensors (alone or in a list or tuple) that `fn`'s closure
    cells and the globals its code names hold now."""
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return ()
    ids = []
    for cell in fn.__closure__ or ():
        try:
            ids.append(_identities(cell.cell_contents))
        except ValueError:  # an empty cell
            ids.append(None)
    names = fn.__globals__
    for name in code.co_names:
        value = names.get(name)
        if isinstance(value, (Tensor, list, tuple)):
            ids.append(_identities(value))
    return (tuple(ids),)
