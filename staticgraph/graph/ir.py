"""The staticgraph IR: a flat SSA graph of Vars and equations (jaxpr-like).

- `Var`: one value, defined exactly once. `aval` is its shape/dtype
  (`shared_ops.AbstractArray`, a dim of None is known only at run time).
- `Eqn(prim, inputs, params, outputs, site)`: apply a primitive. `inputs`
  are Vars or Python scalars (literals, kept weak for NumPy 2 promotion);
  `params` may hold `Graph`s (the branches of `cond`, later a `scan` body).
- `Graph`: inputs (placeholders, or a subgraph's operands), variables
  (state slots with initial values), constants (ndarray literals), eqns in
  a topological order, and for a closed program its outputs and updates
  `(variable, new value)`, committed after every read of the run.

Vars and Eqns are treated as immutable: a pass builds a new Graph (start
from `graph.copy()`) with new Eqns (`eqn.replace(...)`), and runs
`check_graph` on the result.

Primitives staticgraph adds (cond, scan, while_loop, fused ops, assign, ...)
are plain `shared_ops.Primitive`s kept out of the shared REGISTRY, and say
what they need through the primitive's property fields:
- `multiple_results`: `abstract_eval` returns a list of avals, `impl` a tuple;
- `eval_with(run, *values, **params)`: how the interpreter runs it, where
  `run(graph, args)` evaluates a subgraph with the same options;
- `control`: its params hold sub-graphs it runs (cond, scan, while_loop);
- `effect=Effect.STATE`: assign / group, only in user graphs (`extract_program`
  turns them into `Graph.updates`; programs never contain them);
and register a gradient rule in `gradients.GRAD_RULES` if they are
differentiable without a `vjp`.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from shared_ops import AbstractArray, Primitive

from .placement import current_device
from .printing import graph_to_dot, graph_to_text

Literal = bool | int | float
_ids = itertools.count(1)


@dataclass(eq=False, slots=True)
class Var:
    """One SSA value: abstract value, optional name, the user line that made it."""

    aval: AbstractArray
    name: str | None = None
    site: tuple[str, int] | None = None
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def shape(self) -> tuple:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def label(self) -> str:
        """Printed name: the user's name, else `%id`."""
        return self.name if self.name else f"%{self.id}"

    def __repr__(self) -> str:
        return f"{self.label}:{self.aval}"


@dataclass(frozen=True, eq=False, slots=True)
class Eqn:
    """outputs = prim(*inputs, **params), built at `site` (file, line)."""

    prim: Primitive
    inputs: tuple
    params: dict
    outputs: tuple
    site: tuple[str, int] | None = None
    device: str | None = None  # from `sg.device`; None: placed by the partition pass

    def replace(self, **changes) -> Eqn:
        return dataclasses.replace(self, **changes)

    @property
    def in_vars(self) -> list[Var]:
        return [v for v in self.inputs if isinstance(v, Var)]

    def subgraphs(self) -> list[Graph]:
        """Graphs held in params (cond branches, scan bodies), in param order."""
        found = []
        for value in self.params.values():
            items = value if isinstance(value, (tuple, list)) else (value,)
            found.extend(g for g in items if isinstance(g, Graph))
        return found

    def __repr__(self) -> str:
        outs = " ".join(map(repr, self.outputs))
        return f"<Eqn {outs} = {self.prim.name}>"


@dataclass(eq=False)
class VariableInfo:
    """What a graph knows of a state variable; its live value is in a session."""

    initial: np.ndarray
    trainable: bool = True
    device: str | None = None  # from `sg.device`; None: the default device


