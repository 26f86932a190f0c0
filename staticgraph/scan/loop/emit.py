"""One statement (or a few) per body equation of a compiled scan loop.

Each emitter gets the `LoopWriter` and the equation; it reads operands with
`w.val(x)`, gets output buffers with `w.dest(var)` (allocated before the
loop) or binds a view with `w.bind(var, Value(...))`, and appends loop
statements with `w.emit(...)`. Anything it cannot express raises
`Unsupported`, and the whole scan falls back to a Python loop.

- `fused` (and any lone elementwise op, made a one-step group): a call of
  the compiled kernel's `flat` variant when every operand is a contiguous
  array of the loop's shape, `rows` when some are views whose innermost rows
  are contiguous (column slices), else `nd`; all are Numba dispatchers,
  called from the loop without Python.
- `sum`/`mean`/`max`: a kernel of one fused reduction.
- `matmul`: `runtime.py` (a loop nest for small products, BLAS
  `np.dot` above); operands of rank 1 or 2.
- views (`getitem` with basic indices, `transpose`, `expand_dims`,
  `squeeze`, `reshape`, `reshape_like`, `broadcast_to`): NumPy views.
- `getitem_grad` (basic indices), `concatenate`, `axis_size`: into a buffer.
- `scan`: a call of the nested loop's own function (compiled the same way).
"""

from __future__ import annotations

from collections.abc import Callable

from shared_ops import Primitive, by_primitive, is_registered

from ...build.empty_reduction import folded_axes
from ...compiler.group import REDUCTION_KINDS, FusedGroup, GroupInput, Reduction, Ref
from ...graph.ir import Eqn
from ...passes.fused_op import fused_p, make_fused_eqn
from ..op import scan_p
from .codegen import LoopWriter, Unsupported, Value, copy_source, index_source

BLAS_DTYPES = ("float32", "float64")


def _tuple_source(parts: list) -> str:
    return "(" + ", ".join(str(p) for p in parts) + ("," if len(parts) == 1 else "") + ")"


# ---- fused kernels -----------------------------------------------------------------------
def _loop_dims(group: FusedGroup, eqn: Eqn, ins: list[Value]) -> list:
    """Source of each loop extent: a static int, or an operand's `.shape[d]`."""
    n = group.ndim
    dims = []
    for d in range(n):
        static, runtime = None, None
        for j, gi in enumerate(group.inputs):
            dd = d - (n - gi.ndim)
            if gi.scalar or gi.ndim == 0 or dd < 0 or dd in gi.broadcast:
                continue
            size = eqn.inputs[j].shape[dd]
            if size is not None:
                static = size
                break
            runtime = runtime or f"{ins[j].name}.shape[{dd}]"
        dims.append(static if static is not None else (runtime or 1))
    return dims


def _can_flat(group: FusedGroup, eqn: Eqn, ins: list[Value], kernel) -> bool:
    if "flat" not in kernel.fns:
        return False
    n = group.ndim
    loop = tuple(eqn.outputs[0].shape) if group.outputs else None
    for j, gi in enumerate(group.inputs):
        if gi.scalar or gi.ndim == 0:
            continue
        shape = tuple(eqn.inputs[j].shape)
        if gi.ndim != n or gi.broadcast or not ins[j].contig or (loop and shape != loop):
            return False
        loop = loop or shape
    return all(group.step_pattern(k) == (n, ()) for k in group.outputs)


def _arg(gi: GroupInput, value: Value, flat: bool) -> str:
    if gi.scalar or gi.ndim == 0:
        return value.item() if value.rank == 0 else value.name
    return f"{value.name}.reshape(-1)" if flat else value.name


def emit_group(w: LoopWriter, eqn: Eqn, group: FusedGroup) -> None:
    """Call the compiled kernel of `group` on the eqn's operands, into buffers."""
    if folded_axes(eqn) is not None:  # the loop cannot raise the reference's error
        raise Unsupported("a max over a dim that may be empty")
    prefix, kernel = w.kernel_global(group)
    ins = [w.val(x) for x in eqn.inputs]
    outs = [w.dest(v) for v in eqn.outputs]
    n_elem = len(group.outputs)
    flat = _can_flat(group, eqn, ins, kernel)
    args = [_arg(gi, v, flat) for gi, v in zip(group.inputs, ins)]
    ranks = [len(v.shape) for v in eqn.outputs]
    if flat:
        args += [f"{o}.reshape(-1)" for o in outs]
        size = " * ".join(str(d) for d in _loop_dims(group, eqn, ins)) or "1"
        w.emit(f"{prefix}_flat({size}, {', '.join(args)})")
        return
    arrays = [v for v in ins if not v.scalar and v.rank]
    rows = "rows" in kernel.fns and all(v.unit_rows for v in arrays) and \
        not all(v.contig for v in arrays)
    dims = _loop_dims(group, eqn, ins)
    args += [o if r else f"{o}.reshape(1)" for o, r in zip(outs[:n_elem], ranks)]
    if group.reduction is not None:
        axes = group.reduction.axes
        kshape = [1 if d in axes else s for d, s in enumerate(dims)]
        args.append(f"{outs[-1]}.reshape({_tuple_source(kshape)})")
    w.emit(f"{prefix}_{'rows' if rows else 'nd'}({_tuple_source(dims)}, {', '.join(args)})")


