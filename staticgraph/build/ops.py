"""sg.* functions: placeholders, constants, and the op library on symbols.

Every op is a `shared_ops.api` call (so it is a shared primitive, bound to
the graph by `Symbol._gc_bind`). When no argument is a symbol, the first
one is made a constant so the result is still a graph node. TensorFlow
names (`reduce_sum`, `concat`, `clip_by_value`, ...) sit beside NumPy ones.
"""

from __future__ import annotations

import numpy as np

from shared_ops import AbstractArray, DTypeError, ShapeError, user_site
from shared_ops import api as A
from shared_ops.made_functions import as_defined_here as _as_defined_here

from ..errors import GraphError
from ..graph.context import get_default_graph
from .symbol import Symbol, current_site

DTYPE_LIKE = (str, np.dtype, type)


def placeholder_dims(shape) -> tuple:
    """A placeholder's static shape as a tuple (None for a dim known only at run time)."""
    if shape is None:
        raise ShapeError("placeholder: a shape is needed (use None for dims known only at "
                         "run time, e.g. (None, 784))")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    for d in shape:
        if d is not None and (not isinstance(d, (int, np.integer)) or d < 0):
            raise ShapeError(f"placeholder: bad dim {d!r} in shape {shape}")
    return tuple(None if d is None else int(d) for d in shape)


def _is_dtype(value) -> bool:
    if not isinstance(value, DTYPE_LIKE):
        return False
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True


def placeholder(*args, dtype=None, shape=None, name: str | None = None) -> Symbol:
    """An input fed at run time; None dims take any size then.

    TF1's `placeholder(dtype, shape=None, name=None)`. The older order
    `placeholder(shape, dtype)` works too: whichever positional argument is a
    dtype (a NumPy dtype, scalar type or dtype name) is the dtype, a tuple,
    list or int is the shape, another string the name. The dtype defaults to
    float32.
    """
    if len(args) > 3:
        raise TypeError(f"placeholder takes at most 3 positional arguments ({len(args)} given)")
    given = {"dtype": dtype is not None, "shape": shape is not None, "name": name is not None}
    for arg in args:
        if isinstance(arg, str):
            slot = "dtype" if _is_dtype(arg) and not given["dtype"] else "name"
        else:
            slot = "dtype" if isinstance(arg, DTYPE_LIKE) else "shape"
        if given[slot]:
            raise TypeError(f"placeholder got two values for {slot} ({arg!r})")
        given[slot] = True
        if slot == "dtype":
            dtype = arg
        elif slot == "shape":
            shape = arg
        else:
            name = arg
    dtype = "float32" if dtype is None else dtype
    graph = get_default_graph()
    if graph.parent is not None:
        raise GraphError("placeholder: cannot create a placeholder inside sg.cond/scan branches")
    if not _is_dtype(dtype) or np.dtype(dtype).kind not in "biuf":
        raise DTypeError(f"placeholder: unsupported dtype {dtype!r}")
    dtype = np.dtype(dtype)
    var = graph.add_input(AbstractArray(placeholder_dims(shape), dtype), name or "Placeholder",
                          user_site())
    return Symbol(graph, var)


def constant(value, dtype=None, name: str | None = None) -> Symbol:
    """A constant array (Python floats become float32 unless `dtype` says otherwise)."""
    if isinstance(value, Symbol):
        return value if dtype is None else A.cast(value, dtype)
    explicit = dtype is not None or isinstance(value, (np.ndarray, np.generic))
    arr = np.array(value, dtype=dtype, copy=True)
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"constant: unsupported dtype {arr.dtype}")
    if not explicit and arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    graph = get_default_graph()
    return Symbol(graph, graph.add_constant(arr, name, current_site()))


def as_symbol(x) -> Symbol:
    """`x` itself if it is a Symbol, else a constant holding `x`."""
    return x if isinstance(x, Symbol) else constant(x)


def _lift(args: tuple) -> tuple:
    if any(isinstance(a, Symbol) for a in args):
        return args
    return (as_symbol(args[0]),) + tuple(args[1:])


def symbolic_unary(fn):
    def op(x):
        return fn(as_symbol(x))
    return _as_defined_here(op, fn.__name__, fn.__doc__)


def _binary(fn):
    def op(x, y):
        return fn(*_lift((x, y)))
    return _as_defined_here(op, fn.__name__, fn.__doc__)


neg = negative = symbolic_unary(A.neg)
exp, log, sqrt, abs, tanh = (symbolic_unary(f) for f in (A.exp, A.log, A.sqrt, A.abs, A.tanh))
sigmoid, relu, sign, zeros_like = (symbolic_unary(f) for f in (A.sigmoid, A.relu, A.sign,
                                                       A.zeros_like))
logical_not, stop_gradient = symbolic_unary(A.logical_not), symbolic_unary(A.stop_gradient)
add, subtract, multiply, divide, pow = (_binary(f) for f in (A.add, A.sub, A.mul, A.div,
                                                             A.pow))
sub, mul, div = subtract, multiply, divide
maximum, minimum = _binary(A.maximum), _binary(A.minimum)
greater, less, equal, not_equal = (_binary(f) for f in (A.greater, A.less, A.equal,
                                                        A.not_equal))
