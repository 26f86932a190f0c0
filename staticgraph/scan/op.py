"""`sg.scan`: a loop over the leading axis as one equation holding its body graph.

The user's step function is traced once into its own `Graph` (parent: the
graph being built); symbols it closes over (weights) are captured and become
loop-invariant operands (closure conversion, as for `cond`). The equation is

    *final_carry, *ys = scan(*consts, *init, *xs;
                             body, num_consts, num_carry, num_xs, reverse)
    body: (*consts, *carry, *x_t) -> (*new_carry, *y_t)

`ys[j]` stacks `y_t[j]` along a new leading axis of length T, the run-time
first dim shared by every `xs` operand (T may be 0). With `reverse=True` the
steps run t = T-1 .. 0, and `ys[j][t]` is still step t's value. See
docs/scan.md for the layout a compiled backend lowers to a loop.

`sg.scan(fn, elems, initializer)` (tf.scan) makes a body whose `y_t` *are*
its new carries (the same Vars), so the stacked accumulators are the `ys`.
Its gradient (`grad.py`) is a reverse scan over the same kind of
equation. `sg.fori_loop` is a scan with no `ys` over `arange(lower, upper)`.
"""

from __future__ import annotations

import numpy as np

from shared_ops import AbstractArray, Effect, Primitive, ShapeError, format_site
from shared_ops import api as A

from ..build.ops import as_symbol
from ..build.symbol import Symbol, bind_symbolic, current_site, target_graph, to_atom
from ..errors import GraphError
from ..graph.check import compatible
from ..graph.context import graph_scope
from ..graph.ir import Graph, Var
from ..graph.structure import flatten, same_structure, unflatten
from ..runtime.interpreter import Evaluator


# ---- the primitive ------------------------------------------------------------
def split_operands(values, num_consts: int, num_carry: int) -> tuple[list, list, list]:
    """(consts, carry, xs) of a scan's operand list."""
    values = list(values)
    return (values[:num_consts], values[num_consts:num_consts + num_carry],
            values[num_consts + num_carry:])


def _aval(x, what: str) -> AbstractArray:
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise ShapeError(f"scan: {what} must be an array value, got the literal {x!r}")
    return AbstractArray(tuple(x.shape), np.dtype(x.dtype))


def _static_length(xs: list) -> int | None:
    """The common known first dim of the xs avals (None if none is known)."""
    length = None
    for x in xs:
        if not x.shape:
            raise ShapeError(f"scan: a sequence operand must have a leading axis, got {x}")
        n = x.shape[0]
        if n is not None and length is not None and n != length:
            raise ShapeError(f"scan: sequences have different lengths ({length} and {n})")
        length = n if n is not None else length
    return length


def _scan_abstract_eval(*operands, body: Graph, num_consts: int, num_carry: int,
                        num_xs: int, reverse: bool):
    n = num_consts + num_carry + num_xs
    if len(operands) != n or len(body.inputs) != n:
        raise ShapeError(f"scan: {len(operands)} operands and a body of "
                         f"{len(body.inputs)} inputs, expected {n}")
    if num_xs < 1:
        raise ShapeError("scan: needs at least one sequence operand (xs): it sets the length")
    if len(body.outputs) < num_carry:
        raise ShapeError(f"scan: the body returns {len(body.outputs)} values for "
                         f"{num_carry} carries")
    avals = [_aval(x, "an operand") for x in operands]
    consts, carry, xs = split_operands(avals, num_consts, num_carry)
    length = _static_length(xs)
    slices = [AbstractArray(x.shape[1:], x.dtype) for x in xs]
    for aval, var in zip(consts + carry + slices, body.inputs):
        if not compatible(aval, var.aval):
            raise ShapeError(f"scan: operand {aval} does not fit body input {var!r}")
    carry_in = body.inputs[num_consts:num_consts + num_carry]
    for var, out in zip(carry_in, body.outputs[:num_carry]):
        if not compatible(var.aval, out.aval):
            raise ShapeError(f"scan: the body returns {out.aval} for carry {var!r}")
    ys = [AbstractArray((length,) + tuple(v.aval.shape), v.aval.dtype)
          for v in body.outputs[num_carry:]]
    return [v.aval for v in carry_in] + ys


def infer_body_avals(body: Graph, in_avals: list) -> list[AbstractArray]:
    """The body's output avals for concrete input avals (abstract_eval, eqn by eqn).

    The interpreter needs them to allocate the stacked outputs of a 0-step scan.
    """
    env: dict = dict(zip(body.inputs, in_avals))
    env.update({v: AbstractArray(c.shape, c.dtype) for v, c in body.constants.items()})
    for eqn in body.eqns:
        args = [env[x] if isinstance(x, Var) else x for x in eqn.inputs]
        out = eqn.prim.abstract_eval(*args, **eqn.params)
        env.update(zip(eqn.outputs, out if eqn.prim.multiple_results else [out]))
    return [env[v] for v in body.outputs]


