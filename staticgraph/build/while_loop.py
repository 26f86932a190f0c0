"""`sg.while_loop`: TF1's loop with a trip count decided when the graph runs.

    i, total = sg.while_loop(lambda i, t: i < n, lambda i, t: (i + 1, t + x[i]),
                             [0, 0.0])

Two lowerings, chosen by `maximum_iterations`:

- **None**: one `while` equation holding the traced `cond` and `body`
  graphs. The interpreter runs it as a Python loop; the numba and cuda
  backends run the same loop through their generic fallback (the subgraphs
  are lowered by the backend where it supports that). It has no gradient:
  `sg.gradients` through it raises GradientError asking for
  `maximum_iterations`.
- **an int**: a `scan` over `maximum_iterations` steps whose body is
  `sg.cond(cond(*vars), body, identity)`: once `cond` is false the state
  stops changing and `body` is not evaluated again. Being a scan of a
  cond, it is differentiable (`sg.gradients`, every backend).

Symbols the functions close over are captured as loop-invariant operands.
"""

from __future__ import annotations

import numpy as np

from shared_ops import (
    AbstractArray,
    DTypeError,
    Effect,
    GradientError,
    Primitive,
    ShapeError,
    format_site,
)
from shared_ops.shapes import aval_of

from ..errors import GraphError
from ..gradients import GRAD_RULES
from ..graph.context import graph_scope
from ..graph.ir import Graph, Var
from ..graph.structure import flatten, unflatten
from ..runtime.interpreter import eval_graph
from ..scan import fori_loop as static_fori_loop
from .cond import cond as sg_cond
from .ops import as_symbol
from .symbol import Symbol, bind_symbolic, current_site, target_graph, to_atom


def _fits(loop: AbstractArray, value: AbstractArray) -> bool:
    return loop.dtype == value.dtype and len(loop.shape) == len(value.shape) and all(
        a is None or a == b for a, b in zip(loop.shape, value.shape))


def _while_abstract_eval(*operands, cond_graph: Graph, body_graph: Graph, n_vars: int,
                         maximum_iterations):
    for v, x in zip(body_graph.inputs, operands):
        if not _fits(v.aval, aval_of(x)):
            raise ShapeError(f"while_loop: operand {aval_of(x)} does not fit the loop "
                             f"input {v!r}")
    return [v.aval for v in body_graph.inputs[:n_vars]]


def _while_eval_with(run, *operands, cond_graph: Graph, body_graph: Graph, n_vars: int,
                     maximum_iterations):
    """Reference semantics: `while cond(vars): vars = body(vars)` (at most max times)."""
    state, consts = list(operands[:n_vars]), list(operands[n_vars:])
    steps = 0
    while maximum_iterations is None or steps < maximum_iterations:
        if not bool(np.asarray(run(cond_graph, state + consts)[0]).reshape(())):
            break
        state = [np.asarray(v) for v in run(body_graph, state + consts)]
        steps += 1
    return tuple(state)


def _while_impl(*operands, **params):
    return _while_eval_with(lambda g, args: eval_graph(g, dict(zip(g.inputs, args))),
                            *operands, **params)


while_p = Primitive(
    name="while", impl=_while_impl, abstract_eval=_while_abstract_eval,
    multiple_results=True, control=True, eval_with=_while_eval_with,
    doc="vars = body(vars) while cond(vars); the final vars")


def _where(site) -> str:
    where = format_site(site)
    return f" (at {where})" if where else ""


def _while_grad(graph: Graph, eqn, cts: list, needs: tuple) -> list:
    raise GradientError("while_loop: a loop without maximum_iterations has no gradient; "
                        "pass maximum_iterations=N (a bound on the trip count) to make it "
                        "differentiable" + _where(eqn.site))


GRAD_RULES[while_p] = _while_grad


def _is_shape(x) -> bool:
    return isinstance(x, (tuple, list)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in x)


