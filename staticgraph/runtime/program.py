"""From a user graph and a request (fetches, feeds, updates) to a closed program.

A program is a `Graph` that a backend can run without looking at anything
else: `inputs` are the fed values (in feed order), `variables` the state it
reads or writes, `constants`, pure `eqns` (assign and group are gone),
`outputs`, and `updates` (variable, new value). Only the equations the
request needs are kept, in their original order.
"""

from __future__ import annotations

from shared_ops import Effect, format_site

from ..build.state import assign_p
from ..errors import FeedError, GraphError
from ..graph.check import check_graph
from ..graph.ir import Eqn, Graph, Var


def needed_values(graph: Graph, roots: list[Var], fed: set) -> tuple[set, set]:
    """Vars and eqns the roots depend on (stopping at fed vars)."""
    producers = graph.producers()
    vars_, eqns = set(), set()
    stack = list(roots)
    while stack:
        v = stack.pop()
        if v in vars_:
            continue
        vars_.add(v)
        if v in fed:
            continue
        eqn = producers.get(v)
        if eqn is None or eqn in eqns:
            continue
        eqns.add(eqn)
        deps = eqn.inputs[1:] if eqn.prim is assign_p else eqn.inputs
        stack.extend(x for x in deps if isinstance(x, Var))
    return vars_, eqns


def _is_effect(eqn: Eqn) -> bool:
    return eqn.prim.effect is Effect.STATE


def _missing_feed(graph: Graph, placeholder: Var, eqns: list[Eqn], fetches) -> FeedError:
    where = format_site(placeholder.site)
    msg = f"placeholder '{placeholder.label}' ({placeholder.aval}" + (
        f", created at {where})" if where else ")") + " must be fed"
    user = next((e for e in eqns if placeholder in e.in_vars), None)
    if user is not None:
        site = format_site(user.site)
        msg += f": op '{user.prim.name}'" + (f" created at {site}" if site else "") + \
            " needs it"
    elif any(placeholder is f for f in fetches):
        msg += ": it is fetched"
    return FeedError(msg + "; add it to feed_dict")


def _site_of(v: Var) -> str:
    site = format_site(v.site)
    return f" (at {site})" if site else ""


def extract_program(graph: Graph, fetches: list[Var], feeds: list[Var],
                    updates: list[tuple[Var, Var]] = (), effects: list[Var] = ()) -> Graph:
    """The closed program computing `fetches` from `feeds` (see module doc).

    `updates` are extra (variable, value) pairs (sg.function's); `effects`
    are ops (group outputs) that must run but give no value.
    """
    fed = set(feeds)
    roots = list(fetches) + list(effects) + [value for _, value in updates]
    vars_, eqns = needed_values(graph, roots, fed)
    ordered = [e for e in graph.eqns if e in eqns]
    missing = [v for v in graph.inputs if v in vars_ and v not in fed]
    if missing:
        raise _missing_feed(graph, missing[0], ordered, fetches)
    alias: dict[Var, Var] = {}

    def resolve(v):
        while isinstance(v, Var) and v in alias:
            v = alias[v]
        return v
    prog = Graph(f"{graph.name or 'graph'}:program")
    prog.inputs = list(feeds)
    all_updates: list[tuple[Var, Var, Var]] = []  # (variable, value, where)
    for eqn in ordered:
        if eqn.prim is assign_p:
            value = resolve(eqn.inputs[1])
            alias[eqn.outputs[0]] = value
            all_updates.append((eqn.inputs[0], value, eqn.outputs[0]))
        elif not _is_effect(eqn):
            prog.eqns.append(eqn.replace(inputs=tuple(resolve(x) for x in eqn.inputs)))
    all_updates += [(var, resolve(value), value) for var, value in updates]
    prog.outputs = [resolve(v) for v in fetches]
    seen: dict[Var, Var] = {}
    for var, value, where in all_updates:
        if var in seen:
            raise GraphError(f"variable '{var.label}' is updated twice in one run: by "
                             f"{seen[var].label}{_site_of(seen[var])} and {where.label}"
                             f"{_site_of(where)}")
        if var in fed:
            raise FeedError(f"variable '{var.label}' is both fed and updated in one run")
        seen[var] = where
        prog.updates.append((var, value))
    read = {v for v in graph.variables if v in vars_ and v not in fed}
    prog.variables = {v: info for v, info in graph.variables.items()
                      if v in read or v in seen}
    prog.constants = {v: c for v, c in graph.constants.items() if v in vars_}
    check_graph(prog)
    return prog
