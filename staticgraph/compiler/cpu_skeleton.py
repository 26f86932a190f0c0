"""CPU loop skeletons: the generated njit kernels around an element function.

Five variants per group, all with the signature
``(extent, x0, .., out0, .., [red])`` and all generic in sizes:
- `flat(n, ...)`: one 1-D loop; for same-shape C-contiguous arrays (passed as
  1-D views) and scalars. LLVM vectorises it.
- `flat_par`: the same over `prange` (a full reduction as per-chunk partial
  results, so the chunk loops still vectorise).
- `nd(shape, ...)`: a loop nest of the group's rank; an input dim that is
  statically 1 is read at index 0, a lower-rank input is aligned right.
- `nd_par`: `prange` over the outermost dim (when it is not reduced).
- `rows(shape, ...)`: `nd` reading and writing each innermost row through a
  1-D view typed C-contiguous (`runtime.unit_stride_row`), so the inner loop
  vectorises over strided views such as column slices `z[:, a:b]`. Only for
  operands whose last axis has unit stride (the caller knows).
The fused reduction writes `red`, passed with keepdims shape (flat: `(1,)`).
Sums accumulate in float64 (int64 for ints/bools) through `radd`, an
`fadd reassoc` that lets LLVM vectorise the sum without relaxing other math.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .codegen import ElementCode, convert, literal_source
from .group import FusedGroup, Ref

CHUNK = 1 << 16  # elements per parallel chunk of a flat reduction


def index_expr(rank: int, bcast: tuple[int, ...], n: int, loop_vars: list[str]) -> str:
    """Index of an array of `rank` (right-aligned) in a loop nest of rank `n`."""
    return ", ".join("0" if d in bcast else loop_vars[d + n - rank] for d in range(rank))


@dataclass
class ReductionPlan:
    """How one fused reduction accumulates."""

    kind: str
    value: str
    acc_dtype: np.dtype
    init: str

    site: str = ""

    @classmethod
    def of(cls, group: FusedGroup) -> ReductionPlan | None:
        red = group.reduction
        if red is None:
            return None
        vdt = group.ref_dtype(red.arg)
        if red.kind == "max":
            acc = vdt
            init = {"f": -np.inf, "b": False}.get(vdt.kind)
            init = np.iinfo(vdt).min if init is None else init
        else:
            acc = np.dtype(np.float64 if vdt.kind == "f" or red.kind == "mean" else np.int64)
            init = 0
        site = f"  # {red.kind}  {red.site}" if red.site else f"  # {red.kind}"
        return cls(red.kind, ElementCode.value(red.arg), acc,
                   convert(literal_source(init), acc), site)

    def accumulate(self, acc: str, value: str) -> str:
        """Statement folding `value` into the local `acc`."""
        if self.kind == "max":
            line = f"{acc} = select(({value} > {acc}) | ({value} != {value}), {value}, {acc})"
        elif self.acc_dtype.kind == "f":
            line = f"{acc} = radd({acc}, {value})"
        else:
            line = f"{acc} += {value}"
        return line + self.site

    def combine(self, target: str, value: str) -> list[str]:
        """Statements folding `value` into the array element `target`."""
        if self.kind == "max":
            return [f"_m = {target}",
                    f"{target} = select(({value} > _m) | ({value} != {value}), {value}, _m)"]
        return [f"{target} += {value}"]


class Emitter:
    """Collects indented source lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def __call__(self, *lines: str) -> None:
        self.lines.extend("    " * self.depth + s for s in lines)


def _signature(group: FusedGroup, extent: str) -> str:
    names = [extent] + [f"x{j}" for j in range(len(group.inputs))]
    names += [f"out{m}" for m in range(len(group.outputs))]
    if group.reduction is not None:
        names.append("red")
    return ", ".join(names)


def used_inputs(group: FusedGroup, code: ElementCode) -> list[int]:
    """The group inputs the live steps (and the reduction) read, in order."""
    used = {a.index for k in code.live for a in group.steps[k].args
            if isinstance(a, Ref) and a.kind == "in"}
    red = group.reduction
    if red is not None and red.arg.kind == "in":
        used.add(red.arg.index)
    return sorted(used)


def is_scalar_input(group: FusedGroup, j: int) -> bool:
    """Is input `j` of the group a scalar (a weak Python number or a 0-d array)?"""
    return group.inputs[j].scalar or group.inputs[j].ndim == 0


