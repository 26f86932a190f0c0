"""Pass: a GEMM over the carries entering each step reads the saved outputs, shifted.

The gradient of `sg.scan` stacks the carries entering each forward step with
`delay` (`scan.grad.delay`: `D = [init, X[0], ..., X[T-2]]`, reversed
`[X[1], ..., X[T-1], init]`), a `(T, B, H)` copy of the forward outputs `X`.
After `sink_scan_accumulators` the one reader of that copy is usually the
weight-gradient GEMM `dWh = reshape(D, (-1, H)).T @ reshape(S, (-1, H'))`
(`S`: the backward scan's stacked `dz`). Step t of `D` is step t-1 of `X`,
so the same sum reads `X` and `S` shifted by one step, as views:

    sum_t D[t].T S[t] = X[:-1].T S[1:]  +  init.T S[0]      (forward delay)
                      = X[1:].T  S[:-1] +  init.T S[-1]     (reverse delay)

The first term is one GEMM of slices (basic `getitem`: views, no copy); the
second is a batched product over `S[:1]` (or `S[-1:]`), which has length 0
when T is 0, summed over that length. The delay, its `(T, B, H)` buffer and
its copy then die (DCE). Either operand of the GEMM may be the delayed one.
Exact up to the GEMM's summation order: every product of the original is
computed (the init term included, so a NaN/Inf meeting a zero init still
gives NaN, as in NumPy).
"""

from __future__ import annotations

import math

from shared_ops import REGISTRY

from ...graph.ir import Eqn, Graph, Var
from ..op import scan_p
from .hoist import NotBatchable, Outer

ADD, MATMUL = REGISTRY["add"], REGISTRY["matmul"]
RESHAPE, TRANSPOSE = REGISTRY["reshape"], REGISTRY["transpose"]


def delay_operands(eqn: Eqn) -> tuple[Var, Var, bool] | None:
    """(init, X, reverse) when `eqn` is a `delay` scan (body `(prev, y) -> (y; prev)`)."""
    p = eqn.params
    if eqn.prim is not scan_p or (p["num_consts"], p["num_carry"], p["num_xs"]) != (0, 1, 1):
        return None
    body = p["body"]
    if body.eqns or body.constants or body.outputs != [body.inputs[1], body.inputs[0]]:
        return None
    init, xs = eqn.inputs
    if not (isinstance(init, Var) and isinstance(xs, Var)):
        return None
    return init, xs, bool(p["reverse"])


def _flattened(v: Var, producers: dict) -> tuple[Var, int] | None:
    """(S, n) when `v = reshape(S, (-1, n))` keeps S's steps as blocks of rows."""
    e = producers.get(v)
    if e is None or e.prim is not RESHAPE or not isinstance(e.inputs[0], Var):
        return None
    shape = tuple(e.params["shape"])
    s = e.inputs[0]
    step = s.shape[1:]
    if len(shape) != 2 or shape[0] != -1 or len(s.shape) < 2 or None in step:
        return None
    n = shape[1]
    size = math.prod(step)
    if n <= 0 or size == 0 or size % n:
        return None
    return s, n


def _plan(eqn: Eqn, producers: dict) -> tuple | None:
    """(delay eqn, side of the delayed operand, [(stacked, n), (stacked, n)])."""
    if eqn.prim is not MATMUL or not all(isinstance(x, Var) for x in eqn.inputs):
        return None
    t = producers.get(eqn.inputs[0])
    if t is None or t.prim is not TRANSPOSE or tuple(t.params["axes"]) != (1, 0):
        return None
    left, right = _flattened(t.inputs[0], producers), _flattened(eqn.inputs[1], producers)
    if left is None or right is None:
        return None
    rows = [math.prod(s.shape[1:]) // n for s, n in (left, right)]
    if rows[0] != rows[1]:
        return None
    for side, (s, _) in enumerate((left, right)):
        d = producers.get(s)
        if d is not None and delay_operands(d) is not None and s is d.outputs[1]:
            return d, side, [left, right]
    return None


def _emit(outer: Outer, name: str, inputs: list, site, **params) -> Var:
    return outer.emit(REGISTRY[name], inputs, params, site)


def _init_step(outer: Outer, s: Var, index: slice, site) -> Var:
    """`s[:1]` (or `s[-1:]`): length min(T, 1), unknown while T is (0 for T = 0)."""
    return _emit(outer, "getitem", [s], site, index=(index,))


def _shifted_product(outer: Outer, eqn: Eqn, delay: Eqn, side: int, ops: list) -> None:
    """The eqns computing `eqn`'s output without the delay (module doc)."""
    init, xs, reverse = delay_operands(delay)
    site = eqn.site
    (_, n_d), (s, n_s) = ops[side], ops[1 - side]
    rows = math.prod(s.shape[1:]) // n_s
    later, earlier = slice(1, None), slice(None, -1)
    x_part, s_part, s_init = (later, earlier, slice(-1, None)) if reverse else \
        (earlier, later, slice(None, 1))
    x2 = _emit(outer, "reshape", [_emit(outer, "getitem", [xs], site, index=(x_part,))],
               site, shape=(-1, n_d))
    s2 = _emit(outer, "reshape", [_emit(outer, "getitem", [s], site, index=(s_part,))],
               site, shape=(-1, n_s))
    i2 = _emit(outer, "reshape", [init], site, shape=(rows, n_d))
    s3 = _emit(outer, "reshape", [_init_step(outer, s, s_init, site)], site,
               shape=(-1, rows, n_s))
    if side == 0:   # D.T @ S
        main = _emit(outer, "matmul", [_emit(outer, "transpose", [x2], site, axes=(1, 0)), s2],
                     site)
        first = _emit(outer, "matmul", [_emit(outer, "transpose", [i2], site, axes=(1, 0)), s3],
                      site)
    else:           # S.T @ D
        main = _emit(outer, "matmul", [_emit(outer, "transpose", [s2], site, axes=(1, 0)), x2],
                     site)
        first = _emit(outer, "matmul", [_emit(outer, "transpose", [s3], site, axes=(0, 2, 1)),
                                        i2], site)
    total = _emit(outer, "sum", [first], site, axis=(0,), keepdims=False)
    outer.eqns.append(Eqn(ADD, (main, total), {}, eqn.outputs, site))


def shift_delayed_products(graph: Graph) -> Graph:
    """Pass: GEMMs over a `delay`'s output read the delayed sequence shifted (module doc).

    Top level only: a delay and its GEMM meet in the program that holds the
    forward and backward scans.
    """
    out = graph.copy()
    producers = graph.producers()
    eqns: list[Eqn] = []
    for eqn in graph.eqns:
        plan = _plan(eqn, producers)
        if plan is None:
            eqns.append(eqn)
            continue
        outer = Outer(out)
        try:
            _shifted_product(outer, eqn, *plan)
        except NotBatchable:  # a shape rule that does not fit: keep the GEMM as it is
            eqns.append(eqn)
            continue
        eqns.extend(outer.eqns)
    out.eqns = eqns
    return out
