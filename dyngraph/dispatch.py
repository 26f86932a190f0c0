"""The op dispatcher: runs a primitive on tensors and records the tape.

`apply_primitive` is the engine's `bind` handler (`TensorBase._gc_bind`): it
runs the primitive's NumPy impl and, when grad mode is on and an input
requires grad, records a Node holding what the shared VJP rule needs.

`TensorBase` holds a tensor's state; `dyngraph.tensor.Tensor` adds the
methods and registers itself with `set_tensor_class`, which makes it the
type of every tensor this module creates (modules below `tensor` test
`isinstance(x, TensorBase)` and create tensors with `wrap` / `as_tensor`).
"""

from __future__ import annotations

from sys import _getframe

import numpy as np

from shared_ops import REGISTRY, DTypeError, ShapeError, format_site, user_site
from shared_ops.dtypes import CHECKED_TYPES, check_operand
from shared_ops.errors import GraphCompareError, IndexingError
from shared_ops.shapes import AbstractArray
from shared_ops.sites import FILE_IS_LIBRARY, classify_file
from shared_ops.sites import last_user_code as USER_CODE

from .grad_mode import GRAD_MODE
from .node import INPLACE_COUNT, Node, next_seq

DEFAULT_DTYPE = [np.dtype(np.float32)]
# The params of a call that has none, shared by every such node (they are only
# read; a dict, not a read-only mapping: `**params` is fastest for a real dict).
NO_PARAMS: dict = {}
_CAST = REGISTRY["cast"]
# Unread inputs (see `_keep_shapes_only`) up to this size stay on the tape as they
# are: swapping in a stand-in costs more than the memory it frees.
SMALL_VALUE_BYTES = 1024
# While `dg.compile` traces a function, the tracer's bind handler (else None).
# It returns NotImplemented for calls it does not trace (another thread's ops).
TRACE_HOOK: list = [None]
# While `dg.compile` traces, the trace's state recorder (`dyngraph.compile.state`):
# in-place updates, backward, zero_grad and optimizer steps ask it first.
TRACE_STATE: list = [None]


def active_trace_state():
    """The state recorder of a `dg.compile` trace running in this thread, else None."""
    state = TRACE_STATE[0]
    return state if state is not None and state.active() else None


def _user_at() -> str:
    """' (at file.py:12)': the user's line, for an operand refused before the op runs."""
    site = format_site(user_site(2))
    return f" (at {site})" if site else ""


def _op_error(prim, datas, exc: Exception) -> Exception:
    """Turn a NumPy failure inside an op into our documented error type."""
    site = format_site(user_site(3))
    shapes = ", ".join(str(np.shape(d)) for d in datas)
    where = f" (at {site})" if site else ""
    if isinstance(exc, GraphCompareError):
        return type(exc)(f"{exc}{where}")
    if isinstance(exc, IndexError):
        return IndexingError(f"{prim.name}: {exc}; operand shapes {shapes}{where}")
    if isinstance(exc, TypeError):
        return DTypeError(f"{prim.name}: {exc}{where}")
    return ShapeError(f"{prim.name}: {exc}; operand shapes {shapes}{where}")


