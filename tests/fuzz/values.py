"""What the generator knows about each value: shapes, dtype, bounds.

Shapes and dtypes come from the library's own rules: `probe` calls the API
function on `Probe` objects, whose `_gc_bind` runs the primitive's
`abstract_eval` (once with run-time shapes, once with the static graph's
shapes, where None marks a placeholder dim known only at run time).

Bounds are interval arithmetic over the values an op can produce; the
generator uses them to keep programs finite and well-conditioned (no
`exp` of large numbers, `log`/`sqrt`/`pow` only of positive values,
division only by values away from zero).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import shared_ops.api as A
from shared_ops import AbstractArray
from shared_ops.shapes import aval_of

from .program import Const

MAX_ABS = 1e3  # bound on |value| of every float value in a program
MAX_SIZE = 48  # elements per value
MAX_RANK = 4

# ops whose outputs carry no gradient: finite differences keep them fixed
FROZEN = {"sign", "zeros_like", "stop_gradient", "greater", "less", "equal", "not_equal",
          "greater_equal", "less_equal", "logical_and", "logical_or", "logical_not",
          "axis_size", "argmax", "argmin", "one_hot", "max_pool2d_argmax"}


@dataclass(frozen=True)
class Info:
    """Run-time shape, static shape, dtype, value bounds, and whether a gradient flows."""

    shape: tuple
    static: tuple
    dtype: np.dtype
    lo: float
    hi: float
    varying: bool

    @property
    def kind(self) -> str:
        return self.dtype.kind

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def fully_static(self) -> bool:
        return None not in self.static


def const_info(const: Const) -> Info:
    lo, hi = const.spec.bounds()
    shape = tuple(const.spec.shape)
    return Info(shape, shape, const.spec.dtype, lo, hi, False)


class Probe:
    """A stand-in operand: binding an op runs only its `abstract_eval`."""

    _gc_level = 99

    def __init__(self, aval: AbstractArray) -> None:
        self.aval = aval

    @property
    def shape(self) -> tuple:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @staticmethod
    def _gc_bind(prim, args, params):
        avals = [a.aval if isinstance(a, Probe) else aval_of(a) for a in args]
        return Probe(prim.abstract_eval(*avals, **params))


def probe(op: str, args: list, kwargs: dict, static: bool) -> Probe:
    """Shape and dtype of `A.<op>(*args)`; args are Infos, Consts or literals."""
    def stand_in(a):
        if isinstance(a, Info):
            return Probe(AbstractArray(a.static if static else a.shape, a.dtype))
        if isinstance(a, list):
            return [stand_in(x) for x in a]
        return a
    return getattr(A, op)(*[stand_in(a) for a in args], **kwargs)


# ---- bounds -----------------------------------------------------------------

def span(a) -> tuple[float, float]:
    if isinstance(a, Info):
        return a.lo, a.hi
    if isinstance(a, list):
        spans = [span(x) for x in a]
        return min(s[0] for s in spans), max(s[1] for s in spans)
    if isinstance(a, tuple):  # an interval
        return a
    return float(a), float(a)


def _products(a, b) -> list[float]:
    (alo, ahi), (blo, bhi) = span(a), span(b)
    return [alo * blo, alo * bhi, ahi * blo, ahi * bhi]


def _mul(a, b, same: bool = False):
    if same:
        lo, hi = span(a)
        top = max(lo * lo, hi * hi)
        return (0.0 if lo <= 0 <= hi else min(lo * lo, hi * hi)), top
    p = _products(a, b)
    return min(p), max(p)


def _div(a, b):
    blo, bhi = span(b)
    if blo <= 0 <= bhi:
        return -math.inf, math.inf
    return _mul(a, (1 / bhi, 1 / blo) if isinstance(b, Info) else 1 / blo)


def _pow(a, b):
    (alo, ahi), (blo, bhi) = span(a), span(b)
    if isinstance(b, int) and not isinstance(b, bool):
        return _mul(a, a, True) if b == 2 else (alo ** b, ahi ** b)
    if alo <= 0:
        return -math.inf, math.inf
    corners = [x ** y for x in (alo, ahi) for y in (blo, bhi)]
    return min(corners), max(corners)


def _monotone(fn):
    return lambda a: (fn(span(a)[0]), fn(span(a)[1]))


def _abs(a):
    lo, hi = span(a)
    if lo >= 0:
        return lo, hi
    return (0.0, max(-lo, hi)) if hi >= 0 else (-hi, -lo)


def _softmax(a, n: int, log: bool):
    lo, hi = span(a)
    low = 1 / (1 + (n - 1) * math.exp(min(hi - lo, 700)))
    high = 1 / (1 + (n - 1) * math.exp(lo - hi)) if n > 1 else 1.0
    return (math.log(low), math.log(high)) if log else (low, high)


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


UNARY_BOUNDS = {
    "neg": lambda a: (-span(a)[1], -span(a)[0]),
    "exp": _monotone(lambda x: math.exp(min(x, 700))),
    "log": _monotone(lambda x: math.log(x) if x > 0 else -math.inf),
    "sqrt": _monotone(lambda x: math.sqrt(x) if x >= 0 else -math.inf),
    "abs": _abs, "tanh": _monotone(math.tanh), "sigmoid": _monotone(_sigmoid),
    "relu": _monotone(lambda x: max(x, 0.0)),
    "sign": lambda a: (-1.0, 1.0), "zeros_like": lambda a: (0.0, 0.0),
    "stop_gradient": span,
}
BINARY_BOUNDS = {
    "add": lambda a, b: (span(a)[0] + span(b)[0], span(a)[1] + span(b)[1]),
    "sub": lambda a, b: (span(a)[0] - span(b)[1], span(a)[1] - span(b)[0]),
    "mul": _mul, "div": _div, "pow": _pow,
    "maximum": lambda a, b: (max(span(a)[0], span(b)[0]), max(span(a)[1], span(b)[1])),
    "minimum": lambda a, b: (min(span(a)[0], span(b)[0]), min(span(a)[1], span(b)[1])),
}
SAME_BOUNDS = {"reshape", "reshape_like", "transpose", "swapaxes", "broadcast_to",
               "expand_dims", "squeeze", "getitem", "mean", "max", "concatenate", "stack"}


def bounds(op: str, args: list, kwargs: dict, out_shape: tuple, same: bool = False):
    """Interval holding every element of `A.<op>(*args, **kwargs)`."""
    if op in NN_BOUNDS:
        return NN_BOUNDS[op](args, kwargs, out_shape)
    if op in UNARY_BOUNDS:
        return UNARY_BOUNDS[op](args[0])
    if op == "mul":
        return _mul(args[0], args[1], same)
    if op in BINARY_BOUNDS:
        return BINARY_BOUNDS[op](args[0], args[1])
    if op in SAME_BOUNDS:
        return span(args[0])
    return _other_bounds(op, args, kwargs, out_shape)


def _reduced_count(info: Info, out_shape: tuple) -> int:
    return max(1, info.size // max(1, int(np.prod(out_shape, dtype=np.int64))))


def _other_bounds(op: str, args: list, kwargs: dict, out_shape: tuple):
    x = args[0]
    if op == "add_n":
        spans = [span(part) for part in x]
        return sum(s[0] for s in spans), sum(s[1] for s in spans)
    if op in FROZEN - {"sign", "zeros_like", "stop_gradient", "axis_size"}:
        return 0.0, 1.0
    if op == "where":
        (lo1, hi1), (lo2, hi2) = span(args[1]), span(args[2])
        return min(lo1, lo2), max(hi1, hi2)
    if op == "clip":
        lo, hi = span(x)
        clip = lambda v: float(np.clip(v, kwargs.get("lo"), kwargs.get("hi")))  # noqa: E731
        return clip(lo), clip(hi)
    if op == "cast":
        lo, hi = span(x)
        kind = np.dtype(kwargs["dtype"]).kind
        return (float(math.trunc(lo)), float(math.trunc(hi))) if kind == "i" else (
            (0.0, 1.0) if kind == "b" else (lo, hi))
    if op == "sum":
        n = _reduced_count(x, out_shape)
        lo, hi = span(x)
        return n * lo, n * hi
    if op in ("softmax", "log_softmax"):
        n = x.shape[kwargs["axis"]] if x.ndim else 1
        return _softmax(x, n, op == "log_softmax")
    if op == "matmul":
        k = args[0].shape[-1]
        p = _products(args[0], args[1])
        return k * min(p), k * max(p)
    if op == "axis_size":
        n = float(np.prod([x.shape[a] for a in args[1]]))
        return n, n
    if op == "getitem_grad":
        lo, hi = span(x)
        return min(lo, 0.0), max(hi, 0.0)
    raise KeyError(f"no bounds rule for {op}")


def finite(lo: float, hi: float, limit: float = MAX_ABS) -> bool:
    return -limit <= lo <= hi <= limit


# ---- the math, reduction, indexing, einsum, convolution and pooling ops --------

def _logsumexp(args, kwargs, out_shape):
    lo, hi = span(args[0])
    return lo, hi + math.log(_reduced_count(args[0], out_shape))


def _arg_index(args, kwargs, out_shape):
    x, axis = args[0], kwargs.get("axis")
    n = x.size if axis is None else x.shape[axis]
    return 0.0, float(n - 1)


def _einsum(args, kwargs, out_shape):
    spec, operands = args[0], args[1:]
    letters = {c for c in spec if c.isalpha()}
    out = spec.split("->")[1]
    sizes = {}
    for sub, x in zip(spec.split("->")[0].split(","), operands):
        sizes.update(zip(sub, span_shape(x)))
    terms = int(np.prod([sizes[c] for c in letters - set(out)], dtype=np.int64))
    lo, hi = span(operands[0])
    corners = [lo, hi]
    for x in operands[1:]:
        xlo, xhi = span(x)
        corners = [c * v for c in corners for v in (xlo, xhi)]
    return terms * min(corners), terms * max(corners)


def span_shape(x) -> tuple:
    return x.shape if isinstance(x, Info) else np.shape(x)


def _conv2d(args, kwargs, out_shape):
    x, w = args
    terms = int(np.prod(span_shape(w)[1:]))
    p = _products(x, w) + [0.0]  # padding reads zeros
    return terms * min(p), terms * max(p)


NN_BOUNDS = {
    "log1p": lambda args, kw, out: _monotone(math.log1p)(args[0]),
    "expm1": lambda args, kw, out: _monotone(lambda x: math.expm1(min(x, 700)))(args[0]),
    "sin": lambda args, kw, out: (-1.0, 1.0), "cos": lambda args, kw, out: (-1.0, 1.0),
    "logsumexp": _logsumexp,
    "var": lambda args, kw, out: (0.0, (span(args[0])[1] - span(args[0])[0]) ** 2 / 4),
    "argmax": _arg_index, "argmin": _arg_index,
    "take": lambda args, kw, out: span(args[0]),
    "gather": lambda args, kw, out: span(args[0]),
    "one_hot": lambda args, kw, out: (0.0, 1.0),
    "einsum": _einsum,
    "add_n": lambda args, kw, out: tuple(np.sum([span(x) for x in args[0]], axis=0)),
    "conv2d": _conv2d,
    "max_pool2d": lambda args, kw, out: span(args[0]),
    "take_grad": lambda args, kw, out: _scaled(args[0], len(args[2])),
    "gather_grad": lambda args, kw, out: _scaled(args[0], np.shape(args[2])[args[3]]),
    "conv2d_input_grad": lambda args, kw, out: _summed(args[0], args[1], int(np.prod(
        span_shape(args[1])))),
    "conv2d_weight_grad": lambda args, kw, out: _summed(args[0], args[1], int(np.prod(
        span_shape(args[1]))) // max(1, span_shape(args[1])[1])),
    "max_pool2d_grad": lambda args, kw, out: _scaled(args[0], int(np.prod(kw["kernel"]))),
    "max_pool2d_pick": lambda args, kw, out: span(args[0]),
    "einsum_embed": lambda args, kw, out: _with_zero(span(args[0])),
    "max_pool2d_argmax": lambda args, kw, out: (0.0, float(np.prod(span_shape(args[0])))),
    "max_unpool2d": lambda args, kw, out: _with_zero(span(args[0])),
    "max_unpool2d_pick": lambda args, kw, out: span(args[0]),
    "max_unpool2d_scatter_add": lambda args, kw, out: _scaled(
        args[0], int(np.prod(span_shape(args[0])))),
}


def _with_zero(interval) -> tuple:
    """The interval widened to hold 0 (the zeros around written values)."""
    return min(interval[0], 0.0), max(interval[1], 0.0)


def _scaled(x, k: int):
    """Sums of up to k elements of x, or 0."""
    lo, hi = span(x)
    return min(0.0, k * lo), max(0.0, k * hi)


def _summed(a, b, terms: int):
    """Sums of up to `terms` products of an element of a and one of b (0 included)."""
    p = _products(a, b) + [0.0]
    return terms * min(p), terms * max(p)
