"""`dg.compile`: a function (or module) traced into static graphs, cached by guards.

A call flattens its arguments, computes the guard key (`guards.guard_key`)
and runs the matching compiled graph; with no match it traces the function
on `TracedTensor`s, differentiates and compiles the graph (`graphs`), and
caches it under the key. Nothing is cached when a trace fails.
"""

from __future__ import annotations

import functools
import threading
import time
import warnings

from shared_ops import format_site
from staticgraph.graph.structure import flatten, unflatten
from staticgraph.runtime.backends import get_backend

from ..grad_mode import GRAD_MODE
from ..tensor import Tensor
from .autograph import convert
from .errors import CompileWarning, TraceError
from .explain import describe
from .graphs import CompiledGraph, compile_trace
from .guards import captures_match, closure_key, guard_key, positional_key
from .stateful import StatefulGraph, compile_stateful
from .tape import CompiledBackward, run_compiled
from .tracer import ShapeSpecialization, Trace, TracedTensor, active_trace

_TRACING = threading.RLock()  # one trace at a time in the process (the trace hook is global)
TENSOR_SLOT = object()  # where a tensor output goes among an entry's output leaves


class LoopOverflow(Exception):
    """Internal: an AutoGraph loop needed more steps than its trace has."""


class Entry:
    """One cached trace: its compiled graph (None: this guard set runs eagerly)."""

    def __init__(self, key: tuple, compiled: CompiledGraph | None, op, captures: list,
                 out_tree, out_leaves: list, seconds: dict, reason: str) -> None:
        self.key = key
        self.compiled = compiled
        self.op = op
        self.captures = captures            # captured tensors, read at every call
        self.capture_specs = [(t.shape, t.dtype.str, t._requires_grad) for t in captures]
        self.out_tree = out_tree
        self.out_leaves = out_leaves        # TENSOR_SLOT where a tensor output goes, else the value
        self.n_flags = 0                    # trailing outputs: AutoGraph loop overflow flags
        self.seconds = seconds
        self.reason = reason
        self.calls = 0
        self.slots: list = []               # state a stateful trace reads and stores
        self.guard_slots: list = []         # every slot the trace consulted
        self.value_guards: list = []        # (read() -> value, value traced)

    def state_matches(self, leaves: list) -> bool:
        """The state this trace read (grads set or not, optimizer buffers,
        hyper-parameters) is as it was when traced."""
        for slot in self.guard_slots:
            if slot.guard(leaves) != slot.traced_guard:
                return False
        return all(read() == value for read, value in self.value_guards)

    def run(self, leaves: list):
        tensors = [x for x in leaves if isinstance(x, Tensor)] + self.captures
        if isinstance(self.compiled, StatefulGraph):
            outs = self.compiled.run(tensors, leaves)
        else:
            outs = run_compiled(self.compiled, self.op, tensors)
        if self.n_flags:
            if any(bool(f._data) for f in outs[-self.n_flags:]):
                raise LoopOverflow()
            outs = outs[:-self.n_flags]
        outs = iter(outs)
        values = [next(outs) if v is TENSOR_SLOT else v for v in self.out_leaves]
        return unflatten(self.out_tree, values)


