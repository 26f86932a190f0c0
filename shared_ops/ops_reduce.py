"""Reductions (sum, mean, max), softmax and log_softmax.

Axes reach the primitives already normalised (a sorted tuple, or None for
all), so graphs compare equal when they mean the same thing.
"""

from __future__ import annotations

import numpy as np

from . import api as A
from .dtypes import float_operands
from .errors import ShapeError
from .grad_utils import count_of, expand_to, restore_reduced
from .primitive import Primitive, register
from .shapes import AbstractArray, float_dtype, normalize_axes, result_dtype, shape_of


def _reduce_eval(name, to_float=False):
    def abstract_eval(x, *, axis, keepdims):
        shape = shape_of(x)
        normalize_axes(name, axis, len(shape))
        kept = [1 if i in axis else d for i, d in enumerate(shape)]
        out = tuple(kept) if keepdims else tuple(d for i, d in enumerate(shape) if i not in axis)
        dtype = result_dtype(name, x)
        if name == "sum" and dtype.kind in "biu":  # NumPy sums small ints in the word size
            dtype = np.dtype(np.uint64) if dtype.kind == "u" else np.result_type(dtype, np.int64)
        return AbstractArray(out, float_dtype(name, dtype) if to_float else dtype)
    return abstract_eval


def _sum_vjp(g, out, x, *, needs, axis, keepdims):
    return (expand_to(restore_reduced(g, axis, keepdims), x),)


def _mean_vjp(g, out, x, *, needs, axis, keepdims):
    spread = expand_to(restore_reduced(g, axis, keepdims), x)
    return (A.div(spread, count_of(x, axis)),)


def _max_vjp(g, out, x, *, needs, axis, keepdims):
    peak = restore_reduced(out, axis, keepdims)
    mask = A.cast(A.equal(x, peak), A.dtype_of(g))
    share = A.div(mask, A.sum(mask, axis=axis, keepdims=True))
    return (A.mul(expand_to(restore_reduced(g, axis, keepdims), x), share),)


def _mean_impl(x, *, axis, keepdims):
    (x,) = float_operands(x)  # ints and bools: float64 (float16 accumulates in float32)
    return np.mean(x, axis=axis, keepdims=keepdims)


# ufunc.reduce directly: np.sum/np.max add about 1 us of dispatch per call,
# which small arrays (and every broadcast gradient) pay.
sum_ = register(Primitive(
    name="sum", impl=lambda x, *, axis, keepdims: np.add.reduce(x, axis=axis, keepdims=keepdims),
    abstract_eval=_reduce_eval("sum"), vjp=_sum_vjp, reduction=True, shape_only=(0,)))
mean = register(Primitive(
    name="mean", impl=_mean_impl, abstract_eval=_reduce_eval("mean", to_float=True),
    vjp=_mean_vjp, reduction=True, shape_only=(0,)))
max_ = register(Primitive(
    name="max",
    impl=lambda x, *, axis, keepdims: np.maximum.reduce(x, axis=axis, keepdims=keepdims),
    abstract_eval=_reduce_eval("max"), vjp=_max_vjp, reduction=True,
    doc="max over axes; ties share the gradient equally"))


def _softmax_impl(x, *, axis):
    (x,) = float_operands(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_impl(x, *, axis):
    (x,) = float_operands(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _softmax_eval(x, *, axis):
    normalize_axes("softmax", axis, len(shape_of(x)))
    return AbstractArray(shape_of(x), float_dtype("softmax", result_dtype("softmax", x)))


def _softmax_vjp(g, out, x, *, needs, axis):
    inner = A.sum(A.mul(g, out), axis=axis, keepdims=True)
    return (A.mul(out, A.sub(g, inner)),)


def _log_softmax_vjp(g, out, x, *, needs, axis):
    total = A.sum(g, axis=axis, keepdims=True)
    return (A.sub(g, A.mul(A.exp(out), total)),)


softmax = register(Primitive(
    name="softmax", impl=_softmax_impl, abstract_eval=_softmax_eval, vjp=_softmax_vjp,
    doc="numerically stable softmax along one axis"))
log_softmax = register(Primitive(
    name="log_softmax", impl=_log_softmax_impl, abstract_eval=_softmax_eval,
    vjp=_log_softmax_vjp, doc="numerically stable log(softmax(x)) along one axis"))


# ---- logsumexp, variance, argmax/argmin -----------------------------------

def _logsumexp_impl(x, *, axis, keepdims):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    peak = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros((1,) * x.ndim, x.dtype)
    peak = np.where(np.isfinite(peak), peak, 0).astype(x.dtype)  # all -inf: shift by 0
    with np.errstate(divide="ignore"):
        total = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return total if keepdims else np.squeeze(total, axis=axis)


def _logsumexp_vjp(g, out, x, *, needs, axis, keepdims):
    spread = restore_reduced(g, axis, keepdims)
    return (A.mul(spread, A.exp(A.sub(x, restore_reduced(out, axis, keepdims)))),)


logsumexp = register(Primitive(
    name="logsumexp", impl=_logsumexp_impl, abstract_eval=_reduce_eval("logsumexp", True),
    vjp=_logsumexp_vjp, reduction=True,
    doc="log(sum(exp(x))) over axes, computed without overflow"))


def _var_eval(x, *, axis, keepdims, correction):
    return _reduce_eval("var", to_float=True)(x, axis=axis, keepdims=keepdims)


def _var_impl(x, *, axis, keepdims, correction):
    x = np.asarray(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.var(x, axis=axis, ddof=correction, keepdims=keepdims)
    return np.asarray(out, dtype=x.dtype if x.dtype.kind == "f" else np.float64)


def _var_vjp(g, out, x, *, needs, axis, keepdims, correction):
    centred = A.sub(x, A.mean(x, axis=axis, keepdims=True))
    count = count_of(x, axis)
    dof = count - correction if isinstance(count, int) else A.sub(count, correction)
    scale = A.div(A.mul(restore_reduced(g, axis, keepdims), 2), dof)
    return (A.mul(centred, scale),)


var = register(Primitive(
    name="var", impl=_var_impl, abstract_eval=_var_eval, vjp=_var_vjp, reduction=True,
    doc="variance over axes, dividing by N - correction (PyTorch's var)"))


def _arg_eval(name):
    def abstract_eval(x, *, axis, keepdims):
        shape = shape_of(x)
        result_dtype(name, x)  # validates the dtype
        if axis is None:
            if 0 in shape:
                raise ShapeError(f"{name}: cannot take the {name} of an empty array")
            return AbstractArray((1,) * len(shape) if keepdims else (), np.dtype(np.int64))
        if shape[axis] == 0:
            raise ShapeError(f"{name}: axis {axis} has size 0")
        kept = tuple(1 if i == axis else d for i, d in enumerate(shape))
        out = kept if keepdims else shape[:axis] + shape[axis + 1:]
        return AbstractArray(out, np.dtype(np.int64))
    return abstract_eval


def _arg_impl(fn):
    def impl(x, *, axis, keepdims):
        return np.asarray(fn(x, axis=axis, keepdims=keepdims), dtype=np.int64)
    return impl


argmax = register(Primitive(
    name="argmax", impl=_arg_impl(np.argmax), abstract_eval=_arg_eval("argmax"),
    reduction=True, differentiable=False,
    doc="index of the largest value along one axis (None: of the flattened array); the "
        "first one on ties, NaN counts as largest"))
argmin = register(Primitive(
    name="argmin", impl=_arg_impl(np.argmin), abstract_eval=_arg_eval("argmin"),
    reduction=True, differentiable=False,
    doc="index of the smallest value along one axis (None: of the flattened array)"))
