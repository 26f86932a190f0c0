"""dg.nn layers for training: Dropout, LayerNorm, Embedding and three losses.

Parameter names and initial values follow torch.nn (LayerNorm: weight ones,
bias zeros; Embedding: weight N(0, 1) with the padding row zeroed), so a
PyTorch state_dict loads into them.
"""

from __future__ import annotations

import numpy as np

from ..creation import generator
from ..dispatch import DEFAULT_DTYPE
from ..tensor import Tensor
from . import functional as F
from .modules import Module, Parameter


def _dtype(dtype) -> np.dtype:
    return DEFAULT_DTYPE[0] if dtype is None else np.dtype(dtype)


class Dropout(Module):
    """Dropout in training mode (`model.train()`), identity in eval mode (`model.eval()`)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise over the last dims `normalized_shape`, then scale and shift."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(
            normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        dtype = _dtype(dtype)
        self.weight = Parameter(np.ones(shape, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype)) if elementwise_affine and bias else None

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.weight is not None}")


class Embedding(Module):
    """A lookup table: `emb(ids)` gives rows of `weight` (num_embeddings, embedding_dim)."""

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, dtype=None) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within "
                                 f"num_embeddings {num_embeddings}")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        weight = generator().standard_normal((num_embeddings, embedding_dim)).astype(
            _dtype(dtype))
        if padding_idx is not None:
            weight[padding_idx] = 0
        self.weight = Parameter(weight)

    def forward(self, input) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class NLLLoss(Module):
    """Negative log-likelihood of log-probabilities at class targets."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__()
        self.class_weight, self.ignore_index, self.reduction = weight, ignore_index, reduction

    def forward(self, input: Tensor, target) -> Tensor:
        return F.nll_loss(input, target, self.class_weight, self.ignore_index, self.reduction)


class BCELoss(Module):
    """Binary cross-entropy of probabilities."""

    def __init__(self, weight=None, reduction: str = "mean") -> None:
        super().__init__()
        self.elem_weight, self.reduction = weight, reduction

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy(input, target, self.elem_weight, self.reduction)


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy of logits (sigmoid folded in, numerically stable)."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None) -> None:
        super().__init__()
        self.elem_weight, self.reduction, self.pos_weight = weight, reduction, pos_weight

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.elem_weight,
                                                  self.reduction, self.pos_weight)
