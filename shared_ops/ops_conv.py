"""2-d convolution and max pooling, NCHW data and OIHW weights (PyTorch's layout).

Parameters reach the primitives normalised: `stride` and `dilation` as
(h, w) pairs, `padding` as ((top, bottom), (left, right)), so TF's "SAME"
(asymmetric) padding is a padding like any other. The convolution is
im2col + GEMM: a strided window view of the padded input contracted with
the weight by `np.tensordot` (BLAS).

The gradients close under differentiation (higher-order gradients work):
conv2d's VJP is `conv2d_input_grad` and `conv2d_weight_grad`, whose VJPs
are conv2d and each other; max_pool2d's VJP is `max_pool2d_grad` (route the
cotangent to each window's first maximum), whose VJP is `max_pool2d_pick`
(read the cotangent at those positions), and the reverse.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import api as A
from .errors import DTypeError, ShapeError
from .primitive import Primitive, register
from .shapes import AbstractArray, dtype_of, result_dtype, shape_of


def _out_size(n, k, stride, pads, dilation):
    """Output length of one spatial dim (None when n or k is unknown)."""
    if n is None or k is None:
        return None
    return (n + pads[0] + pads[1] - dilation * (k - 1) - 1) // stride + 1


def conv_shape(name: str, x_shape, k_shape, *, stride, padding, dilation) -> tuple:
    """(OH, OW) of a window op on x (N, C, H, W) with kernel (KH, KW); checks sizes."""
    if len(x_shape) != 4:
        raise ShapeError(f"{name}: input must be 4-d (N, C, H, W), got shape "
                         f"{tuple(x_shape)}")
    out = []
    for n, k, s, p, d in zip(x_shape[2:], k_shape, stride, padding, dilation):
        size = _out_size(n, k, s, p, d)
        if size is not None and size < 1:
            raise ShapeError(
                f"{name}: the window ({k} with dilation {d}) is larger than the padded "
                f"input ({n} + {p[0]} + {p[1]}) (input shape {tuple(x_shape)})")
        out.append(size)
    return tuple(out)


def windows(x, kernel, *, stride, padding, dilation, fill=0):
    """A view (N, C, OH, OW, KH, KW) of every window of the padded input."""
    x = np.asarray(x)
    padded = np.pad(x, ((0, 0), (0, 0)) + tuple(padding), constant_values=fill)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    view = sliding_window_view(padded, span, axis=(2, 3))
    return view[:, :, ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]]


def _scatter_windows(cols, x_shape, *, stride, padding, dilation):
    """The adjoint of `windows`: add cols (N, C, OH, OW, KH, KW) into a padded
    zero image at the positions each window read; the unpadded part of it."""
    n, c, h, w = x_shape
    (top, bottom), (left, right) = padding
    image = np.zeros((n, c, h + top + bottom, w + left + right), dtype=cols.dtype)
    oh, ow, kh, kw = cols.shape[2:]
    for i in range(kh):
        r = i * dilation[0]
        for j in range(kw):
            q = j * dilation[1]
            image[:, :, r:r + stride[0] * (oh - 1) + 1:stride[0],
                  q:q + stride[1] * (ow - 1) + 1:stride[1]] += cols[:, :, :, :, i, j]
    return image[:, :, top:top + h, left:left + w]


def _float_dtype(name: str, *operands) -> np.dtype:
    dtype = result_dtype(name, *operands)
    if dtype.kind != "f":
        raise DTypeError(f"{name}: needs floating-point operands, got {dtype}")
    return dtype


# ---- conv2d and its two gradient ops ----------------------------------------

def _conv_eval(x, w, *, stride, padding, dilation):
    xs, ws = shape_of(x), shape_of(w)
    if len(ws) != 4:
        raise ShapeError(f"conv2d: weight must be 4-d (O, I, KH, KW), got shape {ws}")
    oh, ow = conv_shape("conv2d", xs, ws[2:], stride=stride, padding=padding,
                        dilation=dilation)
    if xs[1] is not None and ws[1] is not None and xs[1] != ws[1]:
        raise ShapeError(f"conv2d: input has {xs[1]} channels but the weight expects "
                         f"{ws[1]} (input {xs}, weight {ws})")
    return AbstractArray((xs[0], ws[0], oh, ow), _float_dtype("conv2d", x, w))


def _conv_impl(x, w, *, stride, padding, dilation):
    x, w = np.asarray(x), np.asarray(w)
    _conv_eval(x, w, stride=stride, padding=padding, dilation=dilation)
    cols = windows(x, w.shape[2:], stride=stride, padding=padding, dilation=dilation)
    out = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, O)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def _conv_vjp(g, out, x, w, *, needs, stride, padding, dilation):
    p = {"stride": stride, "padding": padding, "dilation": dilation}
    return (A.conv2d_input_grad(g, w, x, **p) if needs[0] else None,
            A.conv2d_weight_grad(x, g, w, **p) if needs[1] else None)


def _input_grad_impl(g, w, x, *, stride, padding, dilation):
    cols = np.tensordot(np.asarray(g), np.asarray(w), axes=([1], [0]))  # N OH OW C KH KW
    return _scatter_windows(cols.transpose(0, 3, 1, 2, 4, 5), np.shape(x), stride=stride,
                            padding=padding, dilation=dilation)


def _input_grad_vjp(gg, out, g, w, x, *, needs, stride, padding, dilation):
    p = {"stride": stride, "padding": padding, "dilation": dilation}
    return (A.conv2d(gg, w, **p) if needs[0] else None,
            A.conv2d_weight_grad(gg, g, w, **p) if needs[1] else None, None)


def _weight_grad_impl(x, g, w, *, stride, padding, dilation):
    cols = windows(x, np.shape(w)[2:], stride=stride, padding=padding, dilation=dilation)
    return np.tensordot(np.asarray(g), cols, axes=([0, 2, 3], [0, 2, 3]))  # O C KH KW


def _weight_grad_vjp(gg, out, x, g, w, *, needs, stride, padding, dilation):
    p = {"stride": stride, "padding": padding, "dilation": dilation}
    return (A.conv2d_input_grad(g, gg, x, **p) if needs[0] else None,
            A.conv2d(x, gg, **p) if needs[1] else None, None)


conv2d = register(Primitive(
    name="conv2d", impl=_conv_impl, abstract_eval=_conv_eval, vjp=_conv_vjp,
    doc="2-d cross-correlation, x (N, C, H, W) with w (O, C, KH, KW): PyTorch's conv2d"))
conv2d_input_grad = register(Primitive(
    name="conv2d_input_grad", impl=_input_grad_impl, vjp=_input_grad_vjp, shape_only=(2,),
    abstract_eval=lambda g, w, x, **p: AbstractArray(shape_of(x), _float_dtype(
        "conv2d_input_grad", g, w)),
    doc="conv2d's gradient with respect to its input (the transposed convolution)"))
conv2d_weight_grad = register(Primitive(
    name="conv2d_weight_grad", impl=_weight_grad_impl, vjp=_weight_grad_vjp,
    shape_only=(2,),
    abstract_eval=lambda x, g, w, **p: AbstractArray(shape_of(w), _float_dtype(
        "conv2d_weight_grad", x, g)),
    doc="conv2d's gradient with respect to its weight"))


# ---- max_pool2d and its gradient pair ----------------------------------------

def _pool_eval(x, *, kernel, stride, padding, dilation):
    xs = shape_of(x)
    oh, ow = conv_shape("max_pool2d", xs, kernel, stride=stride, padding=padding,
                        dilation=dilation)
    for n, o, k, s, p, d in zip(xs[2:], (oh, ow), kernel, stride, padding, dilation):
        last_start = None if o is None else (o - 1) * s - p[0]
        if p[0] > d * (k - 1) or (last_start is not None and n is not None
                                  and last_start >= n):
            raise ShapeError(f"max_pool2d: padding {p} leaves a window with no input "
                             f"element (kernel {k}, stride {s}, dilation {d})")
    result_dtype("max_pool2d", x)
    return AbstractArray((xs[0], xs[1], oh, ow), dtype_of(x))


def _lowest(dtype: np.dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min if dtype.kind in "iu" else 0


def _pool_windows(x, *, kernel, stride, padding, dilation):
    x = np.asarray(x)
    _pool_eval(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    return windows(x, kernel, stride=stride, padding=padding, dilation=dilation,
                   fill=_lowest(x.dtype))


def _pool_impl(x, **p):
    return _pool_windows(x, **p).max(axis=(4, 5))


def _argmax_positions(x, *, kernel, stride, padding, dilation) -> tuple:
    """Index arrays (n, c, row, col) into the padded input of each window's first max."""
    cols = _pool_windows(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    n, c, oh, ow = cols.shape[:4]
    best = cols.reshape(n, c, oh, ow, kernel[0] * kernel[1]).argmax(axis=-1)
    ki, kj = np.divmod(best, kernel[1])
    rows = np.arange(oh)[:, None] * stride[0] + ki * dilation[0]
    cols_ = np.arange(ow)[None, :] * stride[1] + kj * dilation[1]
    return (np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols_)


def _pool_grad_impl(g, x, *, kernel, stride, padding, dilation):
    n, c, h, w = np.shape(x)
    (top, bottom), (left, right) = padding
    image = np.zeros((n, c, h + top + bottom, w + left + right), dtype=np.result_type(g))
    at = _argmax_positions(x, kernel=kernel, stride=stride, padding=padding,
                           dilation=dilation)
    np.add.at(image, at, g)
    return image[:, :, top:top + h, left:left + w]


def _pool_pick_impl(gg, x, *, kernel, stride, padding, dilation):
    at = _argmax_positions(x, kernel=kernel, stride=stride, padding=padding,
                           dilation=dilation)
    padded = np.pad(np.asarray(gg), ((0, 0), (0, 0)) + tuple(padding))
    return padded[at]


max_pool2d = register(Primitive(
    name="max_pool2d", impl=_pool_impl, abstract_eval=_pool_eval,
    vjp=lambda g, out, x, *, needs, **p: (A.max_pool2d_grad(g, x, **p),),
    doc="2-d max pooling of x (N, C, H, W); the gradient goes to each window's first max"))
max_pool2d_grad = register(Primitive(
    name="max_pool2d_grad", impl=_pool_grad_impl,
    abstract_eval=lambda g, x, **p: AbstractArray(shape_of(x), dtype_of(g)),
    vjp=lambda gg, out, g, x, *, needs, **p: (A.max_pool2d_pick(gg, x, **p), None),
    doc="max_pool2d's VJP: g added at each window's first maximum of x"))
max_pool2d_pick = register(Primitive(
    name="max_pool2d_pick", impl=_pool_pick_impl,
    abstract_eval=lambda gg, x, **p: AbstractArray(
        _pool_eval(x, **p).shape, dtype_of(gg)),
    vjp=lambda g, out, gg, x, *, needs, **p: (A.max_pool2d_grad(g, x, **p), None),
    doc="gg read at each window's first maximum of x (max_pool2d_grad's VJP)"))


# ---- max_pool2d's indices, max_unpool2d and its gradient ----------------------

INDEX_LAYOUTS = ("hw", "hwc", "nhwc")


def _argmax_eval(x, *, kernel, stride, padding, dilation, layout):
    if layout not in INDEX_LAYOUTS:
        raise ShapeError(f"max_pool2d_argmax: layout must be one of {INDEX_LAYOUTS}, got "
                         f"{layout!r}")
    pooled = _pool_eval(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    return AbstractArray(pooled.shape, np.dtype(np.int64))


def _argmax_impl(x, *, kernel, stride, padding, dilation, layout):
    """Flat index of each window's first maximum, counted in the unpadded input:
    y * W + x ("hw", PyTorch), (y * W + x) * C + c ("hwc", TF) or
    ((n * H + y) * W + x) * C + c ("nhwc", TF's include_batch_in_index)."""
    _argmax_eval(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                 layout=layout)
    n, c, h, w = np.shape(x)
    batch, channel, rows, cols = _argmax_positions(
        x, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    index = (rows - padding[0][0]) * w + (cols - padding[1][0])
    if layout != "hw":
        index = index * c + channel
    if layout == "nhwc":
        index = index + batch * (h * w * c)
    return index.astype(np.int64)


def _unpool_check(name: str, x, indices, same: int) -> tuple:
    """x's shape, after checking x and integer indices are 4-d and agree on the
    first `same` dims."""
    xs, ins = tuple(shape_of(x)), tuple(shape_of(indices))
    if dtype_of(indices).kind not in "iu":
        raise DTypeError(f"{name}: indices must be integers, got {dtype_of(indices)}")
    if len(xs) != 4 or len(ins) != 4 or any(
            a is not None and b is not None and a != b for a, b in zip(xs[:same], ins)):
        raise ShapeError(f"{name}: expects 4-d (N, C, H, W) operands, the indices shaped "
                         f"as the input over its first {same} dims; got {xs} and {ins}")
    return xs


def _plane_indices(indices, plane: int) -> np.ndarray:
    """Indices as (N, C, K) with every entry in [0, plane)."""
    indices = np.asarray(indices)
    n, c = indices.shape[:2]
    if indices.size and (indices.min() < 0 or indices.max() >= plane):
        bad = int(indices.min()) if indices.min() < 0 else int(indices.max())
        raise IndexError(f"index {bad} is out of range for an output plane of {plane} "
                         "elements")
    return indices.reshape(n, c, -1)


def _unpool_eval(x, indices, *, size):
    xs = _unpool_check("max_unpool2d", x, indices, 4)
    return AbstractArray(xs[:2] + tuple(size), dtype_of(x))


def _unpool_impl(x, indices, *, size):
    x = np.asarray(x)
    n, c = x.shape[:2]
    flat = _plane_indices(indices, size[0] * size[1])
    out = np.zeros((n, c, size[0] * size[1]), dtype=x.dtype)
    np.put_along_axis(out, flat, x.reshape(n, c, -1), axis=2)
    return out.reshape((n, c) + tuple(size))


def _scatter_add_impl(gg, indices, g):
    gg = np.asarray(gg)
    n, c, h, w = np.shape(g)
    flat = _plane_indices(indices, h * w)
    out = np.zeros((n, c, h * w), dtype=gg.dtype)
    np.add.at(out, (np.arange(n)[:, None, None], np.arange(c)[None, :, None], flat),
              gg.reshape(n, c, -1))
    return out.reshape((n, c, h, w))


def _unpool_pick_eval(g, indices):
    _unpool_check("max_unpool2d_pick", g, indices, 2)
    return AbstractArray(tuple(shape_of(indices)), dtype_of(g))


def _unpool_pick_impl(g, indices):
    g = np.asarray(g)
    n, c, h, w = g.shape
    flat = _plane_indices(indices, h * w)
    return np.take_along_axis(g.reshape(n, c, -1), flat, axis=2).reshape(np.shape(indices))


max_pool2d_argmax = register(Primitive(
    name="max_pool2d_argmax", impl=_argmax_impl, abstract_eval=_argmax_eval,
    differentiable=False,
    doc="int64 flat index of each max_pool2d window's first maximum in the input"))
max_unpool2d = register(Primitive(
    name="max_unpool2d", impl=_unpool_impl, abstract_eval=_unpool_eval,
    vjp=lambda g, out, x, indices, *, needs, size: (A.max_unpool2d_pick(g, indices), None),
    doc="zeros (N, C, *size) with x written at the flat plane indices; the inverse of "
        "max_pool2d with its indices"))
max_unpool2d_pick = register(Primitive(
    name="max_unpool2d_pick", impl=_unpool_pick_impl, abstract_eval=_unpool_pick_eval,
    vjp=lambda gg, out, g, indices, *, needs: (
        A.max_unpool2d_scatter_add(gg, indices, g), None),
    doc="g (N, C, H, W) read at flat plane indices (max_unpool2d's VJP)"))
max_unpool2d_scatter_add = register(Primitive(
    name="max_unpool2d_scatter_add", impl=_scatter_add_impl, shape_only=(2,),
    abstract_eval=lambda gg, indices, g: AbstractArray(
        _unpool_check("max_unpool2d_scatter_add", g, indices, 2), dtype_of(gg)),
    vjp=lambda ggg, out, gg, indices, g, *, needs: (
        A.max_unpool2d_pick(ggg, indices), None, None),
    doc="zeros shaped like g with gg added at the flat plane indices (repeated indices "
        "sum; max_unpool2d_pick's VJP)"))
