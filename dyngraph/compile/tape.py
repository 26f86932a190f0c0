"""Running a compiled graph on dyngraph tensors, and its one node on the tape.

The forward runner gives the outputs and the saved forward values; when an
output needs a gradient, one `Node` is recorded whose op is a
`CompiledBackward`: its backward feeds the output cotangents and the saved
values to the compiled backward program (like a custom Function whose
forward and backward are static graphs).
"""

from __future__ import annotations

import numpy as np

from shared_ops import GradientError
from shared_ops.sites import user_frame

from ..dispatch import wrap
from ..grad_mode import GRAD_MODE
from ..node import Node, edge_key
from ..tensor import Tensor
from .graphs import CompiledGraph


class CompiledBackward:
    """The tape op of a compiled call: runs the compiled backward program."""

    def __init__(self, name: str, compiled: CompiledGraph) -> None:
        self.name = name
        self.compiled = compiled

    def run_backward(self, node: Node, grads: list, create_graph: bool) -> tuple:
        if create_graph:
            raise GradientError(
                f"backward(create_graph=True) through the compiled function '{self.name}': "
                "its backward is a compiled graph, not recorded on the tape; differentiate "
                "twice without dg.compile")
        cg = self.compiled
        shapes = node.params["output_shapes"]
        cts = []
        for g, (shape, dtype) in zip(grads, shapes):
            if g is None:
                g = np.zeros(shape, dtype)
            elif isinstance(g, Tensor):
                g = g._data
            cts.append(np.asarray(g, dtype=dtype))
        with cg.lock:
            grads_out = cg.backward(cts + list(node.inputs), {})
        return tuple(None if slot is None else grads_out[slot] for slot in cg.grad_slots)


def run_compiled(cg: CompiledGraph, op: CompiledBackward | None, tensors: list) -> list:
    """Run one compiled call on the input tensors; output Tensors (on the tape when
    an output needs a gradient)."""
    arrays = [t._data for t in tensors]
    with cg.lock:
        values = cg.forward(arrays, {})
    n_out = len(cg.output_vars)
    outs = [own_array(v, arrays) for v in values[:n_out]]
    result = [wrap(v) for v in outs]
    if op is None or not GRAD_MODE.enabled:
        return result
    saved = list(values[n_out:]) + [arrays[i] for i in cg.saved_inputs]
    edges = []
    for i in cg.diff_inputs:
        t = tensors[i]
        edges.append(t if t._edge is None else t._edge)
    versions = tuple(tensors[i]._version for i in cg.saved_inputs)
    params = {"output_shapes": [(outs[i].shape, outs[i].dtype) for i in cg.diff_outputs]}
    node = Node(op, params, tuple(saved), None, tuple(edges), versions, user_frame(3),
                len(cg.diff_outputs))
    for k, i in enumerate(cg.diff_outputs):
        t = result[i]
        t._requires_grad = True
        t._edge = edge_key(node, k)
    return result


def own_array(value, inputs: list) -> np.ndarray:
    """An output array the caller owns: a copy where it shares an input's memory
    or cannot be written (a broadcast constant)."""
    value = np.asarray(value)
    if not value.flags.writeable:
        return value.copy()
    if value.base is None and all(value is not a for a in inputs):
        return value  # an array of its own (not a view): cannot share an input's memory
    for a in inputs:
        if np.may_share_memory(value, a):
            return value.copy()
    return value
