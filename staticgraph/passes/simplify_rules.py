"""The algebraic rewrite rules `simplify` applies, one small function each.

A rule looks at one equation (inputs already resolved) and returns None (no
change), a Var (the equation's single output *is* that value: drop the
equation), or a replacement Eqn with the same outputs. Identities apply only
when the result's static shape and dtype equal the operand's
(`same_aval`), so broadcasting or dtype promotion blocks them:
`float32 + 0.0` keeps float32 and folds, `int32 * 1.0` (float64) does not,
`x[?, 1] + zeros[1, 10]` does not. Two run-time dims (`None`) are taken to be
equal, the convention of the whole project (`grad_utils.unbroadcast`).

Exact rules (bit-for-bit the same values, NaN and Inf included):
  x*1, 1*x, x/1, x**1, x-0 -> x; neg(neg x), logical_not(logical_not b)
  -> x; abs(abs x), relu(relu x) -> the inner result; stop_gradient(x) -> x
  (gradients are already built); transpose of transpose (composed; an
  identity permutation disappears); reshape of reshape (the last shape);
  reshape/broadcast_to to the operand's own shape; cast to the same dtype;
  cast(cast(x, a), b) -> cast(x, b) when x -> a is lossless; sum/mean/max
  over no axes; expand_dims/squeeze of no axes; x[:, ...]; where(c, x, x);
  where(True, x, y) -> x and where(False, x, y) -> y (broadcast).
Equal up to the sign of zero (-0.0 + 0.0 is +0.0; the values compare equal):
  x+0, 0+x, add(g, zeros_like(y)) -> x (resp. g).
Only for ints and bools (a float x*0 is NaN for x = Inf or NaN), or for any
dtype with `unsafe=True`: x*0, 0*x -> zeros_like(x).
Not done, because they are not exact: exp(log x) (log changes the domain:
exp(log(-1)) is NaN), log(exp x) (exp overflows), x - x -> 0, x / x -> 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from shared_ops import REGISTRY, Primitive, by_primitive

from ..graph.ir import Eqn, Var
from .common import all_equal_to, literal_value, same_aval

Rewrite = Var | Eqn | None

ZEROS_LIKE = REGISTRY["zeros_like"]
BROADCAST_TO = REGISTRY["broadcast_to"]


@dataclass
class RuleContext:
    """What rules may look at: producers so far, constants, the unsafe switch."""

    producers: dict = field(default_factory=dict)
    constants: dict = field(default_factory=dict)
    unsafe: bool = False

    def value(self, x):
        """The constant (array or Python scalar) `x` is, or None; a constant
        broadcast to a shape counts as that constant (the same value everywhere)."""
        value = literal_value(x, self.constants)
        if value is None:
            spread = self.producer(x, BROADCAST_TO)
            if spread is not None:
                value = literal_value(spread.inputs[0], self.constants)
        return value

    def producer(self, x, prim: Primitive | None = None) -> Eqn | None:
        """The equation defining Var `x` (if its primitive is `prim`, when given)."""
        eqn = self.producers.get(x) if isinstance(x, Var) else None
        if eqn is None or (prim is not None and eqn.prim is not prim):
            return None
        return eqn


def _out(eqn: Eqn) -> Var:
    return eqn.outputs[0]


def _keeps(eqn: Eqn, x) -> Var | None:
    """`x` if it is a Var whose aval equals the equation's result, else None."""
    return x if isinstance(x, Var) and same_aval(x.aval, _out(eqn).aval) else None


def _identity_operand(eqn: Eqn, ctx: RuleContext, unit: float, sides=(0, 1)) -> Var | None:
    """The operand x of `op(x, unit)` (or `op(unit, x)` when side 1 is allowed)."""
    a, b = eqn.inputs
    if 1 in sides and all_equal_to(ctx.value(b), unit) and _keeps(eqn, a) is not None:
        return a
    if 0 in sides and all_equal_to(ctx.value(a), unit) and _keeps(eqn, b) is not None:
        return b
    return None


