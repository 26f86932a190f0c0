"""Pass: turn a scan's gradient accumulators into one batched op after the loop.

The backward scan of a gradient carries running sums of the consts'
gradients: `acc' = acc + x_t.T @ dz_t` (dWx), `acc' = acc + h_t.T @ dz_t`
(dWh), `acc' = acc + sum(dz_t, axis=0)` (db). None of them feeds the
recurrence, so each can leave the loop: the loop emits the per-step factors
as stacked outputs (or reuses sequences it already has: `x`, the saved
carries) and after it

    acc_T = acc_0 + reshape(X, (-1, D)).T @ reshape(DZ, (-1, H))   one GEMM
    acc_T = acc_0 + sum(DZ, axis=(0, 1))                           one reduction

Per step this saves a small matmul (or reduction) and an add; the one big
GEMM runs at BLAS speed. A carry qualifies when its only use in the body is
`add(acc, term)` (either order), that add is the carry's new value and
nothing else, `term` has the carry's aval and no other user, and `term` is
`matmul(transpose(a), b)` of rank-2 per-step values or `sum(v, axes)` of a
per-step value (not loop-invariant ones).
"""

from __future__ import annotations

from shared_ops import REGISTRY

from ...graph.ir import Eqn, Graph, Var
from ...passes.common import same_aval
from ..op import prune_graph, split_operands
from .hoist import Outer, drop_unread_inputs, rewrite_scans

ADD, MATMUL, SUM = REGISTRY["add"], REGISTRY["matmul"], REGISTRY["sum"]
RESHAPE, TRANSPOSE = REGISTRY["reshape"], REGISTRY["transpose"]


def _variant(body: Graph, C: int) -> set:
    """Body values that change from step to step (depend on a carry or a slice)."""
    out = set(body.inputs[C:])
    for e in body.eqns:
        if any(x in out for x in e.in_vars):
            out.update(e.outputs)
    return out


def _term_plan(term: Var, producers: dict, variant: set):
    """('gemm', a, b) | ('sum', v, axes) | None for an accumulated term."""
    p = producers.get(term)
    if p is None:
        return None
    if p.prim is MATMUL:
        t = producers.get(p.inputs[0]) if isinstance(p.inputs[0], Var) else None
        b = p.inputs[1]
        if t is None or t.prim is not TRANSPOSE or tuple(t.params["axes"]) != (1, 0):
            return None
        a = t.inputs[0]
        if len(a.shape) == 2 and len(b.shape) == 2 and a in variant and b in variant:
            return ("gemm", a, b)
    if p.prim is SUM and not p.params.get("keepdims") and p.inputs[0] in variant:
        v = p.inputs[0]
        axes = p.params.get("axis")
        return ("sum", v, tuple(range(len(v.shape))) if axes is None else tuple(axes))
    return None


def find_accumulators(eqn: Eqn) -> dict[int, tuple]:
    """carry index -> plan, for the carries that can leave the loop."""
    p = eqn.params
    body, C, K = p["body"], p["num_consts"], p["num_carry"]
    users, producers = body.consumers(), body.producers()
    variant = _variant(body, C)
    plans = {}
    for k in range(K):
        acc_in, acc_out = body.inputs[C + k], body.outputs[k]
        uses = users.get(acc_in, [])
        if len(uses) != 1 or acc_in in body.outputs or body.outputs.count(acc_out) != 1:
            continue
        add = uses[0]
        if add.prim is not ADD or add.outputs[0] is not acc_out or users.get(acc_out):
            continue
        terms = [x for x in add.inputs if x is not acc_in]
        if len(terms) != 1 or not isinstance(terms[0], Var) or users.get(terms[0]) != [add]:
            continue
        if not (same_aval(terms[0].aval, acc_in.aval) and same_aval(acc_out.aval, acc_in.aval)):
            continue
        plan = _term_plan(terms[0], producers, variant)
        if plan is not None:
            plans[k] = plan
    return plans