def _empty_ys(body: Graph, consts, carry, xs, num_carry: int) -> list[np.ndarray]:
    in_avals = [AbstractArray(np.shape(v), np.asarray(v).dtype) for v in consts + carry]
    in_avals += [AbstractArray(np.shape(x)[1:], np.asarray(x).dtype) for x in xs]
    outs = infer_body_avals(body, in_avals)[num_carry:]
    if any(None in a.shape for a in outs):
        raise ValueError("cannot infer the shape of a 0-step scan's outputs")
    return [np.empty((0,) + tuple(a.shape), a.dtype) for a in outs]


def scan_eval_with(run, *values, body: Graph, num_consts: int, num_carry: int,
                    num_xs: int, reverse: bool):
    """Interpreter: a Python loop over `run(body, args)` (the reference semantics)."""
    consts, carry, xs = split_operands(values, num_consts, num_carry)
    lengths = {np.shape(x)[0] for x in xs}
    if len(lengths) != 1:
        raise ValueError(f"sequences have different lengths {sorted(lengths)}")
    length = lengths.pop()
    ys: list[np.ndarray] | None = None
    for t in (range(length - 1, -1, -1) if reverse else range(length)):
        outs = run(body, consts + carry + [x[t] for x in xs])
        carry = list(outs[:num_carry])
        if ys is None:
            ys = [np.empty((length,) + np.shape(y), np.asarray(y).dtype)
                  for y in outs[num_carry:]]
        for buffer, y in zip(ys, outs[num_carry:]):
            buffer[t] = y
    if ys is None:
        ys = _empty_ys(body, consts, carry, xs, num_carry)
    return tuple(carry) + tuple(ys)


def _scan_impl(*values, **params):
    return scan_eval_with(Evaluator().run, *values, **params)


scan_p = Primitive(
    name="scan", impl=_scan_impl, abstract_eval=_scan_abstract_eval,
    multiple_results=True, control=True, eval_with=scan_eval_with,
    doc="*carry, *ys = loop body(*consts, *carry, *xs[t]) over t (docs/scan.md)")


# ---- tracing the user's step function --------------------------------------------
def _where(site) -> str:
    text = format_site(site)
    return f" (at {text})" if text else ""


def prune_graph(graph: Graph) -> tuple[Graph, set]:
    """A copy without the eqns and constants its outputs do not need, and the
    set of live Vars. Inputs all stay: callers drop the ones not in the set."""
    live = set(graph.outputs)
    kept = []
    for eqn in reversed(graph.eqns):
        if any(v in live for v in eqn.outputs) or eqn.prim.effect is Effect.STATE:
            kept.append(eqn)
            live.update(eqn.in_vars)
    pruned = graph.copy()
    pruned.eqns = kept[::-1]
    pruned.constants = {v: c for v, c in graph.constants.items() if v in live}
    return pruned, live


def _check_closed(body: Graph, site) -> None:
    if body.variables or any(e.prim.effect is Effect.STATE for e in body.eqns):
        raise GraphError("scan: Variables and assign/group inside the step function are not "
                         "supported; return the new values and assign outside" + _where(site))


def _describe(tree, leaves: list) -> str:
    return str(unflatten(tree, [str(getattr(x, "var", x).aval) if isinstance(x, Symbol)
                                else type(x).__name__ for x in leaves]))


def _as_output(body: Graph, leaf, carry: Symbol, index: int, site) -> Var:
    """The body output for accumulator `index`; its aval must be the carry's."""
    if not isinstance(leaf, Symbol):
        value = np.asarray(leaf, dtype=carry.dtype)
        if None not in carry.shape and value.shape != carry.shape:
            try:  # a scalar for an array accumulator; a misfit is reported below
                value = np.broadcast_to(value, carry.shape).copy()
            except ValueError:
                pass
        with graph_scope(body):
            leaf = Symbol(body, to_atom(body, value))
    var = to_atom(body, leaf)
    if var.aval.dtype != carry.dtype or not compatible(var.aval, carry.var.aval):
        made = format_site(leaf.var.site)
        raise ShapeError(
            f"scan: fn returns {var.aval} for accumulator {index}, which is "
            f"{carry.var.aval}; the step must keep each accumulator's shape and dtype"
            + (f" (value made at {made})" if made else "") + _where(site))
    return var