def emit_fused(w: LoopWriter, eqn: Eqn) -> None:
    emit_group(w, eqn, eqn.params["group"])


def emit_elementwise(w: LoopWriter, eqn: Eqn) -> None:
    """A lone elementwise op: a one-step fused group."""
    try:
        fused = make_fused_eqn([eqn], list(eqn.outputs))
    except ValueError as exc:
        raise Unsupported(str(exc)) from None
    emit_group(w, fused, fused.params["group"])


def emit_reduction(w: LoopWriter, eqn: Eqn) -> None:
    """sum/mean/max over axes: a kernel holding only the fused reduction."""
    x = eqn.inputs[0]
    rank = len(x.shape)
    if rank == 0:
        raise Unsupported("a reduction of a scalar")
    axes = eqn.params.get("axis")
    axes = tuple(range(rank)) if axes is None else tuple(sorted(axes))
    group = FusedGroup((GroupInput(rank, x.dtype),), (), (),
                       Reduction(REDUCTION_KINDS[eqn.prim], Ref("in", 0), axes,
                                 bool(eqn.params.get("keepdims", False))),
                       f"reduce_{eqn.prim.name}")
    emit_group(w, eqn, group)


# ---- matmul ----------------------------------------------------------------------------
def emit_matmul(w: LoopWriter, eqn: Eqn) -> None:
    a, b = (w.val(x) for x in eqn.inputs)
    out = eqn.outputs[0]
    kinds = {(2, 2): "matmul2", (2, 1): "matvec", (1, 2): "vecmat", (1, 1): "vecvec"}
    fn = kinds.get((a.rank, b.rank))
    if fn is None or a.scalar or b.scalar:
        raise Unsupported(f"matmul of ranks {a.rank} and {b.rank}")
    dtypes = {x.dtype.name for x in eqn.inputs} | {out.dtype.name}
    if fn == "matmul2" and (len(dtypes) != 1 or dtypes.pop() not in BLAS_DTYPES):
        fn = "matmul_loop"
    w.emit(f"_rt.{fn}({a.name}, {b.name}, {w.dest(out)})")


# ---- views -------------------------------------------------------------------------------
def _view(w: LoopWriter, eqn: Eqn, expr: str, contig: bool = False,
          unit_rows: bool = False) -> None:
    out = eqn.outputs[0]
    name = w.fresh("v")
    w.emit(f"{name} = {expr}")
    rank = len(out.shape)
    w.bind(out, Value(name, rank, scalar=rank == 0, contig=contig,
                      unit_rows=contig or unit_rows))


def _array(w: LoopWriter, x) -> Value:
    value = w.val(x)
    if value.scalar:
        raise Unsupported("a view of a scalar")
    return value


def emit_getitem(w: LoopWriter, eqn: Eqn) -> None:
    index, out = eqn.params["index"], eqn.outputs[0]
    if not index:
        w.bind(out, w.val(eqn.inputs[0]))
        return
    x = _array(w, eqn.inputs[0])
    contig = x.contig and all(isinstance(i, int) for i in index)
    _view(w, eqn, f"{x.name}[{index_source(index)}]", contig,
          x.unit_rows and _keeps_last_axis(index, x.rank))
    if not out.shape:  # numba gives a scalar for a full integer index
        w.values[out].scalar = True


def _keeps_last_axis(index: tuple, rank: int) -> bool:
    """Does x[index] keep unit-stride innermost rows? Yes unless x's last axis is
    indexed by an int or a slice of step other than 1 (only ints, slices and
    None are judged; a new size-1 axis after the last one has rows of length 1)."""
    if not all(i is None or isinstance(i, (int, slice)) for i in index):
        return False
    used = [i for i in index if i is not None]
    if len(used) < rank:
        return True
    last = used[-1]
    return isinstance(last, slice) and last.step in (None, 1)


def emit_same_array(w: LoopWriter, eqn: Eqn) -> None:
    w.bind(eqn.outputs[0], w.val(eqn.inputs[0]))


def emit_transpose(w: LoopWriter, eqn: Eqn) -> None:
    x = _array(w, eqn.inputs[0])
    axes = tuple(eqn.params["axes"])
    if axes == tuple(range(len(axes))):
        w.bind(eqn.outputs[0], x)
    elif axes == (1, 0):
        _view(w, eqn, f"{x.name}.T")
    else:
        _view(w, eqn, f"np.transpose({x.name}, {axes!r})")


def emit_expand_dims(w: LoopWriter, eqn: Eqn) -> None:
    x = _array(w, eqn.inputs[0])
    rank = len(eqn.outputs[0].shape)
    axes = set(eqn.params["axis"])
    _view(w, eqn, f"{x.name}[{', '.join('None' if d in axes else ':' for d in range(rank))},]",
          unit_rows=x.unit_rows and rank - 1 not in axes)


