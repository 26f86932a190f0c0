"""Differential fuzzing: random programs over the whole shared op list give the
same values and gradients in dyngraph and in every staticgraph backend, and
gradients match float64 central finite differences.

A failure shrinks to a minimal program, printed as runnable code (the
hypothesis note). The long run is `make fuzz N=5000` (tests/fuzz/__main__.py);
`FUZZ_EXAMPLES` sets the example count here too.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from fuzz.builder import REFUSED
from fuzz.check import check_program, run_reference, static_backends
from fuzz.choose import RandomChooser
from fuzz.generate import OP_ORDER, generate_program, programs, scan_available
from fuzz.printer import to_code
from hypothesis import HealthCheck, Phase, given, note, settings
from op_cases import shared_ops_primitives

import dyngraph as dg
import shared_ops as so
import shared_ops.api as A
import staticgraph as sg
from shared_ops.ops_shape import index_shape

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "600"))
COMPILED_EXAMPLES = int(os.environ.get("FUZZ_COMPILED_EXAMPLES", "40"))
COMPILED = [b for b in static_backends() if b != "interpret"]
SETTINGS = dict(deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=EXAMPLES, **SETTINGS)
@given(programs())
def test_dyngraph_and_interpreter_agree_on_random_programs(program):
    note(to_code(program))
    check_program(program, ["interpret"])


@pytest.mark.parametrize("backend", COMPILED or [pytest.param(
    "numba", marks=pytest.mark.skip(reason="no compiled backend registered yet"))])
def test_compiled_backends_agree_on_random_programs(backend):
    """Each compiled backend (numba when registered) on fewer programs: each compiles.
    Shrinking recompiles every candidate (minutes), so it is off here unless
    FUZZ_SHRINK=1; `make fuzz` shrinks."""
    phases = list(Phase) if os.environ.get("FUZZ_SHRINK") else [
        Phase.explicit, Phase.reuse, Phase.generate]

    @settings(max_examples=COMPILED_EXAMPLES, phases=phases, **SETTINGS)
    @given(programs())
    def agree(program):
        note(to_code(program))
        check_program(program, ["interpret", backend])
    agree()


@settings(max_examples=max(EXAMPLES // 5, 10), **SETTINGS)
@given(programs(max_steps=4, allow_scan=True, require="scan"))
def test_scan_programs(program):
    """Python-loop scans in dyngraph vs finite differences; sg.scan too once it exists
    (interpreted here; compiled backends get scans in their own test above)."""
    note(to_code(program))
    check_program(program, ["interpret"] if scan_available() else [])


@settings(max_examples=max(EXAMPLES // 5, 10), **SETTINGS)
@given(programs(max_steps=6, require="cond"))
def test_cond_programs(program):
    note(to_code(program))
    check_program(program, ["interpret"])


def test_generator_covers_every_shared_op_and_control_flow():
    missing = set(shared_ops_primitives()) - set(OP_ORDER)
    assert not missing, f"the program generator does not know {sorted(missing)}"
    used: set[str] = set()
    REFUSED.clear()
    for seed in range(300):
        used |= generate_program(RandomChooser(seed), allow_scan=True).ops_used()
    assert used >= set(OP_ORDER) | {"cond", "scan"}, set(OP_ORDER) - used
    assert sum(REFUSED.values()) < 30, REFUSED  # steps the shape rules refused


def test_printed_program_runs_and_reproduces_the_values():
    for seed in range(40):
        program = generate_program(RandomChooser(seed), allow_scan=True)
        namespace: dict = {}
        exec(compile(to_code(program), f"<fuzz program {seed}>", "exec"), namespace)
        expected, _ = run_reference(program, program.input_values())
        for got, want in zip(namespace["outputs"], expected):
            np.testing.assert_array_equal(got.detach().numpy(), want)


def test_a_planted_gradient_bug_is_found_and_shrunk(monkeypatch):
    """sigmoid's VJP with a wrong sign: found, and shrunk to a few steps."""
    prim = so.REGISTRY["sigmoid"]
    monkeypatch.setattr(prim, "vjp", lambda g, out, x, *, needs: (
        A.mul(g, A.mul(out, A.sub(out, 1))),))
    failing: list = []

    @settings(max_examples=200, **SETTINGS)
    @given(programs(require="sigmoid"))
    def agree(program):
        try:
            check_program(program, ["interpret"])
        except AssertionError:
            failing.append(program)
            raise
    with pytest.raises(AssertionError, match="finite differences"):
        agree()
    smallest = failing[-1]
    assert "sigmoid" in smallest.ops_used()
    assert len(list(smallest.steps())) <= 3, to_code(smallest)


