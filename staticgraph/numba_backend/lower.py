"""`GraphLowering`: one graph (a program or a subgraph) -> one generated Python function.

The function is straight-line Python over the optimised graph, in program
order. Every value gets a local name and a *root* saying who owns its
memory: an input, a constant, a variable's state, a planned buffer (`slot`),
a returned buffer (`escape`, recycled when the caller dropped it), the
variable storage an update is written into (`state`), or a `fresh` array
(allocated by an impl fallback or a sub-orchestrator, owned by nobody
else). Views share their operand's root. The rules in `eqn_lowering.py` and
`kernels.py` emit one statement (or a few) per equation; this class does the
bookkeeping: names, buffer entries of `_B`, per-key checks, the header that
finds `_B`, and the commits of the updates at the end.
"""

from __future__ import annotations

import keyword
import linecache
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from shared_ops import format_site

from ..graph.ir import Eqn, Graph, Var
from ..passes import plan_memory
from ..passes.symbolic import size_of
from . import blas, gemm, runtime
from .prepare import Entry, KeyBuffers, Storage, Unplannable, shape_determined

# What generated code calls to allocate and multiply: a target with its own
# arrays (a GPU) passes replacements as `Compilation(arrays=...)`.
CPU_ARRAYS: dict[str, Any] = {
    "np": np, "_matmul": np.matmul, "_copyto": np.copyto, "_empty_like": np.empty_like,
    "_empty": np.empty, "_gemm_update": gemm.gemm_update,
}
BASE_NAMESPACE: dict[str, Any] = {
    "_refs": runtime.refcount, "_own_state": runtime.own_state, "_commit": runtime.commit,
}
INDENT = "    "


def dynamic_values(plan) -> set[Var]:
    """Values whose size depends on data: neither the plan's symbols nor a replay
    of the shapes at a probe size (`prepare.shape_determined`) give it."""
    inf = plan.shapes
    known = {inf.find(s) for s in inf.origins}
    dynamic = set()
    for v in plan.values:
        if v in inf.shapes and any(s not in known for s in size_of(inf, v).syms):
            dynamic.add(v)
    return dynamic - shape_determined(plan.graph) if dynamic else dynamic


def wrap(names: list[str], start: str, end: str, width: int = 96) -> list[str]:
    """`start` + comma-separated names + `end`, broken into lines of `width`."""
    lines, line = [], start
    for name in names:
        piece = name + ", "
        if len(line) + len(piece) > width and line.strip() not in ("", "("):
            lines.append(line.rstrip())
            line = " " * len(start)
        line += piece
    return lines + [line.rstrip() + end]


def user_line(site: tuple[str, int] | None) -> str:
    """'file.py:12: the source text' for a comment."""
    where = format_site(site)
    if not where:
        return ""
    text = linecache.getline(site[0], site[1]).strip() if site else ""
    return f"{where}: {text}" if text else where


