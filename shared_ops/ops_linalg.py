"""matmul (2-D, batched, NumPy's vector cases) and einsum."""

from __future__ import annotations

import numpy as np

from . import api as A
from .errors import ShapeError
from .grad_utils import expand_to, unbroadcast
from .primitive import Primitive, register
from .shapes import AbstractArray, broadcast_shapes, dtype_of, result_dtype, shape_of


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
#
# A letter may repeat within one operand ("ii->i" reads the diagonal, "ii->"
# the trace) and a size-1 dim broadcasts against the same letter's size in
# another operand (NumPy's and PyTorch's rules). The VJP of an operand is an
# einsum of the cotangent with the other operands over the operand's distinct
# letters, summed down where the operand was broadcast, then written back
# onto its diagonal by `einsum_embed` when a letter repeats.

def parse_spec(spec: str) -> tuple[list[str], str]:
    """'ij,jk->ik' -> (['ij', 'jk'], 'ik')."""
    ins, out = spec.split("->")
    return ins.split(","), out


def distinct(sub: str) -> str:
    """The letters of `sub` in order of first appearance ('iij' -> 'ij')."""
    return "".join(dict.fromkeys(sub))


def _operand_sizes(sub: str, shape: tuple, spec: str) -> dict:
    """{letter: size} of one operand; a repeated letter must name equal sizes."""
    if len(sub) != len(shape):
        raise ShapeError(f"einsum: subscripts '{sub}' need a {len(sub)}-d operand, got "
                         f"shape {shape}")
    sizes: dict = {}
    for letter, d in zip(sub, shape):
        known = sizes.get(letter, d)
        if d is not None and known is not None and d != known:
            raise ShapeError(f"einsum: '{letter}' repeats in '{sub}' over dims of sizes "
                             f"{known} and {d} (shape {shape}, in '{spec}')")
        sizes[letter] = d if known is None else known
    return sizes


def letter_sizes(spec: str, shapes: list) -> dict:
    """{letter: size} over all operands, size-1 dims broadcast (None: unknown)."""
    subs, _ = parse_spec(spec)
    sizes: dict = {}
    for sub, shape in zip(subs, shapes):
        for letter, d in _operand_sizes(sub, tuple(shape), spec).items():
            if letter not in sizes or sizes[letter] == 1:
                sizes[letter] = d
            elif d is not None and d != 1 and sizes[letter] not in (None, d):
                raise ShapeError(f"einsum: '{letter}' has size {sizes[letter]} and {d} in "
                                 f"'{spec}'")
    return sizes


def _einsum_eval(*xs, spec):
    subs, out = parse_spec(spec)
    if len(subs) != len(xs):
        raise ShapeError(f"einsum: '{spec}' names {len(subs)} operands, got {len(xs)}")
    sizes = letter_sizes(spec, [shape_of(x) for x in xs])
    if len(set(out)) != len(out) or any(letter not in sizes for letter in out):
        raise ShapeError(f"einsum: output subscripts '{out}' must be distinct letters "
                         "of the inputs")
    return AbstractArray(tuple(sizes[letter] for letter in out), result_dtype("einsum", *xs))


def _einsum_impl(*xs, spec):
    """A new array (NumPy returns a view for a pure permutation such as 'ij->ji')."""
    out = np.asarray(np.einsum(spec, *xs, optimize=len(xs) > 2))
    return out.copy() if any(np.may_share_memory(out, x) for x in xs) else out


def _einsum_vjp(g, out, *xs, needs, spec):
    subs, out_sub = parse_spec(spec)
    sizes = letter_sizes(spec, [shape_of(x) for x in xs])
    grads = []
    for i, (sub, x) in enumerate(zip(subs, xs)):
        if not needs[i]:
            grads.append(None)
            continue
        others = [(s, y) for j, (s, y) in enumerate(zip(subs, xs)) if j != i]
        seen = set(out_sub).union(*[set(s) for s, _ in others])
        kept = "".join(letter for letter in distinct(sub) if letter in seen)
        spec_i = ",".join([out_sub] + [s for s, _ in others]) + "->" + kept
        grad = A.einsum(spec_i, g, *[y for _, y in others])
        own = dict(zip(sub, shape_of(x)))
        summed = tuple(k for k, letter in enumerate(kept)
                       if own[letter] == 1 and sizes[letter] != 1)
        if summed:  # x was broadcast along these letters
            grad = A.sum(grad, summed, keepdims=True)
        if distinct(sub) != sub:  # a repeated letter: onto the diagonal
            grad = A.einsum_embed(grad, x, spec=f"{kept}->{sub}")
        elif kept != sub:  # letters summed within operand i alone: broadcast back
            dropped = tuple(k for k, letter in enumerate(sub) if letter not in seen)
            grad = expand_to(A.expand_dims(grad, dropped), x)
        grads.append(grad)
    return tuple(grads)


def _embed_eval(g, x, *, spec):
    kept, sub = spec.split("->")
    sizes = _operand_sizes(sub, shape_of(x), spec)
    want = tuple(sizes[letter] for letter in kept)
    if any(a is not None and b is not None and a != b
           for a, b in zip(want, shape_of(g))) or len(want) != len(shape_of(g)):
        raise ShapeError(f"einsum_embed: g of shape {shape_of(g)} does not fit '{kept}' "
                         f"of x's shape {shape_of(x)}")
    return AbstractArray(shape_of(x), dtype_of(g))


def _embed_impl(g, x, *, spec):
    """Zeros shaped like x; at each position whose repeated letters agree, g at
    that position's letters of `kept` (g broadcast along the letters it lacks)."""
    kept, sub = spec.split("->")
    letters = distinct(sub)
    sizes = dict(zip(sub, np.shape(x)))
    shape = tuple(sizes[letter] for letter in letters)
    g = np.asarray(g)
    full = np.broadcast_to(np.expand_dims(g, tuple(
        k for k, letter in enumerate(letters) if letter not in kept)), shape)
    grids = np.indices(shape, sparse=True)
    out = np.zeros(np.shape(x), dtype=g.dtype)
    out[tuple(grids[letters.index(letter)] for letter in sub)] = full
    return out


einsum = register(Primitive(
    name="einsum", impl=_einsum_impl, abstract_eval=_einsum_eval, vjp=_einsum_vjp,
    doc="Einstein summation with explicit output subscripts"))
einsum_embed = register(Primitive(
    name="einsum_embed", impl=_embed_impl, abstract_eval=_embed_eval, shape_only=(1,),
    vjp=lambda gg, out, g, x, *, needs, spec: (
        A.einsum(spec.split("->")[1] + "->" + spec.split("->")[0], gg), None),
    doc="g written onto the diagonal of zeros shaped like x, broadcast along the "
        "letters it lacks (einsum's VJP for an operand with a repeated letter)"))
