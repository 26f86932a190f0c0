"""The `fused` primitive: one equation standing for a fused elementwise group.

    outs = fused(*inputs; body=Graph, group=FusedGroup, sites=(...), name=str)

- `inputs`: the Vars the group reads from outside (literal Python scalars
  stay inside, as step arguments), in first-use order.
- `outputs`: the group's values used outside it (by other equations, the
  graph's outputs or updates), in step order, then, if a reduction is fused,
  its result last. They are the original Vars, so consumers are unchanged.
- `body`: a closed `Graph` holding the original equations (fresh Vars):
  `body.inputs` match `inputs`, `body.outputs` match `outputs`. The
  interpreter runs it (`eval_with`), `abstract_eval` replays its
  equations' `abstract_eval`s, `check_graph` validates it.
- `group`: the compiler's `staticgraph.compiler.group.FusedGroup` for the same
  computation: `group.inputs[j]` describes `inputs[j]` (rank, dtype, dims
  statically 1); `group.steps[k]` is the k-th elementwise equation of the
  body (same order, `site` 'file.py:line'); `group.outputs` are the step
  indices of the elementwise outputs (so `outputs[m]` is step
  `group.outputs[m]`); `group.reduction` is the fused reduction, if any. A
  kernel from `compile_group(group)` is called as
  `kernel(*input_arrays, out=(buffers for outputs, in order))`.
- `sites`: the user lines of the fused equations ('file.py:12'), in order,
  without repeats (for `explain()`).
- `name`: a readable label built from the primitives ('fused_sub_pow_sum').

Fused ops are made after gradients: `fused` has no VJP.
"""

from __future__ import annotations

import numpy as np

from shared_ops import AbstractArray, Primitive, format_site

from ..compiler.group import REDUCTION_KINDS, FusedGroup, GroupInput, GroupStep, Reduction, Ref
from ..graph.ir import Eqn, Graph, Var
from ..runtime.interpreter import eval_graph
from .common import fresh_copy


def _abstract_eval(*avals, body: Graph, **_params) -> list[AbstractArray]:
    """Replay the body's equations on the given input avals."""
    env: dict = dict(zip(body.inputs, avals))
    for eqn in body.eqns:
        args = [env[x] if isinstance(x, Var) else x for x in eqn.inputs]
        env[eqn.outputs[0]] = eqn.prim.abstract_eval(*args, **eqn.params)
    return [env[v] for v in body.outputs]


def _eval_with(run, *values, body: Graph, **_params) -> tuple:
    """Interpreter: evaluate the body with `run(graph, args)`."""
    return tuple(run(body, list(values)))


def _impl(*values, body: Graph, **_params) -> tuple:
    return tuple(eval_graph(body, dict(zip(body.inputs, values))))


fused_p = Primitive(
    name="fused", impl=_impl, abstract_eval=_abstract_eval, differentiable=False,
    multiple_results=True, eval_with=_eval_with, fused=True,
    doc="a fused elementwise group (params: body, group, sites, name)")


def to_compiler_group(eqn: Eqn) -> FusedGroup:
    """The compiler's description of a fused equation (see the module doc)."""
    if eqn.prim is not fused_p:
        raise TypeError(f"not a fused equation: {eqn!r}")
    return eqn.params["group"]


def _group_input(var: Var) -> GroupInput:
    shape = tuple(var.shape)
    return GroupInput(len(shape), np.dtype(var.dtype), False,
                      tuple(d for d, n in enumerate(shape) if n == 1))


def build_group(body: Graph, name: str) -> FusedGroup:
    """A `FusedGroup` from a fused body (the last equation may be a reduction).

    Raises ValueError when the compiler cannot take it (the caller then
    leaves the equations unfused).
    """
    refs: dict[Var, Ref] = {v: Ref("in", j) for j, v in enumerate(body.inputs)}
    steps, reduction = [], None
    for eqn in body.eqns:
        args = tuple(refs[x] if isinstance(x, Var) else x for x in eqn.inputs)
        site = format_site(eqn.site)
        if eqn.prim.reduction:
            if eqn.prim not in REDUCTION_KINDS:
                raise ValueError(f"no fused loop template for the reduction {eqn.prim.name}")
            axes = eqn.params.get("axis")
            axes = tuple(range(len(eqn.inputs[0].shape))) if axes is None else tuple(axes)
            reduction = Reduction(REDUCTION_KINDS[eqn.prim], args[0], axes,
                                  bool(eqn.params.get("keepdims", False)), site)
            continue
        steps.append(GroupStep(eqn.prim.name, args, tuple(sorted(eqn.params.items())), site))
        refs[eqn.outputs[0]] = Ref("step", len(steps) - 1)
    n_elem = len(body.outputs) - (reduction is not None)
    outputs = tuple(refs[v].index for v in body.outputs[:n_elem])
    return FusedGroup(tuple(_group_input(v) for v in body.inputs), tuple(steps), outputs,
                      reduction, name)


def group_name(members: list[Eqn]) -> str:
    names: list[str] = []
    for eqn in members:
        if eqn.prim.name not in names:
            names.append(eqn.prim.name)
    label = "_".join(names[:4]) + ("_etc" if len(names) > 4 else "")
    return f"fused_{label}"


def _outer_inputs(members: list[Eqn]) -> list[Var]:
    made = {v for e in members for v in e.outputs}
    inputs: list[Var] = []
    for eqn in members:
        for x in eqn.in_vars:
            if x not in made and x not in inputs:
                inputs.append(x)
    return inputs


def make_fused_eqn(members: list[Eqn], outputs: list[Var]) -> Eqn:
    """One `fused` equation computing `outputs` from `members` (in order; a
    reduction, if any, comes last and its output last in `outputs`).

    Raises ValueError when no `FusedGroup` can describe them.
    """
    inputs = _outer_inputs(members)
    body = Graph(group_name(members))
    rename: dict[Var, Var] = {}
    for v in inputs:
        rename[v] = fresh_copy(v)
        body.inputs.append(rename[v])
    for eqn in members:
        outs = tuple(fresh_copy(v) for v in eqn.outputs)
        args = tuple(rename[x] if isinstance(x, Var) else x for x in eqn.inputs)
        rename.update(zip(eqn.outputs, outs))
        body.eqns.append(eqn.replace(inputs=args, outputs=outs))
    body.outputs = [rename[v] for v in outputs]
    group = build_group(body, body.name)
    sites: list[str] = []
    for eqn in members:
        site = format_site(eqn.site)
        if site and site not in sites:
            sites.append(site)
    params = {"body": body, "group": group, "sites": tuple(sites), "name": body.name}
    return Eqn(fused_p, tuple(inputs), params, tuple(outputs), members[0].site)