def emit_squeeze(w: LoopWriter, eqn: Eqn) -> None:
    x = _array(w, eqn.inputs[0])
    axes = set(eqn.params["axis"])
    if not eqn.outputs[0].shape:
        _view(w, eqn, f"{x.name}.reshape(())" if x.contig else
              f"np.ascontiguousarray({x.name}).reshape(())", True)
        return
    _view(w, eqn, f"{x.name}[{', '.join('0' if d in axes else ':' for d in range(x.rank))},]",
          unit_rows=x.unit_rows and x.rank - 1 not in axes)


def _contiguous(x: Value) -> str:
    return x.name if x.contig else f"np.ascontiguousarray({x.name})"


def emit_reshape(w: LoopWriter, eqn: Eqn) -> None:
    x = _array(w, eqn.inputs[0])
    shape = tuple(int(d) for d in eqn.params["shape"])
    _view(w, eqn, f"{_contiguous(x)}.reshape({_tuple_source(list(shape))})", True)


def emit_reshape_like(w: LoopWriter, eqn: Eqn) -> None:
    x, like = _array(w, eqn.inputs[0]), _array(w, eqn.inputs[1])
    _view(w, eqn, f"{_contiguous(x)}.reshape({like.name}.shape)", True)


def emit_broadcast_to(w: LoopWriter, eqn: Eqn) -> None:
    x = _array(w, eqn.inputs[0])
    _view(w, eqn, f"np.broadcast_to({x.name}, {w.shape_of(eqn.outputs[0])})")


# ---- into buffers ------------------------------------------------------------------------
def emit_getitem_grad(w: LoopWriter, eqn: Eqn) -> None:
    g = w.val(eqn.inputs[0])
    buf = w.dest(eqn.outputs[0])
    index = index_source(eqn.params["index"])
    w.emit(f"_rt.fill_zero({buf})")
    if g.rank == 0:
        w.emit(f"{buf}[{index}] = {g.item()}")
    else:
        view = w.fresh("v")
        w.emit(f"{view} = {buf}[{index}]", copy_source(view, g))


def emit_concatenate(w: LoopWriter, eqn: Eqn) -> None:
    parts = [_array(w, x) for x in eqn.inputs]
    axis = eqn.params["axis"]
    buf = w.dest(eqn.outputs[0])
    lead = ":, " * axis
    offset, view = w.fresh("off"), w.fresh("v")
    w.emit(f"{offset} = 0")
    for p in parts:
        w.emit(f"{view} = {buf}[{lead}{offset}:{offset} + {p.name}.shape[{axis}]]",
               copy_source(view, p), f"{offset} += {p.name}.shape[{axis}]")


def emit_axis_size(w: LoopWriter, eqn: Eqn) -> None:
    x = _array(w, eqn.inputs[0])
    size = " * ".join(f"{x.name}.shape[{a}]" for a in eqn.params["axes"]) or "1"
    w.emit(f"{w.dest(eqn.outputs[0])}[()] = {size}")


def emit_scan(w: LoopWriter, eqn: Eqn) -> None:
    """A nested scan: call its own compiled loop (contiguous operands, fresh outputs)."""
    fn = w.inner_global(eqn)
    args = []
    for x in eqn.inputs:
        value = w.val(x)
        if value.rank == 0:
            args.append(f"np.full((), {value.item()}, np.{x.dtype.name})")
        else:
            args.append(_contiguous(value))
    names = [w.fresh("s") for _ in eqn.outputs]
    w.emit(f"{', '.join(names)}, = {fn}({', '.join(args)})")
    for var, name in zip(eqn.outputs, names):
        w.bind(var, Value(name, len(var.shape)))


EMITTERS: dict[Primitive, Callable[[LoopWriter, Eqn], None]] = {
    fused_p: emit_fused, scan_p: emit_scan,
    **by_primitive({
        "matmul": emit_matmul, "getitem": emit_getitem,
        "transpose": emit_transpose, "expand_dims": emit_expand_dims, "squeeze": emit_squeeze,
        "reshape": emit_reshape, "reshape_like": emit_reshape_like,
        "broadcast_to": emit_broadcast_to, "stop_gradient": emit_same_array,
        "getitem_grad": emit_getitem_grad, "concatenate": emit_concatenate,
        "axis_size": emit_axis_size,
    }),
    **dict.fromkeys(REDUCTION_KINDS, emit_reduction),
}
"""The emitter of each primitive; registered elementwise ops not listed here
are emitted as one-step kernels (`emit_elementwise`)."""


def emit_eqn(w: LoopWriter, eqn: Eqn) -> None:
    """Write one body equation (see the module doc); Unsupported if it cannot."""
    prim = eqn.prim
    emitter = EMITTERS.get(prim)
    if emitter is None:
        if is_registered(prim) and prim.elementwise and prim.scalar is not None:
            emitter = emit_elementwise
        else:
            raise Unsupported("no compiled form for this primitive")
    emitter(w, eqn)
