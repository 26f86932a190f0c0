"""Programs on which every engine and backend must give the reference's value or error.

Each case is a function of shared_ops API calls and its inputs; `run_on`
runs it on dyngraph or on a staticgraph backend (placeholders of the
inputs' static shapes, or of run-time shapes with `dynamic=True`).
Shared by tests/test_backend_agreement*.py and tests/cuda/test_cuda_agreement.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import dyngraph as dg
import shared_ops.api as A
import staticgraph as sg

NAN, INF = np.nan, np.inf


@dataclass
class Case:
    name: str
    fn: Callable
    inputs: tuple
    grad: bool = False  # also compare d sum(out) / d inputs

    def __str__(self) -> str:
        return self.name


def f64(*values) -> np.ndarray:
    return np.array(values, np.float64)


def f32(*values) -> np.ndarray:
    return np.array(values, np.float32)


NAN_CASES = [
    Case("maximum-nan-left", A.maximum, (f64(NAN, 1, NAN, -INF), f64(0, NAN, NAN, 2)), True),
    Case("minimum-nan-right", A.minimum, (f64(0, 1, NAN, INF), f64(NAN, 2, 3, NAN)), True),
    Case("maximum-nan-float32", A.maximum, (f32(NAN, 1, 5), f32(2, NAN, 4))),
    Case("maximum-fused", lambda x, y: A.add(A.mul(A.maximum(A.exp(x), y), 2.0), 1.0),
         (f64(NAN, 0, 1), f64(1, NAN, 0.5)), True),
    Case("minimum-scalar", lambda x: A.minimum(x, 0.5), (f64(NAN, 0, 1),), True),
    Case("sign-nan", A.sign, (f64(NAN, -0.0, 0, -3, 2, INF),)),
    Case("abs-grad-nan", A.abs, (f64(NAN, -2, 3),), True),
    Case("relu-nan", A.relu, (f64(NAN, -1, 2, -INF),), True),
    Case("clip-nan", lambda x: A.clip(x, -1.0, 1.0), (f64(NAN, -2, 0.5, 3),), True),
    Case("max-reduce-nan", lambda x: A.max(x, axis=1), (np.array([[1, NAN, 3], [4, 5, 6]]),),
         True),
    Case("max-reduce-fused-nan", lambda x: A.max(A.mul(x, 2.0)), (f64(1, NAN, 3),)),
    Case("sum-nan", lambda x: A.sum(A.maximum(x, 0.0)), (f64(1, NAN, 3),)),
    Case("softmax-nan", lambda x: A.softmax(x, axis=-1), (np.array([[1, NAN], [0, 1.0]]),)),
]

INT_POW_BASE = np.array([2, 1, -1, 0, 3, -2, -1, 5])
INT_POW_EXP = np.array([-1, -1, -3, -1, -2, -2, -2, 2])
INT_POW_WANT = np.array([0, 1, -1, 0, 0, 0, 1, 25])  # PyTorch's values
INT_CASES = [
    Case("int-pow-negative", A.pow, (INT_POW_BASE, INT_POW_EXP)),
    Case("int8-pow-negative", A.pow, (INT_POW_BASE.astype(np.int8), INT_POW_EXP.astype(np.int8))),
    Case("int-pow-fused", lambda x, y: A.add(A.pow(A.mul(x, 1), y), 1),
         (INT_POW_BASE, INT_POW_EXP)),
    Case("int-pow-scalar", lambda x: A.pow(x, -1), (INT_POW_BASE,)),
    Case("uint-sigmoid", A.sigmoid, (np.array([0, 1, 200], np.uint8),)),
    Case("int-div", A.div, (np.array([1, -7, 0], np.int8), np.array([2, 2, 3], np.int8))),
    # float16 sums of 1000 x 100 overflow float16: mean accumulates in float32
    Case("mean-float16", lambda x: A.mean(x), (np.full(1000, 100, np.float16),)),
    Case("mean-float16-fused", lambda x: A.mean(A.mul(x, 2.0), axis=0),
         (np.full((1000, 2), 100, np.float16),)),
    Case("exp-int8", A.exp, (np.array([1, 2, -3], np.int8),)),
    Case("sigmoid-uint8", lambda x: A.sigmoid(A.add(x, 1)), (np.array([0, 255], np.uint8),)),
]

EMPTY = np.zeros((0,), np.float64)
EMPTY_CASES = [
    Case("max-empty", lambda x: A.max(x), (EMPTY,)),
    Case("max-empty-axis", lambda x: A.max(x, axis=0), (np.zeros((0, 3)),)),
    Case("max-empty-fused", lambda x: A.add(A.max(A.exp(x)), 1.0), (EMPTY,)),
    Case("min-empty", lambda x: A.neg(A.max(A.neg(x))), (EMPTY,)),
    Case("softmax-empty", lambda x: A.softmax(x, axis=0), (EMPTY,)),
    Case("log-softmax-empty", lambda x: A.log_softmax(x, axis=1), (np.zeros((2, 0)),)),
]
# max over a non-empty axis of an array with another empty axis is an empty array
EMPTY_OK_CASES = [
    Case("max-other-axis-empty", lambda x: A.max(x, axis=1), (np.zeros((0, 3)),)),
    Case("sum-empty", lambda x: A.sum(A.exp(x)), (EMPTY,)),
]


def run_dyngraph(case: Case) -> list:
    xs = [dg.tensor(x, requires_grad=case.grad and x.dtype.kind == "f") for x in case.inputs]
    out = case.fn(*xs)
    if not case.grad:
        return [out.numpy()]
    grads = dg.grad(dg.sum(out), xs, allow_unused=True)
    return [out.detach().numpy()] + [None if g is None else g.numpy() for g in grads]


def run_static(case: Case, backend: str, dynamic: bool = False) -> list:
    graph = sg.Graph()
    with graph.as_default():
        phs = [sg.placeholder(x.dtype, (None,) * x.ndim if dynamic else x.shape)
               for x in case.inputs]
        out = case.fn(*phs)
        fetches = [out]
        if case.grad:
            fetches += sg.gradients(A.sum(out), phs)
        with sg.Session(graph, backend=backend) as sess:
            return sess.run(fetches, dict(zip(phs, case.inputs)))


def assert_same(got: list, want: list, name: str) -> None:
    assert len(got) == len(want), name
    for g, w in zip(got, want):
        if w is None or g is None:
            assert g is None and w is None, name
            continue
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype, (name, g.dtype, w.dtype)
        assert g.shape == w.shape, (name, g.shape, w.shape)
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-6 if g.dtype == np.float64 else 1e-3,
                                       atol=1e-12 if g.dtype == np.float64 else 1e-5,
                                       err_msg=name)
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)


# ---- the dtype matrix: every elementwise op and reduction x every supported dtype ----

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"]
FLOAT_OPS = {"div", "exp", "log", "sqrt", "tanh", "sigmoid", "log1p", "expm1", "sin", "cos", "mean",
             "softmax", "log_softmax"}
BOOL_REFUSED = {"neg", "sub", "pow", "sign", "relu"}
REDUCTIONS = ("sum", "mean", "max", "softmax", "log_softmax")
PARAMS = {"clip": {"lo": 1, "hi": 2}, "cast": {"dtype": np.dtype(np.float32)}}


# shape ops and matmul: one call each (the result keeps the operand's dtype; matmul promotes)
SHAPE_CALLS = {
    "transpose": lambda x: A.transpose(x),
    "reshape": lambda x: A.reshape(x, (3, 2)),
    "getitem": lambda x: A.getitem(x, (slice(None), 1)),
    "getitem_mask": lambda x: A.getitem(x, np.array([True, False])),
    "concatenate": lambda x: A.concatenate([x, x], axis=0),
    "broadcast_to": lambda x: A.broadcast_to(x, (2, 2, 3)),
    "expand_dims": lambda x: A.expand_dims(x, 0),
    "squeeze": lambda x: A.squeeze(A.expand_dims(x, 0), 0),
    "matmul": lambda x: A.matmul(x, A.transpose(x)),
}


def matrix_ops() -> list[str]:
    """Every registered elementwise primitive with a scalar function, the reductions,
    the shape ops and matmul."""
    from shared_ops import REGISTRY
    names = [n for n, p in REGISTRY.items() if p.elementwise and p.scalar is not None]
    return names + [n for n in REDUCTIONS if n in REGISTRY] + list(SHAPE_CALLS)


def matrix_inputs(op: str, dtype: str) -> list[np.ndarray]:
    """Small valid operands: positive values (log, sqrt), a bool condition for where."""
    from shared_ops import REGISTRY
    dt = np.dtype(dtype)
    base = np.array([[True, False, True], [False, True, True]]) if dt.kind == "b" else \
        np.array([[1, 2, 3], [3, 1, 2]]).astype(dt)
    if op == "where":
        return [np.array([[True, False, True], [True, True, False]]), base, base[::-1].copy()]
    if op in SHAPE_CALLS or op in REDUCTIONS or REGISTRY[op].scalar_factory:
        return [base]
    prim = REGISTRY[op]
    arity = prim.scalar.__code__.co_argcount
    return [base, base[:, ::-1].copy()][:arity] if arity <= 2 else [base] * arity


def matrix_call(op: str, *xs):
    if op in SHAPE_CALLS:
        return SHAPE_CALLS[op](xs[0])
    if op in ("sum", "mean", "max"):
        return getattr(A, op)(xs[0], axis=1)
    if op in ("softmax", "log_softmax"):
        return getattr(A, op)(xs[0], axis=-1)
    from shared_ops import REGISTRY
    return REGISTRY[op](*xs, **PARAMS.get(op, {}))


def expected_dtype(op: str, dtype: str) -> str:
    """The documented rule (docs/dtypes.md), written independently of the code."""
    from shared_ops import REGISTRY
    dt = np.dtype(dtype)
    if op in BOOL_REFUSED and dt.kind == "b":
        return "DTypeError"
    if op == "cast":
        return "float32"
    if op in FLOAT_OPS:
        return dt.name if dt.kind == "f" else "float64"
    if op == "clip" and dt.kind == "b":
        return "int64"  # NEP 50: the int bounds promote a bool array to the default int
    if op == "sum" and dt.kind in "bi":
        return "int64"
    if op == "sum" and dt.kind == "u":
        return "uint64"
    if op in SHAPE_CALLS:
        return dt.name
    if REGISTRY[op].abstract_eval.__qualname__.startswith("_bool_eval"):
        return "bool"
    return dt.name


def _outcome(fn) -> tuple[str, np.ndarray | None]:
    try:
        value = np.asarray(fn())
    except Exception as exc:  # the error's type is the outcome compared
        return type(exc).__name__, None
    return value.dtype.name, value


def matrix_outcomes(dtype: str, engine: str) -> dict[str, tuple[str, np.ndarray | None]]:
    """{op: (result dtype or error type, value)} for one dtype on one engine: dyngraph,
    or a staticgraph backend (one graph holding every op that builds)."""
    ops = matrix_ops()
    if engine == "dyngraph":
        return {op: _outcome(lambda op=op: matrix_call(
            op, *[dg.tensor(x) for x in matrix_inputs(op, dtype)]).numpy()) for op in ops}
    results: dict = {}
    graph = sg.Graph()
    fetches, feed = {}, {}
    with graph.as_default():
        for op in ops:
            xs = matrix_inputs(op, dtype)
            phs = [sg.placeholder(x.dtype, x.shape) for x in xs]
            built = _outcome(lambda: None)
            try:
                fetches[op] = matrix_call(op, *phs)
            except Exception as exc:
                built = (type(exc).__name__, None)
                results[op] = built
            feed.update(zip(phs, xs))
        with sg.Session(graph, backend=engine) as sess:
            names = list(fetches)
            values = sess.run([fetches[n] for n in names], feed)
    for name, value in zip(names, values):
        results[name] = (np.asarray(value).dtype.name, np.asarray(value))
    return results


def compare(got: dict, want: dict, engine: str) -> list[str]:
    """Mismatches of `got` against the reference outcomes `want`."""
    bad = []
    for op, (kind, value) in want.items():
        other, got_value = got[op]
        if other != kind:
            bad.append(f"{op}: {engine} gives {other}, the interpreter {kind}")
        elif value is not None:
            tol = {"float16": 2e-3, "float32": 2e-6}.get(kind, 1e-12)
            if not np.allclose(got_value, value, rtol=tol, atol=tol, equal_nan=True):
                bad.append(f"{op}: {engine} values {got_value.tolist()} != {value.tolist()}")
    return bad


def scan_with_empty_max(backend: str, dynamic: bool = True) -> list:
    """A scan whose body takes the max of each (empty) step: the interpreter's error."""
    graph = sg.Graph()
    with graph.as_default():
        xs = sg.placeholder(np.float64, (2, None) if dynamic else (2, 0))
        h0 = sg.placeholder(np.float64, ())
        hs = sg.scan(lambda h, x: A.tanh(A.add(h, A.max(x))), xs, initializer=h0)
        with sg.Session(graph, backend=backend) as sess:
            return sess.run(hs, {xs: np.zeros((2, 0)), h0: np.float64(0.0)})
