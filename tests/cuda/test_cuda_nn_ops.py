"""backend="cuda" agrees with the interpreter on the reductions, indexing,
einsum, convolution and pooling ops and the new elementwise ops, values and
gradients (the cases of tests/op_cases.py). Elementwise ops run as kernels;
the others run through the documented host fallback (the NumPy impl)."""

from __future__ import annotations

import numpy as np
import pytest
from op_cases import CASES

import shared_ops as so
import staticgraph as sg

pytestmark = pytest.mark.cudasim

NN_PRIMS = {"log1p", "expm1", "sin", "cos", "logsumexp", "var", "argmax", "argmin", "take",
            "take_grad", "gather", "gather_grad", "one_hot", "einsum", "add_n", "conv2d",
            "conv2d_input_grad", "conv2d_weight_grad", "max_pool2d", "max_pool2d_grad",
            "max_pool2d_pick", "einsum_embed", "max_pool2d_argmax", "max_unpool2d",
            "max_unpool2d_pick", "max_unpool2d_scatter_add"}
NN_CASES = [c for c in CASES if c.prim in NN_PRIMS]


def _case_graph(case):
    """The op on placeholders; its output and the gradients of its float inputs."""
    graph = sg.Graph(case.id)
    with graph.as_default():
        holders = {i: sg.placeholder(a.shape, a.dtype, name=f"a{i}")
                   for i, a in enumerate(case.args) if isinstance(a, np.ndarray)}
        args = [holders.get(i, a) for i, a in enumerate(case.args)]
        out = so.bind(case.primitive, *args, **case.params)
        fetches = [out]
        diff = [holders[i] for i in case.diff_inputs()]
        if diff and case.primitive.differentiable and out.dtype.kind == "f":
            ct = np.random.default_rng(5).standard_normal(out.shape).astype(out.dtype)
            fetches += [g for g in sg.gradients(out, diff, grad_ys=ct) if g is not None]
    return graph, fetches, {h: case.args[i] for i, h in holders.items()}


def test_every_new_primitive_has_a_case():
    assert NN_PRIMS == {c.prim for c in NN_CASES}


@pytest.mark.parametrize("case", NN_CASES, ids=lambda c: c.id)
def test_value_and_gradient_agree_with_the_interpreter(case):
    graph, fetches, feed = _case_graph(case)
    results = []
    for backend in ("interpret", "cuda"):
        with sg.Session(graph, backend=backend) as sess:
            results.append(sess.run(fetches, feed))
    for want, got in zip(*results):
        want, got = np.asarray(want), np.asarray(got)
        assert (got.shape, got.dtype) == (want.shape, want.dtype)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
