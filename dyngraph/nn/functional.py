"""dg.nn.functional: stateless layer functions built from dyngraph ops."""

from __future__ import annotations

import numpy as np

from .. import functions as F
from ..tensor import Tensor

relu, tanh, sigmoid, softmax, log_softmax = F.relu, F.tanh, F.sigmoid, F.softmax, F.log_softmax


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias (weight is (out_features, in_features))."""
    out = F.matmul(input, F.t(weight))
    return out if bias is None else out + bias


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return F.mean(loss)
    if reduction == "sum":
        return F.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    diff = input - target
    return _reduce(diff * diff, reduction)


def cross_entropy(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of logits (N, C) against class indices (N,)."""
    labels = np.asarray(target._data if isinstance(target, Tensor) else target)
    logp = F.log_softmax(input, dim=-1)
    picked = F.getitem(logp, (np.arange(labels.shape[0]), labels.astype(np.int64)))
    return _reduce(-picked, reduction)


from ..functions_nn import conv2d, embedding, max_pool2d, one_hot  # noqa: E402,F401