def _shape_leaves(spec) -> list:
    """The shapes of a (nested) shape_invariants structure, in loop-variable order."""
    if _is_shape(spec):
        return [tuple(None if d is None else int(d) for d in spec)]
    if isinstance(spec, (tuple, list)):
        return [shape for item in spec for shape in _shape_leaves(item)]
    raise ShapeError(f"while_loop: bad shape invariant {spec!r}")


def _loop_avals(init: list[Symbol], shape_invariants, site) -> list[AbstractArray]:
    if shape_invariants is None:
        return [s.var.aval for s in init]
    shapes = _shape_leaves(shape_invariants)
    if len(shapes) != len(init):
        raise ShapeError(f"while_loop: {len(shapes)} shape_invariants for {len(init)} loop "
                         f"variables{_where(site)}")
    avals = []
    for s, shape in zip(init, shapes):
        aval = AbstractArray(shape, s.dtype)
        if not _fits(aval, s.var.aval):
            raise ShapeError(f"while_loop: loop variable of shape {s.shape} does not fit its "
                             f"shape invariant {shape}{_where(site)}")
        avals.append(aval)
    return avals


def _call(fn, structure):
    """`fn(*structure)` for a list/tuple of loop variables, else `fn(structure)`."""
    return fn(*structure) if isinstance(structure, (list, tuple)) else fn(structure)


def _trace(fn, outer: Graph, avals: list, tree, label: str):
    graph = Graph(label, parent=outer)
    with graph_scope(graph):
        args = [Symbol(graph, graph.add_input(a, f"loop_var{i}")) for i, a in enumerate(avals)]
        result = _call(fn, unflatten(tree, args))
    return graph, result


def _set_outputs(graph: Graph, values: list) -> None:
    with graph_scope(graph):
        graph.outputs = [to_atom(graph, v if isinstance(v, Symbol) else as_symbol(v))
                         for v in values]


def _close_over(graphs: list[Graph], n_vars: int) -> list[Var]:
    """Give every graph the same captured operands after its loop inputs."""
    captured: list[Var] = []
    for g in graphs:
        for outer, _ in g.captures:
            if all(outer is not v for v in captured):
                captured.append(outer)
    for g in graphs:
        inner = {id(outer): v for outer, v in g.captures}
        g.inputs = g.inputs[:n_vars] + [inner.get(id(v)) or g.new_var(v.aval, v.name, v.site)
                                        for v in captured]
        g.captures = []
        if any(e.prim.effect is Effect.STATE for e in g.eqns):
            raise GraphError("while_loop: assign/group inside the loop is not supported; "
                             "carry the value as a loop variable")
    return captured


def _body_values(result, tree, n_vars: int, site) -> list:
    if n_vars == 1 and not isinstance(result, (tuple, list)):
        result = [result]
    leaves, out_tree = flatten(result)
    if len(leaves) != n_vars:
        raise ShapeError(f"while_loop: body returned {len(leaves)} values for {n_vars} loop "
                         f"variables{_where(site)}")
    return leaves


def _check_body(graph: Graph, avals: list, site) -> None:
    for i, (out, aval) in enumerate(zip(graph.outputs, avals)):
        value = out.aval if isinstance(out, Var) else aval_of(out)
        if value.dtype != aval.dtype:
            raise DTypeError(f"while_loop: body returns dtype {value.dtype} for loop variable "
                             f"{i} of dtype {aval.dtype}{_where(site)}")
        if not _fits(aval, value):
            raise ShapeError(f"while_loop: body returns shape {value.shape} for loop variable "
                             f"{i} of shape {aval.shape}; give shape_invariants with None for "
                             f"the dims that change{_where(site)}")


def _check_pred(graph: Graph, site) -> None:
    out = graph.outputs[0] if graph.outputs else None
    aval = out.aval if isinstance(out, Var) else aval_of(out)
    if len(graph.outputs) != 1 or aval.dtype != np.bool_ or any(d != 1 for d in aval.shape):
        raise DTypeError(f"while_loop: cond must return one boolean scalar, got {aval}"
                         f"{_where(site)}")


