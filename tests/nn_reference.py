"""Plain-NumPy references (loops, written from PyTorch's and TF's documented
semantics) for the convolution, pooling and indexing ops; used by the tests
instead of PyTorch, which the test extra does not install."""

from __future__ import annotations

import numpy as np


def conv2d(x, w, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1)):
    """out[n, o, i, j] = sum_{c, p, q} xpad[n, c, i*sh + p*dh, j*sw + q*dw] * w[o, c, p, q]."""
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(padding))
    n, _, hp, wp = xp.shape
    o, c, kh, kw = w.shape
    oh = (hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            for p in range(kh):
                for q in range(kw):
                    patch = xp[:, :, i * stride[0] + p * dilation[0],
                               j * stride[1] + q * dilation[1]]
                    out[:, :, i, j] += patch @ w[:, :, p, q].T
    return out


def max_pool2d(x, kernel, stride, padding=((0, 0), (0, 0))):
    """The largest element of each window, -inf padding."""
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(padding), constant_values=-np.inf)
    oh = (xp.shape[2] - kernel[0]) // stride[0] + 1
    ow = (xp.shape[3] - kernel[1]) // stride[1] + 1
    out = np.empty(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i * stride[0]:i * stride[0] + kernel[0],
                        j * stride[1]:j * stride[1] + kernel[1]]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


def tf_same_padding(size, kernel, stride, dilation=1):
    """TF's "SAME": output ceil(size / stride), the odd pixel of padding at the end."""
    span = dilation * (kernel - 1) + 1
    total = max((-(-size // stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def gather(x, dim, index):
    """PyTorch's gather, element by element."""
    out = np.empty(index.shape, dtype=x.dtype)
    for pos in np.ndindex(*index.shape):
        src = list(pos)
        src[dim] = index[pos]
        out[pos] = x[tuple(src)]
    return out


def logsumexp(x, axis):
    """log(sum(exp(x))) with float128-free shifting by the max."""
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m, axis)


def max_pool2d_indices(x, kernel, stride, padding=((0, 0), (0, 0))):
    """Flat index y * W + x (in the unpadded input plane) of each window's first
    maximum, scanning rows then columns (PyTorch's return_indices)."""
    n, c, h, w = x.shape
    oh = (h + sum(padding[0]) - kernel[0]) // stride[0] + 1
    ow = (w + sum(padding[1]) - kernel[1]) // stride[1] + 1
    out = np.empty((n, c, oh, ow), dtype=np.int64)
    for b, ch, i, j in np.ndindex(n, c, oh, ow):
        best, at = -np.inf, -1
        for p in range(kernel[0]):
            for q in range(kernel[1]):
                y, z = i * stride[0] + p - padding[0][0], j * stride[1] + q - padding[1][0]
                if 0 <= y < h and 0 <= z < w and (at < 0 or x[b, ch, y, z] > best):
                    best, at = x[b, ch, y, z], y * w + z
        out[b, ch, i, j] = at
    return out


def max_unpool2d(x, indices, size):
    """Zeros (N, C, *size) with x[n, c, i, j] at flat index indices[n, c, i, j]."""
    out = np.zeros(x.shape[:2] + tuple(size))
    for b, ch, i, j in np.ndindex(*x.shape):
        y, z = divmod(int(indices[b, ch, i, j]), size[1])
        out[b, ch, y, z] = x[b, ch, i, j]
    return out


def fd_gradient(fn, values: list, i: int, weights, eps: float = 1e-6) -> np.ndarray:
    """Central differences of sum(fn(*values) * weights) in values[i]."""
    grad = np.zeros_like(values[i])
    for pos in np.ndindex(values[i].shape):
        sums = []
        for step in (eps, -eps):
            args = [v.copy() for v in values]
            args[i][pos] += step
            sums.append(np.sum(fn(*args) * weights))
        grad[pos] = (sums[0] - sums[1]) / (2 * eps)
    return grad