def _stacked(eqn: Eqn, v: Var, new_ys: list[Var]) -> Var | int:
    """The outer stacked value of per-step `v`: a sequence operand, an existing
    output, or (an int) the index of a new output to add."""
    p = eqn.params
    body, C, K = p["body"], p["num_consts"], p["num_carry"]
    if v in body.inputs[C + K:]:
        return eqn.inputs[body.inputs.index(v)]
    ys = body.outputs[K:]
    if v in ys:
        return eqn.outputs[K + ys.index(v)]
    if v not in new_ys:
        new_ys.append(v)
    return new_ys.index(v)


def _after(outer: Outer, plan: tuple, stacked: list[Var], init: Var, final: Var, site) -> None:
    """The eqns computing the final accumulator from the stacked factors."""
    if plan[0] == "gemm":
        (_, a, b), (sa, sb) = plan, stacked
        if a.shape[-1] is not None and b.shape[-1] is not None:
            sa = outer.emit(RESHAPE, [sa], {"shape": (-1, a.shape[-1])}, site)
            sb = outer.emit(RESHAPE, [sb], {"shape": (-1, b.shape[-1])}, site)
            sa = outer.emit(TRANSPOSE, [sa], {"axes": (1, 0)}, site)
            total = outer.emit(MATMUL, [sa, sb], {}, site)
        else:
            sa = outer.emit(TRANSPOSE, [sa], {"axes": (0, 2, 1)}, site)
            prod = outer.emit(MATMUL, [sa, sb], {}, site)
            total = outer.emit(SUM, [prod], {"axis": (0,), "keepdims": False}, site)
    else:
        axes = (0,) + tuple(ax + 1 for ax in plan[2])
        total = outer.emit(SUM, [stacked[0]], {"axis": axes, "keepdims": False},
                           site)
    outer.eqns.append(Eqn(ADD, (init, total), {}, (final,), site))


def sink_one(eqn: Eqn, outer_graph: Graph) -> tuple[Eqn, list[Eqn]]:
    """(the scan without its sinkable accumulators, the eqns to put after it)."""
    plans = find_accumulators(eqn)
    if not plans:
        return eqn, []
    p = eqn.params
    body, C, K = p["body"], p["num_consts"], p["num_carry"]
    consts, init, xs = split_operands(eqn.inputs, C, K)
    new_ys: list[Var] = []
    factors = {k: [_stacked(eqn, v, new_ys) for v in plan[1:2 if plan[0] == "sum" else 3]]
               for k, plan in plans.items()}
    length = xs[0].shape[0]
    out_ys = [Var(type(v.aval)((length,) + tuple(v.shape), v.dtype), site=eqn.site)
              for v in new_ys]
    keep = [k for k in range(K) if k not in plans]
    new_body = body.copy()
    new_body.inputs = body.inputs[:C] + [body.inputs[C + k] for k in keep] + body.inputs[C + K:]
    new_body.outputs = [body.outputs[k] for k in keep] + body.outputs[K:] + new_ys
    new_body, _ = prune_graph(new_body)
    outputs = tuple(eqn.outputs[k] for k in keep) + tuple(eqn.outputs[K:]) + tuple(out_ys)
    new_eqn = drop_unread_inputs(eqn.replace(
        inputs=tuple(consts + [init[k] for k in keep] + xs), outputs=outputs,
        params={**p, "body": new_body, "num_carry": len(keep)}))
    outer = Outer(outer_graph)
    for k, plan in plans.items():
        stacked = [out_ys[f] if isinstance(f, int) else f for f in factors[k]]
        _after(outer, plan, stacked, init[k], eqn.outputs[k], eqn.site)
    return new_eqn, outer.eqns


def sink_scan_accumulators(graph: Graph) -> Graph:
    """Pass: move qualifying accumulators of every scan after its loop (module doc)."""
    return rewrite_scans(graph, sink_scan_accumulators,
                         lambda eqn, out: ([], *sink_one(eqn, out)))