class Graph:
    """A flat SSA graph; also the builder `with sg.Graph().as_default():` fills."""

    def __init__(self, name: str | None = None, parent: Graph | None = None) -> None:
        self.name = name
        self.parent = parent
        self.inputs: list[Var] = []
        self.variables: dict[Var, VariableInfo] = {}
        self.constants: dict[Var, np.ndarray] = {}
        self.eqns: list[Eqn] = []
        self.outputs: list[Var] = []
        self.updates: list[tuple[Var, Var]] = []
        self.captures: list[tuple[Var, Var]] = []  # while tracing: (outer var, our input)
        self._names: dict[str, int] = {}

    # ---- building ----------------------------------------------------------
    def unique_name(self, base: str) -> str:
        """`base`, or `base_1`, `base_2`, ... if already taken (as TF does)."""
        count = self._names.get(base)
        self._names[base] = 0 if count is None else count + 1
        return base if count is None else self.unique_name(f"{base}_{count + 1}")

    def new_var(self, aval: AbstractArray, name: str | None = None, site=None) -> Var:
        return Var(aval, self.unique_name(name) if name else None, site)

    def add_input(self, aval: AbstractArray, name: str | None = None, site=None) -> Var:
        var = self.new_var(aval, name, site)
        self.inputs.append(var)
        return var

    def add_variable(self, initial: np.ndarray, name: str | None = None,
                     trainable: bool = True, site=None) -> Var:
        var = self.new_var(AbstractArray(initial.shape, initial.dtype), name or "Variable", site)
        self.variables[var] = VariableInfo(initial, trainable, current_device())
        return var

    def add_constant(self, value: np.ndarray, name: str | None = None, site=None) -> Var:
        var = self.new_var(AbstractArray(value.shape, value.dtype), name, site)
        self.constants[var] = value
        return var

    def add_eqn(self, prim: Primitive, inputs, params: dict, out_avals, site=None,
                names=None) -> tuple[Var, ...]:
        """Append an equation with fresh output Vars; returns them."""
        names = names or [None] * len(out_avals)
        outs = tuple(self.new_var(a, n, site) for a, n in zip(out_avals, names))
        self.eqns.append(Eqn(prim, tuple(inputs), dict(params), outs, site, current_device()))
        return outs

    # ---- queries -------------------------------------------------------------
    def defined_vars(self) -> Iterator[Var]:
        """Every Var this graph defines: inputs, variables, constants, eqn outputs."""
        yield from self.inputs
        yield from self.variables
        yield from self.constants
        for eqn in self.eqns:
            yield from eqn.outputs

    def producers(self) -> dict[Var, Eqn]:
        return {v: e for e in self.eqns for v in e.outputs}

    def consumers(self) -> dict[Var, list[Eqn]]:
        users: dict[Var, list[Eqn]] = {}
        for e in self.eqns:
            for v in e.in_vars:
                users.setdefault(v, []).append(e)
        return users

    def walk(self) -> Iterator[tuple[Graph, Eqn]]:
        """(graph, eqn) for every eqn here and in nested subgraphs, depth first."""
        for eqn in self.eqns:
            yield self, eqn
            for sub in eqn.subgraphs():
                yield from sub.walk()

    def copy(self) -> Graph:
        """Shallow copy: new containers, shared (immutable) Vars and Eqns."""
        g = Graph(self.name, self.parent)
        g.inputs, g.eqns, g.outputs = list(self.inputs), list(self.eqns), list(self.outputs)
        g.variables, g.constants = dict(self.variables), dict(self.constants)
        g.updates, g.captures = list(self.updates), list(self.captures)
        g._names = dict(self._names)
        return g

    def is_ancestor_of(self, other: Graph | None) -> bool:
        while other is not None:
            if other is self:
                return True
            other = other.parent
        return False

    # ---- views ---------------------------------------------------------------
    def to_text(self) -> str:
        return graph_to_text(self)

    def to_dot(self) -> str:
        """Graphviz DOT source (plain text; no Graphviz needed to produce it)."""
        return graph_to_dot(self)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Graph{label}: {len(self.inputs)} inputs, {len(self.variables)} variables, " \
               f"{len(self.eqns)} eqns>"

    def as_default(self):
        """Context manager making this graph the one new symbols are built in."""
        return graph_scope(self)


_scopes = threading.local()


def graph_stack() -> list[Graph]:
    """This thread's stack of graphs entered with `as_default()` (innermost last)."""
    stack = getattr(_scopes, "stack", None)
    if stack is None:
        stack = _scopes.stack = []
    return stack


@contextmanager
def graph_scope(graph: Graph):
    """Make `graph` the one new symbols are built in, for the block."""
    stack = graph_stack()
    stack.append(graph)
    try:
        yield graph
    finally:
        stack.pop()