def apply_primitive(prim, args, params, depth=1):
    """Run `prim` on Tensor/array/scalar args; record a node when needed.

    One pass over the arguments collects what the impl needs and, in grad
    mode, what backward needs (edges, saved versions). `depth` is where the
    search for the user's line starts (`sys._getframe(depth)` from here, 1:
    our caller); entry points that are always library code pass 2 to skip
    their own frame, which saves creating its frame object.
    """
    if TRACE_HOOK[0] is not None:
        traced = TRACE_HOOK[0](prim, args, params)
        if traced is not NotImplemented:
            return traced
    if not (GRAD_MODE.enabled and prim.differentiable):
        return run_primitive(prim, args, params)
    datas = []
    edges = []
    versions = []
    shape_only = prim.vjp_shape_only_mask  # inputs whose values the rule never reads
    mask = 0
    large = 0  # large unread values made by other ops: the tape keeps only their shapes
    bit = 1
    for a in args:
        if isinstance(a, Tensor):
            data = a._data
            datas.append(data)
            if not bit & shape_only:  # a value the rule reads: watch its version
                versions.append(a._version)
            if a._requires_grad:
                edge = a._edge
                if edge is None:
                    edges.append(a)
                else:
                    edges.append(edge)
                    if bit & shape_only and type(data) is np.ndarray and \
                            data.nbytes > SMALL_VALUE_BYTES:
                        large |= bit
                mask |= bit
                bit <<= 1
                continue
        else:
            if type(a) in CHECKED_TYPES:
                check_operand(prim.name, a, _user_at())
            datas.append(a)
        edges.append(None)
        bit <<= 1
    inputs = tuple(datas)
    try:
        out = prim.impl(*inputs, **params) if params else prim.impl(*inputs)
    except Exception as exc:  # numpy raises many types; map them to ours
        raise _op_error(prim, datas, exc) from None
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    if not mask or (prim is _CAST and out.dtype.kind != "f"):
        return _result_of(prim, args, datas, out)  # no gradient (int casts: a step function)
    needs = _NEEDS.get(bit | mask)  # bit: 1 << len(args), so the key holds the arity
    if needs is None:
        needs = _NEEDS[bit | mask] = tuple(bool(mask >> i & 1) for i in range(len(args)))
    version = _view_counter(args, datas, out) if prim.views else [0, 0]
    if large:
        _keep_shapes_only(datas, large)
        inputs = tuple(datas)
    return _record(prim, params, inputs, out, tuple(edges), needs, tuple(versions), version,
                   depth + 1)


def apply_binary(prim, x, y):
    """`apply_primitive(prim, (x, y), NO_PARAMS, 2)` for a Tensor `x`: an operator
    or method of `x` (the user's line is its caller). Two tensors in grad mode
    take this path's own recording, without `apply_primitive`'s loop; every
    other call goes there."""
    if TRACE_HOOK[0] is not None or not isinstance(y, Tensor):
        return apply_primitive(prim, (x, y), NO_PARAMS, 3)
    x_grad = x._requires_grad
    y_grad = y._requires_grad
    if not ((x_grad or y_grad) and GRAD_MODE.enabled and prim.differentiable):
        return run_primitive(prim, (x, y), NO_PARAMS)
    xd = x._data
    yd = y._data
    try:
        out = prim.impl(xd, yd)
    except Exception as exc:  # as in apply_primitive
        raise _op_error(prim, (xd, yd), exc) from None
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    version = _view_counter((x, y), (xd, yd), out) if prim.views else [0, 0]
    shape_only = prim.vjp_shape_only_mask
    x_edge = y_edge = None
    if x_grad:  # the edges, and unread large values of other ops as shapes (apply_primitive)
        x_edge = x._edge
        if x_edge is None:
            x_edge = x
        elif shape_only & 1 and type(xd) is np.ndarray and xd.nbytes > SMALL_VALUE_BYTES:
            xd = stand_in(xd)
    if y_grad:
        y_edge = y._edge
        if y_edge is None:
            y_edge = y
        elif shape_only & 2 and type(yd) is np.ndarray and yd.nbytes > SMALL_VALUE_BYTES:
            yd = stand_in(yd)
    if not shape_only:  # the versions of the values the rule reads
        versions = (x._version, y._version)
    else:
        versions = () if shape_only == 3 else ((x._version,) if shape_only == 2 else
                                               (y._version,))
    return _record(prim, NO_PARAMS, (xd, yd), out, (x_edge, y_edge),
                   _PAIR_NEEDS[x_grad + 2 * y_grad], versions, version, 3)


