"""Algebraic simplification: the exact rewrites of `simplify_rules.py`, plus inlining of
a `cond` whose predicate is a constant.

One forward sweep: each equation's inputs are resolved through the aliases
made so far, then rules rewrite it until none applies. An equation that
becomes a plain value is dropped and its output aliased; the operands it
read stay for dead-code elimination to remove when nothing else needs them.
Subgraphs are simplified first, with the same pass.
"""

from __future__ import annotations

import numpy as np

from ..build.cond import cond_p
from ..graph.ir import Eqn, Graph, Var
from .common import finish, fresh_copy, map_subgraphs, resolve, substitute
from .simplify_rules import RuleContext, apply_rules


def _constant_predicate(eqn: Eqn, constants: dict) -> bool | None:
    pred = eqn.inputs[0]
    value = constants.get(pred) if isinstance(pred, Var) else pred
    if value is None or np.size(value) != 1:
        return None
    return bool(np.asarray(value).reshape(()))


def inline_graph(graph: Graph, operands: list) -> tuple[list[Eqn], dict, list]:
    """`graph`'s equations applied to `operands` with fresh Vars.

    Returns (equations, constants to add, results): constants of `graph` are
    copied under fresh Vars, inputs are replaced by the operands.
    """
    rename: dict[Var, object] = dict(zip(graph.inputs, operands))
    constants = {}
    for v, value in graph.constants.items():
        rename[v] = fresh = fresh_copy(v)
        constants[fresh] = value
    eqns = []
    for eqn in graph.eqns:
        outs = tuple(fresh_copy(v) for v in eqn.outputs)
        rename.update(zip(eqn.outputs, outs))
        inputs = tuple(rename.get(x, x) if isinstance(x, Var) else x for x in eqn.inputs)
        eqns.append(eqn.replace(inputs=inputs, outputs=outs))
    return eqns, constants, [rename.get(v, v) for v in graph.outputs]


def simplify(graph: Graph, unsafe: bool = False) -> Graph:
    """`graph` with the algebraic identities of `simplify_rules.py` applied.

    `unsafe=True` also rewrites float `x*0` to zeros (wrong when x is Inf or
    NaN); the default keeps every rewrite exact (see `simplify_rules.py`).
    """
    out = graph.copy()
    ctx = RuleContext(constants=dict(graph.constants), unsafe=unsafe)
    alias: dict[Var, Var] = {}
    eqns: list[Eqn] = []
    for eqn in graph.eqns:
        eqn = map_subgraphs(substitute(eqn, alias), lambda g: simplify(g, unsafe))
        if eqn.prim is cond_p:
            taken = _constant_predicate(eqn, ctx.constants)
            if taken is not None:
                branch = eqn.params["true_graph" if taken else "false_graph"]
                body, constants, results = inline_graph(branch, list(eqn.inputs[1:]))
                ctx.constants.update(constants)
                for e in body:
                    _append(e, ctx, alias, eqns)
                for mine, theirs in zip(eqn.outputs, results):
                    alias[mine] = resolve(alias, theirs)
                continue
        _append(eqn, ctx, alias, eqns)
    out.eqns = eqns
    out.constants = ctx.constants
    return finish(out, alias)


def _append(eqn: Eqn, ctx: RuleContext, alias: dict, eqns: list) -> None:
    eqn = substitute(eqn, alias)
    result = apply_rules(eqn, ctx) if len(eqn.outputs) == 1 else eqn
    if isinstance(result, Var):
        alias[eqn.outputs[0]] = result
        return
    eqns.append(result)
    for v in result.outputs:
        ctx.producers[v] = result