# ---- bugs the fuzz found (minimal programs, kept as regressions) ---------------------

def test_cast_to_int_carries_no_gradient_in_either_engine():
    """Was: dyngraph passed the gradient straight through a float->int cast."""
    x = dg.tensor(np.array([1.5, 2.5]), requires_grad=True)
    y = A.mul(x, A.cast(x, np.int64))
    assert not A.cast(x, np.int64).requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])
    graph = sg.Graph("cast")
    with graph.as_default():
        p = sg.placeholder((2,), "float64")
        (g,) = sg.gradients(A.sum(A.mul(p, A.cast(p, np.int64))), [p])
    np.testing.assert_array_equal(sg.function([p], g)(np.array([1.5, 2.5])), [1.0, 2.0])


def test_empty_ellipsis_still_separates_advanced_indices():
    """Was: the static shape rule put the advanced dims in place, NumPy puts them first."""
    mask = np.array([True, False, True, True])
    index = (None, mask, Ellipsis, 3)
    assert index_shape((4, 4), index) == np.empty((4, 4))[index].shape == (3, 1)
    graph = sg.Graph("index")
    with graph.as_default():
        x = sg.placeholder((4, 4), "float64")
        y = A.getitem(x, index)
    assert y.shape == (3, 1)
    value = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(sg.function([x], y)(value), value[index])


# ---- found in the numba backend (in progress when this was written) -----------------

def _stack_of_scalars(kind: str):
    graph = sg.Graph(kind)
    with graph.as_default():
        a, b = sg.placeholder((), "float64"), sg.placeholder((), "float64")
        if kind == "grad-shape":  # 0-d gradients came back (1,): CSE keyed 0-d constants as 1-d
            out = A.stack([a, b]) * np.array([0.5, -1.0])
        elif kind == "max-clip":  # NaN gradients (numba backend: a fused sum planned in place)
            out = sg.clip(A.max(A.stack([a, b]), keepdims=True), -0.5, 0.5)
        else:  # "cse": InvalidGraphError after pass 'cse' (a where of shape () vs (1,))
            out = A.stack([sg.clip(a, -0.5, 0.5), b]) * np.array([0.5, -1.0])
        return [a, b], [out] + sg.gradients(sg.reduce_sum(out), [a, b])


@pytest.mark.parametrize("kind", ["grad-shape", "max-clip", "cse"])
@pytest.mark.parametrize("backend", COMPILED or [pytest.param(
    "numba", marks=pytest.mark.skip(reason="no compiled backend registered yet"))])
def test_stack_of_scalars_in_compiled_backends(backend, kind):
    inputs, outputs = _stack_of_scalars(kind)
    args = (np.float64(0.1), np.float64(0.3))
    want = sg.function(inputs, outputs)(*args)
    got = sg.function(inputs, outputs, backend=backend)(*args)
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=1e-12)


@pytest.mark.parametrize("backend", COMPILED or [pytest.param(
    "numba", marks=pytest.mark.skip(reason="no compiled backend registered yet"))])
def test_scalar_variable_updated_by_a_compiled_function(backend):
    """Was (numba backend, in progress): NameError, the kernel read the variable's label."""
    graph = sg.Graph("scalar-variable")
    with graph.as_default():
        x = sg.placeholder((None,), "float64")
        n = sg.Variable(np.zeros(()), name="n")
        f = sg.function([x], n, updates=[(n, n + sg.reduce_sum(x))], backend=backend)
    assert f(np.ones(3)) == 0.0 and f(np.ones(3)) == 3.0 and f.get(n) == 6.0
