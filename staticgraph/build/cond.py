"""`sg.cond`: a branch chosen at run time, as one equation holding two subgraphs.

Each branch function is traced once into its own `Graph` (parent: the graph
being built). Symbols it uses from enclosing graphs are captured: they
become the cond's operands and the branch graphs' inputs (closure
conversion, as in JAX). The equation is

    outs = cond(pred, *operands; true_graph=..., false_graph=...)

The gradient is another cond whose branches are the gradients of the two
branch graphs (each recomputes its forward values: no residuals are saved).
"""

from __future__ import annotations

import numpy as np

from shared_ops import AbstractArray, DTypeError, Effect, Primitive, ShapeError, format_site
from shared_ops import api as A
from shared_ops.shapes import aval_of

from ..errors import GraphError
from ..gradients import GRAD_RULES, gradients
from ..graph.context import graph_scope
from ..graph.ir import Graph, Var
from ..graph.structure import flatten, same_structure, unflatten
from ..runtime.interpreter import eval_graph
from .symbol import Symbol, bind_symbolic, current_site, replay_graph, target_graph, to_atom


def _compatible(a: AbstractArray, b: AbstractArray) -> bool:
    return a.dtype == b.dtype and len(a.shape) == len(b.shape) and all(
        x is None or y is None or x == y for x, y in zip(a.shape, b.shape))


def join_avals(op: str, a: AbstractArray, b: AbstractArray) -> AbstractArray:
    """The aval both branches' results fit (a dim two branches disagree on is an error)."""
    if a.dtype != b.dtype:
        raise DTypeError(f"{op}: branches return dtypes {a.dtype} and {b.dtype}")
    if not _compatible(AbstractArray(a.shape, a.dtype), AbstractArray(b.shape, a.dtype)):
        raise ShapeError(f"{op}: branches return shapes {a.shape} and {b.shape}")
    return AbstractArray(tuple(x if x == y else None for x, y in zip(a.shape, b.shape)), a.dtype)


def _cond_abstract_eval(pred, *operands, true_graph: Graph, false_graph: Graph):
    shape = getattr(pred, "shape", ())
    if any(d != 1 for d in shape):
        raise ShapeError(f"cond: the predicate must be a scalar, got shape {tuple(shape)}")
    for g in (true_graph, false_graph):
        if len(g.inputs) != len(operands):
            raise ShapeError(f"cond: a branch takes {len(g.inputs)} operands, got "
                             f"{len(operands)}")
        for v, x in zip(g.inputs, operands):
            if not _compatible(v.aval, aval_of(x)):
                raise ShapeError(f"cond: operand {aval_of(x)} does not fit branch input {v!r}")
    if len(true_graph.outputs) != len(false_graph.outputs):
        raise ShapeError(f"cond: branches return {len(true_graph.outputs)} and "
                         f"{len(false_graph.outputs)} values")
    return [join_avals("cond", t.aval, f.aval)
            for t, f in zip(true_graph.outputs, false_graph.outputs)]


def _cond_eval_with(run, pred, *operands, true_graph: Graph, false_graph: Graph):
    """Interpreter: run the taken branch with `run(graph, args) -> outputs`."""
    branch = true_graph if bool(np.asarray(pred).reshape(())) else false_graph
    return tuple(run(branch, operands))


def _cond_impl(pred, *operands, true_graph, false_graph):
    return _cond_eval_with(lambda g, args: eval_graph(g, dict(zip(g.inputs, args))),
                           pred, *operands, true_graph=true_graph, false_graph=false_graph)


cond_p = Primitive(
    name="cond", impl=_cond_impl, abstract_eval=_cond_abstract_eval,
    multiple_results=True, control=True, eval_with=_cond_eval_with,
    doc="outs = (true_graph if pred else false_graph)(*operands)")


def _trace(fn, parent: Graph, label: str):
    """Run a branch function with a fresh subgraph as the default graph."""
    graph = Graph(label, parent=parent)
    with graph_scope(graph):
        result = fn()
    leaves, tree = flatten(result)
    return graph, leaves, tree


