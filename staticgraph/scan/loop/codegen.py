"""Source of one njit function per scan equation: the whole loop, compiled.

    def scan_loop_into(c0.., i0.., x0.., ys0..):  consts, initial carries, sequences,
        T = x0.shape[0]                            the stacked outputs (T, ...) to fill
        k0 = i0; w1 = np.empty(...)            carries, work buffers
        for t in range(T):                     (or range(T - 1, -1, -1))
            xv0 = x0[t]; r0 = ys0[t]           this step's slices and output rows
            ... one statement per body eqn ... fused kernels, matmuls, views
            k0, n1, k1 = r0, k1, n1            next carries (no copy where possible)
        return k0.copy(), k1, ys0

    def scan_loop(c0.., i0.., x0..):           allocates ys0.. and calls scan_loop_into
                                               (what a nested scan's loop calls)

Storage (no allocation inside the loop):
- a value that is some output `y_j` is computed straight into row t of the
  stacked output (`r_j = ys_j[t]`); a carry whose new value is such a row
  just points at it next step (sg.scan: the carry *is* the last row);
- a carry whose new value is an input slice or a const points at it;
- any other carry is double-buffered: computed into (or copied into) `n_k`,
  then `k_k, n_k = n_k, k_k`; the initial value is copied first, because the
  buffers are overwritten;
- every other value has its own work buffer, allocated before the loop from
  shape expressions (`shapes.py`).
Outputs are fresh arrays: a final carry that points into a row or an input
is copied. Per-op statements are written by `emit.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shared_ops import format_site

from ...graph.ir import Eqn, Graph, Var
from ..op import scan_p
from .shapes import shape_expressions, shape_source

MAX_EMBEDDED_CONSTANT = 1 << 16  # elements of a body constant baked into the source


class Unsupported(Exception):
    """The body holds something the compiled loop cannot express (falls back)."""


@dataclass
class Value:
    """How a body value is held in the generated function."""

    name: str
    rank: int
    scalar: bool = False  # rank 0 held as a numba scalar, not a 0-d array
    contig: bool = True  # statically C-contiguous (numba layout 'C')
    unit_rows: bool = True  # the last axis has unit stride (contiguous innermost rows)

    def item(self) -> str:
        """The value as a scalar expression (rank 0 only)."""
        return self.name if self.scalar else f"{self.name}[()]"


def dtype_source(dtype) -> str:
    dtype = np.dtype(dtype)
    return "np.bool_" if dtype.kind == "b" else f"np.{dtype.name}"


@dataclass
class Carry:
    """How carry k moves to the next step: 'row' (points at ys row j), 'ref'
    (points at an input), 'keep' (unchanged) or 'buffer' (double-buffered)."""

    kind: str
    source: Var
    row: int = -1


@dataclass
class LoopWriter:
    """Collects the module header, the prologue and the loop body of one scan."""

    body: Graph
    num_consts: int
    num_carry: int
    reverse: bool
    kernel_global: object  # (FusedGroup) -> (global name prefix, CpuKernel)
    inner_global: object  # (scan Eqn) -> global name of the nested loop function
    header: list[str] = field(default_factory=list)
    pre: list[str] = field(default_factory=list)
    loop: list[str] = field(default_factory=list)
    values: dict = field(default_factory=dict)
    dests: dict = field(default_factory=dict)
    written: set = field(default_factory=set)
    count: int = 0

    def __post_init__(self) -> None:
        self.exprs = shape_expressions(self.body, self.num_consts, self.num_carry)
        outs = self.body.outputs
        self.ys = outs[self.num_carry:]
        self.row_of: dict[Var, int] = {}
        for j, v in enumerate(self.ys):
            if v.aval.shape and v not in self.row_of:
                self.row_of[v] = j

    # ---- names, values, buffers ------------------------------------------------------
    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def val(self, x) -> Value:
        if not isinstance(x, Var):
            return Value(repr(x), 0, scalar=True)
        try:
            return self.values[x]
        except KeyError:
            raise Unsupported(f"no value for {x!r} (a free variable of the body)") from None

    def bind(self, var: Var, value: Value) -> None:
        self.values[var] = value

    def emit(self, *lines: str) -> None:
        self.loop.extend(lines)

    def shape_of(self, var: Var) -> str:
        dims = self.exprs.get(var)
        if dims is None:
            raise Unsupported(f"the shape of {var!r} is not known before the loop")
        return shape_source(dims)

    def dest(self, var: Var) -> str:
        """The buffer `var` is computed into (its row, its carry buffer, or a new one)."""
        name = self.dests.get(var)
        if name is not None:
            self.written.add(var)
        else:
            name = self.fresh("w")
            self.pre.append(f"{name} = np.empty({self.shape_of(var)}, "
                            f"{dtype_source(var.dtype)})")
        self.bind(var, Value(name, len(var.shape)))
        return name

    # ---- the plan ---------------------------------------------------------------------
    def plan_carries(self, producers: dict) -> list[Carry]:
        C, K = self.num_consts, self.num_carry
        inputs = self.body.inputs
        carries = []
        for k, src in enumerate(self.body.outputs[:K]):
            index = next((n for n, v in enumerate(inputs) if v is src), None)
            if src in self.row_of:
                carries.append(Carry("row", src, self.row_of[src]))
            elif index == C + k:
                carries.append(Carry("keep", src))
            elif index is not None and (index < C or (index >= C + K and src.aval.shape)):
                carries.append(Carry("ref", src))
            else:
                carries.append(Carry("buffer", src))
                if src in producers and src not in self.dests:
                    self.dests[src] = f"n{k}"
        for v, j in self.row_of.items():
            if v in producers:
                self.dests.setdefault(v, f"r{j}")
        return carries


def _index_source(item) -> str:
    if item is None:
        return "None"
    if item is Ellipsis:
        return "..."
    if isinstance(item, slice):
        parts = ["" if p is None else str(int(p)) for p in (item.start, item.stop, item.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
    if isinstance(item, (int, np.integer)):
        return str(int(item))
    raise Unsupported(f"index item {type(item).__name__} (only basic indexing is compiled)")


def index_source(index: tuple) -> str:
    """`a, 1:3, None` for a basic index tuple; Unsupported for array indices."""
    if not index:
        return "()"
    return ", ".join(_index_source(i) for i in index) + ("," if len(index) == 1 else "")


def constant_global(name: str, value: np.ndarray) -> str:
    """A module-level line recreating a body constant exactly (bytes as hex)."""
    if value.size > MAX_EMBEDDED_CONSTANT:
        raise Unsupported(f"a body constant of {value.size} elements")
    data = np.ascontiguousarray(value)
    return (f"{name} = np.frombuffer(bytes.fromhex({data.tobytes().hex()!r}), "
            f"{dtype_source(data.dtype)}).reshape({tuple(data.shape)!r}).copy()")


def _bind_inputs(w: LoopWriter) -> None:
    C, K = w.num_consts, w.num_carry
    for n, var in enumerate(w.body.inputs):
        rank = len(var.shape)
        if n < C:
            w.bind(var, Value(f"c{n}", rank))
        elif n < C + K:
            w.bind(var, Value(f"k{n - C}", rank))
        else:
            w.bind(var, Value(f"xv{n - C - K}", rank, scalar=rank == 0))
    for m, (var, value) in enumerate(w.body.constants.items()):
        w.header.append(constant_global(f"_b{m}", value))
        w.bind(var, Value(f"_b{m}", value.ndim))


def _allocations(w: LoopWriter) -> list[str]:
    """`ys_j = np.empty((T, ...))`: what `scan_loop` adds before `scan_loop_into`."""
    lines = ["T = x0.shape[0]"]
    for j, v in enumerate(w.ys):
        dims = w.exprs.get(v)
        if dims is None:
            raise Unsupported(f"the shape of output {j} is not known before the loop")
        lines.append(f"ys{j} = np.empty({shape_source(dims, 'T')}, {dtype_source(v.dtype)})")
    return lines


def _prologue(w: LoopWriter, carries: list[Carry], num_xs: int) -> list[str]:
    lines = ["T = x0.shape[0]"]
    for i in range(1, num_xs):
        lines += [f"if x{i}.shape[0] != T:",
                  "    raise ValueError('scan: sequences have different lengths')"]
    for k, c in enumerate(carries):
        if c.kind == "buffer":
            lines += [f"k{k} = i{k}.copy()", f"n{k} = np.empty_like(i{k})"]
        else:
            lines.append(f"k{k} = i{k}")
    return lines


def copy_source(dst: str, src: Value) -> str:
    """`dst[...] = src` for arrays of equal shape, as a loop helper call (Numba
    compiles an array-valued setitem very slowly) up to rank 4."""
    if 1 <= src.rank <= 4:
        return f"_rt.copy{src.rank}({dst}, {src.name})"
    return f"{dst}[...] = {src.item() if src.rank == 0 else src.name}"


def _step_end(w: LoopWriter, carries: list[Carry]) -> list[str]:
    lines = []
    for j, v in enumerate(w.ys):
        src = w.val(v)
        if not v.aval.shape:
            lines.append(f"ys{j}[t] = {src.item()}")
        elif not (w.dests.get(v) == f"r{j}" and v in w.written):
            lines.append(copy_source(f"r{j}", src))
    targets, sources = [], []
    for k, c in enumerate(carries):
        src = w.val(c.source)
        if c.kind == "buffer":
            if not (w.dests.get(c.source) == f"n{k}" and c.source in w.written):
                lines.append(f"n{k}[()] = {src.item()}" if not c.source.aval.shape
                             else copy_source(f"n{k}", src))
            targets += [f"k{k}", f"n{k}"]
            sources += [f"n{k}", f"k{k}"]
        elif c.kind == "row":
            targets.append(f"k{k}")
            sources.append(f"r{c.row}")
        elif c.kind == "ref":
            targets.append(f"k{k}")
            sources.append(src.name)
    if targets:
        lines.append(f"{', '.join(targets)} = {', '.join(sources)}")
    return lines


def write_loop(body: Graph, params: dict, kernel_global, inner_global,
               emit_eqn) -> tuple[list[str], list[str]]:
    """(module header lines, function lines) of `scan_loop_into` and `scan_loop`.

    `emit_eqn(writer, eqn)` writes one equation (emit.py).
    """
    C, K, X = params["num_consts"], params["num_carry"], params["num_xs"]
    w = LoopWriter(body, C, K, params["reverse"], kernel_global, inner_global)
    producers = {v: e for e in body.eqns for v in e.outputs
                 if not e.prim.views and e.prim is not scan_p}  # views, nested loops: no buffer
    carries = w.plan_carries(producers)
    _bind_inputs(w)
    for eqn in body.eqns:
        try:
            emit_eqn(w, eqn)
        except Unsupported as exc:
            site = format_site(eqn.site)
            raise Unsupported(f"op '{eqn.prim.name}'" + (f" at {site}" if site else "") +
                              f": {exc}") from None
    step_end = _step_end(w, carries)
    prologue = _prologue(w, carries, X) + w.pre
    rng = "range(T - 1, -1, -1)" if params["reverse"] else "range(T)"
    top = [f"xv{i} = x{i}[t]" for i in range(X)]
    top += [f"r{j} = ys{j}[t]" for j, v in enumerate(w.ys) if v.aval.shape]
    finals = [f"k{k}" if c.kind == "buffer" else f"k{k}.copy()" for k, c in enumerate(carries)]
    ys = [f"ys{j}" for j in range(len(w.ys))]
    results = finals + ys
    args = [f"c{i}" for i in range(C)] + [f"i{k}" for k in range(K)] + \
        [f"x{i}" for i in range(X)]
    jit = "@njit(cache=True, nogil=True, error_model='numpy')"
    fn = [jit, f"def scan_loop_into({', '.join(args + ys)}):"]
    fn += ["    " + s for s in prologue] + [f"    for t in {rng}:"]
    fn += ["        " + s for s in top + w.loop + step_end] or ["        pass"]
    fn.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    fn += ["", "", jit, f"def scan_loop({', '.join(args)}):"]
    fn += ["    " + s for s in _allocations(w)]
    fn.append(f"    return scan_loop_into({', '.join(args + ys)})")
    return w.header, fn


def render_module(header: list[str], fn: list[str], title: str) -> str:
    """The whole generated module (imports, kernel bindings, the function)."""
    lines = [f'"""Generated by staticgraph.scan.loop: {title}."""', "",
             "import sys  # noqa: F401", "", "import numpy as np  # noqa: F401",
             "from numba import njit", "",
             "from staticgraph.scan.loop import runtime as _rt  # noqa: F401", ""]
    lines += header + ["", ""] + fn + ["", "", "VARIANTS = ('scan_loop_into', 'scan_loop')", ""]
    return "\n".join(lines)


def eqn_title(eqn: Eqn) -> str:
    site = format_site(eqn.site)
    body = eqn.params["body"]
    return f"scan {body.name or ''}" + (f" at {site}" if site else "")
