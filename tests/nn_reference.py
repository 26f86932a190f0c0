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
