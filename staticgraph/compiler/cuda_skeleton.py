"""CUDA kernel skeletons around the shared element code.

The element statements from `codegen` become one device function
`element(v0, v1, ...) -> (outputs..., [reduced value])`
(`codegen.render_element_function`, decorated `cuda.jit(device=True)`);
every kernel below calls it once per element. Variants (all generic in sizes,
`_TPB` threads per block, a module constant so shared arrays have a static
size):

- `elem_flat(n, x0, .., out0, ..)`: grid-stride loop over same-shape
  C-contiguous arrays passed as 1-D views.
- `elem_nd(shape, ...)`: grid-stride loop over the flat index, decomposed
  into the loop nest's indices; broadcast dims read index 0, lower-rank
  arrays are aligned right, any strides.
- `red_all_flat` / `red_all_nd(extent, ..., part)`: a reduction over every
  axis, stage 1: each block folds its grid-stride share, then a shared-memory
  tree reduction leaves one partial per block in `part`;
  `red_finish(part, nparts, red, count)` folds the partials (one block).
- `red_axes(shape, ..., red)`: a reduction over some axes, one block per
  output element (blocks stride over outputs), threads stride over the
  reduced elements, tree reduction in shared memory.
- `red_rows(shape, ..., red)`: the same with one thread per output element
  and a serial loop (few reduced elements per output).

Sums accumulate in float64 (int64 for ints and bools), as on the CPU; `max`
propagates NaN like NumPy. 0-d array inputs arrive as 1-element arrays
(read at [0]); Python-scalar inputs by value.
"""

from __future__ import annotations

import numpy as np

from .codegen import ElementCode, convert, render_element_function
from .cpu_skeleton import Emitter, ReductionPlan, index_expr, is_scalar_input, used_inputs
from .group import FusedGroup

NUMBA_TYPES = {"float64": "_nt.float64", "float32": "_nt.float32", "float16": "_nt.float16",
               "bool": "_nt.boolean", **{f"{s}int{b}": f"_nt.{s}int{b}"
                                        for s in ("", "u") for b in (8, 16, 32, 64)}}


def kernel_decorator(fastmath: bool) -> str:
    return f"@cuda.jit(cache=True, fastmath={fastmath})"


def _signature(group: FusedGroup, extent: str, tail: list[str]) -> str:
    names = [extent] + [f"x{j}" for j in range(len(group.inputs))]
    names += [f"out{m}" for m in range(len(group.outputs))]
    return ", ".join(names + tail)


def _prologue(emit: Emitter, group: FusedGroup, code: ElementCode) -> None:
    """Scalars by value, 0-d arrays read once from their single element."""
    for j in used_inputs(group, code):
        if group.inputs[j].scalar:
            emit(f"v{j} = x{j}")
        elif group.inputs[j].ndim == 0:
            emit(f"v{j} = x{j}[0]")


def _results(group: FusedGroup) -> list[str]:
    names = [f"t{k}" for k in group.outputs]
    if group.reduction is not None:
        names.append(ElementCode.value(group.reduction.arg))
    return names


def _element(emit: Emitter, group: FusedGroup, code: ElementCode, idx) -> None:
    """Loads, one call of the device function, stores; `idx(rank, bcast)` renders an index."""
    used = set(used_inputs(group, code))
    for j in sorted(used):
        if not is_scalar_input(group, j):
            inp = group.inputs[j]
            emit(f"v{j} = x{j}[{idx(inp.ndim, inp.broadcast)}]")
    args = ", ".join(f"v{j}" if j in used else "0" for j in range(len(group.inputs)))
    results = _results(group)
    emit(f"{', '.join(results)}{',' if len(results) == 1 else ''} = element({args})")
    for m, k in enumerate(group.outputs):
        rank, bcast = group.step_pattern(k)
        emit(f"out{m}[{idx(rank, bcast) if rank else '0'}] = t{k}")


def _decompose(emit: Emitter, flat: str, dims: list[int], prefix: str = "i") -> None:
    """Row-major indices `i{d}` for `dims` from the flat index `flat`."""
    if not dims:
        return
    if len(dims) == 1:
        emit(f"{prefix}{dims[0]} = {flat}")
        return
    emit(f"_rem = {flat}")
    for d in reversed(dims[1:]):
        emit(f"{prefix}{d} = _rem % n{d}", f"_rem = _rem // n{d}")
    emit(f"{prefix}{dims[0]} = _rem")