def trace_body(fn, outer: Graph, init: list[Symbol], init_tree, seq: list[Symbol],
               seq_tree, site, name: str | None = None,
               emit_ys: bool = True) -> tuple[Graph, list[Var]]:
    """Trace `fn(carry, x_t) -> new carry` once; (body, captured outer Vars).

    The body's inputs are (captured consts, carries, x slices); its outputs
    the new carries, then (if `emit_ys`) the same Vars again as the per-step ys.
    """
    body = Graph(name or "scan_body", parent=outer)
    with graph_scope(body):
        carry = [Symbol(body, body.add_input(s.var.aval, "carry", s.var.site)) for s in init]
        xs = [Symbol(body, body.add_input(AbstractArray(s.shape[1:], s.dtype), "x", s.var.site))
              for s in seq]
        result = fn(unflatten(init_tree, carry), unflatten(seq_tree, xs))
    leaves, tree = flatten(result)
    if not same_structure(tree, init_tree):
        raise ShapeError(f"scan: fn returns {_describe(tree, leaves)}, but the accumulator "
                         f"is {_describe(init_tree, carry)}" + _where(site))
    outs = [_as_output(body, leaf, c, i, site) for i, (leaf, c) in enumerate(zip(leaves, carry))]
    _check_closed(body, site)
    captured = [outer_var for outer_var, _ in body.captures]
    inner = [v for _, v in body.captures]
    body.inputs = inner + [v for v in body.inputs if all(v is not c for c in inner)]
    body.captures = []
    body.outputs = outs + (outs if emit_ys else [])
    body, live = prune_graph(body)
    n_const = len(captured)
    used = [i for i in range(n_const) if body.inputs[i] in live]
    body.inputs = [body.inputs[i] for i in used] + body.inputs[n_const:]
    return body, [captured[i] for i in used]


# ---- the user API ----------------------------------------------------------------------
def _sequences(elems, site) -> tuple[list[Symbol], object]:
    leaves, tree = flatten(elems)
    if not leaves:
        raise GraphError("scan: elems is empty; it must hold at least one sequence" +
                         _where(site))
    seq = [as_symbol(x) for x in leaves]
    for s in seq:
        if s.ndim == 0:
            raise ShapeError(f"scan: elems must have a leading axis to scan over, got {s!r}" +
                             _where(site))
    try:
        _static_length([s.var.aval for s in seq])
    except ShapeError as exc:
        raise ShapeError(f"{exc}{_where(site)}") from None
    return seq, tree


def _prepend(seq: Symbol, ys: Symbol, reverse: bool) -> Symbol:
    """`elems[0]` then ys (or ys then `elems[-1]` if reverse), any run-time length."""
    first, rest = (slice(-1, None), slice(None, -1)) if reverse else \
        (slice(None, 1), slice(1, None))
    return A.add(A.getitem_grad(A.getitem(seq, (first,)), seq, (first,)),
                 A.getitem_grad(ys, seq, (rest,)))


def scan_core(fn, seq: list[Symbol], seq_tree, init: list[Symbol], init_tree, *,
              reverse: bool = False, emit_ys: bool = True, name: str | None = None,
              site=None) -> tuple[list[Symbol], list[Symbol]]:
    """Trace and bind one scan; (final carries, stacked ys) as Symbols."""
    outer = target_graph(scan_p, init + seq)
    body, captured = trace_body(fn, outer, init, init_tree, seq, seq_tree, site, name,
                                emit_ys)
    args = [Symbol(outer, v) for v in captured] + init + seq
    params = {"body": body, "num_consts": len(captured), "num_carry": len(init),
              "num_xs": len(seq), "reverse": bool(reverse)}
    outs = list(bind_symbolic(scan_p, args, params))
    return outs[:len(init)], outs[len(init):]


def scan(fn, elems, initializer=None, reverse: bool = False, name: str | None = None):
    """tf.scan: `fn(acc, x_t) -> new acc` along elems' first axis; the stacked accs.

    `elems` and the accumulator may be nested tuples/lists/dicts of symbols
    (or arrays). Without `initializer` the first element of elems (the last
    if `reverse`) is the initial accumulator and the first output row. The
    number of steps is elems' first dim when the graph runs (any length,
    0 included, without rebuilding); symbols `fn` closes over are captured
    as loop-invariant inputs and receive gradients.
    """
    site = current_site()
    seq, seq_tree = _sequences(elems, site)
    if initializer is None:
        init = [s[-1] if reverse else s[0] for s in seq]
        init_tree, rest = seq_tree, [s[:-1] if reverse else s[1:] for s in seq]
    else:
        leaves, init_tree = flatten(initializer)
        init, rest = [as_symbol(v) for v in leaves], seq
    _, ys = scan_core(fn, rest, seq_tree, init, init_tree, reverse=reverse, name=name,
                      site=site)
    if initializer is None:
        ys = [_prepend(s, y, reverse) for s, y in zip(seq, ys)]
    return unflatten(init_tree, ys)


def fori_loop(lower: int, upper: int, body_fn, init_val, name: str | None = None):
    """`val = body_fn(i, val)` for i in range(lower, upper) (Python ints); the final val.

    A scan over the constant `arange(lower, upper)` that keeps only the final
    carry (JAX's `lax.fori_loop` with static bounds).
    """
    site = current_site()
    leaves, tree = flatten(init_val)
    init = [as_symbol(v) for v in leaves]
    steps = as_symbol(np.arange(int(lower), max(int(upper), int(lower)), dtype=np.int64))
    finals, _ = scan_core(lambda val, i: body_fn(i, val), [steps], flatten(steps)[1], init, tree,
                          emit_ys=False, name=name, site=site)
    return unflatten(tree, finals)
