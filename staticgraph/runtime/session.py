"""`sg.Session`: TF1-style execution with feeds, fetch structures and state.

A session owns the values of the graph's variables. Each distinct request
(which symbols are fetched, which are fed) is turned into a closed program
once (`extract_program`), compiled by the backend once, and cached.
"""

from __future__ import annotations

import inspect
import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np

from shared_ops import format_site

from ..build.random_ops import reset_streams
from ..build.symbol import Operation, Symbol
from ..errors import ClosedSessionError, FeedError, GraphError, UninitializedVariableError
from ..graph.context import get_default_graph, session_scope
from ..graph.ir import Graph, Var
from ..graph.structure import flatten, unflatten
from .backends import Runner, get_backend, make_runner
from .program import extract_program, needed_values
from .tiered import TieredRunner, tiered_by_default
from .transaction import Transaction


def _label(var: Var) -> str:
    return f"'{var.label}'"


def convert_feed(var: Var, value, what: str = "placeholder") -> np.ndarray:
    """A fed value as an array of `var`'s dtype and shape, or a FeedError.

    Arrays must already have the expected dtype; Python numbers and lists are
    converted when that loses no kind (no float to int).
    """
    aval = var.aval
    if isinstance(value, (Symbol, Operation)):
        raise FeedError(f"feed for {what} {_label(var)} is a symbol; feed arrays")
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype != aval.dtype:
            raise FeedError(f"{what} {_label(var)} expects dtype {aval.dtype.name} "
                            f"({aval}), was fed {arr.dtype.name}{list(arr.shape)}")
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise FeedError(f"{what} {_label(var)}: cannot convert the fed "
                            f"{type(value).__name__} to an array: {exc}") from None
        if arr.dtype.kind not in "biuf" or not np.can_cast(arr.dtype, aval.dtype, "same_kind"):
            raise FeedError(f"{what} {_label(var)} expects dtype {aval.dtype.name} ({aval}), "
                            f"was fed {type(value).__name__} of dtype {arr.dtype}")
        arr = arr.astype(aval.dtype)
    fits = arr.ndim == len(aval.shape) and all(
        d is None or d == n for d, n in zip(aval.shape, arr.shape))
    if not fits:
        raise FeedError(f"{what} {_label(var)} expects shape {aval}, was fed "
                        f"{arr.dtype.name}{list(arr.shape)}")
    return arr


@dataclass
class Plan:
    """A cached request: its program, its runner, where each fetch comes from."""

    program: Graph
    runner: Runner
    slots: list  # per fetch leaf: index into the runner's outputs, or None (an op)
    transaction: Transaction


