"""Nested structures (lists, tuples, namedtuples, dicts) of leaves.

Session fetches, function outputs and cond branch results may be nested;
results mirror the structure. `flatten` returns the leaves and a tree that
`unflatten` fills with new leaves.
"""

from __future__ import annotations

from typing import Any

Tree = Any  # ("leaf",) | (kind, meta, children)
_LEAF = ("leaf",)


def flatten(value) -> tuple[list, Tree]:
    """Leaves in order, and the structure to rebuild with `unflatten`."""
    leaves: list = []
    return leaves, _flatten(value, leaves)


def _flatten(value, leaves: list) -> Tree:
    if isinstance(value, dict):
        keys = list(value)
        return ("dict", keys, [_flatten(value[k], leaves) for k in keys])
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return ("namedtuple", type(value), [_flatten(v, leaves) for v in value])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, None, [_flatten(v, leaves) for v in value])
    leaves.append(value)
    return _LEAF


def unflatten(tree: Tree, leaves) -> Any:
    """Rebuild the structure of `tree` around `leaves` (consumed in order)."""
    return _unflatten(tree, iter(leaves))


def _unflatten(tree: Tree, it) -> Any:
    if tree is _LEAF:
        return next(it)
    kind, meta, children = tree
    items = [_unflatten(c, it) for c in children]
    if kind == "dict":
        return dict(zip(meta, items))
    if kind == "namedtuple":
        return meta(*items)
    return items if kind == "list" else tuple(items)


def same_structure(a: Tree, b: Tree) -> bool:
    """True when two trees have the same containers, keys and leaf positions."""
    if a is _LEAF or b is _LEAF:
        return a is b
    return (a[0] == b[0] and a[1] == b[1] and len(a[2]) == len(b[2])
            and all(same_structure(x, y) for x, y in zip(a[2], b[2])))
