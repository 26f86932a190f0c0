"""matmul (2-D, batched, NumPy's vector cases) and einsum."""

from __future__ import annotations

import numpy as np

from . import api as A
from .errors import ShapeError
from .grad_utils import expand_to, unbroadcast
from .primitive import Primitive, register
from .shapes import AbstractArray, broadcast_shapes, result_dtype, shape_of


def _matmul_eval(a, b):
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ShapeError(f"matmul: operands must be at least 1-d, got {sa} and {sb}")
    ma = (1,) + sa if len(sa) == 1 else sa
    mb = sb + (1,) if len(sb) == 1 else sb
    k1, k2 = ma[-1], mb[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise ShapeError(f"matmul: inner dims differ: {sa} @ {sb}")
    batch = broadcast_shapes("matmul", ma[:-2], mb[:-2])
    out = batch + (ma[-2], mb[-1])
    if len(sa) == 1:
        out = out[:-2] + out[-1:]
    if len(sb) == 1:
        out = out[:-1]
    return AbstractArray(out, result_dtype("matmul", a, b))


def _matmul_vjp(g, out, a, b, *, needs):
    va, vb = len(shape_of(a)) == 1, len(shape_of(b)) == 1
    if not (va or vb):  # matrices (batched or not): the common case, said plainly
        return (unbroadcast(A.matmul(g, A.matrix_transpose(b)), a) if needs[0] else None,
                unbroadcast(A.matmul(A.matrix_transpose(a), g), b) if needs[1] else None)
    if va and vb:
        return (A.mul(g, b) if needs[0] else None, A.mul(g, a) if needs[1] else None)
    a2 = A.expand_dims(a, (0,)) if va else a
    b2 = A.expand_dims(b, (1,)) if vb else b
    g2 = g
    if va:
        g2 = A.expand_dims(g2, (len(shape_of(g2)) - 1,))
    if vb:
        g2 = A.expand_dims(g2, (len(shape_of(g2)),))
    ga = gb = None
    if needs[0]:
        ga = unbroadcast(A.matmul(g2, A.matrix_transpose(b2)), a2)
        ga = A.squeeze(ga, (0,)) if va else ga
    if needs[1]:
        gb = unbroadcast(A.matmul(A.matrix_transpose(a2), g2), b2)
        gb = A.squeeze(gb, (1,)) if vb else gb
    return ga, gb


def _matmul_impl(a, b):
    """np.matmul; 2-D arrays take ndarray.dot, the same BLAS call with about a
    third of the dispatch cost (small matrices, as in an RNN step, pay it)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2:
        return a.dot(b)
    return np.matmul(a, b)


matmul = register(Primitive(
    name="matmul", impl=_matmul_impl, abstract_eval=_matmul_eval, vjp=_matmul_vjp,
    doc="matrix product with NumPy's matmul semantics"))


# ---- einsum: explicit subscripts ("ij,jk->ik"), normalised by the API ------

def parse_spec(spec: str) -> tuple[list[str], str]:
    """'ij,jk->ik' -> (['ij', 'jk'], 'ik')."""
    ins, out = spec.split("->")
    return ins.split(","), out


def _einsum_eval(*xs, spec):
    subs, out = parse_spec(spec)
    if len(subs) != len(xs):
        raise ShapeError(f"einsum: '{spec}' names {len(subs)} operands, got {len(xs)}")
    sizes: dict = {}
    for sub, x in zip(subs, xs):
        shape = shape_of(x)
        if len(sub) != len(shape):
            raise ShapeError(f"einsum: subscripts '{sub}' need a {len(sub)}-d operand, got "
                             f"shape {shape}")
        if len(set(sub)) != len(sub):
            raise ShapeError(f"einsum: subscripts '{sub}' repeat a letter within one "
                             "operand (diagonals and traces are not supported)")
        for letter, d in zip(sub, shape):
            known = sizes.get(letter)
            if d is not None and known is not None and d != known:
                raise ShapeError(f"einsum: '{letter}' has size {known} and {d} in '{spec}'")
            if known is None:
                sizes[letter] = d
    if len(set(out)) != len(out) or any(letter not in sizes for letter in out):
        raise ShapeError(f"einsum: output subscripts '{out}' must be distinct letters "
                         "of the inputs")
    return AbstractArray(tuple(sizes[letter] for letter in out), result_dtype("einsum", *xs))


def _einsum_impl(*xs, spec):
    return np.asarray(np.einsum(spec, *xs, optimize=len(xs) > 2))


def _einsum_vjp(g, out, *xs, needs, spec):
    subs, out_sub = parse_spec(spec)
    grads = []
    for i, (sub, x) in enumerate(zip(subs, xs)):
        if not needs[i]:
            grads.append(None)
            continue
        others = [(s, y) for j, (s, y) in enumerate(zip(subs, xs)) if j != i]
        seen = set(out_sub).union(*[set(s) for s, _ in others])
        kept = "".join(letter for letter in sub if letter in seen)
        spec_i = ",".join([out_sub] + [s for s, _ in others]) + "->" + kept
        grad = A.einsum(spec_i, g, *[y for _, y in others])
        if kept != sub:  # letters summed within operand i alone: broadcast back
            dropped = tuple(k for k, letter in enumerate(sub) if letter not in seen)
            grad = expand_to(A.expand_dims(grad, dropped), x)
        grads.append(grad)
    return tuple(grads)


einsum = register(Primitive(
    name="einsum", impl=_einsum_impl, abstract_eval=_einsum_eval, vjp=_einsum_vjp,
    doc="Einstein summation with explicit output subscripts"))
