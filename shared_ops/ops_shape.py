"""Shape primitives: reshape, transpose, broadcast_to, expand_dims, squeeze,
concatenate, getitem (and its scatter-add gradient), plus the two run-time
shape helpers static graphs need when a dim is unknown (reshape_like,
axis_size)."""

from __future__ import annotations

import numpy as np

from . import api as A
from .errors import IndexingError, ShapeError
from .grad_utils import reshape_to, unbroadcast
from .primitive import Primitive, register
from .shapes import AbstractArray, dtype_of, shape_of

_UNKNOWN = 1_000_003  # stand-in size for a None dim when evaluating index shapes


def _aval(shape, x):
    return AbstractArray(tuple(shape), dtype_of(x))


def _reshape_eval(x, *, shape):
    src = shape_of(x)
    if list(shape).count(-1) > 1:
        raise ShapeError(f"reshape: at most one -1 allowed in {shape}")
    known = int(np.prod([d for d in shape if d != -1]))
    if None not in src:
        size = int(np.prod(src))
        if -1 in shape:
            if known == 0 or size % known:
                raise ShapeError(f"reshape: cannot reshape {src} into {shape}")
            return _aval([size // known if d == -1 else d for d in shape], x)
        if size != known:
            raise ShapeError(f"reshape: cannot reshape {src} ({size} elements) into {shape}")
    return _aval([None if d == -1 else d for d in shape], x)


reshape = register(Primitive(
    name="reshape", views=True, impl=lambda x, *, shape: np.reshape(x, shape),
    abstract_eval=_reshape_eval,
    vjp=lambda g, out, x, *, needs, shape: (reshape_to(g, x),), shape_only=(0,)))

reshape_like = register(Primitive(
    name="reshape_like", views=True, impl=lambda x, like: np.reshape(x, np.shape(like)),
    abstract_eval=lambda x, like: _aval(shape_of(like), x),
    vjp=lambda g, out, x, like, *, needs: (reshape_to(g, x), None),
    doc="reshape x to like's run-time shape (for graphs with unknown dims)"))


def _axis_size_impl(x, *, axes):
    return np.asarray(int(np.prod([np.shape(x)[a] for a in axes])), dtype=dtype_of(x))


axis_size = register(Primitive(
    name="axis_size", impl=_axis_size_impl, abstract_eval=lambda x, *, axes: _aval((), x),
    differentiable=False, doc="product of x's run-time dims over axes, as x's dtype"))


def _transpose_eval(x, *, axes):
    shape = shape_of(x)
    if sorted(axes) != list(range(len(shape))):
        raise ShapeError(f"transpose: axes {axes} do not permute a {len(shape)}-d input")
    return _aval([shape[a] for a in axes], x)


transpose = register(Primitive(
    name="transpose", views=True, impl=lambda x, *, axes: np.asarray(x).transpose(axes),
    abstract_eval=_transpose_eval,
    vjp=lambda g, out, x, *, needs, axes: (A.transpose(g, tuple(np.argsort(axes).tolist())),)))


def _broadcast_to_eval(x, *, shape):
    src = shape_of(x)
    lead = len(shape) - len(src)
    ok = lead >= 0 and all(s in (1, None) or s == d or d is None
                           for s, d in zip(src, shape[lead:]))
    if not ok:
        raise ShapeError(f"broadcast_to: cannot broadcast {src} to {tuple(shape)}")
    return _aval(shape, x)


broadcast_to = register(Primitive(
    name="broadcast_to", views=True, impl=lambda x, *, shape: np.broadcast_to(x, shape),
    abstract_eval=_broadcast_to_eval,
    vjp=lambda g, out, x, *, needs, shape: (unbroadcast(g, x),), shape_only=(0,)))


def _expand_dims_eval(x, *, axis):
    shape = list(shape_of(x))
    for a in axis:
        shape.insert(a, 1)
    return _aval(shape, x)


expand_dims = register(Primitive(
    name="expand_dims", views=True, impl=lambda x, *, axis: np.expand_dims(x, axis),
    abstract_eval=_expand_dims_eval,
    vjp=lambda g, out, x, *, needs, axis: (A.squeeze(g, axis),)))


def _squeeze_eval(x, *, axis):
    shape = shape_of(x)
    for a in axis:
        if shape[a] not in (1, None):
            raise ShapeError(f"squeeze: axis {a} has size {shape[a]}, not 1")
    return _aval([d for i, d in enumerate(shape) if i not in axis], x)


squeeze = register(Primitive(
    name="squeeze", views=True, impl=lambda x, *, axis: np.squeeze(x, axis),
    abstract_eval=_squeeze_eval,
    vjp=lambda g, out, x, *, needs, axis: (A.expand_dims(g, axis),)))


def _concatenate_eval(*xs, axis):
    shapes = [shape_of(x) for x in xs]
    ndim = len(shapes[0])
    if any(len(s) != ndim for s in shapes):
        raise ShapeError(f"concatenate: inputs have different ranks: {shapes}")
    out = []
    for i in range(ndim):
        dims = [s[i] for s in shapes]
        if i == axis:
            out.append(None if None in dims else sum(dims))
            continue
        known = {d for d in dims if d is not None}
        if len(known) > 1:
            raise ShapeError(f"concatenate: shapes {shapes} differ off axis {axis}")
        out.append(known.pop() if known else None)
    return AbstractArray(tuple(out), np.result_type(*[dtype_of(x) for x in xs]))


def _concatenate_vjp(g, out, *xs, needs, axis):
    grads, start = [], 0
    for x, need in zip(xs, needs):
        size = shape_of(x)[axis]
        if size is None:
            raise ShapeError("concatenate: gradient needs static sizes along the axis")
        index = (slice(None),) * axis + (slice(start, start + size),)
        grads.append(A.getitem(g, index) if need else None)
        start += size
    return tuple(grads)


concatenate = register(Primitive(
    name="concatenate", impl=lambda *xs, axis: np.concatenate(xs, axis=axis),
    abstract_eval=_concatenate_eval, vjp=_concatenate_vjp))


def _slice_len(s: slice, d):
    """Length of s applied to a dim of size d; None when it depends on an unknown d."""
    if d is not None:
        return len(range(*s.indices(d)))
    # Static only if the same for every size, the smallest included: `x[:1]` has
    # length 1, but 0 when the dim turns out to be 0 (an empty sequence).
    lengths = {len(range(*s.indices(n))) for n in (0, 1, 2, 3, _UNKNOWN, 2 * _UNKNOWN)}
    return lengths.pop() if len(lengths) == 1 else None


def _is_mask(item) -> bool:
    return isinstance(item, np.ndarray) and item.dtype == np.bool_


def index_shape(shape, index) -> tuple:
    """Result shape of x[index] (NumPy rules, computed without indexing anything)
    for a static shape that may hold None dims."""
    shape = tuple(shape)

    def fail(msg):
        return IndexingError(f"getitem: {msg} (input shape {shape})")
    used = sum(i.ndim if _is_mask(i) else 0 if i is None or i is Ellipsis else 1 for i in index)
    if sum(i is Ellipsis for i in index) > 1:
        raise fail("an index can only have a single ellipsis")
    if used > len(shape):
        raise fail(f"too many indices for a {len(shape)}-d input")
    fill = (slice(None),) * (len(shape) - used)
    at = next((k for k, i in enumerate(index) if i is Ellipsis), len(index))
    gap = at if at < len(index) and not fill else None  # NumPy: an empty `...` still separates
    index = tuple(index[:at]) + fill + tuple(index[at + 1:])
    has_array = any(isinstance(i, np.ndarray) for i in index)
    out, adv_shapes, adv_items, adv_at, axis, bad = [], [], [], None, 0, None
    for k, item in enumerate(index):
        if item is None:
            out.append(1)
            continue
        if _is_mask(item):
            dims = shape[axis:axis + item.ndim]
            if any(d is not None and d != m for d, m in zip(dims, item.shape)):
                raise fail(f"boolean index of shape {item.shape} does not match dims {dims}")
            axis += item.ndim
            adv_shapes.append((int(np.count_nonzero(item)),))
        else:
            d = shape[axis]
            axis += 1
            if isinstance(item, slice):
                out.append(_slice_len(item, d))
                continue
            arr = np.asarray(item)
            if d is not None and arr.size and (arr.max() >= d or arr.min() < -d):
                value = arr.max() if arr.max() >= d else arr.min()
                error = fail(f"index {value} is out of bounds for axis {axis - 1} with size {d}")
                if not isinstance(item, np.ndarray):
                    raise error  # scalar ints are always checked
                bad = bad or error
            if not (isinstance(item, np.ndarray) or has_array):
                continue  # a plain int drops the dim
            adv_shapes.append(arr.shape)
        adv_items.append(k)
        adv_at = len(out) if adv_at is None else adv_at
    if not adv_shapes:
        return tuple(out)
    try:
        adv = np.broadcast_shapes(*adv_shapes)
    except ValueError:
        raise fail(f"index arrays of shapes {adv_shapes} do not broadcast together") from None
    if bad is not None and 0 not in adv:  # NumPy checks bounds only when selecting something
        raise bad
    if adv_items[-1] - adv_items[0] + 1 != len(adv_items) or (
            gap is not None and adv_items[0] < gap <= adv_items[-1]):
        adv_at = 0  # advanced indices apart: their dims go first, as in NumPy
    return tuple(out[:adv_at]) + tuple(adv) + tuple(out[adv_at:])


def _basic_view(index) -> bool:
    """NumPy gives a view for basic indexing only (no integer or boolean arrays)."""
    return not any(isinstance(i, np.ndarray) for i in index)


def _getitem_impl(x, *, index):
    return x[index]


getitem = register(Primitive(
    name="getitem", views=True, view_when=lambda params: _basic_view(params["index"]),
    impl=_getitem_impl,
    abstract_eval=lambda x, *, index: _aval(index_shape(shape_of(x), index), x),
    vjp=lambda g, out, x, *, needs, index: (A.getitem_grad(g, x, index=index),),
    shape_only=(0,),
    doc="x[index]: basic slices, integer arrays, boolean masks"))


def is_basic_index(index) -> bool:
    """True when no element can be selected twice (no integer arrays)."""
    return not any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in index)


def _getitem_grad_impl(g, x, *, index):
    result = np.zeros(np.shape(x), dtype=np.result_type(g))
    if is_basic_index(index):
        result[index] = g
    else:
        np.add.at(result, index, g)
    return result


getitem_grad = register(Primitive(
    name="getitem_grad", impl=_getitem_grad_impl,
    abstract_eval=lambda g, x, *, index: _aval(shape_of(x), g),
    vjp=lambda gg, out, g, x, *, needs, index: (A.getitem(gg, index), None),
    doc="zeros shaped like x with g scatter-added at index (getitem's VJP)"))