class Session:
    """Runs fetches of one graph; holds its variables' values.

    `Session(graph=None, backend="interpret", check_numerics=False,
    auto_init=True)`. With auto_init, a variable read before
    `global_variables_initializer()` ran starts from its initial value.

    Thread-safe: runs (and calls of the `sg.function`s sharing this session)
    hold `self.lock`, so calls from several threads are serialised and no
    variable update is lost.

    `cluster` runs the graph over a Dask distributed cluster (None: in this
    process): an int N starts a local cluster of N worker processes on
    127.0.0.1 that closes with the session, a string is a scheduler address,
    a `distributed.Client` is used as it is. `security` (a Dask `Security`)
    is passed to the client and to a local cluster. See docs/distributed.md.

    `tiered` (default: on for backend "numba", see `staticgraph.runtime.tiered`): the
    runs of a new request execute on the interpreter while the backend
    compiles it in a background thread, and on the compiled code once it is
    ready; `wait_compiled()` blocks until it is.
    """

    def __init__(self, graph: Graph | None = None, backend: str = "interpret", *,
                 check_numerics: bool = False, auto_init: bool = True, cluster=None,
                 security=None, tiered: bool | None = None) -> None:
        get_backend(backend)  # unknown backend: fail now, not at the first run
        self.tiered = tiered_by_default(backend) if tiered is None else bool(tiered)
        self.graph = graph if graph is not None else get_default_graph()
        self.backend = backend
        self.check_numerics = check_numerics
        self.auto_init = auto_init
        self.state: dict[Var, np.ndarray] = {}
        self._plans: dict[tuple, Plan] = {}
        self._closed = False
        self._scope = None
        self.lock = threading.Lock()  # one run (or function call) at a time
        reset_streams(self.graph)  # each session sees its random ops' sequences afresh
        self.cluster = None
        if cluster is not None:
            from ..distributed import ClusterRuntime
            self.cluster = ClusterRuntime(self, cluster, security)

    # ---- context management (a `with` block makes it the default session) ---
    def __enter__(self) -> Session:
        self._scope = session_scope(self)
        self._scope.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._scope is not None:
            self._scope.__exit__(*exc)
            self._scope = None
        self.close()

    def close(self) -> None:
        """Release the variables' values and compiled plans; every later use
        (`run`, `get`, `set`, `explain`, functions sharing it, `Saver`) raises
        ClosedSessionError. Closing twice is fine."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            self.state.clear()
            self._plans.clear()
            if self.cluster is not None:
                self.cluster.close()

    @property
    def closed(self) -> bool:
        """Whether `close()` (or the end of its `with` block) has run."""
        return self._closed

    def check_open(self, what: str) -> None:
        """Raise ClosedSessionError naming `what` when the session is closed."""
        if self._closed:
            raise ClosedSessionError(f"{what} on a closed session: its variables' values "
                                     "were released by close(); use a new Session")

    # ---- running ---------------------------------------------------------------
    def run(self, fetches, feed_dict=None):
        """Values of `fetches` (a symbol, op, or nested list/tuple/dict of them)."""
        self.check_open("run()")
        leaves, tree = flatten(fetches)
        for leaf in leaves:
            self._check_fetch(leaf)
        feeds = self._feeds(feed_dict)
        with self.lock:
            self.check_open("run()")
            if self.cluster is not None:
                return unflatten(tree, self._run_on_cluster(leaves, feeds))
            plan = self._plan(leaves, feeds)
            self.init_state(plan.program)
            inputs = [feeds[v] for v in plan.program.inputs]
            outs = plan.transaction.run(inputs, self.state)
            values = [None if slot is None else outs[slot] for slot in plan.slots]
            return unflatten(tree, finish_outputs(values, plan.program, self.state, inputs))

    def explain(self, fetches, feed_dict=None, file=None, brief: bool = False) -> str:
        """Print (and return) what running `fetches` executes: the program text.

        Without feed_dict, every placeholder the fetches need counts as fed.
        `brief=True` asks a compiled backend for a one-screen summary.
        """
        self.check_open("explain()")
        leaves, _ = flatten(fetches)
        for leaf in leaves:
            self._check_fetch(leaf)
        if feed_dict is not None:
            fed = list(self._feeds(feed_dict))
        else:
            needed, _ = needed_values(self.graph, [leaf.var for leaf in leaves], set())
            fed = [v for v in self.graph.inputs if v in needed]
        if self.cluster is not None:
            with self.lock:
                text = self.cluster.explain(*self._cluster_plan(leaves, fed))
            print(text, file=file)
            return text
        text = explain_runner(self._plan(leaves, dict.fromkeys(fed)).runner, brief)
        print(text, file=file)
        return text

    def _check_fetch(self, leaf) -> None:
        if not isinstance(leaf, (Symbol, Operation)):
            raise GraphError(f"cannot fetch {leaf!r}: fetches must be symbols or ops, "
                             "possibly in lists, tuples and dicts")
        if leaf.graph is not self.graph:
            where = format_site(leaf.var.site)
            raise GraphError(f"cannot fetch {leaf.name}" + (f" (created at {where})" if where
                                                               else "")
                             + f": it belongs to {leaf.graph!r}, not to this session's "
                             f"graph {self.graph!r}")

    def _feeds(self, feed_dict) -> dict[Var, np.ndarray]:
        if feed_dict is None:
            return {}
        if not isinstance(feed_dict, dict):
            raise FeedError(f"feed_dict must be a dict, got {type(feed_dict).__name__}")
        feeds: dict[Var, np.ndarray] = {}
        for key, value in feed_dict.items():
            if not isinstance(key, Symbol):
                raise FeedError(f"feed_dict keys must be symbols, got {key!r}")
            if key.graph is not self.graph:
                raise FeedError(f"cannot feed {key.name}: it belongs to {key.graph!r}, not "
                                f"to this session's graph {self.graph!r}")
            what = "placeholder" if key.var in self.graph.inputs else "symbol"
            feeds[key.var] = convert_feed(key.var, value, what)
        return feeds

    def _plan(self, leaves: list, feeds: dict) -> Plan:
        fed = sorted(feeds, key=lambda v: v.id)
        key = (tuple(leaf.var.id for leaf in leaves), tuple(v.id for v in fed))
        plan = self._plans.get(key)
        if plan is None:
            values = [leaf.var for leaf in leaves if isinstance(leaf, Symbol)]
            ops = [leaf.var for leaf in leaves if isinstance(leaf, Operation)]
            start = time.perf_counter()
            program = extract_program(self.graph, values, fed, effects=ops)
            extracted = time.perf_counter() - start
            if self.tiered:
                runner = TieredRunner(program, get_backend(self.backend), backend=self.backend,
                                      check_numerics=self.check_numerics)
            else:
                runner = make_runner(program, self.backend, check_numerics=self.check_numerics)
            if hasattr(runner, "record_phase"):  # compiled backends' explain()
                runner.record_phase("extract program", extracted)
            slots, k = [], 0
            for leaf in leaves:
                slots.append(k if isinstance(leaf, Symbol) else None)
                k += isinstance(leaf, Symbol)
            plan = self._plans[key] = Plan(program, runner, slots, Transaction(runner))
        return plan

    def _cluster_plan(self, leaves: list, fed: list) -> tuple:
        values = [leaf.var for leaf in leaves if isinstance(leaf, Symbol)]
        ops = [leaf.var for leaf in leaves if isinstance(leaf, Operation)]
        return self.cluster.plan(values, ops, sorted(fed, key=lambda v: v.id))

    def _run_on_cluster(self, leaves: list, feeds: dict) -> list:
        fed = sorted(feeds, key=lambda v: v.id)
        plan_id, step = self._cluster_plan(leaves, fed)
        values = iter(self.cluster.run(plan_id, step, [feeds[v] for v in fed]))
        out = [None if isinstance(leaf, Operation) else next(values) for leaf in leaves]
        return [v[()] if isinstance(v, np.ndarray) and v.ndim == 0 else v for v in out]

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """Block until the background compiles of the requests run so far have
        finished (True), or `timeout` seconds passed (False). Untiered: True."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        for plan in list(self._plans.values()):
            if isinstance(plan.runner, TieredRunner):
                left = None if deadline is None else max(0.0, deadline - time.perf_counter())
                if not plan.runner.wait(left) and plan.runner.tiers:
                    return False
        return True

    # ---- state -----------------------------------------------------------------
    def init_state(self, program: Graph) -> None:
        """Give every variable the program reads a value (or raise)."""
        for v, info in program.variables.items():
            if v not in self.state and v in variables_read(program):
                if not self.auto_init:
                    where = format_site(v.site)
                    raise UninitializedVariableError(
                        f"variable '{v.label}'" + (f" (created at {where})" if where else "")
                        + " is used before initialisation: run "
                        "sg.global_variables_initializer() first")
                self.state[v] = np.array(info.initial, copy=True)

    def _variable(self, var) -> Var:
        if not isinstance(var, Symbol) or var.var not in self.graph.variables:
            raise GraphError(f"{var!r} is not a variable of this session's graph")
        return var.var

    def get(self, var) -> np.ndarray:
        """A copy of a variable's current value."""
        v = self._variable(var)
        with self.lock:
            self.check_open("get()")
            if self.cluster is not None:
                return self.cluster.get(v)
            if v not in self.state:
                self.init_state(_single(v, self.graph))
            return np.array(self.state[v], copy=True)

    def set(self, var, value) -> None:
        """Overwrite a variable's value (TF1's `var.load(value, sess)`)."""
        v = self._variable(var)
        value = np.array(convert_feed(v, value, "variable"), copy=True)
        with self.lock:
            self.check_open("set()")
            if self.cluster is not None:
                self.cluster.set(v, value)
                return
            self.state[v] = value


