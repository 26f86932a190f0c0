"""Helpers shared by tests/test_scan_numba*.py: build a program, run it with the
reference interpreter and with its scans lowered (compiled loops)."""

from __future__ import annotations

import numpy as np

import staticgraph as sg
from staticgraph.passes import optimize, passes_for
from staticgraph.runtime.interpreter import eval_graph
from staticgraph.runtime.program import extract_program
from staticgraph.scan import loop as sl

SCAN_LOOP_PASSES = passes_for({"scan_loops"})


class Lowered:
    """A program (fetches of a graph, given feeds) through the pass list of a
    backend with compiled scan loops, its scans lowered once (`lower_one`);
    `run(feeds)` / `reference(feeds)` give the outputs."""

    def __init__(self, graph: sg.Graph, fetches: list, feeds: list,
                 passes=SCAN_LOOP_PASSES, state: dict | None = None) -> None:
        self.program = extract_program(graph, [f.var for f in fetches], [x.var for x in feeds])
        self.optimized, _ = optimize(self.program, passes)
        self.state = {v: (state or {}).get(v.name, info.initial)
                      for v, info in self.program.variables.items()}
        self.loops = {id(e): sl.lower_one(e) for e in self.optimized.eqns
                      if e.prim is sg.scan_p}
        self.evaluator = sl.LoweredBodyEvaluator(sl.lower_one)
        self.evaluator._scans.update(self.loops)

    def _env(self, program, values: list) -> dict:
        env = dict(zip(program.inputs, values))
        env.update({v: self.state[v] for v in program.variables})
        return env

    def run(self, *values) -> list:
        g = self.optimized
        return self.evaluator.eval(g, self._env(g, list(values)), g.outputs)

    def reference(self, *values) -> list:
        return eval_graph(self.program, self._env(self.program, list(values)))

    def compiled_loops(self) -> list:
        return [loop for loop in self.loops.values() if isinstance(loop, sl.CompiledScan)]

    def overloads(self) -> list[int]:
        return [len(loop.fn.overloads) for loop in self.compiled_loops()]


def assert_close(got: list, want: list, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
