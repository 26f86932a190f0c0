"""Engine-neutral API of the reductions, indexing, einsum, convolution and
pooling ops that neural-network programs use (part of `shared_ops.api`).

As in `api.py`, parameters are normalised here (axes to ints or sorted
tuples, einsum subscripts to explicit form, convolution sizes to pairs).
"""

from __future__ import annotations

import string

import numpy as np

from .errors import ShapeError
from .primitive import REGISTRY as P
from .primitive import bind
from .shapes import at_user, normalize_axes, normalize_axis, shape_of


def _reduce(name: str, x, axis, keepdims: bool, **params):
    axes = normalize_axes(name, axis, len(shape_of(x)))
    return bind(P[name], x, axis=axes, keepdims=bool(keepdims), **params)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over axis, without overflow."""
    return _reduce("logsumexp", x, axis, keepdims)


def var(x, axis=None, keepdims=False, correction=1):
    """Variance over axis, dividing by N - correction (1: unbiased, 0: population)."""
    return _reduce("var", x, axis, keepdims, correction=correction)


def std(x, axis=None, keepdims=False, correction=1):
    """Standard deviation: sqrt(var(x, axis, keepdims, correction))."""
    return bind(P["sqrt"], var(x, axis, keepdims, correction))


def moments(x, axes, keepdims=False):
    """(mean, population variance) over axes (TF's tf.nn.moments)."""
    return _reduce("mean", x, axes, keepdims), var(x, axes, keepdims, correction=0)


def _arg(name: str, x, axis, keepdims):
    if axis is not None:
        axis = normalize_axis(name, int(axis), len(shape_of(x)))
    return bind(P[name], x, axis=axis, keepdims=bool(keepdims))


def argmax(x, axis=None, keepdims=False):
    """Index of the largest value along axis (None: in the flattened array), int64."""
    return _arg("argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the smallest value along axis (None: in the flattened array), int64."""
    return _arg("argmin", x, axis, keepdims)


def take(x, indices, axis=0):
    """x indexed along axis by an integer array: shape x[:axis] + indices + x[axis+1:]."""
    return bind(P["take"], x, indices, axis=normalize_axis("take", axis, len(shape_of(x))))


def take_grad(g, x, indices, axis):
    """Zeros shaped like x with g scatter-added along axis at indices (take's VJP)."""
    return bind(P["take_grad"], g, x, indices, axis=axis)


def gather(x, index, axis):
    """PyTorch's gather: `out[i][j] = x[i][index[i][j]]` for axis 1 (index as x's rank)."""
    return bind(P["gather"], x, index, axis=normalize_axis("gather", axis, len(shape_of(x))))


def gather_grad(g, x, index, axis):
    """Zeros shaped like x with g scatter-added where gather read (gather's VJP)."""
    return bind(P["gather_grad"], g, x, index, axis=axis)


def one_hot(indices, depth, dtype=np.float32):
    """One-hot vectors of length depth on a new last axis (out-of-range: zeros)."""
    if int(depth) < 0:
        raise ShapeError(f"one_hot: depth must be >= 0, got {depth}{at_user()}")
    return bind(P["one_hot"], indices, depth=int(depth), dtype=np.dtype(dtype))


def split(x, sizes, axis=0):
    """Pieces of x along axis, of the given sizes (which must add up to the dim)."""
    shape = shape_of(x)
    axis = normalize_axis("split", axis, len(shape))
    sizes = [int(s) for s in sizes]
    if shape[axis] is None:
        raise ShapeError(f"split: axis {axis} has a size known only at run time{at_user()}")
    if any(s < 0 for s in sizes) or sum(sizes) != shape[axis]:
        raise ShapeError(f"split: sizes {sizes} do not add up to {shape[axis]}, the size of "
                         f"axis {axis}{at_user()}")
    pieces, start = [], 0
    for s in sizes:
        index = (slice(None),) * axis + (slice(start, start + s),)
        pieces.append(bind(P["getitem"], x, index=index))
        start += s
    return pieces


def bmm(a, b):
    """Batched matrix product of (B, N, M) and (B, M, P) arrays."""
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) != 3 or len(sb) != 3:
        raise ShapeError(f"bmm: expects 3-d operands, got shapes {sa} and {sb}{at_user()}")
    if sa[0] is not None and sb[0] is not None and sa[0] != sb[0]:
        raise ShapeError(f"bmm: batch sizes differ: {sa} and {sb}{at_user()}")
    return bind(P["matmul"], a, b)


def einsum(spec: str, *xs):
    """Einstein summation (NumPy's subscripts, `...` and implicit output included)."""
    return bind(P["einsum"], *xs, spec=normalize_einsum(spec, [shape_of(x) for x in xs]))


def einsum_args(args: tuple) -> tuple[str, list]:
    """(equation, operands) of either einsum call form: ('ij,jk', a, b), or NumPy's
    and PyTorch's sublists (a, [0, 1], b, [1, 2], [0, 2]): operand, sublist pairs
    and an optional output sublist, ints 0-25 naming 'A'-'Z', 26-51 'a'-'z', and
    `...` (Ellipsis) the broadcast dims."""
    if args and isinstance(args[0], str):
        return args[0], list(args[1:])
    if len(args) < 2:
        raise ShapeError(f"einsum: needs an equation string or operand, sublist pairs, "
                         f"got {len(args)} arguments{at_user()}")
    operands = list(args[0:len(args) - len(args) % 2:2])
    subs = [_sublist(args[i], f"operand {i // 2}'s sublist") for i in range(1, len(args), 2)]
    out = _sublist(args[-1], "the output sublist") if len(args) % 2 else None
    spec = ",".join(subs) + ("" if out is None else "->" + out)
    return spec, operands


def _sublist(sub, what: str) -> str:
    """A sublist of ints in [0, 52) and Ellipsis as subscript letters."""
    if not isinstance(sub, (list, tuple)):
        raise ShapeError(f"einsum: {what} must be a list of ints and ..., got "
                         f"{type(sub).__name__}{at_user()}")
    letters = []
    for s in sub:
        if s is Ellipsis:
            letters.append("...")
        elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and 0 <= s < 52:
            letters.append(string.ascii_uppercase[s] if s < 26 else
                           string.ascii_lowercase[s - 26])
        else:
            raise ShapeError(f"einsum: {what} has {s!r}; its entries must be ints in "
                             f"[0, 52) or ...{at_user()}")
    return "".join(letters)


def einsum_embed(g, x, spec: str):
    """Zeros shaped like x with g on the diagonal that x's subscripts name:
    spec 'ij->iij' writes g[i, j] at [i, i, j] (einsum's VJP for repeated letters)."""
    return bind(P["einsum_embed"], g, x, spec=spec)


def normalize_einsum(spec: str, shapes: list) -> str:
    """'...ij,...jk' -> 'abij,abjk->abik': explicit output, ellipses spelled out."""
    spec = spec.replace(" ", "")
    ins, arrow, out = spec.partition("->")
    subs = ins.split(",")
    letters = set(spec) - set(",->.")
    if any(c not in string.ascii_letters for c in letters) or len(subs) != len(shapes):
        raise ShapeError(f"einsum: bad subscripts '{spec}' for {len(shapes)} operands"
                         f"{at_user()}")
    spare = [c for c in string.ascii_letters if c not in letters]
    widths = [len(shape) - (len(sub) - 3) if "..." in sub else 0
              for sub, shape in zip(subs, shapes)]
    if min(widths, default=0) < 0:
        raise ShapeError(f"einsum: '{spec}' names more dims than an operand has{at_user()}")
    ellipsis = "".join(spare[:max(widths, default=0)])
    subs = [sub.replace("...", ellipsis[len(ellipsis) - w:]) for sub, w in zip(subs, widths)]
    if arrow:
        out = out.replace("...", ellipsis)
    else:
        once = [c for c in letters if "".join(subs).count(c) == 1]
        out = ellipsis + "".join(sorted(once))
    return ",".join(subs) + "->" + out


def _pair(name: str, value, what: str) -> tuple:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(not isinstance(v, (int, np.integer)) for v in pair):
        raise ShapeError(f"{name}: {what} must be an int or a pair of ints, got {value!r}"
                         f"{at_user()}")
    return tuple(int(v) for v in pair)


def window_params(name: str, stride, padding, dilation) -> dict:
    """stride/dilation as (h, w) >= 1; padding as ((top, bottom), (left, right)) >= 0."""
    stride, dilation = _pair(name, stride, "stride"), _pair(name, dilation, "dilation")
    if isinstance(padding, (int, np.integer)) or all(
            isinstance(p, (int, np.integer)) for p in padding):
        pads = tuple((p, p) for p in _pair(name, padding, "padding"))
    else:
        pads = tuple(_pair(name, p, "padding") for p in padding)
        if len(pads) != 2:
            raise ShapeError(f"{name}: padding must give 2 dims, got {padding!r}{at_user()}")
    if min(stride + dilation) < 1 or min(pads[0] + pads[1]) < 0:
        raise ShapeError(f"{name}: stride and dilation must be >= 1 and padding >= 0, got "
                         f"stride={stride}, padding={pads}, dilation={dilation}{at_user()}")
    return {"stride": stride, "padding": pads, "dilation": dilation}


def conv2d(x, w, stride=1, padding=0, dilation=1):
    """2-d cross-correlation of x (N, C, H, W) with w (O, C, KH, KW) (PyTorch's conv2d)."""
    return bind(P["conv2d"], x, w, **window_params("conv2d", stride, padding, dilation))


def conv2d_input_grad(g, w, x, **params):
    """conv2d's gradient with respect to x (params as conv2d's, normalised)."""
    return bind(P["conv2d_input_grad"], g, w, x, **params)


def conv2d_weight_grad(x, g, w, **params):
    """conv2d's gradient with respect to w (params as conv2d's, normalised)."""
    return bind(P["conv2d_weight_grad"], x, g, w, **params)


def max_pool2d(x, kernel, stride=None, padding=0, dilation=1):
    """2-d max pooling of x (N, C, H, W); stride defaults to the kernel size."""
    kernel = _pair("max_pool2d", kernel, "kernel size")
    if min(kernel) < 1:
        raise ShapeError(f"max_pool2d: kernel size must be >= 1, got {kernel}{at_user()}")
    params = window_params("max_pool2d", kernel if stride is None else stride, padding,
                           dilation)
    return bind(P["max_pool2d"], x, kernel=kernel, **params)


def max_pool2d_grad(g, x, **params):
    """max_pool2d's VJP: g added at each window's first maximum of x."""
    return bind(P["max_pool2d_grad"], g, x, **params)


def max_pool2d_pick(gg, x, **params):
    """gg read at each window's first maximum of x (max_pool2d_grad's VJP)."""
    return bind(P["max_pool2d_pick"], gg, x, **params)


def max_pool2d_argmax(x, kernel, stride=None, padding=0, dilation=1, layout="hw"):
    """int64 flat index of each max_pool2d window's first maximum (arguments as
    max_pool2d's): y * W + x per plane ("hw", PyTorch's return_indices),
    (y * W + x) * C + c ("hwc", TF's argmax) or with n * H * W * C added ("nhwc")."""
    kernel = _pair("max_pool2d", kernel, "kernel size")
    params = window_params("max_pool2d", kernel if stride is None else stride, padding,
                           dilation)
    return bind(P["max_pool2d_argmax"], x, kernel=kernel, layout=layout, **params)


def max_unpool2d(x, indices, size):
    """Zeros (N, C, *size) with x written at the flat per-plane indices (PyTorch's
    max_unpool2d)."""
    size = _pair("max_unpool2d", size, "output size")
    return bind(P["max_unpool2d"], x, indices, size=size)


def max_unpool2d_pick(g, indices):
    """g (N, C, H, W) read at flat per-plane indices (max_unpool2d's VJP)."""
    return bind(P["max_unpool2d_pick"], g, indices)


def max_unpool2d_scatter_add(gg, indices, g):
    """Zeros shaped like g with gg added at flat per-plane indices (the VJP of
    max_unpool2d_pick)."""
    return bind(P["max_unpool2d_scatter_add"], gg, indices, g)
