"""Shapes for the generated scan loop: source expressions and a run-time check.

The loop allocates every buffer before its first step, so each body value's
shape must be known from the loop function's arguments. The memory
planner's symbolic shapes (`passes.symbolic.infer_shapes`) name every
run-time dim (`None`) and unify those that must be equal (elementwise
operands, matmul's inner dims); a dim whose symbol comes from a body input
gets that argument's `.shape[d]` (`x0.shape[2]`: a sequence's step drops
the leading axis). A dim with no such expression (a product, a slice of a
run-time dim) makes the loop fall back.

`check_concrete` runs the body's `abstract_eval` on the concrete shapes of
one call (once per distinct set of input shapes) and rejects run-time
broadcasting (a run-time dim of 1 meeting a larger one): the compiled
kernels assume, as the compiler does, that run-time dims never broadcast,
and they do not bounds-check.
"""

from __future__ import annotations

import numpy as np

from shared_ops import AbstractArray, ShapeError

from ...graph.ir import Graph, Var
from ...passes.symbolic import infer_shapes
from ..op import scan_p, split_operands


def _apply(eqn, env: dict) -> list:
    args = [env[x] if isinstance(x, Var) else x for x in eqn.inputs]
    out = eqn.prim.abstract_eval(*args, **eqn.params)
    return list(out) if eqn.prim.multiple_results else [out]


def input_slots(body: Graph, num_consts: int, num_carry: int) -> list[tuple[str, int]]:
    """(argument name, dim offset) of each body input in the loop function.

    consts are `c<i>`, initial carries `i<k>`, sequences `x<i>` (whose body
    input is one step: dim d of it is dim d+1 of the argument).
    """
    slots = []
    for n, _ in enumerate(body.inputs):
        if n < num_consts:
            slots.append((f"c{n}", 0))
        elif n < num_consts + num_carry:
            slots.append((f"i{n - num_consts}", 0))
        else:
            slots.append((f"x{n - num_consts - num_carry}", 1))
    return slots


def shape_expressions(body: Graph, num_consts: int, num_carry: int) -> dict[Var, tuple | None]:
    """Var -> tuple of dim sources (int or 'x0.shape[2]'), or None where a dim
    of it has no expression in terms of the loop function's arguments."""
    inf = infer_shapes(body)
    sources: dict[str, str] = {}
    slots = dict(zip(body.inputs, input_slots(body, num_consts, num_carry)))
    for name, places in inf.origins.items():
        for var, axis in places:
            if var in slots:
                arg, off = slots[var]
                sources.setdefault(inf.find(name), f"{arg}.shape[{axis + off}]")
    exprs: dict[Var, tuple | None] = {}
    for var in body.defined_vars():
        dims = []
        for d in inf.shape(var):
            if not d.syms:
                dims.append(d.coef)
            elif d.coef == 1 and len(d.syms) == 1 and d.syms[0] in sources:
                dims.append(sources[d.syms[0]])
            else:
                dims = None
                break
        exprs[var] = tuple(dims) if dims is not None else None
    return exprs


def shape_source(dims: tuple, lead: str | None = None) -> str:
    """A tuple literal for np.empty: `(T, x0.shape[1], 16)`."""
    parts = ([lead] if lead else []) + [str(d) for d in dims]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


# ---- the run-time check ---------------------------------------------------------------
def _no_runtime_broadcast(eqn, env: dict, outs: list) -> None:
    """Elementwise/fused operands must match the output dim wherever their static
    aval does not say 1 (the kernels index them without a bounds check)."""
    if not (eqn.prim.elementwise or eqn.prim.fused):
        return
    loop = np.broadcast_shapes(*[tuple(o.shape) for o in outs]) if outs else ()
    for x in eqn.in_vars:
        have = env[x].shape
        for d, (static, n) in enumerate(zip(x.shape, have)):
            want = loop[len(loop) - len(have) + d] if len(have) <= len(loop) else n
            if static != 1 and n != want:
                raise ShapeError(f"{eqn.prim.name}: operand {x!r} has shape {tuple(have)} at "
                                 f"run time; broadcasting a run-time dim is not supported by "
                                 f"the compiled scan")


def check_concrete(body: Graph, in_avals: list[AbstractArray]) -> list[AbstractArray]:
    """Shape-check one step of the body on concrete input avals (recursing into
    nested scans); raises ShapeError on a mismatch the kernels cannot take.
    Returns the concrete avals of the body's outputs."""
    env: dict = dict(zip(body.inputs, in_avals))
    env.update({v: AbstractArray(c.shape, c.dtype) for v, c in body.constants.items()})
    for eqn in body.eqns:
        outs = _apply(eqn, env)
        for var, aval in zip(eqn.outputs, outs):
            static_ok = len(var.shape) == len(aval.shape) and all(
                s is None or s == n for s, n in zip(var.shape, aval.shape))
            if not static_ok or np.dtype(aval.dtype) != np.dtype(var.dtype):
                raise ShapeError(f"{eqn.prim.name} gives {aval} at run time where the graph "
                                 f"expects {var.aval}")
            env[var] = aval
        _no_runtime_broadcast(eqn, env, [env[v] for v in eqn.outputs])
        if eqn.prim is scan_p:
            p = eqn.params
            consts, carry, xs = split_operands([env[x] for x in eqn.inputs],
                                               p["num_consts"], p["num_carry"])
            slices = [AbstractArray(tuple(x.shape[1:]), x.dtype) for x in xs]
            check_concrete(p["body"], consts + carry + slices)
    return [env[v] for v in body.outputs]
