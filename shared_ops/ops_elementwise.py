"""Elementwise primitives: NumPy impl, shape/dtype rule, VJP, scalar function.

Each `scalar` is a plain per-element function that Numba compiles in
nopython mode (CPU and CUDA); the compiler fuses chains of them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit

from . import api as A
from .dtypes import float_operands, int_pow, s_int_pow
from .errors import DTypeError
from .grad_utils import unbroadcast
from .primitive import Primitive, register
from .shapes import (
    AbstractArray,
    at_user,
    broadcast_shapes,
    float_dtype,
    result_dtype,
    shape_of,
)

BOOL = np.dtype(np.bool_)


def _shape(name, xs):
    return broadcast_shapes(name, *(shape_of(x) for x in xs))


def _same_eval(name):
    def abstract_eval(*xs, **params):
        return AbstractArray(_shape(name, xs), result_dtype(name, *xs))
    return abstract_eval


def _float_eval(name):
    def abstract_eval(*xs, **params):
        return AbstractArray(_shape(name, xs), float_dtype(name, result_dtype(name, *xs)))
    return abstract_eval


def _bool_eval(name):
    def abstract_eval(*xs, **params):
        result_dtype(name, *xs)  # validates operand dtypes
        return AbstractArray(_shape(name, xs), BOOL)
    return abstract_eval


def _is_bool(x) -> bool:
    dtype = getattr(x, "dtype", None)
    return dtype.kind == "b" if dtype is not None else isinstance(x, bool)


def _bool_refused(name: str, where: str = "") -> DTypeError:
    return DTypeError(f"{name}: not defined for bool operands (cast to an integer or float "
                      f"dtype first; logical_not negates a mask){where}")


def _no_bool_eval(name, abstract_eval):
    def checked(*xs, **params):
        out = abstract_eval(*xs, **params)
        if all(_is_bool(x) for x in xs):
            raise _bool_refused(name, at_user())
        return out
    return checked


def _kind(x) -> str | None:
    """The dtype kind of an ndarray operand (the hot path), else None."""
    return x.dtype.kind if type(x) is np.ndarray else None


def _no_bool_impl(name, impl):
    def checked(*xs, **params):
        x = xs[0]  # a non-bool array first (the hot path) needs no further check
        if (type(x) is not np.ndarray or x.dtype.kind == "b") and all(_is_bool(y) for y in xs):
            raise _bool_refused(name)
        return impl(*xs, **params)
    return checked


def _float_impl(np_fn):
    """A float op's impl: integer and bool operands are computed in float64. Float
    arrays (with float arrays or Python floats) go straight to NumPy. `out` is
    the buffer of dyngraph's in-place ops (a keyword, not `**out`: no dict per call)."""
    def impl(x, *rest, out=None):
        if type(x) is np.ndarray and x.dtype.kind == "f":
            if not rest:  # unary: the hot path
                return np_fn(x) if out is None else np_fn(x, out=out)
            for y in rest:  # a loop: a generator would cost more than the ufunc
                if type(y) is not float and _kind(y) != "f":
                    break
            else:
                return np_fn(x, *rest) if out is None else np_fn(x, *rest, out=out)
        operands = float_operands(x, *rest)
        return np_fn(*operands) if out is None else np_fn(*operands, out=out)
    return impl


def _elementwise(name, impl, scalar, vjp, kind="same", differentiable=True, doc="",
                 shape_only=(), no_bool=False, **properties):
    evals = {"same": _same_eval, "float": _float_eval, "bool": _bool_eval}
    abstract_eval = evals[kind](name)
    if kind == "float":
        impl = _float_impl(impl)
    if no_bool:
        abstract_eval, impl = _no_bool_eval(name, abstract_eval), _no_bool_impl(name, impl)
    return register(Primitive(
        name=name, impl=impl, abstract_eval=abstract_eval, vjp=vjp, scalar=scalar,
        elementwise=True, differentiable=differentiable, doc=doc, shape_only=shape_only,
        **properties))


