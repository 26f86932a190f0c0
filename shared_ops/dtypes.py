"""The dtype rule every engine and backend follows (docs/dtypes.md has the table).

- Supported dtypes: bool, signed and unsigned integers, float16/32/64. Complex,
  object, string, bytes, void and datetime values are refused with a
  `DTypeError` wherever they enter (`supported_dtype`).
- Arithmetic (add, sub, mul, pow, maximum, minimum, where, clip, abs, ...)
  promotes as NumPy 2 does (NEP 50: Python scalars are weak).
- Ops whose result is a float (div, exp, log, sqrt, tanh, sigmoid, mean,
  softmax, log_softmax) give float64 for integer and bool operands, whatever
  their width (`float_result`); the impl computes in that dtype
  (`float_operands`), so no engine sees NumPy's float16 for int8.
- Operations without a meaning on booleans (neg, sub, pow, sign, relu of bool
  operands) are refused with a `DTypeError`, as NumPy and PyTorch refuse
  `-mask`.
- Integer `x ** y` with a negative exponent is a value, as in PyTorch: 1 for
  x = 1, ±1 for x = -1, 0 otherwise (`int_pow`).
- float16 reductions accumulate in float32 and round once (NumPy's `mean`).
"""

from __future__ import annotations

import numpy as np

from .errors import DTypeError

SUPPORTED_KINDS = "biuf"
FLOAT64 = np.dtype(np.float64)


def supported_dtype(op: str, dtype, where: str = "") -> np.dtype:
    """`dtype` as an np.dtype when graphcompare computes with it, else a DTypeError."""
    dt = np.dtype(dtype)
    if dt.kind not in SUPPORTED_KINDS:
        raise DTypeError(f"{op}: dtype {dt} is not supported (bool, integer and float "
                         f"dtypes are){where}")
    return dt


def float_result(dtype: np.dtype) -> np.dtype:
    """Result dtype of a float op whose operands promote to `dtype`."""
    return dtype if dtype.kind == "f" else FLOAT64


def float_operands(*xs) -> tuple:
    """Operands of a float op, cast to float64 when they promote to a non-float dtype
    (Python scalars stay weak)."""
    kinds = [getattr(x, "dtype", None) for x in xs]
    if all(k is None or k.kind == "f" for k in kinds):
        return xs
    if any(k is not None and k.kind == "f" for k in kinds):
        return xs  # a float array decides the dtype (weak ints and ints follow it)
    return tuple(x.astype(FLOAT64) if getattr(x, "dtype", None) is not None else float(x)
                 for x in xs)


def int_pow(x, y):
    """`x ** y` for integer operands with PyTorch's value for a negative exponent."""
    dtype = np.result_type(x, y)
    xa, ya = np.asarray(x, dtype), np.asarray(y, dtype)
    negative = ya < 0
    out = np.power(xa, np.where(negative, 0, ya).astype(dtype))
    if negative.any():
        sign = np.where(ya & 1, -1, 1).astype(dtype)
        inverse = np.where(xa == 1, 1, np.where(xa == -1, sign, 0)).astype(dtype)
        out = np.where(negative, inverse, out).astype(dtype)
    return out


def s_int_pow(a, b):
    """The per-element form of `int_pow` (the compiled backends' integer `pow`)."""
    return a ** b if b >= 0 else (1 if a == 1 else ((1 - 2 * (b & 1)) if a == -1 else 0))


# Operand types an engine checks with `check_operand` (Tensors and scalars need no check).
CHECKED_TYPES = frozenset({list, tuple, np.ndarray, complex, str, bytes, np.complex64,
                           np.complex128, np.str_, np.bytes_, np.object_, np.void})


def _engine_value(x) -> bool:
    return getattr(type(x), "_gc_bind", None) is not None


def _holds_engine_value(seq) -> bool:
    return any(_engine_value(e) or (type(e) in (list, tuple) and _holds_engine_value(e))
               for e in seq)


def check_operand(op: str, value, where: str = "") -> None:
    """A non-engine operand of an engine op: a DTypeError for a Python list or tuple
    holding tensors or symbols (it would become a constant and lose its gradient,
    so PyTorch refuses it too) and for values of an unsupported dtype."""
    cls = type(value)
    if cls is list or cls is tuple:
        if _holds_engine_value(value):
            raise DTypeError(f"{op}: a Python {cls.__name__} holding tensors or symbols is not an "
                             f"operand (it would be a constant without gradient): stack "
                             f"the values first{where}")
        kind = np.asarray(value).dtype.kind if value else "f"
    elif cls is complex or cls is str or cls is bytes:
        kind = "c"
    else:
        dtype = getattr(value, "dtype", None)
        kind = dtype.kind if isinstance(dtype, np.dtype) else "f"
    if kind not in SUPPORTED_KINDS:
        what = cls.__name__ if cls in (str, bytes, complex) else \
            f"{cls.__name__} of dtype {np.asarray(value).dtype}"
        raise DTypeError(f"{op}: unsupported operand: {what} (bool, integer and float "
                         f"values are supported){where}")
