"""Generators of elementwise steps, reductions, softmax and matmul.

Each generator takes a `Builder`, appends one or a few steps, and returns
the name of the value it made (None when the builder refused the step;
the caller then falls back to a simpler op). Operands are chosen so that
every op stays in its smooth domain: `log`, `sqrt` and float `pow` see
values >= 0.3, `div` divides by values whose magnitude is >= 0.3, `exp`
sees values <= 5. Kinks (abs, relu, maximum, clip, max) are left to the
run-time check in `check.py`, which skips finite differences near them.
"""

from __future__ import annotations

import numpy as np

from .builder import Builder
from .program import Ref

FLOAT = lambda i: i.kind == "f"  # noqa: E731
BOOL = lambda i: i.kind == "b"  # noqa: E731


def positive(b: Builder, low: float = 0.3) -> str | None:
    """A value whose elements are all >= low: an existing one, or a made one."""
    name = b.pick(lambda i: FLOAT(i) and i.lo >= low) if b.c.boolean(0.6) else None
    if name is not None:
        return name
    how = b.c.choice(("input", "exp_tanh", "square", "sigmoid"))
    if how == "input":
        return b.new_input(b.random_shape(), "f", "positive")
    x = Ref(b.operand(FLOAT))
    if how == "exp_tanh":
        t = b.emit("tanh", [x])
        return t and b.emit("exp", [Ref(t)])
    if how == "square":
        sq = b.emit("mul", [x, x], same=True)
        return sq and b.emit("add", [Ref(sq), 0.5])
    s = b.emit("sigmoid", [x])
    return s and b.emit("add", [Ref(s), 0.5])


def bounded(b: Builder, limit: float = 5.0) -> str | None:
    """A float value with hi <= limit (exp's operand)."""
    name = b.pick(lambda i: FLOAT(i) and i.hi <= limit)
    if name is None or not b.c.boolean(0.7):
        name = b.emit("tanh", [Ref(b.operand(FLOAT))])
    return name


def unary(op: str):
    def gen(b: Builder) -> str | None:
        if op in ("log", "sqrt"):
            x = positive(b)
        elif op == "exp":
            x = bounded(b)
        else:
            x = b.operand(FLOAT)
        return x and b.emit(op, [Ref(x)])
    gen.__name__ = f"gen_{op}"
    return gen


def binary(op: str):
    """add, sub, mul, maximum, minimum with a broadcasting partner."""
    def gen(b: Builder) -> str | None:
        x = Ref(b.operand(FLOAT))
        if op == "mul" and b.c.boolean(0.15):
            return b.emit("mul", [x, x], same=True)
        y = b.partner(b.info[x.name])
        args = [y, x] if b.c.boolean(0.4) else [x, y]
        return b.emit(op, args)
    gen.__name__ = f"gen_{op}"
    return gen


def gen_div(b: Builder) -> str | None:
    den = positive(b)
    if den is None:
        return None
    if b.c.boolean(0.3):
        den = b.emit("neg", [Ref(den)])
    num = b.partner(b.info[den]) if b.c.boolean(0.7) else b.c.choice((1.0, 2))
    return b.emit("div", [num, Ref(den)])


def gen_pow(b: Builder) -> str | None:
    mode = b.c.choice(("int_exponent", "positive_base", "scalar_base"))
    if mode == "int_exponent":
        return b.emit("pow", [Ref(b.operand(FLOAT)), b.c.choice((2, 3))])
    if mode == "positive_base":
        base = positive(b)
        if base is None:
            return None
        exponent = b.partner(b.info[base]) if b.c.boolean(0.6) else b.c.choice((0.5, 1.5, -1.0))
        return b.emit("pow", [Ref(base), exponent])
    exponent = bounded(b, 4.0)
    return exponent and b.emit("pow", [2.0, Ref(exponent)])


def compare(op: str):
    def gen(b: Builder) -> str | None:
        x = Ref(b.operand(FLOAT))
        return b.emit(op, [x, b.partner(b.info[x.name])])
    gen.__name__ = f"gen_{op}"
    return gen


def boolean_value(b: Builder) -> str | None:
    name = b.pick(BOOL) if b.c.boolean(0.5) else None
    if name is None:
        op = b.c.choice(("greater", "less", "greater_equal", "less_equal", "equal",
                         "not_equal"))
        name = compare(op)(b)
    return name


def logical(op: str):
    def gen(b: Builder) -> str | None:
        x = boolean_value(b)
        if x is None or op == "logical_not":
            return x and b.emit(op, [Ref(x)])
        y = b.pick(lambda i: BOOL(i) and _broadcasts(b.info[x], i)) or boolean_value(b)
        return y and b.emit(op, [Ref(x), Ref(y)])
    gen.__name__ = f"gen_{op}"
    return gen


def _broadcasts(a, c) -> bool:
    try:
        return int(np.prod(np.broadcast_shapes(a.shape, c.shape))) <= 48
    except ValueError:
        return False