def _pow_impl(x, y, **out):
    """np.power, except integer ** negative integer: PyTorch's value (dtypes.int_pow)."""
    if _kind(x) == "f" or _kind(y) == "f" or type(x) is float or type(y) is float or (
            getattr(x, "dtype", None) is not None and x.dtype.kind == "f") or (
            getattr(y, "dtype", None) is not None and y.dtype.kind == "f"):
        return np.power(x, y, **out)
    result = int_pow(x, y)
    if out:  # an in-place pow: the casting rule of np.power's `out`
        np.copyto(out["out"], result, casting="same_kind")
        return out["out"]
    return result


# ---- scalar (per-element) functions, compiled by Numba during fusion -------

def s_add(a, b): return a + b
def s_sub(a, b): return a - b
def s_mul(a, b): return a * b
def s_div(a, b): return a / b
def s_pow(a, b): return a ** b
def s_maximum(a, b): return a if a >= b or a != a else b  # NaN wins, as np.maximum
def s_minimum(a, b): return a if a <= b or a != a else b
def s_neg(a): return -a
def s_exp(a): return math.exp(a)
def s_log(a): return math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)
def s_sqrt(a): return math.sqrt(a) if a >= 0 else math.nan
def s_abs(a): return abs(a)
def s_tanh(a): return math.tanh(a)
def s_relu(a): return a if not a <= 0 else 0  # NaN stays NaN, -inf gives 0 (np.maximum)
def s_sign(a): return a if a != a else (a > 0) - (a < 0)  # sign(nan) is nan
def s_zeros_like(a): return 0  # not a * 0: Inf and NaN must give 0 too
def s_greater(a, b): return a > b
def s_less(a, b): return a < b
def s_equal(a, b): return a == b
def s_not_equal(a, b): return a != b
def s_greater_equal(a, b): return a >= b
def s_less_equal(a, b): return a <= b
def s_logical_and(a, b): return bool(a) and bool(b)
def s_logical_or(a, b): return bool(a) or bool(b)
def s_logical_not(a): return not a
def s_where(c, a, b): return a if c else b


def s_log1p(a): return math.log1p(a) if a > -1 else (-math.inf if a == -1 else math.nan)
def s_expm1(a): return math.expm1(a)
def s_sin(a): return math.sin(a)
def s_cos(a): return math.cos(a)


def s_sigmoid(a):
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


# ---- VJP rules: cotangent g, output, inputs, which inputs need a gradient ---

def _add_vjp(g, out, x, y, *, needs):
    return (unbroadcast(g, x) if needs[0] else None,
            unbroadcast(g, y) if needs[1] else None)


def _sub_vjp(g, out, x, y, *, needs):
    return (unbroadcast(g, x) if needs[0] else None,
            unbroadcast(A.neg(g), y) if needs[1] else None)


def _mul_vjp(g, out, x, y, *, needs):
    return (unbroadcast(A.mul(g, y), x) if needs[0] else None,
            unbroadcast(A.mul(g, x), y) if needs[1] else None)


def _div_vjp(g, out, x, y, *, needs):
    return (unbroadcast(A.div(g, y), x) if needs[0] else None,
            unbroadcast(A.neg(A.div(A.mul(g, out), y)), y) if needs[1] else None)


def _pow_vjp(g, out, x, y, *, needs):
    gx = gy = None
    if needs[0]:  # y * x ** (y - 1), and 0 where y == 0 (PyTorch: x ** 0 is constant)
        if isinstance(y, (bool, int, float)):
            gx = A.zeros_like(g) if y == 0 else A.mul(A.mul(g, y), A.pow(x, y - 1))
        else:
            gx = A.where(A.equal(y, 0), 0, A.mul(A.mul(g, y), A.pow(x, A.sub(y, 1))))
        gx = unbroadcast(gx, x)
    if needs[1]:  # out * log(x): NaN for x < 0, and 0 where x == 0 and y >= 0 (PyTorch)
        zero_base = A.logical_and(A.equal(x, 0), A.greater_equal(y, 0))
        gy = unbroadcast(A.mul(g, A.mul(out, A.log(A.where(zero_base, 1, x)))), y)
    return gx, gy