class CompiledFunction:
    """What `dg.compile(fn)` returns: call it like `fn`; see `explain()`."""

    def __init__(self, fn, *, backend: str = "numba", dynamic: bool = False,
                 fullgraph: bool = True, autograph: bool = False) -> None:
        if not callable(fn):
            raise TypeError(f"dg.compile: expects a function or a module, got "
                            f"{type(fn).__name__}")
        get_backend(backend)  # an unknown backend fails now, listing the known ones
        self._fn = fn
        self.backend = backend
        self.dynamic = bool(dynamic)
        self.fullgraph = bool(fullgraph)
        self.autograph = bool(autograph)
        self._traced_fn = fn
        if autograph:
            self._traced_fn = convert(fn)
        self._cache: dict[tuple, list[Entry]] = {}
        self._specialized: dict[tuple, str] = {}  # dynamic keys traced per shape, and why
        self.trace_count = 0
        self.fallback_count = 0
        self.loop_bound = 8  # steps of an AutoGraph loop on a traced count
        self.extra_guard = None  # () -> hashable: more guards (CompiledModule sets it)
        self.extra_guard_text = ""
        self._warned: set = set()
        self.events: list[str] = []
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        functools.update_wrapper(self, fn, updated=())

    @property
    def entries(self) -> list[Entry]:
        seen: dict[int, Entry] = {}
        for entries in self._cache.values():
            for e in entries:
                seen.setdefault(id(e), e)
        return list(seen.values())

    def __call__(self, *args, **kwargs):
        if active_trace() is not None:  # a compiled function called while tracing: inline
            return self._traced_fn(*args, **kwargs)
        key = None if kwargs else self._fast_key(args)
        if key is not None and key in self._cache:  # the common case: tensors only
            entry = self._lookup_key(key, args)
            if entry is not None:
                entry.calls += 1
                try:
                    return entry.run(args)
                except LoopOverflow:
                    leaves, tree = flatten((args, kwargs))
                    return self._grow_loops(entry, leaves, tree, args, kwargs)
        leaves, tree = flatten((args, kwargs))
        entry = self._lookup(leaves, tree)
        if entry is None:
            entry = self._trace(leaves, tree, args, kwargs)
            if entry is None:  # ran eagerly (fallback): the result is below
                return self._eager(args, kwargs)
        entry.calls += 1
        if entry.compiled is None:
            return self._eager(args, kwargs)
        try:
            return entry.run(leaves)
        except LoopOverflow:
            return self._grow_loops(entry, leaves, tree, args, kwargs)

    def _grow_loops(self, entry: Entry, leaves: list, tree, args, kwargs):
        """Trace again with loops twice as long, replacing `entry`; run the call."""
        while True:
            self.loop_bound *= 2
            self.events.append(f"an AutoGraph loop needed more steps: loop bound now "
                               f"{self.loop_bound}")
            for entries in self._cache.values():
                if entry in entries:
                    entries.remove(entry)
            entry = self._trace(leaves, tree, args, kwargs)
            if entry is None:
                return self._eager(args, kwargs)
            entry.calls += 1
            try:
                return entry.run(leaves)
            except LoopOverflow:
                continue

    def _eager(self, args, kwargs):
        self.fallback_count += 1
        return self._fn(*args, **kwargs)

    def _key(self, leaves: list, tree) -> tuple:
        key = guard_key(leaves, tree, self.dynamic) + self._outer_key()
        if self.dynamic and key in self._specialized:
            key = guard_key(leaves, tree, False) + self._outer_key()
        return key

    def _fast_key(self, args: tuple) -> tuple | None:
        key = positional_key(args, self.dynamic)
        return None if key is None else key + self._outer_key()

    def _outer_key(self) -> tuple:
        """Guards beyond the arguments: closure identities, and the owner's (a
        compiled module's training flag and parameter identities)."""
        extra = self.extra_guard
        return closure_key(self._fn) + (() if extra is None else (extra(),))

    def _lookup(self, leaves: list, tree) -> Entry | None:
        return self._lookup_key(self._key(leaves, tree), leaves)

    def _lookup_key(self, key: tuple, leaves) -> Entry | None:
        for entry in self._cache.get(key, ()):
            if captures_match(entry.captures, entry.capture_specs) and (
                    not (entry.guard_slots or entry.value_guards) or entry.state_matches(leaves)):
                return entry
        return None

    def _trace(self, leaves: list, tree, args, kwargs) -> Entry | None:
        """Trace, compile and cache a new entry (None: run eagerly this call);
        traces from several threads take turns."""
        with _TRACING:
            entry = self._lookup(leaves, tree)  # another thread may have traced it
            if entry is not None:
                return entry
            return self._trace_new(leaves, tree, args, kwargs)

    def _trace_new(self, leaves: list, tree, args, kwargs) -> Entry | None:
        key = self._key(leaves, tree)
        reason = "first call" if not self._cache else "no cached trace matches the guards"
        try:
            try:
                entry = self._trace_once(leaves, tree, key, key[1], reason)
            except ShapeSpecialization as exc:
                where = format_site(exc.site) or "?"
                self._specialized[key] = where
                self.events.append(f"a symbolic dim was read at {where}: traced for this "
                                   "call's shapes")
                key = guard_key(leaves, tree, False) + self._outer_key()
                entry = self._trace_once(leaves, tree, key, False, reason)
        except TraceError as exc:
            if self.fullgraph:
                raise
            return self._fallback(key, exc, args, kwargs)
        self._cache.setdefault(key, []).append(entry)
        fast = None if kwargs else self._fast_key(args)
        if fast is not None and fast != key and not self._specialized:
            self._cache.setdefault(fast, []).append(entry)  # found without flattening
        return entry

    def _fallback(self, key: tuple, exc: TraceError, args, kwargs) -> None:
        """fullgraph=False: this guard set runs eagerly from now on; warn once per line."""
        self._cache.setdefault(key, []).append(
            Entry(key, None, None, [], None, [], {}, f"eager: {exc}"))
        self.events.append(f"eager fallback: {exc}")
        message = str(exc)
        if message not in self._warned:
            self._warned.add(message)
            warnings.warn(f"{message} -- running '{self.__name__}' eagerly for these inputs",
                          CompileWarning, stacklevel=4)
        return None

    def _trace_once(self, leaves: list, tree, key: tuple, dynamic: bool,
                    reason: str) -> Entry:
        start = time.perf_counter()
        trace = Trace(f"compiled:{self.__name__}", dynamic)
        trace.loop_bound = self.loop_bound
        traced = [trace.input(x, i) if isinstance(x, Tensor) else x
                  for i, x in enumerate(leaves)]
        with trace:
            targs, tkwargs = unflatten(tree, traced)
            result = self._traced_fn(*targs, **tkwargs)
            out_leaves, out_tree = flatten(result)
            out_vars, out_grad, kept = [], [], []
            for leaf in out_leaves:
                if isinstance(leaf, Tensor):
                    sym = leaf._sym if isinstance(leaf, TracedTensor) else trace.capture(leaf)
                    out_vars.append(sym.var)
                    out_grad.append(leaf._requires_grad and GRAD_MODE.enabled)
                    kept.append(TENSOR_SLOT)
                elif isinstance(leaf, (bool, int, float, str, type(None))):
                    kept.append(leaf)
                else:
                    raise TraceError(f"dg.compile: '{self.__name__}' returned a "
                                     f"{type(leaf).__name__}; return tensors, Python "
                                     "scalars or None (in tuples, lists or dicts)")
            out_vars += [s.var for s in trace.loop_overflows]
            out_grad += [False] * len(trace.loop_overflows)
            slots = trace.state.finish(out_vars)
        traced_at = time.perf_counter()
        arg_tensors = [x for x in leaves if isinstance(x, Tensor)]
        captured = [t for t, _ in trace.captures.values()]
        tensors = arg_tensors + captured
        input_vars = [trace.arg_vars[i] for i in sorted(trace.arg_vars)]
        input_vars += [v for _, v in trace.captures.values()]
        if slots or trace.state.differentiated:
            return self._stateful_entry(trace, key, reason, start, traced_at, input_vars,
                                        out_vars, out_grad, slots, captured, out_tree, kept)
        diff_in = [i for i, t in enumerate(tensors) if t._requires_grad] \
            if GRAD_MODE.enabled else []
        diff_out = [k for k, g in enumerate(out_grad) if g]
        compiled = compile_trace(trace.graph, input_vars, out_vars, diff_in, diff_out,
                                 self.backend)
        seconds = {"trace": traced_at - start, **compiled.phases}
        op = CompiledBackward(f"compiled_{self.__name__}", compiled) if (
            diff_in and diff_out) else None
        self.trace_count += 1
        self.events.append(f"trace {self.trace_count}: {reason}")
        entry = Entry(key, compiled, op, captured, out_tree, kept, seconds, reason)
        entry.n_flags = len(trace.loop_overflows)
        return entry

    def _stateful_entry(self, trace: Trace, key: tuple, reason: str, start: float,
                        traced_at: float, input_vars: list, out_vars: list, out_grad: list,
                        slots: list, captured: list, out_tree, kept: list) -> Entry:
        """The entry of a trace that ran backward or changed tensors in place."""
        if not trace.state.differentiated and any(out_grad):
            raise TraceError(f"dg.compile: '{self.__name__}' changes tensors in place and "
                             "returns a result that needs a gradient; call backward() "
                             "inside the function, or make the in-place update outside it")
        compiled = compile_stateful(trace.graph, input_vars, out_vars, slots, self.backend)
        seconds = {"trace": traced_at - start, **compiled.phases}
        self.trace_count += 1
        self.events.append(f"trace {self.trace_count}: {reason} (changes state: "
                           f"{len(slots)} slot(s))")
        entry = Entry(key, compiled, None, captured, out_tree, kept, seconds, reason)
        entry.n_flags = len(trace.loop_overflows)
        entry.slots = list(slots)
        entry.guard_slots = trace.state.all_slots()
        entry.value_guards = list(trace.state.guards)
        return entry

    def explain(self, file=None) -> str:
        """Print (and return) the traces, their guards, graphs, passes and compile costs."""
        text = describe(self)
        print(text, file=file)
        return text