def gen_where(b: Builder) -> str | None:
    cond = boolean_value(b)
    if cond is None:
        return None
    x = b.partner(b.info[cond])
    if not isinstance(x, Ref) or b.info[x.name].kind != "f":
        x = Ref(b.operand(FLOAT))
        if not _broadcasts(b.info[cond], b.info[x.name]):
            return None
    y = b.partner(b.info[x.name]) if b.c.boolean(0.7) else 0.0
    args = [Ref(cond), x, y] if b.c.boolean(0.5) else [Ref(cond), y, x]
    return b.emit("where", args)


CLIP_BOUNDS = ((-0.5, 0.5), (None, 0.5), (-1.0, None), (0.0, 1.5))


def gen_clip(b: Builder) -> str | None:
    lo, hi = b.c.choice(CLIP_BOUNDS)
    return b.emit("clip", [Ref(b.operand(FLOAT))], {"lo": lo, "hi": hi})


def gen_cast(b: Builder) -> str | None:
    source = b.c.choice(("f", "b", "i"))
    x = b.operand(lambda i: i.kind == source, kind=source)
    targets = ("float64", "int64", "bool") if source == "f" else ("float64",)
    cast = b.emit("cast", [Ref(x)], {"dtype": np.dtype(b.c.choice(targets))})
    if cast is None or b.info[cast].kind == "f" or b.c.boolean(0.2):
        return cast
    other = b.pick(lambda i: FLOAT(i) and _broadcasts(i, b.info[cast])) or x
    return b.emit(b.c.choice(("mul", "add")), [Ref(other), Ref(cast)])  # mixed dtypes


def _axes(b: Builder, ndim: int):
    """None, an int (maybe negative), or a tuple of distinct axes (maybe empty)."""
    how = b.c.choice(("none", "int", "tuple"))
    if how == "none" or ndim == 0:
        return None if how != "tuple" else ()
    if how == "int":
        axis = b.c.integer(0, ndim - 1)
        return axis - ndim if b.c.boolean(0.3) else axis
    return tuple(a for a in range(ndim) if b.c.boolean(0.5))


def reduction(op: str):
    def gen(b: Builder) -> str | None:
        x = b.operand(BOOL, kind="b") if op == "sum" and b.c.boolean(0.15) else \
            b.operand(FLOAT)
        axis = _axes(b, b.info[x].ndim)
        return b.emit(op, [Ref(x)], {"axis": axis, "keepdims": b.c.boolean(0.4)})
    gen.__name__ = f"gen_{op}"
    return gen


def softmax(op: str):
    def gen(b: Builder) -> str | None:
        x = b.operand(lambda i: FLOAT(i) and i.ndim >= 1)
        ndim = b.info[x].ndim
        if ndim == 0:
            return None
        axis = b.c.integer(-ndim, ndim - 1)
        return b.emit(op, [Ref(x)], {"axis": axis})
    gen.__name__ = f"gen_{op}"
    return gen


def array_operand(b: Builder, shape: tuple):
    """A float operand of exactly `shape`: an existing value, a new input or a constant."""
    found = b.pick(lambda i: FLOAT(i) and i.shape == shape)
    if found and b.c.boolean(0.5):
        return Ref(found)
    return b.const(shape) if b.c.boolean(0.3) else Ref(b.new_input(shape))


def gen_matmul(b: Builder) -> str | None:
    """x @ y or y @ x, with NumPy's vector cases and broadcast batch dims."""
    x = b.operand(lambda i: FLOAT(i) and i.ndim >= 1)
    xs = b.info[x].shape
    if not xs:
        return None
    batch = tuple(1 if b.c.boolean(0.3) else d for d in xs[:-2]) if b.c.boolean(0.5) else ()
    if b.c.boolean(0.7):  # x @ y: y's first matrix dim is x's last
        vector = b.c.boolean(0.25)
        y = array_operand(b, (xs[-1],) if vector else batch + (xs[-1], b.c.integer(1, 3)))
        return b.emit("matmul", [Ref(x), y])
    inner = xs[-2] if len(xs) >= 2 else xs[0]  # y @ x: y's last dim is x's first matrix dim
    vector = b.c.boolean(0.25)
    y = array_operand(b, (inner,) if vector else batch + (b.c.integer(1, 3), inner))
    return b.emit("matmul", [y, Ref(x)])


GENERATORS = {
    **{op: binary(op) for op in ("add", "sub", "mul", "maximum", "minimum")},
    "div": gen_div, "pow": gen_pow, "where": gen_where, "clip": gen_clip, "cast": gen_cast,
    **{op: unary(op) for op in ("neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid",
                                "relu", "sign", "zeros_like", "stop_gradient")},
    **{op: compare(op) for op in ("greater", "less", "equal", "not_equal", "greater_equal",
                                  "less_equal")},
    **{op: logical(op) for op in ("logical_and", "logical_or", "logical_not")},
    **{op: reduction(op) for op in ("sum", "mean", "max")},
    **{op: softmax(op) for op in ("softmax", "log_softmax")},
    "matmul": gen_matmul,
}
