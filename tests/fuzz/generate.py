"""Random well-typed programs over the whole shared op list, and their strategy.

`generate_program(chooser)` builds a program step by step: each step picks
an op (simple ones first, so hypothesis shrinks towards them), and the op's
generator picks operands. A step the builder refuses falls back to `tanh`
of some float value, which always fits. `programs()` is the hypothesis
strategy.
"""

from __future__ import annotations

from hypothesis import strategies as st

import staticgraph as sg

from . import gen_control, gen_elementwise, gen_shape
from .builder import Builder
from .choose import Chooser, HypothesisChooser
from .program import Block, Program, Ref, refs_of, walk

GENERATORS = {**gen_elementwise.GENERATORS, **gen_shape.GENERATORS,
              "cond": lambda b: (gen_control.gen_cond(b) or [None])[-1],
              "scan": gen_control.gen_scan}

# Most common first: hypothesis shrinks a choice towards the front of the list.
OP_ORDER = (
    "add", "mul", "sub", "tanh", "sum", "matmul", "getitem", "div", "exp", "log", "sqrt",
    "neg", "sigmoid", "relu", "abs", "pow", "maximum", "minimum", "where", "clip", "mean",
    "max", "softmax", "log_softmax", "reshape", "transpose", "broadcast_to", "expand_dims",
    "squeeze", "concatenate", "stack", "swapaxes", "cond", "scan", "cast", "greater", "less",
    "equal", "not_equal", "greater_equal", "less_equal", "logical_and", "logical_or",
    "logical_not", "sign", "zeros_like", "stop_gradient", "reshape_like", "axis_size",
    "getitem_grad", "add_n",
)
assert set(OP_ORDER) == set(GENERATORS), set(OP_ORDER) ^ set(GENERATORS)


def scan_available() -> bool:
    """Whether staticgraph has `scan` yet (programs with scan are built only then)."""
    return callable(getattr(sg, "scan", None))


def generate_program(c: Chooser, max_steps: int = 12, allow_scan: bool | None = None,
                     require: str | None = None) -> Program:
    """A random program of 1..max_steps generator calls (the first one `require`,
    if given; scan only if `allow_scan`, by default when sg.scan exists)."""
    allow_scan = scan_available() if allow_scan is None else allow_scan
    ops = tuple(op for op in OP_ORDER if allow_scan or op != "scan")
    b = Builder(c, seed=c.integer(0, 999))
    b.new_input(b.random_shape())
    last = GENERATORS[require](b) if require else None
    for _ in range(max_steps):  # a "more?" draw per step shrinks better than a count
        if last is not None and not c.boolean(0.85):
            break
        made = GENERATORS[c.choice(ops)](b)
        if made is None:
            made = b.emit("tanh", [Ref(b.operand(lambda i: i.kind == "f"))])
        last = made or last
    outputs = _outputs(b, last)
    return Program(tuple(b.inputs), Block((), tuple(b.steps), outputs), b.seed)


def _outputs(b: Builder, last: str | None) -> tuple[str, ...]:
    """The last float value made, plus up to two values of the top block nothing uses."""
    made = [s.out for s in b.steps if hasattr(s, "out")]
    made += [o for s in b.steps if hasattr(s, "outs") for o in s.outs]
    if last is None or b.info[last].kind != "f":
        floats = [n for n in made if b.info[n].kind == "f"]
        last = floats[-1] if floats else b.emit("tanh", [Ref(b.operand())])
    used = {r.name for step in walk(Block((), tuple(b.steps), ())) for r in refs_of(step)}
    sinks = [n for n in made if n not in used and n != last]
    outs = [last]
    for _ in range(min(2, len(sinks))):
        name = b.c.choice(sinks)
        if name not in outs:
            outs.append(name)
    return tuple(outs)


@st.composite
def programs(draw, max_steps: int = 12, allow_scan: bool | None = None,
             require: str | None = None) -> Program:
    """Hypothesis strategy of random programs (shrinks to fewer, simpler steps)."""
    return generate_program(HypothesisChooser(draw), max_steps, allow_scan, require)
