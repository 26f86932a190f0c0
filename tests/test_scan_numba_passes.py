"""The scan passes of the lowering, each alone: structure after the pass and numbers
(`eval_graph` before == after). Hoisting (invariant and per-step-independent work
out of the loop), sinking gradient accumulators after it, reusing forward outputs
in the backward scan, and data-movement-only scans."""

from __future__ import annotations

import numpy as np
import pytest
from rnn_programs import tiny_rnn_program
from scan_numba_util import assert_close

import staticgraph as sg
from staticgraph.passes import optimize, passes_for
from staticgraph.runtime.interpreter import eval_graph
from staticgraph.runtime.program import extract_program
from staticgraph.scan.grad import delay
from staticgraph.scan.loop import MovesScan
from staticgraph.scan.loop.moves import moves_only
from staticgraph.scan.passes import (
    SCAN_PASSES,
    hoist_scan_invariants,
    reuse_scan_outputs,
    sink_scan_accumulators,
)


def _rnn_program():
    """tanh RNN (batch 2, in 3, hidden 4), loss sum(h_T^2), gradients of Wx, Wh, b."""
    return tiny_rnn_program()


@pytest.fixture(scope="module")
def program():
    return _rnn_program()


def _env(program, length: int) -> dict:
    env = {program.inputs[0]: np.random.default_rng(length).standard_normal((length, 2, 3))}
    env.update({v: info.initial for v, info in program.variables.items()})
    return env


def _same_numbers(before, after, lengths=(1, 2, 5), rtol=1e-12) -> None:
    for n in lengths:
        assert_close(eval_graph(after, _env(after, n)), eval_graph(before, _env(before, n)),
                     rtol=rtol)


def _scans(graph) -> list:
    return [e for e in graph.eqns if e.prim is sg.scan_p]


def _prims(graph) -> list[str]:
    return [e.prim.name for e in graph.eqns]


def _body_prims(eqn) -> list[str]:
    return [e.prim.name for e in eqn.params["body"].eqns]


def test_hoist_moves_the_input_projection_out_of_both_loops(program):
    after = hoist_scan_invariants(program)
    forward, _, backward = _scans(after)
    assert _body_prims(forward).count("matmul") == 1  # only h @ Wh stays
    xs = program.inputs[0]
    flat = [e for e in after.eqns if e.prim.name == "reshape" and e.inputs[0] is xs]
    assert flat and any(e.prim.name == "matmul" and e.inputs[0] is flat[0].outputs[0]
                        for e in after.eqns)
    # the backward loop replays h_{t-1} @ Wh over the saved carries: batched too
    assert _body_prims(backward).count("matmul") < _body_prims(_scans(program)[2]).count("matmul")
    _same_numbers(program, after)


def test_hoist_invariant_work_and_keeps_cheap_per_step_work_in_the_loop():
    g = sg.Graph()
    with g.as_default():
        w = sg.Variable(np.arange(6.0).reshape(2, 3) / 6, name="w")
        xs = sg.placeholder((None, 3), np.float64)
        ys = sg.scan(lambda h, x: sg.tanh(x * 2.0 + h @ (w.T @ w) + sg.exp(w[0])), xs,
                     initializer=np.zeros(3))
    prog = extract_program(g, [ys.var], [xs.var])
    after = hoist_scan_invariants(prog)
    body = _body_prims(_scans(after)[0])
    assert "transpose" not in body and "exp" not in body  # invariant: computed once
    assert "mul" in body  # x * 2: elementwise per step, fused in the loop
    assert _prims(after).count("matmul") == 1 and "exp" in _prims(after)
    for n in (0, 1, 4):
        env = {prog.inputs[0]: np.random.default_rng(n).standard_normal((n, 3)),
               **{v: i.initial for v, i in prog.variables.items()}}
        assert_close(eval_graph(after, env), eval_graph(prog, env))


def test_sink_turns_weight_gradient_sums_into_gemms_after_the_loop(program):
    hoisted = hoist_scan_invariants(reuse_scan_outputs(program))
    after = sink_scan_accumulators(hoisted)
    backward = _scans(after)[-1]
    before = _scans(hoisted)[-1]
    assert backward.params["num_carry"] == 1  # only the hidden state's cotangent is left
    assert before.params["num_carry"] == 4
    assert _body_prims(backward).count("matmul") == 1  # dz @ Wh.T
    i = after.eqns.index(backward)
    tail = [e.prim.name for e in after.eqns[i + 1:]]
    assert tail.count("matmul") == 2 and "sum" in tail  # dWx, dWh; db
    _same_numbers(program, after)


def test_reuse_reads_forward_outputs_instead_of_recomputing(program):
    after = reuse_scan_outputs(program)
    forward, _, backward = _scans(after)
    assert "tanh" not in _body_prims(backward)
    assert forward.outputs[1] in backward.inputs  # the stacked h_t
    _same_numbers(program, after)


def test_scan_passes_then_fusion_give_the_minimal_loops(program):
    optimized, _ = optimize(program, passes_for({"scan_loops"}))
    forward, backward = _scans(optimized)  # the delay is gone (scan_shift)
    assert _body_prims(forward).count("matmul") == 1
    assert _body_prims(backward) == ["fused", "matmul"]
    assert backward.params["num_xs"] == 1  # only h_t: the zero cotangents went (scan_seed)
    assert "getitem_grad" not in _prims(optimized)
    again, _ = optimize(optimized, SCAN_PASSES)
    assert len(again.eqns) == len(optimized.eqns)  # nothing left to move
    _same_numbers(program, optimized, lengths=(1, 3))


@pytest.mark.parametrize("reverse", [False, True])
def test_moves_scan_equals_the_interpreter(reverse):
    g = sg.Graph()
    with g.as_default():
        xs = sg.placeholder((None, 2), np.float64)
        init = sg.placeholder((2,), np.float64)
        c = sg.placeholder((2,), np.float64)
        out = sg.scan(lambda acc, x: (x, acc[1], c), xs, initializer=(init, init * 2.0, c),
                      reverse=reverse)
        shifted = delay(g, xs, init, reverse)
    prog = extract_program(g, [o.var for o in out] + [shifted.var], [xs.var, init.var, c.var])
    rng = np.random.default_rng(1)
    for eqn in _scans(prog):
        assert moves_only(eqn)
        moves = MovesScan(eqn)
        assert "shifted copies" in moves.explain()
        for n in (0, 1, 4):
            values = [rng.standard_normal((n, 2)), rng.standard_normal(2), rng.standard_normal(2)]
            env = dict(zip(prog.inputs, values))
            env.update(prog.constants)
            for e in prog.eqns[:prog.eqns.index(eqn)]:
                env.update(zip(e.outputs, [e.prim.impl(*[env[x] if isinstance(x, sg.Var) else x
                                                         for x in e.inputs], **e.params)]))
            ins = [env[v] for v in eqn.inputs]
            assert_close(list(moves(*ins)), list(eqn.prim.impl(*ins, **eqn.params)))