def _element(emit: Emitter, group: FusedGroup, code: ElementCode, idx, suffix: str = "",
             rows: frozenset[str] = frozenset()) -> None:
    """Loads, the element body and stores; `idx(rank, bcast)` renders an index.

    `suffix` names per-chunk views (`x0c`) instead of the arguments; an
    operand named in `rows` is read through its row view (`x0r[i1]`).
    """
    for j in used_inputs(group, code):
        if not is_scalar_input(group, j):
            inp = group.inputs[j]
            emit(f"v{j} = {_ref(f'x{j}', suffix, rows, idx(inp.ndim, inp.broadcast))}")
    emit(*code.body)
    for m, k in enumerate(group.outputs):
        rank, bcast = group.step_pattern(k)
        emit(f"{_ref(f'out{m}', suffix, rows, idx(rank, bcast) if rank else '0')} = t{k}")


def _ref(name: str, suffix: str, rows: frozenset[str], index: str) -> str:
    if name in rows:
        return f"{name}r[{index.rsplit(', ', 1)[-1]}]"
    return f"{name}{suffix}[{index}]"


def _row_operands(group: FusedGroup, code: ElementCode) -> list[tuple[str, int, tuple]]:
    """(name, rank, broadcast dims) of each array operand whose last axis is looped over."""
    found = []
    for j in used_inputs(group, code):
        inp = group.inputs[j]
        if not is_scalar_input(group, j) and inp.ndim - 1 not in inp.broadcast:
            found.append((f"x{j}", inp.ndim, inp.broadcast))
    for m, k in enumerate(group.outputs):
        rank, bcast = group.step_pattern(k)
        if rank and rank - 1 not in bcast:
            found.append((f"out{m}", rank, bcast))
    return found


def _row_views(emit: Emitter, operands: list, n: int, ivars: list[str]) -> None:
    """`x0r = unit_stride_row(x0[i0])`: each operand's row at the outer indices."""
    for name, rank, bcast in operands:
        outer = index_expr(rank, bcast, n, ivars).rsplit(", ", 1)[0] if rank > 1 else ""
        emit(f"{name}r = unit_stride_row({name}[{outer}])" if outer else
             f"{name}r = unit_stride_row({name})")


def _chunk_views(emit: Emitter, group: FusedGroup, code: ElementCode) -> None:
    """Views of one chunk: the inner loop then counts from 0, so Numba drops its
    negative-index wraparound and LLVM vectorises (a loop from `lo` does not)."""
    for j in used_inputs(group, code):
        if not is_scalar_input(group, j):
            emit(f"x{j}c = x{j}[lo:hi]")
    for m in range(len(group.outputs)):
        emit(f"out{m}c = out{m}[lo:hi]")


def _prologue(emit: Emitter, group: FusedGroup, code: ElementCode) -> None:
    for j in used_inputs(group, code):
        if is_scalar_input(group, j):
            emit(f"v{j} = x{j}")


def decorator(parallel: bool, fastmath: bool) -> str:
    flags = "{'contract'}" if fastmath else "False"
    par = ", parallel=True" if parallel else ""
    return f"@njit(cache=True, nogil=True, error_model='numpy', fastmath={flags}{par})"


def render_flat(group: FusedGroup, code: ElementCode, parallel: bool, fastmath: bool,
                name: str) -> list[str]:
    """1-D loop over same-shape contiguous arrays; full reduction if any."""
    plan = ReductionPlan.of(group)
    emit = Emitter()
    emit(decorator(parallel, fastmath), f"def {name}({_signature(group, 'n')}):")
    emit.depth = 1
    _prologue(emit, group, code)
    flat_idx = lambda rank, bcast: "i"
    if plan is None:
        emit(f"for i in {'prange' if parallel else 'range'}(n):")
        emit.depth = 2
        _element(emit, group, code, flat_idx)
        return emit.lines
    if parallel:
        emit(f"nchunks = (n + {CHUNK - 1}) // {CHUNK}",
             f"part = np.empty(nchunks, np.{plan.acc_dtype.name})",
             "for c in prange(nchunks):")
        emit.depth = 2
        emit(f"lo = c * {CHUNK}", f"hi = min(n, lo + {CHUNK})")
        _chunk_views(emit, group, code)
        emit(f"acc = {plan.init}", "for i in range(hi - lo):")
        emit.depth = 3
        _element(emit, group, code, flat_idx, suffix="c")
        emit(plan.accumulate("acc", plan.value))
        emit.depth = 2
        emit("part[c] = acc")
        emit.depth = 1
        emit(f"total = {plan.init}", "for c in range(nchunks):")
        emit.depth = 2
        emit(plan.accumulate("total", "part[c]"))
    else:
        emit(f"total = {plan.init}", "for i in range(n):")
        emit.depth = 2
        _element(emit, group, code, flat_idx)
        emit(plan.accumulate("total", plan.value))
    emit.depth = 1
    emit("red[0] = total / n" if plan.kind == "mean" else "red[0] = total")
    return emit.lines