def apply_unary(prim, x):
    """`apply_primitive(prim, (x,), NO_PARAMS, 2)` for a Tensor `x`: a method of `x`
    (the user's line is its caller), recorded without `apply_primitive`'s loop."""
    if TRACE_HOOK[0] is not None:
        return apply_primitive(prim, (x,), NO_PARAMS, 3)
    if not (x._requires_grad and GRAD_MODE.enabled and prim.differentiable):
        return run_primitive(prim, (x,), NO_PARAMS)
    data = x._data
    try:
        out = prim.impl(data)
    except Exception as exc:  # as in apply_primitive
        raise _op_error(prim, (data,), exc) from None
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    version = _view_counter((x,), (data,), out) if prim.views else [0, 0]
    edge = x._edge
    if prim.vjp_shape_only_mask:  # the rule reads only the input's shape
        versions = ()
        if edge is not None and type(data) is np.ndarray and data.nbytes > SMALL_VALUE_BYTES:
            data = stand_in(data)
    else:
        versions = (x._version,)
    if edge is None:
        edge = x
    return _record(prim, NO_PARAMS, (data,), out, (edge,), _ONE_NEEDS, versions, version, 3)


_PAIR_NEEDS = (None, (True, False), (False, True), (True, True))
_ONE_NEEDS = (True,)


def _record(prim, params, inputs: tuple, out: np.ndarray, edges: tuple, needs: tuple,
            versions: tuple, version: list, depth: int) -> TensorBase:
    """The result of a recorded op: a tensor holding `out` and its node (see
    Node), which watches `versions` (and `version`, the result's counter, when
    the rule reads the output). `depth`: `sys._getframe(depth)` from here is
    where the search for the user's line starts."""
    result = _new_tensor(Tensor)
    result._data = out
    result._requires_grad = True
    result.grad = None
    result._version = version
    result._edge = node = _new_node(Node)
    node.op = prim
    node.params = params
    node.inputs = inputs  # tuples: one allocation, and untracked by the GC
    if prim.vjp_reads_out:  # the output is kept only for a rule that reads it
        node.out = out
        versions += (version,)
    else:
        node.out = None
    node.edges = edges
    node.needs = needs
    node.versions = versions  # () (shared) for a rule that reads no input
    node.n_out = 1
    node.seq = next_seq()
    node.epoch = INPLACE_COUNT[0]
    # The user's line: `sites.user_frame`'s walk, inlined (this runs once per op)
    # and remembering the last two user code objects so a loop skips the file lookup.
    frame = _getframe(depth)
    while frame is not None:
        code = frame.f_code
        if code is not USER_CODE[0] and code is not USER_CODE[1]:
            flag = FILE_IS_LIBRARY.get(code.co_filename)
            if flag is None:
                flag = classify_file(code.co_filename)
            if flag:
                frame = frame.f_back
                continue
            USER_CODE[1] = USER_CODE[0]
            USER_CODE[0] = code
        node.site_code = code
        node.site_offset = frame.f_lasti  # the line is looked up on demand
        return result
    node.site_code = None
    return result


_STAND_INS: dict = {}  # shape -> the AbstractArray standing in for arrays of that shape


def stand_in(data: np.ndarray) -> AbstractArray:
    """The AbstractArray of `data`'s shape and dtype (one per shape, reused)."""
    found = _STAND_INS.get(data.shape)
    if found is None or found.dtype is not data.dtype:
        if len(_STAND_INS) > 256:
            _STAND_INS.clear()
        found = _STAND_INS[data.shape] = AbstractArray(data.shape, data.dtype)
    return found


def _keep_shapes_only(datas: list, positions: int) -> None:
    """Replace the inputs at `positions` (a bitmask), other ops' results larger
    than SMALL_VALUE_BYTES whose values the VJP rule never reads, by their shape
    and dtype: the tape does not keep them alive (PyTorch saves only what a
    formula uses), so an RNN's sums and pre-activations are freed at once, not
    at backward."""
    i = 0
    while positions:
        if positions & 1:
            datas[i] = stand_in(datas[i])
        positions >>= 1
        i += 1


