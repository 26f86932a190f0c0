"""Backward: a topological walk of the tape calling the shared VJP rules.

With create_graph=False the rules run on raw ndarrays (fast, nothing
recorded). With create_graph=True they run on Tensors with grad mode on, so
the gradient computation is itself recorded (higher-order gradients).
"""

from __future__ import annotations

import numpy as np

from shared_ops import GradientError, Primitive, ShapeError

from .grad_mode import set_grad_enabled
from .node import RETAINED, Node
from .tensor import Tensor, _wrap


def _toposort(roots: list[Node]) -> list[Node]:
    """Nodes reachable from roots, each before the nodes it depends on."""
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.edges))]
        while stack:
            node, edges = stack[-1]
            for edge in edges:
                if edge is not None and type(edge[0]) is Node and id(edge[0]) not in seen:
                    seen.add(id(edge[0]))
                    stack.append((edge[0], iter(edge[0].edges)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _seed(root: Tensor, gradient, create_graph: bool):
    if not root._requires_grad:
        raise GradientError("backward on a tensor that does not require grad and has no "
                            "grad_fn: did you forget requires_grad=True?")
    if gradient is None:
        if root._data.size != 1:
            made_by = f" made by {root.grad_fn.where()}" if root.grad_fn is not None else ""
            raise GradientError(
                f"backward on a non-scalar tensor of shape {root.shape}{made_by} needs "
                "`gradient` (grad can be created implicitly only for scalar outputs)")
        g = np.ones_like(root._data)
    else:
        g = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient,
                                                                           root.dtype)
        if g.shape != root.shape:
            raise ShapeError(f"backward: gradient shape {g.shape} differs from the "
                             f"tensor's shape {root.shape}")
        if create_graph and isinstance(gradient, Tensor):
            return gradient
    return _wrap(g) if create_graph else g


def _materialize(node: Node, inputs, create_graph: bool):
    """Raw values (create_graph=False) or Tensors rebuilt on the tape."""
    if not create_graph:
        return inputs, node.out
    values = []
    for data, edge in zip(inputs, node.edges):
        if edge is None:
            values.append(data)
        elif type(edge[0]) is Node:
            t = _wrap(data, True)
            t.grad_fn, t._out_index = edge
            values.append(t)
        else:
            values.append(edge[0])
    out = _wrap(node.out, True)
    out.grad_fn = node
    return values, out


def _call_rule(node: Node, grads: list, create_graph: bool):
    """Input cotangents of one node, given its output cotangents."""
    node.check_usable()
    if not isinstance(node.op, Primitive):  # a custom Function
        return node.op.run_backward(node, grads, create_graph)
    if create_graph:
        inputs, out = _materialize(node, node.inputs, create_graph)
        return node.op.vjp(grads[0], out, *inputs, needs=node.needs, **node.params)
    return node.op.vjp(grads[0], node.out, *node.inputs, needs=node.needs, **node.params)


def _key(target, index: int):
    """Dict key of an edge: the node/leaf itself for output 0 (hash is by id)."""
    return target if index == 0 else (target, index)


def run_backward(roots, seeds, retain_graph: bool, create_graph: bool, capture=None):
    """Propagate seeds from roots; return ({leaf: (leaf, grad)}, {key: grad}).

    `capture` holds edge keys of non-leaf tensors whose total gradient the
    caller wants (dg.grad); `retain_grad` tensors are filled on the way.
    """
    pending: dict = {}
    leaves: dict = {}
    for root, g in zip(roots, seeds):
        if root.grad_fn is None:
            prev = leaves.get(root)
            leaves[root] = (root, g if prev is None else prev[1] + g)
        else:
            key = _key(root.grad_fn, root._out_index)
            prev = pending.get(key)
            pending[key] = g if prev is None else prev + g
    captured: dict = {}
    observe = capture is not None or bool(RETAINED)  # fixed for the whole walk
    for node in _toposort([r.grad_fn for r in roots if r.grad_fn is not None]):
        op = node.op
        if node.n_out == 1:
            g = pending.pop(node, None)
            if g is None:
                continue
            if type(op) is Primitive and not create_graph and not observe:
                # The hot path: a primitive's VJP on raw arrays.
                if node.inputs is None:
                    node.check_usable()
                versions = node.versions
                for i in range(0, len(versions), 2):
                    if versions[i][0] != versions[i + 1]:
                        node.check_usable()
                in_grads = op.vjp(g, node.out, *node.inputs, needs=node.needs, **node.params)
                if not retain_graph:
                    node.inputs = node.out = None
                for edge, g in zip(node.edges, in_grads):
                    if edge is None or g is None:
                        continue
                    target, index = edge
                    if type(target) is Node:
                        key = target if index == 0 else edge
                        prev = pending.get(key)
                        pending[key] = g if prev is None else prev + g
                    else:
                        prev = leaves.get(target)
                        leaves[target] = (target, g if prev is None else prev[1] + g)
                continue
            grads = [g]
        else:
            grads = [pending.pop(_key(node, i), None) for i in range(node.n_out)]
            if all(g is None for g in grads):
                continue
        if observe:
            _observe(node, grads, capture, captured)
        in_grads = _call_rule(node, grads, create_graph)
        if not retain_graph:
            node.release()
        _route(node.edges, in_grads, pending, leaves)
    return leaves, captured


def _route(edges, in_grads, pending: dict, leaves: dict) -> None:
    """Add each input cotangent to its producer's pending sum (or its leaf's)."""
    for edge, g in zip(edges, in_grads):
        if edge is None or g is None:
            continue
        target, index = edge
        if type(target) is Node:
            key = target if index == 0 else (target, index)
            prev = pending.get(key)
            pending[key] = g if prev is None else prev + g
        else:
            prev = leaves.get(target)
            leaves[target] = (target, g if prev is None else prev[1] + g)




def _observe(node: Node, grads: list, capture, captured: dict) -> None:
    """Record gradients flowing into a node's outputs for dg.grad / retain_grad."""
    for i, g in enumerate(grads):
        if g is None:
            continue
        key = _key(node, i)
        if capture is not None and key in capture:
            captured[key] = g
        retained = RETAINED.get(node)
        if retained and i in retained:
            _retain(retained[i](), g)


def _retain(tensor, g) -> None:
    if tensor is None:
        return
    g = g if isinstance(g, Tensor) else _wrap(np.asarray(g))
    tensor.grad = g if tensor.grad is None else tensor.grad + g


def _accumulate(leaf: Tensor, g, create_graph: bool) -> None:
    """leaf.grad += g (in place when the buffer is ours, as PyTorch does)."""
    if isinstance(g, Tensor):
        g = g if create_graph else g._data
    if not isinstance(g, Tensor):
        g = np.asarray(g)
        if g.dtype != leaf.dtype:
            g = g.astype(leaf.dtype)
        if g.shape != leaf.shape:  # a VJP rule bug: never hide it by broadcasting
            raise GradientError(f"internal error: gradient of shape {g.shape} for a leaf "
                                f"of shape {leaf.shape}; please report it")
    if leaf.grad is None:
        leaf.grad = g if isinstance(g, Tensor) else _wrap(np.array(g, copy=True))
    elif create_graph or isinstance(g, Tensor) or leaf.grad._requires_grad:
        leaf.grad = leaf.grad + g
    else:
        np.add(leaf.grad._data, g, out=leaf.grad._data)
        leaf.grad._version[0] += 1


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs=None) -> None:
    """Accumulate gradients of `tensors` into the leaves' `.grad` (torch semantics)."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    retain = create_graph if retain_graph is None else retain_graph
    with set_grad_enabled(create_graph):
        seeds = [_seed(t, g, create_graph) for t, g in zip(tensors, grad_tensors)]
        leaves, _ = run_backward(tensors, seeds, retain, create_graph)
        allowed = None if inputs is None else {id(t) for t in inputs}
        for leaf, g in leaves.values():
            if allowed is None or id(leaf) in allowed:
                _accumulate(leaf, g, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of outputs w.r.t. inputs, returned (not accumulated)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    retain = create_graph if retain_graph is None else retain_graph
    keys = [_key(t.grad_fn, t._out_index) if t.grad_fn else t for t in inputs]
    for t in inputs:
        if not t._requires_grad:
            raise GradientError("grad: one of the inputs does not require grad")
    with set_grad_enabled(create_graph):
        seeds = [_seed(t, g, create_graph) for t, g in zip(outputs, grad_outputs)]
        leaves, captured = run_backward(outputs, seeds, retain, create_graph, set(keys))
    results = []
    for t, key in zip(inputs, keys):
        g = captured.get(key) if t.grad_fn is not None else leaves.get(t, (None, None))[1]
        if g is None and not allow_unused:
            raise GradientError("grad: one of the differentiated tensors was not used in "
                                "the graph (pass allow_unused=True to get None for it)")
        if g is not None and not isinstance(g, Tensor):
            g = _wrap(np.array(np.broadcast_to(g, t.shape), dtype=t.dtype))
        results.append(g)
    return tuple(results)
