"""Two scan passes alone, structure and numbers: `shift_delayed_products` (a GEMM
over a `delay` reads the delayed sequence shifted) and `seed_first_step_cotangents`
(a last-step-only cotangent sequence seeds the backward scan's carry)."""

from __future__ import annotations

import numpy as np
import pytest
from rnn_programs import tiny_rnn_program
from scan_numba_util import assert_close

import staticgraph as sg
from shared_ops import api as A
from staticgraph.passes import eliminate_dead_code
from staticgraph.runtime.interpreter import eval_graph
from staticgraph.runtime.program import extract_program
from staticgraph.scan.grad import delay
from staticgraph.scan.passes import (
    hoist_scan_invariants,
    reuse_scan_outputs,
    seed_first_step_cotangents,
    shift_delayed_products,
    sink_scan_accumulators,
)
from staticgraph.scan.passes.shift import delay_operands


def _scans(graph) -> list:
    return [e for e in graph.eqns if e.prim is sg.scan_p]


def _prims(graph) -> list[str]:
    return [e.prim.name for e in graph.eqns]


def _run(graph, values: list) -> list:
    env = dict(zip(graph.inputs, values))
    env.update({v: i.initial for v, i in graph.variables.items()})
    return eval_graph(graph, env)


def _delay_gemm(reverse: bool, delayed_left: bool):
    """matmul of a delay's flattened output with a (T, 2, 3) sequence S."""
    g = sg.Graph()
    with g.as_default():
        xs = sg.placeholder((None, 2, 4), np.float64, name="xs")
        s = sg.placeholder((None, 2, 3), np.float64, name="s")
        init = sg.placeholder((2, 4), np.float64, name="init")
        d = delay(g, xs, init, reverse).reshape((-1, 4))
        s2 = s.reshape((-1, 3))
        out = d.T @ s2 if delayed_left else s2.T @ d
    return extract_program(g, [out.var], [xs.var, s.var, init.var])


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("delayed_left", [True, False])
def test_shift_reads_the_delayed_sequence_shifted(reverse, delayed_left):
    prog = _delay_gemm(reverse, delayed_left)
    assert len(_scans(prog)) == 1 and delay_operands(_scans(prog)[0]) is not None
    after = eliminate_dead_code(shift_delayed_products(prog))
    sg.check_graph(after)
    assert not _scans(after)  # the delay and its (T, B, H) copy are gone
    assert _prims(after).count("getitem") == 3  # X shifted, S shifted, S's init step
    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 5):
        values = [rng.standard_normal((n, 2, 4)), rng.standard_normal((n, 2, 3)),
                  rng.standard_normal((2, 4))]
        assert_close(_run(after, values), _run(prog, values))


def test_shift_keeps_nan_where_a_zero_init_meets_inf():
    """The init term is computed, not assumed zero: 0 * inf is NaN in both."""
    prog = _delay_gemm(reverse=False, delayed_left=True)
    after = eliminate_dead_code(shift_delayed_products(prog))
    s = np.ones((3, 2, 3))
    s[0, 1, 2] = np.inf
    values = [np.ones((3, 2, 4)), s, np.zeros((2, 4))]
    with np.errstate(invalid="ignore"):
            want, got = _run(prog, values)[0], _run(after, values)[0]
    assert np.isnan(want[:, 2]).all() and np.isnan(got[:, 2]).all()
    np.testing.assert_array_equal(got[:, :2], want[:, :2])


def test_shift_leaves_other_gemms_alone():
    g = sg.Graph()
    with g.as_default():
        xs = sg.placeholder((None, 2, 4), np.float64)
        s = sg.placeholder((None, 8, 3), np.float64)  # 8 rows per step against 2: no match
        init = sg.placeholder((2, 4), np.float64)
        d = delay(g, xs, init, False).reshape((-1, 4))
        out = d.T @ s.reshape((-1, 3))
        plain = xs.reshape((-1, 4)).T @ xs.reshape((-1, 4))
    prog = extract_program(g, [out.var, plain.var], [xs.var, s.var, init.var])
    assert shift_delayed_products(prog).eqns == prog.eqns


def _rnn(last_only: bool):
    return tiny_rnn_program(last_only=last_only, h0_input=True)


def _values(n: int) -> list:
    rng = np.random.default_rng(n)
    return [rng.standard_normal((n, 2, 3)), rng.standard_normal((2, 4))]


def test_shift_on_the_rnn_gradient_removes_the_delay():
    prog = _rnn(last_only=False)
    sunk = sink_scan_accumulators(hoist_scan_invariants(reuse_scan_outputs(prog)))
    assert any(delay_operands(e) for e in _scans(sunk))
    after = eliminate_dead_code(shift_delayed_products(sunk))
    assert not any(delay_operands(e) for e in _scans(after))
    for n in (0, 1, 2, 5):
        assert_close(_run(after, _values(n)), _run(prog, _values(n)))


def test_seed_folds_the_last_step_cotangent_into_the_carry():
    prog = _rnn(last_only=True)
    backward = _scans(prog)[-1]
    after = eliminate_dead_code(seed_first_step_cotangents(prog))
    sg.check_graph(after)
    new = _scans(after)[-1]
    assert new.params["num_xs"] == backward.params["num_xs"] - 1
    assert "getitem_grad" not in _prims(after)
    seeded = new.inputs[new.params["num_consts"]]
    assert any(e.prim.name == "add" and e.outputs[0] is seeded for e in after.eqns)
    for n in (1, 2, 5):
        assert_close(_run(after, _values(n)), _run(prog, _values(n)))


def _assert_unchanged(before, after) -> None:
    assert _prims(after) == _prims(before)
    for a, b in zip(_scans(after), _scans(before)):
        assert a.inputs == b.inputs and a.params["body"].eqns == b.params["body"].eqns


def test_seed_needs_a_last_step_only_cotangent():
    prog = _rnn(last_only=False)  # every step's h is in the loss: a full cotangent
    _assert_unchanged(prog, seed_first_step_cotangents(prog))


def test_seed_leaves_a_carry_read_elsewhere():
    """The carry is read by the add and by the output: folding would change the
    value seen at the first step."""
    g = sg.Graph()
    with g.as_default():
        xs = sg.placeholder((None, 3), np.float64)
        g0 = sg.placeholder((3,), np.float64)
        init = sg.placeholder((3,), np.float64)
        seq = A.getitem_grad(g0, xs, index=(-1,))
        out = sg.scan(lambda c, x: (c + x) * c, seq, initializer=init, reverse=True)
    prog = extract_program(g, [out.var], [xs.var, g0.var, init.var])
    _assert_unchanged(prog, seed_first_step_cotangents(prog))