class GraphLowering:
    """Builds the source and namespace of one orchestrator (see the module doc)."""

    def __init__(self, graph: Graph, comp, *, top: bool) -> None:
        self.graph, self.comp, self.top = graph, comp, top
        self.check = comp.check_numerics
        self.plan = plan_memory(graph)
        self.storage = Storage.from_plan(self.plan, reuse=not self.check)
        self.dynamic = dynamic_values(self.plan)
        self.ns: dict[str, Any] = {**BASE_NAMESPACE, **comp.arrays}
        self.taken: set[str] = set(self.ns) | {"run", "inputs", "state", "_B", "_k"}
        self.counters: dict[str, int] = {}
        self.entries: list[Entry] = []
        self.lines: list[str] = []
        self.names: dict[Var, str] = {}
        self.root: dict[Var, tuple[str, Var]] = {}
        self.contig: dict[Var, bool] = {}
        self.updated = {var for var, _ in graph.updates}
        self.planned: set[Var] = set()
        self.checks: list[Callable[[KeyBuffers], None]] = []
        self.escape_vars: list[Var] = []
        self.read_vars: list[Var] = []
        self.matmuls: list[Eqn] = []  # BLAS calls at the top level (their sizes)
        self.written_in_place: list[Var] = []  # variables kernels have written so far
        self.written_before_fallible: set[Var] = set()  # ... before a line that may raise
        self._flat: dict[Var, str] = {}
        self._var_names: dict[Var, str] = {}
        self._last_site: tuple | None = None

    # ---- names -----------------------------------------------------------------
    def fresh(self, base: str) -> str:
        base = re.sub(r"\W", "_", base) or "v"
        if base[0].isdigit() or base[0] == "_" or base[0].isupper() or keyword.iskeyword(base):
            base = f"v_{base.lstrip('_')}"
        name, n = base, 1
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name

    def global_(self, prefix: str, obj: Any) -> str:
        """A module-level name for `obj` in the generated code (`K0`, `C1`, ...)."""
        n = self.counters.get(prefix, 0)
        while f"{prefix}{n}" in self.taken:
            n += 1
        self.counters[prefix] = n + 1
        name = f"{prefix}{n}"
        self.taken.add(name)
        self.ns[name] = obj
        return name

    def local(self, v: Var) -> str:
        return self.fresh(v.name if v.name else f"t{v.id}")

    def name_for(self, v: Var) -> str:
        """A new local name for `v` (bind it afterwards)."""
        self.names[v] = self.local(v)
        return self.names[v]

    def bind(self, v: Var, name: str, root: tuple[str, Var], contig: bool = True) -> None:
        self.names[v], self.root[v], self.contig[v] = name, root, contig

    def expr(self, x) -> str:
        """Source for an equation input: a value's name or a literal."""
        if isinstance(x, Var):
            return self.names[x]
        if isinstance(x, (bool, int)) or (isinstance(x, float) and np.isfinite(x)):
            return repr(x)
        return self.global_("LIT", x)

    def emit(self, *lines: str) -> None:
        self.lines.extend(INDENT + line for line in lines)

    def comment_site(self, eqn: Eqn) -> None:
        """A comment naming the user's line when it changes."""
        if eqn.site != self._last_site and eqn.site is not None:
            self.emit(f"# {user_line(eqn.site)}")
        self._last_site = eqn.site

    # ---- storage -----------------------------------------------------------------
    def storage_kind(self, v: Var) -> str | None:
        """Where a compiled equation may write `v`: 'state', 'slot', 'escape' or None
        (no planned storage: compute it fresh)."""
        if v in self.dynamic:
            return None
        if v in self.storage.into_variable:
            return "state"
        if v in self.storage.slot_of:
            return "slot"
        if v in self.storage.escapes:
            return "escape"
        return None

    def entry(self, base: str, make, first=None) -> str:
        name = self.fresh(base)
        self.entries.append(Entry(name, make, first))
        return name

    def out_array(self, v: Var) -> str:
        """Emit what gives `v` its storage; bind and return its name."""
        kind = self.storage_kind(v)
        if kind == "state":
            var = self.storage.into_variable[v]
            self.written_in_place.append(var)
            self.bind(v, self.names[var], ("state", var))
            self.checks.append(lambda kb, v=v, var=var: _same_shape(kb, v, var))
        elif kind == "slot":
            self.planned.add(v)
            in_place = self.storage.in_place.get(v)
            if in_place is not None:
                self.checks.append(lambda kb, v=v, x=in_place: _same_shape(kb, v, x))
            base = v.name if v.name else f"t{v.id}"
            self.bind(v, self.entry(base, lambda kb, v=v: kb.view(v)), ("slot", v))
        elif kind == "escape":
            i = len(self.escape_vars)
            self.escape_vars.append(v)
            name = self.local(v)
            self.emit(f"{name} = {self.escapes_name()}[{i}]",
                      f"if _refs({name}) > {runtime.FREE_REFS}:  # the caller kept the last one",
                      f"    {name} = {self.escapes_name()}[{i}] = _empty_like({name})")
            self.bind(v, name, ("escape", v))
        else:
            raise AssertionError(f"{v.label} has no storage")
        return self.names[v]

    def fallible(self) -> None:
        """The line just emitted may raise: variables written in place before it
        must be restored if it does (a transaction backs them up)."""
        self.written_before_fallible.update(self.written_in_place)

    def escapes_name(self) -> str:
        if "escapes" not in self.counters:
            self.counters["escapes"] = 1
            self._escapes = self.entry("returned", self._make_escapes)
        return self._escapes

    def _make_escapes(self, kb: KeyBuffers) -> list:
        arrays = []
        for v in self.escape_vars:
            shape = kb.shapes.get(v)
            if shape is None or any(d is None for d in shape):
                raise Unplannable(f"returned value {v.label} has no concrete shape")
            arrays.append(self.ns["_empty"](shape, v.dtype))
        return arrays

    def flat(self, v: Var) -> str:
        """A 1-D view of an array value (planned: one entry per key; else a reshape)."""
        if self.root[v][0] == "slot" and self.root[v][1] is v:
            name = self._flat.get(v)
            if name is None:
                name = self._flat[v] = self.entry(f"{self.names[v]}_flat",
                                                  lambda kb, v=v: kb.flat(v))
            return name
        return f"{self.names[v]}.reshape(-1)"

    # ---- start and end -----------------------------------------------------------
    def start(self) -> None:
        """Bind inputs, constants and the variables the graph reads."""
        for v in self.graph.inputs:
            self.bind(v, self.local(v), ("input", v))
        for v, value in self.graph.constants.items():
            arr = value if value.flags.c_contiguous else value.copy(order="C")
            self.bind(v, self.global_("C", arr), ("const", v))
        reads = {x for e in self.graph.eqns for x in e.in_vars}
        reads.update(self.graph.outputs)
        reads.update(value for _, value in self.graph.updates)
        self.read_vars = [v for v in self.graph.variables if v in reads]
        for v in self.read_vars:
            self.bind(v, self.local(v), ("var", v))

    def header(self) -> list[str]:
        """The function's first lines: arguments, state reads, the lookup of `_B`."""
        ins = [self.names[v] for v in self.graph.inputs]
        lines = ["def run(inputs, state, _B=None):" if self.top
                 else f"def run({''.join(n + ', ' for n in ins)}_B=None):"]
        lines.append(f'{INDENT}"""{self.graph.name or "graph"}: generated by '
                     'staticgraph.numba_backend."""')
        if self.top and ins:
            lines.append(f"{INDENT}{', '.join(ins)}, = inputs")
        targets = set(self.storage.into_variable.values())
        for v in self.read_vars:
            call = "_own_state(state, {})" if v in targets else "state[{}]"
            lines.append(f"{INDENT}{self.names[v]} = " + call.format(self.var_global(v)))
        keyed = ins + [self.names[v] for v in self.read_vars]
        key = f"({''.join(n + '.shape, ' for n in keyed)})"
        again = "inputs, state" if self.top else f"({''.join(n + ', ' for n in ins)})"
        lines += [f"{INDENT}if _B is None:", f"{INDENT * 2}_k = {key}",
                  f"{INDENT * 2}_B = BUFFERS.get(_k)", f"{INDENT * 2}if _B is None:",
                  f"{INDENT * 3}return PREPARE(_k, {again})"]
        if self.entries:
            lines += wrap([e.name for e in self.entries], f"{INDENT}(", ") = _B")
        return lines

    def var_global(self, var: Var) -> str:
        """The module-level name of a variable (its key in `state`)."""
        name = self._var_names.get(var)
        if name is None:
            label = re.sub(r"\W", "_", var.label)
            name = self._var_names[var] = self.global_(f"V_{label}_", var)
        return name

    def finish(self) -> None:
        """Copies that protect returned values, the commits, the return statement."""
        outs: list[str] = []
        copies: dict[Var, str] = {}
        for v in self.graph.outputs:
            kind, root = self.root[v]
            if (kind == "var" and root in self.updated) or (not self.top and kind == "input"):
                if v not in copies:
                    copies[v] = self.fresh(f"{self.names[v]}_copy")
                    self.emit(f"{copies[v]} = {self.names[v]}.copy()  # not a borrowed array")
                outs.append(copies[v])
            else:
                outs.append(self.names[v])
        if self.top:
            self.commit_updates()
            self.emit(f"return [{', '.join(outs)}]")
        else:
            self.emit(f"return ({''.join(o + ', ' for o in outs)})")

    def body(self) -> list[str]:
        """The statements after the header; with small matmuls, NumPy's BLAS threads
        chosen per call by a `blas.BlasChoice` (and restored in `finally`)."""
        if not (self.top and self.matmuls):
            return self.lines
        choice = self.entry("blas_threads", self._blas_choice)
        return [f"{INDENT}_blas = {choice}.enter()  # one BLAS thread or the default: "
                "the faster", f"{INDENT}try:", *(INDENT + line for line in self.lines),
                f"{INDENT}finally:", f"{INDENT * 2}{choice}.leave(_blas)"]

    def _blas_choice(self, kb: KeyBuffers) -> blas.BlasChoice:
        bound = blas.single_max()
        return blas.BlasChoice(bound > 0 and all(
            blas.matmul_macs(kb.shapes[e.inputs[0]], kb.shapes[e.inputs[1]]) <= bound
            for e in self.matmuls))

    def commit_updates(self) -> None:
        """State updates, after every read of the run."""
        if not self.graph.updates:
            return
        self.emit("# updates: committed after every read of the run")
        pending = []
        for var, value in self.graph.updates:
            kind, _ = self.root[value]
            if kind == "state":
                self.emit(f"# {var.label} was written in place by {value.label}")
                continue
            name = self.names[value]  # `_commit` copies it into the variable's storage
            if value not in self.dynamic and value in self.plan.shapes.shapes:
                self.checks.append(lambda kb, v=value, var=var: _same_shape(kb, v, var))
            pending.append((var, name, kind != "slot"))
        for var, name, owned in pending:
            self.emit(f"_commit(state, {self.var_global(var)}, {name}, {owned})")


def _same_shape(kb: KeyBuffers, a: Var, b: Var) -> None:
    sa, sb = kb.shapes.get(a), kb.shapes.get(b)
    if sa != sb or sa is None:
        raise Unplannable(f"{a.label} {sa} and {b.label} {sb} differ")
