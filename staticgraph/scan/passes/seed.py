"""Pass: a cotangent that is nonzero only at a scan's first step seeds its carry instead.

A loss on the last output of a scan (`loss(hs[-1])`) makes the backward scan's
cotangent sequence `getitem_grad(g, hs, index=(-1,))`: a `(T, B, H)` array of
zeros with `g` in its last row, built per call and read by every step of the
(reverse) backward loop only to be added to the carried cotangent:

    ct_y = getitem_grad(g, hs, index=(-1,))         (T, B, H), zeros but one row
    scan reverse: g_t = ct_carry + ct_y[t]; ...     ct_carry starts at ct_0

The last row is the reverse loop's first step, so the same loop starts from
`ct_carry = ct_0 + g` and reads no sequence:

    ct_0' = ct_0 + g
    scan reverse: g_t = ct_carry; ...

(index `(0,)` for a forward scan alike; a sum of such arrays, as
`hs[-1] * hs[-1]` gives before CSE, seeds with each). It applies when the body reads the
sequence only in `add(carry, x_t)` (either order), that add is the carry's
only use, and the add, the carry, the slice and `g` have one aval (no
broadcasting). Exact up to the sign of zero (`-0.0 + 0.0` is `+0.0`: the
convention of `simplify`'s `x + 0 -> x`). The zeros array and its per-step
reads go; DCE drops the `getitem_grad` when nothing else reads it.
"""

from __future__ import annotations

from shared_ops import REGISTRY

from ...graph.ir import Eqn, Graph, Var
from ...passes.common import same_aval
from ...passes.keys import same_value
from .hoist import drop_unread_inputs, rewrite_scans

ADD, GETITEM_GRAD = REGISTRY["add"], REGISTRY["getitem_grad"]


def first_step_only(v, producers: dict, first: tuple) -> list[Var] | None:
    """[g, ...] when `v` is `getitem_grad(g, x, index=first)` or a sum of such
    values of v's own aval (`hs[-1] * hs[-1]` has two); None otherwise."""
    e = producers.get(v) if isinstance(v, Var) else None
    if e is None:
        return None
    if e.prim is GETITEM_GRAD and same_value(tuple(e.params["index"]), first) and \
            isinstance(e.inputs[0], Var):
        return [e.inputs[0]]
    if e.prim is ADD and all(isinstance(x, Var) and same_aval(x.aval, v.aval)
                                    for x in e.inputs):
        parts = [first_step_only(x, producers, first) for x in e.inputs]
        if all(p is not None for p in parts):
            return parts[0] + parts[1]
    return None


def _seeded_carry(eqn: Eqn, j: int, producers: dict) -> tuple[int, Eqn, list] | None:
    """(carry k, the body's add, [g, ...]) when sequence j only seeds carry k."""
    p = eqn.params
    body, C, K = p["body"], p["num_consts"], p["num_carry"]
    gs = first_step_only(eqn.inputs[C + K + j], producers, (-1,) if p["reverse"] else (0,))
    if gs is None:
        return None
    x_in = body.inputs[C + K + j]
    users = body.consumers()
    uses = users.get(x_in, [])
    if len(uses) != 1 or x_in in body.outputs or uses[0].prim is not ADD:
        return None
    add = uses[0]
    others = [x for x in add.inputs if x is not x_in]
    if len(others) != 1 or not isinstance(others[0], Var):
        return None
    carry = others[0]
    if carry not in body.inputs[C:C + K] or users.get(carry) != [add] or carry in body.outputs:
        return None
    k = body.inputs.index(carry) - C
    init = eqn.inputs[C + k]
    avals = [x_in.aval, add.outputs[0].aval, getattr(init, "aval", None)]
    avals += [g.aval for g in gs]
    if not all(a is not None and same_aval(a, carry.aval) for a in avals):
        return None
    return k, add, gs


def seed_one(eqn: Eqn, producers: dict) -> tuple[Eqn, list[Eqn]]:
    """(the scan with its first-step-only cotangents folded into carries, eqns before it)."""
    before: list[Eqn] = []
    while True:
        p = eqn.params
        C = p["num_consts"]
        found = next((f for f in (_seeded_carry(eqn, j, producers) for j in range(p["num_xs"]))
                      if f is not None), None)
        if found is None:
            return eqn, before
        k, add, gs = found
        body = p["body"]
        carry, result = body.inputs[C + k], add.outputs[0]
        new_body = body.copy()
        new_body.eqns = [e.replace(inputs=tuple(carry if x is result else x for x in e.inputs))
                         for e in body.eqns if e is not add]
        new_body.outputs = [carry if v is result else v for v in body.outputs]
        seeded = eqn.inputs[C + k]
        for g in gs:
            prev, seeded = seeded, Var(seeded.aval, site=eqn.site)
            before.append(Eqn(ADD, (prev, g), {}, (seeded,), eqn.site))
        inputs = list(eqn.inputs)
        inputs[C + k] = seeded
        eqn = drop_unread_inputs(eqn.replace(inputs=tuple(inputs),
                                             params={**p, "body": new_body}))


def seed_first_step_cotangents(graph: Graph) -> Graph:
    """Pass: fold first-step-only cotangent sequences into the carries (module doc)."""
    producers = graph.producers()

    def seed(eqn: Eqn, out: Graph) -> tuple:
        eqn, before = seed_one(eqn, producers)
        return before, eqn, []
    return rewrite_scans(graph, seed_first_step_cotangents, seed)

