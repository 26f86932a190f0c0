"""Graphs as text (jaxpr-like, one equation a line) and as Graphviz DOT."""

from __future__ import annotations

from typing import Any

import numpy as np

from shared_ops import format_site

# ir's Graph, Eqn and Var: ir imports this module for `Graph.to_text`, so the
# classes are recognised by their attributes here rather than imported.
Graph = Eqn = Var = Any


def _is_var(x: object) -> bool:
    """A graph value (an `ir.Var`), not a literal (Python scalar, ndarray)."""
    return hasattr(x, "aval") and hasattr(x, "label")


def _is_graph(x: object) -> bool:
    """A (sub)graph (an `ir.Graph`) among an equation's params."""
    return hasattr(x, "eqns") and hasattr(x, "outputs")


def _atom(x) -> str:
    return x.label if _is_var(x) else repr(x)


def _param(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array<{value.dtype.name}{list(value.shape)}>"
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, tuple):
        return "(" + ", ".join(_param(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, slice):
        parts = ["" if p is None else str(p) for p in (value.start, value.stop, value.step)]
        return ":".join(parts[:2] if value.step is None else parts)
    if _is_graph(value):
        return f"<graph {value.name or ''}>"
    return repr(value)


def _constant(value: np.ndarray) -> str:
    if value.size <= 4:
        return np.array2string(value, separator=", ", threshold=4)
    return f"<{value.size} values>"


def _site(site) -> str:
    text = format_site(site)
    return f"  # {text}" if text else ""


def _eqn_lines(eqn: Eqn, indent: str) -> list[str]:
    outs = " ".join(repr(v) for v in eqn.outputs)
    plain = {k: v for k, v in eqn.params.items() if not _is_graph(v)}
    params = "[" + ", ".join(f"{k}={_param(v)}" for k, v in plain.items()) + "]" if plain \
        else ""
    args = " ".join(_atom(x) for x in eqn.inputs)
    lines = [f"{indent}{outs} = {eqn.prim.name}{params} {args}{_site(eqn.site)}"]
    for key, value in eqn.params.items():
        if _is_graph(value):
            lines.append(f"{indent}    {key} =")
            lines.extend(_graph_lines(value, indent + "      "))
    return lines


def _graph_lines(graph: Graph, indent: str = "") -> list[str]:
    inner = indent + "  "
    lines = [f"{indent}graph {graph.name or ''} {{"]
    if graph.inputs:
        lines.append(f"{inner}inputs:    " + "  ".join(map(repr, graph.inputs)))
    if graph.variables:
        lines.append(f"{inner}variables: " + "  ".join(
            repr(v) + ("" if info.trainable else " (not trainable)")
            for v, info in graph.variables.items()))
    for v, value in graph.constants.items():
        lines.append(f"{inner}constant   {v!r} = {_constant(value)}")
    for eqn in graph.eqns:
        lines.extend(_eqn_lines(eqn, inner))
    if graph.outputs:
        lines.append(f"{inner}outputs:   " + " ".join(v.label for v in graph.outputs))
    if graph.updates:
        lines.append(f"{inner}updates:   " + "; ".join(
            f"{var.label} <- {value.label}" for var, value in graph.updates))
    lines.append(indent + "}")
    return lines


def graph_to_text(graph: Graph) -> str:
    """One line per input kind, equation, output list and update list."""
    return "\n".join(_graph_lines(graph))


NEWLINE = "\n"  # becomes DOT's \n line break in `_q`


def _q(text: str) -> str:
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + text + '"'


class _Dot:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def graph(self, graph: Graph, indent: str) -> None:
        source: dict[Var, str] = {}
        kinds = ((graph.inputs, "ellipse", "lightblue"),
                 (list(graph.variables), "box", "khaki"),
                 (list(graph.constants), "note", "white"))
        for vars_, shape, color in kinds:
            for v in vars_:
                node = self.fresh("v")
                source[v] = node
                label = _q(v.label + NEWLINE + str(v.aval))
                self.lines.append(f"{indent}{node} [shape={shape}, style=filled, "
                                  f"fillcolor={color}, label={label}];")
        for eqn in graph.eqns:
            self.eqn(eqn, source, indent)
        for i, v in enumerate(graph.outputs):
            node = self.fresh("out")
            self.lines.append(f"{indent}{node} [shape=doublecircle, label=\"out {i}\"];")
            self.lines.append(f"{indent}{source[v]} -> {node};")
        for var, value in graph.updates:
            self.lines.append(f"{indent}{source[value]} -> {source[var]} "
                              f"[style=dashed, label=\"update\"];")

    def eqn(self, eqn: Eqn, source: dict, indent: str) -> None:
        node = self.fresh("e")
        site = format_site(eqn.site)
        label = eqn.prim.name + (NEWLINE + site if site else "")
        self.lines.append(f"{indent}{node} [shape=box, style=rounded, label={_q(label)}];")
        for x in eqn.inputs:
            if _is_var(x):
                self.lines.append(f"{indent}{source[x]} -> {node} [label={_q(str(x.aval))}];")
        for v in eqn.outputs:
            source[v] = node
        for key, sub in eqn.params.items():
            if _is_graph(sub):
                cluster = self.fresh("cluster_")
                self.lines.append(f"{indent}subgraph {cluster} {{")
                title = _q(f"{eqn.prim.name}.{key}")
                self.lines.append(f"{indent}  label={title}; style=dashed;")
                self.graph(sub, indent + "  ")
                self.lines.append(f"{indent}}}")


def graph_to_dot(graph: Graph) -> str:
    """DOT source: inputs, variables, constants, one node per equation."""
    dot = _Dot()
    dot.graph(graph, "  ")
    head = [f"digraph {_q(graph.name or 'graph')} {{", "  rankdir=TB;",
            '  node [fontname="Helvetica", fontsize=10];',
            '  edge [fontname="Helvetica", fontsize=8];']
    return "\n".join(head + dot.lines + ["}"])
