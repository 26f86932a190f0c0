"""PyTorch-named functions of the math, reduction, indexing, einsum,
convolution and pooling primitives (`dg.log1p`, `dg.logsumexp`, `dg.gather`,
`dg.einsum`, `dg.conv2d`, ...); `dg.nn.functional` re-exports the layer ones.

Each routes to a shared_ops primitive (`shared_ops.api`), so values and
gradients are the ones every staticgraph backend computes.
"""

from __future__ import annotations

import numpy as np

import shared_ops.api as A
from shared_ops import IndexingError, ShapeError
from shared_ops.shapes import at_user

from .dispatch import as_tensor as _t
from .functions import cat as _cat
from .functions import unary_function as _unary
from .tensor import Tensor

log1p, expm1, sin, cos = (_unary(n) for n in ("log1p", "expm1", "sin", "cos"))


def logsumexp(input, dim=None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over dim, computed without overflow."""
    return A.logsumexp(_t(input), dim, keepdim)


def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance over dim, dividing by N - correction (default 1: unbiased)."""
    return _t(input).var(dim, unbiased, keepdim, correction=correction)


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation over dim: sqrt(var(...)) with the same arguments."""
    return _t(input).std(dim, unbiased, keepdim, correction=correction)


def argmin(input, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the smallest value along dim (None: in the flattened tensor), int64."""
    return A.argmin(_t(input), dim, keepdim)


def gather(input, dim: int, index) -> Tensor:
    """`out[i][j] = input[i][index[i][j]]` for dim 1 (PyTorch's gather); the gradient
    scatter-adds (repeated indices accumulate)."""
    return A.gather(_t(input), _t(index), dim)


def index_select(input, dim: int, index) -> Tensor:
    """The entries of input at a 1-d index along dim."""
    return _t(input).index_select(dim, index)


def einsum(equation, *operands) -> Tensor:
    """Einstein summation: `einsum("ij,jk->ik", a, b)` (operands as arguments or as
    one list) or the sublist form `einsum(a, [0, 1], b, [1, 2], [0, 2])` (ints
    0-51 as letters, `...` for broadcast dims; the output sublist is optional)."""
    if (isinstance(equation, str) and len(operands) == 1
            and isinstance(operands[0], (list, tuple))):
        operands = tuple(operands[0])
    equation, operands = A.einsum_args((equation, *operands))
    return A.einsum(equation, *[_t(x) for x in operands])


def bmm(input, mat2) -> Tensor:
    """Batched matrix product of (B, N, M) and (B, M, P) tensors."""
    return A.bmm(_t(input), _t(mat2))


def split(tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces along dim: an int gives pieces of that size (the last may be smaller),
    a list gives pieces of those sizes."""
    return _t(tensor).split(split_size_or_sections, dim)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot vectors (PyTorch's F.one_hot): classes from 0 to num_classes - 1
    (-1: one more than the largest value); a value outside that range raises."""
    tensor = _t(tensor)
    data = tensor._data
    if data.dtype.kind not in "iu":
        raise IndexingError(f"one_hot: expects an integer tensor, got {data.dtype}"
                            f"{at_user()}")
    if num_classes == -1:
        num_classes = int(data.max()) + 1 if data.size else 0
    if data.size and (data.min() < 0 or data.max() >= num_classes):
        raise IndexingError(f"one_hot: class values must be in [0, {num_classes}), got "
                            f"{int(data.min())}..{int(data.max())}{at_user()}")
    return A.one_hot(tensor, num_classes, np.int64)


def embedding(input, weight, padding_idx=None) -> Tensor:
    """Rows of weight at the integer indices input; the gradient scatter-adds into
    weight, except at row padding_idx, which gets none."""
    weight = _t(weight)
    rows = A.take(weight, _t(input), 0)
    if padding_idx is None:
        return rows
    padding_idx = padding_idx % weight.shape[0] if padding_idx < 0 else padding_idx
    keep = A.expand_dims(A.not_equal(_t(input), padding_idx), -1)
    return A.where(keep, rows, A.stop_gradient(rows))


def _conv_padding(padding, weight_shape, dilation, stride):
    if padding == "valid":
        return 0
    if padding != "same":
        return padding
    if stride not in (1, (1, 1)):
        raise ShapeError(f"conv2d: padding='same' needs stride 1, got {stride}{at_user()}")
    dil = (dilation, dilation) if isinstance(dilation, int) else tuple(dilation)
    totals = [d * (k - 1) for k, d in zip(weight_shape[2:], dil)]
    return tuple((t // 2, t - t // 2) for t in totals)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-d cross-correlation, input (N, C, H, W), weight (O, C / groups, KH, KW)
    (PyTorch's conv2d; padding an int, a pair, 'valid' or 'same')."""
    input, weight = _t(input), _t(weight)
    pad = _conv_padding(padding, weight.shape, dilation, stride)
    if groups == 1:
        out = A.conv2d(input, weight, stride, pad, dilation)
    else:
        channels, outs = input.shape[1] if input.ndim == 4 else 0, weight.shape[0]
        if groups < 1 or channels % groups or outs % groups:
            raise ShapeError(f"conv2d: groups={groups} must divide the input channels "
                             f"({channels}) and the output channels ({outs}){at_user()}")
        xs = A.split(input, [channels // groups] * groups, 1)
        ws = A.split(weight, [outs // groups] * groups, 0)
        out = _cat([A.conv2d(x, w, stride, pad, dilation) for x, w in zip(xs, ws)], 1)
    if bias is not None:
        out = out + A.reshape(_t(bias), (1, -1, 1, 1))
    return out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-d max pooling (PyTorch's max_pool2d): implicit -inf padding of at most half
    the kernel; ceil_mode rounds the output size up. With return_indices, a pair
    (values, int64 indices): each maximum's flat index y * W + x in its input plane."""
    input = _t(input)
    kernel = (kernel_size,) * 2 if isinstance(kernel_size, int) else tuple(kernel_size)
    p = A.window_params("max_pool2d", kernel if stride in (None, ()) else stride, padding,
                        dilation)
    if any(2 * pads[0] > k for pads, k in zip(p["padding"], kernel)):
        raise ShapeError(f"max_pool2d: padding {padding} must be at most half the kernel "
                         f"size {kernel}{at_user()}")
    pads = p["padding"]
    if ceil_mode and input.ndim == 4:
        pads = tuple(_ceil_pads(n, k, s, pp, d) for n, k, s, pp, d in zip(
            input.shape[2:], kernel, p["stride"], pads, p["dilation"]))
    values = A.max_pool2d(input, kernel, p["stride"], pads, p["dilation"])
    if not return_indices:
        return values
    return values, A.max_pool2d_argmax(input, kernel, p["stride"], pads, p["dilation"])


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The inverse of max_pool2d with return_indices (PyTorch's max_unpool2d): zeros
    with each input value at its flat index in the output plane, whose size is
    (H - 1) * stride - 2 * padding + kernel_size unless output_size gives it."""
    input, indices = _t(input), _t(indices)
    kernel = (kernel_size,) * 2 if isinstance(kernel_size, int) else tuple(kernel_size)
    p = A.window_params("max_unpool2d", kernel if stride in (None, ()) else stride,
                        padding, 1)
    if input.ndim != 4:
        raise ShapeError(f"max_unpool2d: input must be 4-d (N, C, H, W), got shape "
                         f"{input.shape}{at_user()}")
    if output_size is None:
        size = tuple((n - 1) * s - pads[0] - pads[1] + k for n, s, pads, k in zip(
            input.shape[2:], p["stride"], p["padding"], kernel))
    else:
        size = tuple(output_size)[-2:]
    return A.max_unpool2d(input, indices, size)


def _ceil_pads(n, k, s, pads, d) -> tuple:
    """Padding (before, after) that makes the output size round up, as PyTorch's
    ceil_mode (a last window must start inside the input or the left padding)."""
    span = d * (k - 1) + 1
    out = -(-(n + 2 * pads[0] - span) // s) + 1
    if (out - 1) * s >= n + pads[0]:
        out -= 1
    return pads[0], max(pads[1], (out - 1) * s + span - n - pads[0])

