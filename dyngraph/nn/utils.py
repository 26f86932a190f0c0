"""dg.nn.utils: gradient clipping as torch.nn.utils."""

from __future__ import annotations

import math

import numpy as np

from shared_ops import GradientError

from ..dispatch import wrap
from ..node import bump_version
from ..tensor import Tensor


def _grads(parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale the gradients in place so their joint norm is at most max_norm.

    The norm is that of all gradients concatenated (`norm_type` p, or inf);
    gradients are multiplied by max_norm / (norm + 1e-6) when that is below 1.
    Returns the norm before clipping, as a 0-d tensor.
    """
    grads = _grads(parameters)
    if not grads:
        return wrap(np.zeros((), np.float32))
    norm_type = float(norm_type)
    datas = [g._data for g in grads]
    if math.isinf(norm_type):
        total = max(float(np.abs(d).max()) if d.size else 0.0 for d in datas)
    else:
        total = float(sum(float((np.abs(d.astype(np.float64)) ** norm_type).sum())
                          for d in datas) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise GradientError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                            "gradients is non-finite, so it cannot be clipped")
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g._data *= np.asarray(coef, g.dtype)
            bump_version(g)
    return wrap(np.asarray(total, datas[0].dtype))


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)
        bump_version(g)
