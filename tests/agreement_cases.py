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
