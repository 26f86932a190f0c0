"""sg.* functions with TF1 names for the math, reduction, indexing, einsum,
convolution and pooling primitives (`sg.log1p`, `sg.gather`, `sg.einsum`,
...) and the `sg.nn` ones (`conv2d`, `max_pool`, `max_pool_with_argmax`, `moments`,
`embedding_lookup`).

Each is a `shared_ops.api` call on symbols. TF1's layouts are wrappers:
`conv2d` and `max_pool` take NHWC data and HWIO filters by default and
transpose to the primitives' NCHW / OIHW; "SAME" padding becomes the
(possibly asymmetric) explicit padding TF computes.
"""

from __future__ import annotations

import numpy as np

from shared_ops import DTypeError, ShapeError, format_site
from shared_ops import api as A

from .ops import as_symbol, symbolic_unary
from .symbol import Symbol, current_site

log1p, expm1, sin, cos = (symbolic_unary(f) for f in (A.log1p, A.expm1, A.sin, A.cos))


def _at() -> str:
    where = format_site(current_site())
    return f" (at {where})" if where else ""


def reduce_logsumexp(input_tensor, axis=None, keepdims: bool = False, name=None) -> Symbol:
    """log(sum(exp(x))) over axis, computed without overflow."""
    return A.logsumexp(as_symbol(input_tensor), axis, keepdims)


def reduce_variance(input_tensor, axis=None, keepdims: bool = False, name=None) -> Symbol:
    """Population variance (divides by N) over axis, as TF's reduce_variance."""
    return A.var(as_symbol(input_tensor), axis, keepdims, correction=0)


def reduce_std(input_tensor, axis=None, keepdims: bool = False, name=None) -> Symbol:
    """Population standard deviation over axis, as TF's reduce_std."""
    return A.std(as_symbol(input_tensor), axis, keepdims, correction=0)


def moments(x, axes, shift=None, keepdims: bool = False, name=None) -> tuple:
    """(mean, variance) over axes (TF1's tf.nn.moments; population variance)."""
    return A.moments(as_symbol(x), axes, keepdims)


def _arg(fn, input, axis, output_type) -> Symbol:
    out = fn(as_symbol(input), 0 if axis is None else axis)
    output_type = np.dtype(output_type)
    if output_type.kind not in "iu":
        raise DTypeError(f"{fn.__name__}: output_type must be an integer type, got "
                         f"{output_type}{_at()}")
    return out if output_type == np.int64 else A.cast(out, output_type)


def argmax(input, axis=None, output_type=np.int64, name=None) -> Symbol:
    """Index of the largest value along axis (TF1: axis None means 0)."""
    return _arg(A.argmax, input, axis, output_type)


def argmin(input, axis=None, output_type=np.int64, name=None) -> Symbol:
    """Index of the smallest value along axis (TF1: axis None means 0)."""
    return _arg(A.argmin, input, axis, output_type)


def _indices(indices):
    return indices if isinstance(indices, Symbol) else np.asarray(indices)


def gather(params, indices, axis=None, name=None) -> Symbol:
    """params indexed along axis by integer indices (TF's gather; axis None means 0).

    Differentiable in params: repeated indices accumulate. An index outside
    [0, size) raises IndexingError when the graph runs.
    """
    return A.take(as_symbol(params), _indices(indices), 0 if axis is None else axis)


def one_hot(indices, depth: int, on_value=None, off_value=None, axis=None, dtype=None,
            name=None) -> Symbol:
    """One-hot vectors of length depth (TF's one_hot: out-of-range indices give zeros)."""
    if dtype is None:
        given = next((v for v in (on_value, off_value) if v is not None), None)
        dtype = given.dtype if isinstance(given, (Symbol, np.ndarray)) else np.float32
    out = A.one_hot(as_symbol(indices), depth, dtype)
    if on_value is not None or off_value is not None:
        on = 1 if on_value is None else on_value
        off = 0 if off_value is None else off_value
        out = A.cast(A.where(A.cast(out, np.bool_), on, off), dtype)
    if axis is not None and axis != -1:
        ndim = len(out.shape)
        position = A.normalize_axis("one_hot", axis, ndim)
        perm = list(range(ndim - 1))
        perm.insert(position, ndim - 1)
        out = A.transpose(out, perm)
    return out


