"""Helpers for the pass tests: build small programs, run them, compare them.

(Collected by pytest like the other test_passes_* files; it holds one
self-test.)
"""

from __future__ import annotations

import dataclasses

import numpy as np

import staticgraph as sg
from staticgraph.graph.ir import Graph
from staticgraph.runtime.interpreter import eval_graph


def program(fn, *specs, name: str = "g") -> Graph:
    """The closed program of `fn(*placeholders)` (one symbol or a list of them).

    `specs` are (shape, dtype) pairs, one per placeholder.
    """
    g = sg.Graph(name)
    with g.as_default():
        phs = [sg.placeholder(shape, dtype, name=f"x{i}") for i, (shape, dtype) in
               enumerate(specs)]
        outs = fn(*phs)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    return sg.extract_program(g, [o.var for o in outs], [p.var for p in phs])


def run(graph: Graph, *arrays) -> list:
    """Outputs, then update values, of `graph` fed `arrays` (variables: initial)."""
    env = dict(zip(graph.inputs, arrays))
    env.update({v: info.initial for v, info in graph.variables.items()})
    wanted = list(graph.outputs) + [value for _, value in graph.updates]
    with np.errstate(all="ignore"):
        return eval_graph(graph, env, wanted)


def assert_same_values(before: Graph, after: Graph, *arrays) -> None:
    """Both graphs give equal results (NaN equals NaN; -0.0 equals 0.0)."""
    for a, b in zip(run(before, *arrays), run(after, *arrays), strict=True):
        assert np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)


def prims(graph: Graph) -> list[str]:
    return [e.prim.name for e in graph.eqns]


def tutorial_program(**changes):
    """The tutorial training step as a closed program, and its input arrays."""
    from comparisons import tutorial
    from comparisons.tutorial import static as tutorial_static
    size = dataclasses.replace(tutorial.TutorialSize(), steps=1, **changes)
    data = tutorial.make_data(size)
    built = tutorial_static.build(size, data)
    prog = sg.extract_program(built["graph"], [built["loss"].var],
                              [built["x"].var, built["y"].var],
                              effects=[built["updates"].var])
    return prog, (data["x"], data["y"])


def test_helpers_build_and_run():
    prog = program(lambda x: x * 2.0, ((3,), "float64"))
    assert prims(prog) == ["mul"]
    np.testing.assert_array_equal(run(prog, np.ones(3))[0], np.full(3, 2.0))