greater_equal, less_equal = _binary(A.greater_equal), _binary(A.less_equal)
logical_and, logical_or = _binary(A.logical_and), _binary(A.logical_or)


def square(x) -> Symbol:
    """x * x."""
    x = as_symbol(x)
    return A.mul(x, x)


def ones_like(x) -> Symbol:
    """Ones with x's shape (run-time dims included) and dtype."""
    return A.add(A.zeros_like(as_symbol(x)), 1)


def where(condition, x, y) -> Symbol:
    """Elementwise `x if condition else y` with broadcasting."""
    return A.where(*_lift((condition, x, y)))


def clip_by_value(x, clip_value_min=None, clip_value_max=None) -> Symbol:
    """Clamp x to [min, max] (either may be None); gradient is 0 outside."""
    return A.clip(as_symbol(x), clip_value_min, clip_value_max)


def clip(x, lo=None, hi=None) -> Symbol:
    """Clip every element into [lo, hi]; either bound may be None."""
    return A.clip(as_symbol(x), lo, hi)


def cast(x, dtype) -> Symbol:
    """Convert to dtype (the gradient converts back for float inputs)."""
    return A.cast(as_symbol(x), dtype)


def sum(x, axis=None, keepdims: bool = False) -> Symbol:
    """Sum of all elements, or along `axis` (int or tuple), keeping reduced dims if `keepdims`."""
    return A.sum(as_symbol(x), axis, keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Symbol:
    """Mean of all elements, or along `axis` (int or tuple), keeping reduced dims if `keepdims`."""
    return A.mean(as_symbol(x), axis, keepdims)


def max(x, axis=None, keepdims: bool = False) -> Symbol:
    """Max of all elements, or along `axis` (int or tuple), keeping reduced dims if `keepdims`."""
    return A.max(as_symbol(x), axis, keepdims)


def min(x, axis=None, keepdims: bool = False) -> Symbol:
    """Min of all elements, or along `axis` (int or tuple), keeping reduced dims if `keepdims`."""
    return A.min(as_symbol(x), axis, keepdims)


reduce_sum, reduce_mean, reduce_max, reduce_min = sum, mean, max, min


def softmax(x, axis: int = -1) -> Symbol:
    """Softmax along `axis`: exp(x) normalised to sum to 1."""
    return A.softmax(as_symbol(x), axis)


def log_softmax(x, axis: int = -1) -> Symbol:
    """Log of the softmax along `axis`, computed stably."""
    return A.log_softmax(as_symbol(x), axis)


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False) -> Symbol:
    """Matrix product (NumPy semantics); TF's transpose flags swap the last two axes."""
    a, b = _lift((a, b))
    if transpose_a:
        a = A.swapaxes(a, -1, -2)
    if transpose_b:
        b = A.swapaxes(b, -1, -2)
    return A.matmul(a, b)


def transpose(x, perm=None) -> Symbol:
    """Permute the dims by `perm` (default: reverse them), as tf.transpose."""
    return A.transpose(as_symbol(x), perm)


def reshape(x, shape) -> Symbol:
    """The same elements in a new shape (one entry may be -1)."""
    return A.reshape(as_symbol(x), shape)


def expand_dims(x, axis) -> Symbol:
    """Insert a size-1 dim at position `axis`."""
    return A.expand_dims(as_symbol(x), axis)


def squeeze(x, axis=None) -> Symbol:
    """Remove size-1 dims (all of them, or those in `axis`)."""
    return A.squeeze(as_symbol(x), axis)


def broadcast_to(x, shape) -> Symbol:
    """Broadcast `x` to `shape` with NumPy's rules."""
    return A.broadcast_to(as_symbol(x), shape)


def concatenate(values, axis: int = 0) -> Symbol:
    """Join a sequence of symbols along an existing `axis`."""
    values = list(values)
    return A.concatenate(_lift(tuple(values)) if values else values, axis)


def concat(values, axis: int) -> Symbol:
    """TensorFlow's name for concatenate."""
    return concatenate(values, axis)


def stack(values, axis: int = 0) -> Symbol:
    """Stack a sequence of same-shaped symbols along a new `axis`."""
    values = list(values)
    return A.stack(_lift(tuple(values)) if values else values, axis)


__all__ = [
    "placeholder", "constant", "as_symbol", "neg", "negative", "exp", "log", "sqrt", "abs",
    "tanh", "sigmoid", "relu", "sign", "zeros_like", "ones_like", "logical_not",
    "stop_gradient", "add", "subtract", "multiply", "divide", "pow", "sub", "mul", "div",
    "maximum", "minimum", "greater", "less", "equal", "not_equal", "greater_equal",
    "less_equal", "logical_and", "logical_or", "square", "where", "clip_by_value", "clip",
    "cast", "sum", "mean", "max", "min", "reduce_sum", "reduce_mean", "reduce_max",
    "reduce_min", "softmax", "log_softmax", "matmul", "transpose", "reshape", "expand_dims",
    "squeeze", "broadcast_to", "concatenate", "concat", "stack",
]


def add_n(inputs) -> Symbol:
    """The sum of a list of symbols of one shape and dtype (TensorFlow's add_n)."""
    inputs = list(inputs)
    return A.add_n(_lift(tuple(inputs)) if inputs else inputs)