def rule_add(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    x = _identity_operand(eqn, ctx, 0)
    if x is not None:
        return x
    a, b = eqn.inputs
    for g, z in ((a, b), (b, a)):
        if ctx.producer(z, ZEROS_LIKE) is not None and _keeps(eqn, g) is not None:
            return g
    return None


def rule_sub(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    a, b = eqn.inputs
    if all_equal_to(ctx.value(b), 0) or ctx.producer(b, ZEROS_LIKE) is not None:
        return _keeps(eqn, a)
    return None


def rule_mul(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    x = _identity_operand(eqn, ctx, 1)
    if x is not None:
        return x
    a, b = eqn.inputs
    for x, z in ((a, b), (b, a)):
        if all_equal_to(ctx.value(z), 0) and _keeps(eqn, x) is not None:
            if ctx.unsafe or np.dtype(x.dtype).kind in "biu":
                return eqn.replace(prim=ZEROS_LIKE, inputs=(x,), params={})
    return None


def rule_div(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    return _identity_operand(eqn, ctx, 1, sides=(1,))


def rule_pow(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    return _identity_operand(eqn, ctx, 1, sides=(1,))


def _involution(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    inner = ctx.producer(eqn.inputs[0], eqn.prim)
    return _keeps(eqn, inner.inputs[0]) if inner is not None else None


def _idempotent(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    inner = ctx.producer(eqn.inputs[0], eqn.prim)
    return _keeps(eqn, _out(inner)) if inner is not None else None


def rule_stop_gradient(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    return _keeps(eqn, eqn.inputs[0])


def rule_transpose(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    axes = tuple(eqn.params["axes"])
    if axes == tuple(range(len(axes))):
        return _keeps(eqn, eqn.inputs[0])
    inner = ctx.producer(eqn.inputs[0], eqn.prim)
    if inner is None:
        return None
    first = tuple(inner.params["axes"])
    composed = tuple(first[a] for a in axes)
    if composed == tuple(range(len(composed))):
        return _keeps(eqn, inner.inputs[0])
    return eqn.replace(inputs=(inner.inputs[0],), params={"axes": composed})


def rule_reshape(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    x = eqn.inputs[0]
    if isinstance(x, Var) and sum(d is None for d in x.shape) <= 1:
        found = _keeps(eqn, x)
        if found is not None:
            return found
    inner = ctx.producer(x, eqn.prim)
    if inner is not None:
        return eqn.replace(inputs=(inner.inputs[0],))
    return None


def rule_broadcast_to(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    x = eqn.inputs[0]
    shape = tuple(eqn.params["shape"])
    if isinstance(x, Var) and None not in shape and tuple(x.shape) == shape:
        return _keeps(eqn, x)
    return None


def lossless(src: np.dtype, dst: np.dtype) -> bool:
    """Every value of `src` is represented exactly in `dst`."""
    src, dst = np.dtype(src), np.dtype(dst)
    if src == dst or src.kind == "b":
        return True
    if src.kind in "iu" and dst.kind in "iu":
        if src.kind == dst.kind:
            return dst.itemsize >= src.itemsize
        return src.kind == "u" and dst.itemsize > src.itemsize
    if src.kind in "iu" and dst.kind == "f":
        return np.finfo(dst).nmant + 1 >= 8 * src.itemsize - (src.kind == "i")
    return src.kind == "f" and dst.kind == "f" and dst.itemsize >= src.itemsize


def rule_cast(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    x = eqn.inputs[0]
    if isinstance(x, Var) and np.dtype(x.dtype) == np.dtype(eqn.params["dtype"]):
        return _keeps(eqn, x)
    inner = ctx.producer(x, eqn.prim)
    if inner is not None and isinstance(inner.inputs[0], Var):
        source = inner.inputs[0].dtype
        if lossless(source, inner.params["dtype"]):
            if np.dtype(source) == np.dtype(eqn.params["dtype"]):
                return _keeps(eqn, inner.inputs[0])
            return eqn.replace(inputs=(inner.inputs[0],))
    return None


def rule_no_axes(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    """sum/mean/max over (), expand_dims/squeeze of (): the operand itself."""
    axes = eqn.params.get("axis")
    if axes is not None and tuple(axes) == ():
        return _keeps(eqn, eqn.inputs[0])
    return None


def rule_getitem(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    everything = slice(None)
    index = eqn.params["index"]
    if all(item is Ellipsis or (isinstance(item, slice) and item == everything)
           for item in index):
        return _keeps(eqn, eqn.inputs[0])
    return None


def rule_where(eqn: Eqn, ctx: RuleContext) -> Rewrite:
    """where(c, x, x) -> x; where(True, x, y) -> x and where(False, x, y) -> y
    (broadcast to the result's shape when the dtype is the result's already)."""
    c, x, y = eqn.inputs
    if isinstance(x, Var) and x is y:
        return _keeps(eqn, x)
    cond = ctx.value(c)
    if cond is None or np.size(cond) != 1:
        return None
    chosen = x if bool(np.asarray(cond).reshape(())) else y
    if not isinstance(chosen, Var) or np.dtype(chosen.dtype) != np.dtype(_out(eqn).dtype):
        return None
    kept = _keeps(eqn, chosen)
    if kept is not None:
        return kept
    shape = tuple(_out(eqn).shape)
    if None in shape:
        return None
    return eqn.replace(prim=BROADCAST_TO, inputs=(chosen,), params={"shape": shape})


RULES: dict[Primitive, Callable[[Eqn, RuleContext], Rewrite]] = by_primitive({
    "add": rule_add, "sub": rule_sub, "mul": rule_mul, "div": rule_div, "pow": rule_pow,
    "neg": _involution, "logical_not": _involution, "abs": _idempotent, "relu": _idempotent,
    "stop_gradient": rule_stop_gradient, "transpose": rule_transpose, "reshape": rule_reshape,
    "broadcast_to": rule_broadcast_to, "cast": rule_cast, "sum": rule_no_axes,
    "mean": rule_no_axes, "max": rule_no_axes, "expand_dims": rule_no_axes,
    "squeeze": rule_no_axes, "getitem": rule_getitem, "where": rule_where,
})
"""The rule for each primitive, keyed by the Primitive object: a custom op that
shares a name with one of these gets no rule."""


def apply_rules(eqn: Eqn, ctx: RuleContext, limit: int = 8) -> Var | Eqn:
    """Rewrite `eqn` until no rule applies: a Var (it is that value) or an Eqn."""
    for _ in range(limit):
        rule = RULES.get(eqn.prim)
        result = rule(eqn, ctx) if rule is not None else None
        if result is None:
            return eqn
        if isinstance(result, Var):
            return result
        eqn = result
    return eqn
