"""Generators of shape steps and indexing.

reshape (with -1), reshape_like, axis_size, transpose, swapaxes,
broadcast_to, expand_dims, squeeze, concatenate, stack, getitem (slices
with negative steps, ints, None, Ellipsis, integer arrays with repeats,
boolean masks) and getitem_grad. Concatenation stays off axes the static
graph does not know (its gradient needs static sizes there).
"""

from __future__ import annotations

import numpy as np

from .builder import Builder
from .gen_elementwise import FLOAT, array_operand
from .program import Ref


def _factor(b: Builder, n: int, parts: int) -> list[int]:
    """A random list of `parts` positive ints with product n."""
    dims = []
    for _ in range(parts - 1):
        divisors = [d for d in range(1, n + 1) if n % d == 0]
        d = b.c.choice(divisors)
        dims.append(d)
        n //= d
    return dims + [n]


def gen_reshape(b: Builder) -> str | None:
    x = b.operand(FLOAT)
    dims = _factor(b, b.info[x].size, b.c.integer(1, 3)) if b.c.integer(0, 5) else []
    if dims and b.c.boolean(0.4):
        dims[b.c.integer(0, len(dims) - 1)] = -1
    if not dims and b.info[x].size != 1:
        dims = [-1]
    return b.emit("reshape", [Ref(x), tuple(dims)])


def gen_reshape_like(b: Builder) -> str | None:
    x = b.operand(FLOAT)
    info = b.info[x]
    like = b.pick(lambda i: i.size == info.size and i.shape != info.shape)
    if like is None:
        like = b.emit("transpose", [Ref(x)], {"axes": None})
    return like and b.emit("reshape_like", [Ref(x), Ref(like)])


def gen_axis_size(b: Builder) -> str | None:
    x = b.operand(lambda i: FLOAT(i) and i.ndim >= 1)
    ndim = b.info[x].ndim
    if ndim == 0:
        return None
    axes = tuple(a for a in range(ndim) if b.c.boolean(0.5)) or (0,)
    size = b.emit("axis_size", [Ref(x), axes])
    other = b.operand(FLOAT)
    return size and b.emit(b.c.choice(("mul", "div")), [Ref(other), Ref(size)])


def gen_transpose(b: Builder) -> str | None:
    x = b.operand(FLOAT)
    ndim = b.info[x].ndim
    if b.c.boolean(0.3):
        return b.emit("transpose", [Ref(x)], {"axes": None})
    perm = list(range(ndim))
    for i in range(ndim - 1, 0, -1):
        j = b.c.integer(0, i)
        perm[i], perm[j] = perm[j], perm[i]
    return b.emit("transpose", [Ref(x)], {"axes": tuple(perm)})


def gen_swapaxes(b: Builder) -> str | None:
    x = b.operand(lambda i: FLOAT(i) and i.ndim >= 2)
    ndim = b.info[x].ndim
    if ndim < 2:
        return None
    return b.emit("swapaxes", [Ref(x), b.c.integer(-ndim, ndim - 1), b.c.integer(0, ndim - 1)])


def gen_broadcast_to(b: Builder) -> str | None:
    x = b.operand(FLOAT)
    shape = [b.c.integer(1, 3) if d == 1 else d for d in b.info[x].shape]
    if b.c.boolean(0.5):
        shape = [b.c.integer(1, 3)] + shape
    return b.emit("broadcast_to", [Ref(x), tuple(shape)])


def gen_expand_dims(b: Builder) -> str | None:
    x = b.operand(FLOAT)
    ndim = b.info[x].ndim
    if b.c.boolean(0.6):
        return b.emit("expand_dims", [Ref(x), b.c.integer(-ndim - 1, ndim)])
    k = b.c.integer(1, 2)
    axes = tuple(a for a in range(ndim + k) if b.c.boolean(0.4))[:k]
    while axes and axes[-1] >= ndim + len(axes):
        axes = axes[:-1]
    axes = axes or (0,)
    return b.emit("expand_dims", [Ref(x), axes])


def gen_squeeze(b: Builder) -> str | None:
    x = b.pick(lambda i: FLOAT(i) and 1 in i.static)
    if x is None:
        x = b.emit("expand_dims", [Ref(b.operand(FLOAT)), 0])
        if x is None:
            return None
    ones = [a for a, d in enumerate(b.info[x].static) if d == 1]
    axes = tuple(a for a in ones if b.c.boolean(0.6)) or (ones[0],)
    return b.emit("squeeze", [Ref(x)], {"axis": axes[0] if len(axes) == 1 else axes})


