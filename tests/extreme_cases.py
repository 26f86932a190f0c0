"""max, min, argmax and argmin of the most negative and most positive value of
every integer dtype (and of bools), against NumPy, on any engine.

Each reduction also runs fused: `reduce(x + z)` with `z` a fed zero, so the
compiled backends fold the add into the reduction's loop (and its accumulator
starts from the dtype's identity value).
"""

from __future__ import annotations

import numpy as np

import dyngraph as dg
import staticgraph as sg

INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
EXTREME_DTYPES = INT_DTYPES + ["bool"]
REDUCTIONS = ["max", "min", "argmax", "argmin"]
AXES = [None, 0, 1]


def extreme_inputs(dtype: str) -> list[np.ndarray]:
    """Arrays mixing the dtype's lowest and highest values, and all of one or the other."""
    if dtype == "bool":
        lo, hi = False, True
    else:
        lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    mixed = np.array([[lo, hi, lo], [hi, hi, lo], [lo, lo, lo]], dtype)
    return [mixed, np.ascontiguousarray(mixed.T), np.full((2, 3), lo, dtype),
            np.full((2, 3), hi, dtype)]


def numpy_reduction(op: str, x: np.ndarray, axis) -> np.ndarray:
    """NumPy's value; argmax/argmin as int64 (staticgraph's axis=None means axis 0, as TF)."""
    out = getattr(np, op)(x, axis=axis)
    return np.asarray(out, np.int64 if op.startswith("arg") else x.dtype)


def dyngraph_reduction(op: str, x: np.ndarray, axis, fused: bool) -> np.ndarray:
    t = dg.tensor(x)
    if fused:
        t = t + dg.tensor(np.zeros((), x.dtype))
    out = getattr(dg, op)(t, axis) if axis is not None or op.startswith("arg") else \
        getattr(dg, op)(t)
    return (out[0] if isinstance(out, tuple) else out).numpy()


def static_reduction(op: str, x: np.ndarray, axis, fused: bool, backend: str) -> np.ndarray:
    with sg.Graph().as_default():
        p = sg.placeholder(x.dtype, x.shape)
        z = sg.placeholder(x.dtype, ())
        y = getattr(sg, op)(p + z if fused else p, axis)
        return np.asarray(sg.function([p, z], [y], backend=backend)(x, np.zeros((), x.dtype))[0])


def mismatches(engine: str, dtype: str) -> list[str]:
    """Every (op, input, axis, fused) whose value or dtype differs from NumPy's."""
    bad = []
    for x in extreme_inputs(dtype):
        for op in REDUCTIONS:
            for axis in AXES:
                static_axis = 0 if axis is None and op.startswith("arg") else axis
                want = numpy_reduction(op, x, axis if engine == "dyngraph" else static_axis)
                for fused in (False, True):
                    if engine == "dyngraph":
                        got = dyngraph_reduction(op, x, axis, fused)
                    else:
                        got = static_reduction(op, x, axis, fused, engine)
                    if got.dtype != want.dtype or not np.array_equal(got, want):
                        bad.append(f"{op}(axis={axis}, fused={fused}) of {x.tolist()}: "
                                   f"{got!r}, NumPy {want!r}")
    return bad
