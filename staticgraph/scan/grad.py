"""The gradient of `scan`: a reverse scan over the body's own gradient (BPTT).

For a forward scan `(consts, init, xs) -> (final carry, ys)` with body
`f(c, carry, x_t) -> (carry', y_t)`, the backward pass is one more scan,
running the other way, whose body is built here from `f` with the ordinary
symbolic `gradients` (so the shared VJP rules do all the work):

    consts: c                        (the forward consts it reads)
    carry:  ct_carry, acc_c          (cotangent of the carry; gradient sums of c)
    xs:     carry_t, x_t, ct_y_t     (per-step saved carries, inputs, cotangents)
    body:   replay f(c, carry_t, x_t); vjp with seeds (ct_carry, ct_y_t) gives
            (g_c, g_carry, g_x); return (g_carry, acc_c + g_c; g_x)
    result: ct of init = final ct_carry; of c = final acc_c; of xs = stacked g_x

The body recomputes the step's intermediates from the saved carry: the only
thing kept per step is the carry entering it. Inputs the pruned backward
body does not read are dropped, so a carry its VJP never looks at (a linear
accumulator, say) is not saved at all. For `sg.scan` (whose ys are its
carries) the per-step carries are the forward outputs delayed by one step,
so nothing extra is stored or recomputed; for a general scan (the backward
scan itself, when differentiating twice) a copy of the forward scan that
also emits the carries recomputes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shared_ops import AbstractArray
from shared_ops import api as A

from ..build.symbol import Symbol, bind_symbolic, replay_graph
from ..gradients import GRAD_RULES, gradients
from ..graph.context import graph_scope
from ..graph.ir import Eqn, Graph, Var
from .op import prune_graph, scan_p, split_operands


def _is_float(aval: AbstractArray) -> bool:
    return np.dtype(aval.dtype).kind == "f"


def zeros_for(graph: Graph, like: Symbol) -> Symbol:
    """Zeros shaped like `like` (a constant when the shape is static)."""
    if None in like.shape:
        return A.zeros_like(like)
    return Symbol(graph, graph.add_constant(np.zeros(like.shape, like.dtype)))


@dataclass
class BackwardBody:
    """The backward scan's body and which forward pieces each input slot takes.

    Index lists refer to the forward eqn: `consts`/`acc` to its consts,
    `ct_carry`/`saved` to its carries, `xs`/`gx` to its xs, `cty` to its ys.
    `extra` holds outer Vars the body captured (normally none).
    """

    graph: Graph
    consts: list[int]
    ct_carry: list[int]
    acc: list[int]
    saved: list[int]
    xs: list[int]
    cty: list[int]
    gx: list[int]
    extra: list[Var] = field(default_factory=list)


def _inputs(g: Graph, avals: list[AbstractArray], name: str) -> list[Symbol]:
    return [Symbol(g, g.add_input(a, name)) for a in avals]


def build_backward_body(body: Graph, num_consts: int, num_carry: int, parent: Graph,
                        want_c: list[int], want_x: list[int], cty: list[int]) -> BackwardBody:
    """The step function of the backward scan (see the module doc), pruned."""
    C, K = num_consts, num_carry
    float_k = [k for k in range(K) if _is_float(body.inputs[C + k].aval)]
    g = Graph(f"{body.name}_grad", parent=parent)
    with graph_scope(g):
        c_in = [Symbol(g, g.add_input(v.aval, v.name)) for v in body.inputs[:C]]
        ct_in = _inputs(g, [body.inputs[C + k].aval for k in float_k], "ct_carry")
        saved = _inputs(g, [v.aval for v in body.inputs[C:C + K]], "carry")
        x_in = _inputs(g, [v.aval for v in body.inputs[C + K:]], "x")
        cty_in = _inputs(g, [body.outputs[K + j].aval for j in cty], "ct_y")
        outs = replay_graph(body, c_in + saved + x_in)
        targets = [outs[k] for k in float_k] + [outs[K + j] for j in cty]
        wrt = [c_in[i] for i in want_c] + [saved[k] for k in float_k] + \
            [x_in[i] for i in want_x]
        grads = gradients(targets, wrt, ct_in + cty_in) if targets and wrt else \
            [None] * len(wrt)
        gc, gk = grads[:len(want_c)], grads[len(want_c):len(want_c) + len(float_k)]
        gx = grads[len(want_c) + len(float_k):]
        acc = [(i, gi) for i, gi in zip(want_c, gc) if gi is not None]
        acc_in = _inputs(g, [body.inputs[i].aval for i, _ in acc], "acc")
        new_acc = [A.add(a, gi) for a, (_, gi) in zip(acc_in, acc)]
        new_ct = [gi if gi is not None else zeros_for(g, saved[k]) for k, gi in zip(float_k, gk)]
        kept_gx = [(i, gi) for i, gi in zip(want_x, gx) if gi is not None]
    g.outputs = [s.var for s in new_ct + new_acc] + [gi.var for _, gi in kept_gx]
    extra_in = [inner for _, inner in g.captures]
    g.inputs = extra_in + [s.var for s in c_in + ct_in + acc_in + saved + x_in + cty_in]
    bw = BackwardBody(g, list(range(C)), float_k, [i for i, _ in acc], list(range(K)),
                      list(range(len(x_in))), list(cty), [i for i, _ in kept_gx],
                      [outer for outer, _ in g.captures])
    g.captures = []
    return _drop_unread(bw, [s.var for s in c_in], [s.var for s in saved],
                        [s.var for s in x_in], [s.var for s in cty_in], len(extra_in),
                        [s.var for s in ct_in + acc_in])


def _drop_unread(bw: BackwardBody, c_in, saved, x_in, cty_in, n_extra: int,
                 carries) -> BackwardBody:
    """Prune the body; drop the const and per-step inputs it does not read.

    One sequence input always stays (it gives the scan its length).
    """
    g, live = prune_graph(bw.graph)
    bw.consts = [i for i, v in zip(bw.consts, c_in) if v in live]
    bw.saved = [k for k, v in zip(bw.saved, saved) if v in live]
    xs = [i for i, v in zip(bw.xs, x_in) if v in live]
    bw.cty = [j for j, v in zip(bw.cty, cty_in) if v in live]
    if not (bw.saved or xs or bw.cty):
        xs = bw.xs[:1]
    bw.xs = xs
    g.inputs = g.inputs[:n_extra] + [c_in[i] for i in bw.consts] + list(carries) + \
        [saved[k] for k in bw.saved] + [x_in[i] for i in bw.xs] + \
        [v for v in cty_in if v in live]
    bw.graph = g
    return bw


def delay(graph: Graph, ys: Symbol, init, reverse: bool) -> Symbol:
    """The carry entering each step, from the stacked carries leaving them.

    Forward: `[init, ys[0], ..., ys[T-2]]`; reverse: `[ys[1], ..., ys[T-1], init]`.
    It is itself a tiny scan (body: `(prev, y) -> (y; prev)`), so any
    run-time T, 0 included, works and the result is differentiable again.
    """
    body = Graph("delay", parent=graph)
    prev = body.add_input(init.var.aval if isinstance(init, Symbol) else
                          AbstractArray(ys.shape[1:], ys.dtype), "prev")
    y = body.add_input(AbstractArray(ys.shape[1:], ys.dtype), "y")
    body.outputs = [y, prev]
    params = {"body": body, "num_consts": 0, "num_carry": 1, "num_xs": 1, "reverse": reverse}
    return bind_symbolic(scan_p, [init, ys], params)[1]


def _residual_carries(graph: Graph, eqn: Eqn, ks: list[int]) -> list[Symbol]:
    """Recompute the forward scan, also stacking the carries `ks` entering each step."""
    body, C = eqn.params["body"], eqn.params["num_consts"]
    res = body.copy()
    res.outputs = list(body.outputs) + [body.inputs[C + k] for k in ks]
    args = [Symbol(graph, v) if isinstance(v, Var) else v for v in eqn.inputs]
    outs = bind_symbolic(scan_p, args, {**eqn.params, "body": res})
    return list(outs[len(outs) - len(ks):])


def saved_carries(graph: Graph, eqn: Eqn, ks: list[int]) -> list[Symbol]:
    """Per-step values of the carries `ks` entering each step, stacked (T, ...)."""
    body, C, K = eqn.params["body"], eqn.params["num_consts"], eqn.params["num_carry"]
    init = split_operands(eqn.inputs, C, K)[1]
    found, missing = {}, []
    for k in ks:
        j = next((j for j, y in enumerate(body.outputs[K:]) if y is body.outputs[k]), None)
        if j is None:
            missing.append(k)
            continue
        start = init[k] if not isinstance(init[k], Var) else Symbol(graph, init[k])
        found[k] = delay(graph, Symbol(graph, eqn.outputs[K + j]), start, eqn.params["reverse"])
    if missing:
        found.update(zip(missing, _residual_carries(graph, eqn, missing)))
    return [found[k] for k in ks]


def scan_grad(graph: Graph, eqn: Eqn, cts: list, needs: tuple) -> list:
    """GRAD_RULES entry: cotangents of a scan's operands via a reverse scan."""
    p = eqn.params
    C, K, body = p["num_consts"], p["num_carry"], p["body"]
    consts, init, xs = split_operands(eqn.inputs, C, K)
    sym = lambda v: Symbol(graph, v) if isinstance(v, Var) else v  # noqa: E731
    want_c = [i for i in range(C) if needs[i]]
    want_x = [i for i in range(len(xs)) if needs[C + K + i]]
    ct_final, ct_ys = cts[:K], cts[K:]
    cty = [j for j, c in enumerate(ct_ys) if c is not None and
           _is_float(body.outputs[K + j].aval)]
    bw = build_backward_body(body, C, K, graph, want_c, want_x, cty)
    args = [sym(v) for v in bw.extra] + [sym(consts[i]) for i in bw.consts]
    args += [ct_final[k] if ct_final[k] is not None else zeros_for(graph, sym(init[k]))
             for k in bw.ct_carry]
    args += [zeros_for(graph, sym(consts[i])) for i in bw.acc]
    args += saved_carries(graph, eqn, bw.saved)
    args += [sym(xs[i]) for i in bw.xs] + [ct_ys[j] for j in bw.cty]
    params = {"body": bw.graph, "num_consts": len(bw.extra) + len(bw.consts),
              "num_carry": len(bw.ct_carry) + len(bw.acc),
              "num_xs": len(bw.saved) + len(bw.xs) + len(bw.cty), "reverse": not p["reverse"]}
    outs = list(bind_symbolic(scan_p, args, params))
    result: list = [None] * len(eqn.inputs)
    n_ct, n_acc = len(bw.ct_carry), len(bw.acc)
    for k, ct in zip(bw.ct_carry, outs[:n_ct]):
        result[C + k] = ct if needs[C + k] else None
    for i, ct in zip(bw.acc, outs[n_ct:n_ct + n_acc]):
        result[i] = ct
    for i, ct in zip(bw.gx, outs[n_ct + n_acc:]):
        result[C + K + i] = ct
    return result


GRAD_RULES[scan_p] = scan_grad