def run_primitive(prim, args, params) -> TensorBase:
    """The op without a tape: impl on the arguments' arrays, a fresh result."""
    if TRACE_HOOK[0] is not None:
        traced = TRACE_HOOK[0](prim, args, params)
        if traced is not NotImplemented:
            return traced
    datas = []
    for a in args:  # a loop, not a comprehension: cheaper on Python 3.11
        if type(a) in CHECKED_TYPES:
            check_operand(prim.name, a, _user_at())
        datas.append(a._data if isinstance(a, Tensor) else a)
    try:
        out = prim.impl(*datas, **params)
    except Exception as exc:  # as in apply_primitive
        raise _op_error(prim, datas, exc) from None
    return _result_of(prim, args, datas, out if type(out) is np.ndarray else np.asarray(out))


def _result_of(prim, args, datas: list, out: np.ndarray) -> TensorBase:
    """A result without a tape node; a view keeps its base's version counter."""
    result = _new_result(out)
    if prim.views:
        result._version = _view_counter(args, datas, out)
    return result


def _view_counter(args, datas: list, out: np.ndarray) -> list:
    """The version counter of `out`: its base tensor's when `out` is a view of it (as in
    PyTorch, an in-place change through either is seen by nodes that saved the other)."""
    base, source = out.base, datas[0]
    if base is not None and type(source) is np.ndarray and isinstance(args[0], Tensor) and (
            base is source or base is source.base):
        return args[0]._version
    return [0, 0]


def _new_result(out: np.ndarray) -> TensorBase:
    result = _new_tensor(Tensor)
    result._data = out
    result._requires_grad = False
    result.grad = None
    result._edge = None
    result._version = [0, 0]
    return result


_new_node = object.__new__
_NEEDS: dict = {}  # arity << 16 | bitmask of inputs needing a gradient -> needs tuple
_new_tensor = object.__new__


def wrap(data: np.ndarray, requires_grad: bool = False) -> TensorBase:
    """A new tensor holding `data` (no copy), a leaf."""
    t = _new_result(data)
    t._requires_grad = requires_grad
    return t


def as_array(data, dtype=None) -> np.ndarray:
    """Array from user data; Python floats default to the default dtype."""
    if isinstance(data, Tensor):
        data = data._data
    explicit = dtype is not None or isinstance(data, (np.ndarray, np.generic))
    try:
        arr = np.array(data, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"tensor: cannot make a tensor from {type(data).__name__}: {exc}") \
            from None
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"tensor: unsupported dtype {arr.dtype} (from {type(data).__name__})")
    if not explicit and arr.dtype == np.float64:
        arr = arr.astype(DEFAULT_DTYPE[0])
    return arr



def as_tensor(x) -> TensorBase:
    """`x` itself if it is a tensor, else a new tensor of its values (no grad)."""
    return x if isinstance(x, Tensor) else wrap(as_array(x))


class TensorBase:
    """A tensor's state: an ndarray (`_data`), `_requires_grad`, `grad`, `_edge`
    (None for a leaf, else where its gradient goes: see Node.edges) and
    `_version` (`[changes, global in-place count at the last change]`)."""

    __slots__ = ("_data", "_requires_grad", "grad", "_edge", "_version",
                 "__weakref__")
    _gc_level = 10
    _gc_bind = staticmethod(apply_primitive)
    __array_ufunc__ = None  # ndarray (op) Tensor defers to the Tensor's reflected op


Tensor: type = TensorBase  # the class of new tensors: see set_tensor_class


def set_tensor_class(cls: type) -> None:
    """Make `cls` (a TensorBase subclass with the user-facing methods) the type of
    every tensor created from now on."""
    global Tensor
    if not issubclass(cls, TensorBase):
        raise TypeError(f"set_tensor_class: {cls.__name__} is not a TensorBase")
    Tensor = cls
