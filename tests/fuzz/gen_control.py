"""Generators of control flow: `cond` (any engine) and `scan` (when sg.scan exists).

A cond's branches are short chains of shape-preserving ops that start from
values of the enclosing block (so the static engine must capture them) and
may nest another cond. Its predicate is a comparison of a reduction with a
threshold; finite differences keep the branch taken fixed.

A scan's body is an RNN-like cell `acc -> squash(acc [@ W] (+|*|-) x_t [+ b])`
ending in tanh or sigmoid, with weights captured from the enclosing block;
every operand is fully static so the body's result has the accumulator's
static shape exactly.
"""

from __future__ import annotations

import numpy as np

from .builder import Builder, fits
from .gen_elementwise import FLOAT
from .program import Block, CondStep, Ref, ScanStep
from .values import Info

F64 = np.dtype(np.float64)
BRANCH_OPS = ("tanh", "add", "mul", "sub", "neg", "sigmoid", "abs", "relu", "exp", "cond")
MAX_DEPTH = 2


def _branch_step(child: Builder, cur: str) -> str | None:
    op = child.c.choice(BRANCH_OPS)
    info = child.info[cur]
    if op == "cond":
        outs = gen_cond(child, starts=[cur]) if child.depth < MAX_DEPTH else None
        return outs[0] if outs else None
    if op in ("add", "mul", "sub"):
        partner = child.partner(info, grow=False)
        args = [Ref(cur), partner] if child.c.boolean(0.6) else [partner, Ref(cur)]
        return child.emit(op, args)
    if op == "exp" and info.hi > 5:
        return None
    return child.emit(op, [Ref(cur)])


def branch(b: Builder, starts: list[str]) -> tuple[Block, list[Info]]:
    """A block (no params) whose outputs are chains starting at `starts`, and their Infos."""
    child = Builder(b.c, parent=b)
    outs = []
    for start in starts:
        cur = start
        for _ in range(child.c.integer(0, 2)):
            cur = _branch_step(child, cur) or cur
        outs.append(cur)
    return Block((), tuple(child.steps), tuple(outs)), [child.info[o] for o in outs]


def _predicate(b: Builder) -> str | None:
    scalar_bool = b.pick(lambda i: i.kind == "b" and all(d == 1 for d in i.static))
    if scalar_bool is not None and b.c.boolean(0.2):
        return scalar_bool
    x = b.operand(FLOAT)
    reduced = b.emit(b.c.choice(("mean", "sum", "max")), [Ref(x)],
                     {"axis": None, "keepdims": b.c.boolean(0.3)})
    threshold = b.c.choice((0.0, 0.5, -0.5))
    return reduced and b.emit(b.c.choice(("greater", "less")), [Ref(reduced), threshold])


def _join(a: Info, c: Info) -> Info:
    static = tuple(s if s == t else None for s, t in zip(a.static, c.static))
    return Info(a.shape, static, F64, min(a.lo, c.lo), max(a.hi, c.hi), a.varying or c.varying)


def gen_cond(b: Builder, starts: list[str] | None = None) -> list[str] | None:
    """outs = cond(pred, true_block, false_block); returns the output names."""
    pred = _predicate(b)
    if pred is None:
        return None
    if starts is None:
        first = b.operand(FLOAT)
        starts = [first]
        if b.c.boolean(0.3):
            starts.append(b.operand(FLOAT))
    (true, t_infos), (false, f_infos) = branch(b, starts), branch(b, starts)
    outs = [b.fresh() for _ in starts]
    b.steps.append(CondStep(tuple(outs), Ref(pred), true, false))
    for name, t, f in zip(outs, t_infos, f_infos):
        b.add_info(name, _join(t, f))
    return outs


# ---- scan ----------------------------------------------------------------------------

def _static_operand(b: Builder, shape: tuple):
    """A fully static float operand of `shape` (an existing value or a new input)."""
    found = b.pick(lambda i: FLOAT(i) and i.shape == shape and i.fully_static)
    if found and b.c.boolean(0.5):
        return Ref(found)
    return b.const(shape, "f", "small") if b.c.boolean(0.3) else Ref(
        b.new_input(shape, "f", "small", dynamic=False))


def _cell(child: Builder, acc: str, xt: str) -> str | None:
    """The scan body: acc [@ W] (+|*|-) x_t [+ bias], squashed."""
    h = acc
    shape = child.info[acc].shape
    if child.c.boolean(0.5):
        w = _static_operand(child, (shape[-1], shape[-1]))
        h = child.emit("matmul", [Ref(h), w]) or h
    h = child.emit(child.c.choice(("add", "mul", "sub")), [Ref(h), Ref(xt)]) or h
    if child.c.boolean(0.4):
        bias_shape = tuple(1 if child.c.boolean(0.4) else d for d in shape[-1:])
        h = child.emit("add", [Ref(h), _static_operand(child, bias_shape)]) or h
    return child.emit(child.c.choice(("tanh", "sigmoid")), [Ref(h)])


def gen_scan(b: Builder) -> str | None:
    """out = scan(body, elems, init, reverse): stacked accumulators, tf.scan style."""
    init = b.pick(lambda i: FLOAT(i) and 1 <= i.ndim <= 2 and i.size <= 12 and i.fully_static)
    if init is None or b.c.boolean(0.4):
        shape = tuple(b.c.integer(1, 3) for _ in range(b.c.integer(1, 2)))
        init = b.new_input(shape, dynamic=False)
    a = b.info[init]
    steps = b.c.integer(1, 4)
    tail = tuple(1 if b.c.boolean(0.3) else d for d in a.shape)
    if a.ndim > 1 and b.c.boolean(0.3):
        tail = tail[1:]  # x_t broadcasts over the accumulator's first dim
    if not fits(a.shape, tail, grow=False):
        tail = a.shape
    first = None if steps > 1 and b.c.boolean(0.5) else steps
    elems = b.new_input((steps,) + tail, static=(first,) + tail)
    e = b.info[elems]
    child = Builder(b.c, parent=b)
    acc, xt = child.fresh("acc"), child.fresh("xt")
    child.add_info(acc, Info(a.shape, a.shape, F64, min(a.lo, -1.0), max(a.hi, 1.0), True))
    child.add_info(xt, Info(tail, tail, F64, e.lo, e.hi, True))
    out = _cell(child, acc, xt)
    if out is None:
        return None
    body = Block((acc, xt), tuple(child.steps), (out,))
    name = b.fresh()
    b.steps.append(ScanStep(name, Ref(elems), Ref(init), body, b.c.boolean(0.3)))
    lo, hi = child.info[out].lo, child.info[out].hi
    b.add_info(name, Info((steps,) + a.shape, (first,) + a.shape, F64, lo, hi, True))
    return name