def _unpack_shape(emit: Emitter, n: int) -> None:
    if n:
        emit(f"{', '.join(f'n{d}' for d in range(n))}, = shape")


class CudaReduction:
    """Accumulate/combine/finish statements of one fused reduction for CUDA."""

    def __init__(self, group: FusedGroup) -> None:
        self.plan = ReductionPlan.of(group)
        self.out_dtype = group.reduction_dtype()
        acc = self.plan.acc_dtype
        self.nb_type = NUMBA_TYPES.get(acc.name if acc.kind != "b" else "bool")
        if self.nb_type is None:
            raise ValueError(f"no CUDA accumulator for dtype {acc}")

    def fold(self, acc: str, value: str) -> list[str]:
        """`acc` = acc (+ or max) value."""
        v = convert(value, self.plan.acc_dtype)
        if self.plan.kind == "max":
            return [f"_v = {v}", f"if _v > {acc} or _v != _v:", f"    {acc} = _v"]
        return [f"{acc} = {acc} + {v}"]

    def declare(self, emit: Emitter) -> None:
        """The block's shared accumulator array (declared once, at the top)."""
        emit(f"sm = cuda.shared.array(_TPB, {self.nb_type})", "tid = cuda.threadIdx.x")

    def tree(self, emit: Emitter) -> None:
        """Shared-memory tree reduction of `acc` over the block into `sm[0]`."""
        emit("sm[tid] = acc", "cuda.syncthreads()", "_s = _TPB // 2", "while _s > 0:")
        emit.depth += 1
        emit("if tid < _s:")
        emit.depth += 1
        if self.plan.kind == "max":
            emit("_a = sm[tid]", "_b = sm[tid + _s]", "if _b > _a or _b != _b:",
                 "    sm[tid] = _b")
        else:
            emit("sm[tid] = sm[tid] + sm[tid + _s]")
        emit.depth -= 1
        emit("cuda.syncthreads()", "_s = _s // 2")
        emit.depth -= 1

    def final(self, value: str, count: str) -> str:
        """The output element from the accumulated `value` (mean divides by `count`)."""
        expr = f"{value} / {count}" if self.plan.kind == "mean" else value
        return convert(expr, self.out_dtype)


def render_elem(group: FusedGroup, code: ElementCode, flat: bool, fastmath: bool) -> list[str]:
    n = group.ndim
    emit = Emitter()
    name = "elem_flat" if flat else "elem_nd"
    extent = "n" if flat else "shape"
    emit(kernel_decorator(fastmath), f"def {name}({_signature(group, extent, [])}):")
    emit.depth = 1
    if not flat:
        _unpack_shape(emit, n)
        emit(f"total = {' * '.join(f'n{d}' for d in range(n)) or '1'}")
    _prologue(emit, group, code)
    emit(f"for i in range(cuda.grid(1), {'n' if flat else 'total'}, cuda.gridsize(1)):")
    emit.depth = 2
    ivars = [f"i{d}" for d in range(n)]
    if flat:
        _element(emit, group, code, lambda rank, bcast: "i")
    else:
        _decompose(emit, "i", list(range(n)))
        _element(emit, group, code, lambda rank, bcast: index_expr(rank, bcast, n, ivars))
    return emit.lines


def render_red_all(group: FusedGroup, code: ElementCode, flat: bool,
                   fastmath: bool) -> list[str]:
    """Stage 1 of a reduction over every axis: one partial per block."""
    n, red = group.ndim, CudaReduction(group)
    emit = Emitter()
    name = "red_all_flat" if flat else "red_all_nd"
    emit(kernel_decorator(fastmath),
         f"def {name}({_signature(group, 'n' if flat else 'shape', ['part'])}):")
    emit.depth = 1
    red.declare(emit)
    if not flat:
        _unpack_shape(emit, n)
        emit(f"total = {' * '.join(f'n{d}' for d in range(n)) or '1'}")
    _prologue(emit, group, code)
    emit(f"acc = {red.plan.init}",
         f"for i in range(cuda.grid(1), {'n' if flat else 'total'}, cuda.gridsize(1)):")
    emit.depth = 2
    ivars = [f"i{d}" for d in range(n)]
    if flat:
        _element(emit, group, code, lambda rank, bcast: "i")
    else:
        _decompose(emit, "i", list(range(n)))
        _element(emit, group, code, lambda rank, bcast: index_expr(rank, bcast, n, ivars))
    emit(*red.fold("acc", red.plan.value))
    emit.depth = 1
    red.tree(emit)
    emit("if tid == 0:", "    part[cuda.blockIdx.x] = sm[0]")
    return emit.lines