def _extremum_vjp(pick):
    def vjp(g, out, x, y, *, needs):
        half = A.mul(g, 0.5)
        gx = A.where(pick(x, y), g, A.where(A.equal(x, y), half, 0))
        gy = A.where(pick(y, x), g, A.where(A.equal(x, y), half, 0))
        return (unbroadcast(gx, x) if needs[0] else None,
                unbroadcast(gy, y) if needs[1] else None)
    return vjp


def _where_vjp(g, out, c, x, y, *, needs):
    return (None,
            unbroadcast(A.where(c, g, 0), x) if needs[1] else None,
            unbroadcast(A.where(c, 0, g), y) if needs[2] else None)


add = _elementwise("add", np.add, s_add, _add_vjp, doc="x + y", shape_only=(0, 1),
                  commutative=True)
sub = _elementwise("sub", np.subtract, s_sub, _sub_vjp, doc="x - y", shape_only=(0, 1),
                  no_bool=True)
mul = _elementwise("mul", np.multiply, s_mul, _mul_vjp, doc="x * y", commutative=True)
div = _elementwise("div", np.true_divide, s_div, _div_vjp, kind="float", doc="x / y",
                   shape_only=(0,))
pow_ = _elementwise("pow", _pow_impl, s_pow, _pow_vjp, doc="x ** y", no_bool=True,
                    int_scalar=s_int_pow)
maximum = _elementwise("maximum", np.maximum, s_maximum,
                       _extremum_vjp(lambda a, b: A.greater(a, b)))
minimum = _elementwise("minimum", np.minimum, s_minimum,
                       _extremum_vjp(lambda a, b: A.less(a, b)))
where = _elementwise("where", np.where, s_where, _where_vjp, doc="where(cond, x, y)",
                     shape_only=(1, 2))

neg = _elementwise("neg", np.negative, s_neg, lambda g, out, x, *, needs: (A.neg(g),),
                  no_bool=True)
exp = _elementwise("exp", np.exp, s_exp, lambda g, out, x, *, needs: (A.mul(g, out),),
                   kind="float")
log = _elementwise("log", np.log, s_log, lambda g, out, x, *, needs: (A.div(g, x),),
                   kind="float")
sqrt = _elementwise("sqrt", np.sqrt, s_sqrt,
                    lambda g, out, x, *, needs: (A.div(g, A.mul(out, 2)),), kind="float")
abs_ = _elementwise("abs", np.abs, s_abs,
                    lambda g, out, x, *, needs: (A.mul(g, A.sign(x)),))
# tanh' = 1 - out^2 and sigmoid' = out - out^2, written without the constant 1:
# NumPy takes twice as long for `1 - array` as for an array-array op on small
# arrays, and the backward of a small net is made of such calls.
tanh = _elementwise("tanh", np.tanh, s_tanh,
                    lambda g, out, x, *, needs: (A.sub(g, A.mul(A.mul(g, out), out)),),
                    kind="float")
def _sigmoid_impl(x):
    out = expit(x)  # SciPy computes float16 in float32: round back, as NumPy's ufuncs do
    dtype = getattr(x, "dtype", None)
    return out.astype(dtype) if dtype is not None and dtype.kind == "f" and \
        out.dtype != dtype else out


sigmoid = _elementwise("sigmoid", _sigmoid_impl, s_sigmoid,
                       lambda g, out, x, *, needs: (A.mul(g, A.sub(out, A.mul(out, out))),),
                       kind="float")
relu = _elementwise("relu", lambda x: np.maximum(x, 0), s_relu,  # out > 0 exactly where x > 0
                    lambda g, out, x, *, needs: (A.where(A.greater(out, 0), g, 0),),
                    no_bool=True)

sign = _elementwise("sign", np.sign, s_sign, None, differentiable=False, no_bool=True)
zeros_like = _elementwise("zeros_like", np.zeros_like, s_zeros_like, None,
                          differentiable=False)
greater = _elementwise("greater", np.greater, s_greater, None, "bool", False)
less = _elementwise("less", np.less, s_less, None, "bool", False)
equal = _elementwise("equal", np.equal, s_equal, None, "bool", False,
                     commutative=True)
