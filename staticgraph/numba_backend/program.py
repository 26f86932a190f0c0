"""A compiled graph: its generated orchestrator, buffers per key, fallback.

`Compilation` is shared by the orchestrators of one program (the program and
its cond branches / scan bodies): the kernel target and cache, the compile
costs, the evaluator used by fallbacks. `LoweredGraph` generates, builds and
runs one orchestrator (see lower.py); it is callable as the generated
function is: `run(inputs, state)` for a program, `run(*args) -> tuple` for
a subgraph.
"""

from __future__ import annotations

import dataclasses
import linecache
import time
import weakref
from collections.abc import Callable
from typing import Any

from shared_ops.errors import GraphCompareError

from ..compiler import KernelCache, compile_group, default_cache_dir
from ..compiler.cpu import CpuTarget
from ..compiler.stats import PhaseTree
from ..graph.ir import Eqn, Graph, Var
from ..runtime.interpreter import Evaluator, InterpretRunner, run_time_error
from .eqn_lowering import lower_eqn
from .hooks import LoweringContext
from .lower import CPU_ARRAYS, GraphLowering
from .prepare import KeyBuffers, Unplannable, build_entries, replay_shapes
from .runtime import ImplCall, LoweredEvaluator, NumericsCheck, aliases_input

MAX_KEYS = 16  # buffer sets kept per orchestrator (least recently built dropped)
_CACHES: dict[str, KernelCache] = {}


def kernel_cache() -> KernelCache:
    """The kernel cache of the current cache dir ($GRAPHCOMPARE_CACHE_DIR is read
    on every compile, so a test or a benchmark may point it elsewhere)."""
    root = str(default_cache_dir())
    cache = _CACHES.get(root)
    if cache is None:
        cache = _CACHES[root] = KernelCache(root)
    return cache


def anonymous(group: Any) -> Any:
    """`group` without the user lines of its steps and reduction."""
    steps = tuple(dataclasses.replace(s, site=None) for s in group.steps)
    red = group.reduction
    red = dataclasses.replace(red, site=None) if red is not None else None
    return dataclasses.replace(group, steps=steps, reduction=red, _types=[])


class Compilation:
    """What the orchestrators of one program share (see the module doc)."""

    def __init__(self, check_numerics: bool, target: Any = None,
                 cache: KernelCache | None = None, arrays: dict | None = None) -> None:
        self.check_numerics = check_numerics
        self.arrays = {**CPU_ARRAYS, **(arrays or {})}
        self.target = target if target is not None else CpuTarget()
        self.cache = cache if cache is not None else kernel_cache()
        self.kernels: list[Any] = []
        self.tree = PhaseTree()
        self.sources: list[tuple[str, str]] = []
        self.notes: list[str] = []
        self.graphs: list[LoweredGraph] = []
        self._subgraphs: dict[int, LoweredGraph] = {}
        self.first_call: dict[str, float] = {}
        self.evaluator = LoweredEvaluator(self.subgraph, check_numerics)

    def add_phase(self, name: str, seconds: float) -> None:
        """A compile cost measured by the caller, under the phase now open."""
        self.tree.add(name, seconds)

    def phase(self, name: str):
        """A context manager timing a compile phase (nested in the open one)."""
        return self.tree.timed(name)

    @property
    def phases(self) -> dict[str, float]:
        """{phase: seconds} of the top-level phases (nested ones are inside them)."""
        return self.tree.top_level()

    def kernel(self, group: Any) -> Any:
        """The compiled kernel of a fused group (generated or found on disk).

        The group is compiled without its user lines, so equal computations
        from different lines or programs share one kernel and one cache entry
        (the orchestrator's comments name the lines of each call).
        """
        with self.phase("kernels: codegen + module"):
            kernel = compile_group(anonymous(group), self.target, self.cache)
        if all(k is not kernel for k in self.kernels):
            self.kernels.append(kernel)
        return kernel

    def subgraph(self, graph: Graph) -> LoweredGraph:
        """The orchestrator of a closed subgraph (memoised per graph)."""
        lowered = self._subgraphs.get(id(graph))
        if lowered is None:
            lowered = self._subgraphs[id(graph)] = LoweredGraph(graph, self, top=False)
        return lowered

    def impl_call(self, eqn: Eqn) -> ImplCall:
        return ImplCall(self.evaluator, eqn)

    def numerics_check(self, eqn: Eqn) -> NumericsCheck:
        return NumericsCheck(eqn)

    def context(self, eqn: Eqn) -> LoweringContext:
        """What a registered (opaque) lowering gets."""
        ctx = LoweringContext(
            eqn, self.check_numerics, self.target, lower=self.subgraph,
            interpret=lambda g: (lambda *args: Evaluator(self.check_numerics).run(g, args)),
            compile_group=self.kernel, record=self.add_phase)
        ctx.notes = self.notes
        return ctx

    def specialisations(self) -> int:
        return sum(len(k.record.specialisations) for k in self.kernels)


