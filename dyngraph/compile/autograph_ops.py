"""What AutoGraph-rewritten code calls: Python control flow for Python values,
static control flow for traced tensors.

`if_stmt` on a traced boolean builds `sg.cond`. `while_stmt` whose test is a
traced boolean, and `for_range` whose bounds are traced, build a loop of
`Trace.loop_bound` steps (`sg.fori_loop`, a scan) whose body runs the user's
body under `sg.cond` while the loop is still going; the loop's "needed more
steps" flag is an extra output of the compiled graph, and a call that sets
it traces again with twice the bound (so a result is never cut short).
"""

from __future__ import annotations

import numpy as np

from shared_ops import api as A
from staticgraph.build.cond import cond
from staticgraph.build.symbol import Symbol
from staticgraph.graph.context import get_default_graph
from staticgraph.scan import fori_loop

from ..grad_mode import GRAD_MODE
from ..tensor import Tensor
from .errors import TraceError
from .tracer import TracedTensor, active_trace, new_traced, refuse


class _Undefined:
    def __repr__(self) -> str:
        return "<undefined>"


UNDEFINED = _Undefined()


def load(scope: dict, names: tuple) -> tuple:
    """The current values of a statement's state names (UNDEFINED if unset)."""
    return tuple(scope.get(n, UNDEFINED) for n in names)


def _traced(value) -> bool:
    return isinstance(value, TracedTensor)


def _symbol(value, what: str):
    """A state value as a graph operand (a traced or captured tensor, or a number)."""
    trace = active_trace()
    if isinstance(value, TracedTensor):
        return value._sym
    if isinstance(value, Tensor):
        return trace.capture(value)
    if isinstance(value, (bool, int, float, np.ndarray, np.generic)):
        return value
    raise refuse(f"{what} with a value of type {type(value).__name__}",
                 "keep only tensors and numbers in the names it assigns")


def _wrap(values: list, grad: bool) -> list:
    return [new_traced(v, grad and v.dtype.kind == "f") if isinstance(v, Symbol) else v
            for v in values]


def if_stmt(test, true_fn, false_fn, state: tuple, names: tuple, both: tuple):
    """`if test:` -- sg.cond when `test` is a traced tensor. The branches' results
    for the names defined before the `if` or assigned in both branches are the
    cond's outputs; a name set in one branch only stays unset after it."""
    if not _traced(test):
        return true_fn(*state) if test else false_fn(*state)
    kept = [i for i, v in enumerate(state) if v is not UNDEFINED or names[i] in both]
    grads = []

    def branch(fn):
        def run():
            out = fn(*state)
            grads.extend(v._requires_grad for v in out if isinstance(v, Tensor))
            symbols = []
            for i in kept:
                if out[i] is UNDEFINED:
                    raise TraceError(f"autograph: '{names[i]}' has no value after one "
                                     "branch of an `if` on a tensor; give it a value in "
                                     "both branches")
                symbols.append(_symbol(out[i], "an `if` on a tensor"))
            return symbols
        return run
    results = cond(test._sym, branch(true_fn), branch(false_fn))
    values = iter(_wrap(list(results), GRAD_MODE.enabled and any(grads)))
    return tuple(next(values) if i in kept else UNDEFINED for i in range(len(state)))


def for_range(bounds: tuple, body, state: tuple, names: tuple):
    """`for i in range(*bounds):` -- a bounded static loop when a bound is traced."""
    if not any(_traced(b) for b in bounds):
        for i in range(*bounds):
            state = body(i, *state)
        return state
    if len(bounds) == 3 and not (isinstance(bounds[2], int) and bounds[2] > 0):
        raise TraceError("autograph: a `for` over range() with a traced bound needs a "
                         "positive Python int step")
    start, stop = (0, bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
    step = bounds[2] if len(bounds) == 3 else 1
    counter = A.cast(_as_graph_value(start), np.int64)
    if not isinstance(counter, Symbol):
        counter = A.cast(active_trace().constant(counter), np.int64)

    def test(i, *values):
        return i < stop

    def step_body(i, *values):
        return (i + step,) + tuple(body(i, *values))
    final = _loop(test, step_body, (new_traced(counter, False),) + tuple(state),
                  ("loop counter",) + tuple(names))
    return final[1:]


def while_stmt(test, body, state: tuple, names: tuple):
    """`while test:` -- a bounded static loop once the test is a traced tensor."""
    while True:
        go = test(*state)
        if _traced(go):
            return _loop(test, body, state, names)
        if not go:
            return state
        state = body(*state)


def _as_graph_value(value):
    return value._sym if isinstance(value, TracedTensor) else value


def _loop(test, body, state: tuple, names: tuple):
    """The bounded loop: `trace.loop_bound` steps, each running `body` under a
    cond while every test so far held; reports overflow to the trace."""
    trace = active_trace()
    if trace.graph is not get_default_graph():
        raise TraceError("autograph: a loop on a traced condition inside a traced `if` or "
                         "loop is not supported; move it out or make its count a Python int")
    for n, v in zip(names, state):
        if v is UNDEFINED:
            raise TraceError(f"autograph: '{n}' is assigned in a loop on a tensor but has "
                             "no value before it; give it one before the loop")
    grad = GRAD_MODE.enabled  # carried floats may depend on weights the body reads
    init = [_symbol(v, "a loop on a tensor") for v in state]

    def wrap(symbols):
        return [new_traced(s, grad and s.dtype.kind == "f") for s in symbols]

    def step(i, carry):
        active, values = carry[0], list(carry[1:])
        go = A.logical_and(active, _as_graph_value(test(*wrap(values))))

        def run():
            return [_symbol(v, "a loop on a tensor") for v in body(*wrap(values))]
        new = cond(go, run, lambda: values)
        return [go] + [A.cast(n, v.dtype) if isinstance(v, Symbol) and n.dtype != v.dtype
                       else n for n, v in zip(new, values)]
    carry = [True] + init
    final = fori_loop(0, trace.loop_bound, step, carry)
    still = A.logical_and(final[0], _as_graph_value(test(*wrap(final[1:]))))
    trace.loop_overflows.append(still)
    return tuple(wrap(final[1:]))