def _close(graph: Graph, leaves: list, other: list) -> None:
    """Set `graph.outputs` from branch results (constants take the other side's dtype)."""
    with graph_scope(graph):
        for leaf, peer in zip(leaves, other):
            if not isinstance(leaf, Symbol):
                dtype = peer.dtype if isinstance(peer, Symbol) else None
                arr = np.asarray(leaf, dtype=dtype)
                if dtype is None and arr.dtype == np.float64 and not isinstance(
                        leaf, np.ndarray):
                    arr = arr.astype(np.float32)
                leaf = Symbol(graph, to_atom(graph, arr))
            graph.outputs.append(to_atom(graph, leaf))


def _align(graph: Graph, operands: list[Var]) -> None:
    """Make the branch's inputs exactly `operands`' images, in order."""
    inner = {id(outer): v for outer, v in graph.captures}
    graph.inputs = [inner.get(id(v)) or graph.new_var(v.aval, v.name, v.site)
                    for v in operands]
    graph.captures = []
    if any(e.prim.effect is Effect.STATE for e in graph.eqns):
        raise GraphError("cond: assign/group inside a branch is not supported; assign the "
                         "cond's result outside it")


def cond(pred, true_fn, false_fn, name: str | None = None):
    """`true_fn()` if pred else `false_fn()`, decided when the graph runs.

    Both functions take no arguments and return the same structure of
    symbols (or constants) with matching dtypes and shapes. A Python or
    NumPy bool picks the branch now (only that branch is built).
    """
    if not isinstance(pred, Symbol):
        return true_fn() if bool(pred) else false_fn()
    outer = target_graph(cond_p, (pred,))
    site = current_site()
    t_graph, t_leaves, t_tree = _trace(true_fn, outer, "true")
    f_graph, f_leaves, f_tree = _trace(false_fn, outer, "false")
    if not same_structure(t_tree, f_tree):
        where = format_site(site)
        raise GraphError("cond: the branches return different structures "
                         f"({unflatten(t_tree, ['*'] * len(t_leaves))} vs "
                         f"{unflatten(f_tree, ['*'] * len(f_leaves))})"
                         + (f" (at {where})" if where else ""))
    _close(t_graph, t_leaves, f_leaves)
    _close(f_graph, f_leaves, t_leaves)
    operands: list[Var] = []
    for g in (t_graph, f_graph):
        for outer_var, _ in g.captures:
            if all(outer_var is not v for v in operands):
                operands.append(outer_var)
    _align(t_graph, operands)
    _align(f_graph, operands)
    args = [pred] + [Symbol(outer, v) for v in operands]
    outs = bind_symbolic(cond_p, args, {"true_graph": t_graph, "false_graph": f_graph})
    return unflatten(t_tree, list(outs))


def _grad_branch(branch: Graph, needs: list[bool], ct_index: list[int]) -> Graph:
    """A graph (operands..., cotangents...) -> cotangent of each needed operand."""
    g = Graph(f"{branch.name}_grad")
    with graph_scope(g):
        ins = [Symbol(g, g.add_input(v.aval, v.name, v.site)) for v in branch.inputs]
        cts = [Symbol(g, g.add_input(branch.outputs[i].aval, "ct")) for i in ct_index]
        outs = replay_graph(branch, ins)
        xs = [x for x, need in zip(ins, needs) if need]
        grads = gradients([outs[i] for i in ct_index], xs, cts) if xs else []
        for x, gx in zip(xs, grads):
            if gx is None:
                gx = _zeros(g, x)
            g.outputs.append(gx.var)
    return g


def _zeros(graph: Graph, x: Symbol) -> Symbol:
    if None in x.shape:
        return A.zeros_like(x)
    return Symbol(graph, graph.add_constant(np.zeros(x.shape, x.dtype)))


def _cond_grad(graph: Graph, eqn, cts: list, needs: tuple) -> list:
    pred, *operands = eqn.inputs
    op_needs = list(needs[1:])
    ct_index = [i for i, c in enumerate(cts) if c is not None]
    params = {"true_graph": _grad_branch(eqn.params["true_graph"], op_needs, ct_index),
              "false_graph": _grad_branch(eqn.params["false_graph"], op_needs, ct_index)}
    args = [Symbol(graph, pred) if isinstance(pred, Var) else pred]
    args += [Symbol(graph, v) for v in operands] + [cts[i] for i in ct_index]
    grads = iter(bind_symbolic(cond_p, args, params))
    return [None] + [next(grads) if need else None for need in op_needs]


GRAD_RULES[cond_p] = _cond_grad