def render_red_finish(group: FusedGroup) -> list[str]:
    """Stage 2: one block folds the per-block partials into `red[0]`."""
    red = CudaReduction(group)
    emit = Emitter()
    emit("@cuda.jit(cache=True)", "def red_finish(part, nparts, red, count):")
    emit.depth = 1
    red.declare(emit)
    emit(f"acc = {red.plan.init}", "for i in range(cuda.threadIdx.x, nparts, _TPB):")
    emit.depth = 2
    emit(*red.fold("acc", "part[i]"))
    emit.depth = 1
    red.tree(emit)
    emit("if tid == 0:", f"    red[0] = {red.final('sm[0]', 'count')}")
    return emit.lines


def render_red_axes(group: FusedGroup, code: ElementCode, per_block: bool,
                    fastmath: bool) -> list[str]:
    """A reduction over some axes; `red` is the flat (kept dims) output."""
    n, red = group.ndim, CudaReduction(group)
    axes = group.reduction.axes
    kept = [d for d in range(n) if d not in axes]
    emit = Emitter()
    name = "red_axes" if per_block else "red_rows"
    emit(kernel_decorator(fastmath), f"def {name}({_signature(group, 'shape', ['red'])}):")
    emit.depth = 1
    if per_block:
        red.declare(emit)
    _unpack_shape(emit, n)
    emit(f"n_out = {' * '.join(f'n{d}' for d in kept) or '1'}",
         f"n_red = {' * '.join(f'n{d}' for d in axes) or '1'}")
    _prologue(emit, group, code)
    ivars = [f"i{d}" for d in range(n)]
    idx = lambda rank, bcast: index_expr(rank, bcast, n, ivars)
    # per_block: a block per output, its threads share the reduced elements (a
    # tree sums them); else a thread per output loops over all of them.
    outputs, reduced = (("cuda.blockIdx.x, n_out, cuda.gridDim.x",
                         "cuda.threadIdx.x, n_red, _TPB") if per_block else
                        ("cuda.grid(1), n_out, cuda.gridsize(1)", "n_red"))
    emit(f"for o in range({outputs}):")
    emit.depth = 2
    _decompose(emit, "o", kept)
    emit(f"acc = {red.plan.init}", f"for r in range({reduced}):")
    emit.depth = 3
    _decompose(emit, "r", list(axes))
    _element(emit, group, code, idx)
    emit(*red.fold("acc", red.plan.value))
    emit.depth = 2
    if per_block:
        red.tree(emit)
        emit("if tid == 0:", f"    red[o] = {red.final('sm[0]', 'n_red')}",
             "cuda.syncthreads()")
    else:
        emit(f"red[o] = {red.final('acc', 'n_red')}")
    return emit.lines


def variants(group: FusedGroup) -> list[str]:
    """Kernel names generated for `group`."""
    red = group.reduction
    if red is None:
        return ["elem_flat", "elem_nd"]
    if red.axes == tuple(range(group.ndim)):
        return ["red_all_flat", "red_all_nd", "red_finish"]
    return ["red_axes", "red_rows"]


def render_cuda_kernels(group: FusedGroup, code: ElementCode, threads: int,
                        fastmath: bool = False) -> list[str]:
    """The device function, every variant of `group`, and `VARIANTS`."""
    if threads & (threads - 1) or threads < 1:
        raise ValueError(f"threads per block must be a power of two, got {threads}")
    lines = [f"_TPB = {threads}  # threads per block (static: sizes the shared arrays)", "", ""]
    lines += render_element_function(group, code, "element", "cuda.jit(device=True)")
    lines += ["", ""]
    names = variants(group)
    for name in names:
        if name.startswith("elem"):
            body = render_elem(group, code, name == "elem_flat", fastmath)
        elif name == "red_finish":
            body = render_red_finish(group)
        elif name.startswith("red_all"):
            body = render_red_all(group, code, name == "red_all_flat", fastmath)
        else:
            body = render_red_axes(group, code, name == "red_axes", fastmath)
        lines += body + ["", ""]
    lines.append(f"VARIANTS = {tuple(names)!r}")
    return lines


def accumulator_dtype(group: FusedGroup) -> np.dtype:
    """The dtype of a group's reduction partials (float64/int64/bool)."""
    return ReductionPlan.of(group).acc_dtype