def einsum(equation, *inputs, name=None) -> Symbol:
    """Einstein summation (NumPy's subscripts, `...` and implicit output included),
    or NumPy's sublist form `einsum(a, [0, 1], b, [1, 2], [0, 2])` (ints 0-51 as
    letters, `...` for broadcast dims; the output sublist is optional)."""
    equation, inputs = A.einsum_args((equation, *inputs))
    return A.einsum(equation, *[as_symbol(x) for x in inputs])


def split(value, num_or_size_splits, axis: int = 0, num=None, name=None) -> list:
    """Pieces of value along axis: an int n gives n equal pieces, a list gives
    pieces of those sizes (one may be -1: the rest)."""
    value = as_symbol(value)
    axis_ = A.normalize_axis("split", axis, len(value.shape))
    size = value.shape[axis_]
    if size is None:
        raise ShapeError(f"split: axis {axis} has a size known only at run time{_at()}")
    if isinstance(num_or_size_splits, (int, np.integer)):
        n = int(num_or_size_splits)
        if n < 1 or size % n:
            raise ShapeError(f"split: cannot split a dim of size {size} into {n} equal "
                             f"pieces{_at()}")
        sizes = [size // n] * n
    else:
        sizes = [int(s) for s in num_or_size_splits]
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = size - (sum(sizes) + 1)
    return A.split(value, sizes, axis_)


def embedding_lookup(params, ids, partition_strategy: str = "mod", name=None,
                     validate_indices: bool = True) -> Symbol:
    """Rows of params at ids (TF1's tf.nn.embedding_lookup); differentiable in params.

    params is one tensor or a list of shards: "div" shards are concatenated
    in order; a list of several "mod" shards is rejected (ShapeError).
    """
    if isinstance(params, (list, tuple)):
        if len(params) > 1 and partition_strategy != "div":
            raise ShapeError("embedding_lookup: several shards need partition_strategy='div' "
                             f"(the 'mod' interleaving is not supported){_at()}")
        params = params[0] if len(params) == 1 else A.concatenate(
            [as_symbol(p) for p in params], 0)
    return A.take(as_symbol(params), _indices(ids), 0)


def _hw(name: str, value, data_format: str, what: str) -> tuple:
    """TF's 1, 2 or 4 entries (N and C must be 1) as an (h, w) pair."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    value = [int(v) for v in value]
    if len(value) == 4:
        outer = (value[0], value[3]) if data_format == "NHWC" else (value[0], value[1])
        if outer != (1, 1):
            raise ShapeError(f"{name}: {what} along the batch and channel dims must be 1, "
                             f"got {value}{_at()}")
        value = value[1:3] if data_format == "NHWC" else value[2:]
    if len(value) == 1:
        value = value * 2
    if len(value) != 2:
        raise ShapeError(f"{name}: {what} needs 1, 2 or 4 entries, got {value}{_at()}")
    return tuple(value)


def _padding(name: str, padding, spatial, kernel, stride, dilation, data_format) -> tuple:
    """TF's "SAME" / "VALID" / explicit [[0, 0], [t, b], [l, r], [0, 0]] as pad pairs."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0), (0, 0))
        if mode != "SAME":
            raise ShapeError(f"{name}: padding must be 'SAME', 'VALID' or explicit pairs, "
                             f"got {padding!r}{_at()}")
        pads = []
        for n, k, s, d in zip(spatial, kernel, stride, dilation):
            span = d * (k - 1) + 1
            if n is None and s != 1:
                raise ShapeError(f"{name}: 'SAME' padding with stride {s} needs the spatial "
                                 f"dims known when building, got {spatial}{_at()}")
            total = span - 1 if n is None else max((-(-n // s) - 1) * s + span - n, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    pairs = [tuple(int(v) for v in p) for p in padding]
    if len(pairs) == 4:
        pairs = pairs[1:3] if data_format == "NHWC" else pairs[2:]
    return tuple(pairs)


def _to_nchw(x, data_format: str):
    if data_format not in ("NHWC", "NCHW"):
        raise ShapeError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}{_at()}")
    x = as_symbol(x)
    if len(x.shape) != 4:
        raise ShapeError(f"expected a 4-d {data_format} input, got shape {x.shape}{_at()}")
    return A.transpose(x, (0, 3, 1, 2)) if data_format == "NHWC" else x


def conv2d(input, filter=None, strides=1, padding="VALID", use_cudnn_on_gpu: bool = True,
           data_format: str = "NHWC", dilations=1, name=None, filters=None) -> Symbol:
    """TF1's tf.nn.conv2d: NHWC input (or NCHW), HWIO filter, strides and dilations
    of 1, 2 or 4 entries, padding "SAME", "VALID" or explicit pairs."""
    weights = as_symbol(filters if filter is None else filter)
    x = _to_nchw(input, data_format)
    stride = _hw("conv2d", strides, data_format, "strides")
    dilation = _hw("conv2d", dilations, data_format, "dilations")
    if len(weights.shape) != 4:
        raise ShapeError(f"conv2d: filter must be 4-d (H, W, in, out), got {weights.shape}"
                         f"{_at()}")
    pads = _padding("conv2d", padding, x.shape[2:], weights.shape[:2], stride, dilation,
                    data_format)
    out = A.conv2d(x, A.transpose(weights, (3, 2, 0, 1)), stride, pads, dilation)
    return A.transpose(out, (0, 2, 3, 1)) if data_format == "NHWC" else out


def max_pool(value, ksize, strides, padding, data_format: str = "NHWC", name=None,
             input=None) -> Symbol:
    """TF1's tf.nn.max_pool: NHWC (or NCHW) input, ksize and strides of 1, 2 or 4
    entries, padding "SAME" or "VALID" ("SAME" pads with -inf)."""
    x = _to_nchw(input if value is None else value, data_format)
    kernel = _hw("max_pool", ksize, data_format, "ksize")
    stride = _hw("max_pool", strides, data_format, "strides")
    pads = _padding("max_pool", padding, x.shape[2:], kernel, stride, (1, 1), data_format)
    out = A.max_pool2d(x, kernel, stride, pads)
    return A.transpose(out, (0, 2, 3, 1)) if data_format == "NHWC" else out


def max_pool_with_argmax(input, ksize, strides, padding, data_format: str = "NHWC",
                         Targmax=None, name=None, output_dtype=None,
                         include_batch_in_index: bool = False) -> tuple:
    """TF1's tf.nn.max_pool_with_argmax: (max_pool's output, argmax) of an NHWC
    input; argmax holds each maximum's flat index (y * W + x) * C + c, plus
    n * H * W * C with include_batch_in_index (int64 unless Targmax or
    output_dtype says int32). Gradients flow through the output only."""
    if data_format != "NHWC":
        raise ShapeError(f"max_pool_with_argmax: data_format must be 'NHWC', got "
                         f"{data_format!r}{_at()}")
    index_dtype = np.dtype(output_dtype or Targmax or np.int64)
    if index_dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise DTypeError(f"max_pool_with_argmax: the argmax dtype must be int32 or int64, "
                         f"got {index_dtype}{_at()}")
    x = _to_nchw(input, data_format)
    kernel = _hw("max_pool_with_argmax", ksize, data_format, "ksize")
    stride = _hw("max_pool_with_argmax", strides, data_format, "strides")
    pads = _padding("max_pool_with_argmax", padding, x.shape[2:], kernel, stride, (1, 1),
                    data_format)
    out = A.max_pool2d(x, kernel, stride, pads)
    argmax = A.max_pool2d_argmax(x, kernel, stride, pads,
                                 layout="nhwc" if include_batch_in_index else "hwc")
    if index_dtype != np.int64:
        argmax = A.cast(argmax, index_dtype)
    return A.transpose(out, (0, 2, 3, 1)), A.transpose(argmax, (0, 2, 3, 1))


__all__ = ["log1p", "expm1", "sin", "cos", "reduce_logsumexp", "reduce_variance",
           "reduce_std", "argmax", "argmin", "gather", "one_hot", "einsum", "split"]
