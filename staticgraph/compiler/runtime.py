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
from numba.core.imputils import impl_ret_borrowed
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
        py_fn = prim.scalar(**params) if prim.scalar_factory else prim.scalar
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
def prefer_wide_vectors(typingctx):
    """Emits nothing; asks LLVM to vectorise the function it is called in with
    the CPU's widest registers (512 bits with AVX-512).

    LLVM's tuning for several AVX-512 CPUs prefers 256-bit vectors (a guard
    against lower clock speeds on the first AVX-512 parts); loops of vector
    math are bound by arithmetic throughput, which 512-bit lanes double.
    The generated kernels call it inside their loops (so it also reaches the
    loop bodies Numba outlines for `prange`) when the CPU has AVX-512.
    """
    def codegen(context, builder, sig, args):
        # llvmlite's attribute set accepts only enum attributes by name;
        # a string attribute is written as it appears in LLVM IR.
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()
    return types.none(), codegen


@intrinsic
def f32_from_int_bits(typingctx, value):
    """The float32 whose bit pattern is the int32 value of the integer-valued
    float32 `value` (one vector convert, no 64-bit integers: builds 2**n)."""
    if value != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(builder.fptosi(args[0], ir.IntType(32)), ir.FloatType())
    return types.float32(types.float32), codegen


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


@intrinsic
def unit_stride_row(typingctx, row):
    """The 1-D array `row` typed C-contiguous (Numba layout 'C'), no copy.

    A row of a strided view (a column slice `z[:, a:b]`) has layout 'A',
    whose element addresses Numba computes with integer arithmetic that
    LLVM does not vectorise; typed 'C' it is indexed like any contiguous
    array. The caller guarantees that the row's elements are adjacent.
    """
    if not isinstance(row, types.Array) or row.ndim != 1:
        return None
    result = row.copy(layout="C")

    def codegen(context, builder, sig, args):
        return impl_ret_borrowed(context, builder, sig.return_type, args[0])
    return result(row), codegen