def _single(v: Var, graph: Graph) -> Graph:
    g = Graph()
    g.variables = {v: graph.variables[v]}
    g.outputs = [v]
    return g


_READS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def variables_read(program: Graph) -> set:
    """The program's variables whose value it reads (not only overwrites)."""
    reads = _READS.get(program)
    if reads is None:
        used = {v for e in program.eqns for v in e.in_vars}
        used.update(program.outputs)
        used.update(value for _, value in program.updates)
        reads = _READS[program] = {v for v in program.variables if v in used}
    return reads


def finish_outputs(values: list, program: Graph, state: dict, inputs=()) -> list:
    """Fetched arrays the caller may keep and modify: copies where they alias
    state, constants, the fed `inputs` or an earlier fetch (`run([y, y])`
    gives two arrays); 0-d results as NumPy scalars (as TF returns them)."""
    owned = [state[v] for v in program.variables if isinstance(state.get(v), np.ndarray)]
    owned += list(program.constants.values())
    owned += [a for a in inputs if isinstance(a, np.ndarray)]
    out = []
    for value in values:
        if isinstance(value, np.ndarray):
            if any(np.may_share_memory(value, a) for a in owned):
                value = value.copy()
            owned.append(value)
            if value.ndim == 0:
                value = value[()]
        out.append(value)
    return out


def explain_runner(runner, brief: bool = False) -> str:
    """`runner.explain()`, brief where the backend offers a brief mode."""
    if brief and "brief" in inspect.signature(runner.explain).parameters:
        return runner.explain(brief=True)
    return runner.explain()
