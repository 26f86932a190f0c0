"""dg.nn.functional: stateless layer functions built from dyngraph ops."""

from __future__ import annotations

import numpy as np

from shared_ops import DTypeError, IndexingError, ShapeError, format_site, user_site

from .. import functions as F
from ..creation import generator
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
    """Mean squared error between `input` and `target`; `reduction` is 'mean', 'sum' or 'none'."""
    diff = input - target
    return _reduce(diff * diff, reduction)


def cross_entropy(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of logits (N, C) against class indices (N,)."""
    labels = np.asarray(target._data if isinstance(target, Tensor) else target)
    logp = F.log_softmax(input, dim=-1)
    picked = F.getitem(logp, (np.arange(labels.shape[0]), labels.astype(np.int64)))
    return _reduce(-picked, reduction)


# ---- training-level functions (dropout, normalisation, lookups, more losses) ----

def _site() -> str:
    where = format_site(user_site())
    return f" (at {where})" if where else ""


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only).

    The mask comes from dyngraph's generator (`dg.manual_seed`).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * np.zeros((), input.dtype)
    keep = generator().random(input.shape) >= p
    return input * (keep.astype(input.dtype) / np.asarray(1.0 - p, input.dtype))


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) over the last len(normalized_shape) dims (biased var)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(
        normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape or len(shape) > input.ndim:
        raise ShapeError(f"layer_norm: normalized_shape {shape} does not match the last dims "
                         f"of the input's shape {input.shape}{_site()}")
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    mu = F.mean(input, dims, keepdim=True)
    centered = input - mu
    var = F.mean(centered * centered, dims, keepdim=True)
    out = centered / F.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _int_indices(what: str, index) -> np.ndarray:
    data = np.asarray(index._data if isinstance(index, Tensor) else index)
    if data.dtype.kind not in "iu":
        raise DTypeError(f"{what}: indices must be integers, got {data.dtype}{_site()}")
    return data


def _class_targets(what: str, target, classes: int, ignore_index: int) -> np.ndarray:
    labels = _int_indices(what, target).astype(np.int64)
    bad = ((labels < 0) | (labels >= classes)) & (labels != ignore_index)
    if bad.any():
        raise IndexingError(f"{what}: target {labels[bad].flat[0]} is out of bounds for "
                            f"{classes} classes{_site()}")
    return labels


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C) or (N, C, d1, ...) at int targets.

    With `weight` (C,), each term is scaled by its class weight and 'mean'
    divides by the summed weights of the targets; `ignore_index` targets add 0.
    """
    if input.ndim < 2:
        raise ShapeError(f"nll_loss: input must be (N, C) or (N, C, d1, ...), got "
                         f"{input.shape}{_site()}")
    classes = input.shape[1]
    labels = _class_targets("nll_loss", target, classes, ignore_index)
    if labels.shape != (input.shape[0],) + input.shape[2:]:
        raise ShapeError(f"nll_loss: target shape {labels.shape} does not fit input shape "
                         f"{input.shape}{_site()}")
    target_shape = labels.shape
    if input.ndim > 2:  # classes last, then one row per element
        perm = (0,) + tuple(range(2, input.ndim)) + (1,)
        input = F.reshape(F.permute(input, perm), (-1, classes))
        labels = labels.reshape(-1)
    keep = labels != ignore_index
    safe = np.where(keep, labels, 0)
    w = np.ones(classes, input.dtype) if weight is None else np.asarray(
        weight._data if isinstance(weight, Tensor) else weight, input.dtype)
    scale = (w[safe] * keep).astype(input.dtype)
    picked = F.getitem(input, (np.arange(labels.shape[0]), safe))
    losses = -picked * scale
    if reduction == "mean":
        return F.sum(losses) / np.asarray(scale.sum(), input.dtype)
    if reduction == "none":
        return F.reshape(losses, target_shape)
    return _reduce(losses, reduction)


def _target(target, like: Tensor):
    return target if isinstance(target, Tensor) else np.asarray(target, like.dtype)


def binary_cross_entropy(input: Tensor, target, weight=None,
                         reduction: str = "mean") -> Tensor:
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 (PyTorch's rule)."""
    data = input._data
    if data.size and (np.nanmin(data) < 0 or np.nanmax(data) > 1):
        raise ValueError(f"binary_cross_entropy: all elements of input should be between "
                         f"0 and 1{_site()}")
    t = _target(target, input)
    with np.errstate(divide="ignore"):  # log(0) = -inf is clamped, as PyTorch does
        log_x = F.clamp(F.log(input), min=-100.0)
        log_1mx = F.clamp(F.log(1.0 - input), min=-100.0)
    loss = -(t * log_x + (1.0 - t) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """BCE of sigmoid(input) computed stably: (1 - t) x + lw (log(1 + e^-|x|) + max(-x, 0)),
    lw = 1 + (pos_weight - 1) t."""
    t = _target(target, input)
    softplus = F.log(F.exp(-F.abs(input)) + 1.0) + F.relu(-input)
    if pos_weight is None:
        loss = (1.0 - t) * input + softplus
    else:
        loss = (1.0 - t) * input + ((pos_weight - 1.0) * t + 1.0) * softplus
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


from ..functions_nn import conv2d, embedding, max_pool2d, max_unpool2d, one_hot  # noqa: E402,F401
