"""The cuda backend runs the numba backend's pass list (`passes_for` of what it
declares): the scan rewrites and the GEMM update, each checked against the
interpreter on programs they rewrite."""

from __future__ import annotations

import re

import numpy as np
import pytest
from rnn_programs import tiny_rnn_program

import staticgraph as sg
from staticgraph.cuda_backend.runner import CudaRunner, capabilities
from staticgraph.cuda_backend.scan import ScanStep
from staticgraph.cuda_backend.steps import GemmUpdateStep
from staticgraph.numba_backend import gemm
from staticgraph.passes import passes_for
from staticgraph.passes.gemm_update import gemm_update_p
from staticgraph.runtime.interpreter import eval_graph
from staticgraph.scan.passes import SCAN_PASSES

pytestmark = pytest.mark.cudasim
LR = 0.1


def _weights(rng) -> dict:
    shapes = {"Wx": (3, 4), "Wh": (4, 4), "b": (4,), "Wo": (4, 2)}
    return {k: sg.Variable(rng.standard_normal(s) * 0.5, name=k) for k, s in shapes.items()}


def rnn_training_graph():
    """A tanh RNN over xs (batch 2, in 3, hidden 4), a dense layer on its last
    state, squared error; SGD updates of every weight."""
    g = sg.Graph()
    with g.as_default():
        w = _weights(np.random.default_rng(0))
        xs = sg.placeholder((None, 2, 3), np.float64, name="xs")
        t = sg.placeholder((2, 2), np.float64, name="t")
        hs = sg.scan(lambda h, x: sg.tanh(x @ w["Wx"] + h @ w["Wh"] + w["b"]), xs,
                     initializer=np.zeros((2, 4)))
        loss = sg.sum((hs[-1] @ w["Wo"] - t) ** 2)
        grads = sg.gradients(loss, list(w.values()))
    updates = [(v, v - LR * gv) for v, gv in zip(w.values(), grads)]
    return g, xs, t, loss, updates


def pass_names(explain_text: str) -> list[str]:
    """The pass column of explain()'s pass table."""
    return re.findall(r"^  (\w+)\s+\d+ -> \d+", explain_text, flags=re.MULTILINE)


def test_cuda_declares_scan_loops_and_gemm_update():
    assert capabilities() == {"scan_loops", "gemm_update"}


def test_explain_lists_the_same_passes_as_the_numba_backend():
    if not gemm.available():
        pytest.skip("NumPy's BLAS has no cblas GEMM here: numba does not run gemm_update")
    g, xs, t, loss, updates = rnn_training_graph()
    texts = [sg.function([xs, t], loss, updates=updates, backend=backend)
             .explain(file=open("/dev/null", "w")) for backend in ("numba", "cuda")]
    numba_names, cuda_names = (pass_names(text) for text in texts)
    assert cuda_names == numba_names == [name for name, _ in passes_for(capabilities())]
    assert cuda_names[:len(SCAN_PASSES)] == [name for name, _ in SCAN_PASSES]
    assert "gemm_update" in cuda_names


def test_sgd_updates_are_gemm_updates_into_the_variables():
    g, xs, t, loss, updates = rnn_training_graph()
    rng = np.random.default_rng(2)
    feeds = [(rng.standard_normal((n, 2, 3)), rng.standard_normal((2, 2))) for n in (3, 1, 4)]
    f = sg.function([xs, t], loss, updates=updates, backend="cuda")
    ref = sg.function([xs, t], loss, updates=updates, backend="interpret")
    for x, target in feeds:
        assert f(x, target) == pytest.approx(ref(x, target), rel=1e-12)
    for var, _ in updates:
        np.testing.assert_allclose(f.get(var), ref.get(var), rtol=1e-12, atol=1e-14)
    block = f.runner.block
    steps = [s for s in block.steps if isinstance(s, GemmUpdateStep)]
    assert steps and all(s.path == "tiled" for s in steps)
    targets = {block.plan.into_variable[s.outs[0]].label for s in steps}
    assert targets == {"Wo", "Wx"}  # Wx: its gradient sunk out of the loop as one matmul
    assert "tiled matmul with the epilogue c - scale * acc, in place" in \
        f.explain(file=open("/dev/null", "w"))


def _inputs(program, length: int) -> list:
    rng = np.random.default_rng(length)
    values = [rng.standard_normal((length, 2, 3))]
    return values + [rng.standard_normal((2, 4)) for _ in program.inputs[1:]]


@pytest.mark.parametrize("last_only, h0_input", [(True, False), (False, False), (True, True)])
def test_rewritten_scans_give_the_interpreter_values(last_only, h0_input):
    """The scan passes (reuse, seed, hoist, sink, shift) all rewrite these programs."""
    program = tiny_rnn_program(last_only=last_only, h0_input=h0_input)
    runner = CudaRunner(program)
    changed = {r.name for r in runner.report.records if r.eqns_before != r.eqns_after}
    assert {"scan_reuse", "scan_hoist", "scan_sink", "scan_shift"} <= changed
    assert ("scan_seed" in changed) == last_only  # the cotangent of h_T only
    opt = runner.optimized
    assert not any(e.prim is gemm_update_p for e in opt.eqns)
    scans = [s for s in runner.block.steps if isinstance(s, ScanStep)]
    assert len(scans) < sum(e.prim is sg.scan_p for e in program.eqns)  # reused forward
    state = {v: info.initial for v, info in program.variables.items()}
    for length in (1, 2, 5):
        values = _inputs(program, length)
        env = dict(zip(program.inputs, values))
        env.update(state)
        want = eval_graph(program, env)
        got = runner(values, dict(state))
        for g_, w_ in zip(got, want):
            np.testing.assert_allclose(g_, w_, rtol=1e-12, atol=1e-14)
