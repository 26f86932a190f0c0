"""Pass: a gradient's backward scan reads the forward outputs instead of recomputing them.

The backward scan replays the forward step from the carry that entered it
(docs/scan.md, "What is saved"). For a value the forward scan *outputs* (the
tanh RNN's `h_t`, the LSTM's `h_t` and `c_t`) that replay recomputes what the
forward loop already stored in its stacked `ys`: for the RNN a whole
`h @ Wh` matmul per step. This pass finds such values and makes them a new
sequence operand of the backward scan, bound to the forward's `ys`.

Matching is by value numbering across the two bodies. An input of scan B
(the backward) stands for the same per-step value as an input of scan S
(the forward) when both are the same outer const, the same outer sequence,
or when B's sequence is `delay(S.ys[j], S.init[k])` in S's direction
(`scan.grad.delay`): the carry k entering S's step t. An equation's number
is (primitive, params, numbers of its inputs; commutative inputs sorted),
the primitive by identity.
Any value of B's body numbered like S's output y_j becomes an input bound
to `S.ys[j]`; DCE then drops the replay. Values agree up to rounding (the
loop and the replay are the same ops on the same numbers: exact, unless
they are later rewritten differently).
"""

from __future__ import annotations

from ...graph.ir import Eqn, Graph, Var
from ...passes.common import fresh_copy, map_subgraphs, scalar_key
from ...passes.keys import array_key, params_key
from ..op import prune_graph, scan_p, split_operands
from .hoist import drop_unread_inputs


def _is_delay_of(d: Eqn, s: Eqn, k: int, j: int) -> bool:
    p, C, K = d.params, s.params["num_consts"], s.params["num_carry"]
    if d.prim is not scan_p or (p["num_consts"], p["num_carry"], p["num_xs"]) != (0, 1, 1):
        return False
    body = p["body"]
    return (p["reverse"] == s.params["reverse"] and not body.eqns
            and body.outputs == [body.inputs[1], body.inputs[0]]
            and d.inputs[0] is s.inputs[C + k] and d.inputs[1] is s.outputs[K + j])


def _carry_sequences(graph: Graph, s: Eqn) -> dict[int, int]:
    """id(outer Var holding the carries entering S's steps) -> carry index k."""
    body, K = s.params["body"], s.params["num_carry"]
    found = {}
    for k in range(K):
        ys = body.outputs[K:]
        if body.outputs[k] in ys:
            j = ys.index(body.outputs[k])
            for d in graph.eqns:
                if _is_delay_of(d, s, k, j):
                    found[d.outputs[1].id] = k
    return found


def number_body(eqn: Eqn, input_keys: list) -> dict[Var, tuple]:
    """Value numbers of every value in the body of scan `eqn`."""
    body = eqn.params["body"]
    keys: dict[Var, tuple] = dict(zip(body.inputs, input_keys))
    keys.update({v: ("const",) + array_key(c) for v, c in body.constants.items()})
    for e in body.eqns:
        ins = [keys[x] if isinstance(x, Var) else ("lit",) + scalar_key(x) for x in e.inputs]
        if e.prim.commutative:
            ins.sort()
        head = ("eqn", id(e.prim), params_key(e.params), tuple(ins))
        for n, v in enumerate(e.outputs):
            keys[v] = head + (n,)
    return keys


def _input_keys(eqn: Eqn, carry_of: dict[int, tuple] | None = None) -> list:
    """Numbers of a scan's body inputs: outer consts/sequences by identity, and
    (for the forward) its carries; `carry_of` maps sequence ids to carries."""
    C, K = eqn.params["num_consts"], eqn.params["num_carry"]
    consts, init, xs = split_operands(eqn.inputs, C, K)
    keys = [("outer", v.id) for v in consts]
    keys += [("carry", id(eqn), k) for k in range(K)]
    seq = []
    for v in xs:
        seq.append(carry_of[v.id] if carry_of and v.id in carry_of else ("seq", v.id))
    return keys + seq


def _reuse_in(b: Eqn, s: Eqn, carries: dict[int, int]) -> Eqn:
    """Scan B with values it recomputes from S's outputs read from S's `ys`."""
    K = s.params["num_carry"]
    s_keys = number_body(s, _input_keys(s))
    s_body = s.params["body"]
    produced = {v for e in s_body.eqns for v in e.outputs}
    wanted = {}
    for j, y in enumerate(s_body.outputs[K:]):
        if y in produced:
            wanted.setdefault(s_keys[y], s.outputs[K + j])
    if not wanted:
        return b
    carry_of = {vid: ("carry", id(s), k) for vid, k in carries.items()}
    b_body = b.params["body"]
    b_keys = number_body(b, _input_keys(b, carry_of))
    rename: dict[Var, Var] = {}
    extra: list[Var] = []
    for e in b_body.eqns:
        for v in e.outputs:
            if b_keys[v] in wanted and v not in rename:
                rename[v] = fresh_copy(v)
                extra.append(wanted[b_keys[v]])
    if not rename:
        return b
    new_body = Graph(b_body.name, b_body.parent)
    new_body.inputs = list(b_body.inputs) + list(rename.values())
    new_body.eqns = [e.replace(inputs=tuple(rename.get(x, x) if isinstance(x, Var) else x
                                            for x in e.inputs))
                     for e in b_body.eqns if not all(v in rename for v in e.outputs)]
    new_body.outputs = [rename.get(v, v) for v in b_body.outputs]
    new_body.constants = dict(b_body.constants)
    new_body, _ = prune_graph(new_body)
    p = b.params
    return drop_unread_inputs(b.replace(
        inputs=tuple(b.inputs) + tuple(extra),
        params={**p, "body": new_body, "num_xs": p["num_xs"] + len(extra)}))


def reuse_scan_outputs(graph: Graph) -> Graph:
    """Pass: scans read other scans' outputs instead of recomputing them (module doc)."""
    out = graph.copy()
    eqns = [map_subgraphs(e, reuse_scan_outputs) for e in graph.eqns]
    out.eqns = eqns
    for n, s in enumerate(eqns):
        if s.prim is not scan_p:
            continue
        carries = _carry_sequences(out, s)
        if not carries:
            continue
        for m in range(n + 1, len(eqns)):
            b = eqns[m]
            if b.prim is scan_p and any(x.id in carries for x in b.in_vars):
                eqns[m] = _reuse_in(b, s, carries)
    return out
