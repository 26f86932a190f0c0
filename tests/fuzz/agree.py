"""Value-agreement programs: NaN, infinities, empty axes and every supported dtype.

The main fuzz keeps every value finite and float64 so that gradients can be
checked against finite differences. These programs do the opposite: their
inputs hold NaN, +-inf, -0.0, zeros and small integers of every supported
dtype, their shapes may have empty dims, and their ops may be refused by the
dtype rule or fail at run time (max of an empty axis). Every engine must give
the interpreter's outcome: the same dtypes and values (NaN where it has NaN),
or an error of the same type.

A program is a list of `(op, operand indices, params)` over the values made
so far (inputs first), printed by `agreement_code` as runnable code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import dyngraph as dg
import shared_ops.api as A
import staticgraph as sg
from shared_ops.errors import GraphCompareError

DTYPES = ("bool", "int8", "int32", "int64", "uint8", "float32", "float64")
FLOAT_VALUES = (np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.5, 2.0, 0.5, 3.0)
INT_VALUES = (-3, -2, -1, 0, 1, 2, 3, 5)
UNARY = ("neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "sign",
         "logical_not", "zeros_like", "stop_gradient")
BINARY = ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "greater", "less",
          "equal", "not_equal", "greater_equal", "less_equal", "logical_and", "logical_or")
REDUCTIONS = ("sum", "mean", "max")
SOFTMAX = ("softmax", "log_softmax")


@dataclass(frozen=True)
class AgreementProgram:
    inputs: tuple[np.ndarray, ...]
    steps: tuple[tuple[str, tuple[int, ...], tuple], ...]


@st.composite
def agreement_programs(draw, max_steps: int = 5) -> AgreementProgram:
    """Inputs of one broadcastable shape family (dims may be 0), then ops on them."""
    shape = tuple(draw(st.lists(st.sampled_from((0, 1, 2, 3)), min_size=0, max_size=2)))
    inputs = []
    for _ in range(draw(st.integers(1, 2))):
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        own = shape[draw(st.integers(0, len(shape))):]  # a trailing part: broadcasts
        n = int(np.prod(own, dtype=np.int64))
        pool = (True, False) if dtype.kind == "b" else FLOAT_VALUES if dtype.kind == "f" \
            else tuple(v for v in INT_VALUES if dtype.kind == "i" or v >= 0)
        values = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
        inputs.append(np.array(values, dtype=dtype).reshape(own))
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        count = len(inputs) + len(steps)
        pick = st.integers(0, count - 1)
        kind = draw(st.sampled_from(("unary", "binary", "reduce", "softmax", "cast")))
        if kind == "unary":
            steps.append((draw(st.sampled_from(UNARY)), (draw(pick),), ()))
        elif kind == "binary":
            steps.append((draw(st.sampled_from(BINARY)), (draw(pick), draw(pick)), ()))
        elif kind == "reduce":
            params = (("axis", draw(st.sampled_from((None, 0, -1)))),
                      ("keepdims", draw(st.booleans())))
            steps.append((draw(st.sampled_from(REDUCTIONS)), (draw(pick),), params))
        elif kind == "softmax":
            steps.append((draw(st.sampled_from(SOFTMAX)), (draw(pick),), (("axis", -1),)))
        else:
            target = draw(st.sampled_from(DTYPES))
            steps.append(("cast", (draw(pick),), (("dtype", np.dtype(target)),)))
    return AgreementProgram(tuple(inputs), tuple(steps))


def _apply(op: str, args: list, params: tuple):
    kwargs = dict(params)
    if op == "cast" and kwargs["dtype"].kind in "iu" and args[0].dtype.kind == "f":
        x = args[0]  # NaN, inf and out-of-range values have no defined integer (C, NumPy)
        args = [A.where(A.equal(x, x), A.clip(x, -100.0, 100.0), 0.0)]
    return getattr(A, op)(*args, **kwargs)


def run_dyngraph(program: AgreementProgram) -> list:
    """Per value: an ndarray, or the name of the error that made (or poisoned) it."""
    values: list = [dg.tensor(x) for x in program.inputs]
    for op, refs, params in program.steps:
        args = [values[i] for i in refs]
        if any(isinstance(a, str) for a in args):
            values.append("poisoned")
            continue
        try:
            values.append(_apply(op, args, params))
        except GraphCompareError as exc:
            values.append(type(exc).__name__)
    return [v if isinstance(v, str) else v.numpy() for v in values[len(program.inputs):]]


def run_static(program: AgreementProgram, backend: str) -> list | str:
    """Per value as `run_dyngraph`, or the name of the error the run raised."""
    graph = sg.Graph()
    with graph.as_default():
        values: list = [sg.placeholder(x.dtype, x.shape) for x in program.inputs]
        feed = dict(zip(values, program.inputs))
        for op, refs, params in program.steps:
            args = [values[i] for i in refs]
            if any(isinstance(a, str) for a in args):
                values.append("poisoned")
                continue
            try:
                values.append(_apply(op, args, params))
            except GraphCompareError as exc:
                values.append(type(exc).__name__)
        made = values[len(program.inputs):]
        fetches = [v for v in made if not isinstance(v, str)]
        with sg.Session(graph, backend=backend) as sess:
            try:
                got = iter(sess.run(fetches, feed)) if fetches else iter(())
            except GraphCompareError as exc:
                return type(exc).__name__
    return [v if isinstance(v, str) else np.asarray(next(got)) for v in made]


def same_outcome(got, want, what: str) -> None:
    """Equal dtypes and values (NaN where NaN, tolerance for float32), or equal errors."""
    if isinstance(want, str) or isinstance(got, str):
        assert got == want, f"{what}: {got!r} where the interpreter gives {want!r}"
        return
    for k, (g, w) in enumerate(zip(got, want)):
        if isinstance(w, str) or isinstance(g, str):
            assert g == w, f"{what}: value {k} is {g!r}, the interpreter's {w!r}"
            continue
        assert (g.dtype, g.shape) == (w.dtype, w.shape), \
            f"{what}: value {k} is {g.dtype}{list(g.shape)}, not {w.dtype}{list(w.shape)}"
        if w.dtype.kind == "f":
            tol = 1e-5 if w.dtype == np.float32 else 1e-12
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True,
                                       err_msg=f"{what}: value {k}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{what}: value {k}")


def check_agreement(program: AgreementProgram, backends: list[str]) -> None:
    """dyngraph and every backend in `backends` against the interpreter."""
    with np.errstate(all="ignore"):
        want = run_static(program, "interpret")
        dyn = run_dyngraph(program)
        if isinstance(want, str):  # the run failed: dyngraph failed at some step
            failed = any(isinstance(v, str) and v == want for v in dyn)
            assert failed, f"dyngraph: {dyn!r} where the interpreter raised {want}"
        else:
            same_outcome(dyn, want, "dyngraph")
        for backend in backends:
            if backend != "interpret":
                same_outcome(run_static(program, backend), want, backend)


def agreement_code(program: AgreementProgram) -> str:
    """The program as code (the hypothesis note of a failure)."""
    lines = [f"x{i} = np.array({x.tolist()!r}, dtype=np.{x.dtype.name})"
             for i, x in enumerate(program.inputs)]
    n = len(program.inputs)
    for k, (op, refs, params) in enumerate(program.steps):
        args = ", ".join(f"x{i}" for i in refs)
        extra = "".join(f", {name}={value!r}" for name, value in params)
        lines.append(f"x{n + k} = A.{op}({args}{extra})")
    return "\n".join(lines)
