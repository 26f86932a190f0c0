"""`sg.function`: Theano/JAX style, compiled once, then called with arrays.

    f = sg.function([x, y], loss, updates=[(w, w - lr * gw)])
    loss_value = f(x_value, y_value)     # w is updated after the call

The function's variables live in a Session (its own unless `session=` is
given, which lets several functions share state).
"""

from __future__ import annotations

import time

import numpy as np

from shared_ops import user_site

from ..build.state import assign_p
from ..build.symbol import Operation, Symbol, infer_avals, to_atom
from ..errors import FeedError, GraphError
from ..graph.ir import Graph, Var
from ..graph.structure import flatten, unflatten
from .backends import get_backend, make_runner
from .program import extract_program
from .session import Session, convert_feed, explain_runner, finish_outputs
from .transaction import Transaction


def _update_pairs(graph: Graph, updates) -> list[tuple[Var, Var]]:
    """(variable, value) Var pairs from a list of pairs or a dict; checked."""
    items = list(updates.items()) if isinstance(updates, dict) else list(updates or [])
    pairs = []
    for item in items:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise GraphError(f"function: updates must be (variable, value) pairs, got {item!r}")
        var, value = item
        if not isinstance(var, Symbol) or var.var not in var.graph.variables:
            raise GraphError(f"function: update target {var!r} is not a sg.Variable")
        if var.graph is not graph:
            raise GraphError(f"function: update target {var.name} is from another graph")
        if not isinstance(value, Symbol):  # an array or number: a constant of var's dtype
            value = np.asarray(value, dtype=var.dtype)
            if value.shape != var.shape:
                try:
                    value = np.broadcast_to(value, var.shape)
                except ValueError:
                    pass  # the assign shape rule reports it, naming the user's line
        atom = to_atom(graph, value)
        infer_avals(assign_p, [var.var.aval, atom.aval], {}, user_site())
        pairs.append((var.var, atom))
    return pairs


class Function:
    """A compiled callable; see `sg.function`."""

    def __init__(self, inputs, outputs=None, updates=None, backend: str = "interpret", *,
                 session: Session | None = None, check_numerics: bool = False) -> None:
        get_backend(backend)  # an unknown backend fails first, with the list of known ones
        self.inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        leaves, self._tree = flatten(outputs if outputs is not None else [])
        self._single = not isinstance(outputs, (list, tuple, dict)) and outputs is not None
        symbols = [s for s in self.inputs + leaves if isinstance(s, (Symbol, Operation))]
        if any(not isinstance(s, Symbol) for s in self.inputs):
            raise FeedError("function: inputs must be symbols (placeholders)")
        for leaf in leaves:
            if not isinstance(leaf, (Symbol, Operation)):
                raise GraphError(f"function: outputs must be symbols or ops, got {leaf!r}")
        if session is not None and getattr(session, "cluster", None) is not None:
            raise GraphError("function: the session runs on a cluster; sg.function runs in "
                             "this process only: call session.run instead")
        graph = session.graph if session is not None else (
            symbols[0].graph if symbols else _graph_of(updates))
        for s in symbols:
            if s.graph is not graph:
                raise GraphError(f"function: {s!r} belongs to {s.graph!r}, not {graph!r}")
        if len({id(s.var) for s in self.inputs}) != len(self.inputs):
            raise FeedError("function: an input is listed twice")
        self.session = session if session is not None else Session(graph, backend)
        self.graph = graph
        start = time.perf_counter()
        self.program = extract_program(
            graph, [s.var for s in leaves if isinstance(s, Symbol)],
            [s.var for s in self.inputs], _update_pairs(graph, updates),
            [s.var for s in leaves if isinstance(s, Operation)])
        self._slots = _slots(leaves)
        extracted = time.perf_counter() - start
        self.runner = make_runner(self.program, backend, check_numerics=check_numerics)
        self.transaction = Transaction(self.runner)
        record = getattr(self.runner, "record_phase", None)  # compiled backends' explain()
        if record is not None:
            record("extract program", extracted)

    def __call__(self, *args, **kwargs):
        arrays = self._arguments(args, kwargs)
        with self.session.lock:  # calls from several threads run one at a time
            self.session.check_open("function call")
            self.session.init_state(self.program)
            outs = self.transaction.run(arrays, self.session.state)
            values = [None if slot is None else outs[slot] for slot in self._slots]
            values = finish_outputs(values, self.program, self.session.state, arrays)
        return values[0] if self._single else unflatten(self._tree, values)

    def _arguments(self, args, kwargs) -> list:
        if len(args) > len(self.inputs):
            raise FeedError(f"function takes {len(self.inputs)} inputs, got {len(args)}")
        values = list(args) + [None] * (len(self.inputs) - len(args))
        names = {s.name: i for i, s in enumerate(self.inputs)}
        for name, value in kwargs.items():
            if name not in names or values[names[name]] is not None:
                raise FeedError(f"function: unexpected or repeated input {name!r}")
            values[names[name]] = value
        missing = [s.name for s, v in zip(self.inputs, values) if v is None]
        if missing:
            raise FeedError(f"function: missing input(s) {', '.join(missing)}")
        return [convert_feed(s.var, v, "input") for s, v in zip(self.inputs, values)]

    def get(self, var):
        """A variable's current value (state is kept in `self.session`)."""
        return self.session.get(var)

    @property
    def source(self) -> str:
        """The code a call runs: the backend's generated source (numba: the
        orchestrator commented with your lines, then its kernels), else the program."""
        source = getattr(self.runner, "source", None)
        return source if isinstance(source, str) else self.program.to_text()

    def explain(self, file=None, brief: bool = False) -> str:
        """Print (and return) what a call executes (`brief=True`: one screen)."""
        text = explain_runner(self.runner, brief)
        print(text, file=file)
        return text


def _graph_of(updates) -> Graph:
    items = list(updates.items()) if isinstance(updates, dict) else list(updates or [])
    if not items or not isinstance(items[0][0], Symbol):
        raise GraphError("function: needs at least one symbol among inputs, outputs, updates")
    return items[0][0].graph


def _slots(leaves: list) -> list:
    slots, k = [], 0
    for leaf in leaves:
        slots.append(k if isinstance(leaf, Symbol) else None)
        k += isinstance(leaf, Symbol)
    return slots


def function(inputs, outputs=None, updates=None, backend: str = "interpret", *,
             session: Session | None = None, check_numerics: bool = False) -> Function:
    """Compile `inputs -> outputs` (plus `updates` to variables) once; call it
    with arrays in `inputs` order (or by placeholder name)."""
    return Function(inputs, outputs, updates, backend, session=session,
                    check_numerics=check_numerics)