def _unbounded(cond, body, init: list[Symbol], tree, avals, site) -> list[Symbol]:
    outer = target_graph(while_p, tuple(init))
    c_graph, c_result = _trace(cond, outer, avals, tree, "while_cond")
    _set_outputs(c_graph, [c_result])
    _check_pred(c_graph, site)
    b_graph, b_result = _trace(body, outer, avals, tree, "while_body")
    _set_outputs(b_graph, _body_values(b_result, tree, len(init), site))
    _check_body(b_graph, avals, site)
    captured = _close_over([c_graph, b_graph], len(init))
    args = list(init) + [Symbol(outer, v) for v in captured]
    params = {"cond_graph": c_graph, "body_graph": b_graph, "n_vars": len(init),
              "maximum_iterations": None}
    return list(bind_symbolic(while_p, args, params))


def _bounded(cond, body, init: list[Symbol], tree, steps: int, site) -> list[Symbol]:
    def step(_, state):
        state = list(state)
        args = unflatten(tree, state)

        def taken():
            return _body_values(_call(body, args), tree, len(state), site)
        return sg_cond(_call(cond, args), taken, lambda: state)
    if steps == 0:
        return init
    return list(static_fori_loop(0, steps, step, list(init)))


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations: int = 10,
               back_prop: bool = True, swap_memory: bool = False,
               maximum_iterations=None, name: str | None = None,
               return_same_structure: bool = False):
    """Repeat `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` (TF1's tf.while_loop).

    `loop_vars` is a list/tuple (possibly nested) of symbols or arrays; body
    returns the same structure with the same dtypes and shapes (dims left None
    in `shape_invariants` may change). With `maximum_iterations` (a Python
    int) the loop stops after that many steps and is differentiable. A
    single loop variable comes back bare unless `return_same_structure`.
    `parallel_iterations` and `swap_memory` are accepted for TF1 code and
    have no effect.
    """
    site = current_site()
    leaves, tree = flatten(loop_vars)
    if not leaves:
        raise ValueError("while_loop: loop_vars must not be empty")
    init = [as_symbol(v) for v in leaves]
    avals = _loop_avals(init, shape_invariants, site)
    if maximum_iterations is None:
        finals = _unbounded(cond, body, init, tree, avals, site)
    else:
        if isinstance(maximum_iterations, Symbol) or int(maximum_iterations) < 0:
            raise ShapeError("while_loop: maximum_iterations must be a Python int >= 0, got "
                             f"{maximum_iterations!r}{_where(site)}")
        finals = _bounded(cond, body, init, tree, int(maximum_iterations), site)
    result = unflatten(tree, finals)
    if len(leaves) == 1 and isinstance(loop_vars, (list, tuple)) and not return_same_structure:
        return result[0]
    return result


def fori_loop(lower, upper, body_fn, init_val, name: str | None = None):
    """`val = body_fn(i, val)` for i in range(lower, upper); the final val.

    With Python int bounds: a scan over the constant steps (differentiable).
    With a bound that is a symbol (an int scalar known when the graph runs): a
    `while_loop` over (i, val), which has no gradient.
    """
    if not isinstance(lower, Symbol) and not isinstance(upper, Symbol):
        return static_fori_loop(lower, upper, body_fn, init_val, name)
    lower, upper = as_symbol(lower), as_symbol(upper)
    if lower.dtype.kind not in "iu" or upper.dtype.kind not in "iu" or lower.ndim or upper.ndim:
        raise DTypeError(f"fori_loop: bounds must be integer scalars, got {lower.var.aval} "
                         f"and {upper.var.aval}{_where(current_site())}")
    leaves, tree = flatten(init_val)
    state = [lower] + [as_symbol(v) for v in leaves]

    def body(i, *vals):
        new = body_fn(i, unflatten(tree, list(vals)))
        return [i + 1] + list(flatten(new)[0])
    finals = while_loop(lambda i, *vals: i < upper, body, state, return_same_structure=True)
    return unflatten(tree, list(finals[1:]))
