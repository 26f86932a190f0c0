"""Pass: move work that does not depend on the carries out of a scan's loop.

A body equation whose operands are all loop-invariant (consts, body
constants) runs once before the loop and its result becomes a new const. One
whose operands are per-step sequence slices (and invariants) runs once on the
whole stacked sequence, batched, and its result becomes a new sequence
operand: the RNN's input projection `x_t @ Wx` turns into one
`(T, B, D) @ (D, H)` matmul before the loop, which is what a hand-written
BPTT does (`comparisons/rnn/numpy_steps.py`). Both apply to the backward scan of a
gradient too, so the projection is hoisted out of both loops (and CSE merges
the two copies).

Batching rules, per-step op -> op on stacked values (leading axis T):
elementwise ops (operands aligned by `expand_dims`), `matmul` (an invariant
operand of rank <= 2, or both stacked with equal ranks >= 2), `transpose`,
basic `getitem`, `sum`/`mean`/`max`, `expand_dims`, `squeeze`, `reshape`.
Any other primitive is hoisted only when all its operands are invariant.
Per-step elementwise ops and views leave the loop only as part of a chain
that ends in a matmul (in the loop they fuse with the step's other work);
a batched `(T, B, k) @ (k, m)` is emitted as one 2-d GEMM. Every rewritten equation is re-checked by
its primitive's `abstract_eval`; a rule whose result does not stack the
per-step aval is not applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from shared_ops import REGISTRY, AbstractArray, Effect, Primitive, by_primitive, is_registered

from ...graph.check import compatible
from ...graph.ir import Eqn, Graph, Var
from ...passes.common import fresh_copy, is_control, map_subgraphs
from ..op import scan_p, split_operands

INV, SEQ, LOOP = "inv", "seq", "loop"
MATMUL, RESHAPE, EXPAND_DIMS = REGISTRY["matmul"], REGISTRY["reshape"], REGISTRY["expand_dims"]


class NotBatchable(Exception):
    """This equation stays in the loop."""


@dataclass
class Outer:
    """Equations being added to the enclosing graph, before the scan."""

    graph: Graph
    eqns: list[Eqn] = field(default_factory=list)

    def emit(self, prim, inputs: list, params: dict, site) -> Var:
        avals = [x.aval if isinstance(x, Var) else x for x in inputs]
        try:
            aval = prim.abstract_eval(*avals, **params)
        except Exception as exc:  # a rule that does not fit these shapes
            raise NotBatchable(str(exc)) from None
        if prim.multiple_results:
            raise NotBatchable("multiple results")
        out = Var(AbstractArray(tuple(aval.shape), aval.dtype), site=site)
        self.eqns.append(Eqn(prim, tuple(inputs), dict(params), (out,), site))
        return out

    def constant(self, value) -> Var:
        var = Var(AbstractArray(value.shape, value.dtype))
        self.graph.constants[var] = value
        return var


def _rank(x) -> int:
    return len(x.shape) if isinstance(x, Var) else 0


def _expand(outer: Outer, x: Var, axes: tuple, site) -> Var:
    return outer.emit(EXPAND_DIMS, [x], {"axis": axes}, site) if axes else x


def _elementwise(outer: Outer, eqn: Eqn, kinds: list, ins: list) -> Var:
    rank = len(eqn.outputs[0].shape)
    args = []
    for x, kind, y in zip(eqn.inputs, kinds, ins):
        if kind == SEQ:
            y = _expand(outer, y, tuple(range(1, 1 + rank - _rank(x))), eqn.site)
        elif isinstance(x, Var) and _rank(x) == rank:
            y = _expand(outer, y, (0,), eqn.site)
        args.append(y)
    return outer.emit(eqn.prim, args, eqn.params, eqn.site)


def _matmul(outer: Outer, eqn: Eqn, kinds: list, ins: list) -> Var:
    (a, b), (ka, kb) = eqn.inputs, kinds
    ok = (kb == INV and _rank(b) <= 2) or \
        (ka == INV and _rank(a) <= 2 and _rank(b) >= 2) or \
        (ka == kb == SEQ and _rank(a) == _rank(b) >= 2)
    if not ok:
        raise NotBatchable("matmul operands do not batch")
    out = eqn.outputs[0]
    if kb == INV and _rank(b) == 2 and _rank(a) >= 2 and None not in out.shape[:-1] \
            and a.shape[-1] is not None:
        return _matmul_2d(outer, eqn, ins)
    return outer.emit(eqn.prim, ins, eqn.params, eqn.site)


def _matmul_2d(outer: Outer, eqn: Eqn, ins: list) -> Var:
    """(T, ..., k) @ (k, m) as one 2-d GEMM: reshape, matmul, reshape back
    (NumPy's stacked matmul is about 1.5x slower than the one GEMM)."""
    a, out = eqn.inputs[0], eqn.outputs[0]
    flat = outer.emit(RESHAPE, [ins[0]], {"shape": (-1, a.shape[-1])}, eqn.site)
    prod = outer.emit(eqn.prim, [flat, ins[1]], eqn.params, eqn.site)
    return outer.emit(RESHAPE, [prod], {"shape": (-1,) + tuple(out.shape)}, eqn.site)


def _shift_axes(p: dict, rank: int) -> None:
    p["axes"] = (0,) + tuple(a + 1 for a in p["axes"])


def _shift_index(p: dict, rank: int) -> None:
    index = p["index"]
    if any(hasattr(i, "dtype") for i in index):
        raise NotBatchable("advanced index")
    p["index"] = (slice(None),) + tuple(index)


def _shift_reduced_axes(p: dict, rank: int) -> None:
    axes = p.get("axis")
    p["axis"] = tuple(range(1, rank + 1)) if axes is None else tuple(a + 1 for a in axes)


def _shift_axis(p: dict, rank: int) -> None:
    p["axis"] = tuple(a + 1 for a in p["axis"])


def _shift_shape(p: dict, rank: int) -> None:
    if -1 in p["shape"]:
        raise NotBatchable("reshape with -1")
    p["shape"] = (-1,) + tuple(p["shape"])


SHIFT_PARAMS: dict[Primitive, Callable[[dict, int], None]] = by_primitive({
    "transpose": _shift_axes, "getitem": _shift_index, "sum": _shift_reduced_axes,
    "mean": _shift_reduced_axes, "max": _shift_reduced_axes, "expand_dims": _shift_axis,
    "squeeze": _shift_axis, "reshape": _shift_shape,
})
"""How a shape op's params change when its operand gains a leading step axis
(given the params to edit and the operand's rank)."""


def _shifted(eqn: Eqn, ins: list) -> tuple[list, dict]:
    """Params of a shape op applied to a stacked operand (axes move by one)."""
    shift = SHIFT_PARAMS.get(eqn.prim)
    if shift is None:
        raise NotBatchable(f"no batching rule for {eqn.prim.name}")
    params = dict(eqn.params)
    shift(params, _rank(eqn.inputs[0]))
    return ins, params


def batch(outer: Outer, eqn: Eqn, kinds: list, ins: list) -> Var:
    """The stacked result of `eqn` over all steps (see the module doc)."""
    prim = eqn.prim
    if prim.elementwise and is_registered(prim):
        out = _elementwise(outer, eqn, kinds, ins)
    elif prim is MATMUL:
        out = _matmul(outer, eqn, kinds, ins)
    elif kinds[0] == SEQ and all(k != SEQ for k in kinds[1:]):
        args, params = _shifted(eqn, ins)
        out = outer.emit(prim, args, params, eqn.site)
    else:
        raise NotBatchable(f"no batching rule for {prim.name}")
    want = eqn.outputs[0].aval
    got = AbstractArray(tuple(out.shape[1:]), out.dtype)
    if out.dtype != want.dtype or not compatible(got, want):
        raise NotBatchable(f"{prim.name}: the batched result {out.aval} does not stack {want}")
    return out


def _movable(eqn: Eqn) -> bool:
    return not (is_control(eqn) or eqn.prim.effect is not Effect.NONE or eqn.prim.multiple_results
                or len(eqn.outputs) != 1)


def classify(eqn: Eqn, body: Graph, outer_graph: Graph,
             stacked_carries: dict | None = None) -> tuple[dict, dict, Outer]:
    """Kind of every body value and, for hoisted ones, their outer Var.

    Carries are LOOP, unless `stacked_carries` gives the stacked values of
    carry k entering each step (then SEQ: `passes.reuse`).
    """
    C, K = eqn.params["num_consts"], eqn.params["num_carry"]
    consts, init, xs = split_operands(eqn.inputs, C, K)
    kind: dict = {}
    outer_of: dict = {}
    outer = Outer(outer_graph)
    stacked_carries = stacked_carries or {}
    for v, o in zip(body.inputs[:C], consts):
        kind[v], outer_of[v] = INV, o
    for k, v in enumerate(body.inputs[C:C + K]):
        kind[v] = SEQ if k in stacked_carries else LOOP
        outer_of[v] = stacked_carries.get(k)
    for v, o in zip(body.inputs[C + K:], xs):
        kind[v], outer_of[v] = SEQ, o
    for v in body.constants:
        kind[v], outer_of[v] = INV, None  # made an outer constant when used
    for e in body.eqns:
        kinds = [kind[x] if isinstance(x, Var) else INV for x in e.inputs]
        out, k = e.outputs[0], LOOP
        if _movable(e) and LOOP not in kinds:
            ins = [_outer_value(outer, body, outer_of, x) for x in e.inputs]
            k = SEQ if SEQ in kinds else INV
            mark = len(outer.eqns)
            try:
                outer_of[out] = outer.emit(e.prim, ins, e.params, e.site) if k == INV \
                    else batch(outer, e, kinds, ins)
            except NotBatchable:
                del outer.eqns[mark:]
                k = LOOP
        for v in e.outputs:
            kind[v] = k
    return kind, outer_of, outer


def _outer_value(outer: Outer, body: Graph, outer_of: dict, x):
    if not isinstance(x, Var):
        return x
    if outer_of.get(x) is None and x in body.constants:
        outer_of[x] = outer.constant(body.constants[x])
    return outer_of[x]


def _keep_cheap_in_loop(body: Graph, kind: dict) -> None:
    """Per-step work stays in the loop unless it is (or feeds) a hoisted matmul.

    A batched elementwise op or view over the whole sequence costs a pass
    over memory and a stacked intermediate, where in the loop it is fused
    with the step's other elementwise work for free; a batched matmul is one
    efficient GEMM instead of T small ones. Loop-invariant work always moves.
    """
    users = body.consumers()
    for e in reversed(body.eqns):
        out = e.outputs[0]
        if kind[out] == SEQ and e.prim is not MATMUL and \
                all(kind[u.outputs[0]] != SEQ for u in users.get(out, [])):
            kind[out] = LOOP


def _needed_outer(outer: Outer, wanted: list[Var]) -> list[Eqn]:
    live, kept = set(wanted), []
    for e in reversed(outer.eqns):
        if e.outputs[0] in live:
            kept.append(e)
            live.update(e.in_vars)
    return kept[::-1]


def hoist_one(eqn: Eqn, outer_graph: Graph) -> tuple[list[Eqn], Eqn]:
    """(outer eqns to put before the scan, the rewritten scan eqn)."""
    body = eqn.params["body"]
    C, K = eqn.params["num_consts"], eqn.params["num_carry"]
    kind, outer_of, outer = classify(eqn, body, outer_graph)
    _keep_cheap_in_loop(body, kind)
    staying = [e for e in body.eqns if kind[e.outputs[0]] == LOOP]
    read = {x for e in staying for x in e.in_vars} | set(body.outputs)
    hoisted = [v for e in body.eqns for v in e.outputs
               if kind[v] != LOOP and v in read]
    if not hoisted:
        return [], eqn
    consts, init, xs = split_operands(eqn.inputs, C, K)
    new_in = {v: fresh_copy(v) for v in hoisted}  # per-step avals, as body inputs
    inv = [v for v in hoisted if kind[v] == INV]
    seq = [v for v in hoisted if kind[v] == SEQ]
    new_body = Graph(body.name, body.parent)
    rename = dict(new_in)
    new_body.eqns = [e.replace(inputs=tuple(rename.get(x, x) if isinstance(x, Var) else x
                                            for x in e.inputs)) for e in staying]
    new_body.outputs = [rename.get(v, v) for v in body.outputs]
    new_body.inputs = body.inputs[:C] + [new_in[v] for v in inv] + body.inputs[C:C + K] + \
        body.inputs[C + K:] + [new_in[v] for v in seq]
    new_body.constants = {v: c for v, c in body.constants.items() if v in read}
    operands = consts + [outer_of[v] for v in inv] + init + xs + [outer_of[v] for v in seq]
    new_eqn = drop_unread_inputs(eqn.replace(
        inputs=tuple(operands), params={**eqn.params, "body": new_body,
                                        "num_consts": C + len(inv), "num_xs": len(xs) + len(seq)}))
    return _needed_outer(outer, [outer_of[v] for v in hoisted]), new_eqn


def drop_unread_inputs(eqn: Eqn) -> Eqn:
    """The scan without const and sequence operands its body never reads
    (one sequence always stays: it gives the length)."""
    p = eqn.params
    body, C, K = p["body"], p["num_consts"], p["num_carry"]
    read = {x for e in body.eqns for x in e.in_vars} | set(body.outputs)
    n = len(body.inputs)
    keep = [i for i in range(n) if C <= i < C + K or body.inputs[i] in read]
    if not any(i >= C + K for i in keep):
        keep.append(C + K)
        keep.sort()
    if len(keep) == n:
        return eqn
    new_body = body.copy()
    new_body.inputs = [body.inputs[i] for i in keep]
    return eqn.replace(inputs=tuple(eqn.inputs[i] for i in keep), params={
        **p, "body": new_body, "num_consts": sum(i < C for i in keep),
        "num_xs": sum(i >= C + K for i in keep)})


def rewrite_scans(graph: Graph, this_pass, rewrite) -> Graph:
    """The driver of the scan passes: `this_pass` runs inside every subgraph first
    (nested scans), then `rewrite(scan_eqn, new_graph) -> (eqns before, the scan,
    eqns after)` replaces each scan at this level."""
    out = graph.copy()
    eqns: list[Eqn] = []
    for eqn in graph.eqns:
        eqn = map_subgraphs(eqn, this_pass)
        if eqn.prim is scan_p:
            before, eqn, after = rewrite(eqn, out)
            eqns += before
            eqns.append(eqn)
            eqns += after
        else:
            eqns.append(eqn)
    out.eqns = eqns
    return out


def hoist_scan_invariants(graph: Graph) -> Graph:
    """Pass: hoist loop-invariant and per-step-independent work out of every
    scan (nested bodies first), as described in the module doc."""
    return rewrite_scans(graph, hoist_scan_invariants,
                         lambda eqn, out: (*hoist_one(eqn, out), []))
