"""`sg.nn`: TF1's `tf.nn` names on staticgraph symbols.

Activations (`relu`, `sigmoid`, `tanh`, `softmax`, `log_softmax`), the
softmax losses, `sigmoid_cross_entropy_with_logits`, `l2_loss` and
`dropout`. `clip_by_global_norm` lives here and at the top level (`sg.`) as
in TF1. The losses take `labels=` and `logits=` by keyword, as TF1 insists.
"""

from __future__ import annotations

import numpy as np

from shared_ops import AbstractArray, DTypeError, Primitive, ShapeError, format_site
from shared_ops import api as A

from .build import ops
from .build.random_ops import random_uniform, random_uniform_like
from .build.symbol import Symbol, bind_symbolic, current_site

relu, sigmoid, tanh = ops.relu, ops.sigmoid, ops.tanh


def softmax(logits, axis: int = -1, name: str | None = None) -> Symbol:
    """exp(logits) normalised along `axis` (TF1's `tf.nn.softmax`)."""
    return ops.softmax(logits, axis)


def log_softmax(logits, axis: int = -1, name: str | None = None) -> Symbol:
    """logits - logsumexp(logits) along `axis` (TF1's `tf.nn.log_softmax`)."""
    return ops.log_softmax(logits, axis)


def softmax_cross_entropy_with_logits(*, labels, logits, axis: int = -1,
                                      name: str | None = None) -> Symbol:
    """Per-example `-sum(labels * log_softmax(logits), axis)`; labels are probabilities.

    The gradient flows to `logits` and to `labels` (TF1's `_v2` behaviour;
    wrap labels in `sg.stop_gradient` for the older one).
    """
    logits = ops.as_symbol(logits)
    return A.neg(A.sum(A.mul(labels, A.log_softmax(logits, axis)), axis))


softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits


def _at() -> str:
    where = format_site(current_site())
    return f" (at {where})" if where else ""


def _labels_eval(labels, *, classes: int):
    if labels.dtype.kind not in "iu":
        raise DTypeError(f"sparse_softmax_cross_entropy_with_logits: labels must be ints, "
                         f"got {labels.dtype}")
    return AbstractArray(labels.shape, labels.dtype)


def _labels_impl(labels, *, classes: int):
    labels = np.asarray(labels)
    bad = (labels < 0) | (labels >= classes)
    if bad.any():
        raise IndexError(f"sparse_softmax_cross_entropy_with_logits: label "
                            f"{labels[bad].flat[0]} is out of range for {classes} classes")
    return labels


checked_labels_p = Primitive(
    name="checked_labels", impl=_labels_impl, abstract_eval=_labels_eval,
    differentiable=False, views=True,
    doc="class labels unchanged; an IndexingError at run time for one out of range")


def sparse_softmax_cross_entropy_with_logits(*, labels, logits,
                                             name: str | None = None) -> Symbol:
    """Per-example `-log_softmax(logits)[label]` for int class labels (N,) and logits (N, C).

    The number of classes (last dim of logits) must be known when building.
    A label outside [0, C) raises an IndexingError when the graph runs.
    """
    logits = ops.as_symbol(logits)
    classes = logits.shape[-1] if logits.ndim else None
    if classes is None:
        raise ShapeError("sparse_softmax_cross_entropy_with_logits: the last dim of logits "
                         f"(the classes) must be known, got {logits.shape}{_at()}")
    labels = ops.as_symbol(labels)
    if labels.ndim != logits.ndim - 1:
        raise ShapeError("sparse_softmax_cross_entropy_with_logits: labels must have one dim "
                         f"fewer than logits, got {labels.shape} and {logits.shape}{_at()}")
    labels = bind_symbolic(checked_labels_p, (labels,), {"classes": int(classes)})
    one_hot = A.cast(A.equal(A.expand_dims(labels, -1), np.arange(classes)), logits.dtype)
    return A.neg(A.sum(A.mul(one_hot, A.log_softmax(logits, -1)), -1))


def sigmoid_cross_entropy_with_logits(*, labels, logits, name: str | None = None) -> Symbol:
    """Elementwise `max(x, 0) - x * z + log(1 + exp(-|x|))` (x logits, z labels)."""
    x = ops.as_symbol(logits)
    return A.add(A.sub(A.relu(x), A.mul(x, labels)),
                 A.log(A.add(A.exp(A.neg(A.abs(x))), 1.0)))


def l2_loss(t, name: str | None = None) -> Symbol:
    """sum(t ** 2) / 2."""
    t = ops.as_symbol(t)
    return A.mul(A.sum(A.mul(t, t)), 0.5)


def _keep_probability(keep_prob, rate):
    if (keep_prob is None) == (rate is None):
        raise ValueError("dropout: give exactly one of keep_prob and rate")
    if isinstance(rate, Symbol):
        return A.sub(1.0, rate)
    if rate is not None:
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
        return 1.0 - float(rate)
    if not isinstance(keep_prob, Symbol) and not 0.0 < float(keep_prob) <= 1.0:
        raise ValueError(f"dropout: keep_prob must be in (0, 1], got {keep_prob}")
    return keep_prob if isinstance(keep_prob, Symbol) else float(keep_prob)


def dropout(x, keep_prob=None, noise_shape=None, seed: int | None = None,
            name: str | None = None, rate=None) -> Symbol:
    """Zero each element with probability 1 - keep_prob, scale the rest by 1 / keep_prob.

    TF1's `tf.nn.dropout`: `keep_prob` (or `rate = 1 - keep_prob`) may be a
    number or a symbol (a placeholder fed 1.0 at test time); a new mask is
    drawn every run. `noise_shape`, a static shape that broadcasts to x's,
    shares one draw along its size-1 dims.
    """
    x = ops.as_symbol(x)
    keep = _keep_probability(keep_prob, rate)
    if not isinstance(keep, Symbol) and keep == 1.0:
        return x
    if noise_shape is None:
        draws = random_uniform_like(x, seed=seed)
    else:
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        draws = random_uniform(noise_shape, dtype=dtype, seed=seed)
    mask = A.cast(A.less(draws, keep), x.dtype)
    return A.div(A.mul(x, mask), keep)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name: str | None = None):
    """(clipped list, global norm): every t times clip_norm / max(global_norm, clip_norm).

    TF1's `tf.clip_by_global_norm`; None entries stay None; `use_norm`
    replaces the computed norm.
    """
    t_list = list(t_list)
    present = [ops.as_symbol(t) for t in t_list if t is not None]
    if not present:
        raise ValueError("clip_by_global_norm: t_list has no tensors")
    if use_norm is None:
        squares = [A.sum(A.mul(t, t)) for t in present]
        total = squares[0]
        for s in squares[1:]:
            total = A.add(total, s)
        use_norm = A.sqrt(total)
    scale = A.mul(clip_norm, A.minimum(A.div(1.0, use_norm), A.div(1.0, clip_norm)))
    clipped = [None if t is None else A.mul(ops.as_symbol(t), A.cast(scale, t.dtype)
                                            if isinstance(t, Symbol) else scale)
               for t in t_list]
    return clipped, use_norm


from .build.ops_tf1 import conv2d, embedding_lookup, max_pool, max_pool_with_argmax, moments  # noqa: E402,F401
