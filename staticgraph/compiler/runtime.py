"""What generated CPU modules import at run time.

`scalar_fn(name, **params)` gives the njit-compiled `scalar` function of a
shared_ops primitive (memoised per process), for ops the generator calls
rather than inlines. `select` and the bit casts are LLVM intrinsics the
vector-math functions use to stay branch-free (so loops vectorise).
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from shared_ops import REGISTRY

NJIT_OPTIONS: dict[str, Any] = {"error_model": "numpy"}
_SCALAR_FNS: dict[tuple, Any] = {}


def scalar_fn(name: str, **params: Any) -> Any:
    """The njit-compiled per-element function of primitive `name`."""
    key = (name, tuple(sorted(params.items())))
    fn = _SCALAR_FNS.get(key)
    if fn is None:
        prim = REGISTRY[name]
        py_fn = prim.scalar(**params) if prim.extra.get("scalar_factory") else prim.scalar
        fn = _SCALAR_FNS[key] = njit(**NJIT_OPTIONS)(py_fn)
    return fn


@intrinsic
def select(typingctx, cond, a, b):
    """`a if cond else b` as one LLVM `select` (no branch, vectorisable)."""
    ty = typingctx.unify_types(a, b)
    if ty is None:
        return None

    def codegen(context, builder, sig, args):
        c = context.cast(builder, args[0], sig.args[0], types.boolean)
        x = context.cast(builder, args[1], sig.args[1], ty)
        y = context.cast(builder, args[2], sig.args[2], ty)
        return builder.select(c, x, y)
    return ty(cond, a, b), codegen


@intrinsic
def f64_from_bits(typingctx, bits):
    """Reinterpret an int64 as a float64 (used to build 2**n)."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def f32_from_bits(typingctx, bits):
    """Reinterpret an int32 as a float32 (used to build 2**n)."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def radd(typingctx, acc, value):
    """`acc + value` as an `fadd reassoc`: lets LLVM vectorise a float sum.

    Only this one addition may be reordered; the element math around it keeps
    strict IEEE semantics (a kernel-wide `fastmath` would not).
    """
    if not isinstance(acc, types.Float):
        return None

    def codegen(context, builder, sig, args):
        v = context.cast(builder, args[1], sig.args[1], sig.args[0])
        return builder.fadd(args[0], v, flags=("reassoc",))
    return acc(acc, value), codegen
