"""From a finished trace to the programs a compiled call runs.

The traced graph is differentiated with `sg.gradients` (cotangent
placeholders seed the differentiable outputs), then cut in two closed
programs: the forward computes the outputs plus the forward values the
gradient equations read ("saved"), the backward computes the input
gradients from the cotangents and the saved values. Each goes through the
backend's own passes and compiler, exactly as a hand-built graph would.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from shared_ops.shapes import AbstractArray
from staticgraph.build.symbol import Symbol
from staticgraph.gradients import gradients
from staticgraph.graph.ir import Graph, Var
from staticgraph.runtime.backends import make_runner
from staticgraph.runtime.program import extract_program


@dataclass
class CompiledGraph:
    """One trace, compiled: what a call feeds, runs and returns."""

    graph: Graph
    input_vars: list[Var]           # argument tensors, then captured tensors
    output_vars: list[Var]
    diff_inputs: list[int]          # positions in input_vars that get gradients
    diff_outputs: list[int]         # positions in output_vars that carry them
    forward: object                 # runner: inputs -> outputs + saved forward values
    n_saved: int = 0                # forward values fetched for the backward
    saved_inputs: list[int] = field(default_factory=list)  # inputs the backward reads
    backward: object | None = None  # runner: cotangents + saved + inputs -> gradients
    grad_slots: list[int | None] = field(default_factory=list)  # per diff input
    phases: dict[str, float] = field(default_factory=dict)
    # Compiled runners reuse planned buffers: calls from several threads take turns.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def runners(self) -> list:
        return [r for r in (self.forward, self.backward) if r is not None]


def _cotangent(graph: Graph, var: Var, position: int) -> Symbol:
    """The cotangent placeholder of output `position`; its name holds no value
    number, so the same trace compiled again names (and caches) it the same."""
    ct = graph.add_input(AbstractArray(var.aval.shape, var.aval.dtype),
                         f"grad_output{position}", var.site)
    return Symbol(graph, ct)


def _saved_values(graph: Graph, first_grad_eqn: int, inputs: set, cotangents: set) -> list:
    """Vars the gradient equations read that the forward part defines, in order."""
    forward_defined = {v for e in graph.eqns[:first_grad_eqn] for v in e.outputs}
    saved: dict[Var, None] = {}
    for eqn in graph.eqns[first_grad_eqn:]:
        for v in eqn.in_vars:
            if v in forward_defined or (v in inputs and v not in cotangents):
                saved[v] = None
    return list(saved)


def compile_trace(graph: Graph, input_vars: list[Var], output_vars: list[Var],
                  diff_inputs: list[int], diff_outputs: list[int], backend: str) -> CompiledGraph:
    """Differentiate (when gradients are wanted), cut and compile a traced graph."""
    phases: dict[str, float] = {}
    start = time.perf_counter()
    wants_grad = bool(diff_inputs and diff_outputs)
    grad_vars: list[Var | None] = []
    saved: list[Var] = []
    cts: list[Var] = []
    if wants_grad:
        first_grad_eqn = len(graph.eqns)
        ys = [Symbol(graph, output_vars[i]) for i in diff_outputs]
        seeds = [_cotangent(graph, output_vars[i], i) for i in diff_outputs]
        cts = [s.var for s in seeds]
        xs = [Symbol(graph, input_vars[i]) for i in diff_inputs]
        grads = gradients(ys, xs, grad_ys=seeds)
        grad_vars = [None if g is None else g.var for g in grads]
        saved = _saved_values(graph, first_grad_eqn, set(input_vars), set(cts))
        phases["gradients"] = time.perf_counter() - start
    position = {v: i for i, v in enumerate(input_vars)}
    saved_inputs = [position[v] for v in saved if v in position]
    saved_forward = [v for v in saved if v not in position]
    start = time.perf_counter()
    fwd_program = extract_program(graph, list(output_vars) + saved_forward, list(input_vars))
    bwd_program = None
    fetched = [v for v in grad_vars if v is not None]
    if wants_grad:
        feeds = cts + saved_forward + [input_vars[i] for i in saved_inputs]
        bwd_program = extract_program(graph, fetched, feeds)
    phases["extract programs"] = time.perf_counter() - start
    start = time.perf_counter()
    forward = make_runner(fwd_program, backend)
    backward = None if bwd_program is None else make_runner(bwd_program, backend)
    phases["compile (passes, lowering)"] = time.perf_counter() - start
    slots, k = [], 0
    for v in grad_vars:
        slots.append(None if v is None else k)
        k += v is not None
    return CompiledGraph(graph, list(input_vars), list(output_vars), list(diff_inputs),
                         list(diff_outputs), forward, len(saved_forward), saved_inputs,
                         backward, slots, phases)