def render_nd(group: FusedGroup, code: ElementCode, parallel: bool, fastmath: bool,
              name: str, rows: bool = False) -> list[str]:
    """Loop nest of the group's rank with broadcasting by index arithmetic;
    `rows`: the innermost loop over row views (the `rows` variant)."""
    n, plan, red = group.ndim, ReductionPlan.of(group), group.reduction
    axes = red.axes if red is not None else ()
    ivars = [f"i{d}" for d in range(n)]
    emit = Emitter()
    emit(decorator(parallel, fastmath), f"def {name}({_signature(group, 'shape')}):")
    emit.depth = 1
    if n:
        emit(f"{', '.join(f'n{d}' for d in range(n))}, = shape")
    _prologue(emit, group, code)
    if plan is not None:
        emit(f"red.fill({plan.init})")
    suffix = n  # first dim of the innermost run of reduced dims
    while plan is not None and suffix > 0 and suffix - 1 in axes:
        suffix -= 1
    red_idx = ", ".join("0" if d in axes or d >= suffix else ivars[d] for d in range(n))
    row_operands = _row_operands(group, code) if rows else []
    for d in range(n):
        if plan is not None and d == suffix:
            emit(f"acc = {plan.init}")
        if d == n - 1:
            _row_views(emit, row_operands, n, ivars)
        loop = "prange" if parallel and d == 0 else "range"
        emit(f"for i{d} in {loop}(n{d}):")
        emit.depth += 1
    _element(emit, group, code, lambda rank, bcast: index_expr(rank, bcast, n, ivars),
             rows=frozenset(name for name, _, _ in row_operands))
    if plan is not None and suffix == n:
        emit(*plan.combine(f"red[{red_idx or '0'}]", plan.value))
    elif plan is not None:
        emit(plan.accumulate("acc", plan.value))
        emit.depth = suffix + 1
        emit(*plan.combine(f"red[{red_idx or '0'}]", "acc"))
    if plan is not None and plan.kind == "mean":
        emit.depth = 1
        count = " * ".join(f"n{d}" for d in axes) or "1"
        emit("flat_red = red.reshape(red.size)", "for j in range(flat_red.size):",
             f"    flat_red[j] = flat_red[j] / ({count})")
    return emit.lines


def variants(group: FusedGroup) -> dict[str, tuple]:
    """Variant name -> (renderer, parallel) that make sense for `group`."""
    red = group.reduction
    out = {}
    if red is None or red.axes == tuple(range(group.ndim)):
        out["flat"] = (render_flat, False)
        out["flat_par"] = (render_flat, True)
    out["nd"] = (render_nd, False)
    if group.ndim and (red is None or 0 not in red.axes):
        out["nd_par"] = (render_nd, True)
    if group.ndim:
        out["rows"] = (render_rows, False)
    return out


def render_rows(group: FusedGroup, code: ElementCode, parallel: bool, fastmath: bool,
                name: str) -> list[str]:
    """`nd` over row views typed C-contiguous (see the module doc)."""
    return render_nd(group, code, parallel, fastmath, name, rows=True)


def render_cpu_kernels(group: FusedGroup, code: ElementCode, fastmath: bool) -> list[str]:
    """All variants of `group`, separated by blank lines."""
    lines: list[str] = []
    chosen = variants(group)
    for name, (render, parallel) in chosen.items():
        lines += render(group, code, parallel, fastmath, name) + ["", ""]
    lines.append(f"VARIANTS = {tuple(chosen)!r}")
    return lines