not_equal = _elementwise("not_equal", np.not_equal, s_not_equal, None, "bool", False,
                         commutative=True)
greater_equal = _elementwise("greater_equal", np.greater_equal, s_greater_equal, None,
                             "bool", False)
less_equal = _elementwise("less_equal", np.less_equal, s_less_equal, None, "bool", False)
logical_and = _elementwise("logical_and", np.logical_and, s_logical_and, None, "bool", False,
                           commutative=True)
logical_or = _elementwise("logical_or", np.logical_or, s_logical_or, None, "bool", False,
                          commutative=True)
logical_not = _elementwise("logical_not", np.logical_not, s_logical_not, None, "bool", False)

log1p = _elementwise("log1p", np.log1p, s_log1p,
                     lambda g, out, x, *, needs: (A.div(g, A.add(x, 1)),), kind="float",
                     doc="log(1 + x), accurate for small x")
expm1 = _elementwise("expm1", np.expm1, s_expm1,
                     lambda g, out, x, *, needs: (A.add(A.mul(g, out), g),), kind="float",
                     doc="exp(x) - 1, accurate for small x")
sin = _elementwise("sin", np.sin, s_sin,
                   lambda g, out, x, *, needs: (A.mul(g, A.cos(x)),), kind="float")
cos = _elementwise("cos", np.cos, s_cos,
                   lambda g, out, x, *, needs: (A.neg(A.mul(g, A.sin(x))),), kind="float")


# ---- elementwise ops with parameters: `scalar` is a factory of params -------

def _clip_eval(x, *, lo, hi):
    bounds = [b for b in (lo, hi) if b is not None]  # weak scalars: int x, float bound -> float
    return AbstractArray(shape_of(x), result_dtype("clip", x, *bounds))


def _clip_vjp(g, out, x, *, needs, lo, hi):
    inside = None
    for bound, test in ((lo, A.greater_equal), (hi, A.less_equal)):
        if bound is not None:
            cond = test(x, bound)
            inside = cond if inside is None else A.logical_and(inside, cond)
    return (g if inside is None else A.where(inside, g, 0),)


def clip_scalar(*, lo, hi):
    low = -math.inf if lo is None else lo
    high = math.inf if hi is None else hi

    def s_clip(a):
        return low if a < low else (high if a > high else a)
    return s_clip


clip = register(Primitive(
    name="clip", impl=lambda x, *, lo, hi: np.clip(x, lo, hi), abstract_eval=_clip_eval,
    vjp=_clip_vjp, scalar=clip_scalar, elementwise=True, scalar_factory=True,
    doc="clip(x, lo, hi): lo or hi may be None"))


def _cast_eval(x, *, dtype):
    return AbstractArray(shape_of(x), np.dtype(dtype))


def _cast_vjp(g, out, x, *, needs, dtype):
    source = A.dtype_of(x)
    return (A.cast(g, source) if source.kind == "f" else None,)


def cast_scalar(*, dtype):
    target = np.dtype(dtype)
    convert = target.type
    if target.kind not in "iu" or target.itemsize == 8:
        def s_cast(a):
            return convert(a)
        return s_cast
    wide = np.int64  # narrow ints go through int64, as NumPy's casts do: NaN gives 0

    def s_cast_narrow(a):
        return convert(wide(a))
    return s_cast_narrow


cast = register(Primitive(
    name="cast", impl=lambda x, *, dtype: np.array(x, dtype=dtype),  # a new array, never a view
    abstract_eval=_cast_eval, vjp=_cast_vjp, scalar=cast_scalar, elementwise=True,
    scalar_factory=True, doc="cast(x, dtype)", shape_only=(0,)))


def s_identity(a):
    return a


stop_gradient = register(Primitive(
    name="stop_gradient", impl=lambda x: x,
    abstract_eval=lambda x: AbstractArray(shape_of(x), A.dtype_of(x)),
    scalar=s_identity, elementwise=True, differentiable=False, views=True,
    doc="identity whose output carries no gradient (detach)"))