class LoweredGraph:
    """One generated orchestrator and its per-key buffers."""

    def __init__(self, graph: Graph, comp: Compilation, *, top: bool,
                 fallback: Callable | None = None) -> None:
        self.graph, self.comp, self.top = graph, comp, top
        self.buffers: dict[tuple, tuple] = {}
        self.keys: dict[tuple, KeyBuffers] = {}
        self.unplannable: set[tuple] = set()
        self._fallback = fallback
        with comp.phase("lower program" if top else "lower subgraph"):
            with comp.phase("memory plan"):
                lw = self.lowering = GraphLowering(graph, comp, top=top)
            with comp.phase("orchestrator codegen"):
                lw.start()
                spans = []
                for eqn in graph.eqns:
                    first = len(lw.lines)
                    lower_eqn(lw, eqn)
                    spans.append((first, len(lw.lines), eqn))
                lw.finish()
                body, header = lw.body(), lw.header()
                self.source = "\n".join(header + body) + "\n"
                offset = len(header) + (0 if len(body) == len(lw.lines) else 2)  # try: of body()
                self.eqn_at_line = {offset + i + 1: eqn for first, end, eqn in spans
                                    for i in range(first, end)}
            with comp.phase("orchestrator build"):
                self.fn = self._build(lw)
        comp.graphs.append(self)

    def _build(self, lw: GraphLowering) -> Callable:
        """Compile the generated source (registered with linecache for tracebacks)."""
        filename = self.filename = f"<staticgraph.numba {self.graph.name or 'graph'} " \
                                   f"#{id(self):x}>"
        linecache.cache[filename] = (len(self.source), None,
                                     self.source.splitlines(True), filename)
        weakref.finalize(self, linecache.cache.pop, filename, None)  # released with it
        ns = lw.ns
        ns["BUFFERS"], ns["PREPARE"] = self.buffers, self.prepare
        exec(compile(self.source, filename, "exec"), ns)
        return ns["run"]

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def failed_eqn(self, frame: Any, lineno: int) -> tuple[Eqn, list] | None:
        """The equation whose generated line `lineno` failed, and its operands
        found in the failing `frame`'s locals (None where not at hand)."""
        eqn = self.eqn_at_line.get(lineno)
        if eqn is None:
            return None
        names = self.lowering.names
        local = frame.f_locals
        vals = [local.get(names.get(x, ""), None) if isinstance(x, Var) else x
                for x in eqn.inputs]
        return eqn, vals

    # ---- a new key -----------------------------------------------------------------
    def prepare(self, key: tuple, args: Any, state: dict | None = None) -> Any:
        """Buffers for a new key, then the call (kernels recording their compile)."""
        if key in self.unplannable:
            return self.fallback(args, state)
        start = time.perf_counter()
        try:
            fast, first = self._entries(args, state)
        except (Unplannable, GraphCompareError, ValueError, TypeError) as exc:
            self.unplannable.add(key)
            self.comp.notes.append(f"run-time dims {key} run through the interpreter: {exc}")
            return self.fallback(args, state)
        if len(self.buffers) >= MAX_KEYS:
            oldest = next(iter(self.buffers))
            self.buffers.pop(oldest)
            self.keys.pop(oldest, None)
        self.buffers[key] = fast
        self.keys[key] = self._kb
        prepared = time.perf_counter()
        before = self.comp.specialisations()
        result = self.fn(args, state, first) if self.top else self.fn(*args, _B=first)
        if self.top and not self.comp.first_call:
            self.comp.first_call = {
                "prepare buffers": prepared - start,
                "run, kernels compiling or loading": time.perf_counter() - prepared,
                "kernel specialisations": self.comp.specialisations() - before}
        return result

    def _entries(self, args: Any, state: dict | None) -> tuple[tuple, tuple]:
        lw = self.lowering
        known = {v: a.shape for v, a in zip(self.graph.inputs, args)}
        if state is not None:
            known.update({v: state[v].shape for v in lw.read_vars})
        shapes = replay_shapes(self.graph, known)
        kb = self._kb = KeyBuffers.allocate(lw.storage, shapes, lw.planned,
                                            empty=self.comp.arrays["_empty"])
        for check in lw.checks:
            check(kb)
        return build_entries(lw.entries, kb)

    def describe_keys(self) -> list[str]:
        """One line per key: its dims, buffer bytes, and what was measured there."""
        lines = []
        for key, kb in self.keys.items():
            size = sum(a.nbytes for a in kb.slots)
            chosen = [obj.describe() for obj in self.buffers.get(key, ())
                      if hasattr(obj, "describe")]
            lines.append(f"  {key}: {len(kb.slots)} buffers, {size / 1024:.1f} KiB"
                         + "".join(f"; {c}" for c in chosen))
        return lines

    def fallback(self, args: Any, state: dict | None) -> Any:
        """The interpreter (program: the original program; subgraph: this graph)."""
        if self.top:
            return self._fallback(args, state)
        ev = self.comp.evaluator
        outs = Evaluator.eval(ev, self.graph, dict(zip(self.graph.inputs, args)),
                              self.graph.outputs)
        return tuple(o.copy() if aliases_input(o, tuple(args)) else o for o in outs)


def op_error(comp: Compilation, exc: Exception) -> Exception | None:
    """A NumPy (or other non-project) failure inside generated code, as the
    interpreter's documented error naming the op and its user line; None when
    the failure did not happen on a line that computes an equation."""
    by_file = {getattr(g, "filename", None): g for g in comp.graphs}
    found = None
    tb = exc.__traceback__
    while tb is not None:  # the innermost generated line wins
        lowered = by_file.get(tb.tb_frame.f_code.co_filename)
        if lowered is not None:
            found = lowered.failed_eqn(tb.tb_frame, tb.tb_lineno) or found
        tb = tb.tb_next
    if found is None:
        return None
    eqn, vals = found
    return run_time_error(eqn, vals, exc)


def lower_program(program: Graph, optimized: Graph, comp: Compilation) -> LoweredGraph:
    """The top-level orchestrator; keys it cannot plan run `program` interpreted."""
    interpreter = InterpretRunner(program, check_numerics=comp.check_numerics)
    return LoweredGraph(optimized, comp, top=True, fallback=interpreter)