def gen_concatenate(b: Builder) -> str | None:
    x = b.operand(lambda i: FLOAT(i) and i.ndim >= 1)
    info = b.info[x]
    axes = [a for a in range(info.ndim) if info.static[a] is not None]
    if not axes:
        return None
    axis = b.c.choice(axes)
    parts = [Ref(x)]
    for _ in range(b.c.integer(1, 2)):
        shape = list(info.shape)
        shape[axis] = b.c.integer(1, 3)
        parts.append(array_operand(b, tuple(shape)) if b.c.boolean(0.8) else Ref(x))
    if any(isinstance(p, Ref) and b.info[p.name].static[axis] is None for p in parts):
        return None
    if b.c.boolean(0.5):
        parts.reverse()
    return b.emit("concatenate", [parts], {"axis": axis - info.ndim if b.c.boolean(0.3)
                                           else axis})


def gen_add_n(b: Builder) -> str | None:
    x = b.operand(FLOAT)
    info = b.info[x]
    parts = [Ref(x)] + [array_operand(b, info.shape) if b.c.boolean(0.8) else Ref(x)
                        for _ in range(b.c.integer(1, 2))]
    if any(b.info[p.name].dtype != info.dtype for p in parts if isinstance(p, Ref)):
        return None
    return b.emit("add_n", [parts])


def gen_stack(b: Builder) -> str | None:
    x = b.operand(FLOAT)
    info = b.info[x]
    parts = [Ref(x), array_operand(b, info.shape)]
    return b.emit("stack", [parts], {"axis": b.c.integer(0, info.ndim)})


# ---- indexing ------------------------------------------------------------------------

def _index_item(b: Builder, d: int, arrays: int):
    kind = b.c.choice(("all", "slice", "int", "intarray", "mask") if arrays == 0 else
                      ("all", "slice", "int"))
    if kind == "all":
        return slice(None)
    if kind == "slice":
        step = b.c.choice((1, 2, -1, -2))
        start = b.c.integer(-d, d - 1) if b.c.boolean(0.5) else None
        return slice(start, None, step)
    if kind == "int":
        return b.c.integer(-d, d - 1)
    if kind == "intarray":
        return np.array([b.c.integer(-d, d - 1) for _ in range(b.c.integer(1, 3))])
    mask = np.array([b.c.boolean(0.6) for _ in range(d)])
    mask[b.c.integer(0, d - 1)] = True
    return mask


def random_index(b: Builder, shape: tuple) -> tuple:
    """An index for `shape` whose result is not empty (checked with NumPy):
    items for the first dims, maybe `...` and items for the last dims, maybe a None."""
    ndim, arrays = len(shape), 0
    front = b.c.integer(0, ndim)
    back = b.c.integer(0, ndim - front) if b.c.boolean(0.2) else None
    items: list = []
    for d in shape[:front] + (shape[ndim - back:] if back else ()):
        item = _index_item(b, d, arrays)
        arrays += isinstance(item, np.ndarray)
        items.append(item)
    if back is not None:
        items.insert(front, Ellipsis)
    if b.c.boolean(0.2):
        items.insert(b.c.integer(0, len(items)), None)
    index = tuple(items)
    if np.empty(shape)[index].size == 0:
        return (slice(None),) if shape else ()
    return index


def gen_getitem(b: Builder) -> str | None:
    x = b.operand(lambda i: FLOAT(i) and i.ndim >= 1)
    if b.info[x].ndim == 0:
        return None
    return b.emit("getitem", [Ref(x), random_index(b, b.info[x].shape)])


def gen_getitem_grad(b: Builder) -> str | None:
    """getitem_grad(g, x, index): g made from a value of x's shape indexed the same way."""
    x = b.operand(lambda i: FLOAT(i) and i.ndim >= 1)
    info = b.info[x]
    if info.ndim == 0:
        return None
    index = random_index(b, info.shape)
    source = b.pick(lambda i: FLOAT(i) and i.shape == info.shape) or x
    g = b.emit("getitem", [Ref(source), index])
    if g is not None and b.c.boolean(0.5):
        g = b.emit("tanh", [Ref(g)])
    return g and b.emit("getitem_grad", [Ref(g), Ref(x), index])


GENERATORS = {
    "reshape": gen_reshape, "reshape_like": gen_reshape_like, "axis_size": gen_axis_size,
    "transpose": gen_transpose, "swapaxes": gen_swapaxes, "broadcast_to": gen_broadcast_to,
    "expand_dims": gen_expand_dims, "squeeze": gen_squeeze, "concatenate": gen_concatenate,
    "stack": gen_stack, "getitem": gen_getitem, "getitem_grad": gen_getitem_grad,
    "add_n": gen_add_n,
}
